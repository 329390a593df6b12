"""Saliency losses on probability maps (softmax of logits over pixels).

KLD and CC are the standard pair for training saliency models; the paper's MSE to the density
map is available too. Targets are (B, S, S) maps that each sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

EPS = 1e-8


@dataclass
class LossWeights:
    kld: float = 1.0
    cc: float = 0.5
    mse: float = 0.0


def kld(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || softmax(logits)), mean over the batch."""
    logp = torch.log_softmax(logits.flatten(1).float(), dim=1)
    t = target.flatten(1).float()
    return (t * (torch.log(t + EPS) - logp)).sum(1).mean()


def cc(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Pearson correlation between predicted and target maps, mean over the batch."""
    p = torch.softmax(logits.flatten(1).float(), dim=1)
    t = target.flatten(1).float()
    p, t = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    r = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + EPS)
    return (1.0 - r).mean()


def mse(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between max-normalised maps (the paper's loss, on maps scaled to peak 1)."""
    p = torch.softmax(logits.flatten(1).float(), dim=1)
    t = target.flatten(1).float()
    p = p / (p.amax(1, keepdim=True) + EPS)
    t = t / (t.amax(1, keepdim=True) + EPS)
    return ((p - t) ** 2).mean()


def saliency_loss(logits: torch.Tensor, target: torch.Tensor, w: LossWeights) -> torch.Tensor:
    total = logits.new_zeros((), dtype=torch.float32)
    for name, fn in (("kld", kld), ("cc", cc), ("mse", mse)):
        weight = getattr(w, name)
        if weight:
            total = total + weight * fn(logits, target)
    return total


def pool_maps(maps: torch.Tensor, side: int) -> torch.Tensor:
    """(B, h, w) distributions -> (B, side, side) by average pooling, renormalised."""
    if maps.shape[-1] != side:
        maps = F.adaptive_avg_pool2d(maps[:, None], side)[:, 0]
    return maps / maps.sum((1, 2), keepdim=True).clamp_min(1e-12)
