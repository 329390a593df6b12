"""ONNX export of a student's inference graph and an ONNX Runtime session to run it.

The exported graph is `window_maps`: N+1 normalised frames (dynamic N) in, N maps out, so the
ONNX backend pays the trunk once per frame exactly like the PyTorch one.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from .atomic import write_bytes
from .errors import UvaError, WeightsError, write_failed

OPSET = 17
EXPORTER = "torch.onnx.export (TorchScript, dynamo=False)"  # with torch's version, part of the cache key


def exportable(model) -> bool:
    """Whether `model` exports to ONNX: the students and the shipped teachers do; a teacher with
    BlazeFace face maps (an ablation, `"arch": {"faces": true}`) was never exported and runs on
    PyTorch."""
    from .models.teachers import Teacher

    return not (isinstance(model, Teacher) and model.cfg.faces)


def onnx_bytes(model, opset: int = OPSET) -> bytes:
    """`model` (a UVANet, batch norm folded or not) as an ONNX graph, in memory."""
    import torch

    if not exportable(model):
        raise UvaError("a teacher with face maps runs on PyTorch only: ONNX export and --backend onnx need "
                       "a student or a teacher without them")

    from .models.student import window_maps

    class Window(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, frames: torch.Tensor) -> torch.Tensor:
            return window_maps(self.net, frames)

    side = model.cfg.input_size
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Window().eval(), (torch.zeros(3, 3, side, side),), buffer, input_names=["frames"],
                          output_names=["maps"], dynamic_axes={"frames": {0: "frames"}, "maps": {0: "pairs"}},
                          opset_version=opset, dynamo=False)
    return buffer.getvalue()


def save_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` under a temporary name unique to this writer, then rename it into place: any
    number of processes may write the same path at once, and a reader sees a whole file or none.
    Readable by every user (a shared cache), unlike a temporary file's usual 0600."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_bytes(path, data, unique=True, mode=0o644)
    except OSError as exc:
        raise write_failed(path, exc) from None


def export_onnx(model, path: str | os.PathLike, opset: int = OPSET) -> Path:
    """Write `model` as an ONNX file (atomically, see `save_atomic`)."""
    return save_atomic(path, onnx_bytes(model, opset))


def onnx_session(graph: str | os.PathLike | bytes, threads: int = 0):
    """An ONNX Runtime session for a graph file (or its bytes) on `threads` CPU threads (0: ONNX
    Runtime's default, every core). Idle threads sleep instead of spinning: while a video streams
    the decoder needs the cores the network is not using. A graph that is not `uva export`'s
    (one input `frames`, (N+1, 3, S, S)) is a WeightsError."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UvaError("the onnx backend needs ONNX Runtime: pip install 'uva[onnx]'") from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    where = "exported graph" if isinstance(graph, bytes) else str(graph)
    try:
        session = ort.InferenceSession(graph if isinstance(graph, bytes) else str(graph), options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors for an unreadable graph
        raise WeightsError(f"{where}: ONNX Runtime cannot load it ({str(exc).splitlines()[0][:200]})") from None
    inputs = session.get_inputs()
    shape = inputs[0].shape if len(inputs) == 1 and inputs[0].name == "frames" else []
    if len(shape) != 4 or shape[1] != 3 or not isinstance(shape[3], int) or shape[2] != shape[3]:
        raise WeightsError(f"{where}: not a graph written by `uva export` "
                           f"(expected one input 'frames' of shape (N+1, 3, S, S))")
    return session
