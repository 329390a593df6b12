"""Video I/O with PyAV: probing, streaming decode with resizing in the converter, and an
H.264 writer that keeps timing, copies audio and only appears under its final name when done.

Frames are numbered in the order the decoder returns them (display order). Timestamps come
from the frames themselves where the container has trustworthy ones; otherwise (AVI, missing
or non-increasing pts) from the frame index and the average frame rate.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import av
import numpy as np
from av.video.reformatter import ColorRange, VideoReformatter
from PIL import Image, UnidentifiedImageError

from .errors import InputError, OutputError, reason, write_failed
from .threads import frames_depth, prefetch

log = logging.getLogger("uva")

# One tick of 1/90000 s divides every common frame rate (24, 25, 30, 50, 60, 30000/1001 ...).
OUTPUT_TIME_BASE = Fraction(1, 90000)
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts",
                    ".flv", ".wmv", ".3gp", ".mts", ".m2ts", ".ogv", ".y4m")
# Still pictures uva reads (with Pillow) as one-frame videos, and writes for one-frame inputs.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
# Sanity bounds for what a (possibly damaged) header claims: beyond them the numbers are noise.
MAX_PIXELS = 16384 * 16384
FPS_RANGE = (0.1, 1000.0)
MAX_GAP = 3600.0  # seconds between two frames before a timestamp is treated as broken


@dataclass(frozen=True)
class Colour:
    """Colour tags as FFmpeg numbers them (AVColorPrimaries, AVColorTransferCharacteristic,
    AVColorSpace, AVColorRange); 2 (and range 0) is "unspecified"."""

    primaries: int = 2
    trc: int = 2
    matrix: int = 2
    range: int = 0


# What FFmpeg's converter writes when it turns RGB into YUV: BT.601 (SMPTE 170M) video range.
BT601, VIDEO_RANGE, FULL_RANGE = 6, int(ColorRange.MPEG), int(ColorRange.JPEG)


def _keeps_range(pix_fmt: str, colour_range: int) -> bool:
    """A full-range YUV source stays full range in uva's yuv420p pictures (its pixels are copied
    or only resampled); everything else is video (limited) range."""
    fmt = av.VideoFormat(pix_fmt)
    full = colour_range == FULL_RANGE or pix_fmt.startswith("yuvj")  # yuvj*: FFmpeg's full-range formats
    return full and not fmt.is_rgb and len(fmt.components) >= 3


def output_colour(pix_fmt: str, primaries: int, trc: int, matrix: int, colour_range: int) -> Colour:
    """The tags of the yuv420p pictures `yuv420_planes` makes from a source of this kind: a YUV
    source keeps all four (its Y, Cb and Cr are copied, not converted); RGB and grey sources
    keep primaries and transfer and are converted to BT.601 video range."""
    fmt = av.VideoFormat(pix_fmt)
    if fmt.is_rgb or len(fmt.components) < 3:
        matrix, colour_range = BT601, VIDEO_RANGE
    return Colour(int(primaries), int(trc), int(matrix), int(colour_range))


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
    colour: Colour = Colour()  # of the yuv420p pictures uva writes from it (see `output_colour`)
    image: bool = False  # a still picture, read as a one-frame video


@dataclass
class Frame:
    index: int
    time: float  # seconds from the start
    small: np.ndarray | None  # (S, S, 3) uint8 RGB at model resolution
    # at display resolution: (H, W, 3) uint8 RGB, or with iter_frames(yuv=True) the yuv420p
    # planes Y, Cb, Cr stacked as one (H*3/2, W) uint8 array, H and W cropped to even
    native: np.ndarray | None


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")


def _open(path: Path) -> av.container.InputContainer:
    """Open for reading, or say in words why not: missing, empty, an image format uva does not
    read, audio only, cut short."""
    _check_file(path)
    try:
        container = _open_quick(path) or av.open(str(path), metadata_errors="replace")  # a bad tag must not hide the video
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: {_unreadable(path, exc)}") from None
    fmt = container.format.name
    if fmt in ("image2", "image2pipe") or fmt.endswith("_pipe"):
        kind = container.streams.video[0].codec_context.name if container.streams.video else fmt
        container.close()
        raise InputError(f"{path}: is an image ({kind}) in a format uva does not read; use PNG, JPEG or WebP")
    if not container.streams.video:
        audio = bool(container.streams.audio)
        container.close()
        raise InputError(f"{path}: has no video stream" + (" (audio only)" if audio else ""))
    if container.streams.video[0].codec_context is None:
        container.close()
        raise InputError(f"{path}: video codec unknown or not supported by this FFmpeg build")
    return container


# An MP4/MOV index (moov) holds every codec parameter, so FFmpeg need not decode packets to find
# them: opening without that probing takes 1.7 ms instead of 13 ms on the 720p example, paid
# twice per video (probe, then decode).
QUICK_OPEN = {"probesize": "32", "analyzeduration": "0"}


def _open_quick(path: Path) -> av.container.InputContainer | None:
    """The container opened without stream probing where its index makes that safe (an MP4/MOV
    with a moov box whose video streams come out complete), else None."""
    boxes = _mp4_boxes(path)
    if boxes is None or b"moov" not in boxes:
        return None
    try:
        container = av.open(str(path), metadata_errors="replace", container_options=QUICK_OPEN)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None
    videos = container.streams.video
    if videos and all(s.codec_context is not None and s.codec_context.width > 0 and s.average_rate
                      for s in videos):
        return container
    container.close()
    return None


def _unreadable(path: Path, exc: Exception) -> str:
    """FFmpeg only says "Invalid data"; name the commonest cause, an MP4 cut before its index."""
    if _mp4_boxes(path) is not None and b"moov" not in _mp4_boxes(path):
        return ("MP4 without its index (no moov atom): the file was cut short or its recording never "
                "finished, so no frame can be located")
    return f"not a readable video ({reason(exc)})"


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _open_image(path: Path) -> Image.Image | None:
    """The picture opened by Pillow (header read, pixels not yet), or None when the file is none
    of IMAGE_FORMATS, whatever its name (then FFmpeg tries it as a video). A file named as an
    image that Pillow cannot identify, and a picture too big to decode safely (Pillow's guard
    against decompression bombs, about 179 megapixels), are refused."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the error below is ours
            return Image.open(path, formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        if is_image_name(path):
            raise InputError(f"{path}: not a readable image (unknown format or damaged header)") from None
        return None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: picture too large to decode safely ({reason(exc)})") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: not a readable image ({reason(exc)})") from None


EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the turn that shows the picture upright (as ImageOps.exif_transpose does);
# 5-8 turn it a quarter, so width and height swap
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation the header holds, read without decoding the pixels (a PNG's EXIF
    after its pixels is not read: Pillow would decode them to find it)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    return int(image.getexif().get(EXIF_ORIENTATION, 1))


def _image_info(path: Path, image: Image.Image) -> VideoInfo:
    """A still picture as a one-frame video of one second, sRGB (BT.709 primaries, sRGB
    transfer), shown upright as its EXIF orientation says."""
    with image:
        width, height = image.size
        try:
            if _orientation(image) in (5, 6, 7, 8):
                width, height = height, width
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{path}: not a readable image ({reason(exc)})") from None
        return VideoInfo(path=path, width=width, height=height, fps=1.0, frames=1, duration=1.0, rotation=0,
                         has_audio=False, codec=(image.format or "image").lower(),
                         colour=output_colour("rgb24", 1, 13, 0, 0), image=True)


def _load_image(path: Path) -> av.VideoFrame:
    """The picture's pixels, upright and RGB, as a frame for the same converter videos use."""
    image = _open_image(path)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    try:
        with image:
            turn = UPRIGHT.get(_orientation(image))
            picture = image.convert("RGB")
            picture = picture.transpose(turn) if turn is not None else picture
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable image ({reason(exc)})") from None
    return av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")


