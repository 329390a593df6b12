"""High-resolution teachers for coupled knowledge distillation, built on an ImageNet MobileNetV2.

25 eye-tracked videos cannot teach a network what a face, a person or a ball is; an ImageNet
encoder already knows. Both teachers read 256x256 frames through the same frozen MobileNetV2
(converted from its original file, see `pretrained.py`) and learn only a small readout on its
activations, plus a learned log centre prior:

- `features(x)`: the encoder's stride-8, 16 and 32 activations brought to the stride-16 grid
  (16x16 at 256 px) and stacked with a 4x4 space-to-depth of the frame's brightness (its motion
  cue) and, with `faces`, BlazeFace's face maps at two scales (faces.py): one tensor per frame,
  so a video pays the encoder once per frame and training can cache it (part by part);
- `fuse(f_t, f_next)`: the readout. The spatial teacher reads frame t's features; the temporal
  teacher also reads their change to frame t+1 (feature and brightness differences), which is
  where moving things show.

They share the students' interface (`features`, `fuse`, `cfg.input_size`), so `uva saliency`,
`uva eval` and `uva bench` run them like any model: slower, and better.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .faces import BlazeFace
from .pretrained import MobileNetV2
from .student import centre_prior_logits

BRIGHTNESS = 16  # channels of the 4x4 space-to-depth brightness grid
ENCODER = sum(MobileNetV2.taps.values()) + BRIGHTNESS  # 464 channels of the "encoder" part
RESIDUAL = 4  # channels of `camera_residual`
FACES = 4  # face maps: two BlazeFace heads, on the frame at teacher size and at half of it


@dataclass(frozen=True)
class TeacherConfig:
    name: str
    motion: bool  # read the change from frame t to t+1 as well (the temporal teacher)
    faces: bool = False  # add BlazeFace's face maps to the features (cross-validated: no gain, so off)
    input_size: int = 256
    hidden: int = 64  # readout width
    dropout: float = 0.5  # channel dropout on the features while training (the readout overfits 20 videos fast)
    prior: int = 16  # side of the learned centre-prior grid
    output_size: int = 64
    priors: int = 0  # >0: that many learned prior grids, mixed per frame by a gate on the pooled features
    residual: bool = False  # with motion: also what moves against the camera (`camera_residual`)

    @classmethod
    def from_dict(cls, d: dict) -> "TeacherConfig":
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


TEACHERS: dict[str, TeacherConfig] = {
    "teacher-spatial": TeacherConfig("teacher-spatial", motion=False),
    "teacher-temporal": TeacherConfig("teacher-temporal", motion=True),
}


class Teacher(nn.Module):
    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = MobileNetV2()
        if cfg.faces:
            self.faces = BlazeFace()
        channels = ENCODER + (FACES if cfg.faces else 0)
        cin = (2 * channels + (RESIDUAL if cfg.residual else 0)) if cfg.motion else channels
        # GroupNorm, not BatchNorm: a sample's map never depends on the rest of its batch, so
        # data-parallel training on N processes is exactly one process on their joint batch
        self.readout = nn.Sequential(
            nn.Dropout2d(cfg.dropout), nn.Conv2d(cin, cfg.hidden, 1), nn.GroupNorm(8, cfg.hidden), nn.ReLU(inplace=True),
            nn.Conv2d(cfg.hidden, cfg.hidden, 3, padding=1, groups=cfg.hidden // 16), nn.ReLU(inplace=True),
            nn.Conv2d(cfg.hidden, 1, 1))
        self.prior = nn.Parameter(centre_prior_logits(cfg.prior))
        if cfg.priors:  # context for the prior: where people look in a race is not where they look at a talk
            # added to the centre prior, starting near zero: the plain teacher at first
            self.priors = nn.Parameter(0.01 * torch.randn(cfg.priors, 1, cfg.prior, cfg.prior))
            self.gate = nn.Linear(cin, cfg.priors)
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def parts(self) -> dict[str, nn.Module]:
        """The frozen networks behind `features`, in channel order, by part name."""
        return {"encoder": self.encoder, **({"faces": self.faces} if self.cfg.faces else {})}

    def part_features(self, part: str, x: torch.Tensor) -> torch.Tensor:
        """One part's channels of `features` on the stride-16 grid."""
        grid = (int(x.shape[-2]) // 16, int(x.shape[-1]) // 16)  # plain ints: constants in an ONNX export
        if part == "faces":
            half = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
            return torch.cat([self.faces.face_map(x, grid), self.faces.face_map(half, grid)], 1)
        taps = self.encoder(x)
        # fixed 2x2 and 4x4 means (frame sides are multiples of 16): what adaptive pooling gives
        # there, and unlike it exportable to ONNX, whose graph does not know the feature sizes
        brightness = F.avg_pool2d(x.mean(1, keepdim=True), 4)
        return torch.cat([F.avg_pool2d(taps[8], 2), taps[16],
                          F.interpolate(taps[32], size=grid, mode="bilinear", align_corners=False),
                          F.pixel_unshuffle(brightness, 4)], 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) frames in [-1, 1] -> (B, channels, S/16, S/16)."""
        return torch.cat([self.part_features(part, x) for part in self.parts()], 1)

    def fuse(self, f_t: torch.Tensor, f_next: torch.Tensor) -> torch.Tensor:
        """Logits (B, 1, out, out) from the features of frame t and t+1."""
        x = torch.cat([f_t, f_t - f_next], 1) if self.cfg.motion else f_t
        if self.cfg.motion and self.cfg.residual:
            x = torch.cat([x, camera_residual(f_t, f_next)], 1)
        z = self.readout(x)
        prior = self.prior
        if self.cfg.priors:
            mix = torch.softmax(self.gate(x.mean((2, 3))), 1)
            prior = prior + (mix[:, :, None, None, None] * self.priors[None]).sum(1)
        z = z + F.interpolate(prior, size=z.shape[-2:], mode="bilinear", align_corners=False)
        side = self.cfg.output_size
        return F.interpolate(z, size=(side, side), mode="bilinear", align_corners=False)

    def forward(self, x_t: torch.Tensor, x_next: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.features(x_t), self.features(x_next))


def camera_residual(f_t: torch.Tensor, f_next: torch.Tensor, reach: int = 4) -> torch.Tensor:
    """What moves against the camera, from the features' brightness grids (stride 4): the shift of
    frame t+1 (up to `reach` cells, 4 px each at 256 px, either way) that best explains frame t is
    the camera's motion; what it leaves unexplained is what moves in the scene. A panning shot then
    shows its rider, not every textured edge. Returns (B, 4, h, w) on the features' grid: the
    residual's mean and max per cell, and the camera's shift (x, y, in cells / reach) everywhere."""
    b_t = F.pixel_shuffle(f_t[:, ENCODER - BRIGHTNESS:ENCODER].float(), 4)
    b_n = F.pixel_shuffle(f_next[:, ENCODER - BRIGHTNESS:ENCODER].float(), 4)
    h, w = b_t.shape[-2:]
    padded = F.pad(b_n, (reach,) * 4, mode="replicate")
    shifts = [(dy, dx) for dy in range(2 * reach + 1) for dx in range(2 * reach + 1)]
    moved = torch.cat([padded[..., dy:dy + h, dx:dx + w] for dy, dx in shifts], 1)  # (B, K, h, w)
    error = (moved - b_t).abs()
    best = error.mean((2, 3)).argmin(1)  # (B,)
    residual = error.gather(1, best.view(-1, 1, 1, 1).expand(-1, 1, h, w))
    offset = torch.tensor(shifts, device=best.device, dtype=torch.float32)[best] / reach - 1  # (B, 2): y, x
    grid = f_t.shape[-2:]
    camera = offset.flip(1).view(-1, 2, 1, 1).expand(-1, 2, *grid)
    return torch.cat([F.avg_pool2d(residual, 4), F.max_pool2d(residual, 4), camera], 1).to(f_t.dtype)


def build_teacher(name: str, pretrained: bool = False, **changes) -> Teacher:
    """A teacher network; `pretrained` fills its encoder (and face detector) from the original
    files (training starts there; a saved teacher carries them in its own checkpoint). `changes`
    alter fields of its config row."""
    from .faces import blazeface
    from .pretrained import mobilenet_v2

    teacher = Teacher(replace(TEACHERS[name], **changes))
    if pretrained:
        teacher.encoder.load_state_dict(mobilenet_v2().state_dict())
        if teacher.cfg.faces:
            teacher.faces.load_state_dict(blazeface().state_dict())
    return teacher
