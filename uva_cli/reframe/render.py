"""The second pass of `uva roi --crop/--reframe/--preview`: decode the source again at full size
and encode each output (a crop, or the preview), one frame at a time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

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

    def output_size(self, info: VideoInfo) -> tuple[int, int]:
        return self.size

    def drawer(self, info: VideoInfo, size: tuple[int, int]) -> Callable[[np.ndarray, int], np.ndarray]:
        scaler = VideoReformatter()  # one per output: its context is reused
        return lambda planes, index: crop_resize(planes, self.windows[min(index, len(self.windows) - 1)], size,
                                                 scaler)


class Output(Protocol):
    """What the second pass writes: a `CropVideo` or a `preview.PreviewVideo`."""

    path: Path

    def output_size(self, info: VideoInfo) -> tuple[int, int]: ...

    def drawer(self, info: VideoInfo, size: tuple[int, int]) -> Callable[[np.ndarray, int], object]: ...


def render_windows(source: str | os.PathLike, info: VideoInfo, videos: Sequence[Output],
                   on_frames: Callable[[int], None] | None = None) -> int:
    """Second pass: decode the source again at full size and write each output (audio copied,
    temp name + rename), or the picture of a still image. A frame past the planned ones (should
    not happen) reuses the last window."""
    count = 0
    with all_or_nothing() as writers:
        for video in videos:
            writers.append(open_writer(video.path, info, video.output_size(info), audio=True))
        drawers = [video.drawer(info, (writer.width, writer.height)) for video, writer in zip(videos, writers)]
        for frame in prefetch(iter_frames(source, native=True, info=info, yuv=True), depth=4):
            for draw, writer in zip(drawers, writers):
                writer.write(draw(frame.native, frame.index), frame.time)
            count += 1
            if on_frames:
                on_frames(1)
    return count
