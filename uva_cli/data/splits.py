"""Readers for frame-folder datasets split into train/valid/test folders with density-map ground truth.

AVS1K as released with the UVA-Net paper (Fu et al., "Ultrafast video attention prediction with
coupled knowledge distillation", AAAI 2020)::

    root/trainSet|validSet|testSet/Frame/<video>_00001.png ...   frames
    root/trainSet|validSet|testSet/Ground/<video>_00001.png ...  density maps, same names

Either folder may hold one resolution folder or more (``Frame/64/``; the largest is used) and, instead
of flat files, one sub-folder per video (``Frame/<video>/*.png``).

Plain splits (layout "split-folders")::

    root/train|valid|val|test/frames/<video>/*.png + maps/<video>/*.png [+ fixation/<video>/*.png]
    or root/train|valid|val|test/<video>/frames/*.png + <video>/maps/*.png [+ <video>/fixation/*.png]

Frames and maps pair by the number ending their names. Items are named by video, so the names
must be unique across the sets. A set without maps (an unreleased test set) is skipped. `uva train`
splits all videos the same deterministic way for every layout; `uva eval --split val` scores the
official validation set (validSet/, valid/ or val/; see `validation_names`). Points come from
fixation maps where there are any, else from density peaks (an approximation, see `maps`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable

from .base import Dataset, LayoutError, MapItem, select
from .maps import frame_number, image_size, is_image

log = logging.getLogger("uva")

AVS1K_LAYOUT = "avs1k"
SPLITS_LAYOUT = "split-folders"
AVS1K_SETS = ("trainSet", "validSet", "testSet")
PLAIN_SETS = ("train", "valid", "val", "test")
VALIDATION_SETS = ("validSet", "valid", "val")
FRAME_DIRS = ("Frame", "frames")
MAP_DIRS = ("Ground", "maps")
FIXATION_DIRS = ("fixation", "fixations")
EXPECTED_AVS1K = "  avs1k: trainSet/ validSet/ testSet/, each Frame/ + Ground/ (<video>_00001.png, optionally in Frame/64/)"
EXPECTED_SPLITS = ("  split-folders: train/ valid/ test/, each frames/<video>/ + maps/<video>/ [+ fixation/<video>/] "
                   "or <video>/frames/ + <video>/maps/")

Groups = dict[str, dict[int, Path]]  # video -> frame number -> file


def _child(folder: Path, names: tuple[str, ...]) -> Path | None:
    """The first of the alternative sub-folder names that exists."""
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _per_video(split: Path) -> list[Path]:
    """Video folders of the <video>/frames + <video>/maps form."""
    return [p for p in sorted(split.iterdir())
            if p.is_dir() and _child(p, FRAME_DIRS) and _child(p, MAP_DIRS)]


def _has_maps(split: Path) -> bool:
    return bool(_child(split, FRAME_DIRS) and _child(split, MAP_DIRS)) or bool(_per_video(split))


def _sets(root: Path, names: tuple[str, ...]) -> list[Path]:
    return [root / n for n in names if (root / n).is_dir() and _has_maps(root / n)]


def is_avs1k(root: Path) -> bool:
    return bool(_sets(root, AVS1K_SETS))


def is_split_folders(root: Path) -> bool:
    return bool(_sets(root, PLAIN_SETS))


def _is_resolution_folder(folder: Path) -> bool:
    """A numeric folder holding frames of several videos (not a video that happens to be numbered)."""
    if not folder.name.isdigit():
        return False
    entries = sorted(folder.iterdir())
    if any(p.is_dir() for p in entries):
        return True
    first = next((p for p in entries if is_image(p)), None)
    match = re.match(r"(.+)_\d+$", first.stem) if first else None
    return bool(match) and match.group(1) != folder.name


def _resolved(folder: Path) -> Path:
    """Step into the largest resolution folder (``Frame/64/``) when the folder is made of them."""
    subs = [p for p in folder.iterdir() if p.is_dir()]
    if subs and not any(is_image(p) for p in folder.iterdir()) and all(_is_resolution_folder(p) for p in subs):
        return _resolved(max(subs, key=lambda p: int(p.name)))
    return folder


def _numbered(folder: Path) -> dict[int, Path]:
    out = {}
    for path in sorted(folder.iterdir()):
        number = frame_number(path) if is_image(path) else None
        if number is not None:
            out[number] = path
    return out


def _group(folder: Path) -> Groups:
    """Video -> numbered files, from flat ``<video>_00001.png`` files or one sub-folder per video."""
    folder = _resolved(folder)
    files = [p for p in sorted(folder.iterdir()) if is_image(p)]
    if not files:
        return {p.name: _numbered(p) for p in sorted(folder.iterdir()) if p.is_dir()}
    groups: Groups = {}
    for path in files:
        match = re.match(r"(.+)_(\d+)$", path.stem)
        if not match:
            raise LayoutError(f"{path}: expected a name like <video>_00001{path.suffix}")
        groups.setdefault(match.group(1), {})[int(match.group(2))] = path
    return groups


def _split_groups(split: Path) -> tuple[Groups, Groups, Groups | None, dict[str, Path]]:
    """Frames, maps and fixations (None when absent) of one set, and each video's frame folder."""
    frames_dir, maps_dir = _child(split, FRAME_DIRS), _child(split, MAP_DIRS)
    if frames_dir and maps_dir:
        frames, maps = _group(frames_dir), _group(maps_dir)
        fix_dir = _child(split, FIXATION_DIRS)
        fixations = _group(fix_dir) if fix_dir else None
        flat = any(is_image(p) for p in _resolved(frames_dir).iterdir())
        where = {v: _resolved(frames_dir) if flat else _resolved(frames_dir) / v for v in frames}
        return frames, maps, fixations, where
    frames, maps, fixations, where = {}, {}, {}, {}
    for video in _per_video(split):
        frames[video.name] = _numbered(_resolved(_child(video, FRAME_DIRS)))
        maps[video.name] = _numbered(_resolved(_child(video, MAP_DIRS)))
        where[video.name] = video
        fix_dir = _child(video, FIXATION_DIRS)
        if fix_dir:
            fixations[video.name] = _numbered(_resolved(fix_dir))
    return frames, maps, fixations or None, where


