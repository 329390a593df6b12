"""Crop windows: the reframe window of an aspect, the fixed-size subject window, a map's mass
profiles, and windows from a camera path."""

from __future__ import annotations

import numpy as np


def even(value: float) -> int:
    return max(2, 2 * int(round(value / 2)))


# ----------------------------------------------------------------------------- windows

def reframe_window(width: int, height: int, aspect: float) -> tuple[int, int]:
    """The largest window of `aspect` inside the frame: full height when it is narrower than
    the frame, else full width. Even sides, so the output needs no trimming."""
    if height * aspect <= width:
        return min(even(height * aspect), width // 2 * 2), height // 2 * 2
    return width // 2 * 2, min(even(width / aspect), height // 2 * 2)


def crop_window(box_sizes: np.ndarray, width: int, height: int, aspect: float, margin: float = 0.25,
                min_height: float = 0.25) -> tuple[int, int]:
    """A fixed window of `aspect` for following a subject: big enough for its usual size (80th
    percentile of its boxes, plus `margin` on each side), never smaller than `min_height` of the
    frame (no extreme zoom on a tiny box), never bigger than the frame. One size for the whole
    video, so the virtual camera never zooms in and out."""
    sizes = np.asarray(box_sizes, dtype=np.float64).reshape(-1, 2)
    if len(sizes):
        need_w, need_h = np.percentile(sizes, 80, axis=0) * (1 + 2 * margin)
    else:
        need_w, need_h = 0.0, height / 2
    h = max(need_h, need_w / aspect, min_height * height)
    w = h * aspect
    if w > width:
        w, h = width, width / aspect
    if h > height:
        w, h = height * aspect, height
    return min(even(w), width // 2 * 2), min(even(h), height // 2 * 2)


Profile = tuple[np.ndarray, np.ndarray]  # share of a map's saliency per column and per row


def mass_profile(smap: np.ndarray) -> Profile:
    """Share of the map's saliency in each column and in each row (each sums to 1): all a crop
    window that spans the full height (or width) needs to know about the map."""
    smap = np.asarray(smap, dtype=np.float64)
    total = smap.sum()
    if total <= 0:
        return np.full(smap.shape[1], 1 / smap.shape[1]), np.full(smap.shape[0], 1 / smap.shape[0])
    return smap.sum(axis=0) / total, smap.sum(axis=1) / total


def windows_from_path(centres: np.ndarray, window: tuple[int, int], width: int, height: int) -> np.ndarray:
    """(N, 2) centres -> (N, 4) int x, y, w, h windows clipped to the frame."""
    w, h = window
    x = np.clip(np.round(centres[:, 0] - w / 2), 0, width - w)
    y = np.clip(np.round(centres[:, 1] - h / 2), 0, height - h)
    n = len(centres)
    return np.stack([x, y, np.full(n, w), np.full(n, h)], axis=1).astype(np.int64)
