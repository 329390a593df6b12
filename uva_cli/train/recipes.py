"""What is trained, on what, against what: one recipe per kind of run.

- TeacherRecipe: a teacher's readout on its frozen ImageNet encoder's cached features of 256 px
  frames, against ground-truth maps at 64x64.
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
from ..models.teachers import BRIGHTNESS, ENCODER, TEACHERS, build_teacher
from .augment import augment
from .features import frame_features, round_frozen, stored_array
from .losses import kld, mse, pool_maps, saliency_loss

TEACHER_SIDE = 256
TEACHER_OUT = 64


def _frames(cache, idx: np.ndarray) -> torch.Tensor:
    return normalise(torch.from_numpy(np.ascontiguousarray(cache.frames[idx])))


def _density(cache, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(cache.density[idx].astype(np.float32))


def _gather(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    parts = [p for p in parts if p]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def _batched(indices: np.ndarray, size: int = 128) -> Iterator[np.ndarray]:
    for start in range(0, len(indices), size):
        yield np.asarray(indices[start:start + size])


class TeacherRecipe:
    """A teacher's readout on its frozen encoder's cached features (see features.py): batches are
    (features of frame t, of frame t+1, ground truth), flipped left-right at random."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.sizes = (TEACHER_OUT, TEACHER_SIDE)
        self.feats: dict[str, list[np.ndarray]] = {}

    def build(self):
        """The pretrained encoder with a new readout, or with --init that checkpoint's network (its
        encoder is what the cached features must come from)."""
        if self.cfg.init:
            from ..models.registry import load_model

            return load_model(self.cfg.init).train()
        model = build_teacher(self.cfg.model, pretrained=True, **self.cfg.arch)
        round_frozen(model)
        return model

    def prepare(self, data, device: str, progress: bool) -> None:
        self.device = device
        model = self.build().to(device)
        self.feats["videos"] = frame_features(model, data.videos[TEACHER_SIDE], device, progress)
        if data.images:
            self.feats["images"] = frame_features(model, data.images[TEACHER_SIDE], device, progress)

    def freeze(self, model) -> None:
        for part in model.parts().values():
            part.eval()
            for p in part.parameters():
                p.requires_grad_(False)

    def _part(self, caches: dict, idx: np.ndarray, kind: str) -> dict[str, torch.Tensor]:
        if len(idx) == 0:
            return {}
        feats, cache = self.feats[kind], caches[TEACHER_SIDE]
        return {"f_t": _stacked(feats, idx), "f_n": _stacked(feats, cache.next_index(idx)),
                "target": _density(caches[TEACHER_OUT], idx)}

    def batch(self, data, vid: np.ndarray, img: np.ndarray, g) -> dict[str, torch.Tensor]:
        b = _gather([self._part(data.videos, vid, "videos"), self._part(data.images, img, "images")])
        if self.cfg.augment:
            flip = torch.rand(len(b["target"]), generator=g) < 0.5
            for key in ("f_t", "f_n"):
                b[key][flip] = flip_features(b[key][flip])
            b["target"][flip] = b["target"][flip].flip(-1)
        return b

    def loss(self, model, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return saliency_loss(model.fuse(b["f_t"], b["f_n"]), b["target"], self.cfg.loss)

    def predict(self, model, data, indices: np.ndarray):
        for idx, maps in teacher_batches(model, self.feats["videos"], data.videos[TEACHER_SIDE], indices, self.device):
            yield from zip(idx.tolist(), maps)


def _stacked(feats: list[np.ndarray], idx: np.ndarray) -> torch.Tensor:
    """Cached feature parts of frames idx, joined on channels as `Teacher.features` joins them."""
    return torch.from_numpy(np.concatenate([part[idx] for part in feats], 1).astype(np.float32))


def flip_features(f: torch.Tensor) -> torch.Tensor:
    """Teacher features of the mirrored frame, near enough: the grid mirrored, and the 4x4
    brightness sub-blocks (the encoder part's last BRIGHTNESS channels) mirrored inside each cell."""
    f = f.flip(-1)
    start = ENCODER - BRIGHTNESS
    order = torch.arange(BRIGHTNESS).view(4, 4).flip(-1).flatten() + start
    f[:, start:ENCODER] = f[:, order]
    return f


@torch.inference_mode()
def teacher_batches(model, feats: list[np.ndarray], cache, indices: np.ndarray,
                    device: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(indices, (B, 64, 64) probability maps) of a teacher from cached encoder features."""
    was = model.training
    model.eval()
    for idx in _batched(indices):
        f_t, f_n = _stacked(feats, idx).to(device), _stacked(feats, cache.next_index(idx)).to(device)
        yield idx, probability_maps(model.fuse(f_t, f_n)).float().cpu().numpy()
    model.train(was)


def teacher_maps(weights: str, cache, device: str = "cpu", progress: bool = True) -> np.ndarray:
    """(N, 64, 64) float16 soft maps of a teacher over a 256 px cache, computed once and kept in
    the cache folder under the teacher's sha256."""
    from ..hashing import sha256
    from ..models.registry import load_model, resolve

    path, _ = resolve(weights)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        model = load_model(weights).to(device)
        return teacher_batches(model, frame_features(model, cache, device, progress), cache,
                               np.arange(len(cache)), device)

    return stored_array(Path(cache.path) / f"teacher-{sha256(path)[:16]}.npy", f"{path.stem} soft maps",
                        len(cache), batches, progress)


class StudentRecipe:
    def __init__(self, cfg):
        self.cfg = cfg
        self.side = STUDENTS[cfg.model].input_size
        self.coupled = cfg.stage == "coupled"
        self.taught = cfg.stage in ("coupled", "fusion") and bool(cfg.spatial_teacher or cfg.temporal_teacher)
        self.sizes = (self.side, TEACHER_SIDE) if self.taught else (self.side,)
        self.soft: dict[str, dict[str, np.ndarray]] = {}

    def build(self):
        row = STUDENTS[self.cfg.model]
        return build_student(type(row).from_dict({**row.to_dict(), **self.cfg.arch}), pretrained=not self.cfg.init)

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
            part[f"soft_{head}"] = pool_maps(torch.from_numpy(maps[kind][idx].astype(np.float32)), self.side)
        return part

    def batch(self, data, vid: np.ndarray, img: np.ndarray, g) -> dict[str, torch.Tensor]:
        b = _gather([self._part(data.videos, vid, "videos"), self._part(data.images, img, "images")])
        if self.cfg.augment:
            keys = [k for k in b if k == "target" or k.startswith("soft_")]
            (b["x_t"], b["x_n"]), maps = augment([b["x_t"], b["x_n"]], [b[k] for k in keys], g)
            b.update(zip(keys, maps))
            # time reversal: half the pairs play backwards (frame t+1 then t), so motion is
            # learnt as change, not as one direction of it; the map of frame t stays the target
            back = torch.rand(len(b["x_t"]), generator=g) < 0.5
            b["x_t"][back], b["x_n"][back] = b["x_n"][back], b["x_t"][back].clone()
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
