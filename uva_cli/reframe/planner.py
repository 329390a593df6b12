"""The reframe camera as one plan per shot: the path that keeps the most of where the eyes are
in view, under the motion a viewer accepts.

Each frame's map is read as the probability of where the eyes are along the axis the window
slides on (its mass profile), weighted by a Gaussian centre prior (`CameraConfig.centre_prior`,
sigma in frame sides). The maps need no other calibration: on the cross-validation folds, the
column of each human fixation is best predicted by the maps as they are, times this prior
(`benchmarks/reframe_folds.py --calibrate`; blurring or sharpening them, or mixing a centre map
into them, does worse). A window position is worth the share of that probability it holds,
counted in full only more than `margin` of the window inside its edges and tapering to nothing
at them, so a subject is framed with room around it rather than at the edge.

Since the whole shot is known, the path is chosen for all of it at once, by dynamic programming
over window positions: it maximises the worth summed over the shot's frames minus `move_cost`
per window width moved, and no frame-to-frame step may exceed `pan_speed` window widths per
second. That gives a camera operator's behaviour without modes to switch between: the window
is still while what people watch stays inside it (moving would cost and gain nothing), pans
when the subject moves for long enough to pay for the move, and starts the pan ahead of the
motion, because the plan sees the frames it will hold; never faster than the limit, so never a
jump inside a shot. With `cut_cost` set, a jump to a far position inside a shot is allowed when
a pan would lose more than that cost (a subject that jumps); by default there is none. The path
is then eased by a centred moving average (`ease` seconds), which rounds the starts and stops
of pans and cannot make them faster. At a scene cut the next shot's plan starts afresh.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from .camera import CameraConfig, shot_spans, typical_step

SPEEDS = 4  # a frame-to-frame step is 0, 1, ..., SPEEDS grid steps: SPEEDS + 1 pan speeds up to the limit
MAX_POSITIONS = 2048  # finest grid of window positions per shot (the grid is coarser for fast limits)
TAPER_WIDTHS = 5  # the margin's taper as the mean of this many box windows


def _cdf(cumulative: np.ndarray, edges: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(T, len(x)): mass left of each x, linear inside cells (the cells' mass is spread evenly)."""
    cells = len(edges) - 1
    x = np.clip(x, edges[0], edges[-1])
    i = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, cells - 1)
    f = (x - edges[i]) / (edges[i + 1] - edges[i])
    return cumulative[:, i] * (1 - f) + cumulative[:, i + 1] * f


def window_worth(profiles: np.ndarray, length: float, span: float, centres: np.ndarray,
                 margin: float = 0.0) -> np.ndarray:
    """(T, M): the share of each frame's profile (T, C cells over 0..length) that a span-long window
    centred at each of `centres` holds, counting it in full only more than `margin` x span inside
    the window's edges and less towards them (a trapezoid: the mean of box windows from
    (1 - 2 margin) x span to span)."""
    profiles = np.asarray(profiles, dtype=np.float64)
    edges = np.linspace(0.0, length, profiles.shape[1] + 1)
    cumulative = np.concatenate([np.zeros((len(profiles), 1)), np.cumsum(profiles, axis=1)], axis=1)
    widths = span * np.linspace(1 - 2 * margin, 1, TAPER_WIDTHS) if margin > 0 else [span]
    return sum(_cdf(cumulative, edges, centres + w / 2) - _cdf(cumulative, edges, centres - w / 2)
               for w in widths) / len(widths)


