"""Saliency metrics following the MIT saliency benchmark conventions (as used by DHF1K).

All metrics take 2-D maps. The prediction is bilinearly resized to the ground-truth
shape first, so models may predict at a lower resolution than the annotations.
Fixation maps are binary (any value > 0 counts as a fixation); density maps are
non-negative. Maps with no usable information (constant maps) score 0 for NSS/CC
instead of NaN so that training-time validation averages stay finite.
"""
from __future__ import annotations

import inspect
from typing import Callable

import numpy as np
from scipy import ndimage

EPS = 2.2204e-16  # MATLAB's eps, kept so KLD/IG match the reference numbers


def resize_map(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize a 2-D map to ``shape``; corner pixels map onto corner pixels."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape == tuple(shape):
        return pred
    h, w = pred.shape
    rows = np.linspace(0.0, h - 1, shape[0])
    cols = np.linspace(0.0, w - 1, shape[1])
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(pred, grid, order=1, mode="nearest")


def _prep(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cast both maps to float64 and bring the prediction onto the ground-truth grid."""
    gt = np.asarray(gt, dtype=np.float64)
    if gt.ndim != 2 or np.ndim(pred) != 2:
        raise ValueError("saliency maps must be 2-D")
    return resize_map(pred, gt.shape), gt


def _minmax(m: np.ndarray) -> np.ndarray:
    """Rescale to [0, 1]; a constant map becomes all zeros rather than NaN."""
    lo, span = m.min(), np.ptp(m)
    return (m - lo) / span if span > 0 else np.zeros_like(m)


def _as_dist(m: np.ndarray) -> np.ndarray:
    """Divide by the sum; an all-zero map becomes uniform (no preference)."""
    total = m.sum()
    return m / total if total > 0 else np.full_like(m, 1.0 / m.size)


def _zscore(m: np.ndarray) -> np.ndarray | None:
    """Standardise with the sample std (MATLAB ``std``); None when the map is constant."""
    sd = m.std(ddof=1) if m.size > 1 else 0.0
    return (m - m.mean()) / sd if sd > 0 else None


def nss(pred: np.ndarray, fixmap: np.ndarray) -> float:
    """Normalized Scanpath Saliency: mean z-scored prediction at fixated pixels."""
    p, f = _prep(pred, fixmap)
    mask = f > 0
    if not mask.any():
        return float("nan")
    z = _zscore(p)
    return 0.0 if z is None else float(z[mask].mean())


def cc(pred: np.ndarray, density: np.ndarray) -> float:
    """Pearson linear correlation between prediction and fixation density."""
    p, g = _prep(pred, density)
    zp, zg = _zscore(p), _zscore(g)
    if zp is None or zg is None:
        return 0.0
    return float((zp * zg).sum() / np.sqrt((zp * zp).sum() * (zg * zg).sum()))


def sim(pred: np.ndarray, density: np.ndarray) -> float:
    """Similarity (histogram intersection) of the two maps viewed as distributions."""
    p, g = _prep(pred, density)
    return float(np.minimum(_as_dist(_minmax(p)), _as_dist(_minmax(g))).sum())


def kld(pred: np.ndarray, density: np.ndarray) -> float:
    """KL(gt || pred) in nats; no min-max step, matching the reference code."""
    p, g = _prep(pred, density)
    p, g = _as_dist(p), _as_dist(g)
    return float((g * np.log(EPS + g / (p + EPS))).sum())


def _fix_values(pred: np.ndarray, fixmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max normalised prediction (flattened) and the boolean fixation mask."""
    p, f = _prep(pred, fixmap)
    return _minmax(p).ravel(), (f > 0).ravel()


def auc_judd(pred: np.ndarray, fixmap: np.ndarray, jitter: bool = True, seed: int = 0) -> float:
    """AUC with every fixated value as a threshold and all other pixels as negatives.

    The tiny seeded jitter breaks ties (e.g. flat regions) like the reference code.
    Remaining ties are handled by counting all fixations at or above a threshold as
    hits, which keeps the ROC curve monotone (identical to the reference without ties).
    """
    p, f = _prep(pred, fixmap)
    if jitter:
        p = p + np.random.default_rng(seed).random(p.shape) * 1e-7
    p, mask = _minmax(p).ravel(), (f > 0).ravel()
    n_fix, n_pix = int(mask.sum()), p.size
    if n_fix == 0 or n_fix == n_pix:
        return float("nan")
    fix_sorted = np.sort(p[mask])
    thresh = fix_sorted[::-1]
    above = n_pix - np.searchsorted(np.sort(p), thresh, side="left")
    fix_above = n_fix - np.searchsorted(fix_sorted, thresh, side="left")
    tp = np.concatenate(([0.0], np.arange(1, n_fix + 1) / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above - fix_above) / (n_pix - n_fix), [1.0]))
    return float(np.trapezoid(tp, fp))


def _auc_sampled(pos: np.ndarray, neg: np.ndarray, step: float) -> float:
    """Mean AUC over splits: ``pos`` (n_pos,) vs each row of ``neg`` (splits, n_neg).

    Uses one threshold grid 0..1 for every split: thresholds above a split's maximum
    only add (0, 0) points, so this equals the reference's per-split grid.
    """
    thresh = np.arange(int(np.floor(1.0 / step + 1e-9)) + 1)[::-1] * step
    tp = (pos[None, :] >= thresh[:, None]).mean(axis=1)
    fp = (neg[:, None, :] >= thresh[None, :, None]).mean(axis=2)
    ones, zeros = np.ones((len(neg), 1)), np.zeros((len(neg), 1))
    tp = np.concatenate((zeros, np.broadcast_to(tp, fp.shape), ones), axis=1)
    fp = np.concatenate((zeros, fp, ones), axis=1)
    return float(np.trapezoid(tp, fp, axis=1).mean())


def auc_borji(
    pred: np.ndarray, fixmap: np.ndarray, n_splits: int = 100, step: float = 0.1, seed: int = 0
) -> float:
    """AUC with negatives drawn uniformly (with replacement) from all pixels, per split."""
    p, mask = _fix_values(pred, fixmap)
    n_fix = int(mask.sum())
    if n_fix == 0:
        return float("nan")
    idx = np.random.default_rng(seed).integers(0, p.size, size=(n_splits, n_fix))
    return _auc_sampled(p[mask], p[idx], step)


def sauc(
    pred: np.ndarray,
    fixmap: np.ndarray,
    other_fixmap: np.ndarray,
    n_splits: int = 100,
    step: float = 0.1,
    seed: int = 0,
) -> float:
    """Shuffled AUC: negatives are other frames' fixations, which cancels centre bias."""
    if np.shape(other_fixmap) != np.shape(fixmap):
        raise ValueError("other_fixmap must have the same shape as fixmap")
    p, mask = _fix_values(pred, fixmap)
    other = np.flatnonzero(np.asarray(other_fixmap).ravel() > 0)
    n_fix = int(mask.sum())
    if n_fix == 0 or other.size == 0:
        return float("nan")
    n_neg = min(n_fix, other.size)
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(other, size=n_neg, replace=False) for _ in range(n_splits)])
    return _auc_sampled(p[mask], p[idx], step)


