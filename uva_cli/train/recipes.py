"""What is trained, on what, against what: one recipe per kind of run.

- TeacherRecipe: a high-resolution teacher (256 px frames) against ground-truth maps at 64x64.
- StudentRecipe, stage "joint": a student against ground truth on all three heads.
- StudentRecipe, stage "coupled" (distillation stage 1): the shared trunk and the two branches;
  the spatial head against ground truth + the spatial teacher's soft map, the temporal head
  against ground truth + the temporal teacher's soft map. Both losses reach the one trunk.
- StudentRecipe, stage "fusion" (stage 2): trunk and branches frozen (batch norm included), the
  fusion head trained against ground truth (the paper), plus the mean of the teachers' soft maps
  when teachers are given (uva's default, `fusion_teachers`).

Teacher soft maps are computed once per teacher and dataset at the teacher's 64x64 output,
cached beside the dataset cache, and average-pooled to the student's resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..evaluation import model_predictions
from ..models.student import STUDENTS, build_student, normalise, probability_maps
from ..models.teachers import TEACHERS, build_teacher, teacher_input
from .augment import augment
from .losses import kld, mse, saliency_loss

TEACHER_SIDE = 256
TEACHER_OUT = 64


def _frames(cache, idx: np.ndarray) -> torch.Tensor:
    return normalise(torch.from_numpy(np.ascontiguousarray(cache.frames[idx])))


def _density(cache, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(cache.density[idx].astype(np.float32))


def _pool(maps: torch.Tensor, side: int) -> torch.Tensor:
    """(B, h, w) distributions -> (B, side, side) by average pooling, renormalised."""
    if maps.shape[-1] != side:
        maps = F.adaptive_avg_pool2d(maps[:, None], side)[:, 0]
    return maps / maps.sum((1, 2), keepdim=True).clamp_min(1e-12)


def _gather(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    parts = [p for p in parts if p]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _batched(indices: np.ndarray, size: int = 128) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), size):
        yield np.asarray(indices[start:start + size])


class TeacherRecipe:
    def __init__(self, cfg):
        self.cfg, self.tcfg = cfg, TEACHERS[cfg.model]
        self.sizes = (TEACHER_OUT, TEACHER_SIDE)

    def build(self):
        return build_teacher(self.cfg.model)

    def prepare(self, data, device: str, progress: bool) -> None:
        self.device = device

    def freeze(self, model) -> None:
        pass

    def _part(self, caches: dict, idx: np.ndarray) -> dict[str, torch.Tensor]:
        if len(idx) == 0:
            return {}
        frames = _three_frames(caches[TEACHER_SIDE], idx)
        return {"f0": frames[0], "f1": frames[1], "f2": frames[2], "target": _density(caches[TEACHER_OUT], idx)}

    def batch(self, data, vid: np.ndarray, img: np.ndarray, g) -> dict[str, torch.Tensor]:
        b = _gather([self._part(data.videos, vid), self._part(data.images, img)])
        if self.cfg.augment:
            frames, (b["target"],) = augment([b["f0"], b["f1"], b["f2"]], [b["target"]], g)
            b["f0"], b["f1"], b["f2"] = frames
        return b

    def loss(self, model, b: dict[str, torch.Tensor]) -> torch.Tensor:
        x = teacher_input(self.tcfg, [b["f0"], b["f1"], b["f2"]])
        return saliency_loss(model(x), b["target"], self.cfg.loss)

    def predict(self, model, data, indices: np.ndarray):
        for idx, maps in teacher_batches(model, data.videos[TEACHER_SIDE], indices, self.device):
            yield from zip(idx.tolist(), maps)


def _three_frames(cache, idx: np.ndarray) -> list[torch.Tensor]:
    """Normalised frames t, t+1, t+2 (clamped at the end of each video)."""
    n1 = cache.next_index(idx)
    return [_frames(cache, idx), _frames(cache, n1), _frames(cache, cache.next_index(n1))]


@torch.inference_mode()
def teacher_batches(model, cache, indices: np.ndarray, device: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(indices, (B, 64, 64) probability maps) of a teacher over cached 256 px frames."""
    was = model.training
    model.eval()
    for idx in _batched(indices):
        x = teacher_input(model.cfg, [f.to(device) for f in _three_frames(cache, idx)])
        yield idx, probability_maps(model(x)).float().cpu().numpy()
    model.train(was)


def teacher_maps(weights: str, cache, device: str = "cpu", progress: bool = True) -> np.ndarray:
    """(N, 64, 64) float16 soft maps of a teacher over a 256 px cache, computed once and kept in
    the cache folder under the teacher's sha256."""
    from rich.progress import Progress

    from ..models.registry import build_from_checkpoint, load_checkpoint, resolve, sha256

    path, _ = resolve(weights)
    target = Path(cache.path) / f"teacher-{sha256(path)[:16]}.npy"
    if target.exists():
        return np.load(target, mmap_mode="r")
    blob = load_checkpoint(weights)
    model = build_from_checkpoint(blob).to(device).eval()
    out = np.zeros((len(cache), TEACHER_OUT, TEACHER_OUT), np.float16)
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task(f"soft maps of {blob['config']['name']}", total=len(cache))
        for idx, maps in teacher_batches(model, cache, np.arange(len(cache)), device):
            out[idx] = maps
            bar.advance(task, len(idx))
    tmp = target.with_name(target.name + ".part.npy")
    np.save(tmp, out)
    tmp.replace(target)
    return out


