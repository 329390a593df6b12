"""A decoded, memory-mapped copy of a dataset at model resolution, so training never decodes video.

Layout of a cache folder (default ``~/.cache/uva/<layout>-<folder>-<hash>/<size>/``; the base can be
moved with ``cache_dir=`` or the UVA_CACHE_DIR environment variable)::

    frames.npy   (N,S,S,3) uint8   RGB, resized by the decoder's area filter (images: PIL BOX)
    density.npy  (N,S,S)   float16 ground-truth density at SxS (sigma 0.025*S), each sums to ~1
    points.npy   (M,2)     float32 active fixations, normalised pixel centres ((x+0.5)/W, (y+0.5)/H)
    subjects.npy (M,)      int32   the observer of each point (-1 where the layout does not say)
    offsets.npy  (N+1,)    int64   frame i's points are points[offsets[i]:offsets[i+1]]
    item.npy     (N,)      int32   index of the video/image (meta["items"]) frame i belongs to
    index.npy    (N,)      int32   frame number inside that video (0 for images)
    meta.json              layout, size, version, root, density_from ("points" or "maps"),
                           per-item name/size/fps/frames/first/points_from

An image set uses the same format with one "frame" per image. Every layout gives the same arrays:
map layouts (DHF1K, AVS1K) store their own density maps and points from fixation maps or density
peaks (see `maps`), so training and evaluation never need to know the layout. The hash covers the absolute root,
the `only` filter and the size + mtime of every CSV and media file, so editing the data gives a
new cache. A build goes to a temporary folder renamed into place at the end: a cache folder with
meta.json is always complete, and an interrupted build is simply redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from numpy.lib.format import open_memmap

from ..atomic import PART, atomic_path, discard
from ..cachedir import default_cache_base
from ..errors import InputError
from ..video import iter_frames
from .base import Dataset, ImageItem, MapItem, VideoItem
from .layouts import read_dataset
from .maps import map_frames
from .records import frame_points, points_for_frames, subjects_for_frames
from .truth import SIGMA_FRAC, density_map_norm, normalise_points

log = logging.getLogger("uva")

CACHE_VERSION = 2  # 2: subjects.npy, density_from, points_from
ARRAYS = ("frames", "density", "points", "offsets", "item", "index", "subjects")

# One cached frame as the layouts deliver it: RGB at the cache size, normalised points, their
# subjects and the density at the cache size (None: blur it from the points).
CachedFrame = tuple[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]


@dataclass(eq=False)
class Cache:
    """An opened cache: read-only memory-mapped arrays plus meta.json."""

    path: Path
    meta: dict
    frames: np.ndarray
    density: np.ndarray
    points: np.ndarray
    offsets: np.ndarray
    item: np.ndarray
    index: np.ndarray
    subjects: np.ndarray

    def __len__(self) -> int:
        return len(self.item)

    def __reduce__(self):
        # Pickle (e.g. to spawned DataLoader workers) as the path, not a copy of the mapped arrays.
        return open_cache, (self.path,)

    @property
    def names(self) -> list[str]:
        """Item (video or image) names, indexed by the values of `item`."""
        return [it["name"] for it in self.meta["items"]]

    def next_index(self, i: int | np.ndarray) -> int | np.ndarray:
        """Index of the frame after i in the same video; the last frame (and any image) pairs with itself."""
        i = np.asarray(i, dtype=np.int64)
        nxt = np.minimum(i + 1, len(self.item) - 1)
        out = np.where(self.item[nxt] == self.item[i], nxt, i)
        return int(out) if out.ndim == 0 else out

    def frames_of(self, item_names: Iterable[str]) -> np.ndarray:
        """All frame indices (int64, ascending) of the named videos/images, e.g. for a split."""
        ids = {name: j for j, name in enumerate(self.names)}
        wanted = list(item_names)
        unknown = [n for n in wanted if n not in ids]
        if unknown:
            raise KeyError(f"not in cache {self.path}: {', '.join(unknown)}")
        return np.flatnonzero(np.isin(self.item, [ids[n] for n in wanted]))

    def points_of(self, i: int) -> np.ndarray:
        """(K,2) float32 normalised x, y of the fixations active in frame i (see fixation_map_norm)."""
        return self.points[self.offsets[i]:self.offsets[i + 1]]

    def subjects_of(self, i: int) -> np.ndarray:
        """(K,) int32 observer of each of frame i's points; -1 where the dataset does not record it."""
        return self.subjects[self.offsets[i]:self.offsets[i + 1]]


