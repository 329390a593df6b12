"""Ground truth from fixation points: points in source pixels -> resolution-free coordinates ->
binary fixation maps and Gaussian-blurred density maps on any grid, and the centre-bias baseline."""

from __future__ import annotations

import numpy as np

SIGMA_FRAC = 0.025  # Gaussian sigma as a fraction of the map width, about 1 degree of visual angle


def normalise_points(points: np.ndarray, src_w: int, src_h: int) -> np.ndarray:
    """Source pixels -> resolution-free coordinates of the pixel centre: ((x+0.5)/W, (y+0.5)/H).

    Pixel x covers [x, x+1), so its centre at x+0.5 lands in output cell floor((x+0.5) S / W) on any
    S-wide grid: the cell whose area (the area filter's source footprint) contains it.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (points + 0.5) / np.array([src_w, src_h], dtype=np.float64)


def grid_cells(norm_points: np.ndarray, out_h: int, out_w: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) integer cells of normalised points on an out_h x out_w grid, clipped to it.

    A pixel centre often lands exactly on a cell border (1920 -> 256: x = 7 gives 7.5 * 256/1920 = 1);
    the cache stores points as float32, whose rounding (about 6e-8 x n) could drop such a point into
    the cell before. A tolerance of 1e-5 x n cells absorbs that and moves no genuine
    point by a visible amount.
    """
    norm_points = np.asarray(norm_points, dtype=np.float64).reshape(-1, 2)
    cols = np.clip(np.floor(norm_points[:, 0] * out_w + 1e-5 * out_w), 0, out_w - 1).astype(np.intp)
    rows = np.clip(np.floor(norm_points[:, 1] * out_h + 1e-5 * out_h), 0, out_h - 1).astype(np.intp)
    return rows, cols


def fixation_map_norm(norm_points: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Binary (uint8 0/1) fixation map from normalised points."""
    out = np.zeros((out_h, out_w), dtype=np.uint8)
    rows, cols = grid_cells(norm_points, out_h, out_w)
    out[rows, cols] = 1
    return out


def _gaussian_profiles(cells: np.ndarray, n: int, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """(P, n) rows: scipy's gaussian_filter1d (mode "constant") of a unit impulse at each cell."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) if sigma > 0 else (offsets == 0).astype(np.float64)
    kernel /= kernel.sum()
    d = np.arange(n)[None, :] - np.asarray(cells)[:, None]
    return np.where(np.abs(d) <= radius, kernel[np.clip(d + radius, 0, 2 * radius)], 0.0)


def blurred_counts(norm_points: np.ndarray, out_h: int, out_w: int, sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Fixation counts on the grid blurred with sigma = sigma_frac * out_w (float64, not normalised).

    A blurred impulse is the outer product of two 1-D kernels, so the map is a sum of outer
    products: identical to gaussian_filter(counts, sigma, mode="constant") and, for the few dozen
    fixations of a frame, several times cheaper (the leave-one-out human baseline makes thousands).
    einsum, not `@`: a threaded BLAS call this small costs more than it computes on a busy CPU.
    """
    rows, cols = grid_cells(norm_points, out_h, out_w)
    sigma = sigma_frac * out_w
    return np.einsum("pi,pj->ij", _gaussian_profiles(rows, out_h, sigma), _gaussian_profiles(cols, out_w, sigma))


def density_map_norm(norm_points: np.ndarray, out_h: int, out_w: int,
                     sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Fixation density (float32, sum 1) from normalised points; uniform when there are none.

    As the reference recipe, two fixations in one cell weigh 2."""
    blurred = blurred_counts(norm_points, out_h, out_w, sigma_frac)
    total = blurred.sum()
    if not total > 0:
        return np.full((out_h, out_w), 1.0 / (out_h * out_w), dtype=np.float32)
    return (blurred / total).astype(np.float32)


def fixation_map(points: np.ndarray, src_w: int, src_h: int, out_h: int, out_w: int) -> np.ndarray:
    """Binary fixation map on an out_h x out_w grid from points in source pixels (rounded, clipped).

    At the source resolution this is the recipe's map[round(y), round(x)] = 1.
    """
    return fixation_map_norm(normalise_points(points, src_w, src_h), out_h, out_w)


def density_map(points: np.ndarray, src_w: int, src_h: int, out_h: int, out_w: int,
                sigma_frac: float = SIGMA_FRAC) -> np.ndarray:
    """Density map (float32, sum 1): the fixation counts blurred with sigma = sigma_frac * out_w."""
    return density_map_norm(normalise_points(points, src_w, src_h), out_h, out_w, sigma_frac)


def centre_profile(cells: int) -> np.ndarray:
    """One axis of the centre bias: a Gaussian with sigma = half the side, summing to 1."""
    coords = (np.arange(cells) - (cells - 1) / 2) / (0.5 * cells)
    profile = np.exp(-coords ** 2 / 2)
    return profile / profile.sum()


def centre_bias(h: int, w: int) -> np.ndarray:
    """Gaussian centre-bias baseline (sum 1), the usual yardstick a model must beat."""
    return np.outer(centre_profile(h), centre_profile(w)).astype(np.float32)
