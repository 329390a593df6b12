"""Virtual camera: scene cuts, crop windows that hold the most saliency, smooth camera paths,
and the re-decode pass that writes the cropped video.

A camera path is planned per shot from one target centre per frame (the main track for
`--crop`, the most salient window for `--reframe`): targets are median-filtered over a short
centred window, then followed by a camera with a dead-zone (a target that stays near the
camera does not move it, so a static shot is still), a speed limit and an acceleration limit
(so it eases in and out instead of jerking). At a scene cut the camera jumps straight to the
new shot's target: panning across a cut would show a move that never happened.

Everything here works on tiny per-frame arrays (a centre per frame), so planning a path for
an hour of video takes kilobytes; only `render_windows` touches full-size frames, one at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from scipy.ndimage import median_filter, uniform_filter1d

from .data.fixations import centre_profile
from .outputs import all_or_nothing
from .threads import prefetch
from .video import VideoInfo, iter_frames, open_writer, split_planes, stack_planes

HIST_BINS = 4  # per channel: 4x4x4 joint RGB bins, coarse enough to ignore noise and small motion


@dataclass(frozen=True)
class CameraConfig:
    """How the virtual camera moves. Distances are fractions of the frame side along each axis."""

    deadzone: float = 0.06  # the camera holds while the target stays this close
    max_speed: float = 0.5  # frame sides per second
    max_accel: float = 2.0  # frame sides per second squared
    gain: float = 3.0  # 1/s: wanted speed per unit of distance beyond the dead-zone
    smooth: float = 0.4  # seconds: centred median window over the targets (drops one-frame flicker)
    cut_threshold: float = 0.22  # histogram distance (0..1) between consecutive frames that is a cut
    # How far the reframe trusts a map: each frame's saliency is mixed with a centre prior (a model
    # is over-confident on video it has not seen) and averaged over a centred window of seconds
    # within the shot. Chosen on out-of-fold maps of the training videos: benchmarks/reframe_folds.py.
    # Those models keep fewer fixations in view than a centre crop unless the prior dominates:
    # 0.608 with no mix, 0.621 at 0.75, 0.632 at 0.9 (centre crop 0.633); averaging over time
    # does not help (0.629 at 0.5 s, 0.632 at 1 s).
    centre_mix: float = 0.9
    attention_window: float = 0.0


@dataclass(frozen=True)
class CropVideo:
    """One cropped output (a video, or a picture for a still image): where it goes, the window
    per frame (x, y, w, h ints) and its size."""

    path: Path
    windows: np.ndarray  # (N, 4) int
    size: tuple[int, int]  # output (width, height)


# ----------------------------------------------------------------------------- parsing

def parse_aspect(text: str) -> float:
    """'9:16', '9x16', '9/16' or '0.5625' -> width / height."""
    for sep in (":", "x", "/"):
        if sep in text:
            w, _, h = text.partition(sep)
            break
    else:
        w, h = text, "1"
    try:
        value = float(w) / float(h)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not an aspect ratio: {text!r} (try 9:16, 1:1, 4:5)") from None
    if not (0.05 < value < 20):
        raise ValueError(f"aspect ratio {text!r} is out of range")
    return value


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360); sides are made even for H.264."""
    w, sep, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (try 640x360)") from None
    if not sep or width < 2 or height < 2:
        raise ValueError(f"not a size: {text!r} (try 640x360)")
    return _even(width), _even(height)


def _even(value: float) -> int:
    return max(2, 2 * int(round(value / 2)))


# ----------------------------------------------------------------------------- windows

