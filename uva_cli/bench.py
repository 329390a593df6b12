"""Timings for `uva bench`: network-only throughput (the paper's measure), and on a real video
decode-only, end-to-end and decode+encode-only frame rates, all in one process so the ratios
compare like with like on a noisy machine."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
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
    startup: dict[str, float] = field(default_factory=dict)  # seconds, see `startup_seconds`
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


def _timed(fn, min_seconds: float = 1.0) -> tuple[int, float, int]:
    """(frames, seconds, frames of one run) of `fn` run over the clip as many times as fill
    `min_seconds`: a short clip's single run (0.2 s for the example's npz) is too short a sample
    on a noisy machine."""
    frames, runs, started = 0, 0, time.perf_counter()
    while not runs or time.perf_counter() - started < min_seconds:
        frames, runs = frames + fn(), runs + 1
    return frames, time.perf_counter() - started, frames // runs


def decode_encode_only(video: Path, size: int, info, target: Path) -> int:
    """What an overlay costs without the network and the painting: decode (full quality, the
    model-size frames made too), the yuv420p pictures re-encoded as they are with the overlay's
    encoder settings, audio copied."""
    from .outputs import PAINTED_ENCODER
    from .threads import prefetch
    from .video import VideoWriter, iter_frames

    n = 0
    with VideoWriter(target, info.width, info.height, info.fps, audio_from=video, **PAINTED_ENCODER) as w:
        for f in prefetch(iter_frames(video, size=size, native=True, info=info, yuv=True)):
            w.write(f.native, f.time)
            n += 1
    return n


def video_fps(predictor, video: Path, rounds: int = 3) -> dict[str, float]:
    """Decode-only (the default decoder, and the fast one that maps-only outputs use),
    decode+encode-only and end-to-end (npz, overlay) frames per second: the
    median of `rounds` rounds that each run all five in turn (each at least a second of the clip,
    repeated), so a burst of load from elsewhere on the machine moves one sample, not a ratio."""
    from .jobs import Task, run_task
    from .video import iter_frames, probe

    info = probe(video)
    with tempfile.TemporaryDirectory() as tmp:
        def decode_small() -> int:
            return sum(1 for _ in iter_frames(video, size=predictor.input_size, info=info))

        def decode_fast() -> int:  # the decoder --npz and --maps use: no deblocking filter
            return sum(1 for _ in iter_frames(video, size=predictor.input_size, info=info, fast=True))

        def decode_encode() -> int:
            return decode_encode_only(video, predictor.input_size, info, Path(tmp) / "copy.mp4")

        def end_to_end(kind: str):
            target = Path(tmp) / ("out.npz" if kind == "npz" else "out.mp4")
            return lambda: run_task(Task(video, {kind: target}), predictor).frames

        samples: dict[str, list[float]] = {}
        for _ in range(max(1, rounds)):
            for name, fn in (("decode", decode_small), ("decode_fast", decode_fast), ("npz", end_to_end("npz")),
                             ("decode_encode", decode_encode), ("overlay", end_to_end("overlay"))):
                frames, secs, clip_frames = _timed(fn)
                samples.setdefault(f"{name}_fps", []).append(frames / secs)
    out = {name: float(np.median(values)) for name, values in samples.items()}
    out["frames"] = float(clip_frames)
    out["decode_fast_vs_decode"] = out["decode_fast_fps"] / out["decode_fps"]
    out["npz_vs_decode"] = out["npz_fps"] / out["decode_fps"]
    out["overlay_vs_decode_encode"] = out["overlay_fps"] / out["decode_encode_fps"]
    return out


# Run in a new interpreter by `startup_seconds`: what `uva saliency` does before its first frame.
_STARTUP = """
import json, sys, time
started = time.perf_counter()
import numpy as np
from uva_cli.engine import load_predictor, predict_arrays
imported = time.perf_counter()
p = load_predictor(**json.loads(sys.argv[1]))
loaded = time.perf_counter()
predict_arrays(p, np.zeros((2, p.input_size, p.input_size, 3), np.uint8))
print(json.dumps({"imports": imported - started, "model_load": loaded - imported,
                  "first_batch": time.perf_counter() - loaded}))
"""


def startup_seconds(model: str, device: str, backend: str, precision: str) -> dict[str, float]:
    """Start-up of a new process, apart from the per-frame figures: the interpreter, imports
    (torch, PyAV, ONNX Runtime), loading the weights and the ONNX session (its cached export:
    the first run ever also exports), and the first small batch. A batch pays it once; a
    single short clip pays it in full."""
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _STARTUP, json.dumps(dict(model=model, device=device, batch_size=1, backend=backend, precision=precision))],
                         capture_output=True, text=True, check=True)
    total = time.perf_counter() - started
    parts = json.loads(out.stdout.strip().splitlines()[-1])
    return {"total": total, "interpreter": total - sum(parts.values()), **parts}


def run_bench(model: str = "uva-dva-64", device: str = "auto", batch_sizes: tuple[int, ...] = (),
              threads: int = 0, video: Path | None = None, backend: str = "auto",
              precision: str = "auto", rounds: int = 3) -> BenchResult:
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
    network_threads = threads or os.cpu_count() or 1
    predictor = load_predictor(model, device, backend=backend, threads=network_threads, precision=precision)
    batch_sizes = batch_sizes or BATCH_SIZES[predictor.device.split(":")[0]]
    path, _ = resolve(model)
    net = load_model(model)  # the predictor holds none when it runs a cached ONNX export
    result = BenchResult(model=model, device=predictor.device, backend=predictor.backend,
                         precision=predictor.precision, threads=network_threads,
                         parameters=count_parameters(net), weights_bytes=path.stat().st_size,
                         macs_per_frame=count_macs(net, net.cfg.input_size),
                         paper_fps=PAPER_FPS.get((net.cfg.name, predictor.device.split(":")[0])))
    for batch in batch_sizes:
        result.network_fps[str(batch)] = network_fps(predictor, batch)
    if video is not None:
        best = max(batch_sizes, key=lambda b: result.network_fps[str(b)])
        streaming = load_predictor(model, device, best, backend=predictor.backend, threads=threads,
                                   precision=predictor.precision)
        result.video = video_fps(streaming, video, rounds)
        result.video["pipeline_threads"] = float(streaming.threads)
        result.startup = startup_seconds(str(model), device, predictor.backend, predictor.precision)
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.versions = {"python": platform.python_version(), "torch": torch.__version__, "av": av.__version__,
                       "numpy": np.__version__, "cpu": platform.processor() or platform.machine(),
                       "cores": str(os.cpu_count())}
    if predictor.backend == "onnx":
        import onnxruntime

        result.versions["onnxruntime"] = onnxruntime.__version__
    return result
