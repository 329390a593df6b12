"""`uva roi` as library functions: saliency maps -> boxes -> tracks -> JSON, crops and reframes.

Boxes: a map is thresholded at a fixed fraction of its peak (maps peak at 1, so the threshold
means the same on every frame and every video; Otsu's threshold jumps between frames when the
map's histogram changes shape, which makes boxes breathe), split into connected components
(8-connectivity), small components dropped, and the K components holding the most saliency
kept. A box's score is the fraction of the map's total saliency inside its rectangle.

Tracks: boxes are linked frame to frame by an optimal assignment (Hungarian algorithm) on a
cost of (1 - IoU) + centre distance, gated so far-apart boxes never link. Each track is
smoothed with an alpha-beta filter (position and velocity), which follows a moving subject
without the lag of a plain average and damps the map's cell-sized jitter. A confirmed track
that loses its box keeps its id for a short gap, coasting on its velocity. Tracks end at scene
cuts. All of this is causal, so JSON lines stream as frames are decoded.

Crops and reframes need the whole analysis first (the main subject of a shot is the one with
the most saliency over the shot; paths are smoothed with look-ahead), then a second decode
writes the videos. Per-frame data kept between the passes is a few boxes and a centre.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

import numpy as np
from scipy.optimize import linear_sum_assignment
from skimage.measure import label, regionprops

from . import reframe
from .engine import Predictor, predict_frames
from .errors import InputError, OutputError
from .outputs import _part, _replace, all_or_nothing, refuse_overwriting_input
from .threads import prefetch
from .video import Frame, VideoInfo, check_output_kind, iter_frames, probe

SCHEMA_VERSION = 1
STDOUT = "-"


@dataclass(frozen=True)
class RoiConfig:
    """Box finding and tracking settings."""

    threshold: float = 0.5  # fraction of the map's peak that counts as salient
    min_area: float = 0.002  # smallest component kept, as a fraction of the frame area
    max_boxes: int = 3  # boxes per frame, most salient first
    min_iou: float = 0.1  # a box links to a track if IoU >= this ...
    max_distance: float = 0.15  # ... or centres are within this fraction of the frame diagonal
    max_gap: int = 8  # frames a confirmed track survives without a box (keeps its id)
    alpha: float = 0.4  # alpha-beta filter: share of the measured position taken each frame
    beta: float = 0.05  # ... and share of the residual added to the velocity


@dataclass(frozen=True)
class Box:
    """A region in source pixels (top-left corner and size)."""

    x: float
    y: float
    w: float
    h: float
    score: float  # fraction of the map's saliency inside the box
    track_id: int = 0  # 0 until a tracker assigns one

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2


@dataclass
class FrameResult:
    """Everything the second pass and the JSON need about one frame."""

    index: int
    time: float
    shot: int  # 0, 1, ... counting scene cuts
    boxes: list[Box]
    profile: reframe.Profile | None = None  # saliency per column and row, kept for the reframe camera


# ----------------------------------------------------------------------------- boxes

def _integral(smap: np.ndarray) -> np.ndarray:
    table = np.zeros((smap.shape[0] + 1, smap.shape[1] + 1))
    table[1:, 1:] = np.asarray(smap, dtype=np.float64).cumsum(0).cumsum(1)
    return table


def _corner(table: np.ndarray, y: float, x: float) -> float:
    """Saliency above and left of (y, x) in cell units; bilinear between cell corners is exact
    for a map whose mass is spread evenly over each cell."""
    rows, cols = table.shape[0] - 1, table.shape[1] - 1
    y, x = min(max(y, 0.0), rows), min(max(x, 0.0), cols)
    r, c = min(int(y), rows - 1), min(int(x), cols - 1)
    fy, fx = y - r, x - c
    top = table[r, c] * (1 - fx) + table[r, c + 1] * fx
    bottom = table[r + 1, c] * (1 - fx) + table[r + 1, c + 1] * fx
    return top * (1 - fy) + bottom * fy


def box_score(table: np.ndarray, box: tuple[float, float, float, float], width: int, height: int) -> float:
    """Fraction of the map's mass inside a source-pixel box (x, y, w, h)."""
    total = table[-1, -1]
    if total <= 0:
        return 0.0
    sy, sx = (table.shape[0] - 1) / height, (table.shape[1] - 1) / width
    x0, y0, x1, y1 = box[0] * sx, box[1] * sy, (box[0] + box[2]) * sx, (box[1] + box[3]) * sy
    mass = _corner(table, y1, x1) - _corner(table, y0, x1) - _corner(table, y1, x0) + _corner(table, y0, x0)
    return float(np.clip(mass / total, 0.0, 1.0))


