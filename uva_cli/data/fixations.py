"""Readers for the "fixation CSV layout" of eye-tracking data, and ground-truth maps built from it.

Video sets (layout "fixation-videos")::

    root/videos/<name>.avi|.mp4|...   root/videos.csv    name,width,height,frames,fps
                                      root/fixations.csv video,subject,onset_ms,duration_ms,x,y

Image sets (layout "fixation-images")::

    root/stimuli/<image>              root/images.csv    image,width,height
                                      root/fixations.csv image,subject,x,y,onset_ms,duration_ms

A folder whose sub-folders are image sets is one image set too (items named "<sub>/<image>").
Fixation x, y are 0-based pixels of the item's own resolution. Frame k of a video is shown at
t = 1000 k / fps ms (frames numbered in decode order, never from the container's pts), and a
fixation is active at frame k when onset <= t < onset + duration; a subject whose records
overlap counts once, with the active record of latest onset.

Layouts with density maps instead of fixation records (DHF1K in `dhf1k`, AVS1K and plain
train/valid/test folders in `splits`) share the same `detect_layout` / `read_dataset` entry points;
a new layout plugs in by adding its detector and reader to `_layouts()`.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, Union

import numpy as np

from ..errors import InputError
from ..video import VIDEO_EXTENSIONS

if TYPE_CHECKING:
    from .maps import MapItem

log = logging.getLogger("uva")

VIDEO_LAYOUT = "fixation-videos"
IMAGE_LAYOUT = "fixation-images"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
SIGMA_FRAC = 0.025  # Gaussian sigma as a fraction of the map width, about 1 degree of visual angle

VIDEOS_COLUMNS = ("name", "width", "height", "frames", "fps")
VIDEO_FIX_COLUMNS = ("video", "subject", "onset_ms", "duration_ms", "x", "y")
IMAGES_COLUMNS = ("image", "width", "height")
IMAGE_FIX_COLUMNS = ("image", "subject", "x", "y")  # onset_ms, duration_ms optional (OSIE has no onsets)

# One row per fixation record, in file order. Missing onsets/durations are NaN.
FIXATION_DTYPE = np.dtype([("subject", "i4"), ("onset_ms", "f8"), ("duration_ms", "f8"),
                           ("x", "f8"), ("y", "f8")])

EXPECTED_VIDEOS = (f"  {VIDEO_LAYOUT}: videos/ + videos.csv ({','.join(VIDEOS_COLUMNS)})"
                   f" + fixations.csv ({','.join(VIDEO_FIX_COLUMNS)})")
EXPECTED_IMAGES = (f"  {IMAGE_LAYOUT}: stimuli/ + images.csv ({','.join(IMAGES_COLUMNS)})"
                   f" + fixations.csv (image,subject,x,y,onset_ms,duration_ms), or a folder of such image sets")


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
    _frame_points: list[np.ndarray] | None = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class ImageItem:
    """One still image; every fixation of every subject counts for its ground truth."""

    name: str
    path: Path
    width: int
    height: int
    points: np.ndarray  # (N,2) float64 x, y in source pixels
    subjects: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32), repr=False)


Item = Union[VideoItem, ImageItem, "MapItem"]  # MapItem: map layouts (DHF1K, AVS1K), in .maps


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


# ----------------------------------------------------------------------------- layout detection

def _is_video_set(root: Path) -> bool:
    return (root / "videos.csv").is_file() and (root / "fixations.csv").is_file() and (root / "videos").is_dir()


def _is_image_set(root: Path) -> bool:
    return (root / "images.csv").is_file() and (root / "fixations.csv").is_file() and (root / "stimuli").is_dir()


def _image_subsets(root: Path) -> list[Path]:
    return [p for p in sorted(root.iterdir()) if p.is_dir() and _is_image_set(p)]


Reader = Callable[[Path, "Iterable[str] | None"], Dataset]


def _layouts() -> list[tuple[str, Callable[[Path], bool], Reader, str]]:
    """(name, detector, reader, description) of every known layout, in detection order.

    The map layouts live in their own modules, which import this one, hence the late import.
    """
    from . import dhf1k, splits

    return [(VIDEO_LAYOUT, _is_video_set, read_videos, EXPECTED_VIDEOS),
            (IMAGE_LAYOUT, lambda root: _is_image_set(root) or bool(_image_subsets(root)), read_images,
             EXPECTED_IMAGES),
            (dhf1k.LAYOUT, dhf1k.is_dhf1k, dhf1k.read_dhf1k, dhf1k.EXPECTED),
            (splits.AVS1K_LAYOUT, splits.is_avs1k, splits.read_splits, splits.EXPECTED_AVS1K),
            (splits.SPLITS_LAYOUT, splits.is_split_folders, splits.read_splits, splits.EXPECTED_SPLITS)]


def detect_layout(root: str | Path) -> str:
    """Name the layout of a dataset folder, or raise LayoutError saying what was expected."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (expected a dataset folder)")
    layouts = _layouts()
    for name, detect, _, _ in layouts:
        if detect(root):
            return name
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "nothing"
    expected = "\n".join(line for *_, line in layouts)
    raise LayoutError(f"{root}: unrecognised dataset layout (found {shown}); expected one of:\n{expected}")


