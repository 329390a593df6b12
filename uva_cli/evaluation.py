"""Scoring predictions against human fixations, shared by training validation and `uva eval`.

Metrics are computed on an evaluation grid with the source's aspect ratio and its longer side
EVAL_SIDE pixels (1920x1080 -> 256x144): the prediction is resized to it (as the MIT benchmark
resizes to the ground truth), fixations are placed on it and the density is blurred with
sigma = 0.025 x its width. This keeps validation of ~10k frames to seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from . import metrics as M
from .data.cache import Cache
from .data.fixations import centre_bias, density_map_norm, fixation_map_norm

EVAL_SIDE = 256
DEFAULT_METRICS = ("nss", "cc", "auc_judd")


def eval_shape(width: int, height: int, side: int = EVAL_SIDE) -> tuple[int, int]:
    scale = side / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


@dataclass
class Scores:
    """Per-frame scores with the video each frame came from."""

    metrics: tuple[str, ...]
    videos: list[str] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)

    def pooled(self) -> dict[str, float]:
        """Mean over all frames (NaN-skipping: frames without fixations score NaN)."""
        arr = np.asarray(self.values, dtype=np.float64).reshape(-1, len(self.metrics))
        return {m: float(np.nanmean(arr[:, j])) if len(arr) else float("nan") for j, m in enumerate(self.metrics)}

    def per_video(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        arr = np.asarray(self.values, dtype=np.float64).reshape(-1, len(self.metrics))
        names = np.asarray(self.videos)
        for name in dict.fromkeys(self.videos):
            rows = arr[names == name]
            out[name] = {m: float(np.nanmean(rows[:, j])) for j, m in enumerate(self.metrics)}
        return out


def score_cache(predictions: Iterable[tuple[int, np.ndarray]], cache: Cache,
                metrics: tuple[str, ...] = DEFAULT_METRICS) -> Scores:
    """Score (frame index, map) pairs against the cache's fixations on the evaluation grid."""
    scores = Scores(tuple(metrics))
    items = cache.meta["items"]
    for i, pred in predictions:
        item = items[int(cache.item[i])]
        h, w = eval_shape(item["width"], item["height"])
        points = cache.points_of(i)
        fixmap = fixation_map_norm(points, h, w)
        density = density_map_norm(points, h, w)
        result = M.score_frame(np.asarray(pred, np.float64), fixmap, density, metrics, jitter=False)
        scores.videos.append(item["name"])
        scores.values.append([result[m] for m in metrics])
    return scores


def centre_predictions(cache: Cache, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """The Gaussian centre-bias baseline on each frame's evaluation grid."""
    items = cache.meta["items"]
    for i in indices:
        item = items[int(cache.item[i])]
        yield int(i), centre_bias(*eval_shape(item["width"], item["height"]))


def model_predictions(model, cache: Cache, indices: np.ndarray, batch_size: int = 256,
                      device: str = "cpu", on_batch: Callable[[int], None] | None = None
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """Run a student over cached frames, each paired with its next frame in the same video."""
    import torch

    from .models.student import normalise, probability_maps

    indices = np.asarray(indices)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(indices), batch_size):
                idx = indices[start:start + batch_size]
                x_t = normalise(torch.from_numpy(cache.frames[idx]).to(device))
                x_n = normalise(torch.from_numpy(cache.frames[cache.next_index(idx)]).to(device))
                maps = probability_maps(model(x_t, x_n)).cpu().numpy()
                yield from zip(idx.tolist(), maps)
                if on_batch:
                    on_batch(len(idx))
    finally:
        model.train(was_training)
