"""BlazeFace (MediaPipe's short-range face detector) as a dense face-likelihood map.

People look at faces first. The detector's weights come from a PyTorch port of MediaPipe's model
(`blazeface.pth`, Apache-2.0, hollance/BlazeFace-PyTorch commit 852bfd8; see pretrained.py's
SOURCES). Its two classifier heads score anchors on a stride-8 and a stride-16 grid; instead of
decoding boxes we keep, per grid cell, the best anchor's face probability, which is a map of where
faces are that a saliency readout can use like any other feature channel. The network is fully
convolutional, so running it on a larger picture finds proportionally smaller faces.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BlazeBlock(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 with a shortcut (max-pooled when strided, zero-padded when
    the block widens), then ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.stride, self.pad_channels = stride, cout - cin
        self.convs = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, padding=0 if stride == 2 else 1, groups=cin),
                                   nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.pad(x, (0, 2, 0, 2)) if self.stride == 2 else x
        if self.stride == 2:
            x = F.max_pool2d(x, 2)
        if self.pad_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad_channels))
        return F.relu(self.convs(h) + x)


_BACKBONE1 = ((24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1),
              (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1))
_BACKBONE2 = ((88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1))


class BlazeFace(nn.Module):
    """The front-camera BlazeFace network (its layer names match the port's state dict)."""

    def __init__(self):
        super().__init__()
        self.backbone1 = nn.Sequential(nn.Conv2d(3, 24, 5, 2), nn.ReLU(inplace=True),
                                       *[BlazeBlock(*row) for row in _BACKBONE1])
        self.backbone2 = nn.Sequential(*[BlazeBlock(*row) for row in _BACKBONE2])
        self.classifier_8 = nn.Conv2d(88, 2, 1)
        self.classifier_16 = nn.Conv2d(96, 6, 1)
        self.regressor_8 = nn.Conv2d(88, 32, 1)
        self.regressor_16 = nn.Conv2d(96, 96, 1)

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Anchor logits on the stride-8 (2 anchors a cell) and stride-16 grid (6 a cell) for
        (B, 3, H, W) RGB in [-1, 1]."""
        f8 = self.backbone1(F.pad(x, (1, 2, 1, 2)))
        f16 = self.backbone2(f8)
        return self.classifier_8(f8), self.classifier_16(f16)

    def face_map(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """(B, 2, *grid) face probabilities: the best anchor per cell of each head, pooled to grid."""
        s8, s16 = self.scores(x)
        maps = [torch.sigmoid(s.clamp(-100, 100).amax(1, keepdim=True)) for s in (s8, s16)]
        return torch.cat([F.adaptive_max_pool2d(m, grid) if m.shape[-1] >= grid[-1]
                          else F.interpolate(m, size=grid, mode="bilinear", align_corners=False) for m in maps], 1)


def blazeface() -> BlazeFace:
    """BlazeFace with the port's weights (checked against their sha256)."""
    from .pretrained import source_path

    net = BlazeFace()
    net.load_state_dict(torch.load(source_path("blazeface"), map_location="cpu", weights_only=True))
    return net.eval()
