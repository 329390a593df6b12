"""Turning maps into pictures: upsampling to the source size, colour maps and alpha blending."""

from __future__ import annotations

import numpy as np
from PIL import Image


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


def upsample(smap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float map to (height, width)."""
    if smap.shape == (height, width):
        return smap.astype(np.float32, copy=False)
    image = Image.fromarray(np.ascontiguousarray(smap, dtype=np.float32), mode="F")
    return np.asarray(image.resize((width, height), Image.BILINEAR))


def to_uint8(smap: np.ndarray) -> np.ndarray:
    return (np.clip(smap, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def heatmap(smap8: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """(H, W) uint8 map -> (H, W, 3) colour image."""
    return lut[smap8]


def overlay(frame: np.ndarray, smap8: np.ndarray, lut: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend the coloured map over the frame, each pixel weighted by alpha x its saliency, so
    unattended regions keep the original picture."""
    weight = smap8.astype(np.float32) * (alpha / 255.0)
    out = frame.astype(np.float32)
    out += (lut[smap8].astype(np.float32) - out) * weight[..., None]
    return out.astype(np.uint8)