class StudentRecipe:
    def __init__(self, cfg):
        self.cfg = cfg
        self.side = STUDENTS[cfg.model].input_size
        self.coupled = cfg.stage == "coupled"
        self.taught = cfg.stage in ("coupled", "fusion") and bool(cfg.spatial_teacher or cfg.temporal_teacher)
        self.sizes = (self.side, TEACHER_SIDE) if self.taught else (self.side,)
        self.soft: dict[str, dict[str, np.ndarray]] = {}

    def build(self):
        return build_student(self.cfg.model)

    def prepare(self, data, device: str, progress: bool) -> None:
        """Soft maps of each given teacher, for videos and images alike."""
        for head, weights in (("spatial", self.cfg.spatial_teacher), ("temporal", self.cfg.temporal_teacher)):
            if self.taught and weights:
                self.soft[head] = {"videos": teacher_maps(weights, data.videos[TEACHER_SIDE], device, progress)}
                if data.images:
                    self.soft[head]["images"] = teacher_maps(weights, data.images[TEACHER_SIDE], device, progress)

    def freeze(self, model) -> None:
        """coupled: the fusion head waits for stage 2. fusion: everything else is frozen, with its
        batch-norm statistics (eval mode), as the paper's stage 2."""
        fusion = [m for name, m in model.named_children() if name.startswith("fusion")]  # + fusion_detail
        if self.cfg.stage == "coupled":
            for p in (p for m in fusion for p in m.parameters()):
                p.requires_grad_(False)
        elif self.cfg.stage == "fusion":
            for name, module in model.named_children():
                if not name.startswith("fusion"):
                    module.eval()
                    for p in module.parameters():
                        p.requires_grad_(False)
            model.prior.requires_grad_(False)

    def _part(self, caches: dict, idx: np.ndarray, kind: str) -> dict[str, torch.Tensor]:
        if len(idx) == 0:
            return {}
        cache = caches[self.side]
        part = {"x_t": _frames(cache, idx), "x_n": _frames(cache, cache.next_index(idx)),
                "target": _density(cache, idx)}
        for head, maps in self.soft.items():
            part[f"soft_{head}"] = _pool(torch.from_numpy(maps[kind][idx].astype(np.float32)), self.side)
        return part

    def batch(self, data, vid: np.ndarray, img: np.ndarray, g) -> dict[str, torch.Tensor]:
        b = _gather([self._part(data.videos, vid, "videos"), self._part(data.images, img, "images")])
        if self.cfg.augment:
            keys = [k for k in b if k == "target" or k.startswith("soft_")]
            (b["x_t"], b["x_n"]), maps = augment([b["x_t"], b["x_n"]], [b[k] for k in keys], g)
            b.update(zip(keys, maps))
        return b

    def _distill(self, logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        return (kld if self.cfg.distill_loss == "kld" else mse)(logits, soft)

    def loss(self, model, b: dict[str, torch.Tensor]) -> torch.Tensor:
        cfg = self.cfg
        heads = model.heads(model.features(b["x_t"]), model.features(b["x_n"]))
        if cfg.stage == "fusion":
            loss = saliency_loss(heads["fused"], b["target"], cfg.loss)
            soft = [b[k] for k in ("soft_spatial", "soft_temporal") if k in b]
            if soft:  # uva's stage 2 keeps the teachers: the fused map also learns their mean
                loss = loss + cfg.distill_weight * self._distill(heads["fused"], sum(soft) / len(soft))
            return loss
        if cfg.stage == "joint":
            loss = saliency_loss(heads["fused"], b["target"], cfg.loss)
            return loss + cfg.aux_weight * sum(saliency_loss(heads[h], b["target"], cfg.loss)
                                               for h in ("spatial", "temporal"))
        loss = heads["fused"].new_zeros(())
        for head in ("spatial", "temporal"):
            loss = loss + saliency_loss(heads[head], b["target"], cfg.loss)
            if f"soft_{head}" in b:
                loss = loss + cfg.distill_weight * self._distill(heads[head], b[f"soft_{head}"])
        return loss

    def predict(self, model, data, indices: np.ndarray):
        """Validation maps: the fused head, or in stage 1 (fusion untrained) the mean of the two
        branch heads' maps."""
        device = str(next(model.parameters()).device)
        return model_predictions(model, data.videos[self.side], indices, 128, device,
                                 maps_fn=_branch_mean if self.coupled else None)


def _branch_mean(model, x_t: torch.Tensor, x_n: torch.Tensor) -> torch.Tensor:
    heads = model.heads(model.features(x_t), model.features(x_n))
    return (probability_maps(heads["spatial"]) + probability_maps(heads["temporal"])) / 2


def make_recipe(cfg):
    if cfg.model in TEACHERS:
        return TeacherRecipe(cfg)
    if cfg.model in STUDENTS:
        if cfg.stage not in ("joint", "coupled", "fusion"):
            raise ValueError(f"unknown stage {cfg.stage!r}: joint, coupled or fusion")
        return StudentRecipe(cfg)
    raise ValueError(f"unknown model {cfg.model!r}: one of {', '.join([*STUDENTS, *TEACHERS])}")