def _item(name: str, frames: dict[int, Path], maps: dict[int, Path], fixations: dict[int, Path] | None,
          where: Path) -> MapItem:
    """Pair frames, maps (and fixation maps) by number; frames without a map are left out."""
    numbers = sorted(frames.keys() & maps.keys())
    if not numbers:
        raise LayoutError(f"{where}: no frame of video '{name}' has a map with the same number")
    dropped = len(frames) - len(numbers)
    if dropped:
        log.warning("%s: %d frame(s) of '%s' have no map and are left out", where, dropped, name)
    fix = None
    if fixations is not None and fixations.get(name):
        missing = [n for n in numbers if n not in fixations[name]]
        if missing:
            raise LayoutError(f"{where}: no fixation map for frame(s) {', '.join(map(str, missing[:5]))} of '{name}'")
        fix = [fixations[name][n] for n in numbers]
    width, height = image_size(maps[numbers[0]])
    return MapItem(name=name, path=where, width=width, height=height, maps=[maps[n] for n in numbers],
                   fixations=fix, frame_files=[frames[n] for n in numbers])


def read_splits(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Read every set with maps (train, valid, test order); `only` keeps the named videos."""
    root = Path(root)
    sets = _sets(root, AVS1K_SETS) or _sets(root, PLAIN_SETS)
    layout = AVS1K_LAYOUT if sets and sets[0].name in AVS1K_SETS else SPLITS_LAYOUT
    grouped = [(split, *_split_groups(split)) for split in sets]
    names: dict[str, Path] = {}
    for split, _, maps, _, _ in grouped:
        for name in maps:
            if name in names:
                raise LayoutError(f"{root}: video '{name}' is in both {names[name].name}/ and {split.name}/")
            names[name] = split
    wanted = select(list(names), only, root)
    items, sources = [], []
    for split, frames, maps, fixations, where in grouped:
        for name in sorted(maps):
            if name not in wanted:
                continue
            if name not in frames:
                raise LayoutError(f"{split}: maps but no frames for video '{name}'")
            items.append(_item(name, frames[name], maps[name], fixations, where[name]))
            sources += sorted({p.parent for p in items[-1].maps} | {p.parent for p in items[-1].fixations or []})
    return Dataset(layout, root, items, list(dict.fromkeys(sources)), density_from="maps")


def validation_names(root: str | Path, items: Iterable[dict]) -> tuple[list[str], str | None]:
    """The videos of the official validation set among cached `items` (cache meta: name, path),
    found by the set folder their frames came from, and that folder's name (None if there is none)."""
    names, folder = [], None
    for item in items:
        try:
            top = Path(item["path"]).relative_to(root).parts[0]
        except (ValueError, IndexError):
            continue
        if top in VALIDATION_SETS:
            names.append(item["name"])
            folder = top
    return names, folder
