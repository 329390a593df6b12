"""Timings for `uva bench`: network-only throughput (the paper's measure), and on a real video
decode-only, end-to-end and decode+encode-only frame rates, all in one process so the ratios
compare like with like on a noisy machine."""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# The paper's network-only figures (UVA-Net, AAAI 2020): CPU for 64 px, GPU for 32 px.
PAPER_FPS = {("uva-dva-64", "cpu"): 404.3, ("uva-dva-32", "cuda"): 10106.0}
# Batch sizes timed by default: a GPU needs far larger batches than a CPU to be kept busy.
BATCH_SIZES = {"cpu": (1, 16, 64, 256), "cuda": (1, 64, 256, 1024, 4096)}


@dataclass
class BenchResult:
    model: str
    device: str
    backend: str
    precision: str
    threads: int
    parameters: int
    weights_bytes: int
    macs_per_frame: int
    network_fps: dict[str, float] = field(default_factory=dict)  # batch size -> frames/s
    paper_fps: float | None = None
    video: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def count_macs(model, side: int) -> int:
    """Multiply-adds per frame in video use: the trunk once, branches and fusion once per pair."""
    import torch

    total = 0

    def hook(module, inputs, output):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * (module.in_channels // module.groups) * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    weight = next(model.parameters())  # the input goes where the model is, in its precision
    try:
        with torch.inference_mode():
            x = torch.zeros(1, 3, side, side, dtype=weight.dtype, device=weight.device)
            f = model.features(x)
            model.fuse(f, f)
    finally:
        for h in handles:
            h.remove()
    return total


def network_fps(predictor, batch: int, seconds: float = 2.0) -> float:
    """Frames per second through trunk + heads for preloaded batches of `batch` frames."""
    import torch

    side = predictor.input_size
    x = torch.randint(0, 255, (batch + 1, side, side, 3), dtype=torch.uint8).numpy()
    from .engine import predict_arrays

    predict_arrays(predictor, x)  # warm-up
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds or runs < 3:
        predict_arrays(predictor, x)
        runs += 1
    if predictor.device.startswith("cuda"):
        torch.cuda.synchronize()
    return runs * batch / (time.perf_counter() - started)


def _timed(fn) -> tuple[int, float]:
    started = time.perf_counter()
    frames = fn()
    return frames, time.perf_counter() - started


def video_fps(predictor, video: Path, rounds: int = 3) -> dict[str, float]:
    """Decode-only (the default decoder, and the fast one that maps-only outputs use),
    decode+encode-only and end-to-end (npz, overlay) frames per second: the
    median of `rounds` rounds that each run all four in turn, so a burst of load from elsewhere
    on the machine moves one sample, not a ratio."""
    from .jobs import Task, run_task
    from .threads import prefetch
    from .video import VideoWriter, iter_frames, probe

    info = probe(video)
    with tempfile.TemporaryDirectory() as tmp:
        def decode_small() -> int:
            return sum(1 for _ in iter_frames(video, size=predictor.input_size, info=info))

        def decode_fast() -> int:  # the decoder --npz and --maps use: no deblocking filter
            return sum(1 for _ in iter_frames(video, size=predictor.input_size, info=info, fast=True))

        def decode_encode() -> int:
            n = 0
            with VideoWriter(Path(tmp) / "copy.mp4", info.width, info.height, info.fps, audio_from=video) as w:
                frames = iter_frames(video, size=predictor.input_size, native=True, info=info, yuv=True)
                for f in prefetch(frames):
                    w.write(f.native, f.time)
                    n += 1
            return n

        def end_to_end(kind: str):
            target = Path(tmp) / ("out.npz" if kind == "npz" else "out.mp4")
            return lambda: run_task(Task(video, {kind: target}), predictor).frames

        samples: dict[str, list[float]] = {}
        for _ in range(max(1, rounds)):
            for name, fn in (("decode", decode_small), ("decode_fast", decode_fast), ("npz", end_to_end("npz")),
                             ("decode_encode", decode_encode), ("overlay", end_to_end("overlay"))):
                frames, secs = _timed(fn)
                samples.setdefault(f"{name}_fps", []).append(frames / secs)
    out = {name: float(np.median(values)) for name, values in samples.items()}
    out["frames"] = float(frames)
    out["decode_fast_vs_decode"] = out["decode_fast_fps"] / out["decode_fps"]
    out["npz_vs_decode"] = out["npz_fps"] / out["decode_fps"]
    out["overlay_vs_decode_encode"] = out["overlay_fps"] / out["decode_encode_fps"]
    return out


def run_bench(model: str = "uva-dva-64", device: str = "auto", batch_sizes: tuple[int, ...] = (),
              threads: int = 0, video: Path | None = None, backend: str = "auto",
              precision: str = "auto") -> BenchResult:
    import av
    import torch

    from .engine import load_predictor
    from .errors import WeightsError
    from .models.registry import load_model, resolve
    from .models.student import count_parameters

    if str(model).lower().endswith(".onnx"):
        raise WeightsError(f"{model}: uva bench counts parameters and multiply-adds from the weights; "
                           f"give the .pt file or model name (--backend onnx times its ONNX export)")
    # `threads` (0: automatic) for the network: network-only on every core, as the paper; the video
    # timings with what `uva saliency` uses (all cores but one, or UVA_THREADS)
    predictor = load_predictor(model, device, backend=backend, threads=threads or os.cpu_count() or 1,
                               precision=precision)
    batch_sizes = batch_sizes or BATCH_SIZES[predictor.device.split(":")[0]]
    path, _ = resolve(model)
    result = BenchResult(model=model, device=predictor.device, backend=predictor.backend,
                         precision=predictor.precision, threads=torch.get_num_threads(),
                         parameters=count_parameters(load_model(model)), weights_bytes=path.stat().st_size,
                         macs_per_frame=count_macs(predictor.model, predictor.input_size),
                         paper_fps=PAPER_FPS.get((predictor.model.cfg.name, predictor.device.split(":")[0])))
    for batch in batch_sizes:
        result.network_fps[str(batch)] = network_fps(predictor, batch)
    if video is not None:
        best = max(batch_sizes, key=lambda b: result.network_fps[str(b)])
        streaming = load_predictor(model, device, best, backend=predictor.backend, threads=threads,
                                   precision=predictor.precision)
        result.video = video_fps(streaming, video)
        result.video["pipeline_threads"] = float(torch.get_num_threads())
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.versions = {"python": platform.python_version(), "torch": torch.__version__, "av": av.__version__,
                       "numpy": np.__version__, "cpu": platform.processor() or platform.machine(),
                       "cores": str(os.cpu_count())}
    if predictor.backend == "onnx":
        import onnxruntime

        result.versions["onnxruntime"] = onnxruntime.__version__
    return result
