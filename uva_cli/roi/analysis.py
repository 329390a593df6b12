"""The first pass: (frame, map) pairs -> per-frame tracked boxes, shot numbers and mass
profiles, streamed (causal); and the main subject of each shot for the crop camera."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..reframe.camera import CameraConfig
from ..reframe.cuts import colour_histogram, histogram_distance
from ..reframe.windows import Profile, mass_profile
from ..video import Frame
from .boxes import Box, RoiConfig, find_boxes
from .tracker import Tracker


@dataclass
class FrameResult:
    """Everything the second pass and the JSON need about one frame."""

    index: int
    time: float
    shot: int  # 0, 1, ... counting scene cuts
    boxes: list[Box]
    profile: Profile | None = None  # saliency per column and row, kept for the reframe camera


def analyse(pairs: Iterable[tuple[Frame, np.ndarray]], width: int, height: int, cfg: RoiConfig = RoiConfig(),
            cut_threshold: float = CameraConfig.cut_threshold,
            profiles: bool = False) -> Iterator[FrameResult]:
    """Stream (frame, map) pairs into per-frame results: tracked boxes, shot number (scene cuts
    from the low-resolution frames) and, when `profiles` is set, the map's mass profile."""
    tracker = Tracker(width, height, cfg)
    previous, shot = None, 0
    for frame, smap in pairs:
        if frame.small is not None:
            hist = colour_histogram(frame.small)
            if previous is not None and histogram_distance(previous, hist) > cut_threshold:
                shot += 1
                tracker.reset()
            previous = hist
        boxes = tracker.update(find_boxes(smap, width, height, cfg), smap)
        profile = mass_profile(smap) if profiles else None
        yield FrameResult(frame.index, frame.time, shot, boxes, profile)


def main_track_targets(results: list[FrameResult]) -> tuple[np.ndarray, np.ndarray]:
    """Centre of each shot's main subject per frame (NaN where it has no box) and the sizes of
    its boxes. The main subject of a shot is the track with the most saliency summed over it."""
    totals: dict[tuple[int, int], float] = {}
    for r in results:
        for b in r.boxes:
            totals[(r.shot, b.track_id)] = totals.get((r.shot, b.track_id), 0.0) + b.score
    main: dict[int, int] = {}
    for (shot, track_id), total in totals.items():
        if shot not in main or total > totals[(shot, main[shot])]:
            main[shot] = track_id
    centres = np.full((len(results), 2), np.nan)
    sizes = []
    for k, r in enumerate(results):
        for b in r.boxes:
            if b.track_id == main.get(r.shot):
                centres[k] = b.centre
                sizes.append((b.w, b.h))
    return centres, np.array(sizes, dtype=np.float64).reshape(-1, 2)
