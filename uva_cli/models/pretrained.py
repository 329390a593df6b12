"""ImageNet MobileNets read from their original TFLite files into plain PyTorch modules.

The files (in `../shared/pretrained/`, see its README) are quantised: every constant is
dequantised as (q - zero_point) * scale, per output channel where the file has per-channel
scales. Batch norm is already folded into each convolution, so a converted layer is a conv with
bias and the file's fused activation (ReLU6). TensorFlow's "SAME" padding is asymmetric for
stride 2 (one extra pixel at the bottom/right); `SameConv` matches it, so features do not shift.

Reading a file needs the optional `tflite` flatbuffer parser (a training-time dependency); a
network that was converted once is saved inside uva's own checkpoints and loads without it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ..hashing import sha256


@dataclass(frozen=True)
class Source:
    """A pretrained file uva builds on: where it lives under the pretrained folder, its checksum,
    licence and where a user can get it."""

    file: str
    sha256: str
    licence: str
    origin: str


SOURCES: dict[str, Source] = {
    "mobilenet_v2": Source("imagenet/tf2_mobilenet_v2_1.0_224_ptq.tflite",
                           "5d3137241276e79c86d14a74fe43581398ae0e815191d3dba45495b810840e8c",
                           "Apache-2.0", "google-coral/test_data (commit 104342d), tf2_mobilenet_v2_1.0_224_ptq.tflite"),
    "mobilenet_v1_025": Source("imagenet/mobilenet_v1_0.25_128_quant.tflite",
                               "cb273c23ee76374b05b9583177e28aa19744858a7679c56a250e83d0333da785",
                               "Apache-2.0", "google-coral/test_data (commit 104342d), mobilenet_v1_0.25_128_quant.tflite"),
    "blazeface": Source("faces/blazeface/blazeface.pth",
                        "54ecff653feaaaf1f7d44b6aff28fd2fc50e483a4e847563b6dd261369c43ba4",
                        "Apache-2.0", "hollance/BlazeFace-PyTorch (commit 852bfd8), blazeface.pth"),
}


def pretrained_dir() -> Path:
    """UVA_PRETRAINED, else `../shared/pretrained` beside the working directory or the checkout."""
    env = os.environ.get("UVA_PRETRAINED")
    if env:
        return Path(env)
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base.parent / "shared" / "pretrained"
        if candidate.is_dir():
            return candidate
    return Path.cwd().parent / "shared" / "pretrained"


def source_path(name: str) -> Path:
    """The verified file of a pretrained source; a one-line error naming it when missing or altered."""
    src = SOURCES[name]
    path = pretrained_dir() / src.file
    if not path.is_file():
        raise WeightsError(f"{path}: pretrained file missing; get {src.origin} ({src.licence}) and put it "
                           f"there, or point UVA_PRETRAINED at the folder that holds {src.file}")
    if sha256(path) != src.sha256:
        raise WeightsError(f"{path}: sha256 differs from {src.sha256[:12]}…: not the original {Path(src.file).name}")
    return path


# ----------------------------------------------------------------------------- TFLite reading

@dataclass
class ConvSpec:
    """One convolution of a TFLite graph, dequantised, in PyTorch layout (OIHW)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int
    depthwise: bool
    relu6: bool


def read_convs(path: Path) -> list[ConvSpec]:
    """Every CONV_2D and DEPTHWISE_CONV_2D of the file's main graph, in graph order."""
    try:
        import tflite
    except ImportError:
        raise WeightsError("reading TFLite files needs the tflite package: pip install tflite") from None
    buf = Path(path).read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    ops = tflite.BuiltinOperator
    specs = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if kind not in (ops.CONV_2D, ops.DEPTHWISE_CONV_2D):
            continue
        depthwise = kind == ops.DEPTHWISE_CONV_2D
        options = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if options.Padding() != tflite.Padding.SAME:
            raise WeightsError(f"{path}: only SAME-padded convolutions are supported")
        inputs = op.InputsAsNumpy()
        weight = _constant(model, graph, inputs[1])  # OHWI, depthwise 1HWC
        bias = _constant(model, graph, inputs[2])
        weight = weight.transpose(3, 0, 1, 2) if depthwise else weight.transpose(0, 3, 1, 2)
        act = options.FusedActivationFunction()
        specs.append(ConvSpec(np.ascontiguousarray(weight, np.float32), bias.astype(np.float32),
                              options.StrideW(), depthwise, act == tflite.ActivationFunctionType.RELU6))
    return specs


def _constant(model, graph, index: int) -> np.ndarray:
    """A constant tensor, dequantised along its quantised dimension."""
    tensor = graph.Tensors(index)
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    dtype = {2: np.int32, 3: np.uint8, 9: np.int8, 0: np.float32}[tensor.Type()]
    values = np.frombuffer(raw.tobytes(), dtype=dtype).reshape(tensor.ShapeAsNumpy())
    quant = tensor.Quantization()
    if quant is None or quant.ScaleLength() == 0:
        return values.astype(np.float32)
    scale, zero = quant.ScaleAsNumpy().astype(np.float64), quant.ZeroPointAsNumpy().astype(np.float64)
    if scale.size > 1:  # per channel along QuantizedDimension
        shape = [1] * values.ndim
        shape[quant.QuantizedDimension()] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((values.astype(np.float64) - zero) * scale).astype(np.float32)


