"""Streaming decode: frames in display order with model-size RGB and/or the display-size
picture, timestamps repaired, damaged packets and truncated files salvaged."""

from __future__ import annotations

import bisect
import logging
import os
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import reason
from ..threads import ffmpeg_threads, frames_depth, prefetch
from .formats import MAX_GAP, Frame, VideoInfo
from .images import load_image
from .planes import to_display, yuv420_planes
from .probe import open_container, probe

log = logging.getLogger("uva")

# Decoder settings for outputs that never show the decoded pixels (maps, npz, boxes): the
# deblocking (loop) filter is skipped. It smooths block edges of the full-size picture, which the
# area filter down to 64x64 mostly averages away. Tolerance (tests/test_video.py, bunny.mp4 with
# uva-dva-64): every map's correlation with the default decode's map >= 0.97 and the mean
# absolute difference <= 0.02 of the peak (measured: 0.984 and 0.015; single cells differ up to
# 0.24 where unfiltered block edges drift through P-frames). Decoding is about 1.25x faster
# on 720p H.264.
FAST_DECODE = {"skip_loop_filter": "all"}


def _converter(size: int | None, native: bool, yuv: bool, rotation: int):
    """decoded frame -> (model-size RGB or None, display-size picture or None), as `iter_frames`
    describes; one scaler context for the whole video, not one per frame."""
    reformatter = VideoReformatter()

    def convert(frame: av.VideoFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
        small = big = None
        if size:
            small = reformatter.reformat(frame, width=size, height=size, format="rgb24",
                                         interpolation="AREA").to_ndarray()
            small = to_display(small, rotation)
        if native:
            big = (yuv420_planes(frame, rotation) if yuv
                   else to_display(frame.to_ndarray(format="rgb24"), rotation))
        return small, big

    return convert


def iter_frames(path: str | os.PathLike, size: int | None = None, native: bool = False,
                info: VideoInfo | None = None, yuv: bool = False, fast: bool = False) -> Iterator[Frame]:
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

    `fast` decodes with `FAST_DECODE` (no deblocking filter): for outputs that only show maps.
    """
    path = Path(path)
    info = info or probe(path)
    convert = _converter(size, native, yuv, info.rotation)
    if info.image:  # a still picture: one frame at time 0
        yield Frame(0, 0.0, *convert(load_image(path)))
        return
    container = open_container(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    if fast:
        stream.codec_context.options = dict(FAST_DECODE)
    threads = ffmpeg_threads()
    if threads:  # set by `--jobs` for each worker
        stream.codec_context.thread_count = threads
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
