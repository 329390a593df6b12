"""Scoring predictions against human fixations, shared by training validation and `uva eval`.

Metrics are computed on an evaluation grid with the source's aspect ratio and its longer side
EVAL_SIDE pixels (1920x1080 -> 256x144): the prediction is resized to it (as the MIT benchmark
resizes to the ground truth), fixations are placed on it and the density is blurred with
sigma = 0.025 x its width. This keeps validation of ~10k frames to seconds. Datasets that ship
their own density maps (cache meta density_from == "maps") are scored against those instead,
upsampled from the cache.

Predictions are streams of (cache frame index, map) from any source: a uva model on the cached
frames, a folder of PNG maps from any model, or the reference predictors (centre bias, and the
leave-one-subject-out human ceiling, which is scored by its own loop as it has one prediction per
observer). sAUC takes its negatives from fixations of other videos; info gain is measured over
the centre-bias baseline.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from . import metrics as M
from .data.cache import Cache
from .data.base import split_videos
from .data.truth import centre_bias, density_map_norm, fixation_map_norm
from .errors import InputError

EVAL_SIDE = 256
DEFAULT_METRICS = ("nss", "cc", "auc_judd")
EVAL_CACHE_SIZE = 64  # cache size for predictors that do not read frames (baselines, --pred)
VAL_FRACTION, SPLIT_SEED = 0.2, 0  # the split `uva train` validates on (TrainConfig defaults)
SAUC_NEGATIVES = 500  # other-video fixations drawn per frame as sAUC's negative set
SAUC_SEED = 0
BASELINES = ("centre", "human")

Prediction = tuple[int, np.ndarray]


def eval_shape(width: int, height: int, side: int = EVAL_SIDE) -> tuple[int, int]:
    scale = side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass
class Scores:
    """Per-frame scores with the video and frame number each came from (and a few kept maps)."""

    metrics: tuple[str, ...]
    videos: list[str] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)  # frame number inside its video
    kept: dict[int, np.ndarray] = field(default_factory=dict)  # cache index -> prediction (for reports)

    def _array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64).reshape(-1, len(self.metrics))

    def pooled(self) -> dict[str, float]:
        """Mean over all frames (NaN-skipping: frames without fixations score NaN)."""
        arr = self._array()
        return {m: _nanmean(arr[:, j]) for j, m in enumerate(self.metrics)}

    def per_video(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        arr = self._array()
        names = np.asarray(self.videos)
        for name in dict.fromkeys(self.videos):
            rows = arr[names == name]
            out[name] = {m: _nanmean(rows[:, j]) for j, m in enumerate(self.metrics)}
        return out

    def counts(self) -> dict[str, int]:
        """Scored frames per video."""
        out: dict[str, int] = {}
        for name in self.videos:
            out[name] = out.get(name, 0) + 1
        return out


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


# ----------------------------------------------------------------------------- ground truth

def frame_grid(cache: Cache, i: int) -> tuple[int, int]:
    """(h, w) of frame i's evaluation grid."""
    item = cache.meta["items"][int(cache.item[i])]
    return eval_shape(item["width"], item["height"])


def _density(cache: Cache, i: int, points: np.ndarray, h: int, w: int) -> np.ndarray:
    """Ground-truth density on the grid: the dataset's own map where it has one, else blurred points."""
    if cache.meta.get("density_from") == "maps":
        dens = np.clip(M.resize_map(cache.density[i].astype(np.float64), (h, w)), 0, None)
        total = dens.sum()
        return dens / total if total > 0 else np.full((h, w), 1.0 / (h * w))
    return density_map_norm(points, h, w)


