"""Batch augmentation applied identically to frame t, frame t+1 and the target map: random
horizontal flips, mild zoom-and-shift crops, and brightness/contrast jitter. Small data (25
videos) overfits fast without it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(x_t: torch.Tensor, x_n: torch.Tensor, target: torch.Tensor, g: torch.Generator,
            min_scale: float = 0.8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x_t, x_n: (B, 3, S, S) in [-1, 1]; target: (B, S, S) summing to 1 per sample."""
    b = x_t.shape[0]
    dev = x_t.device
    rand = lambda *shape: torch.rand(*shape, generator=g).to(dev)  # noqa: E731
    scale = min_scale + (1 - min_scale) * rand(b)
    shift = (rand(b, 2) * 2 - 1) * (1 - scale)[:, None]
    flip = torch.where(rand(b) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x_t.shape), align_corners=False)
    warp = lambda v: F.grid_sample(v, grid, mode="bilinear", padding_mode="border", align_corners=False)  # noqa: E731
    x_t, x_n = warp(x_t), warp(x_n)
    target = warp(target[:, None])[:, 0].clamp_min(0)
    target = target / target.sum((1, 2), keepdim=True).clamp_min(1e-12)
    gain = 1 + (rand(b, 1, 1, 1) * 2 - 1) * 0.2  # contrast
    bias = (rand(b, 1, 1, 1) * 2 - 1) * 0.1  # brightness
    mean = x_t.mean((1, 2, 3), keepdim=True)
    jitter = lambda v: ((v - mean) * gain + mean + bias).clamp(-1, 1)  # noqa: E731
    return jitter(x_t), jitter(x_n), target