def _boxes(fh, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of the ISO-BMFF boxes between two file offsets."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return
        length, kind, payload = int.from_bytes(head[:4], "big"), head[4:8], pos + 8
        if length == 1 and len(head) == 16:
            length, payload = int.from_bytes(head[8:16], "big"), pos + 16
        elif length == 0:
            length = end - pos
        if length < payload - pos:
            return
        yield kind, payload, pos + length
        pos += length


def _mp4_boxes(path: Path) -> dict[bytes, tuple[int, int]] | None:
    """Top-level boxes of an ISO-BMFF (MP4/MOV) file, type -> (payload start, end), or None if
    it does not start like one."""
    with open(path, "rb") as fh:
        boxes: dict[bytes, tuple[int, int]] = {}
        for kind, payload, end in _boxes(fh, 0, path.stat().st_size):
            if not boxes and kind != b"ftyp":
                return None
            boxes.setdefault(kind, (payload, end))
    return boxes or None


def _mp4_rotation(path: Path) -> int | None:
    """The first video track's display rotation from its tkhd matrix, as FFmpeg derives it for
    decoded frames, so probing an MP4 needs no decoding (which cost ~12 ms a file); None where
    there is no such track to read."""
    moov = (_mp4_boxes(path) or {}).get(b"moov")
    if moov is None:
        return None
    with open(path, "rb") as fh:
        for kind, payload, end in _boxes(fh, *moov):
            if kind != b"trak":
                continue
            children = {k: (p, e) for k, p, e in _boxes(fh, payload, end)}
            handler = next((p for k, p, _ in _boxes(fh, *children.get(b"mdia", (0, 0))) if k == b"hdlr"), None)
            if handler is None or b"tkhd" not in children:
                continue
            fh.seek(handler + 8)  # version and flags, pre_defined, then the handler type
            if fh.read(4) != b"vide":
                continue
            fh.seek(children[b"tkhd"][0])
            version = fh.read(1)
            fh.seek(children[b"tkhd"][0] + (52 if version == b"\x01" else 40))  # to the matrix
            matrix = fh.read(8)
            if len(matrix) < 8:
                return None
            a, b = (int.from_bytes(matrix[i:i + 4], "big", signed=True) for i in (0, 4))
            return round(math.degrees(math.atan2(-b, a)) / 90) * 90 % 360
    return None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's metadata without decoding it (except rotation outside MP4 and MOV: it is
    read from the first frame)."""
    path = Path(path)
    _check_file(path)
    image = _open_image(path)
    if image is not None:
        return _image_info(path, image)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 25.0
        if not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
            log.warning("%s: implausible frame rate %.4g in the header; assuming 25 fps", path, fps)
            fps = 25.0
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InputError(f"{path}: video stream has no picture size")
        if width * height > MAX_PIXELS:
            raise InputError(f"{path}: picture size {width}x{height} is larger than uva handles (16384x16384)")
        rotation = _mp4_rotation(path)
        if rotation is None:
            rotation = _first_frame_rotation(container, stream)
        if rotation in (90, 270):
            width, height = height, width
        duration = float(container.duration / av.time_base) if container.duration else None
        cc = stream.codec_context
        colour = output_colour(cc.pix_fmt or "yuv420p", cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range)
        return VideoInfo(path=path, width=width, height=height, fps=fps, frames=max(0, int(stream.frames or 0)),
                         duration=duration, rotation=rotation, has_audio=bool(container.streams.audio),
                         codec=cc.name, colour=colour)
    finally:
        container.close()


def _first_frame_rotation(container, stream) -> int:
    try:
        for frame in container.decode(stream):
            return int(round(frame.rotation / 90.0)) * 90 % 360
    except (av.error.FFmpegError, ValueError):
        pass
    return 0


def _to_display(array: np.ndarray, rotation: int) -> np.ndarray:
    return np.rot90(array, k=rotation // 90) if rotation else array


def yuv420_planes(frame: av.VideoFrame, rotation: int = 0) -> np.ndarray:
    """The picture as yuv420p planes stacked in one (H*3/2, W) array, turned for display.

    Most videos decode to yuv420p already, so this is a copy where RGB would cost a colour
    conversion here and another one in the encoder (5.7 ms per 720p frame). Other formats are
    converted to 8-bit 4:2:0 keeping a YUV source's matrix and range (full-range stays full);
    RGB and grey become BT.601 video range (`output_colour` gives the tags of the result).
    Odd sides lose their last row or column, as the H.264 writer would drop them anyway.
    """
    if frame.format.name != "yuv420p":
        full = _keeps_range(frame.format.name, frame.color_range)
        frame = frame.reformat(format="yuv420p", src_color_range=frame.color_range,
                               dst_color_range=ColorRange.JPEG if full else ColorRange.MPEG)
    h, w = frame.height - frame.height % 2, frame.width - frame.width % 2
    return stack_planes([_to_display(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw], rotation)
                         for plane, (ph, pw) in zip(frame.planes, ((h, w), (h // 2, w // 2), (h // 2, w // 2)))])


def stack_planes(planes: Sequence[np.ndarray]) -> np.ndarray:
    """Y (H x W), Cb and Cr (H/2 x W/2 each) -> the one (H*3/2, W) array uva passes pictures in,
    the layout PyAV's yuv420p from_ndarray/to_ndarray use."""
    return np.concatenate([p.ravel() for p in planes]).reshape(-1, planes[0].shape[1])


