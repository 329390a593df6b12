"""Coupled knowledge distillation as two training runs of the same loop (the paper's stages).

Stage 1 (`coupled`) trains the shared trunk and both branches against ground truth plus each
teacher's soft maps; stage 2 (`fusion`) starts from stage 1's best weights, freezes them and
trains the fusion head against ground truth (and, unless `fusion_teachers` is off, against the
mean of the teachers' soft maps too). Runs go to OUT/stage1 and OUT/stage2.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .loop import TrainConfig, train


def distill(cfg: TrainConfig, fusion_epochs: int | None = None, resume: bool = False,
            progress: bool = True) -> Path:
    out = Path(cfg.out)
    stage1 = replace(cfg, stage="coupled", out=str(out / "stage1"))
    train(stage1, resume=resume, progress=progress)
    teachers = {} if cfg.fusion_teachers else {"spatial_teacher": None, "temporal_teacher": None}
    stage2 = replace(cfg, stage="fusion", out=str(out / "stage2"), init=str(out / "stage1" / "best.pt"),
                     epochs=fusion_epochs or max(1, cfg.epochs // 2), **teachers)
    return train(stage2, resume=resume, progress=progress)