class _Negatives:
    """sAUC negatives: for a frame of video j, SAUC_NEGATIVES fixations drawn from all other videos
    with a seed fixed per (video, frame), so a frame's score does not depend on what else is scored."""

    def __init__(self, cache: Cache):
        self.cache = cache
        self.point_item = np.repeat(np.asarray(cache.item), np.diff(np.asarray(cache.offsets)))
        self.pool: dict[int, np.ndarray] = {}

    def fixmap(self, i: int, h: int, w: int) -> np.ndarray:
        j, k = int(self.cache.item[i]), int(self.cache.index[i])
        if j not in self.pool:
            self.pool[j] = np.flatnonzero(self.point_item != j)
        pool = self.pool[j]
        if not pool.size:
            return np.zeros((h, w), np.uint8)
        pick = pool[np.random.default_rng([SAUC_SEED, j, k]).integers(0, pool.size, SAUC_NEGATIVES)]
        return fixation_map_norm(self.cache.points[pick], h, w)


def _extras(cache: Cache, metrics: tuple[str, ...]) -> Callable[[int, int, int], dict]:
    """Keyword arguments some metrics need, per frame (other videos' fixations, the centre baseline)."""
    negatives = _Negatives(cache) if "sauc" in metrics else None

    def extras(i: int, h: int, w: int) -> dict:
        kw: dict = {"jitter": False}
        if negatives is not None:
            kw["other_fixmap"] = negatives.fixmap(i, h, w)
        if "info_gain" in metrics:
            kw["baseline"] = centre_bias(h, w)
        return kw
    return extras


def _record(scores: Scores, names: list[str], cache: Cache, i: int, row: list[float], keep: set[int],
            pred) -> None:
    scores.videos.append(names[int(cache.item[i])])
    scores.frames.append(int(cache.index[i]))
    scores.values.append(row)
    if i in keep:
        scores.kept[i] = np.asarray(pred, dtype=np.float32)


def score_cache(predictions: Iterable[Prediction], cache: Cache, metrics: tuple[str, ...] = DEFAULT_METRICS,
                on_frame: Callable[[], None] | None = None, keep: Iterable[int] = ()) -> Scores:
    """Score (frame index, map) pairs against the cache's fixations on the evaluation grid;
    the maps of frames in `keep` are kept in Scores.kept."""
    scores, keep, names = Scores(tuple(metrics)), set(int(k) for k in keep), cache.names
    extras = _extras(cache, scores.metrics)
    for i, pred in predictions:
        h, w = frame_grid(cache, i)
        points = cache.points_of(i)
        result = M.score_frame(np.asarray(pred, np.float64), fixation_map_norm(points, h, w),
                               _density(cache, i, points, h, w), scores.metrics, **extras(i, h, w))
        _record(scores, names, cache, i, [result[m] for m in scores.metrics], keep, pred)
        if on_frame:
            on_frame()
    return scores


def has_subjects(cache: Cache) -> bool:
    """Whether every cached fixation says which observer made it (fixation-record layouts)."""
    return bool(len(cache.subjects)) and bool((np.asarray(cache.subjects) >= 0).all())


def score_human(cache: Cache, indices: Iterable[int], metrics: tuple[str, ...] = DEFAULT_METRICS,
                on_frame: Callable[[], None] | None = None, keep: Iterable[int] = ()) -> Scores:
    """The leave-one-subject-out human ceiling: each observer's fixations on a frame are predicted
    by the density of all other observers' fixations on it; a frame scores the mean over observers
    (NaN with fewer than two). Fixation metrics (NSS, AUCs, IG) are the usual human ceiling.
    Density metrics (CC, SIM, KLD) compare with the held-out observer's own density, a much sparser
    target than the all-observer density models are scored against, so they are not a ceiling.
    The kept "prediction" of a frame is the density of all its observers."""
    if not has_subjects(cache):
        raise InputError(f"{cache.meta.get('root')}: the human baseline needs per-observer fixations, "
                         f"which the {cache.meta.get('layout')} layout does not have")
    scores, keep, names = Scores(tuple(metrics)), set(int(k) for k in keep), cache.names
    extras = _extras(cache, scores.metrics)
    for i in indices:
        i = int(i)
        h, w = frame_grid(cache, i)
        points, subjects = cache.points_of(i), cache.subjects_of(i)
        kw = extras(i, h, w)
        rows = []
        observers = np.unique(subjects)
        for s in observers if len(observers) > 1 else ():
            held = points[subjects == s]
            result = M.score_frame(density_map_norm(points[subjects != s], h, w).astype(np.float64),
                                   fixation_map_norm(held, h, w), density_map_norm(held, h, w),
                                   scores.metrics, **kw)
            rows.append([result[m] for m in scores.metrics])
        row = [_nanmean(col) for col in np.asarray(rows, np.float64).reshape(-1, len(scores.metrics)).T]
        _record(scores, names, cache, i, row, keep, density_map_norm(points, h, w) if i in keep else None)
        if on_frame:
            on_frame()
    return scores