def find_boxes(smap: np.ndarray, width: int, height: int, cfg: RoiConfig = RoiConfig()) -> list[Box]:
    """Salient regions of one (S, S) map as boxes in source pixels, most salient first."""
    smap = np.asarray(smap, dtype=np.float32)
    peak = float(smap.max())
    if not peak > 0:
        return []
    labels = label(smap >= cfg.threshold * peak, connectivity=2)
    cells = smap.shape[0] * smap.shape[1]
    sy, sx = height / smap.shape[0], width / smap.shape[1]
    table = _integral(smap)
    found = []
    for region in regionprops(labels, intensity_image=smap):
        if region.area < cfg.min_area * cells:
            continue
        r0, c0, r1, c1 = region.bbox
        rect = (c0 * sx, r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy)
        mass = float(region.intensity_mean * region.area)
        found.append((mass, Box(*rect, score=box_score(table, rect, width, height))))
    found.sort(key=lambda item: -item[0])
    return [box for _, box in found[: cfg.max_boxes]]


# ----------------------------------------------------------------------------- tracks

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
        table = _integral(smap)
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


# ----------------------------------------------------------------------------- first pass

def analyse(pairs: Iterable[tuple[Frame, np.ndarray]], width: int, height: int, cfg: RoiConfig = RoiConfig(),
            cut_threshold: float = reframe.CameraConfig.cut_threshold,
            profiles: bool = False) -> Iterator[FrameResult]:
    """Stream (frame, map) pairs into per-frame results: tracked boxes, shot number (scene cuts
    from the low-resolution frames) and, when `profiles` is set, the map's mass profile."""
    tracker = Tracker(width, height, cfg)
    previous, shot = None, 0
    for frame, smap in pairs:
        if frame.small is not None:
            hist = reframe.colour_histogram(frame.small)
            if previous is not None and reframe.histogram_distance(previous, hist) > cut_threshold:
                shot += 1
                tracker.reset()
            previous = hist
        boxes = tracker.update(find_boxes(smap, width, height, cfg), smap)
        profile = reframe.mass_profile(smap) if profiles else None
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


# ----------------------------------------------------------------------------- JSON

def header(info: VideoInfo, model: str, frame_count: int) -> dict:
    return {"version": SCHEMA_VERSION,
            "video": {"path": str(info.path), "width": info.width, "height": info.height,
                      "fps": round(info.fps, 6), "frame_count": int(frame_count)},
            "model": model}


def _window_json(window: np.ndarray) -> dict:
    return {"x": int(window[0]), "y": int(window[1]), "w": int(window[2]), "h": int(window[3])}


def frame_record(result: FrameResult, windows: dict[str, np.ndarray] | None = None) -> dict:
    """One frame as JSON: index, time, shot, boxes and any crop windows ("crop", "reframe")."""
    record = {"index": result.index, "time": round(result.time, 6), "shot": result.shot,
              "boxes": [{"track_id": b.track_id, "x": round(b.x, 1), "y": round(b.y, 1), "w": round(b.w, 1),
                         "h": round(b.h, 1), "score": round(b.score, 4)} for b in result.boxes]}
    for key, table in (windows or {}).items():
        record[key] = _window_json(table[result.index])
    return record


class TextOutput:
    """A text file written under a temporary name and renamed on close(), or stdout for '-'.

    A class because an open output is state: the handle and the temporary path.
    """

    def __init__(self, path: str | os.PathLike):
        self.stdout = str(path) == STDOUT
        self.path = Path(path)
        self.tmp = _part(self.path)
        if self.stdout:
            self.fh: TextIO = sys.stdout
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.tmp, "w", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot write ({exc.strerror})") from None

    def write(self, text: str) -> None:
        try:
            self.fh.write(text)
            if self.stdout:
                self.fh.flush()  # a reader of the pipe sees each frame as it is analysed
        except OSError as exc:
            self.abort()
            raise OutputError(f"{self.path}: write failed ({exc.strerror})") from None

    def close(self) -> None:
        if self.stdout:
            self.fh.flush()
            return
        self.fh.close()
        _replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self.stdout:
            self.fh.close()
            self.tmp.unlink(missing_ok=True)


def _dumps(value: dict) -> str:
    return json.dumps(value, separators=(",", ":"))


def write_json(out: TextOutput, head: dict, records: Iterable[dict]) -> None:
    """The whole document, one frame per line inside "frames" (diff- and grep-friendly)."""
    out.write(_dumps(head)[:-1] + ',"frames":[\n')
    for k, record in enumerate(records):
        out.write((",\n" if k else "") + _dumps(record))
    out.write("\n]}\n")


def write_jsonl(out: TextOutput, head: dict, records: Iterable[dict]) -> None:
    """JSON Lines: the header object, then one line per frame as each record arrives."""
    out.write(_dumps(head) + "\n")
    for record in records:
        out.write(_dumps(record) + "\n")


# ----------------------------------------------------------------------------- the job

@dataclass
class RoiRequest:
    """What `uva roi` should write for one input."""

    source: Path
    json: str | Path | None = None  # path or "-"
    jsonl: str | Path | None = None
    crop_video: Path | None = None
    crop_size: tuple[int, int] | None = None  # output size of --crop; default: the window's own
    reframe_video: Path | None = None
    aspect: float | None = None  # of the reframe window (width / height)
    config: RoiConfig = field(default_factory=RoiConfig)
    camera: reframe.CameraConfig = field(default_factory=reframe.CameraConfig)

    @property
    def videos(self) -> bool:
        return bool(self.crop_video or self.reframe_video)


