"""Reader for the DHF1K layout (Wang et al., CVPR 2018) as released::

    root/video/001.AVI ...                    the videos (any container PyAV reads)
    root/annotation/0001/maps/0001.png ...    density map of each frame (1-based numbers)
    root/annotation/0001/fixation/0001.png    binary fixation map of each frame (optional)

Video NNN pairs with annotation folder NNNN by number; videos without annotations (DHF1K's test
set, 701-1000) are skipped. Items are named by the video's file stem ("001"). Points come from
the fixation maps (exact pixels, no subject ids); see `maps` for what that implies.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from ..video import VIDEO_EXTENSIONS
from .base import Dataset, LayoutError, MapItem, select
from .maps import frame_number, image_size, is_image

log = logging.getLogger("uva")

LAYOUT = "dhf1k"
VAL_NUMBERS = range(601, 701)  # DHF1K's official validation videos (001-600 train, 701-1000 test)
EXPECTED = ("  dhf1k: video/NNN.AVI + annotation/NNNN/maps/*.png (density) "
            "[+ annotation/NNNN/fixation/*.png (binary fixations)]")


def is_dhf1k(root: Path) -> bool:
    return (root / "video").is_dir() and (root / "annotation").is_dir()


def _numbered(folder: Path) -> dict[int, Path]:
    """Image files of a folder by the number ending their name."""
    out = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        number = frame_number(path) if is_image(path) else None
        if number is not None:
            out[number] = path
    return out


def read_dhf1k(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Read the annotated videos of a DHF1K folder; `only` keeps the named ones (file stems)."""
    root = Path(root)
    videos = {int(p.stem): p for p in sorted((root / "video").iterdir())
              if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and p.stem.isdigit()}
    annotated = {int(p.name): p for p in sorted((root / "annotation").iterdir())
                 if p.is_dir() and p.name.isdigit() and (p / "maps").is_dir()}
    orphans = sorted(annotated.keys() - videos.keys())
    if orphans:
        raise LayoutError(f"{root / 'annotation'}: no video in {root / 'video'} for annotation folder(s) "
                          + ", ".join(annotated[n].name for n in orphans[:5]) + (" ..." if len(orphans) > 5 else ""))
    numbers = sorted(annotated)
    if len(videos) > len(numbers):
        log.info("%s: %d videos without annotations skipped", root, len(videos) - len(numbers))
    wanted = select([videos[n].stem for n in numbers], only, root)
    items, sources = [], []
    for number in numbers:
        video, folder = videos[number], annotated[number]
        if video.stem not in wanted:
            continue
        maps = _numbered(folder / "maps")
        if not maps:
            raise LayoutError(f"{folder / 'maps'}: no map images")
        order = sorted(maps)
        fixations = None
        if (folder / "fixation").is_dir():
            fix = _numbered(folder / "fixation")
            missing = [n for n in order if n not in fix]
            if missing:
                raise LayoutError(f"{folder / 'fixation'}: no fixation map for frame(s) "
                                  + ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else ""))
            fixations = [fix[n] for n in order]
            sources.append(folder / "fixation")
        width, height = image_size(maps[order[0]])
        items.append(MapItem(name=video.stem, path=video, width=width, height=height,
                             maps=[maps[n] for n in order], fixations=fixations))
        sources.append(folder / "maps")
    return Dataset(LAYOUT, root, items, sources, density_from="maps")


def validation_names(names: Iterable[str]) -> list[str]:
    """The videos of DHF1K's official validation set (601-700) among `names` (file stems)."""
    return [n for n in names if n.isdigit() and int(n) in VAL_NUMBERS]
