"""Tracks: boxes linked frame to frame by an optimal assignment (Hungarian algorithm) on a
cost of (1 - IoU) + centre distance, gated so far-apart boxes never link. Each track is
smoothed with an alpha-beta filter (position and velocity), which follows a moving subject
without the lag of a plain average and damps the map's cell-sized jitter. A confirmed track
that loses its box keeps its id for a short gap, coasting on its velocity."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from .boxes import Box, RoiConfig, box_score, integral


def _as_cxcywh(boxes: Iterable[Box]) -> np.ndarray:
    return np.array([[b.x + b.w / 2, b.y + b.h / 2, b.w, b.h] for b in boxes], dtype=np.float64).reshape(-1, 4)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (cx, cy, w, h) row of a with every row of b."""
    a0, a1 = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b0, b1 = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None).prod(-1)
    union = a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


@dataclass
class _Track:
    id: int
    state: np.ndarray  # cx, cy, w, h
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    hits: int = 1
    misses: int = 0


class Tracker:
    """Links per-frame boxes into tracks with stable ids and smooths them.

    A class because the live tracks and the next free id are state that spans frames.
    """

    def __init__(self, width: int, height: int, cfg: RoiConfig = RoiConfig()):
        self.width, self.height, self.cfg = width, height, cfg
        self.tracks: list[_Track] = []
        self.next_id = 1

    def reset(self) -> None:
        """End every track (a scene cut); ids keep counting up so they stay unique in a video."""
        self.tracks = []

    def update(self, boxes: list[Box], smap: np.ndarray) -> list[Box]:
        """Link this frame's boxes and return the smoothed boxes of the live tracks, rescored
        on `smap`, most salient first (at most cfg.max_boxes)."""
        cfg = self.cfg
        predicted = np.array([t.state + t.velocity for t in self.tracks]).reshape(-1, 4)
        measured = _as_cxcywh(boxes)
        pairs = self._assign(predicted, measured)
        matched_tracks = {i for i, _ in pairs}
        matched_boxes = {j for _, j in pairs}
        for i, j in pairs:
            track = self.tracks[i]
            residual = measured[j] - predicted[i]
            track.state = predicted[i] + cfg.alpha * residual
            track.velocity = track.velocity + cfg.beta * residual
            track.hits, track.misses = track.hits + 1, 0
        alive = []
        for i, track in enumerate(self.tracks):
            if i not in matched_tracks:
                # an unconfirmed track (one frame old) is more likely noise than a subject
                if track.hits < 2 or track.misses >= cfg.max_gap:
                    continue
                track.state, track.velocity = predicted[i], track.velocity * 0.5
                track.misses += 1
            alive.append(track)
        for j in range(len(boxes)):
            if j not in matched_boxes:
                alive.append(_Track(self.next_id, measured[j].copy()))
                self.next_id += 1
        self.tracks = alive
        table = integral(smap)
        out = [self._box(t, table) for t in alive]
        out.sort(key=lambda b: (-b.score, b.track_id))
        return out[: cfg.max_boxes]

    def _assign(self, predicted: np.ndarray, measured: np.ndarray) -> list[tuple[int, int]]:
        if not len(predicted) or not len(measured):
            return []
        iou = iou_matrix(predicted, measured)
        diagonal = float(np.hypot(self.width, self.height))
        distance = np.linalg.norm(predicted[:, None, :2] - measured[None, :, :2], axis=-1) / diagonal
        allowed = (iou >= self.cfg.min_iou) | (distance <= self.cfg.max_distance)
        cost = np.where(allowed, (1 - iou) + distance, 1e6)
        rows, cols = linear_sum_assignment(cost)
        return [(int(i), int(j)) for i, j in zip(rows, cols) if allowed[i, j]]

    def _box(self, track: _Track, table: np.ndarray) -> Box:
        cx, cy, w, h = track.state
        x0, y0 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
        x1, y1 = min(float(self.width), cx + w / 2), min(float(self.height), cy + h / 2)
        rect = (float(x0), float(y0), float(max(0.0, x1 - x0)), float(max(0.0, y1 - y0)))
        return Box(*rect, score=box_score(table, rect, self.width, self.height), track_id=track.id)