def _times_shots(results: list[FrameResult]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([r.time for r in results], dtype=np.float64), np.array([r.shot for r in results])


def follow_targets(results: list[FrameResult], targets: np.ndarray, window: tuple[int, int], width: int,
                   height: int, camera: reframe.CameraConfig = reframe.CameraConfig()) -> np.ndarray:
    """(N, 4) int windows of size `window` on a camera path following per-frame `targets`
    (N, 2 centres; NaN = none), reset at each shot."""
    times, shots = _times_shots(results)
    lo, hi = (window[0] / 2, window[1] / 2), (width - window[0] / 2, height - window[1] / 2)
    path = reframe.camera_path(targets, times, shots, lo, hi, (width, height), camera)
    return reframe.windows_from_path(path, window, width, height)


def reframe_windows(results: list[FrameResult], window: tuple[int, int], width: int, height: int,
                    camera: reframe.CameraConfig = reframe.CameraConfig()) -> np.ndarray:
    """The reframe camera: follows the most salient window position (see `attention_targets`)."""
    times, shots = _times_shots(results)
    targets = reframe.attention_targets([r.profile for r in results], times, shots, width, height, window, camera)
    return follow_targets(results, targets, window, width, height, camera)


def crop_windows(results: list[FrameResult], aspect: float, width: int, height: int,
                 camera: reframe.CameraConfig = reframe.CameraConfig()) -> np.ndarray:
    """The subject camera: a fixed-size window of `aspect` following each shot's main track."""
    centres, sizes = main_track_targets(results)
    window = reframe.crop_window(sizes, width, height, aspect)
    return follow_targets(results, centres, window, width, height, camera)


def plan_windows(results: list[FrameResult], info: VideoInfo, request: RoiRequest,
                 window: tuple[int, int] | None) -> dict[str, np.ndarray]:
    """Per-frame windows of each camera asked for: "reframe" and/or "crop"."""
    plan = {}
    if request.reframe_video and window:
        plan["reframe"] = reframe_windows(results, window, info.width, info.height, request.camera)
    if request.crop_video:
        aspect = request.crop_size[0] / request.crop_size[1] if request.crop_size else info.width / info.height
        plan["crop"] = crop_windows(results, aspect, info.width, info.height, request.camera)
    return plan


def run_roi(request: RoiRequest, predictor: Predictor, on_stage: Callable[[str, int], None] | None = None,
            on_frames: Callable[[int], None] | None = None) -> tuple[int, float]:
    """Analyse one video and write every output asked for; returns (frames, seconds of analysis).

    JSON Lines stream during the analysis unless a crop is asked for (then its lines carry the
    planned windows and follow the analysis). Every file output appears only when complete.
    """
    started = time.perf_counter()
    info = probe(request.source)
    refuse_overwriting_input(request.source, [p for p in (request.json, request.jsonl, request.crop_video,
                                                          request.reframe_video) if p and str(p) != STDOUT])
    for path in filter(None, (request.crop_video, request.reframe_video)):
        check_output_kind(path, info)  # before the analysis, not after it
    window = reframe.reframe_window(info.width, info.height, request.aspect) if request.reframe_video else None
    expected = info.frames or round((info.duration or 0) * info.fps)
    keep = bool(request.json or request.videos)  # else nothing is held: memory stays flat
    results: list[FrameResult] = []
    count = 0

    def analysed() -> Iterator[FrameResult]:
        nonlocal count
        frames = prefetch(iter_frames(request.source, size=predictor.input_size, info=info))
        for result in analyse(predict_frames(predictor, frames), info.width, info.height, request.config,
                              request.camera.cut_threshold, profiles=window is not None):
            if keep:
                results.append(result)
            count += 1
            if on_frames:
                on_frames(1)
            yield result

    with all_or_nothing() as texts:
        if on_stage:
            on_stage("analysing", expected)
        if request.jsonl and not request.videos:
            texts.append(TextOutput(request.jsonl))
            write_jsonl(texts[-1], header(info, predictor.name, expected), map(frame_record, analysed()))
        else:
            for _ in analysed():
                pass
        if count == 0:
            raise InputError(f"{request.source}: no frame could be decoded")
        seconds = time.perf_counter() - started
        plan = plan_windows(results, info, request, window) if request.videos else {}
        head = header(info, predictor.name, len(results))
        if request.json:
            texts.append(TextOutput(request.json))
            write_json(texts[-1], head, (frame_record(r, plan) for r in results))
        if request.jsonl and request.videos:
            texts.append(TextOutput(request.jsonl))
            write_jsonl(texts[-1], head, (frame_record(r, plan) for r in results))
        if request.videos:
            paths = {"crop": request.crop_video, "reframe": request.reframe_video}
            sizes = {"crop": request.crop_size}
            videos = [reframe.CropVideo(paths[k], table, sizes.get(k) or tuple(int(v) for v in table[0, 2:]))
                      for k, table in plan.items()]
            if on_stage:
                on_stage("rendering", len(results))
            reframe.render_windows(request.source, info, videos, on_frames)
    return count, seconds