# ----------------------------------------------------------------------------- CSV reading

def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """All rows of a CSV as dicts, after checking the header has the columns we need."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            missing = [c for c in required if c not in columns]
            if missing:
                raise LayoutError(f"{path}: missing column(s) {', '.join(missing)} "
                                  f"(has {','.join(columns) or 'no header'})")
            return list(reader)
    except OSError as exc:
        raise LayoutError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _num(text: str | None) -> float:
    """Parse a number; an empty cell (OSIE onsets) is NaN."""
    text = (text or "").strip()
    return float(text) if text else float("nan")


def _select(names: Sequence[str], only: Iterable[str] | None, where: Path) -> set[str]:
    """The item names to keep; unknown names in `only` are an error rather than a silent no-op."""
    if only is None:
        return set(names)
    wanted = set(only)
    unknown = sorted(wanted - set(names))
    if unknown:
        raise LayoutError(f"{where}: no item(s) named {', '.join(unknown)}")
    return wanted


def read_videos(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Read a fixation-videos set; `only` restricts it to the named videos (order of videos.csv)."""
    root = Path(root)
    rows = _read_csv(root / "videos.csv", VIDEOS_COLUMNS)
    files = {p.stem: p for p in sorted((root / "videos").iterdir())
             if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS}
    wanted = _select([r["name"] for r in rows], only, root)
    records: dict[str, list[tuple]] = {name: [] for name in wanted}
    for r in _read_csv(root / "fixations.csv", VIDEO_FIX_COLUMNS):
        recs = records.get(r["video"])
        if recs is not None:
            recs.append((int(r["subject"]), _num(r["onset_ms"]), _num(r["duration_ms"]),
                         _num(r["x"]), _num(r["y"])))
    items: list[Item] = []
    for r in rows:
        name = r["name"]
        if name not in wanted:
            continue
        if name not in files:
            raise LayoutError(f"{root / 'videos'}: no video file for '{name}' listed in videos.csv")
        items.append(VideoItem(name=name, path=files[name], width=int(r["width"]), height=int(r["height"]),
                               frames=int(r["frames"]), fps=float(r["fps"]),
                               fixations=np.array(records[name], dtype=FIXATION_DTYPE)))
    return Dataset(VIDEO_LAYOUT, root, items, [root / "videos.csv", root / "fixations.csv"])


def _read_image_set(root: Path, prefix: str, only: set[str] | None) -> list[ImageItem]:
    rows = _read_csv(root / "images.csv", IMAGES_COLUMNS)
    points: dict[str, list[tuple]] = {r["image"]: [] for r in rows}
    for r in _read_csv(root / "fixations.csv", IMAGE_FIX_COLUMNS):
        recs = points.get(r["image"])
        if recs is not None:
            recs.append((_num(r["x"]), _num(r["y"]), int(r["subject"])))
    items = []
    for r in rows:
        name = prefix + r["image"]
        if only is not None and name not in only:
            continue
        path = root / "stimuli" / r["image"]
        if not path.is_file():
            raise LayoutError(f"{root / 'stimuli'}: no image file '{r['image']}' listed in images.csv")
        recs = np.array(points[r["image"]], dtype=np.float64).reshape(-1, 3)
        items.append(ImageItem(name=name, path=path, width=int(r["width"]), height=int(r["height"]),
                               points=recs[:, :2].copy(), subjects=recs[:, 2].astype(np.int32)))
    return items


