"""ONNX export of a student's inference graph and an ONNX Runtime session to run it.

The exported graph is `window_maps`: N+1 normalised frames (dynamic N) in, N maps out, so the
ONNX backend pays the trunk once per frame exactly like the PyTorch one.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from .errors import UvaError


def export_onnx(model, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write `model` (a UVANet, batch norm folded or not) as ONNX; temp name, then rename."""
    import torch

    from .models.student import window_maps

    class Window(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            return window_maps(self.net, frames)

    side = model.cfg.input_size
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Window().eval(), (torch.zeros(3, 3, side, side),), str(tmp), input_names=["frames"],
                          output_names=["maps"], dynamic_axes={"frames": {0: "frames"}, "maps": {0: "pairs"}},
                          opset_version=opset, dynamo=False)
    os.replace(tmp, path)
    return path


def onnx_session(path: str | os.PathLike, threads: int = 0):
    """An ONNX Runtime session on `threads` CPU threads (0: ONNX Runtime's default, every core).
    Idle threads sleep instead of spinning: while a video streams the decoder needs the cores
    the network is not using."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UvaError("the onnx backend needs ONNX Runtime: pip install 'uva[onnx]'") from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
