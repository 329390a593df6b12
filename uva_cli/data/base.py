"""The base types every dataset reader shares: `Dataset`, its items (`VideoItem` with fixation
records, `ImageItem`, `MapItem` with per-frame map images), `LayoutError`, and item selection
(`select` for a reader's `only=` filter, `split_videos` for train/validation splits)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from ..errors import InputError

# Picture files a dataset may hold (frames, stimuli, map images).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")


class LayoutError(InputError, ValueError):
    """A dataset folder does not match any known layout, or its files contradict each other."""


@dataclass(eq=False)
class VideoItem:
    """One video with all its fixation records (structured array of FIXATION_DTYPE)."""

    name: str
    path: Path
    width: int
    height: int
    frames: int
    fps: float
    fixations: np.ndarray
    # frame -> (N,2) active points, filled on first use by frame_points()
    points_by_frame: list[np.ndarray] | None = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class ImageItem:
    """One still image; every fixation of every subject counts for its ground truth."""

    name: str
    path: Path
    width: int
    height: int
    points: np.ndarray  # (N,2) float64 x, y in source pixels
    subjects: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)



@dataclass(eq=False)
class MapItem:
    """One video whose ground truth is a map image per frame; frames from a video file or images."""

    name: str
    path: Path  # the video file, or the folder holding the frame images (part of the cache key)
    width: int  # ground-truth map size: the evaluation grid follows its aspect ratio
    height: int
    maps: list[Path]  # density map of frame k
    fixations: list[Path] | None = None  # binary fixation map of frame k; None: points from density peaks
    frame_files: list[Path] | None = None  # frame k as an image; None: decode `path`
    fps: float | None = None

    @property
    def frames(self) -> int:
        return len(self.maps)

    @property
    def points_from(self) -> str:
        return "fixation maps" if self.fixations is not None else "density peaks"



Item = Union[VideoItem, ImageItem, MapItem]


@dataclass
class Dataset:
    """A read dataset: its layout name, root, items and the CSV files they came from (for cache keys)."""

    layout: str
    root: Path
    items: list[Item]
    sources: list[Path] = field(default_factory=list)
    # "points": density maps are blurred from the fixation points (exact for fixation records);
    # "maps": the dataset ships its own density maps (DHF1K, AVS1K), which are used as they are.
    density_from: str = "points"



def select(names: Sequence[str], only: Iterable[str] | None, where: Path) -> set[str]:
    """The item names to keep; unknown names in `only` are an error rather than a silent no-op."""
    if only is None:
        return set(names)
    wanted = set(only)
    unknown = sorted(wanted - set(names))
    if unknown:
        raise LayoutError(f"{where}: no item(s) named {', '.join(unknown)}")
    return wanted


def split_videos(names: Iterable[str], val_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic train/val split by video, so no clip leaks between the two.

    The unique names are sorted, permuted by numpy's PCG64 generator seeded with `seed`, and the
    first round(val_fraction * n) go to validation (at least 1 and at most n-1 when 0 < val_fraction
    and n >= 2). Both lists come back sorted. Same names + seed -> same split on every machine.
    """
    unique = sorted(set(names))
    n = len(unique)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    n_val = min(max(n_val, 0), n)
    order = np.random.default_rng(seed).permutation(n)
    val = sorted(unique[i] for i in order[:n_val])
    train = sorted(unique[i] for i in order[n_val:])
    return train, val
