"""The layout registry: every known dataset layout (name, detector, reader, description), in
detection order, and the two entry points `detect_layout` and `read_dataset`. A new layout plugs
in by adding its reader module and a row to `LAYOUTS`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from . import dhf1k, records, splits
from .base import Dataset, LayoutError

Reader = Callable[[Path, "Iterable[str] | None"], Dataset]


class Layout(NamedTuple):
    name: str
    detect: Callable[[Path], bool]
    read: Reader
    expected: str  # one line of the error for an unrecognised folder


LAYOUTS = (Layout(records.VIDEO_LAYOUT, records.is_video_set, records.read_videos, records.EXPECTED_VIDEOS),
           Layout(records.IMAGE_LAYOUT, records.is_image_layout, records.read_images, records.EXPECTED_IMAGES),
           Layout(dhf1k.LAYOUT, dhf1k.is_dhf1k, dhf1k.read_dhf1k, dhf1k.EXPECTED),
           Layout(splits.AVS1K_LAYOUT, splits.is_avs1k, splits.read_splits, splits.EXPECTED_AVS1K),
           Layout(splits.SPLITS_LAYOUT, splits.is_split_folders, splits.read_splits, splits.EXPECTED_SPLITS))


def detect_layout(root: str | Path) -> str:
    """Name the layout of a dataset folder, or raise LayoutError saying what was expected."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (expected a dataset folder)")
    for name, detect, _, _ in LAYOUTS:
        if detect(root):
            return name
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "nothing"
    expected = "\n".join(layout.expected for layout in LAYOUTS)
    raise LayoutError(f"{root}: unrecognised dataset layout (found {shown}); expected one of:\n{expected}")


def read_dataset(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Detect the layout of `root` and read it; `only` keeps just the named items."""
    layout = detect_layout(root)
    reader = next(known.read for known in LAYOUTS if known.name == layout)
    return reader(Path(root), only)
