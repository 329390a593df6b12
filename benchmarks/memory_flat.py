"""Peak memory of `uva saliency` on a short 4K clip and on one 4x longer: it should not grow
with the length of the video (frames stream through bounded queues, maps spool to disk).

    python benchmarks/memory_flat.py [--frames 30] [--factor 4] [--size 3840x2160]

Each run is a fresh `python -m uva_cli` subprocess; its peak resident set size comes from
wait4(). Untrained weights are used (memory does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_4k_clip(path: Path, frames: int, width: int, height: int) -> Path:
    """A moving gradient with noise (so the encoder has real work), 25 fps H.264."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 24, (height, width, 1), dtype=np.uint8)
    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for k in range(frames):
            img = (np.roll(ramp, 16 * k, axis=1) + noise).clip(0, 255).astype(np.uint8).repeat(3, axis=2)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def peak_rss(args: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, seconds, exit status) of one `python -m uva_cli ...` run."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "uva_cli", *args], cwd=ROOT, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(proc.stderr.read().decode(errors="replace"), file=sys.stderr)
    return usage.ru_maxrss / 1024, time.perf_counter() - started, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="frames of the short clip")
    parser.add_argument("--factor", type=int, default=4, help="the long clip is this many times longer")
    parser.add_argument("--size", default="3840x2160")
    opts = parser.parse_args()
    width, height = map(int, opts.size.split("x"))

    import torch

    sys.path.insert(0, str(ROOT))
    from uva_cli.models.registry import save_checkpoint
    from uva_cli.models.student import build_student

    work = Path(tempfile.mkdtemp(prefix="uva-memory-"))
    torch.manual_seed(0)
    weights = work / "random64.pt"
    save_checkpoint(weights, build_student("uva-dva-64"))
    clips = {n: make_4k_clip(work / f"{n}.mp4", n, width, height) for n in (opts.frames, opts.frames * opts.factor)}

    print(f"| output | {opts.size} frames | seconds | peak RSS (MiB) |")
    print("|---|---|---|---|")
    rows = {}
    for kind in ("overlay", "npz"):
        for frames, clip in clips.items():
            target = work / f"{frames}.{kind}" if kind == "npz" else work / f"{frames}.overlay.mp4"
            rss, seconds, code = peak_rss(["saliency", str(clip), f"--{kind}", str(target), "-q", "--model",
                                           str(weights)])
            rows[kind, frames] = rss
            print(f"| {kind} | {frames} | {seconds:.1f} | {rss:.0f}{'' if code == 0 else f' (exit {code})'} |")
    for kind in ("overlay", "npz"):
        short, long = rows[kind, opts.frames], rows[kind, opts.frames * opts.factor]
        print(f"{kind}: {opts.factor}x the frames -> {long / short:.2f}x the peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
