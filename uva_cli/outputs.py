"""Writers for what `uva saliency` produces. Each one writes under a temporary name and only
renames to the final name in close(), so an interrupted or failed run never leaves an output
that looks finished; abort() removes the temporary.

Every writer takes (frame, map) pairs in frame order: map is (S, S) float32 in [0, 1].
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from . import render
from .errors import OutputError
from .video import Frame, VideoInfo, VideoWriter

OUTPUT_KINDS = ("overlay", "heatmap", "maps", "npz")


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _replace(tmp: Path, final: Path) -> None:
    """Move a finished temporary into place, replacing an older output (--overwrite)."""
    if final.is_dir():
        shutil.rmtree(final)
    os.replace(tmp, final)


class VideoOutput:
    """Overlay (map blended on the frames) or heatmap (the coloured map alone) as H.264."""

    def __init__(self, path: Path, info: VideoInfo, kind: str, alpha: float = 0.6,
                 colormap: str = "turbo"):
        self.kind, self.alpha = kind, alpha
        self.needs_native = kind == "overlay"
        self.lut = render.colormap_lut(colormap)
        self.size = (info.height, info.width)
        self.writer = VideoWriter(path, info.width, info.height, info.fps,
                                  audio_from=info.path if kind == "overlay" and info.has_audio else None)

    def write(self, frame: Frame, smap: np.ndarray) -> None:
        smap8 = render.upsample8(smap, *self.size)
        picture = (render.overlay(frame.native, smap8, self.lut, self.alpha) if self.kind == "overlay"
                   else render.heatmap(smap8, self.lut))
        self.writer.write(picture, frame.time)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


class MapsOutput:
    """One 8-bit grayscale PNG per frame at the source resolution: 000001.png, 000002.png, …"""

    needs_native = False

    def __init__(self, path: Path, info: VideoInfo):
        self.path, self.tmp = path, _part(path)
        self.size = (info.height, info.width)
        shutil.rmtree(self.tmp, ignore_errors=True)
        try:
            self.tmp.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create folder ({exc.strerror})") from None

    def write(self, frame: Frame, smap: np.ndarray) -> None:
        smap8 = render.upsample8(smap, *self.size)
        try:
            Image.fromarray(smap8, mode="L").save(self.tmp / f"{frame.index + 1:06d}.png", compress_level=1)
        except OSError as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({exc.strerror})") from None

    def close(self) -> None:
        _replace(self.tmp, self.path)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class NpzOutput:
    """Maps at model resolution (float16, `maps`: N x S x S), `times` (seconds), `fps`.

    Maps are spooled to a raw temporary file while the video streams, then packed into the
    archive, so memory stays flat however long the video is.
    """

    needs_native = False

    def __init__(self, path: Path, info: VideoInfo):
        self.path, self.tmp = path, _part(path)
        self.raw = path.with_name(f".{path.name}.maps.part")
        self.fps, self.times, self.shape = info.fps, [], None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.raw, "wb")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from None

    def write(self, frame: Frame, smap: np.ndarray) -> None:
        self.shape = smap.shape
        self.times.append(frame.time)
        try:
            self.fh.write(smap.astype(np.float16).tobytes())
        except OSError as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({exc.strerror})") from None

    def close(self) -> None:
        self.fh.close()
        shape = (len(self.times), *(self.shape or (0, 0)))
        try:
            with zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                with zf.open("maps.npy", "w", force_zip64=True) as entry, open(self.raw, "rb") as src:
                    np.lib.format.write_array_header_1_0(
                        entry, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                "fortran_order": False, "shape": shape})
                    shutil.copyfileobj(src, entry, 1 << 20)
                for name, value in (("times", np.asarray(self.times, np.float64)),
                                    ("fps", np.float64(self.fps))):
                    with zf.open(f"{name}.npy", "w") as entry:
                        np.lib.format.write_array(entry, np.asarray(value))
        except OSError as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({exc.strerror})") from None
        self.raw.unlink(missing_ok=True)
        _replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.raw.unlink(missing_ok=True)
        self.tmp.unlink(missing_ok=True)


def open_output(kind: str, path: Path, info: VideoInfo, alpha: float = 0.6, colormap: str = "turbo"):
    if kind in ("overlay", "heatmap"):
        return VideoOutput(path, info, kind, alpha, colormap)
    if kind == "maps":
        return MapsOutput(path, info)
    if kind == "npz":
        return NpzOutput(path, info)
    raise ValueError(f"unknown output kind {kind!r}")
