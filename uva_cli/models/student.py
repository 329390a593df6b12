"""The UVA-Net student: a shared low-resolution trunk, a spatial and a temporal branch, and a
fusion head, every variant one row of `STUDENTS`.

Frame t and frame t+1 both go through the trunk; the spatial branch sees f_t, the temporal branch
sees concat(f_t, f_t - f_t+1) (motion as a feature difference, no optical flow). Each head gives
logits at 1/8 of the input (8x8 at 64 px, 4x4 at 32 px) plus a learned 8x8 centre prior
(initialised to a Gaussian centre bias), upsampled to the input size. A saliency map is the
softmax of the logits over pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import CARes, ca_res_stack, conv_bn

Rows = tuple[tuple[int, int, int], ...]  # (out_channels, stride, expansion) per CA-Res block


@dataclass(frozen=True)
class StudentConfig:
    name: str
    input_size: int
    stem: tuple[int, int]  # (channels, stride) of the first plain 3x3 conv
    trunk: Rows  # shared by frame t and t+1
    branch: Rows  # the spatial and the temporal branch each
    fusion: int  # channels of the fusion block
    prior: int = 8  # side of the learned centre-prior grid
    detail: bool = False  # heads also read the trunk's finer grid (1x1 conv), added to their logits
    fusion_residual: bool = False  # fused logits = mean of the branch heads' + a learned correction
    imagenet: int = 0  # >0: stem + trunk are MobileNetV1-0.25's first `imagenet` layers (ImageNet-initialised), not `trunk`

    @classmethod
    def from_dict(cls, d: dict) -> "StudentConfig":
        rows = lambda v: tuple(tuple(int(x) for x in r) for r in v)  # noqa: E731
        return cls(name=d["name"], input_size=int(d["input_size"]), stem=tuple(d["stem"]),
                   trunk=rows(d["trunk"]), branch=rows(d["branch"]), fusion=int(d["fusion"]),
                   prior=int(d.get("prior", 8)), detail=bool(d.get("detail", False)),
                   fusion_residual=bool(d.get("fusion_residual", False)),
                   imagenet=int(d.get("imagenet", 0)))

    def to_dict(self) -> dict:
        return asdict(self)


# The capacity curve (docs/distillation.md, "Distillation on the student's own views") measured
# students at 1x, 2x, 4x and 8x the multiply-adds of the paper-sized 64 px row (13.4 M): with
# online views from the teachers the 4x row (50 M, ~1,500 frames/s on two cores) scored best once
# trained longer, so it is uva-dva-64; uva-dva-32 is the 2x row on a quarter of the pixels (6.2 M),
# with 8x8 detail heads and a residual fusion head. The rows keep (channels, stride, expansion).
_X4 = dict(stem=(32, 2), trunk=((32, 1, 1), (48, 2, 4), (48, 1, 4)), branch=((80, 2, 4), (80, 1, 4), (96, 1, 4)),
           fusion=96)
_X2 = dict(stem=(24, 2), trunk=((24, 1, 1), (32, 2, 4), (32, 1, 4)), branch=((56, 2, 4), (56, 1, 4), (64, 1, 4)),
           fusion=64)

STUDENTS: dict[str, StudentConfig] = {
    "uva-dva-64": StudentConfig("uva-dva-64", 64, **_X4),
    "uva-dva-32": StudentConfig("uva-dva-32", 32, **_X2, detail=True, fusion_residual=True),
}


def centre_prior_logits(side: int) -> torch.Tensor:
    """Log of the Gaussian centre bias (sigma = half the side) on a side x side grid."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) / (0.5 * side)
    return (-(coords[None, :] ** 2 + coords[:, None] ** 2) / 2).view(1, 1, side, side)


