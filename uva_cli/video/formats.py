"""What uva knows about a video before and while decoding it: file extensions, colour tags,
`VideoInfo` (what probing finds) and `Frame` (what decoding yields)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange

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


def keeps_range(pix_fmt: str, colour_range: int) -> bool:
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