def reframe_window(width: int, height: int, aspect: float) -> tuple[int, int]:
    """The largest window of `aspect` inside the frame: full height when it is narrower than
    the frame, else full width. Even sides, so the output needs no trimming."""
    if height * aspect <= width:
        return min(_even(height * aspect), width // 2 * 2), height // 2 * 2
    return width // 2 * 2, min(_even(width / aspect), height // 2 * 2)


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
    return min(_even(w), width // 2 * 2), min(_even(h), height // 2 * 2)


def _best_span(profile: np.ndarray, length: float, span: float, content: np.ndarray | None = None) -> float:
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
    return _best_span(cols, width, window[0]), _best_span(rows, height, window[1])


def attention_targets(profiles: Sequence[Profile], times: np.ndarray, shots: np.ndarray, width: int,
                      height: int, window: tuple[int, int], cfg: CameraConfig = CameraConfig()) -> np.ndarray:
    """(N, 2) per-frame centres of the window holding the most saliency once each frame's profile
    is mixed with the centre prior and averaged over `cfg.attention_window` seconds in its shot."""
    step = _typical_step(np.asarray(times, dtype=np.float64))
    size = max(1, int(round(cfg.attention_window / step)) | 1)
    targets = np.empty((len(profiles), 2))
    for axis in range(2):
        content = np.stack([p[axis] for p in profiles]).astype(np.float64)
        if size > 1:
            for start, stop in _shots(np.asarray(shots)):
                content[start:stop] = uniform_filter1d(content[start:stop], size, axis=0, mode="nearest")
        # the prior (the centre bias `uva eval` scores against) only decides which window wins;
        # the winner is centred on the map's own mass
        mixed = (1 - cfg.centre_mix) * content + cfg.centre_mix * centre_profile(content.shape[1])
        length, span = (width, window[0]) if axis == 0 else (height, window[1])
        targets[:, axis] = [_best_span(m, length, span, c) for m, c in zip(mixed, content)]
    return targets


def windows_from_path(centres: np.ndarray, window: tuple[int, int], width: int, height: int) -> np.ndarray:
    """(N, 2) centres -> (N, 4) int x, y, w, h windows clipped to the frame."""
    w, h = window
    x = np.clip(np.round(centres[:, 0] - w / 2), 0, width - w)
    y = np.clip(np.round(centres[:, 1] - h / 2), 0, height - h)
    n = len(centres)
    return np.stack([x, y, np.full(n, w), np.full(n, h)], axis=1).astype(np.int64)


# ----------------------------------------------------------------------------- scene cuts

def colour_histogram(small: np.ndarray) -> np.ndarray:
    """Joint RGB histogram (HIST_BINS^3 bins, sums to 1) of a low-resolution frame."""
    q = np.asarray(small, dtype=np.int64).reshape(-1, 3) * HIST_BINS // 256
    codes = (q[:, 0] * HIST_BINS + q[:, 1]) * HIST_BINS + q[:, 2]
    hist = np.bincount(codes, minlength=HIST_BINS ** 3).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total variation distance: 0 for identical colour content, 1 for disjoint."""
    return float(0.5 * np.abs(a - b).sum())


# ----------------------------------------------------------------------------- camera path

def _shots(shots: np.ndarray) -> Iterator[tuple[int, int]]:
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


def _typical_step(times: np.ndarray) -> float:
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
    typical = _typical_step(times)
    steps = np.diff(times, prepend=times[:1])
    steps = np.where(steps > 0, steps, typical)
    for start, stop in _shots(np.asarray(shots)):
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


# ----------------------------------------------------------------------------- rendering

def crop_resize(planes: np.ndarray, window: Sequence[int], size: tuple[int, int],
                scaler: VideoReformatter) -> np.ndarray:
    """Cut window (x, y, w, h) out of a frame's yuv420p planes (`video.yuv420_planes`) and scale
    it to size (w, h, both even) by FFmpeg's scaler, as planes again: crops are encoded without
    an RGB round trip. In 4:2:0 a chroma sample covers 2x2 pixels, so the cut starts on even
    coordinates (at most a pixel left of and above the window) and has even sides."""
    x, y, w, h = (int(v) for v in window)
    x, y, w, h = x - x % 2, y - y % 2, max(2, w - w % 2), max(2, h - h % 2)
    luma, cb, cr = split_planes(planes)
    cut = stack_planes([luma[y:y + h, x:x + w]] + [c[y // 2:(y + h) // 2, x // 2:(x + w) // 2] for c in (cb, cr)])
    if (w, h) == tuple(size):
        return cut
    return scaler.reformat(av.VideoFrame.from_ndarray(cut, format="yuv420p"), width=size[0], height=size[1],
                           format="yuv420p", interpolation="BILINEAR").to_ndarray()


def render_windows(source: str | os.PathLike, info: VideoInfo, videos: list[CropVideo],
                   on_frames: Callable[[int], None] | None = None) -> int:
    """Second pass: decode the source again at full size and write each crop video (audio copied,
    temp name + rename), or the cropped picture of a still image. A frame past the planned ones
    (should not happen) reuses the last window."""
    count = 0
    with all_or_nothing() as writers:
        for video in videos:
            writers.append(open_writer(video.path, info, video.size, audio=True))
        scalers = [VideoReformatter() for _ in videos]  # one per output: its context is reused
        for frame in prefetch(iter_frames(source, native=True, info=info, yuv=True), depth=4):
            for video, writer, scaler in zip(videos, writers, scalers):
                window = video.windows[min(frame.index, len(video.windows) - 1)]
                writer.write(crop_resize(frame.native, window, (writer.width, writer.height), scaler), frame.time)
            count += 1
            if on_frames:
                on_frames(1)
    return count
