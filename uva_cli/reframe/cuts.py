"""Scene cuts: the total-variation distance between consecutive frames' joint RGB histograms
(4x4x4 bins, on the low-resolution frames the model reads) above a threshold starts a shot."""

from __future__ import annotations

import numpy as np

HIST_BINS = 4  # per channel: 4x4x4 joint RGB bins, coarse enough to ignore noise and small motion


def colour_histogram(small: np.ndarray) -> np.ndarray:
    """Joint RGB histogram (HIST_BINS^3 bins, sums to 1) of a low-resolution frame."""
    q = np.asarray(small, dtype=np.int64).reshape(-1, 3) * HIST_BINS // 256
    codes = (q[:, 0] * HIST_BINS + q[:, 1]) * HIST_BINS + q[:, 2]
    hist = np.bincount(codes, minlength=HIST_BINS ** 3).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance: 0 for identical colour content, 1 for disjoint."""
    return float(0.5 * np.abs(a - b).sum())
