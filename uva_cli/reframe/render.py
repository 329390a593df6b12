"""The second pass of `uva roi --crop/--reframe`: decode the source again at full size and
encode each cropped output, one frame at a time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from av.video.reformatter import VideoReformatter

from ..outputs import all_or_nothing
from ..threads import prefetch
from ..video import VideoInfo, iter_frames, open_writer
from .crop import crop_resize


@dataclass(frozen=True)
class CropVideo:
    """One cropped output (a video, or a picture for a still image): where it goes, the window
    per frame (x, y, w, h ints) and its size."""

    path: Path
    windows: np.ndarray  # (N, 4) int
    size: tuple[int, int]  # output (width, height)


def render_windows(source: str | os.PathLike, info: VideoInfo, videos: list[CropVideo],
                   on_frames: Callable[[int], None] | None = None) -> int:
    """Second pass: decode the source again at full size and write each crop video (audio copied,
    temp name + rename), or the cropped picture of a still image. A frame past the planned ones
    (should not happen) reuses the last window."""
    count = 0
    with all_or_nothing() as writers:
        for video in videos:
            writers.append(open_writer(video.path, info, video.size, audio=True))
        scalers = [VideoReformatter() for _ in videos]  # one per output: its context is reused
        for frame in prefetch(iter_frames(source, native=True, info=info, yuv=True), depth=4):
            for video, writer, scaler in zip(videos, writers, scalers):
                window = video.windows[min(frame.index, len(video.windows) - 1)]
                writer.write(crop_resize(frame.native, window, (writer.width, writer.height), scaler), frame.time)
            count += 1
            if on_frames:
                on_frames(1)
    return count
