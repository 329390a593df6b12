"""Video I/O with PyAV: probing, streaming decode with resizing in the converter, and an
H.264 writer that keeps timing, copies audio and only appears under its final name when done.

Frames are numbered in the order the decoder returns them (display order). Timestamps come
from the frames themselves where the container has trustworthy ones; otherwise (AVI, missing
or non-increasing pts) from the frame index and the average frame rate.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from .errors import InputError, OutputError

log = logging.getLogger("uva")

# One tick of 1/90000 s divides every common frame rate (24, 25, 30, 50, 60, 30000/1001 ...).
OUTPUT_TIME_BASE = Fraction(1, 90000)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts",
                    ".flv", ".wmv", ".3gp", ".mts", ".m2ts", ".ogv", ".y4m")


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # as displayed, after rotation
    height: int
    fps: float
    frames: int  # as the container reports it; 0 when unknown
    duration: float | None  # seconds
    rotation: int  # degrees counter-clockwise applied to decoded frames for display
    has_audio: bool
    codec: str


@dataclass
class Frame:
    index: int
    time: float  # seconds from the start
    small: np.ndarray | None  # (S, S, 3) uint8 RGB at model resolution
    native: np.ndarray | None  # (H, W, 3) uint8 RGB at display resolution


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable video ({_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's metadata without decoding it (rotation is read from the first frame)."""
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = _first_frame_rotation(container, stream)
        if rotation in (90, 270):
            width, height = height, width
        duration = float(container.duration / av.time_base) if container.duration else None
        if width <= 0 or height <= 0:
            raise InputError(f"{path}: video stream has no picture size")
        return VideoInfo(path=path, width=width, height=height, fps=fps, frames=int(stream.frames or 0),
                         duration=duration, rotation=rotation, has_audio=bool(container.streams.audio),
                         codec=stream.codec_context.name)
    finally:
        container.close()


def _first_frame_rotation(container, stream) -> int:
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation / 90.0)) * 90 % 360
    except av.error.FFmpegError:
        pass
    return 0


def _to_display(array: np.ndarray, rotation: int) -> np.ndarray:
    return np.rot90(array, k=rotation // 90) if rotation else array


def iter_frames(path: str | os.PathLike, size: int | None = None, native: bool = False,
                info: VideoInfo | None = None) -> Iterator[Frame]:
    """Stream decoded frames; `size` gives square model-resolution RGB made by the converter
    (area filter), `native` the full display-resolution RGB. Memory does not grow with length.

    Packets that fail to decode are skipped with a warning, so a damaged stream still yields
    every frame that can be decoded, numbered consecutively.
    """
    path = Path(path)
    info = info or probe(path)
    container = _open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    trust_pts = container.format.name not in ("avi",)
    step = 1.0 / info.fps
    index, last_time, bad_packets = 0, None, 0
    try:
        for packet in _packets(container, stream):
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1
                continue
            for frame in decoded:
                time = frame.time if trust_pts else None
                if time is None or (last_time is not None and time <= last_time):
                    time = 0.0 if last_time is None else last_time + step
                last_time = time
                small = big = None
                if size:
                    small = frame.reformat(width=size, height=size, format="rgb24",
                                           interpolation="AREA").to_ndarray()
                    small = _to_display(small, info.rotation)
                if native:
                    big = _to_display(frame.to_ndarray(format="rgb24"), info.rotation)
                yield Frame(index=index, time=time, small=small, native=big)
                index += 1
    finally:
        container.close()
        if bad_packets:
            log.warning("%s: skipped %d undecodable packet(s); %d frames decoded", path, bad_packets, index)


def _packets(container, stream) -> Iterator[av.Packet]:
    """Demux packets (ending with the flush packet), stopping at an unreadable tail with a warning."""
    try:
        yield from container.demux(stream)
    except av.error.FFmpegError as exc:
        log.warning("%s: stream is damaged after this point (%s); keeping the frames before it",
                    container.name, _reason(exc))


class VideoWriter:
    """H.264 writer: frames go to a temporary file beside the target that is renamed on close().

    A class because an encoder is state: the open container, the stream and the temp path.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 audio_from: Path | None = None, crf: int = 20, threads: int = 0):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix or '.mp4'}")
        # yuv420p needs even sides; an odd edge row/column is dropped rather than the file failing.
        self.width, self.height = width - width % 2, height - height % 2
        if (self.width, self.height) != (width, height):
            log.warning("%s: %dx%d has an odd side; writing %dx%d (H.264 4:2:0 needs even sides)",
                        self.path, width, height, self.width, self.height)
        self._last_pts = -1
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.container = av.open(str(self.tmp), mode="w")
        except ValueError:
            raise OutputError(f"{self.path}: unknown video file extension (use .mp4, .mkv or .mov)") from None
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(f"{self.path}: cannot write ({_reason(exc)})") from None
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = OUTPUT_TIME_BASE
        self.stream.codec_context.thread_count = threads
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self._audio = self._add_audio(audio_from) if audio_from is not None else None

    def write(self, rgb: np.ndarray, time: float) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: self.height, : self.width]),
                                           format="rgb24")
        pts = max(int(round(time / OUTPUT_TIME_BASE)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, OUTPUT_TIME_BASE
        self._last_pts = pts
        self._mux(self.stream.encode(frame))

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except (OSError, av.error.FFmpegError) as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({_reason(exc)})") from None

    def close(self) -> None:
        """Flush the encoder, copy the audio and move the file to its final name."""
        self._mux(self.stream.encode(None))
        if self._audio is not None:
            self._copy_audio(*self._audio)
        self.container.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        for container in (self.container, self._audio[0] if self._audio else None):
            try:
                if container is not None:
                    container.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes either way
                pass
        self.tmp.unlink(missing_ok=True)

    def _add_audio(self, source_path: Path):
        """Declare an output stream for the source's first audio stream (before any muxing)."""
        try:
            source = av.open(str(source_path))
        except av.error.FFmpegError:
            return None
        if not source.streams.audio:
            source.close()
            return None
        try:
            out_audio = self.container.add_stream_from_template(source.streams.audio[0])
        except (ValueError, av.error.FFmpegError):
            log.warning("%s: this audio codec cannot go into the output container; writing no audio",
                        self.path)
            source.close()
            return None
        return source, out_audio

    def _copy_audio(self, source, out_audio) -> None:
        """Remux the source's audio packets unchanged (no re-encode)."""
        try:
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is None:
                    continue
                packet.stream = out_audio
                self._mux(packet)
        except av.error.FFmpegError as exc:
            log.warning("%s: audio copy stopped early (%s)", self.path, _reason(exc))
        finally:
            source.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