# ----------------------------------------------------------------------------- prediction sources

def centre_predictions(cache: Cache, indices: Iterable[int]) -> Iterator[Prediction]:
    """The Gaussian centre-bias baseline on each frame's evaluation grid."""
    for i in indices:
        yield int(i), centre_bias(*frame_grid(cache, int(i)))


def model_predictions(model, cache: Cache, indices: np.ndarray, batch_size: int = 256,
                      device: str = "cpu", on_batch: Callable[[int], None] | None = None,
                      maps_fn: Callable | None = None) -> Iterator[Prediction]:
    """Run a student over cached frames, each paired with its next frame in the same video, through
    the engine's inference path (`engine.predict_arrays`: frames interleaved with their next ones,
    every other pair kept), as maps that sum to 1. maps_fn(model, x_t, x_next) -> (B, S, S) maps
    replaces the fused head (training validates distillation's stage 1 on its branch heads)."""
    from .engine import Predictor, predict_arrays

    indices = np.asarray(indices)
    predictor = Predictor(model=model, name="", device=device, batch_size=batch_size)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(indices), batch_size):
            idx = indices[start:start + batch_size]
            if maps_fn is not None:
                maps = _head_maps(maps_fn, model, cache, idx, device)
            else:
                pairs = np.stack([cache.frames[idx], cache.frames[cache.next_index(idx)]], axis=1)
                maps = predict_arrays(predictor, pairs.reshape(-1, *pairs.shape[2:]))[::2]
                maps = maps / maps.sum(axis=(1, 2), keepdims=True)
            yield from zip(idx.tolist(), maps)
            if on_batch:
                on_batch(len(idx))
    finally:
        model.train(was_training)


def _head_maps(maps_fn: Callable, model, cache: Cache, idx: np.ndarray, device: str) -> np.ndarray:
    """maps_fn's maps of frames idx paired with their next frames (heads the engine does not run)."""
    import torch

    from .models.student import normalise

    with torch.inference_mode():
        x_t = normalise(torch.from_numpy(cache.frames[idx]).to(device))
        x_n = normalise(torch.from_numpy(cache.frames[cache.next_index(idx)]).to(device))
        return maps_fn(model, x_t, x_n).float().cpu().numpy()


def prediction_file(folder: Path, name: str, frame: int) -> Path:
    """Where `uva saliency --maps` puts frame `frame` (0-based) of video `name`: 1-based, 6 digits."""
    return Path(folder) / name / f"{frame + 1:06d}.png"


