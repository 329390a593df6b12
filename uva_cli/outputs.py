"""Writers for what `uva saliency` produces. Each one writes under a temporary name and only
renames to the final name in close(), so an interrupted or failed run never leaves an output
that looks finished; abort() removes the temporary.

Every writer takes frames in order with their map, (S, S) float32 in [0, 1], and the same map
upsampled to the source size as uint8 (computed once per frame for all writers; None when no
writer has `needs_source_map`). `native` says which display-size picture a writer needs with
each frame: None, "yuv" (yuv420p planes) or "rgb".
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from PIL import Image

from . import render
from .atomic import commit, commit_or_fail, discard, part_path
from .errors import OutputError, reason, write_failed
from .threads import Worker, frames_depth
from .video import Frame, ImageWriter, VideoInfo, is_image_name, make_parent, open_writer

OUTPUT_KINDS = ("overlay", "heatmap", "maps", "npz")
MAP_NAME = re.compile(r"\d{6}\.png")


@contextmanager
def all_or_nothing() -> Iterator[list]:
    """A list to put opened outputs in: when the block ends they are all closed (each renamed
    into place); when it fails or is interrupted they are all aborted (temporaries removed)."""
    outputs: list = []
    try:
        yield outputs
        for output in outputs:
            output.close()
    except BaseException:
        for output in outputs:
            output.abort()
        raise


def refuse_overwriting_input(source: Path, outputs: Iterable[str | os.PathLike]) -> None:
    """Fail before any work if an output path is the input itself."""
    for path in outputs:
        if Path(path).resolve() == Path(source).resolve():
            raise OutputError(f"{path}: output would overwrite the input")


class EncoderThread:
    """The part every video output shares: its pictures go to a `VideoWriter` in a thread of
    their own, so making the next picture (painting, offsets) overlaps encoding this one."""

    def __init__(self, writer, info: VideoInfo):
        self.writer = writer
        self.encoder = Worker(lambda item: self.writer.write(*item), frames_depth(info.width, info.height))

    def submit(self, picture, time: float) -> None:
        self.encoder.submit((picture, time))

    def close(self) -> None:
        self.encoder.close()
        self.writer.close()

    def abort(self) -> None:
        self.encoder.cancel()
        self.writer.abort()


# libx264 settings of overlay and heatmap videos: the veryfast preset with its cheapest
# sub-pixel search (subme 1 for 2) and whole blocks only (inter sub-partitions p8x8 and b8x8 not
# tried; intra 4x4 and 8x8 are), at CRF 22.5, which gives the painted picture the PSNR and SSIM
# that plain veryfast at FFmpeg's default CRF 23 (what a plain transcode gets) gives it, for about a
# third less of the encoder's time and a file 12-14 % larger (docs/speed.md#overlays-at-transcode-speed).
PAINTED_ENCODER = {"crf": 22.5, "preset": "veryfast", "options": {"x264-params": "analyse=i8x8,i4x4:subme=1"}}


class VideoOutput(EncoderThread):
    """Overlay (map blended on the frames) or heatmap (the coloured map alone) as H.264,
    painted and encoded as yuv420p (frames come from `iter_frames(yuv=True)`)."""

    def __init__(self, path: Path, info: VideoInfo, kind: str, alpha: float = 0.6,
                 colormap: str = "turbo"):
        self.path, self.kind = path, kind
        self.native = "yuv" if kind == "overlay" else None
        self.needs_source_map = False  # the painter scales the model-size map itself
        super().__init__(open_writer(path, info, audio=kind == "overlay", **PAINTED_ENCODER), info)
        self.painter = render.Painter(self.writer.width, self.writer.height, colormap, alpha, info.colour)

    def write(self, frame: Frame, smap: np.ndarray, smap8: np.ndarray | None) -> None:
        # the frame's planes are this output's alone: the painter paints them where they lie
        self.submit(self.painter.overlay(frame.native, smap) if self.kind == "overlay"
                    else self.painter.heatmap(smap), frame.time)


class ImageOutput:
    """Overlay or heatmap of a still picture as an image (PNG, JPEG, WebP: the output name's
    extension), painted in RGB at the picture's exact size."""

    needs_source_map = True

    def __init__(self, path: Path, info: VideoInfo, kind: str, alpha: float = 0.6, colormap: str = "turbo"):
        self.kind, self.alpha = kind, alpha
        self.native = "rgb" if kind == "overlay" else None
        self.lut = render.colormap_lut(colormap)
        self.writer: ImageWriter = open_writer(path, info)

    def write(self, frame: Frame, smap: np.ndarray, smap8: np.ndarray) -> None:
        self.writer.write(render.overlay(frame.native, smap8, self.lut, self.alpha) if self.kind == "overlay"
                          else render.colourise(smap8, self.lut), frame.time)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def _refuse_foreign_folder(path: Path) -> None:
    """Replacing an older maps folder deletes it; never delete one that holds anything else
    (`--maps ~/Pictures` must not cost the user their pictures)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder; choose another --maps folder")
    if path.is_dir() and any(not MAP_NAME.fullmatch(p.name) for p in path.iterdir()):
        raise OutputError(f"{path}: folder exists and holds files that are not uva maps; refusing to "
                          "replace it (choose a new folder)")


class MapsOutput:
    """One 8-bit grayscale PNG per frame at the source resolution: 000001.png, 000002.png, …"""

    native, needs_source_map = None, True

    def __init__(self, path: Path, info: VideoInfo):
        self.path, self.tmp = path, part_path(path)
        _refuse_foreign_folder(path)
        discard(self.tmp)
        make_parent(path)
        try:
            self.tmp.mkdir()
        except OSError as exc:
            raise OutputError(f"{path}: cannot create folder ({reason(exc)})") from None

    def write(self, frame: Frame, smap: np.ndarray, smap8: np.ndarray) -> None:
        try:
            Image.fromarray(smap8, mode="L").save(self.tmp / f"{frame.index + 1:06d}.png", compress_level=1)
        except OSError as exc:
            self.abort()
            raise write_failed(self.path, exc) from None

    def close(self) -> None:
        commit_or_fail(self.tmp, self.path, self.abort)

    def abort(self) -> None:
        discard(self.tmp)


class NpzOutput:
    """Maps at model resolution (float16, `maps`: N x S x S), `times` (seconds), `fps`.

    Maps are spooled to a raw temporary file while the video streams, then packed into the
    archive, so memory stays flat however long the video is. The archive is stored, not
    deflated, as `np.savez` does: deflating cost about 5 % of an end-to-end run of a short clip
    for a 25 % smaller file (float maps compress poorly).
    """

    native, needs_source_map = None, False

    def __init__(self, path: Path, info: VideoInfo):
        self.path, self.tmp = path, part_path(path)
        self.raw = part_path(path.with_name(f"{path.name}.maps"))
        self.fps, self.times, self.shape = info.fps, [], None
        make_parent(path)
        try:
            self.fh = open(self.raw, "wb")
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({reason(exc)})") from None

    def write(self, frame: Frame, smap: np.ndarray, smap8: np.ndarray | None) -> None:
        self.shape = smap.shape
        self.times.append(frame.time)
        try:
            self.fh.write(smap.astype(np.float16).tobytes())
        except OSError as exc:
            self.abort()
            raise write_failed(self.path, exc) from None

    def close(self) -> None:
        shape = (len(self.times), *(self.shape or (0, 0)))
        try:
            self.fh.close()
            with zipfile.ZipFile(self.tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                with zf.open("maps.npy", "w", force_zip64=True) as entry, open(self.raw, "rb") as src:
                    np.lib.format.write_array_header_1_0(
                        entry, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                "fortran_order": False, "shape": shape})
                    shutil.copyfileobj(src, entry, 1 << 20)
                for name, value in (("times", np.asarray(self.times, np.float64)),
                                    ("fps", np.float64(self.fps))):
                    with zf.open(f"{name}.npy", "w") as entry:
                        np.lib.format.write_array(entry, np.asarray(value))
            self.raw.unlink(missing_ok=True)
            commit(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise write_failed(self.path, exc) from None

    def abort(self) -> None:
        try:
            self.fh.close()  # flushing may fail again on a full disk; the file goes anyway
        except OSError:
            pass
        self.raw.unlink(missing_ok=True)
        self.tmp.unlink(missing_ok=True)


def open_output(kind: str, path: Path, info: VideoInfo, alpha: float = 0.6, colormap: str = "turbo"):
    if kind in ("overlay", "heatmap"):
        return (ImageOutput if is_image_name(path) else VideoOutput)(path, info, kind, alpha, colormap)
    if kind == "maps":
        return MapsOutput(path, info)
    if kind == "npz":
        return NpzOutput(path, info)
    raise ValueError(f"unknown output kind {kind!r}")
