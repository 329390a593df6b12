"""`uva encode`: H.264 with the bits where people look. Each frame's saliency map becomes a
coarse grid of quantiser offsets (lower QP, better quality, where the map is high; higher where
it is low), smoothed over time and centred so the frame's estimated bit spend stays that of the
base CRF; `video.regions` hands the grid to libx264 as regions of interest.

The offsets follow the rate-distortion optimum for a weighted squared error: spending bits on a
region with weight w (its share of the attention, relative to the frame's mean) pays while
w x distortion is above that of other regions, which puts every region at distortion ~ 1/w, i.e.
QP - 3 log2 w (the quantiser step doubles every 6 QP and the squared error goes with its
square). `strength` scales that: 1 is the optimum if the map were the viewers' true gaze, 0 a
plain encode. The batch machinery is `uva saliency`'s (`jobs.run_task` with this writer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import av
import numpy as np

from .engine import Predictor
from .errors import InputError
from .jobs import Naming, Result, Task, run_task
from .outputs import EncoderThread
from .reframe.camera import CameraConfig
from .reframe.cuts import colour_histogram, histogram_distance
from .video import Frame, VideoInfo, open_writer
from .video.regions import RegionTagger, grid_shape

# Batch outputs (`uva encode --out-dir DIR`): DIR/<name>.mp4
ENCODE_OUTPUTS = Naming({"video": ".mp4"})


@dataclass(frozen=True)
class EncodeSettings:
    """How `uva encode` encodes: the base quality and preset as in FFmpeg, and how far the
    quantiser moves with saliency."""

    crf: float = 23.0  # FFmpeg's libx264 default
    strength: float = 0.75  # 0: a plain encode; 1: the weighted-error optimum for a map that were the true gaze
    preset: str = "medium"  # x264's and FFmpeg's default
    cells: int = 16  # grid cells along the longer side of the picture
    smoothing: float = 0.5  # seconds: time constant of the offsets (reset at scene cuts)
    max_offset: float = 12.0  # QP, either way
    floor: float = 0.3  # attention weights below this share of the mean count as this

    def __post_init__(self) -> None:
        if self.strength > 0 and self.preset == "ultrafast":  # its aq-mode 0 makes x264 skip the regions
            raise ValueError("preset ultrafast turns off x264's adaptive quantisation, which saliency guidance "
                             "needs: use superfast or slower, or strength 0")


def area_weights(n: int, cells: int, side: int, length: int) -> np.ndarray:
    """(cells, n) matrix that averages a map of n samples across a picture of `length` pixels
    over cells of `side` pixels (the last one cut at the picture's edge): each row holds the
    overlap of the cell with each map sample, summing to 1."""
    edges = np.minimum(np.arange(cells + 1) * side, length) * (n / length)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = np.arange(n)[None]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


class OffsetPlanner:
    """Per-frame saliency maps -> (rows, cols) grids of QP offsets for one video. A class
    because the offsets are smoothed over time (an exponential average of the cells' saliency,
    restarted at scene cuts), so quality does not flicker with the map."""

    def __init__(self, width: int, height: int, settings: EncodeSettings, cut_threshold: float = CameraConfig.cut_threshold):
        self.width, self.height, self.settings = width, height, settings
        self.rows, self.cols, self.side = grid_shape(width, height, settings.cells)
        tops = np.minimum(np.arange(self.rows) * self.side, height)
        lefts = np.minimum(np.arange(self.cols) * self.side, width)
        heights = np.minimum(tops + self.side, height) - tops
        widths = np.minimum(lefts + self.side, width) - lefts
        self.area = np.outer(heights, widths) / float(width * height)  # each cell's share of the picture
        self.cut_threshold = cut_threshold
        self._matrices: tuple[np.ndarray, np.ndarray] | None = None
        self._state: np.ndarray | None = None  # smoothed cell saliency
        self._last: tuple[float, np.ndarray | None] | None = None  # time and colour histogram of the last frame

    def cell_saliency(self, smap: np.ndarray) -> np.ndarray:
        """The map's mean over each cell (the map spans the whole picture)."""
        if self._matrices is None or self._matrices[0].shape[1] != smap.shape[0]:
            self._matrices = (area_weights(smap.shape[0], self.rows, self.side, self.height),
                              area_weights(smap.shape[1], self.cols, self.side, self.width))
        ay, ax = self._matrices
        return ay @ smap.astype(np.float64) @ ax.T

    def _smoothed(self, cells: np.ndarray, time: float, small: np.ndarray | None) -> np.ndarray:
        hist = colour_histogram(small) if small is not None else None
        cut = self._last is not None and hist is not None and self._last[1] is not None \
            and histogram_distance(self._last[1], hist) > self.cut_threshold
        if self._state is None or cut or self.settings.smoothing <= 0:
            self._state = cells
        else:  # rises at once (a moving subject is never behind its quality), falls slowly
            dt = max(time - self._last[0], 0.0)
            falling = self._state + (1.0 - math.exp(-dt / self.settings.smoothing)) * (cells - self._state)
            self._state = np.maximum(cells, falling)
        self._last = (time, hist)
        return self._state

    def offsets(self, smap: np.ndarray, time: float = 0.0, small: np.ndarray | None = None) -> np.ndarray:
        """The QP offsets of the frame at `time` whose map is `smap` (`small`: the frame the
        model read, for scene cuts and the cells' detail)."""
        cells = self._smoothed(self.cell_saliency(smap), time, small)
        cost = self.area if small is None else self.area * (1.0 + self.cell_saliency(detail(small)))
        return qp_offsets(cells, self.area, self.settings, cost)


def detail(small: np.ndarray) -> np.ndarray:
    """Mean absolute luma gradient (levels per sample, horizontal plus vertical) of an RGB frame
    at model resolution: where an encoder spends more bits at a given QP."""
    luma = small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    out = np.zeros_like(luma)
    out[:, :-1] += np.abs(np.diff(luma, axis=1))
    out[:-1] += np.abs(np.diff(luma, axis=0))
    return out


def qp_offsets(cells: np.ndarray, area: np.ndarray, settings: EncodeSettings, cost: np.ndarray | None = None) -> np.ndarray:
    """QP offsets for cells of saliency `cells` covering `area` of the picture: -3 x strength x
    log2 of each cell's weight (its saliency over the picture's mean, at least `floor`), shifted
    so that the estimated bit spend, the sum of cost x 2^(-offset / 6) (cost: the cells' bits at
    offset 0, by default their area), is the plain encode's, and clipped to +-max_offset."""
    mean = float((cells * area).sum())
    if settings.strength <= 0 or mean <= 0:
        return np.zeros_like(cells)
    cost = area if cost is None else cost
    weight = np.maximum(cells / mean, settings.floor)
    offsets = -3.0 * settings.strength * np.log2(weight)
    limit, total = settings.max_offset, float(cost.sum())
    for _ in range(4):  # centring and clipping, a few rounds until both hold
        offsets = offsets + 6.0 * math.log2(float((cost * np.exp2(-offsets / 6.0)).sum()) / total)
        offsets = np.clip(offsets, -limit, limit)
    return offsets


class EncodedVideo(EncoderThread):
    """The `uva encode` output: the input's frames re-encoded (audio, timestamps and colour tags
    kept), each with its grid of quantiser offsets; at strength 0 the frames go to the encoder
    untouched. The writer interface of `outputs`."""

    native, needs_source_map = "yuv", False

    def __init__(self, path: Path, info: VideoInfo, settings: EncodeSettings):
        if info.image:
            raise InputError(f"{info.path}: a still picture; uva encode takes videos")
        super().__init__(open_writer(path, info, audio=True, crf=settings.crf, preset=settings.preset), info)
        self.planner = self.tagger = None
        if settings.strength > 0:
            self.planner = OffsetPlanner(self.writer.width, self.writer.height, settings)
            self.tagger = RegionTagger(self.writer.width, self.writer.height, settings.cells)

    def write(self, frame: Frame, smap: np.ndarray, smap8: np.ndarray | None) -> None:
        picture = frame.native
        if self.tagger is not None:
            offsets = self.planner.offsets(smap, frame.time, frame.small)
            picture = self.tagger.tag(av.VideoFrame.from_ndarray(picture, format="yuv420p"), offsets)
        self.submit(picture, frame.time)


def open_encoded(kind: str, path: Path, info: VideoInfo, settings: EncodeSettings) -> EncodedVideo:
    return EncodedVideo(path, info, settings)


def run_encode_task(task: Task, predictor: Predictor, settings: EncodeSettings = EncodeSettings(),
                    on_start: Callable[[int], None] | None = None,
                    on_frames: Callable[[int], None] | None = None) -> Result:
    """One input of `uva encode` (`jobs.run_batch(..., run=run_encode_task)`): decode once,
    predict the maps, encode with the offsets."""
    return run_task(task, predictor, on_start=on_start, on_frames=on_frames,
                    opener=partial(open_encoded, settings=settings))