def _fingerprint(dataset: Dataset, only: Iterable[str] | None) -> str:
    """Hash of where the data is and what its files look like (size + mtime), not of their bytes."""
    files = []
    for path in list(dataset.sources) + [it.path for it in dataset.items]:
        st = path.stat()
        files.append([str(path), st.st_size, st.st_mtime_ns])
    key = {"root": str(dataset.root), "layout": dataset.layout, "version": CACHE_VERSION,
           "only": None if only is None else sorted(only), "files": files}
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def cache_folder(dataset: Dataset, size: int, cache_dir: str | Path | None = None,
                 only: Iterable[str] | None = None) -> Path:
    """Where the cache of `dataset` at `size` lives (whether or not it exists yet)."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_base()
    name = f"{dataset.layout}-{dataset.root.name or 'root'}-{_fingerprint(dataset, only)}"
    return base / name / str(int(size))


def _is_complete(path: Path) -> bool:
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return meta.get("version") == CACHE_VERSION and all((path / f"{a}.npy").is_file() for a in ARRAYS)


def open_cache(path: str | Path) -> Cache:
    """Open a complete cache folder read-only (memory-mapped)."""
    path = Path(path)
    if not _is_complete(path):
        raise InputError(f"{path}: not a complete uva cache (version {CACHE_VERSION})")
    meta = json.loads((path / "meta.json").read_text())
    arrays = {a: np.load(path / f"{a}.npy", mmap_mode="r") for a in ARRAYS}
    return Cache(path=path, meta=meta, **arrays)


def build_cache(root: str | Path, size: int, cache_dir: str | Path | None = None, progress: bool = True,
                only: Iterable[str] | None = None) -> Cache:
    """Decode every frame (or image) of the dataset at `root` once at size x size, with its ground
    truth, into a memory-mapped cache; reuse the cache when it already exists. `only` restricts
    the build to the named items (and gives them their own cache folder)."""
    if int(size) < 1:
        raise ValueError(f"size must be positive, not {size}")
    size = int(size)
    only = None if only is None else list(only)
    dataset = read_dataset(Path(root).absolute(), only)
    if not dataset.items:
        raise InputError(f"{root}: the dataset has no items")
    final = cache_folder(dataset, size, cache_dir, only)
    if _is_complete(final):
        return open_cache(final)
    if final.exists():  # an older version or a foreign folder in our place
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(final)
    try:
        with atomic_path(final, unique=True, replace_folder=False) as tmp:
            tmp.mkdir()
            _write(dataset, size, tmp, progress)
    except OSError:
        if not _is_complete(final):  # not a concurrent builder that won the race
            raise
    return open_cache(final)


def _remove_abandoned(final: Path) -> None:
    """Delete temp folders (`.NAME.<pid>-<token>.part`) of builds whose process is gone (killed mid-build)."""
    for tmp in final.parent.glob(f".{final.name}.*{PART}"):
        try:
            pid = int(tmp.name[len(final.name) + 2:-len(PART)].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            discard(tmp)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _video_frames(item: VideoItem, size: int) -> Iterator[CachedFrame]:
    """Decoded frames with the fixations active in each."""
    per_frame = frame_points(item)
    subjects = subjects_for_frames(item, item.frames)
    k = -1
    for k, frame in enumerate(iter_frames(item.path, size=size)):
        if k < len(per_frame):
            pts, subj = per_frame[k], subjects[k]
        else:
            pts, subj = points_for_frames(item, k + 1)[k], subjects_for_frames(item, k + 1)[k]
        yield frame.small, normalise_points(pts, item.width, item.height), subj, None
    if k + 1 != item.frames:
        log.warning("%s: decoded %d frames but the CSV says %d; caching the decoded ones",
                    item.path, k + 1, item.frames)


def _image_frames(item: ImageItem, size: int) -> Iterator[CachedFrame]:
    from PIL import Image

    try:
        with Image.open(item.path) as img:
            if img.size != (item.width, item.height):
                log.warning("%s: image is %dx%d but images.csv says %dx%d; scaling fixations by the CSV size",
                            item.path, img.size[0], img.size[1], item.width, item.height)
            rgb = np.asarray(img.convert("RGB").resize((size, size), Image.BOX), dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"{item.path}: not a readable image ({exc})") from None
    subjects = item.subjects if len(item.subjects) == len(item.points) else np.full(len(item.points), -1)
    yield rgb, normalise_points(item.points, item.width, item.height), subjects.astype(np.int32), None


def cached_frames(item, size: int) -> Iterator[CachedFrame]:
    """What the cache stores of each frame of any dataset item (also used to show source frames)."""
    if isinstance(item, VideoItem):
        return _video_frames(item, size)
    if isinstance(item, MapItem):
        return map_frames(item, size)
    return _image_frames(item, size)


def _resized(path: Path, array: np.ndarray, length: int) -> np.ndarray:
    """Copy a .npy memmap into one of a new first-axis length (only when the CSV frame counts were wrong)."""
    with atomic_path(path) as scratch:
        out = open_memmap(scratch, mode="w+", dtype=array.dtype, shape=(length,) + array.shape[1:])
        keep = min(length, len(array))
        out[:keep] = array[:keep]
        out.flush()
        del out, array
    return open_memmap(path, mode="r+")


def _write(dataset: Dataset, size: int, out: Path, progress: bool) -> None:
    """Fill a cache folder: big arrays streamed into memmaps, meta.json last."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    started = time.time()
    items = dataset.items
    expected = sum(1 if isinstance(it, ImageItem) else it.frames for it in items)
    frames = open_memmap(out / "frames.npy", mode="w+", dtype=np.uint8, shape=(expected, size, size, 3))
    density = open_memmap(out / "density.npy", mode="w+", dtype=np.float16, shape=(expected, size, size))
    points: list[np.ndarray] = []
    subjects: list[np.ndarray] = []
    counts: list[int] = []
    item_of: list[int] = []
    index_of: list[int] = []
    meta_items = []
    cursor = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task(f"caching {dataset.root.name} at {size}", total=expected)
        for j, item in enumerate(items):
            video = not isinstance(item, ImageItem)
            if video:
                bar.update(task, description=f"caching {dataset.root.name} at {size}: {item.name}")
            first = cursor
            for k, (rgb, norm, subj, dens) in enumerate(cached_frames(item, size)):
                if cursor == len(frames):  # more frames than the CSV promised
                    grow = max(cursor + 64, len(frames) * 5 // 4)
                    frames = _resized(out / "frames.npy", frames, grow)
                    density = _resized(out / "density.npy", density, grow)
                frames[cursor] = rgb
                density[cursor] = density_map_norm(norm, size, size, SIGMA_FRAC) if dens is None else dens
                points.append(norm.astype(np.float32))
                subjects.append(np.asarray(subj, dtype=np.int32))
                counts.append(len(norm))
                item_of.append(j)
                index_of.append(k)
                cursor += 1
                bar.advance(task)
            meta_items.append({"name": item.name, "path": str(item.path), "width": item.width,
                               "height": item.height, "fps": getattr(item, "fps", None),
                               "frames": cursor - first, "first": first,
                               "points_from": getattr(item, "points_from", "fixations")})
    if cursor != len(frames):
        frames = _resized(out / "frames.npy", frames, cursor)
        density = _resized(out / "density.npy", density, cursor)
    frames.flush()
    density.flush()
    del frames, density
    offsets = np.zeros(cursor + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    all_points = np.concatenate(points).astype(np.float32) if points else np.zeros((0, 2), np.float32)
    np.save(out / "points.npy", all_points.reshape(-1, 2))
    np.save(out / "subjects.npy", np.concatenate(subjects) if subjects else np.zeros(0, np.int32))
    np.save(out / "offsets.npy", offsets)
    np.save(out / "item.npy", np.asarray(item_of, dtype=np.int32))
    np.save(out / "index.npy", np.asarray(index_of, dtype=np.int32))
    meta = {"version": CACHE_VERSION, "layout": dataset.layout, "root": str(dataset.root), "size": size,
            "density_from": dataset.density_from,
            "sigma_frac": SIGMA_FRAC, "frames": cursor, "points": "normalised pixel centres (x+0.5)/W, (y+0.5)/H",
            "items": meta_items, "build_seconds": round(time.time() - started, 1)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
