"""Turning maps into pictures: upsampling to the source size, colour maps and alpha blending."""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from .video import FULL_RANGE, Colour


def _turbo(t: np.ndarray) -> np.ndarray:
    """Polynomial fit of the Turbo colour map (Google, 2019): perceptually smooth rainbow."""
    r = 0.13572138 + t * (4.61539260 + t * (-42.66032258 + t * (132.13108234 + t * (-152.94239396 + t * 59.28637943))))
    g = 0.09140261 + t * (2.19418839 + t * (4.84296658 + t * (-14.18503333 + t * (4.27729857 + t * 2.82956604))))
    b = 0.10667330 + t * (12.64194608 + t * (-60.58204836 + t * (110.36276771 + t * (-89.90310912 + t * 27.34824973))))
    return np.stack([r, g, b], -1)


def _jet(t: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(1.5 - abs(4 * t - c), 0, 1) for c in (3, 2, 1)], -1)


def _hot(t: np.ndarray) -> np.ndarray:
    return np.stack([np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], -1)


def _gray(t: np.ndarray) -> np.ndarray:
    return np.stack([t, t, t], -1)


_COLORMAPS = {"turbo": _turbo, "jet": _jet, "hot": _hot, "gray": _gray}
COLORMAPS = tuple(_COLORMAPS)


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table for a colour map name."""
    t = np.linspace(0.0, 1.0, 256)
    return (np.clip(_COLORMAPS[name](t), 0, 1) * 255 + 0.5).astype(np.uint8)


def to_uint8(smap: np.ndarray) -> np.ndarray:
    return (np.clip(smap, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def upsample8(smap: np.ndarray, height: int, width: int) -> np.ndarray:
    """A [0, 1] float map -> (height, width) uint8, bilinear, by FFmpeg's scaler (0.14 ms for
    720p where Pillow's resize takes 3.3 ms: this runs once per frame of PNG map output)."""
    small = to_uint8(smap)
    if small.shape == (height, width):
        return small
    frame = av.VideoFrame.from_ndarray(small, format="gray")
    return frame.reformat(width=width, height=height, interpolation="BILINEAR").to_ndarray()


# Kr, Kb of the YUV matrices by FFmpeg's AVColorSpace number: BT.709, BT.470BG and SMPTE 170M
# (BT.601), SMPTE 240M, BT.2020. Others, unspecified included, are taken as BT.601, which is what
# FFmpeg's converter assumes for them.
KR_KB = {1: (0.2126, 0.0722), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
         9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}


def yuv_lut(lut: np.ndarray, matrix: int = 6, full_range: bool = False) -> np.ndarray:
    """A colour map's RGB rows as Y, Cb, Cr of a video's matrix and range (default BT.601 video
    range, what FFmpeg's scaler turns RGB into when encoding), so colours blended in YUV show
    as the colour map's once a player decodes the video with its tags."""
    kr, kb = KR_KB.get(matrix, KR_KB[6])
    rgb = lut.astype(np.float64) / 255.0
    y = rgb @ [kr, 1 - kr - kb, kb]
    cb, cr = (rgb[:, 2] - y) / (2 - 2 * kb), (rgb[:, 0] - y) / (2 - 2 * kr)
    (ys, cs), offset = ((255.0, 255.0), 0.0) if full_range else ((219.0, 224.0), 16.0)
    yuv = np.stack([offset + ys * y, 128 + cs * cb, 128 + cs * cr], axis=1)
    return np.clip(np.rint(yuv), 0, 255).astype(np.uint8)


def _palette(smap8: np.ndarray, lut: np.ndarray) -> Image.Image:
    image = Image.fromarray(smap8)
    image.putpalette(lut.tobytes())
    return image.convert("RGB")


def colourise(smap8: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """An (H, W) uint8 map as an (H, W, 3) RGB picture in the colour map."""
    return np.asarray(_palette(smap8, lut))


def overlay(frame: np.ndarray, smap8: np.ndarray, lut: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend the coloured map over an (H, W, 3) RGB image, each pixel weighted by alpha x its
    saliency, so unattended regions keep the original picture (`Painter` does this for video;
    this is the one for still pictures, at their exact size)."""
    mask = Image.fromarray(smap8).point([int(v * alpha + 0.5) for v in range(256)])
    picture = Image.fromarray(frame)  # copied on write: the frame itself is left as it was
    picture.paste(_palette(smap8, lut), (0, 0), mask)  # in place, about half the cost of composite
    return np.asarray(picture)


class Painter:
    """Heatmap and overlay pictures for one video, made as yuv420p planes (an (H*3/2, W) array,
    as `video.yuv420_planes` gives frames and `VideoWriter` encodes them without conversion).

    The colour map and the blend weights are looked up on the model-size map and scaled to
    the picture by FFmpeg's scaler in one call each, straight into the 4:2:0 layout; the blend
    is then one weighted sum over the three planes. Per 720p frame that is about 1 ms, where
    the RGB blend in Pillow with its two colour conversions took 15. A class because it keeps
    the scaler's context, which costs more to set up than to run.
    """

    def __init__(self, width: int, height: int, colormap: str = "turbo", alpha: float = 0.6,
                 colour: Colour | None = None):
        self.width, self.height = width, height
        matrix, full = (colour.matrix, colour.range == FULL_RANGE) if colour is not None else (6, False)
        self.lut = yuv_lut(colormap_lut(colormap), matrix, full)
        # weights out of 255, alpha x saliency; 255 means the colour alone
        self.weights = np.rint(np.arange(256) * alpha).astype(np.uint8)
        self.scaler = VideoReformatter()

    def _planes(self, small: np.ndarray) -> np.ndarray:
        """(3, S, S) uint8 -> (H*3/2, W) yuv420p planes at the picture size, bilinear."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(small), format="yuv444p")
        return self.scaler.reformat(frame, width=self.width, height=self.height, format="yuv420p",
                                    interpolation="BILINEAR").to_ndarray()

    def heatmap(self, smap: np.ndarray) -> np.ndarray:
        """The coloured map alone."""
        return self._planes(self.lut[to_uint8(smap)].transpose(2, 0, 1))

    def overlay(self, planes: np.ndarray, smap: np.ndarray) -> np.ndarray:
        """The coloured map blended over a frame's planes: out = frame + w (colour - frame)."""
        small = to_uint8(smap)
        colour = self._planes(self.lut[small].transpose(2, 0, 1)).astype(np.uint16)
        w = self._planes(np.broadcast_to(self.weights[small], (3, *small.shape))).astype(np.uint16)
        w += w >> 7  # out of 256: 255 -> 256, so full weight gives the colour exactly
        # in place, in uint16: colour x w + frame x (256 - w) is at most 255 x 256, no overflow
        colour *= w
        w = 256 - w
        w *= planes
        colour += w
        colour += 128
        colour >>= 8
        return colour.astype(np.uint8)