def read_images(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Read one image set, or a folder of image sets (items then named "<subset>/<image>")."""
    root = Path(root)
    subsets = [(root, "")] if _is_image_set(root) else [(p, p.name + "/") for p in _image_subsets(root)]
    wanted = None if only is None else set(only)
    items: list[Item] = []
    sources: list[Path] = []
    for folder, prefix in subsets:
        items += _read_image_set(folder, prefix, wanted)
        sources += [folder / "images.csv", folder / "fixations.csv"]
    if wanted is not None:
        _select([it.name for it in items], wanted, root)
    return Dataset(IMAGE_LAYOUT, root, items, sources)


def read_dataset(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Detect the layout of `root` and read it; `only` keeps just the named items."""
    layout = detect_layout(root)
    reader = next(read for name, _, read, _ in _layouts() if name == layout)
    return reader(Path(root), only)


# ----------------------------------------------------------------------------- active fixations

def _active_rows(item: VideoItem, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Record indices active in frames 0..n-1, sorted by frame, and frame k's slice bounds[k]:bounds[k+1].

    One subject counts once per frame (latest onset wins). No Python loops over fixations: each
    record covers a contiguous frame range found by binary search.
    """
    fx = item.fixations
    times = 1000.0 * np.arange(n) / item.fps  # same arithmetic as the recipe: t = 1000 k / fps
    onset, end = fx["onset_ms"], fx["onset_ms"] + fx["duration_ms"]
    first = np.searchsorted(times, onset, side="left")  # first frame with t >= onset
    stop = np.searchsorted(times, end, side="left")  # first frame with t >= onset + duration
    counts = np.where(np.isfinite(onset) & np.isfinite(end), np.maximum(stop - first, 0), 0)
    rows = np.repeat(np.arange(len(fx)), counts)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    frame = np.repeat(first, counts) + within
    subject = fx["subject"][rows]
    order = np.lexsort((rows, onset[rows], subject, frame))  # by frame, subject, onset, file row
    rows, frame, subject = rows[order], frame[order], subject[order]
    last = np.ones(len(rows), dtype=bool)  # keep the last record of each (frame, subject) run
    last[:-1] = (frame[1:] != frame[:-1]) | (subject[1:] != subject[:-1])
    rows, frame = rows[last], frame[last]
    return rows, np.searchsorted(frame, np.arange(n + 1), side="left")


def points_for_frames(item: VideoItem, n: int) -> list[np.ndarray]:
    """Active (N,2) x, y points of frames 0..n-1, one per subject (see _active_rows)."""
    rows, bounds = _active_rows(item, n)
    points = np.stack([item.fixations["x"][rows], item.fixations["y"][rows]], axis=1)
    return [points[bounds[k]:bounds[k + 1]] for k in range(n)]


def subjects_for_frames(item: VideoItem, n: int) -> list[np.ndarray]:
    """Subject id (int32) of each active point of frames 0..n-1, aligned with points_for_frames."""
    rows, bounds = _active_rows(item, n)
    subjects = item.fixations["subject"][rows].astype(np.int32)
    return [subjects[bounds[k]:bounds[k + 1]] for k in range(n)]


def frame_points(item: VideoItem) -> list[np.ndarray]:
    """Per-frame (N,2) x, y active points for all `item.frames` frames, computed once per item."""
    if item._frame_points is None or len(item._frame_points) != item.frames:
        item._frame_points = points_for_frames(item, item.frames)
    return item._frame_points


def active_points(item: VideoItem, k: int) -> np.ndarray:
    """(N,2) float x, y of the fixations active at frame k, one per subject (latest onset wins)."""
    if not 0 <= k < item.frames:
        raise IndexError(f"{item.name}: frame {k} outside 0..{item.frames - 1}")
    return frame_points(item)[k]


# ----------------------------------------------------------------------------- maps

def normalise_points(points: np.ndarray, src_w: int, src_h: int) -> np.ndarray:
    """Source pixels -> resolution-free coordinates of the pixel centre: ((x+0.5)/W, (y+0.5)/H).

    Pixel x covers [x, x+1), so its centre at x+0.5 lands in output cell floor((x+0.5) S / W) on any
    S-wide grid: the cell whose area (the area filter's source footprint) contains it.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (points + 0.5) / np.array([src_w, src_h], dtype=np.float64)


def grid_cells(norm_points: np.ndarray, out_h: int, out_w: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) integer cells of normalised points on an out_h x out_w grid, clipped to it.

    A pixel centre often lands exactly on a cell border (1920 -> 256: x = 7 gives 7.5 * 256/1920 = 1);
    the cache stores points as float32, whose rounding (about 6e-8 x n) could drop such a point into
    the cell before. A tolerance of 1e-5 x n cells absorbs that and moves no genuine
    point by a visible amount.
    """
    norm_points = np.asarray(norm_points, dtype=np.float64).reshape(-1, 2)
    cols = np.clip(np.floor(norm_points[:, 0] * out_w + 1e-5 * out_w), 0, out_w - 1).astype(np.intp)
    rows = np.clip(np.floor(norm_points[:, 1] * out_h + 1e-5 * out_h), 0, out_h - 1).astype(np.intp)
    return rows, cols


def fixation_map_norm(norm_points: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Binary (uint8 0/1) fixation map from normalised points."""
    out = np.zeros((out_h, out_w), dtype=np.uint8)
    rows, cols = grid_cells(norm_points, out_h, out_w)
    out[rows, cols] = 1
    return out


def _gaussian_profiles(cells: np.ndarray, n: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """(P, n) rows: scipy's gaussian_filter1d (mode "constant") of a unit impulse at each cell."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) if sigma > 0 else (offsets == 0).astype(np.float64)
    kernel /= kernel.sum()
    d = np.arange(n)[None, :] - np.asarray(cells)[:, None]
    return np.where(np.abs(d) <= radius, kernel[np.clip(d + radius, 0, 2 * radius)], 0.0)


def blurred_counts(norm_points: np.ndarray, out_h: int, out_w: int, sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Fixation counts on the grid blurred with sigma = sigma_frac * out_w (float64, not normalised).

    A blurred impulse is the outer product of two 1-D kernels, so the map is a sum of outer
    products: identical to gaussian_filter(counts, sigma, mode="constant") and, for the few dozen
    fixations of a frame, several times cheaper (the leave-one-out human baseline makes thousands).
    einsum, not `@`: a threaded BLAS call this small costs more than it computes on a busy CPU.
    """
    rows, cols = grid_cells(norm_points, out_h, out_w)
    sigma = sigma_frac * out_w
    return np.einsum("pi,pj->ij", _gaussian_profiles(rows, out_h, sigma), _gaussian_profiles(cols, out_w, sigma))


def density_map_norm(norm_points: np.ndarray, out_h: int, out_w: int,
                     sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Fixation density (float32, sum 1) from normalised points; uniform when there are none.

    As the reference recipe, two fixations in one cell weigh 2."""
    blurred = blurred_counts(norm_points, out_h, out_w, sigma_frac)
    total = blurred.sum()
    if not total > 0:
        return np.full((out_h, out_w), 1.0 / (out_h * out_w), dtype=np.float32)
    return (blurred / total).astype(np.float32)


def fixation_map(points: np.ndarray, src_w: int, src_h: int, out_h: int, out_w: int) -> np.ndarray:
    """Binary fixation map on an out_h x out_w grid from points in source pixels (rounded, clipped).

    At the source resolution this is the recipe's map[round(y), round(x)] = 1.
    """
    return fixation_map_norm(normalise_points(points, src_w, src_h), out_h, out_w)


def density_map(points: np.ndarray, src_w: int, src_h: int, out_h: int, out_w: int,
                sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Density map (float32, sum 1): the fixation counts blurred with sigma = sigma_frac * out_w."""
    return density_map_norm(normalise_points(points, src_w, src_h), out_h, out_w, sigma_frac)


def centre_profile(cells: int) -> np.ndarray:
    """One axis of the centre bias: a Gaussian with sigma = half the side, summing to 1."""
    coords = (np.arange(cells) - (cells - 1) / 2) / (0.5 * cells)
    profile = np.exp(-coords ** 2 / 2)
    return profile / profile.sum()


def centre_bias(h: int, w: int) -> np.ndarray:
    """Gaussian centre-bias baseline (sum 1), the usual yardstick a model must beat."""
    return np.outer(centre_profile(h), centre_profile(w)).astype(np.float32)


# ----------------------------------------------------------------------------- splits

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
