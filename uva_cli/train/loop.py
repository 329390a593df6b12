"""Training a student directly on ground-truth maps (what `uva train` runs for students).

Videos are split by video into train/validation; still images (if given) join every batch as
static frame pairs. Each epoch ends with validation on the held-out videos (NSS, CC, AUC-Judd,
the same code as `uva eval`); the best epoch by NSS is kept as a shipped-format checkpoint.
A run folder holds config.json, log.txt, history.csv, last.pt (for --resume) and best.pt.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.cache import Cache, build_cache
from ..data.fixations import split_videos
from .losses import LossWeights

log = logging.getLogger("uva")


@dataclass
class TrainConfig:
    model: str = "uva-dva-64"
    data: str = ""  # video dataset (fixation CSV layout)
    images: str | None = None  # optional still-image dataset, used as static pairs
    out: str = "runs/uva-dva-64"
    epochs: int = 12
    steps_per_epoch: int = 150
    batch_size: int = 64
    image_fraction: float = 0.25  # share of each batch drawn from still images
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    val_fraction: float = 0.2
    val_step: int = 2  # validate on every n-th frame of the held-out videos
    seed: int = 0
    augment: bool = True
    aux_weight: float = 0.5  # weight of the spatial and temporal heads' own losses
    loss: LossWeights = field(default_factory=LossWeights)
    threads: int = 0  # torch CPU threads; 0 keeps the default
    cache_dir: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["loss"] = LossWeights(**d.get("loss", {}))
        return cls(**d)


@dataclass
class Split:
    cache: Cache
    train: np.ndarray
    val: np.ndarray
    val_names: list[str]


def prepare_data(cfg: TrainConfig, size: int, progress: bool = True) -> tuple[Split, Cache | None]:
    videos = build_cache(cfg.data, size, cache_dir=cfg.cache_dir, progress=progress)
    train_names, val_names = split_videos(videos.names, cfg.val_fraction, cfg.seed)
    val = videos.frames_of(val_names)[:: max(1, cfg.val_step)] if val_names else np.zeros(0, np.int64)
    split = Split(videos, videos.frames_of(train_names), val, val_names)
    images = build_cache(cfg.images, size, cache_dir=cfg.cache_dir, progress=progress) if cfg.images else None
    return split, images


def _lr_lambda(cfg: TrainConfig):
    total = max(1, cfg.epochs * cfg.steps_per_epoch)

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))))
    return factor


def _batch(cache: Cache, idx: np.ndarray):
    import torch

    idx = np.sort(idx)
    return (torch.from_numpy(cache.frames[idx]), torch.from_numpy(cache.frames[cache.next_index(idx)]),
            torch.from_numpy(cache.density[idx].astype(np.float32)))


def sample_batch(split: Split, images: Cache | None, cfg: TrainConfig, g):
    """uint8 frames t, t+1 and float32 targets for one step, images mixed in as static pairs."""
    import torch

    n_img = int(round(cfg.batch_size * cfg.image_fraction)) if images is not None else 0
    pick = lambda n, pool: pool[torch.randint(len(pool), (n,), generator=g).numpy()]  # noqa: E731
    parts = [_batch(split.cache, pick(cfg.batch_size - n_img, split.train))]
    if n_img:
        parts.append(_batch(images, pick(n_img, np.arange(len(images)))))
    return [torch.cat(p) for p in zip(*parts)]


def validate(model, split: Split, device: str = "cpu") -> dict[str, float]:
    from ..evaluation import model_predictions, score_cache

    return score_cache(model_predictions(model, split.cache, split.val, device=device), split.cache).pooled()


def centre_baseline(split: Split) -> dict[str, float]:
    from ..evaluation import centre_predictions, score_cache

    return score_cache(centre_predictions(split.cache, split.val), split.cache).pooled()


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train a student; returns the run folder. Resuming continues from last.pt exactly."""
    import torch

    from ..models.registry import save_checkpoint
    from ..models.student import STUDENTS, build_student, normalise
    from .augment import augment
    from .losses import saliency_loss

    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    size = STUDENTS[cfg.model].input_size
    split, images = prepare_data(cfg, size, progress)
    model = build_student(cfg.model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    g = torch.Generator().manual_seed(cfg.seed)
    start_epoch, best = 0, -math.inf
    if resume and (run / "last.pt").exists():
        state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        g.set_state(state["rng"])
        start_epoch, best = int(state["epoch"]) + 1, float(state["best"])
        log.info("resuming %s at epoch %d", run, start_epoch + 1)
    else:
        (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        baseline = centre_baseline(split)
        (run / "baseline.json").write_text(json.dumps({"centre": baseline, "val_videos": split.val_names}, indent=2))
        _log(run, f"validation videos: {', '.join(split.val_names)}; centre bias: {_fmt(baseline)}")
    for epoch in range(start_epoch, cfg.epochs):
        started, losses = time.perf_counter(), []
        model.train()
        for _ in _steps(cfg, epoch, progress):
            x_t, x_n, target = sample_batch(split, images, cfg, g)
            x_t, x_n = normalise(x_t), normalise(x_n)
            if cfg.augment:
                x_t, x_n, target = augment(x_t, x_n, target, g)
            heads = model.heads(model.features(x_t), model.features(x_n))
            loss = saliency_loss(heads["fused"], target, cfg.loss)
            if cfg.aux_weight:
                loss = loss + cfg.aux_weight * (saliency_loss(heads["spatial"], target, cfg.loss)
                                                + saliency_loss(heads["temporal"], target, cfg.loss))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        scores = validate(model, split)
        seconds = time.perf_counter() - started
        improved = scores["nss"] > best
        if improved:
            best = scores["nss"]
            save_checkpoint(run / "best.pt", model, meta={"epoch": epoch + 1, "validation": scores,
                                                          "val_videos": split.val_names, "seed": cfg.seed})
        _append_history(run, {"epoch": epoch + 1, "loss": float(np.mean(losses)), **scores, "seconds": seconds})
        _log(run, f"epoch {epoch + 1}/{cfg.epochs} loss {np.mean(losses):.4f} val {_fmt(scores)} "
                  f"({seconds:.0f} s){' *best*' if improved else ''}")
        _save_state(run / "last.pt", model, opt, sched, g, epoch, best)
    return run


def _steps(cfg: TrainConfig, epoch: int, progress: bool):
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=cfg.steps_per_epoch)
        for step in range(cfg.steps_per_epoch):
            yield step
            bar.advance(task)


def _save_state(path: Path, model, opt, sched, g, epoch: int, best: float) -> None:
    """Everything --resume needs, written atomically (temp name, then rename)."""
    import torch

    tmp = path.with_name(path.name + ".part")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "rng": g.get_state(), "epoch": epoch, "best": best}, tmp)
    os.replace(tmp, path)


def _append_history(run: Path, row: dict) -> None:
    path = run / "history.csv"
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow({k: f"{v:.5f}" if isinstance(v, float) else v for k, v in row.items()})


def _fmt(scores: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.3f}" for k, v in scores.items())


def _log(run: Path, line: str) -> None:
    log.info("%s", line)
    with open(run / "log.txt", "a") as fh:
        fh.write(line + "\n")
