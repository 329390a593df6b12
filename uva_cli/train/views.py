"""Distillation on the student's own view: targets a student can learn exactly, on as many
distinct inputs as there is time for.

A teacher run on a 64x64 frame scaled back up to its 256 px keeps nearly all of its accuracy (the
64 px frame is not what limits a student; how it learns is). So each training pair is drawn as a
fresh *view* of a pool frame (pool.py): a random crop and zoom with a random aspect, a mirror,
colour and brightness changes, another frame rate (t paired with t+2) and playback reversed,
reduced by area to the student's side like the decoder does. The teacher then labels exactly that
view, scaled up bilinearly to 256 px, online; no fixations are needed, so every frame of the
eye-tracked videos, the still images and unlabelled clips can serve, and no two batches repeat.

Coupled as in the paper: the spatial head learns the spatial teacher's map of the view, the
temporal head the temporal teacher's (which reads the pair), the fused head their mean; all in
one stage, since no head learns from ground truth. An optional hint loss matches the student's
branch outputs (through a 1x1 projection used only in training) to the teacher's stride-16/32
encoder features pooled to the student's grid.

Several students can learn from the same batches (`train_views` with several `StudentSpec`s),
so a capacity curve or a 64 px and a 32 px student pay for the teacher once; several cohorts
(`train_cohorts`: cross-validation folds, each with its own teachers' readouts and its own
held-out videos) share the batches and the teachers' encoder pass as well. The training length
can be a time budget, the cosine schedule then following the time spent.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.student import STUDENTS, StudentConfig, build_student, probability_maps
from .losses import kld, pool_maps
from .loop import warmup_cosine

log = logging.getLogger("uva")


@dataclass
class StudentSpec:
    label: str  # file name of the checkpoint (label.pt)
    model: str = "uva-dva-64"  # a STUDENTS row
    arch: dict = field(default_factory=dict)  # changes to that row (a capacity curve's widths, say)
    target_side: int = 0  # side of the view the teachers label; 0: the student's own input side
    hint: float = 0.0  # weight of the hint loss on the teacher's encoder features
    init: str = ""  # start from these weights (a checkpoint of the same student) instead of at random

    def student_config(self) -> StudentConfig:
        return StudentConfig.from_dict({**STUDENTS[self.model].to_dict(), **self.arch})


@dataclass
class ViewConfig:
    spatial_teacher: str = "teacher-spatial"
    temporal_teacher: str = "teacher-temporal"
    students: list[StudentSpec] = field(default_factory=list)
    steps: int = 0  # 0: train for `seconds` instead
    seconds: float = 600.0  # time budget when steps is 0 (the learning rate decays with the time spent)
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    zoom: float = 0.55  # smallest crop side, as a fraction of the frame's
    aspect: float = 0.2  # crop aspect ratio between exp(-aspect) and exp(aspect)
    skip: float = 0.25  # share of pairs two frames apart (another frame rate)
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ViewConfig":
        d = dict(d)
        d["students"] = [s if isinstance(s, StudentSpec) else StudentSpec(**s) for s in d.get("students", [])]
        return cls(**d)


def draw_views(frames: torch.Tensor, nxt: torch.Tensor, idx: torch.Tensor, sides: list[int],
               cfg: ViewConfig, g: torch.Generator) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Views of pool frames idx and their partners, per side: (x_t, x_next) in [-1, 1], NCHW.

    frames: (N, S, S, 3) uint8 on the training device, g a generator there; nxt: (N,) next-frame
    index. The same crop, mirror and colour apply to both frames of a pair; sides must divide S."""
    dev, b = frames.device, len(idx)

    def u(lo: float, hi: float) -> torch.Tensor:  # drawn where the frames are: no wait for the GPU
        return torch.rand(b, generator=g, device=dev) * (hi - lo) + lo

    partner = nxt[idx]
    later = u(0, 1) < cfg.skip
    partner = torch.where(later, nxt[partner], partner)
    x = torch.cat([frames[idx], frames[partner]]).permute(0, 3, 1, 2).float().div_(255.0)
    # colour: grey now and then, saturation, contrast, brightness (one draw per pair)
    grey = x.mean(1, keepdim=True)
    sat = torch.where(u(0, 1) < 0.05, torch.zeros(b, device=dev), u(0.6, 1.35)).repeat(2).view(-1, 1, 1, 1)
    x = grey + (x - grey) * sat
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * u(0.75, 1.3).repeat(2).view(-1, 1, 1, 1) + u(-0.1, 0.1).repeat(2).view(-1, 1, 1, 1)
    # crop and zoom with a random aspect, mirrored half the time
    zoom, aspect = u(cfg.zoom, 1.0), torch.exp(u(-cfg.aspect, cfg.aspect))
    sx, sy = (zoom * aspect.sqrt()).clamp(max=1.0), (zoom / aspect.sqrt()).clamp(max=1.0)
    cx, cy = (u(-1, 1) * (1 - sx)), (u(-1, 1) * (1 - sy))
    flip = torch.where(u(0, 1) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx * flip, cx, sy, cy
    theta = theta.repeat(2, 1, 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), mode="bilinear",
                      padding_mode="border", align_corners=False)
    back = (u(0, 1) < 0.5).view(-1, 1, 1, 1)  # played backwards: the teachers label the pair as shown
    out = {}
    for side in sides:
        v = F.avg_pool2d(x, x.shape[-1] // side) if side != x.shape[-1] else x
        v = v.clamp(0, 1).mul(255).round().div(127.5).sub(1.0)  # what a uint8 frame normalises to
        v_t, v_n = v[:b], v[b:]
        out[side] = (torch.where(back, v_n, v_t), torch.where(back, v_t, v_n))
    return out


class Teachers(nn.Module):
    """The spatial and the temporal teacher, labelling low-resolution views at their own 256 px.
    Their frozen encoders are one network (both readouts were trained on the same ImageNet
    MobileNetV2), so each view's encoder pass is shared."""

    def __init__(self, spatial: nn.Module, temporal: nn.Module):
        super().__init__()
        self.spatial, self.temporal = spatial.eval(), temporal.eval()
        self.shared = same_state(spatial.encoder.state_dict(), temporal.encoder.state_dict())

    @torch.no_grad()
    def forward(self, x_t: torch.Tensor, x_n: torch.Tensor) -> dict[str, torch.Tensor]:
        """Maps (B, 64, 64) of both teachers and the spatial teacher's features of frame t."""
        return self.label(self.encode(x_t, x_n))

    @torch.no_grad()
    def encode(self, x_t: torch.Tensor, x_n: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The frozen networks' features of both frames, for each teacher: (f_t, f_n, g_t, g_n)."""
        side = self.spatial.cfg.input_size
        up = lambda v: F.interpolate(v, size=(side, side), mode="bilinear", align_corners=False)  # noqa: E731
        both = torch.cat([up(x_t), up(x_n)])
        f_t, f_n = self.spatial.features(both).chunk(2)
        g_t, g_n = (f_t, f_n) if self.shared else self.temporal.features(both).chunk(2)
        return f_t, f_n, g_t, g_n

    @torch.no_grad()
    def label(self, feats: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """The readouts' maps from `encode`'s features (of these teachers or of any with the same
        frozen networks: cross-validation folds differ only in their readouts)."""
        f_t, f_n, g_t, g_n = feats
        maps = {"spatial": self.spatial.fuse(f_t, f_n), "temporal": self.temporal.fuse(g_t, g_n)}
        maps = {k: probability_maps(v) for k, v in maps.items()}
        return {**maps, "features": f_t.float()}

    def frozen_like(self, other: "Teachers") -> bool:
        """Whether `other`'s frozen networks are these (so one `encode` serves both)."""
        return same_state(self.frozen_state(), other.frozen_state())

    def frozen_state(self) -> dict[str, torch.Tensor]:
        return {f"{who}.{part}.{k}": v for who, net in (("spatial", self.spatial), ("temporal", self.temporal))
                for part, module in net.parts().items() for k, v in module.state_dict().items()}

    def on(self, device: str) -> "Teachers":
        """On `device`; channels-last on CUDA, where the encoder's convolutions run faster so."""
        moved = self.to(device)
        return moved.to(memory_format=torch.channels_last) if device.startswith("cuda") else moved


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two state dicts hold the same tensors under the same names (on any devices)."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k].to(a[k].device)) for k in a)


def training_device(name: str = "auto") -> str:
    """"auto": CUDA where PyTorch sees it, else the CPU. Not engine.pick_device: that module needs
    PyAV, which an accelerator machine running only training may lack."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


class Learner:
    """One student, its optimiser and schedule, and its hint projection (training only)."""

    def __init__(self, spec: StudentSpec, device: str, hint_channels: int):
        from ..models.registry import load_model

        self.spec = spec
        self.model = (load_model(spec.init) if spec.init else build_student(spec.student_config())).to(device).train()
        self.side = self.model.cfg.input_size
        self.target_side = spec.target_side or self.side
        params = list(self.model.parameters())
        self.project = None
        if spec.hint:
            branch = self.model.cfg.branch[-1][0]
            self.project = nn.Conv2d(2 * branch, hint_channels, 1).to(device)
            params += list(self.project.parameters())
        self.params = params
        self.losses: list[torch.Tensor] = []  # kept on the device: reading each one would wait for the GPU

    def make_optimiser(self, cfg: ViewConfig) -> None:
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def loss(self, x_t: torch.Tensor, x_n: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
        m = self.model
        heads, (s, mo) = m.heads_and_branches(m.features(x_t), m.features(x_n))
        spatial, temporal = pool_maps(t["spatial"], self.side), pool_maps(t["temporal"], self.side)
        loss = kld(heads["spatial"], spatial) + kld(heads["temporal"], temporal) + kld(heads["fused"], (spatial + temporal) / 2)
        if self.project is not None:
            loss = loss + self.spec.hint * hint_loss(self.project(torch.cat([s, mo], 1).float()), t["features"])
        return loss

    def step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.losses.append(loss.detach())

    def loss_values(self) -> np.ndarray:
        return torch.stack(self.losses).float().cpu().numpy() if self.losses else np.zeros(0)


def hint_loss(pred: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """MSE between a projection of the student's branches and the teacher's features average-
    pooled to the student's grid, each channel standardised over the batch."""
    target = F.adaptive_avg_pool2d(features, pred.shape[-2:])
    mean, std = target.mean((0, 2, 3), keepdim=True), target.std((0, 2, 3), keepdim=True)
    return F.mse_loss(pred, (target - mean) / (std + 1e-4))


def learning_rate(cfg: ViewConfig, step: int, done: float) -> float:
    """Warm-up, then a cosine over the share of training done: of the steps, or of the time
    budget (processes sharing a GPU cannot know their speed ahead)."""
    return cfg.lr * warmup_cosine(step, cfg.warmup, done)


def load_teachers(spatial: str, temporal: str, device: str) -> Teachers:
    from ..models.registry import load_model

    return Teachers(load_model(spatial), load_model(temporal)).on(device)


@dataclass
class Cohort:
    """Students that learn from one pair of teachers, writing OUT/<label>.pt and OUT/views.json.
    Cohorts train side by side on the same batches of views and one pass of the teachers' frozen
    networks: cross-validation folds differ only in their readouts and in the frames they may see
    (`exclude`: the stratum of the pool that is the fold's own videos; -1: none)."""

    out: Path
    teachers: Teachers
    students: list[StudentSpec]
    exclude: int = -1


def train_views(cfg: ViewConfig, frames: np.ndarray, nxt: np.ndarray, train_idx: np.ndarray, out: str | Path,
                teachers: Teachers | None = None, progress: bool = False) -> dict[str, Path]:
    """Train every student of cfg on views of pool frames `train_idx`; write OUT/<label>.pt and
    OUT/views.json (config, steps, seconds, loss per student). Returns checkpoint paths."""
    teachers = teachers or load_teachers(cfg.spatial_teacher, cfg.temporal_teacher, training_device(cfg.device))
    return train_cohorts(cfg, frames, nxt, [train_idx], [Cohort(Path(out), teachers, cfg.students)], progress)[0]


def train_cohorts(cfg: ViewConfig, frames: np.ndarray, nxt: np.ndarray, strata: list[np.ndarray],
                  cohorts: list[Cohort], progress: bool = False) -> list[dict[str, Path]]:
    """Train each cohort's students on views of the pool frames in `strata` (disjoint index
    arrays) but the one it excludes. Every batch holds a fixed share of each stratum (its share of
    the frames), so a cohort's rows are the same positions every step: no held-out frame reaches
    its students, not even through their batch statistics, and every shape stays fixed.
    Returns each cohort's checkpoint paths; cfg.students is not used (each cohort has its own)."""
    from ..models.registry import save_checkpoint

    device = training_device(cfg.device)
    first = cohorts[0].teachers
    if not all(first.frozen_like(c.teachers) for c in cohorts[1:]):
        raise ValueError("cohorts whose teachers' frozen networks differ cannot share a teacher pass")
    torch.manual_seed(cfg.seed)
    g = torch.Generator(device).manual_seed(cfg.seed)
    pool = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    nxt_t = torch.from_numpy(np.asarray(nxt, np.int64)).to(device)
    sizes = np.array([len(s) for s in strata], float)
    counts = np.maximum(1, np.round(cfg.batch_size * sizes / sizes.sum())).astype(int)
    where = np.repeat(np.arange(len(strata)), counts)  # each row's stratum, the same every step
    strata_t = [torch.from_numpy(np.asarray(s, np.int64)).to(device) for s in strata]
    rows = [torch.from_numpy(np.flatnonzero(where != c.exclude)).to(device) for c in cohorts]
    hint_channels = first.spatial.readout[1].in_channels
    learners = [[Learner(spec, device, hint_channels) for spec in c.students] for c in cohorts]
    everyone = [lr for group in learners for lr in group]
    sides = sorted({side for lr in everyone for side in (lr.side, lr.target_side)}, reverse=True)
    cuda = device.startswith("cuda")
    torch.backends.cudnn.benchmark = cuda  # fixed shapes every step
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    for lr in everyone:
        lr.make_optimiser(cfg)
    started, step = time.perf_counter(), 0
    while True:
        elapsed = time.perf_counter() - started
        done = step / cfg.steps if cfg.steps else elapsed / cfg.seconds
        if done >= 1:
            break
        for lr in everyone:
            lr.set_lr(learning_rate(cfg, step, done))
        idx = torch.cat([s[torch.randint(len(s), (n,), generator=g, device=device)] for s, n in zip(strata_t, counts)])
        views = draw_views(pool, nxt_t, idx, sides, cfg, g)
        with autocast:
            feats = {side: first.encode(*views[side]) for side in {lr.target_side for lr in everyone}}
            for cohort, mine, group in zip(cohorts, rows, learners):  # each cohort's rows, taken once
                seen = {side: tuple(v[mine] for v in pair) for side, pair in views.items()}
                targets = {side: cohort.teachers.label(tuple(f[mine] for f in fs)) for side, fs in feats.items()}
                for lr in group:
                    lr.step(lr.loss(*seen[lr.side], targets[lr.target_side]))
        step += 1
        if progress and step % 100 == 0:
            log.info("step %d (%.0f s) %s", step, elapsed,
                     " ".join(f"{lr.spec.label} {float(torch.stack(lr.losses[-100:]).mean()):.4f}" for lr in everyone))
    seconds = time.perf_counter() - started
    paths = []
    for cohort, mine, group in zip(cohorts, rows, learners):
        cohort.out.mkdir(parents=True, exist_ok=True)
        paths.append({})
        for lr in group:
            lr.model.eval()
            paths[-1][lr.spec.label] = cohort.out / f"{lr.spec.label}.pt"
            save_checkpoint(paths[-1][lr.spec.label], lr.model, meta={"recipe": "views", "steps": step, "seed": cfg.seed})
        curves = {lr.spec.label: lr.loss_values() for lr in group}
        frames_seen = int(sum(len(s) for k, s in enumerate(strata) if k != cohort.exclude))
        summary = {"config": {**cfg.to_dict(), "students": [asdict(spec) for spec in cohort.students]},
                   "steps": step, "seconds": seconds, "frames": frames_seen, "batch_rows": len(mine),
                   "learners": len(everyone),
                   "loss_last_100": {k: float(v[-100:].mean()) for k, v in curves.items()},
                   "loss_first_100": {k: float(v[:100].mean()) for k, v in curves.items()},
                   "loss_curve": {k: [float(c.mean()) for c in np.array_split(v, min(20, step))] for k, v in curves.items()}}
        (cohort.out / "views.json").write_text(json.dumps(summary, indent=2))
    return paths


def distill_on_views(student: str, out: str | Path, data: str | None, images: str | None = None,
                     clips: str | None = None, settings: dict | None = None, progress: bool = True) -> Path:
    """`uva distill --views`: one student (a STUDENTS row) on views of a pool built from the given
    folders, with ViewConfig settings (teachers, steps or seconds, batch size, ...; a "students"
    list, as in benchmarks/configs/views.json, is ignored). Writes OUT/best.pt (the last step:
    views never repeat, so there is no epoch to choose), OUT/views.json and OUT/pool.json."""
    from .pool import build_pool

    settings = {k: v for k, v in (settings or {}).items() if k != "students"}
    # a 32 px student learns the teachers' maps of the 64 px view (cross-validated: NSS 1.47
    # against 1.39 for the maps of its own 32 px view, which lack what 32 px cannot show)
    cfg = ViewConfig.from_dict({**settings, "students": [{"label": "best", "model": student, "target_side": 64}]})
    pool = build_pool(data, images, clips, progress=progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pool.json").write_text(json.dumps({"data": data, "images": images, "clips": clips, "frames": pool.counts(),
                                               "items": pool.names}, indent=2))
    train_views(cfg, pool.frames, pool.nxt, np.arange(len(pool)), out, progress=progress)
    return out
