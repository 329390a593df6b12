"""A pool of frames for distillation on the student's own view (views.py): every frame of the
eye-tracked videos, the still images and any unlabelled clips, decoded once at one square side
(128 px: room for zooms before the reduction to the student's 64 px), each with its next frame.

Distillation on views needs no fixations, so any frame will do; the eye-tracked videos are still
named per frame, so that cross-validation can leave a fold's videos out of the pool.

A pool can be packed as one H.264 file plus an index (`pack` / `unpack`): ~20k frames in tens of
megabytes instead of a gigabyte, for carrying to an accelerator machine; there it decodes with
PyAV or, where PyAV is missing, with OpenCV.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path

POOL_SIDE = 128
CLIP_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")


@dataclass
class FramePool:
    frames: np.ndarray  # (N, S, S, 3) uint8 RGB
    nxt: np.ndarray  # (N,) int64 index of the next frame of the same clip (itself at a clip's end, and for images)
    group: np.ndarray  # (N,) int32 index into `names`
    names: list[str]  # per group: "video:<name>" (eye-tracked), "clip:<path>" (unlabelled), "images"

    def __len__(self) -> int:
        return len(self.group)

    def counts(self) -> dict[str, int]:
        """Frames per kind of source: "video", "images", "clip"."""
        out: dict[str, int] = {}
        for name, n in zip(self.names, np.bincount(self.group, minlength=len(self.names))):
            kind = name.split(":", 1)[0]
            out[kind] = out.get(kind, 0) + int(n)
        return out

    def strata(self, folds: list[list[str]]) -> list[np.ndarray]:
        """Frame indices split by cross-validation fold: [frames of no fold's video (images,
        unlabelled clips), frames of fold 0's eye-tracked videos, fold 1's, ...]."""
        fold_of = np.full(len(self.names), -1)
        for k, videos in enumerate(folds):
            fold_of[[j for j, n in enumerate(self.names) if n.startswith("video:") and n[6:] in videos]] = k
        which = fold_of[self.group]
        return [np.flatnonzero(which == k) for k in range(-1, len(folds))]


def _next_in_group(group: np.ndarray, still: np.ndarray) -> np.ndarray:
    i = np.arange(len(group))
    nxt = np.minimum(i + 1, len(group) - 1)
    return np.where((group[nxt] == group) & ~still, nxt, i)


def build_pool(data: str | None, images: str | None = None, clips: str | None = None,
               side: int = POOL_SIDE, progress: bool = True) -> FramePool:
    """Frames of a video dataset and an image set (through their caches) and of every video file
    under `clips` (decoded here with the same area filter), at side x side."""
    from ..data.cache import build_cache
    from ..video import iter_frames

    parts, groups, still, names = [], [], [], []

    def add(frames: np.ndarray, name: str, static: bool) -> None:
        names.append(name)
        parts.append(np.asarray(frames))
        groups.append(np.full(len(frames), len(names) - 1, np.int32))
        still.append(np.full(len(frames), static))

    if data:
        cache = build_cache(data, side, progress=progress)
        for j, name in enumerate(cache.names):
            add(cache.frames[cache.item == j], f"video:{name}", False)
    if images:
        add(build_cache(images, side, progress=progress).frames, "images", True)
    if clips:
        for path in sorted(p for p in Path(clips).rglob("*") if p.suffix.lower() in CLIP_SUFFIXES):
            frames = [f.small for f in iter_frames(path, size=side)]
            if frames:
                add(np.stack(frames), f"clip:{path.relative_to(clips)}", False)
    group = np.concatenate(groups)
    return FramePool(np.concatenate(parts), _next_in_group(group, np.concatenate(still)), group, names)


def pack(pool: FramePool, folder: str | Path, crf: int = 16) -> None:
    """Write frames.mp4 (H.264, every frame in pool order) and index.json into `folder`."""
    import av

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "frames.mp4") as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=25, options={"crf": str(crf), "preset": "medium"})
            stream.width = stream.height = pool.frames.shape[1]
            stream.pix_fmt = "yuv420p"
            for rgb in pool.frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))
            out.mux(stream.encode())
    index = {"side": int(pool.frames.shape[1]), "names": pool.names, "group": pool.group.tolist(),
             "nxt": pool.nxt.tolist()}
    with atomic_path(folder / "index.json") as tmp:
        tmp.write_text(json.dumps(index))


def unpack(folder: str | Path) -> FramePool:
    folder = Path(folder)
    index = json.loads((folder / "index.json").read_text())
    frames = np.stack(list(_decode(folder / "frames.mp4")))
    if len(frames) != len(index["group"]):
        raise ValueError(f"{folder}: {len(frames)} frames decoded, the index lists {len(index['group'])}")
    return FramePool(frames, np.asarray(index["nxt"], np.int64), np.asarray(index["group"], np.int32),
                     list(index["names"]))


def _decode(path: Path):
    try:
        import av
    except ImportError:  # an accelerator machine may have OpenCV and no PyAV
        import cv2

        cap = cv2.VideoCapture(str(path))
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield bgr[:, :, ::-1]
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
