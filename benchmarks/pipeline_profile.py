"""Where a streaming run's time goes beside decoding: the `--npz` and `--overlay` pipelines
built up one stage at a time, each variant's wall-clock fps and CPU milliseconds per frame (all
threads, FFmpeg's included), interleaved over rounds in one process so that the differences
between rows are what the stage costs, not what the machine did meanwhile.

    python benchmarks/pipeline_profile.py [CLIP ...] [--rounds 5] [--model uva-dva-64] [--json F]

Rows, maps path (each adds one thing to the row above):
  decode         the default decoder + the resize to the model's size (the issue's reference)
  fast           the same with the fast decoder that maps-only outputs use
  fast, no resize  the fast decoder alone (what the resize costs is the difference)
  + batching     fast + resize + prefetch queue + batches of frames stacked (network stubbed)
  + network      the real network (`predict_frames`)
  npz            `run_task` with an npz output (writer, probe, open, threads)
Overlay path:
  decode+encode  default decode, yuv planes, resize, H.264 encode (bench's reference)
  overlay, no network   `run_task` overlay with the network stubbed (painter and queues)
  overlay        `run_task` overlay
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def stub_network():
    """Replace the network by zeros of the right shape: what is left is the pipeline around it."""
    from uva_cli import engine

    real = engine.predict_arrays

    def zeros(predictor, smalls):
        return np.zeros((len(smalls) - 1, *smalls.shape[1:3]), np.float32)

    engine.predict_arrays = zeros
    try:
        yield
    finally:
        engine.predict_arrays = real


def variants(clip: Path, predictor, tmp: Path) -> dict:
    from uva_cli.bench import decode_encode_only
    from uva_cli.engine import predict_frames
    from uva_cli.jobs import Task, run_task
    from uva_cli.threads import prefetch
    from uva_cli.video import iter_frames, probe

    info = probe(clip)
    size = predictor.input_size

    def count(frames) -> int:
        return sum(1 for _ in frames)

    def stubbed(fn):
        def run():
            with stub_network():
                return fn()
        return run

    def task(kind: str):
        return lambda: run_task(Task(clip, {kind: tmp / ("out.npz" if kind == "npz" else "out.mp4")}), predictor).frames

    return {
        "decode": lambda: count(iter_frames(clip, size=size, info=info)),
        "fast": lambda: count(iter_frames(clip, size=size, info=info, fast=True)),
        "fast, no resize": lambda: count(iter_frames(clip, info=info, fast=True)),
        "+ batching": stubbed(lambda: count(predict_frames(predictor, prefetch(iter_frames(clip, size=size, info=info,
                                                                                            fast=True))))),
        "+ network": lambda: count(predict_frames(predictor, prefetch(iter_frames(clip, size=size, info=info,
                                                                                   fast=True)))),
        "npz": task("npz"),
        "decode+encode": lambda: decode_encode_only(clip, size, info, tmp / "copy.mp4"),
        "overlay, no network": stubbed(task("overlay")),
        "overlay": task("overlay"),
    }


def profile(clip: Path, predictor, rounds: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[tuple[float, float]]] = {}
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        runs = variants(clip, predictor, Path(tmp))
        for _ in range(rounds):
            for name, fn in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                frames = fn()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                samples.setdefault(name, []).append((frames / wall, 1000 * cpu / frames))
    return {name: {"fps": float(np.median([s[0] for s in values])),
                   "cpu_ms_per_frame": float(np.median([s[1] for s in values])), "frames": frames}
            for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--model", default="uva-dva-64")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    from uva_cli.allocator import keep_freed_memory
    from uva_cli.engine import load_predictor
    from uva_cli.examples import BUNNY

    keep_freed_memory()  # as the CLI does at start
    predictor = load_predictor(args.model, "cpu", args.batch_size)
    results = {}
    for clip in args.clips or [BUNNY]:
        rows = results[str(clip)] = profile(clip, predictor, args.rounds)
        print(f"\n{clip} ({predictor.backend}, batch {args.batch_size}, median of {args.rounds} interleaved rounds)")
        print("row".ljust(22) + "fps".rjust(9) + "CPU ms/frame".rjust(14) + "vs reference".rjust(14))
        for name, row in rows.items():
            reference = rows["decode+encode" if name.startswith(("decode+", "overlay")) else "decode"]
            print(name.ljust(22) + f"{row['fps']:9.1f}{row['cpu_ms_per_frame']:14.2f}"
                  f"{row['fps'] / reference['fps']:14.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