def check_prediction_folder(folder: Path, cache: Cache, indices: np.ndarray) -> None:
    """Fail before scoring, naming every missing video folder (or the first missing frames)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such prediction folder")
    names = cache.names
    videos = list(dict.fromkeys(names[int(j)] for j in cache.item[indices]))
    absent = [v for v in videos if not (folder / v).is_dir()]
    if absent:
        shown = ", ".join(absent[:8]) + (f" and {len(absent) - 8} more" if len(absent) > 8 else "")
        raise InputError(f"{folder}: no prediction folder for {len(absent)} of {len(videos)} video(s): {shown} "
                         f"(expected {folder}/<video>/000001.png ...)")
    missing = [prediction_file(folder, names[int(cache.item[i])], int(cache.index[i])) for i in indices]
    missing = [p for p in missing if not p.is_file()]
    if missing:
        shown = ", ".join(str(p.relative_to(folder)) for p in missing[:5])
        raise InputError(f"{folder}: {len(missing)} prediction frame(s) missing, e.g. {shown}")


def folder_predictions(folder: Path, cache: Cache, indices: Iterable[int]) -> Iterator[Prediction]:
    """Grayscale PNG maps from DIR/<video>/000001.png ..., area-resized to each evaluation grid."""
    from PIL import Image

    for i in indices:
        i = int(i)
        h, w = frame_grid(cache, i)
        path = prediction_file(folder, cache.names[int(cache.item[i])], int(cache.index[i]))
        try:
            with Image.open(path) as img:
                yield i, np.asarray(img.convert("F").resize((w, h), Image.BOX), dtype=np.float64)
        except OSError as exc:
            raise InputError(f"{path}: not a readable prediction map ({exc})") from None


# ----------------------------------------------------------------------------- `uva eval`

SPLITS = ("auto", "all", "val")


def official_validation(cache: Cache) -> tuple[list[str], str] | None:
    """The dataset's own validation videos and their description (DHF1K 601-700, AVS1K's validSet,
    a split-folders set's valid/ or val/); None for layouts without an official split."""
    from .data import dhf1k, splits

    layout = cache.meta.get("layout")
    if layout == dhf1k.LAYOUT:
        first, last = dhf1k.VAL_NUMBERS[0], dhf1k.VAL_NUMBERS[-1]
        names, why = dhf1k.validation_names(cache.names), f"DHF1K's official validation videos ({first}-{last})"
    elif layout in (splits.AVS1K_LAYOUT, splits.SPLITS_LAYOUT):
        names, folder = splits.validation_names(cache.meta["root"], cache.meta["items"])
        why = f"the official validation set ({folder or '/'.join(splits.VALIDATION_SETS)}/)"
    else:
        return None
    if not names:
        raise InputError(f"{cache.meta['root']}: --split val: none of {why} is in this dataset")
    return names, why


