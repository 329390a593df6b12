"""Crop windows: the reframe window of an aspect, the fixed-size subject window, the window
position holding the most saliency (mixed with a centre prior), and windows from a camera path."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..data.truth import centre_profile
from .camera import CameraConfig, shot_spans, typical_step


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


def best_span(profile: np.ndarray, length: float, span: float, content: np.ndarray | None = None) -> float:
    """Centre (in 0..length) of the span-long interval holding the most of `profile`'s mass,
    then re-centred on the mass of `content` (default: `profile`) inside it, so an object in a
    wide plateau of equally good positions sits in the middle of the window, not at its edge.
    When the window holds content's peak but within a quarter span of an edge, it moves until
    the peak is a quarter span inside: a subject the window shows is not cut in half."""
    if span >= length:
        return length / 2
    cells = len(profile)
    edges = np.linspace(0.0, length, cells + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(profile, dtype=np.float64)])
    starts = np.linspace(0.0, length - span, max(2, min(512, int(length - span) + 1)))
    mass = np.interp(starts + span, edges, cumulative) - np.interp(starts, edges, cumulative)
    lo = starts[int(np.argmax(mass))]
    # mass of each cell that lies inside [lo, lo + span]
    inside = np.clip(np.minimum(edges[1:], lo + span) - np.maximum(edges[:-1], lo), 0, None)
    content = profile if content is None else content
    weights = content * inside / (length / cells)
    if weights.sum() <= 0:
        return lo + span / 2
    middles = (edges[:-1] + edges[1:]) / 2
    centre = float((weights * middles).sum() / weights.sum())
    peak, margin = float(middles[int(np.argmax(content))]), span / 4
    if abs(peak - centre) <= span / 2:
        centre = float(np.clip(centre, peak - span / 2 + margin, peak + span / 2 - margin))
    return float(np.clip(centre, span / 2, length - span / 2))


Profile = tuple[np.ndarray, np.ndarray]  # share of a map's saliency per column and per row


def mass_profile(smap: np.ndarray) -> Profile:
    """Share of the map's saliency in each column and in each row (each sums to 1): all a crop
    window that spans the full height (or width) needs to know about the map."""
    smap = np.asarray(smap, dtype=np.float64)
    total = smap.sum()
    if total <= 0:
        return np.full(smap.shape[1], 1 / smap.shape[1]), np.full(smap.shape[0], 1 / smap.shape[0])
    return smap.sum(axis=0) / total, smap.sum(axis=1) / total


def window_focus(profile: Profile, width: int, height: int, window: tuple[int, int]) -> tuple[float, float]:
    """Centre (source pixels) of the `window`-sized crop holding the most saliency; a full-height
    window slides along x only, a full-width one along y only."""
    cols, rows = profile
    return best_span(cols, width, window[0]), best_span(rows, height, window[1])


def attention_targets(profiles: Sequence[Profile], times: np.ndarray, shots: np.ndarray, width: int,
                      height: int, window: tuple[int, int], cfg: CameraConfig = CameraConfig()) -> np.ndarray:
    """(N, 2) per-frame centres of the window holding the most saliency once each frame's profile
    is mixed with the centre prior and averaged over `cfg.attention_window` seconds in its shot."""
    step = typical_step(np.asarray(times, dtype=np.float64))
    size = max(1, int(round(cfg.attention_window / step)) | 1)
    targets = np.empty((len(profiles), 2))
    for axis in range(2):
        content = np.stack([p[axis] for p in profiles]).astype(np.float64)
        if size > 1:
            for start, stop in shot_spans(np.asarray(shots)):
                content[start:stop] = uniform_filter1d(content[start:stop], size, axis=0, mode="nearest")
        # the prior (the centre bias `uva eval` scores against) only decides which window wins;
        # the winner is centred on the map's own mass
        mixed = (1 - cfg.centre_mix) * content + cfg.centre_mix * centre_profile(content.shape[1])
        length, span = (width, window[0]) if axis == 0 else (height, window[1])
        targets[:, axis] = [best_span(m, length, span, c) for m, c in zip(mixed, content)]
    return targets


def windows_from_path(centres: np.ndarray, window: tuple[int, int], width: int, height: int) -> np.ndarray:
    """(N, 2) centres -> (N, 4) int x, y, w, h windows clipped to the frame."""
    w, h = window
    x = np.clip(np.round(centres[:, 0] - w / 2), 0, width - w)
    y = np.clip(np.round(centres[:, 1] - h / 2), 0, height - h)
    n = len(centres)
    return np.stack([x, y, np.full(n, w), np.full(n, h)], axis=1).astype(np.int64)
