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
so a capacity curve or a 64 px and a 32 px student pay for the teacher once. The training length
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

    frames: (N, S, S, 3) uint8 on the training device; nxt: (N,) next-frame index. The same crop,
    mirror and colour apply to both frames of a pair; sides must divide S."""
    dev, b = frames.device, len(idx)

    def u(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=g) * (hi - lo) + lo).to(dev)

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
        a, b = spatial.encoder.state_dict(), temporal.encoder.state_dict()
        self.shared = all(torch.equal(a[k], b[k]) for k in a)

    @torch.no_grad()
    def forward(self, x_t: torch.Tensor, x_n: torch.Tensor) -> dict[str, torch.Tensor]:
        """Maps (B, 64, 64) of both teachers and the spatial teacher's features of frame t."""
        side = self.spatial.cfg.input_size
        up = lambda v: F.interpolate(v, size=(side, side), mode="bilinear", align_corners=False)  # noqa: E731
        both = torch.cat([up(x_t), up(x_n)])
        f_t, f_n = self.spatial.features(both).chunk(2)
        if self.shared:
            g_t, g_n = f_t, f_n
        else:
            g_t, g_n = self.temporal.features(both).chunk(2)
        maps = {"spatial": self.spatial.fuse(f_t, f_n), "temporal": self.temporal.fuse(g_t, g_n)}
        maps = {k: probability_maps(v) for k, v in maps.items()}
        return {**maps, "features": f_t.float()}

    def on(self, device: str) -> "Teachers":
        """On `device`; channels-last on CUDA, where the encoder's convolutions run faster so."""
        moved = self.to(device)
        return moved.to(memory_format=torch.channels_last) if device.startswith("cuda") else moved


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


def train_views(cfg: ViewConfig, frames: np.ndarray, nxt: np.ndarray, train_idx: np.ndarray, out: str | Path,
                teachers: Teachers | None = None, progress: bool = False) -> dict[str, Path]:
    """Train every student of cfg on views of pool frames `train_idx`; write OUT/<label>.pt and
    OUT/views.json (config, steps, seconds, loss per student). Returns checkpoint paths."""
    from ..models.registry import save_checkpoint

    device = training_device(cfg.device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    teachers = teachers or load_teachers(cfg.spatial_teacher, cfg.temporal_teacher, device)
    pool = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    nxt_t = torch.from_numpy(np.asarray(nxt, np.int64)).to(device)
    train_t = torch.from_numpy(np.asarray(train_idx, np.int64))
    learners = [Learner(spec, device, hint_channels=teachers.spatial.readout[1].in_channels) for spec in cfg.students]
    sides = sorted({side for lr in learners for side in (lr.side, lr.target_side)}, reverse=True)
    cuda = device.startswith("cuda")
    torch.backends.cudnn.benchmark = cuda  # fixed shapes every step
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    for lr in learners:
        lr.make_optimiser(cfg)
    started, step = time.perf_counter(), 0
    while True:
        elapsed = time.perf_counter() - started
        done = step / cfg.steps if cfg.steps else elapsed / cfg.seconds
        if done >= 1:
            break
        for lr in learners:
            lr.set_lr(learning_rate(cfg, step, done))
        idx = train_t[torch.randint(len(train_t), (cfg.batch_size,), generator=g)].to(device)
        views = draw_views(pool, nxt_t, idx, sides, cfg, g)
        with autocast:
            targets = {side: teachers(*views[side]) for side in {lr.target_side for lr in learners}}
            for lr in learners:
                lr.step(lr.loss(*views[lr.side], targets[lr.target_side]))
        step += 1
        if progress and step % 100 == 0:
            log.info("step %d (%.0f s) %s", step, elapsed,
                     " ".join(f"{lr.spec.label} {float(torch.stack(lr.losses[-100:]).mean()):.4f}" for lr in learners))
    seconds = time.perf_counter() - started
    paths = {}
    for lr in learners:
        lr.model.eval()
        paths[lr.spec.label] = out / f"{lr.spec.label}.pt"
        save_checkpoint(paths[lr.spec.label], lr.model, meta={"recipe": "views", "steps": step, "seed": cfg.seed})
    curves = {lr.spec.label: lr.loss_values() for lr in learners}
    summary = {"config": cfg.to_dict(), "steps": step, "seconds": seconds, "frames": int(len(train_idx)),
               "loss_last_100": {k: float(v[-100:].mean()) for k, v in curves.items()},
               "loss_first_100": {k: float(v[:100].mean()) for k, v in curves.items()},
               "loss_curve": {k: [float(c.mean()) for c in np.array_split(v, min(20, step))] for k, v in curves.items()}}
    (out / "views.json").write_text(json.dumps(summary, indent=2))
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
