"""High-resolution teachers for coupled knowledge distillation.

Both read 256x256 frames (4x the side of uva-dva-64, 8x uva-dva-32) and predict a 64x64 map,
which is pooled to the student's resolution to supervise it. They are wider and deeper than the
students and see 16x more pixels, yet stay trainable on a CPU: a stride-8 patch stem brings the
picture to 32x32, dense residual 3x3 stages (dense convolutions use a CPU far better than
depthwise ones) work at 32, 16 and 8, and a top-down path merges the three scales.

- spatial teacher: frame t alone (3 channels);
- temporal teacher: frame t plus the differences t - t+1 and t+1 - t+2 (9 channels), so it sees
  two steps of motion where the students see one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import conv_bn
from .student import centre_prior_logits


@dataclass(frozen=True)
class TeacherConfig:
    name: str
    in_channels: int
    input_size: int = 256
    patch: int = 8
    widths: tuple[int, ...] = (48, 96, 160)  # one stage per width, each halving the side after the first
    blocks: int = 2  # residual blocks per stage
    neck: int = 64
    prior: int = 16
    output_size: int = 64

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        return cls(**{**d, "widths": tuple(int(w) for w in d["widths"])})

    def to_dict(self) -> dict:
        return asdict(self)


TEACHERS: dict[str, TeacherConfig] = {
    "teacher-spatial": TeacherConfig("teacher-spatial", in_channels=3),
    "teacher-temporal": TeacherConfig("teacher-temporal", in_channels=9),
}


class ResBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity shortcut."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + self.body(x))


class Teacher(nn.Module):
    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.widths[0], cfg.patch, cfg.patch, bias=False),
                                  nn.BatchNorm2d(cfg.widths[0]), nn.ReLU6(inplace=True))
        stages, lateral, cin = [], [], cfg.widths[0]
        for i, width in enumerate(cfg.widths):
            down = [conv_bn(cin, width, stride=2)] if i else []
            stages.append(nn.Sequential(*down, *[ResBlock(width) for _ in range(cfg.blocks)]))
            lateral.append(conv_bn(width, cfg.neck, kernel=1))
            cin = width
        self.stages, self.lateral = nn.ModuleList(stages), nn.ModuleList(lateral)
        self.smooth = conv_bn(cfg.neck, cfg.neck)
        self.head = nn.Conv2d(cfg.neck, 1, 1)
        self.prior = nn.Parameter(centre_prior_logits(cfg.prior))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, in_channels, 256, 256) in [-1, 1] -> logits (B, 1, 64, 64)."""
        y, feats = self.stem(x), []
        for stage in self.stages:
            y = stage(y)
            feats.append(y)
        top = self.lateral[-1](feats[-1])
        for lateral, feat in zip(reversed(self.lateral[:-1]), reversed(feats[:-1])):
            top = F.interpolate(top, size=feat.shape[-2:], mode="bilinear", align_corners=False) + lateral(feat)
        z = self.head(self.smooth(top))
        z = z + F.interpolate(self.prior, size=z.shape[-2:], mode="bilinear", align_corners=False)
        side = self.cfg.output_size
        return F.interpolate(z, size=(side, side), mode="bilinear", align_corners=False)


def teacher_input(cfg: TeacherConfig, frames: list[torch.Tensor]) -> torch.Tensor:
    """Normalised frames t, t+1, t+2 (B, 3, H, W) -> the teacher's input channels."""
    if cfg.in_channels == 3:
        return frames[0]
    return torch.cat([frames[0], frames[0] - frames[1], frames[1] - frames[2]], 1)


def build_teacher(name: str) -> Teacher:
    return Teacher(TEACHERS[name])
