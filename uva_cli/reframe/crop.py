"""YUV cropping: a window cut out of a frame's yuv420p planes and scaled by FFmpeg's scaler,
without an RGB round trip."""

from __future__ import annotations

from typing import Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..video import split_planes, stack_planes


def crop_resize(planes: np.ndarray, window: Sequence[int], size: tuple[int, int],
                scaler: VideoReformatter) -> np.ndarray:
    """Cut window (x, y, w, h) out of a frame's yuv420p planes (`video.yuv420_planes`) and scale
    it to size (w, h, both even) by FFmpeg's scaler, as planes again: crops are encoded without
    an RGB round trip. In 4:2:0 a chroma sample covers 2x2 pixels, so the cut starts on even
    coordinates (at most a pixel left of and above the window) and has even sides."""
    x, y, w, h = (int(v) for v in window)
    x, y, w, h = x - x % 2, y - y % 2, max(2, w - w % 2), max(2, h - h % 2)
    luma, cb, cr = split_planes(planes)
    cut = stack_planes([luma[y:y + h, x:x + w]] + [c[y // 2:(y + h) // 2, x // 2:(x + w) // 2] for c in (cb, cr)])
    if (w, h) == tuple(size):
        return cut
    return scaler.reformat(av.VideoFrame.from_ndarray(cut, format="yuv420p"), width=size[0], height=size[1],
                           format="yuv420p", interpolation="BILINEAR").to_ndarray()