def best_path(worth: np.ndarray, reach: int, move: float, cut: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic programming over positions: the index path (T,) maximising the summed worth (T, M)
    minus `move` per grid step moved, with at most `reach` grid steps from one frame to the next,
    or, when `cut` is given, a jump anywhere for that cost. Ties keep the camera where it is.
    Returns the path and, per frame, whether the camera jumped into it."""
    frames, positions = worth.shape
    value = worth[0].copy()
    source = np.empty((frames, positions), dtype=np.int32)
    index = np.arange(positions)
    offsets = np.array(sorted(range(-reach, reach + 1), key=abs))  # 0 first: argmax keeps ties still
    for t in range(1, frames):
        options = np.full((len(offsets), positions), -np.inf)
        for row, d in enumerate(offsets):
            lo, hi = max(0, -d), min(positions, positions - d)
            options[row, lo:hi] = value[lo + d:hi + d] - move * abs(d)
        choice = np.argmax(options, axis=0)
        best, source[t] = options[choice, index], index + offsets[choice]
        if cut is not None:
            far = int(np.argmax(value))
            better = value[far] - cut > best
            best, source[t, better] = np.where(better, value[far] - cut, best), far
        value = worth[t] + best
    path = np.empty(frames, dtype=np.int64)
    path[-1] = int(np.argmax(value))
    for t in range(frames - 1, 0, -1):
        path[t - 1] = source[t, path[t]]
    return path, np.abs(np.diff(path, prepend=path[:1])) > reach


def plan_axis(profiles: np.ndarray, steps: float, length: float, span: float,
              cfg: CameraConfig = CameraConfig()) -> np.ndarray:
    """Window centres (T,) for one shot along one axis: `profiles` (T, C) the maps' mass along it,
    `steps` the typical seconds between frames, a span-long window in 0..length."""
    low, high = span / 2, length - span / 2
    if high - low < 1 or len(profiles) == 0:
        return np.full(len(profiles), length / 2)
    profiles = np.asarray(profiles, dtype=np.float64)
    if cfg.centre_prior:  # the centre bias as a weight: calibrates the maps (benchmarks/reframe_folds.py)
        coords = (np.arange(profiles.shape[1]) + 0.5) / profiles.shape[1] - 0.5
        profiles = profiles * np.exp(-coords ** 2 / (2 * cfg.centre_prior ** 2))
        profiles /= np.maximum(profiles.sum(axis=1, keepdims=True), 1e-12)
    largest = cfg.pan_speed * span * steps  # pixels a frame at the speed limit
    grid = max(largest / SPEEDS, (high - low) / (MAX_POSITIONS - 1))
    reach = max(1, int(np.floor(largest / grid + 1e-9)))
    centres = low + grid * np.arange(int(np.floor((high - low) / grid)) + 1)
    centres = np.append(centres, high) if high - centres[-1] > 1e-6 else centres
    reach = min(reach, len(centres) - 1)
    worth = window_worth(profiles, length, span, centres, cfg.margin)
    # costs in frames of a full share: `move_cost` seconds of it per window width moved
    move = cfg.move_cost / steps * grid / span
    cut = cfg.cut_cost / steps if cfg.cut_cost is not None else None
    index, cuts = best_path(worth, reach, move, cut)
    path = centres[index]
    size = int(round(cfg.ease / steps)) | 1
    if size > 1:
        bounds = np.concatenate([[0], np.flatnonzero(cuts), [len(path)]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            path[a:b] = uniform_filter1d(path[a:b], size, mode="nearest")
    return path


def reframe_path(profiles: Sequence[tuple[np.ndarray, np.ndarray]], times: np.ndarray, shots: np.ndarray,
                 width: int, height: int, window: tuple[int, int], cfg: CameraConfig = CameraConfig()) -> np.ndarray:
    """(N, 2) window centres for `uva roi --reframe`: per shot and per axis the window slides
    along (see the module's docstring), planned from each frame's mass profile (columns, rows)."""
    times = np.asarray(times, dtype=np.float64)
    steps = typical_step(times)
    path = np.empty((len(profiles), 2))
    for start, stop in shot_spans(np.asarray(shots)):
        for axis, (length, span) in enumerate(((width, window[0]), (height, window[1]))):
            mass = np.stack([p[axis] for p in profiles[start:stop]])
            path[start:stop, axis] = plan_axis(mass, steps, length, span, cfg)
    return path
