"""yuv420p pictures as one stacked (H*3/2, W) uint8 array: made from decoded frames, split
and joined (the layout PyAV's yuv420p from_ndarray/to_ndarray use)."""

from __future__ import annotations

from typing import Sequence

import av
import numpy as np
from av.video.reformatter import ColorRange

from .formats import keeps_range


def to_display(array: np.ndarray, rotation: int) -> np.ndarray:
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
        full = keeps_range(frame.format.name, frame.color_range)
        frame = frame.reformat(format="yuv420p", src_color_range=frame.color_range,
                               dst_color_range=ColorRange.JPEG if full else ColorRange.MPEG)
    h, w = frame.height - frame.height % 2, frame.width - frame.width % 2
    return stack_planes([to_display(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw], rotation)
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
