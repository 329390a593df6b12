"""Reader for the "fixation CSV layouts" of eye-tracking data, and the fixations active per frame.

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

The points active at each frame come from the records here (`frame_points`); maps are made
from points by `truth`. The layout registry (`layouts`) detects this layout with `is_video_set` /
`is_image_layout`.
"""

from __future__ import annotations

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..video import VIDEO_EXTENSIONS
from .base import Dataset, ImageItem, Item, LayoutError, VideoItem, select

log = logging.getLogger("uva")

VIDEO_LAYOUT = "fixation-videos"
IMAGE_LAYOUT = "fixation-images"
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



def is_video_set(root: Path) -> bool:
    return (root / "videos.csv").is_file() and (root / "fixations.csv").is_file() and (root / "videos").is_dir()


def is_image_set(root: Path) -> bool:
    return (root / "images.csv").is_file() and (root / "fixations.csv").is_file() and (root / "stimuli").is_dir()


def _image_subsets(root: Path) -> list[Path]:
    return [p for p in sorted(root.iterdir()) if p.is_dir() and is_image_set(p)]



def is_image_layout(root: Path) -> bool:
    """An image set, or a folder of image sets."""
    return is_image_set(root) or bool(_image_subsets(root))


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



def read_videos(root: str | Path, only: Iterable[str] | None = None) -> Dataset:
    """Read a fixation-videos set; `only` restricts it to the named videos (order of videos.csv)."""
    root = Path(root)
    rows = _read_csv(root / "videos.csv", VIDEOS_COLUMNS)
    files = {p.stem: p for p in sorted((root / "videos").iterdir())
             if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS}
    wanted = select([r["name"] for r in rows], only, root)
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
    subsets = [(root, "")] if is_image_set(root) else [(p, p.name + "/") for p in _image_subsets(root)]
    wanted = None if only is None else set(only)
    items: list[Item] = []
    sources: list[Path] = []
    for folder, prefix in subsets:
        items += _read_image_set(folder, prefix, wanted)
        sources += [folder / "images.csv", folder / "fixations.csv"]
    if wanted is not None:
        select([it.name for it in items], wanted, root)
    return Dataset(IMAGE_LAYOUT, root, items, sources)



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
    if item.points_by_frame is None or len(item.points_by_frame) != item.frames:
        item.points_by_frame = points_for_frames(item, item.frames)
    return item.points_by_frame


def active_points(item: VideoItem, k: int) -> np.ndarray:
    """(N,2) float x, y of the fixations active at frame k, one per subject (latest onset wins)."""
    if not 0 <= k < item.frames:
        raise IndexError(f"{item.name}: frame {k} outside 0..{item.frames - 1}")
    return frame_points(item)[k]
