"""Small composable blocks: the CA-Res block of UVA-Net and its channel attention.

CA-Res = a MobileNetV2 inverted residual (1x1 expand, 3x3 depthwise, 1x1 linear projection,
identity shortcut when shapes allow) followed by channel attention that pools each channel both
by average and by maximum, passes both through one shared bottleneck and gates with a sigmoid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1,
            act: bool = True) -> nn.Sequential:
    """Conv + BatchNorm (+ ReLU6): the unit every block is made of."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class ChannelAttention(nn.Module):
    """Gate channels by sigmoid(mlp(avgpool(x)) + mlp(maxpool(x))), the mlp shared by both."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(8, channels // reduction)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.mlp(x.mean((2, 3), keepdim=True)) + self.mlp(spatial_max(x))
        return x * torch.sigmoid(gate)


def spatial_max(x: torch.Tensor) -> torch.Tensor:
    """Max over H and W, (B, C, 1, 1). On channels-last tensors (inference) the global max pool
    is 2-8x faster than amax, whose reduction there is not vectorised; on contiguous ones
    (training) amax is the fast one. Both give the same values."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return F.adaptive_max_pool2d(x, 1)
    return x.amax((2, 3), keepdim=True)


class CARes(nn.Module):
    """Inverted residual with channel attention (the paper's CA-Res block)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 4, reduction: int = 4):
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn(cin, hidden, kernel=1))
        layers += [conv_bn(hidden, hidden, stride=stride, groups=hidden),
                   conv_bn(hidden, cout, kernel=1, act=False)]
        self.body = nn.Sequential(*layers)
        self.attention = ChannelAttention(cout, reduction)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attention(self.body(x))
        return x + y if self.residual else y


def ca_res_stack(cin: int, stages: tuple[tuple[int, int, int], ...]) -> nn.Sequential:
    """Blocks from rows of (out_channels, stride, expansion)."""
    blocks = []
    for cout, stride, expand in stages:
        blocks.append(CARes(cin, cout, stride, expand))
        cin = cout
    return nn.Sequential(*blocks)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every Conv2d+BatchNorm2d pair into one biased Conv2d (inference only): the same
    function with one layer less per unit. Changes the model in place and returns it."""
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                  conv.padding, groups=conv.groups, bias=True)
                with torch.no_grad():
                    fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                    fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
                module[i], module[i + 1] = fused, nn.Identity()
    return model