# ----------------------------------------------------------------------------- networks

class SameConv(nn.Conv2d):
    """A conv with TensorFlow's SAME padding (extra pixel at the end for even sides) and an
    optional ReLU6, as every layer of these files is."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, depthwise: bool = False,
                 relu6: bool = True):
        super().__init__(cin, cout, kernel, stride, groups=cin if depthwise else 1)
        self.relu6 = relu6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
            total = max((math.ceil(size / self.stride[0]) - 1) * self.stride[0] + self.kernel_size[0] - size, 0)
            pads += [total // 2, total - total // 2]
        y = F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)
        return F.relu6(y) if self.relu6 else y


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [SameConv(cin, hidden, 1)] if expand != 1 else []
        layers += [SameConv(hidden, hidden, 3, stride, depthwise=True), SameConv(hidden, cout, 1, relu6=False)]
        self.layers = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        return x + y if self.residual else y


# MobileNetV2 (width 1.0): (expansion, channels, repeats, first stride) per stage.
_V2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2(nn.Module):
    """MobileNetV2 up to its last 320-channel block (no 1280 conv, no classifier). `forward`
    returns the activations at strides 8, 16 and 32 (32, 96 and 320 channels), the layers a
    saliency readout reads. Input: (B, 3, H, W) RGB in [-1, 1]."""

    taps = {8: 32, 16: 96, 32: 320}

    def __init__(self):
        super().__init__()
        blocks, cin = [SameConv(3, 32, 3, 2)], 32
        last_at: dict[int, int] = {}  # stride -> index of the last block at that stride
        stride = 2
        for expand, cout, repeats, first in _V2_STAGES:
            for r in range(repeats):
                blocks.append(InvertedResidual(cin, cout, first if r == 0 else 1, expand))
                cin = cout
            stride *= first
            last_at[stride] = len(blocks) - 1
        self.blocks = nn.Sequential(*blocks)
        self.tap_at = {last_at[s]: s for s in self.taps}  # block index -> the stride it is tapped for

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        out = {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.tap_at:
                out[self.tap_at[i]] = x
        return out


class MobileNetV1(nn.Module):
    """MobileNetV1 at a width multiplier (depthwise 3x3 + pointwise 1x1 pairs), up to its last
    pointwise conv. `layers` is a flat list of the 27 convs so a student can take the first few."""

    _V1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
           (512, 1), (512, 1), (1024, 2), (1024, 1))

    def __init__(self, width: float = 0.25):
        super().__init__()
        cin = int(32 * width)
        layers = [SameConv(3, cin, 3, 2)]
        for channels, stride in self._V1:
            cout = int(channels * width)
            layers += [SameConv(cin, cin, 3, stride, depthwise=True), SameConv(cin, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _load_convs(module: nn.Module, specs: list[ConvSpec], what: str) -> nn.Module:
    convs = [m for m in module.modules() if isinstance(m, SameConv)]
    specs = specs[:len(convs)]  # the file's classifier conv(s) come last and are not used
    if len(specs) != len(convs):
        raise WeightsError(f"{what}: {len(specs)} convolutions in the file, {len(convs)} expected")
    for conv, spec in zip(convs, specs):
        if (tuple(conv.weight.shape) != spec.weight.shape or conv.stride[0] != spec.stride
                or conv.relu6 != spec.relu6 or (conv.groups > 1) != spec.depthwise):
            raise WeightsError(f"{what}: layer {tuple(conv.weight.shape)} does not match the file's "
                               f"{spec.weight.shape} (stride {spec.stride})")
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(spec.weight))
            conv.bias.copy_(torch.from_numpy(spec.bias))
    return module


def mobilenet_v2() -> MobileNetV2:
    """The ImageNet MobileNetV2 (per-channel int8 file), converted."""
    path = source_path("mobilenet_v2")
    return _load_convs(MobileNetV2(), read_convs(path), str(path)).eval()


def mobilenet_v1_025() -> MobileNetV1:
    """The ImageNet MobileNetV1 x0.25 (uint8 file), converted: 463,856 parameters with its classifier."""
    path = source_path("mobilenet_v1_025")
    return _load_convs(MobileNetV1(0.25), read_convs(path), str(path)).eval()


def classifier(name: str) -> tuple[nn.Module, nn.Conv2d]:
    """The converted network with its ImageNet classifier (a 1x1 conv on the pooled features),
    for checking a conversion against the original file."""
    path = source_path(name)
    specs = read_convs(path)
    if name == "mobilenet_v2":
        net = _load_convs(MobileNetV2(), specs, str(path))
        net.top = SameConv(320, 1280, 1)
        _load_convs(net.top, specs[len(specs) - 2:len(specs) - 1], str(path))
    else:
        net = _load_convs(MobileNetV1(0.25), specs, str(path))
    last = specs[-1]
    head = nn.Conv2d(last.weight.shape[1], last.weight.shape[0], 1)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(last.weight))
        head.bias.copy_(torch.from_numpy(last.bias))
    return net.eval(), head.eval()


def imagenet_logits(name: str, net: nn.Module, head: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """(B, 1001) logits of a converted classifier on (B, 3, H, W) input in [-1, 1]."""
    y = net(x)
    if name == "mobilenet_v2":
        y = net.top(y[32])
    return head(y.mean((2, 3), keepdim=True)).flatten(1)