def normalise(frames: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC RGB -> float NCHW in [-1, 1], the students' input convention."""
    return frames.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


class UVANet(nn.Module):
    """Student network; `features` runs once per frame so a video pays the trunk once per frame."""

    def __init__(self, cfg: StudentConfig):
        super().__init__()
        self.cfg = cfg
        stem_channels, stem_stride = cfg.stem
        if cfg.imagenet:
            units = imagenet_units(cfg.imagenet, stem_stride)
            self.stem, self.trunk = units[0], nn.Sequential(*units[1:])
            feat = units[-1][0].out_channels
        else:
            self.stem = conv_bn(3, stem_channels, stride=stem_stride)
            self.trunk = ca_res_stack(stem_channels, cfg.trunk)
            feat = cfg.trunk[-1][0]
        branch = cfg.branch[-1][0]
        self.spatial = ca_res_stack(feat, cfg.branch)
        self.temporal = ca_res_stack(2 * feat, cfg.branch)
        self.spatial_head = nn.Conv2d(branch, 1, 1)
        self.temporal_head = nn.Conv2d(branch, 1, 1)
        self.fusion = nn.Sequential(CARes(2 * branch, cfg.fusion, expand=2), nn.Conv2d(cfg.fusion, 1, 1))
        self.prior = nn.Parameter(centre_prior_logits(cfg.prior))
        if cfg.detail:  # per head, a 1x1 conv of what that head may see, at the trunk's grid
            self.spatial_detail = nn.Conv2d(feat, 1, 1)
            self.temporal_detail = nn.Conv2d(2 * feat, 1, 1)
            self.fusion_detail = nn.Conv2d(2 * feat, 1, 1)
        if cfg.fusion_residual:  # stage 2 then starts from the branches' mean and can only refine it
            for conv in (self.fusion[-1], getattr(self, "fusion_detail", None)):
                if conv is not None:
                    nn.init.zeros_(conv.weight)
                    nn.init.zeros_(conv.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.stem(x))

    def _branches(self, f_t: torch.Tensor, f_next: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.spatial(f_t), self.temporal(_motion(f_t, f_next))

    def _detail(self, head: str, x: torch.Tensor | None) -> torch.Tensor | None:
        return getattr(self, f"{head}_detail")(x) if self.cfg.detail else None

    def _parts(self, f_t: torch.Tensor, f_next: torch.Tensor,
               branches: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
        """Each head's coarse logits and fine-grid detail logits (None without `detail`), before
        the prior. Logits are linear in these parts, so the residual fusion adds their mean."""
        s, m = branches if branches is not None else self._branches(f_t, f_next)
        motion = _motion(f_t, f_next) if self.cfg.detail else None  # what the detail convs read
        parts = {"spatial": (self.spatial_head(s), self._detail("spatial", f_t)),
                 "temporal": (self.temporal_head(m), self._detail("temporal", motion)),
                 "fused": (self.fusion(torch.cat([s, m], 1)), self._detail("fusion", motion))}
        if self.cfg.fusion_residual:
            parts["fused"] = tuple(None if own is None else own + (a + b) / 2
                                   for own, a, b in zip(parts["fused"], parts["spatial"], parts["temporal"]))
        return parts

    def _to_logits(self, z: torch.Tensor, detail: torch.Tensor | None = None) -> torch.Tensor:
        """Head output + learned centre prior (+ detail), met on the finest of their grids, then
        upsampled to the input size."""
        grid = max(z.shape[-1], self.cfg.prior, 0 if detail is None else detail.shape[-1])
        z = _resize(z, grid) + _resize(self.prior, grid)
        if detail is not None:
            z = z + _resize(detail, grid)
        return _resize(z, self.cfg.input_size)

    def fuse(self, f_t: torch.Tensor, f_next: torch.Tensor) -> torch.Tensor:
        """Fused logits (B, 1, S, S) from trunk features of frame t and t+1."""
        return self._to_logits(*self._parts(f_t, f_next)["fused"])

    def heads(self, f_t: torch.Tensor, f_next: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of all three heads, for coupled distillation and deep supervision."""
        return self.heads_and_branches(f_t, f_next)[0]

    def heads_and_branches(self, f_t: torch.Tensor, f_next: torch.Tensor
                           ) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """`heads` and the two branches' outputs they read (hint losses match those to a teacher)."""
        branches = self._branches(f_t, f_next)
        parts = self._parts(f_t, f_next, branches)
        return {head: self._to_logits(*part) for head, part in parts.items()}, branches

    def forward(self, x_t: torch.Tensor, x_next: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.features(x_t), self.features(x_next))


def _motion(f_t: torch.Tensor, f_next: torch.Tensor) -> torch.Tensor:
    """The temporal branch's input: frame t's features and their change to frame t+1."""
    return torch.cat([f_t, f_t - f_next], 1)


def _resize(z: torch.Tensor, side: int) -> torch.Tensor:
    if z.shape[-1] == side and z.shape[-2] == side:
        return z
    return F.interpolate(z, size=(side, side), mode="bilinear", align_corners=False)


def imagenet_units(count: int, first_stride: int) -> list[nn.Sequential]:
    """The first `count` layers of MobileNetV1-0.25 as conv-BN-ReLU6 units (3x3 conv, then
    depthwise 3x3 / pointwise 1x1 pairs). `first_stride` 1 lets a 64 px frame meet the layers at
    the scale they learnt at 128 px: a student's frame is small, its objects are not."""
    from .pretrained import MobileNetV1

    units = []
    for i, conv in enumerate(list(MobileNetV1(0.25).layers)[:count]):
        stride = first_stride if i == 0 else conv.stride[0]
        units.append(conv_bn(conv.in_channels, conv.out_channels, conv.kernel_size[0], stride, conv.groups))
    return units


def build_student(name_or_cfg: str | StudentConfig, pretrained: bool = False) -> UVANet:
    """A student; with `pretrained` an `imagenet` trunk starts from MobileNetV1-0.25's weights."""
    cfg = STUDENTS[name_or_cfg] if isinstance(name_or_cfg, str) else name_or_cfg
    model = UVANet(cfg)
    if pretrained and cfg.imagenet:
        _load_imagenet([model.stem, *model.trunk])
    return model


def _load_imagenet(units: list[nn.Sequential]) -> None:
    """Copy the ImageNet MobileNetV1-0.25's convolutions into conv-BN units: the file's batch norm
    is folded into its biases, so each BN starts as identity plus that bias."""
    from .pretrained import mobilenet_v1_025

    source = list(mobilenet_v1_025().layers)[:len(units)]
    with torch.no_grad():
        for unit, conv in zip(units, source):
            unit[0].weight.copy_(conv.weight)
            bn = unit[1]
            bn.weight.fill_(1.0)
            bn.bias.copy_(conv.bias)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)


def probability_maps(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over pixels: (B, 1, S, S) logits -> (B, S, S) maps that each sum to 1."""
    b, _, h, w = logits.shape
    return torch.softmax(logits.reshape(b, h * w).float(), dim=1).reshape(b, h, w)


def window_maps(model: UVANet, x: torch.Tensor) -> torch.Tensor:
    """Maps for a window of N+1 normalised frames (each paired with the next): (N, S, S) scaled
    to peak 1. The one inference graph, shared by the engine and the ONNX export."""
    features = model.features(x)
    maps = probability_maps(model.fuse(features[:-1], features[1:]))
    return maps / maps.amax(dim=(1, 2), keepdim=True)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
