"""The one training loop behind `uva train` and `uva distill`.

What differs between training a teacher, a student on ground truth, and the two stages of
coupled distillation lives in a `Recipe` (see recipes.py): which caches it reads, how a batch is
drawn, the loss, and how validation maps are predicted. The loop does the rest the same way for
all: seeded sampling, augmentation, AdamW with warm-up and cosine decay, validation on held-out
videos every epoch (NSS, CC, AUC-Judd with the `uva eval` code), the best epoch kept by NSS,
atomic checkpoints with exact `--resume`, data parallel training under `torchrun`, and mixed
precision on CUDA.

A run folder holds config.json, baseline.json, log.txt, history.csv, last.pt and best.pt.
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
import torch

from ..errors import InputError
from .losses import LossWeights

log = logging.getLogger("uva")


@dataclass
class TrainConfig:
    model: str = "uva-dva-64"  # a student or teacher name
    arch: dict = field(default_factory=dict)  # changes to that model's config row (ablations), e.g. {"faces": false}
    data: str = ""  # video dataset (any layout the dataset reader knows)
    images: str | None = None  # optional still-image dataset, used as static pairs
    out: str = "runs/uva-dva-64"
    stage: str = "joint"  # students: joint (ground truth), coupled (distillation stage 1), fusion (stage 2)
    init: str | None = None  # start from these weights (pretraining, or stage 1 for stage 2)
    spatial_teacher: str | None = None  # teacher weights for the coupled stage
    temporal_teacher: str | None = None
    distill_weight: float = 1.0  # weight of the teacher term per branch (the paper: 1.0)
    distill_loss: str = "kld"  # kld (teacher map as a distribution) or mse (the paper's)
    fusion_teachers: bool = True  # stage 2 also distils the teachers' mean map (False: the paper's GT only)
    epochs: int = 12
    steps_per_epoch: int = 150
    batch_size: int = 64
    image_fraction: float = 0.25  # share of each batch drawn from still images (1.0: images only)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    val_fraction: float = 0.2
    val_step: int = 2  # validate on every n-th frame of the held-out videos
    val_videos: tuple[str, ...] = ()  # validate on these instead of the seeded split (cross-validation)
    exclude: tuple[str, ...] = ()  # videos neither trained nor validated on (kept for a later test)
    seed: int = 0
    select: str = "best"  # best.pt: the epoch with the best validation NSS, or "last" (cross-validation,
    # and always when nothing is held out: val_fraction 0 trains on every video)
    augment: bool = True
    aux_weight: float = 0.5  # joint stage: weight of the spatial and temporal heads' own losses
    loss: LossWeights = field(default_factory=LossWeights)
    threads: int = 0  # torch CPU threads; 0 keeps the default
    device: str = "auto"
    cache_dir: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        d["loss"] = LossWeights(**d.get("loss", {}))
        d.update({k: tuple(d.get(k, ())) for k in ("val_videos", "exclude")})
        return cls(**d)


@dataclass
class Data:
    """Caches by resolution and the split by video (indices are shared by every resolution)."""

    videos: dict[int, object]
    images: dict[int, object]
    train: np.ndarray
    val: np.ndarray
    val_names: list[str]


def load_data(cfg: TrainConfig, sizes: tuple[int, ...], progress: bool = True) -> Data:
    from ..data.cache import build_cache
    from ..data.fixations import split_videos

    videos = {s: build_cache(cfg.data, s, cache_dir=cfg.cache_dir, progress=progress) for s in sizes}
    images = ({s: build_cache(cfg.images, s, cache_dir=cfg.cache_dir, progress=progress) for s in sizes}
              if cfg.images else {})
    first = videos[sizes[0]]
    unknown = sorted((set(cfg.val_videos) | set(cfg.exclude)) - set(first.names))
    if unknown:
        raise InputError(f"{cfg.data}: val_videos/exclude name videos it does not hold: {', '.join(unknown)}")
    if cfg.val_videos:
        val_names = sorted(set(cfg.val_videos))
        train_names = sorted(set(first.names) - set(val_names))
    else:
        train_names, val_names = split_videos(first.names, cfg.val_fraction, cfg.seed)
    train_names = [n for n in train_names if n not in cfg.exclude]
    val_names = [n for n in val_names if n not in cfg.exclude]
    val = first.frames_of(val_names)[:: max(1, cfg.val_step)] if val_names else np.zeros(0, np.int64)
    return Data(videos, images, first.frames_of(train_names), val, val_names)


def warmup_cosine(step: int, warmup: int, done: float) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then a cosine over the share
    `done` (0..1) of the rest of training."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def _lr_lambda(cfg: TrainConfig):
    total = max(1, cfg.epochs * cfg.steps_per_epoch)
    return lambda step: warmup_cosine(step, cfg.warmup_steps, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))


def draw(data: Data, cfg: TrainConfig, g, rank: int = 0, world: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Sorted video and image frame indices for this process's share of one step's batch."""
    per_rank = max(1, cfg.batch_size // world)
    n_img = int(round(per_rank * cfg.image_fraction)) if data.images else 0
    n_vid = per_rank - n_img
    n_images = len(next(iter(data.images.values()))) if data.images else 0
    vid = data.train[torch.randint(len(data.train), (n_vid,), generator=g).numpy()] if n_vid else []
    img = torch.randint(n_images, (n_img,), generator=g).numpy() if n_img else []
    return np.sort(np.asarray(vid, np.int64)), np.sort(np.asarray(img, np.int64))


def score(recipe, model, data: Data) -> dict[str, float]:
    from ..evaluation import score_cache

    cache = data.videos[min(data.videos)]
    return score_cache(recipe.predict(model, data, data.val), cache).pooled()


def centre_baseline(data: Data) -> dict[str, float]:
    from ..evaluation import centre_predictions, score_cache

    cache = data.videos[min(data.videos)]
    return score_cache(centre_predictions(cache, data.val), cache).pooled()


def distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, this process's device). Under torchrun it starts the process group with
    the backend the device needs (nccl for CUDA, gloo for the CPU, even where CUDA exists) and
    gives each rank its own GPU (LOCAL_RANK)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world, device


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train per cfg; returns the run folder. Resuming continues from last.pt exactly."""
    from torch.nn.parallel import DistributedDataParallel

    from ..engine import pick_device
    from ..models.registry import load_checkpoint
    from .recipes import make_recipe

    rank, world, device = distributed(pick_device(cfg.device))
    main = rank == 0
    run = Path(cfg.out)
    run.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    recipe = make_recipe(cfg)
    data = load_data(cfg, recipe.sizes, progress and main)
    recipe.prepare(data, device, progress and main)
    model = recipe.build()
    if cfg.init:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in load_checkpoint(cfg.init)["state_dict"].items()})
    recipe.freeze(model)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    g = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
    start_epoch, best = 0, -math.inf
    if resume and (run / "last.pt").exists():
        state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        g.set_state(state["rng"][rank] if isinstance(state["rng"], list) else state["rng"])
        start_epoch, best = int(state["epoch"]) + 1, float(state["best"])
        if main:
            _log(run, f"resuming at epoch {start_epoch + 1}")
    elif main:
        (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
        for stale in ("history.csv", "log.txt"):
            (run / stale).unlink(missing_ok=True)
        baseline = centre_baseline(data)
        (run / "baseline.json").write_text(json.dumps({"centre": baseline, "val_videos": data.val_names}, indent=2))
        _log(run, f"{cfg.model} ({cfg.stage}); validation videos: {', '.join(data.val_names)}; "
                  f"centre bias: {_fmt(baseline)}")
    step_module = LossModule(model, recipe)
    if world > 1:
        step_module = DistributedDataParallel(step_module, device_ids=[device] if device.startswith("cuda") else None)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda")
                else torch.autocast("cpu", enabled=False))
    if main and cfg.init and start_epoch == 0:
        best = _score_start(run, recipe, model, data, cfg.seed)
    for epoch in range(start_epoch, cfg.epochs):
        started, losses = time.perf_counter(), []
        model.train()
        recipe.freeze(model)
        for _ in _steps(cfg, epoch, progress and main):
            batch = recipe.batch(data, *draw(data, cfg, g, rank, world), g)
            with autocast:
                loss = step_module({k: v.to(device, non_blocking=True) for k, v in batch.items()})
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        if main:
            scores = score(recipe, model, data)
            seconds = time.perf_counter() - started
            improved = cfg.select == "last" or not data.val_names or scores["nss"] > best
            if improved:
                best = scores["nss"]
                _save_best(run, model, epoch + 1, scores, data, cfg.seed)
            _append_history(run, {"epoch": epoch + 1, "loss": float(np.mean(losses)), **scores, "seconds": seconds})
            _log(run, f"epoch {epoch + 1}/{cfg.epochs} loss {np.mean(losses):.4f} val {_fmt(scores)} "
                      f"({seconds:.0f} s){' *best*' if improved else ''}")
        rng = _gather_rng(g, world)
        if main:
            _save_state(run / "last.pt", model, opt, sched, rng, epoch, best)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return run


class LossModule(torch.nn.Module):
    """Model + recipe loss as one module, so DistributedDataParallel sees a forward()."""

    def __init__(self, model: torch.nn.Module, recipe):
        super().__init__()
        self.model, self.recipe = model, recipe

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.recipe.loss(self.model, batch)


def _gather_rng(g, world: int):
    if world == 1:
        return g.get_state()
    import torch.distributed as dist

    states = [None] * world
    dist.all_gather_object(states, g.get_state())
    return states


def _steps(cfg: TrainConfig, epoch: int, progress: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), transient=True, disable=not progress) as bar:
        task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=cfg.steps_per_epoch)
        for step in range(cfg.steps_per_epoch):
            yield step
            bar.advance(task)


def _save_state(path: Path, model, opt, sched, rng, epoch: int, best: float) -> None:
    """Everything --resume needs, written atomically (temp name, then rename)."""
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "rng": rng, "epoch": epoch, "best": best}, tmp)


def _score_start(run: Path, recipe, model, data, seed: int) -> float:
    """Validate the starting weights as "epoch 0", so they compete for best.pt like any epoch:
    a run that only makes held-out scores worse (stage 2 of a student whose fused head starts
    as its branches' mean, say) then keeps what it started from."""
    started = time.perf_counter()
    scores = score(recipe, model, data)
    _save_best(run, model, 0, scores, data, seed)
    _append_history(run, {"epoch": 0, "loss": float("nan"), **scores, "seconds": time.perf_counter() - started})
    _log(run, f"epoch 0 (the starting weights) val {_fmt(scores)}")
    return scores["nss"]


def _save_best(run: Path, model, epoch: int, scores: dict[str, float], data, seed: int) -> None:
    from ..models.registry import save_checkpoint

    save_checkpoint(run / "best.pt", model, meta={"epoch": epoch, "validation": scores, "val_videos": data.val_names,
                                                  "seed": seed})


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