def info_gain(pred: np.ndarray, fixmap: np.ndarray, baseline: np.ndarray) -> float:
    """Information gain (bits per fixation) of the prediction over a baseline map."""
    p, f = _prep(pred, fixmap)
    b = resize_map(baseline, f.shape)
    mask = f > 0
    if not mask.any():
        return float("nan")
    p, b = _as_dist(_minmax(p)), _as_dist(_minmax(b))
    return float((np.log2(EPS + p[mask]) - np.log2(EPS + b[mask])).mean())


# name -> (function, which ground truth it scores against); lets a CLI list/dispatch them.
METRICS: dict[str, tuple[Callable[..., float], str]] = {
    "nss": (nss, "fixations"),
    "cc": (cc, "density"),
    "sim": (sim, "density"),
    "kld": (kld, "density"),
    "auc_judd": (auc_judd, "fixations"),
    "auc_borji": (auc_borji, "fixations"),
    "sauc": (sauc, "fixations+other_fixmap"),
    "info_gain": (info_gain, "fixations+baseline"),
}


def score_frame(
    pred: np.ndarray,
    fixmap: np.ndarray | None,
    density: np.ndarray | None,
    metrics: tuple[str, ...] = ("nss", "cc", "auc_judd"),
    **kw,
) -> dict[str, float]:
    """Score one frame with the named metrics; each gets only the keyword args it accepts."""
    out: dict[str, float] = {}
    for name in metrics:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; choose from {sorted(METRICS)}")
        fn, kind = METRICS[name]
        gt = density if kind == "density" else fixmap
        if gt is None:
            raise ValueError(f"metric {name!r} needs a {kind.split('+')[0]} map")
        accepted = inspect.signature(fn).parameters
        out[name] = fn(pred, gt, **{k: v for k, v in kw.items() if k in accepted})
    return out
