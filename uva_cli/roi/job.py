"""One `uva roi` job: analyse a video (first pass), plan the camera windows, write the JSON
and the cropped videos (second pass). Every file output appears only when complete. In batch
mode each input is a `jobs.Task` named by `ROI_OUTPUTS` and run by `run_roi_task`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import reframe
from ..engine import Predictor, predict_frames
from ..errors import InputError
from ..jobs import Naming, Result, Task
from ..outputs import all_or_nothing, refuse_overwriting_input
from ..reframe.preview import MapSpool, PreviewVideo
from ..threads import prefetch
from ..video import VideoInfo, check_output_kind, iter_frames, probe
from .analysis import FrameResult, analyse, main_track_targets
from .boxes import RoiConfig
from .jsonout import STDOUT, TextOutput, frame_record, header, write_json, write_jsonl


# Batch outputs (`uva roi --out-dir`): clip.roi.json, clip.reframe.mp4, clip.crop.mp4; for a
# still image the reframe and crop are pictures of its format (photo.reframe.jpg).
ROI_OUTPUTS = Naming({"json": ".roi.json", "reframe": ".reframe.mp4", "crop": ".crop.mp4"}, ("reframe", "crop"))


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
    preview_video: Path | None = None  # the source with the windows drawn on it (needs a crop or reframe)
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
    """The reframe camera: per shot, the path holding the most of the maps within its motion limits
    (`reframe.reframe_path`)."""
    times, shots = _times_shots(results)
    path = reframe.reframe_path([r.profile for r in results], times, shots, width, height, window, camera)
    return reframe.windows_from_path(path, window, width, height)


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
                                                          request.reframe_video, request.preview_video)
                                              if p and str(p) != STDOUT])
    for path in filter(None, (request.crop_video, request.reframe_video, request.preview_video)):
        check_output_kind(path, info)  # before the analysis, not after it
    window = reframe.reframe_window(info.width, info.height, request.aspect) if request.reframe_video else None
    expected = info.frames or round((info.duration or 0) * info.fps)
    keep = bool(request.json or request.videos)  # else nothing is held: memory stays flat
    results: list[FrameResult] = []
    count = 0
    spool = MapSpool() if request.preview_video and request.videos else None

    def analysed() -> Iterator[FrameResult]:
        nonlocal count
        # boxes alone never show decoded pixels: the fast decode (crops and reframes keep the
        # default decode, so their camera plans are those of the full-quality pictures)
        frames = prefetch(iter_frames(request.source, size=predictor.input_size, info=info,
                                      fast=not request.videos))
        pairs = predict_frames(predictor, frames)
        for result in analyse(spool.tap(pairs) if spool else pairs, info.width, info.height, request.config,
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
            if spool:
                videos.append(PreviewVideo(request.preview_video, plan, spool.maps()))
            if on_stage:
                on_stage("rendering", len(results))
            try:
                reframe.render_windows(request.source, info, videos, on_frames)
            finally:
                if spool:
                    spool.close()  # (after an earlier failure the collector closes it; the file has no name)
    return count, seconds


def run_roi_task(task: Task, predictor: Predictor, config: RoiConfig = RoiConfig(), aspect: float | None = None,
                 crop_size: tuple[int, int] | None = None, on_start: Callable[[int], None] | None = None,
                 on_frames: Callable[[int], None] | None = None) -> Result:
    """One input of a `uva roi` batch (`jobs.run_batch(..., run=run_roi_task)`): the outputs of
    `task` ("json", "reframe" at `aspect`, "crop" at `crop_size`); `on_start` is told the
    frame count of each pass."""
    started = time.perf_counter()
    request = RoiRequest(source=task.source, json=task.outputs.get("json"), crop_video=task.outputs.get("crop"),
                         crop_size=crop_size, reframe_video=task.outputs.get("reframe"), aspect=aspect, config=config)
    frames, _ = run_roi(request, predictor, on_stage=(lambda stage, total: on_start(total)) if on_start else None,
                        on_frames=on_frames)
    return Result(task.source, "done", frames, time.perf_counter() - started)
