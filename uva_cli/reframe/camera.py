"""The cameras' settings (`CameraConfig`), and the subject camera's physics: per-shot paths
that follow per-frame targets with a median filter, a dead-zone, a speed limit and an
acceleration limit; at a cut the camera jumps. (The reframe camera plans each shot as a whole
instead: `planner`.)

A camera path is planned per shot from one target centre per frame (the main track for
`--crop`): targets are median-filtered over a short centred window, then followed by a camera
with a dead-zone (a target that stays near the camera does not move it, so a static shot is
still), a speed limit and an acceleration limit (so it eases in and out instead of jerking).
At a scene cut the camera jumps straight to the new shot's target: panning across a cut would
show a move that never happened.

Everything here works on tiny per-frame arrays (a centre per frame), so planning a path for
an hour of video takes kilobytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
from scipy.ndimage import median_filter


@dataclass(frozen=True)
class CameraConfig:
    """How the virtual cameras move. The subject camera's (--crop) distances are fractions of the
    frame side along each axis; the reframe camera's are in window widths (heights for a window
    that slides vertically)."""

    deadzone: float = 0.06  # the camera holds while the target stays this close
    max_speed: float = 0.5  # frame sides per second
    max_accel: float = 2.0  # frame sides per second squared
    gain: float = 3.0  # 1/s: wanted speed per unit of distance beyond the dead-zone
    smooth: float = 0.4  # seconds: centred median window over the targets (drops one-frame flicker)
    cut_threshold: float = 0.22  # histogram distance (0..1) between consecutive frames that is a cut
    # The reframe camera (uva_cli/reframe/planner.py), judged out of fold by benchmarks/reframe_folds.py:
    centre_prior: float | None = 0.375  # sigma (frame sides) of a centre-bias weight on the maps; None: off
    margin: float = 0.1  # of the window on each side: what is held there counts less, nothing at the edge
    pan_speed: float = 0.5  # window widths per second: the fastest pan
    move_cost: float = 0.1  # seconds of every fixation in view that moving the window by its width must gain
    cut_cost: float | None = None  # seconds of the same for a jump inside a shot (None: never jump)
    ease: float = 0.5  # seconds: centred moving average of the planned path (rounds the pans' ends)


def shot_spans(shots: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of equal shot ids."""
    bounds = np.flatnonzero(np.diff(shots)) + 1
    edges = np.concatenate([[0], bounds, [len(shots)]])
    yield from zip(edges[:-1].tolist(), edges[1:].tolist())


def fill_gaps(targets: np.ndarray, default: Sequence[float]) -> np.ndarray:
    """Replace NaN rows (no target this frame) by linear interpolation between known ones,
    holding the nearest at the ends; a segment with no target at all gets `default`."""
    out = np.array(targets, dtype=np.float64)
    known = ~np.isnan(out).any(axis=1)
    if not known.any():
        out[:] = default
        return out
    index = np.arange(len(out))
    for axis in range(out.shape[1]):
        out[:, axis] = np.interp(index, index[known], out[known, axis])
    return out


def typical_step(times: np.ndarray) -> float:
    """Median seconds between frames (1/25 when that is unknown)."""
    steps = np.diff(times)
    return float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 1 / 25


def camera_path(targets: np.ndarray, times: np.ndarray, shots: np.ndarray, lo: Sequence[float],
                hi: Sequence[float], scale: Sequence[float], cfg: CameraConfig = CameraConfig()) -> np.ndarray:
    """Smooth camera centres (N, D) following `targets` (N, D; NaN = no target that frame).

    Per shot: fill gaps, median-filter the targets, then follow them with a dead-zone, bounded
    speed and bounded acceleration; positions stay within [lo, hi] (where the window fits).
    `scale` (frame side per axis) turns the fractions in `cfg` into pixels.
    """
    targets = np.asarray(targets, dtype=np.float64)
    lo, hi, scale = (np.asarray(v, dtype=np.float64) for v in (lo, hi, scale))
    times = np.asarray(times, dtype=np.float64)
    path = np.empty_like(targets)
    typical = typical_step(times)
    steps = np.diff(times, prepend=times[:1])
    steps = np.where(steps > 0, steps, typical)
    for start, stop in shot_spans(np.asarray(shots)):
        goal = fill_gaps(targets[start:stop], (lo + hi) / 2)
        size = max(1, int(round(cfg.smooth / typical)) | 1)
        if size > 1 and len(goal) > 1:
            goal = median_filter(goal, size=(size, 1), mode="nearest")
        goal = np.clip(goal, lo, hi)
        path[start:stop] = _follow(goal, steps[start:stop], lo, hi, scale, cfg)
    return path


def _follow(goal: np.ndarray, steps: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray,
            cfg: CameraConfig) -> np.ndarray:
    """One shot of camera motion; velocity is in frame sides per second."""
    out = np.empty_like(goal)
    pos, vel = goal[0].copy(), np.zeros(goal.shape[1])
    out[0] = pos
    for k in range(1, len(goal)):
        dt = steps[k]
        error = (goal[k] - pos) / scale
        distance = float(np.linalg.norm(error))
        excess = max(0.0, distance - cfg.deadzone)
        # never faster than the camera can still brake from before reaching the target
        speed = min(cfg.max_speed, cfg.gain * excess, np.sqrt(2 * cfg.max_accel * excess))
        wanted = error / distance * speed if distance > 0 else np.zeros_like(vel)
        change = wanted - vel
        limit = cfg.max_accel * dt
        norm = float(np.linalg.norm(change))
        if norm > limit:
            change *= limit / norm
        vel = vel + change
        pos = pos + vel * dt * scale
        stuck = (pos < lo) | (pos > hi)
        pos, vel[stuck] = np.clip(pos, lo, hi), 0.0
        out[k] = pos
    return out
