"""Batch augmentation applied identically to every frame and every target map of a sample:
random horizontal flips, mild zoom-and-shift crops, and brightness/contrast jitter on frames.
Small data (25 videos) overfits fast without it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(frames: list[torch.Tensor], maps: list[torch.Tensor], g: torch.Generator,
            min_scale: float = 0.8) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """frames: (B, C, H, W) in [-1, 1], any sizes; maps: (B, h, w) each summing to 1 per sample.
    Returns them warped by one random transform per sample (maps renormalised)."""
    b = frames[0].shape[0]
    dev = frames[0].device
    rand = lambda *shape: torch.rand(*shape, generator=g).to(dev)  # noqa: E731
    scale = min_scale + (1 - min_scale) * rand(b)
    shift = (rand(b, 2) * 2 - 1) * (1 - scale)[:, None]
    flip = torch.where(rand(b) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0] = scale * flip
    theta[:, 1, 1] = scale
    theta[:, :, 2] = shift

    def warp(v: torch.Tensor) -> torch.Tensor:
        grid = F.affine_grid(theta, [b, 1, *v.shape[-2:]], align_corners=False)
        return F.grid_sample(v, grid, mode="bilinear", padding_mode="border", align_corners=False)

    gain = 1 + (rand(b, 1, 1, 1) * 2 - 1) * 0.2  # contrast
    bias = (rand(b, 1, 1, 1) * 2 - 1) * 0.1  # brightness
    mean = frames[0].mean((1, 2, 3), keepdim=True)
    frames = [((warp(f) - mean) * gain + mean + bias).clamp(-1, 1) for f in frames]
    out_maps = []
    for m in maps:
        m = warp(m[:, None])[:, 0].clamp_min(0)
        out_maps.append(m / m.sum((1, 2), keepdim=True).clamp_min(1e-12))
    return frames, out_maps