def choose_videos(cache: Cache, split: str = "auto", held_out: Iterable[str] = (),
                  model: str | None = None) -> tuple[list[str], str]:
    """The videos to score and why (for the table's title and the JSON). A model's held-out videos
    (its checkpoint's val_videos) when the dataset holds them all: it was trained on this dataset,
    and any other choice would score videos it trained on, unless "all" is asked for. Otherwise
    every video ("auto", "all"), or for "val" the dataset's official validation set, else the
    split `uva train` makes by default."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    names, held_out = cache.names, sorted(set(held_out))
    trained_here = bool(held_out) and set(held_out) <= set(names)
    if split == "all":
        return names, "every video (--split all" + (f"; {model} trained on the others)" if trained_here else ")")
    if trained_here:
        return held_out, f"the videos {model} held out in training (its checkpoint's val_videos)"
    if split == "auto":
        if not model:
            return names, "every video"
        return names, "every video (" + (f"this dataset lacks the videos {model} held out in training)" if held_out
                                         else f"{model} records no held-out videos)")
    return official_validation(cache) or (
        split_videos(names, VAL_FRACTION, SPLIT_SEED)[1],
        f"the validation videos of `uva train`'s default split (seed {SPLIT_SEED}, {VAL_FRACTION:.0%})")


def eval_indices(cache: Cache, names: Iterable[str], frame_step: int = 1) -> np.ndarray:
    """Every frame_step-th frame of each named video, counted from its first frame."""
    indices = cache.frames_of(names)
    return indices[np.asarray(cache.index)[indices] % max(1, int(frame_step)) == 0]


def report_indices(cache: Cache, indices: np.ndarray, per_video: int) -> list[int]:
    """Up to `per_video` evenly spaced frames of each video among those scored (for contact sheets)."""
    out: list[int] = []
    items = np.asarray(cache.item)[indices]
    for j in dict.fromkeys(items.tolist()):
        own = indices[items == j]
        picks = np.unique(np.linspace(0, len(own) - 1, max(0, min(per_video, len(own)))).round().astype(int))
        out += own[picks].tolist()
    return out


@dataclass
class Evaluation:
    """Everything `uva eval` shows or writes about one run."""

    data: Path
    predictor: dict  # {"kind": "model"|"pred"|"baseline", "name": ...}
    split: str  # what was asked for: auto, all or val
    selection: str  # which videos were scored and why
    frame_step: int
    cache: Cache
    indices: np.ndarray
    scores: Scores
    seconds: float

    @property
    def approximate(self) -> bool:
        """True when fixation points were derived from density maps (NSS/AUC are approximations)."""
        return any(it.get("points_from") == "density peaks" for it in self.cache.meta["items"])

    def to_json(self) -> dict:
        """A JSON-ready summary (NaN becomes null)."""
        clean = lambda d: {k: (None if v != v else round(v, 6)) for k, v in d.items()}  # noqa: E731
        counts = self.scores.counts()
        return {"data": str(self.data), "layout": self.cache.meta.get("layout"), "predictor": self.predictor,
                "split": self.split, "selection": self.selection, "frame_step": self.frame_step, "metrics": list(self.scores.metrics),
                "frames": len(self.scores.values), "approximate_fixations": self.approximate,
                "seconds": round(self.seconds, 2), "pooled": clean(self.scores.pooled()),
                "videos": {name: {"frames": counts[name], **clean(row)}
                           for name, row in self.scores.per_video().items()}}


def evaluate(data: str | Path, kind: str, source: str | None = None, metrics: tuple[str, ...] = DEFAULT_METRICS,
             split: str = "auto", frame_step: int = 1, device: str = "auto", batch_size: int = 64,
             keep_per_video: int = 0, progress: bool = True, on_start: Callable[[int], None] | None = None,
             on_frame: Callable[[], None] | None = None, threads: int = 0) -> Evaluation:
    """Score one predictor on a dataset folder of any layout. kind: "model" (source: a model name or
    weights file, run on the cached frames), "pred" (source: a folder of PNG maps) or "baseline"
    (source: "centre" or "human"); `split` picks the videos (see `choose_videos`). `keep_per_video`
    frames per video keep their maps for a report. `threads`: CPU threads for the network (0: every core)."""
    from .data.cache import build_cache

    unknown = [m for m in metrics if m not in M.METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown metric(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(M.METRICS)}")
    if kind not in ("model", "pred", "baseline"):
        raise ValueError(f"kind must be model, pred or baseline, not {kind!r}")
    if kind == "baseline" and source not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {source!r}")
    predictor, held_out = None, ()
    if kind == "model":
        from .engine import load_predictor
        from .models.registry import load_checkpoint

        # scored from cached frames with the torch model itself, on every core unless told
        predictor = load_predictor(str(source), device, batch_size, backend="torch",
                                   threads=threads or os.cpu_count() or 1,
                                   precision="fp32")  # scores from the maps as trained, on any device
        held_out = load_checkpoint(str(source))["meta"].get("val_videos") or ()
    started = time.perf_counter()
    size = predictor.input_size if predictor else EVAL_CACHE_SIZE
    cache = build_cache(data, size, progress=progress)
    names, selection = choose_videos(cache, split, held_out, str(source) if kind == "model" else None)
    indices = eval_indices(cache, names, frame_step)
    keep = report_indices(cache, indices, keep_per_video)
    if kind == "pred":
        check_prediction_folder(Path(source), cache, indices)
    if on_start:
        on_start(len(indices))
    if kind == "baseline" and source == "human":
        scores = score_human(cache, indices, metrics, on_frame, keep)
    else:
        if kind == "model":
            preds = model_predictions(predictor.model, cache, indices, predictor.batch_size, predictor.device)
        elif kind == "pred":
            preds = folder_predictions(Path(source), cache, indices)
        else:
            preds = centre_predictions(cache, indices)
        scores = score_cache(preds, cache, metrics, on_frame, keep)
    return Evaluation(Path(data), {"kind": kind, "name": str(source)}, split, selection, int(frame_step), cache, indices,
                      scores, time.perf_counter() - started)