def split_planes(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Y, Cb and Cr planes (views) of a stacked (H*3/2, W) yuv420p picture."""
    h = stacked.shape[0] * 2 // 3
    cb, cr = stacked[h:].reshape(2, h // 2, -1)
    return stacked[:h], cb, cr


def _converter(size: int | None, native: bool, yuv: bool, rotation: int):
    """decoded frame -> (model-size RGB or None, display-size picture or None), as `iter_frames`
    describes; one scaler context for the whole video, not one per frame."""
    reformatter = VideoReformatter()

    def convert(frame: av.VideoFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
        small = big = None
        if size:
            small = reformatter.reformat(frame, width=size, height=size, format="rgb24",
                                         interpolation="AREA").to_ndarray()
            small = _to_display(small, rotation)
        if native:
            big = (yuv420_planes(frame, rotation) if yuv
                   else _to_display(frame.to_ndarray(format="rgb24"), rotation))
        return small, big

    return convert


def iter_frames(path: str | os.PathLike, size: int | None = None, native: bool = False,
                info: VideoInfo | None = None, yuv: bool = False) -> Iterator[Frame]:
    """Stream decoded frames; `size` gives square model-resolution RGB made by the converter
    (area filter), `native` the full display-resolution picture: RGB, or with `yuv` the
    decoder's own yuv420p planes, which `VideoWriter` encodes without any colour conversion
    (see `yuv420_planes`). Memory does not grow with length.

    Decoding runs in a thread of its own and the conversions in the caller's, so on two cores
    the decoder never waits for the resize (PyAV releases the GIL in both): 1.8x the frame
    rate of doing both in one thread on a 720p H.264 clip.

    A damaged stream still yields every frame that can be decoded. The frame of a packet that
    fails to decode is replaced by a repeat of the previous picture at its own timestamp, so
    frame numbers and timing stay those of the source; a file cut short ends early. Both are
    reported as warnings with counts.
    """
    path = Path(path)
    info = info or probe(path)
    convert = _converter(size, native, yuv, info.rotation)
    if info.image:  # a still picture: one frame at time 0
        yield Frame(0, 0.0, *convert(_load_image(path)))
        return
    container = _open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    trust_pts = container.format.name not in ("avi",)
    step = 1.0 / info.fps

    # The video stream's own length where the container gives one; the file's if it has no audio.
    stream_end = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                  else None if info.has_audio else info.duration)
    index, last_time, last = 0, None, None
    lost: list[int] = []  # pts of decoded frames that failed to convert: repeats take their place
    bad_packets, failed, repeated, finished = 0, 0, 0, False
    decoded = prefetch(_decoded(container, stream, trust_pts), depth=min(8, frames_depth(info.width, info.height)))
    try:
        for frame, gaps, bad in decoded:
            bad_packets = bad + failed
            if frame is None:  # the end: what is still pending never came out
                pictures, gaps = None, sorted(lost + gaps)
                time = min(info.duration + step if info.duration else float("inf"), (last_time or 0) + MAX_GAP)
            else:
                try:
                    pictures = convert(frame)
                except (av.error.FFmpegError, ValueError):
                    if trust_pts and frame.pts is not None:
                        lost.append(frame.pts)
                    failed += 1
                    continue
                time = _frame_time(frame.time if trust_pts else None, last_time, step)
                if lost:
                    gaps, lost = sorted(lost + gaps), []
            if bad_packets and last is not None:
                for gap in (float(pts * stream.time_base) for pts in gaps):
                    if last_time < gap < time:
                        yield Frame(index, gap, *last)
                        index, last_time, repeated = index + 1, gap, repeated + 1
            if pictures is None:
                break
            last, last_time = pictures, time
            yield Frame(index, time, *pictures)
            index += 1
        finished = True
    finally:
        decoded.close()  # stops and joins the decoding thread before its container goes
        container.close()
    if bad_packets:
        log.warning("%s: %d damaged packet(s) skipped; %d frame(s) repeat the picture before them; "
                    "%d frames in all", path, bad_packets, repeated, index)
    if finished and index:
        _warn_if_cut_short(path, info, stream_end, index, last_time + step)


def _decoded(container, stream, trust_pts: bool) -> Iterator[tuple[av.VideoFrame | None, list[int], int]]:
    """(frame, gaps, damaged packets so far) in display order, then (None, pts still pending,
    count). `gaps` are the pts of demuxed packets whose frames never came out before this one:
    a decoder running frame threads reports an error a few packets late, so lost frames are
    found by their pts never coming out, not by which packet raised."""
    pending: list[int] = []  # pts of demuxed packets whose frame has not come out yet, sorted
    bad = 0
    for packet in _packets(container, stream):
        if trust_pts and packet.pts is not None and packet.size:
            bisect.insort(pending, packet.pts)
        try:
            frames = packet.decode()
        except (av.error.FFmpegError, ValueError):
            bad += 1
            continue
        for frame in frames:
            yield frame, _take_until(pending, frame.pts if trust_pts else None), bad
    yield None, pending, bad


def _warn_if_cut_short(path: Path, info: VideoInfo, stream_end: float | None, frames: int, end: float) -> None:
    """A truncated file demuxes without an error; compare with what its header promised.
    (Two frames of slack: edit lists legitimately hide a frame or two.)"""
    if info.frames > frames + 2:
        log.warning("%s: video ends early (file truncated?): decoded %d of the %d frames the container lists",
                    path, frames, info.frames)
    elif not info.frames and stream_end and end + 2 / info.fps < stream_end:
        log.warning("%s: video ends early (file truncated?): decoded %d frames, up to %.2f s of the %.2f s the "
                    "container declares", path, frames, end, stream_end)


def _take_until(pending: list[int], pts: int | None) -> list[int]:
    """Remove and return the pending pts before `pts` (their frames were lost); drop `pts` itself."""
    if pts is None:
        return []
    cut = bisect.bisect_right(pending, pts)
    taken = pending[:cut]
    del pending[:cut]
    return [p for p in taken if p != pts]


def _frame_time(time: float | None, last_time: float | None, step: float) -> float:
    """The frame's own timestamp when it is usable (present, increasing, no absurd jump),
    else one nominal frame after the previous frame."""
    if last_time is None:
        return time if time is not None and abs(time) < 1e7 else 0.0
    if time is None or not last_time < time <= last_time + MAX_GAP:
        return last_time + step
    return time


def _packets(container, stream) -> Iterator[av.Packet]:
    """Demux packets (ending with the flush packet), stopping at an unreadable tail with a warning."""
    try:
        yield from container.demux(stream)
    except (av.error.FFmpegError, ValueError) as exc:
        log.warning("%s: stream is damaged after this point (%s); keeping the frames before it",
                    container.name, reason(exc))


def make_parent(path: Path) -> None:
    """Create the folder `path` goes in, saying which part is in the way when one is a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), path.parent)
        raise OutputError(f"{path}: cannot write ({blocker} is a file, not a folder)") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({reason(exc)})") from None


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

    A class because an encoder is state: the open container, the stream and the temp path.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 audio_from: Path | None = None, crf: int = 20, threads: int = 0, colour: Colour | None = None):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.part{self.path.suffix or '.mp4'}")
        # yuv420p needs even sides; an odd edge row/column is dropped rather than the file failing.
        self.width, self.height = width - width % 2, height - height % 2
        if (self.width, self.height) != (width, height):
            log.warning("%s: %dx%d has an odd side; writing %dx%d (H.264 4:2:0 needs even sides)",
                        self.path, width, height, self.width, self.height)
        self._last_pts, self._audio = -1, None
        make_parent(self.path)
        options = {"movflags": "+faststart"} if self.path.suffix.lower() in FASTSTART else {}
        try:
            self.container = av.open(str(self.tmp), mode="w", options=options)
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
            self.stream.options = {"crf": str(crf), "preset": "veryfast"}
            self._audio = _AudioCopy.open(audio_from, self.container, self.path) if audio_from is not None else None
        except BaseException:
            self.abort()
            raise

    def write(self, picture: np.ndarray, time: float) -> None:
        """Encode one (H, W, 3) RGB picture, or yuv420p planes as `yuv420_planes` gives them."""
        if picture.ndim == 2:
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
            os.replace(self.tmp, self.path)
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
        self.tmp.unlink(missing_ok=True)


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
        self.tmp = self.path.with_name(f".{self.path.name}.part")
        self.width, self.height = width, height
        self.format = Image.registered_extensions().get(self.path.suffix.lower())
        if self.format is None or self.format not in IMAGE_FORMATS:
            raise OutputError(f"{self.path}: unknown image file extension (use .png, .jpg or .webp)")
        self.picture: np.ndarray | None = None
        make_parent(self.path)

    def write(self, picture: np.ndarray, time: float) -> None:
        """Keep the (H, W, 3) RGB picture, or yuv420p planes as `yuv420_planes` gives them."""
        if picture.ndim == 2:
            picture = av.VideoFrame.from_ndarray(picture, format="yuv420p").to_ndarray(format="rgb24")
        self.picture = picture

    def close(self) -> None:
        if self.picture is None:
            raise OutputError(f"{self.path}: no picture to write")
        options = {"quality": 92} if self.format in ("JPEG", "WEBP") else {}
        try:
            Image.fromarray(self.picture).save(self.tmp, format=self.format, **options)
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise write_failed(self.path, exc) from None

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


def check_output_kind(path: Path, info: VideoInfo) -> bool:
    """Whether `path` names an image; refused for a video source (an image holds one picture)."""
    if not is_image_name(path):
        return False
    if not info.image:
        raise OutputError(f"{path}: an image holds one picture, but {info.path} is a video; "
                          "name a video file (.mp4, .mkv, .mov)")
    return True


def open_writer(path: Path, info: VideoInfo, size: tuple[int, int] | None = None,
                audio: bool = False) -> VideoWriter | ImageWriter:
    """The writer for an output of `info`'s source at `size` (default: the source's): a picture
    where `path` names an image (the source must then be one too), else an H.264 video tagged
    with the source's colours, with its audio if `audio`."""
    width, height = size or (info.width, info.height)
    if check_output_kind(path, info):
        return ImageWriter(path, width, height)
    return VideoWriter(path, width, height, info.fps, colour=info.colour,
                       audio_from=info.path if audio and info.has_audio else None)
