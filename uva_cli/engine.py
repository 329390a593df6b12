"""Inference: frames -> temporal windows -> batches -> saliency maps, on CPU or GPU.

Each batch holds B consecutive frames plus the frame after the last one, so every frame t is
paired with t+1 (the last frame of a video pairs with itself); the trunk runs once per frame.
Results do not depend on the batch size, and memory is bounded by one batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .video import Frame, VideoInfo, iter_frames

log = logging.getLogger("uva")


@dataclass
class Predictor:
    """A loaded model (a student, or a teacher) on a device; the state every prediction call shares."""

    model: "object | None"  # uva_cli.models.student.UVANet; None for an .onnx file from `uva export`
    name: str
    device: str
    batch_size: int = 64
    backend: str = "torch"  # "torch" or "onnx"
    session: "object | None" = None  # an ONNX Runtime session when backend is onnx
    precision: str = "fp32"  # "fp16": weights and activations in half precision (CUDA's default)
    threads: int = 0  # CPU threads the network was given (0: not chosen here)

    @property
    def input_size(self) -> int:
        if self.model is None:  # the graph's fixed frame side (checked by export.onnx_session)
            return int(self.session.get_inputs()[0].shape[3])
        return self.model.cfg.input_size


PRECISIONS = ("auto", "fp32", "fp16")


def cuda_possible() -> bool:
    """False when the installed PyTorch is a CPU-only build (its version ends "+cpu"): known
    without importing torch."""
    return not torch_version().endswith("+cpu")


def pick_device(device: str = "auto") -> str:
    """The device to run on: for "auto", "cuda" where PyTorch sees a GPU, else "cpu"; a CUDA
    device asked for must exist. PyTorch is imported only where CUDA is possible and asked about."""
    if device == "auto" and not cuda_possible():
        return "cpu"
    if not device.startswith(("auto", "cuda")):
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from .errors import UvaError

        raise UvaError("--device cuda asked for, but PyTorch sees no CUDA GPU")
    return device


# A network reading frames at least this large (the teachers' 256 px) is the pipeline's bottleneck.
HEAVY_SIDE = 128


def pipeline_threads(input_size: int = 0, cores: int = 0) -> int:
    """CPU threads for the network while a video streams: UVA_THREADS, else all cores but one,
    which decoding and encoding use beside it (on 2 cores: end-to-end 0.7-0.8x decode speed with
    one network thread against 0.63-0.69x with two, measured on the bundled example), or every
    core for a network on frames of HEAVY_SIDE px or more: a teacher does 28x the student's
    multiply-adds per frame, so decoding waits on it, not it on decoding. `cores`: what this
    process may use (a `--jobs` worker's share), default all."""
    value = os.environ.get("UVA_THREADS", "").strip()
    if value:
        if not value.isdigit():
            from .errors import UvaError

            raise UvaError(f"UVA_THREADS={value!r}: expected a whole number of threads")
        return max(1, int(value))
    cores = cores or os.cpu_count() or 1
    return cores if input_size >= HEAVY_SIDE else max(1, cores - 1)


def shipped_input_size(model: str) -> int:
    """The frame side of a shipped model, from the weights manifest without loading anything
    (0 for a weights file or a graph: their side is known only once loaded)."""
    from .models.registry import manifest

    return int(manifest().get(str(model), {}).get("input_size", 0))


def onnx_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def load_predictor(model: str = "uva-dva-64", device: str = "auto", batch_size: int = 64,
                   backend: str = "auto", threads: int = 0, precision: str = "auto") -> Predictor:
    """Load weights by registry name or file path, fold batch norm, ready for inference.

    backend "onnx" exports the graph once (kept in the uva cache, see `onnx_cache_path`) and runs
    it on ONNX Runtime's CPU provider; "auto" takes it on the CPU when ONNX Runtime is installed
    (the same maps for about 0.6x the CPU time per frame of PyTorch on one thread), else PyTorch.
    A model ending in .onnx is a graph written by `uva export`, run as it is on ONNX Runtime.
    `threads` for the network on the CPU, 0: `pipeline_threads()`, what a streaming video leaves
    it (every core for a shipped teacher; for a teacher of your own, set UVA_THREADS).
    precision "auto" is fp16 on CUDA (half the memory traffic; maps within 5e-3 of their peak
    of fp32's) and fp32 elsewhere; fp16 runs on PyTorch.

    With ONNX Runtime and the model's export already cached, PyTorch is not imported at all
    (`predictor.model` is then None): a new process starts about a second sooner.
    """
    from .errors import UvaError, WeightsError

    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"unknown backend {backend!r}: auto, torch or onnx")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: {', '.join(PRECISIONS)}")
    onnx_file = str(model).lower().endswith(".onnx")
    if onnx_file:
        if backend == "torch":
            raise WeightsError(f"{model}: an ONNX graph runs on ONNX Runtime: use --backend onnx or auto")
        backend = "onnx"
    if backend == "onnx":
        if device.startswith("cuda"):
            raise UvaError("--backend onnx runs on the CPU (ONNX Runtime's CPU provider): "
                           "use --device cpu, or --backend torch on CUDA")
        device = "cpu"
    device = pick_device(device)
    if precision == "auto":
        precision = "fp16" if device.startswith("cuda") and backend != "onnx" else "fp32"
    if precision == "fp16" and backend == "onnx":
        raise UvaError("fp16 runs on PyTorch only: use --backend torch, or fp32 with ONNX Runtime")
    requested = backend
    if backend == "auto":
        backend = "onnx" if device == "cpu" and onnx_available() and precision == "fp32" else "torch"
    threads = threads or pipeline_threads(shipped_input_size(model))
    if onnx_file:
        from .export import onnx_session

        if not Path(model).is_file():
            raise WeightsError(f"{model}: no such ONNX file")
        return Predictor(model=None, name=str(model), device=device, batch_size=max(1, int(batch_size)),
                         backend=backend, session=onnx_session(model, threads), threads=threads)
    cached = onnx_cache_path(model) if backend == "onnx" else None
    if cached is not None:
        session = _cached_onnx_session(cached, threads)
        if session is not None:
            return Predictor(model=None, name=model, device=device, batch_size=max(1, int(batch_size)),
                             backend=backend, session=session, threads=threads)
    import torch

    from .models.blocks import fold_batchnorm
    from .models.registry import load_model

    net = load_model(model)  # a student, or a teacher (slower, better: same interface)
    if backend == "onnx" and requested == "auto":
        from .export import exportable

        backend = "onnx" if exportable(net) else "torch"  # teachers run on PyTorch
    # channels-last: what the first convolution sees anyway (frames arrive NHWC); 5-12 % faster
    # on CPU than converting every layer's output back and forth
    net = fold_batchnorm(net).to(device, memory_format=torch.channels_last).eval()
    if precision == "fp16":
        net = net.half()
    if device == "cpu":
        torch.set_num_threads(threads)
    predictor = Predictor(model=net, name=model, device=device, batch_size=max(1, int(batch_size)),
                          backend=backend, precision=precision, threads=threads)
    if backend == "onnx":
        predictor.session = _exported_onnx_session(cached, net, threads)
    return predictor


