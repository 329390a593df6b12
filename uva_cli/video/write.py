"""Writers: H.264 video (audio copied, colour tags kept, fast start) and still pictures, each
under a temporary name renamed into place only when complete (see `uva_cli.atomic`)."""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Mapping

import av
import numpy as np
from PIL import Image

from ..atomic import commit, commit_or_fail, discard, part_path
from ..errors import OutputError, reason, write_failed
from .formats import IMAGE_FORMATS, OUTPUT_TIME_BASE, Colour, VideoInfo
from .images import is_image_name

log = logging.getLogger("uva")


def make_parent(path: Path) -> None:
    """Create the folder `path` goes in, saying which part is in the way when one is a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
        raise OutputError(f"{path}: cannot write ({blocker} is a file, not a folder)") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({reason(exc)})") from None


# The muxer FFmpeg picks for each output extension (as av_guess_format names them): the
# temporary `.NAME.part` has no telling extension, so the format is named explicitly. A name
# without an extension is an MP4.
CONTAINERS = {"": "mp4", ".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm",
              ".m4v": "ipod", ".mpg": "mpeg", ".mpeg": "mpeg", ".ts": "mpegts", ".flv": "flv", ".wmv": "asf",
              ".3gp": "3gp", ".mts": "mpegts", ".m2ts": "mpegts", ".ogv": "ogv", ".y4m": "yuv4mpegpipe"}
# MP4 and MOV get their index (moov) at the front, so a browser plays them while they download.
FASTSTART = (".mp4", ".mov", ".m4v")


class _Writer:
    """`with writer:` closes it on success (the output renamed into place), else aborts it."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VideoWriter(_Writer):
    """H.264 writer: frames go to a temporary file beside the target that is renamed on close().

    Files play everywhere: the source's audio is copied (not re-encoded) interleaved with the
    video as the frames arrive, MP4/MOV carry their index in front (`movflags=+faststart`), and
    the stream is tagged with `colour` (primaries, transfer, matrix, range) of the pictures given.
    `options`: further options of the encoder (libx264's AVOptions, e.g. `partitions`) over the
    preset's.

    A class because an encoder is state: the open container, the stream and the temp path.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 audio_from: Path | None = None, crf: float = 20, threads: int = 0, colour: Colour | None = None,
                 preset: str = "veryfast", options: Mapping[str, str] | None = None):
        self.path = Path(path)
        self.tmp = part_path(self.path)
        # yuv420p needs even sides; an odd edge row/column is dropped rather than the file failing.
        self.width, self.height = width - width % 2, height - height % 2
        if (self.width, self.height) != (width, height):
            log.warning("%s: %dx%d has an odd side; writing %dx%d (H.264 4:2:0 needs even sides)",
                        self.path, width, height, self.width, self.height)
        self._last_pts, self._audio = -1, None
        make_parent(self.path)
        muxer = {"movflags": "+faststart"} if self.path.suffix.lower() in FASTSTART else {}
        try:
            container_format = CONTAINERS.get(self.path.suffix.lower())
            if container_format is None:
                raise ValueError(self.path.suffix)
            self.container = av.open(str(self.tmp), mode="w", format=container_format, options=muxer)
        except ValueError:
            raise OutputError(f"{self.path}: unknown video file extension (use .mp4, .mkv or .mov)") from None
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(f"{self.path}: cannot write ({reason(exc)})") from None
        try:
            self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            self.stream.width, self.stream.height = self.width, self.height
            self.stream.pix_fmt = "yuv420p"
            cc = self.stream.codec_context
            cc.time_base = OUTPUT_TIME_BASE
            cc.thread_count = threads
            if colour is not None:
                cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range = (
                    colour.primaries, colour.trc, colour.matrix, colour.range)
            self.stream.options = {"crf": f"{crf:g}", "preset": preset, **(options or {})}
            self._audio = _AudioCopy.open(audio_from, self.container, self.path) if audio_from is not None else None
        except BaseException:
            self.abort()
            raise

    def write(self, picture: np.ndarray | av.VideoFrame, time: float) -> None:
        """Encode one (H, W, 3) RGB picture, yuv420p planes as `yuv420_planes` gives them, or a
        yuv420p frame of the writer's size (what `render.Painter` makes), encoded as it is."""
        if isinstance(picture, av.VideoFrame):
            if (picture.format.name, picture.width, picture.height) != ("yuv420p", self.width, self.height):
                raise ValueError(f"{picture.format.name} {picture.width}x{picture.height} frame does not fit "
                                 f"yuv420p {self.width}x{self.height}")
            frame = picture
        elif picture.ndim == 2:
            if picture.shape != (self.height * 3 // 2, self.width):
                raise ValueError(f"yuv420p planes {picture.shape} do not fit {self.width}x{self.height}")
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture[: self.height, : self.width]),
                                               format="rgb24")
        pts = max(int(round(time / OUTPUT_TIME_BASE)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, OUTPUT_TIME_BASE
        self._last_pts = pts
        try:
            self.container.mux(self.stream.encode(frame))
            if self._audio is not None:
                self._audio.copy_until(time)
        except (OSError, av.error.FFmpegError) as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: BaseException) -> OutputError:
        self.abort()
        return write_failed(self.path, exc)

    def close(self) -> None:
        """Flush the encoder, copy the rest of the audio and move the file to its final name."""
        try:
            self.container.mux(self.stream.encode(None))
            if self._audio is not None:
                self._audio.copy_until(math.inf)
                self._audio.close()
            self.container.close()
            commit(self.tmp, self.path)
        except (OSError, av.error.FFmpegError) as exc:
            raise self._failed(exc) from None

    def abort(self) -> None:
        """Close everything open and delete the temporary; safe to call more than once."""
        for closable in (getattr(self, "container", None), self._audio):
            try:
                if closable is not None:
                    closable.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes either way
                pass
        discard(self.tmp)


class _AudioCopy:
    """The source's first audio stream remuxed unchanged (no re-encode), up to each video
    frame's time as it is written, so the muxer interleaves audio with video instead of
    appending all of it at the end. Damaged audio ends the copy with a warning; only a failing
    disk (OSError) fails the output."""

    def __init__(self, source, out_stream, container, path: Path):
        self.source, self.out, self.container, self.path = source, out_stream, container, path
        self.packets = source.demux(source.streams.audio[0])
        self.pending: av.Packet | None = None

    @classmethod
    def open(cls, source_path: Path, container, path: Path) -> "_AudioCopy | None":
        """Declare the output audio stream (before any muxing); None if there is nothing to copy."""
        try:
            source = av.open(str(source_path), metadata_errors="replace")
        except (av.error.FFmpegError, OSError, ValueError):
            return None
        if not source.streams.audio:
            source.close()
            return None
        try:
            out_stream = container.add_stream_from_template(source.streams.audio[0])
        except (ValueError, av.error.FFmpegError):
            log.warning("%s: this audio codec cannot go into the output container; writing no audio", path)
            source.close()
            return None
        return cls(source, out_stream, container, path)

    def copy_until(self, seconds: float) -> None:
        """Mux the packets that start at or before `seconds`."""
        try:
            while True:
                if self.pending is None:
                    self.pending = next(self.packets, None)
                    if self.pending is None:
                        return
                    if self.pending.dts is None:
                        self.pending = None
                        continue
                packet = self.pending
                if float(packet.dts * packet.time_base) > seconds:
                    return
                self.pending = None
                packet.stream = self.out
                self.container.mux(packet)
        except OSError:
            raise
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("%s: audio copy stopped early (%s)", self.path, reason(exc))
            self.packets, self.pending = iter(()), None

    def close(self) -> None:
        self.source.close()


class ImageWriter(_Writer):
    """One still picture (PNG, JPEG, WebP ...) with `VideoWriter`'s interface, for outputs of a
    one-frame (image) input: written under a temporary name and renamed on close()."""

    def __init__(self, path: str | os.PathLike, width: int, height: int):
        self.path = Path(path)
        self.tmp = part_path(self.path)
        self.width, self.height = width, height
        self.format = Image.registered_extensions().get(self.path.suffix.lower())
        if self.format is None or self.format not in IMAGE_FORMATS:
            raise OutputError(f"{self.path}: unknown image file extension (use .png, .jpg or .webp)")
        self.picture: np.ndarray | None = None
        make_parent(self.path)

    def write(self, picture: np.ndarray | av.VideoFrame, time: float) -> None:
        """Keep the (H, W, 3) RGB picture, given as such, as yuv420p planes (`yuv420_planes`) or
        as a frame."""
        if isinstance(picture, av.VideoFrame):
            picture = picture.to_ndarray(format="rgb24")
        elif picture.ndim == 2:
            picture = av.VideoFrame.from_ndarray(picture, format="yuv420p").to_ndarray(format="rgb24")
        self.picture = picture

    def close(self) -> None:
        if self.picture is None:
            raise OutputError(f"{self.path}: no picture to write")
        options = {"quality": 92} if self.format in ("JPEG", "WEBP") else {}
        try:
            Image.fromarray(self.picture).save(self.tmp, format=self.format, **options)
        except OSError as exc:
            self.abort()
            raise write_failed(self.path, exc) from None
        commit_or_fail(self.tmp, self.path, self.abort)

    def abort(self) -> None:
        discard(self.tmp)


def check_output_kind(path: Path, info: VideoInfo) -> bool:
    """Whether `path` names an image; refused for a video source (an image holds one picture)."""
    if not is_image_name(path):
        return False
    if not info.image:
        raise OutputError(f"{path}: an image holds one picture, but {info.path} is a video; "
                          "name a video file (.mp4, .mkv, .mov)")
    return True


def open_writer(path: Path, info: VideoInfo, size: tuple[int, int] | None = None,
                audio: bool = False, **encoder) -> VideoWriter | ImageWriter:
    """The writer for an output of `info`'s source at `size` (default: the source's): a picture
    where `path` names an image (the source must then be one too), else an H.264 video tagged
    with the source's colours, with its audio if `audio`; `encoder`: VideoWriter's crf, preset
    and options."""
    width, height = size or (info.width, info.height)
    if check_output_kind(path, info):
        return ImageWriter(path, width, height)
    return VideoWriter(path, width, height, info.fps, colour=info.colour,
                       audio_from=info.path if audio and info.has_audio else None, **encoder)