def uva_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("uva")
    except PackageNotFoundError:
        return "unknown"


def torch_version() -> str:
    """The installed PyTorch's version, read from its package metadata (importing torch to ask
    costs a new process more than a second)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        import torch

        return torch.__version__


def onnx_cache_path(model: str, opset: int = 0) -> Path:
    """Where the ONNX export of `model` is cached: named by everything that changes the graph
    (weights sha256, uva version, opset, exporter and its torch version)."""
    from .cachedir import default_cache_base
    from .export import EXPORTER, OPSET
    from .hashing import sha256
    from .models.registry import resolve

    weights = resolve(model)[0]
    key = json.dumps([sha256(weights), uva_version(), opset or OPSET, EXPORTER, torch_version()])
    return default_cache_base() / "onnx" / f"{weights.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _cached_onnx_session(path: Path, threads: int):
    """A session on the cached export at `path` (`onnx_cache_path`), or None when there is none
    or it is damaged (e.g. written by a crashed older uva): then `_exported_onnx_session` makes it
    again."""
    from .errors import WeightsError
    from .export import onnx_session

    if path.is_file():
        try:
            return onnx_session(path, threads)
        except WeightsError:
            pass
    return None


def _exported_onnx_session(path: Path, net, threads: int):
    """Export `net`, cache the graph at `path` for the next process, then a session on it. Safe
    with many processes on one cache: each writes its own temporary file and renames it into place
    (identical graphs, so whichever rename lands last is as good). Without a writable cache
    folder the graph stays in memory."""
    from .errors import OutputError
    from .export import onnx_bytes, onnx_session, save_atomic

    graph = onnx_bytes(net)
    try:
        save_atomic(path, graph)
    except OutputError as exc:
        log.info("ONNX graph kept in memory: %s", exc)
    return onnx_session(graph, threads)


def _windows(frames: Iterable[Frame], batch_size: int) -> Iterator[list[Frame]]:
    """Lists of up to batch_size + 1 frames; the extra last one is the look-ahead of the batch."""
    buffer: list[Frame] = []
    for frame in frames:
        buffer.append(frame)
        if len(buffer) == batch_size + 1:
            yield buffer
            buffer = buffer[-1:]
    if buffer:
        yield buffer + buffer[-1:]  # the final frame pairs with itself


def predict_arrays(predictor: Predictor, smalls: np.ndarray) -> np.ndarray:
    """Maps for (N+1, S, S, 3) uint8 frames, each paired with the next: returns (N, S, S) float32
    maps scaled so each peaks at 1."""
    if predictor.session is not None:  # `models.student.normalise` in NumPy: the same float32 operations
        x = smalls.transpose(0, 3, 1, 2).astype(np.float32, order="C")
        x /= np.float32(127.5)
        x -= np.float32(1.0)
        return predictor.session.run(None, {"frames": x})[0]
    import torch

    from .models.student import normalise, window_maps

    with torch.inference_mode():
        frames = torch.from_numpy(np.ascontiguousarray(smalls))
        if predictor.device.startswith("cuda"):  # page-locked, so the upload runs asynchronously
            frames = frames.pin_memory()
        x = normalise(frames.to(predictor.device, non_blocking=True))
        if predictor.precision == "fp16":
            x = x.half()
        return window_maps(predictor.model, x).float().cpu().numpy()


def predict_frames(predictor: Predictor, frames: Iterable[Frame]) -> Iterator[tuple[Frame, np.ndarray]]:
    """Stream (frame, map) pairs in frame order; maps are (S, S) float32 in [0, 1]."""
    for window in _windows(frames, predictor.batch_size):
        maps = predict_arrays(predictor, np.stack([f.small for f in window]))
        yield from zip(window[:-1], maps)


def predict_video(path: str | os.PathLike, predictor: Predictor | None = None, native: bool = False,
                  info: VideoInfo | None = None) -> Iterator[tuple[Frame, np.ndarray]]:
    """The Python entry point: `for frame, smap in predict_video("clip.mp4"): ...`."""
    predictor = predictor or load_predictor()
    frames = iter_frames(path, size=predictor.input_size, native=native, info=info)
    return predict_frames(predictor, frames)
