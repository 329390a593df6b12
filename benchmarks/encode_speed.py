"""Speed of `uva encode` against a plain PyAV decode + libx264 encode of the same clip at the
same settings (CRF, preset, threads), in one process, interleaved over rounds so load from
elsewhere on the machine moves single samples rather than the ratio.

Timed per round: "plain" (decode with frame threads, every decoded frame straight to libx264,
video only; each frame's picture type cleared as ffmpeg clears it, else libx264 would take the
source's I/P/B decisions as orders: a different encode, 12 % smaller and cheaper on the example), "uva --strength 0" (uva's pipeline: decode, network, audio copy, no offsets) and
"uva" (the default strength: offsets and regions too). The model is loaded once, before the
rounds; `uva encode`'s start-up (imports, model) is timed apart from the video in a new process.

    python benchmarks/encode_speed.py                       # the bundled 1280x720 example
    python benchmarks/encode_speed.py --video clip.mp4 --rounds 5 --preset veryfast
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType

from uva_cli.encode import EncodeSettings, run_encode_task
from uva_cli.engine import load_predictor
from uva_cli.examples import BUNNY
from uva_cli.jobs import Task


def plain(video: Path, out: Path, settings: EncodeSettings) -> int:
    """Decode and re-encode with libx264 at `settings`' CRF and preset, nothing else."""
    n = 0
    with av.open(str(video)) as source, av.open(str(out), "w") as target:
        decoder = source.streams.video[0]
        decoder.thread_type = "AUTO"
        stream = target.add_stream("libx264", rate=decoder.average_rate)
        stream.width, stream.height, stream.pix_fmt = decoder.width, decoder.height, "yuv420p"
        stream.codec_context.time_base = decoder.time_base
        stream.options = {"crf": f"{settings.crf:g}", "preset": settings.preset}
        for frame in source.decode(decoder):
            frame.pict_type = PictureType.NONE  # as ffmpeg does: libx264 would copy the source's frame types
            target.mux(stream.encode(frame))
            n += 1
        target.mux(stream.encode(None))
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=Path(BUNNY))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--crf", type=float, default=EncodeSettings.crf)
    ap.add_argument("--preset", default=EncodeSettings.preset)
    ap.add_argument("--model", default="uva-dva-64")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    predictor = load_predictor(args.model, device="cpu")
    guided = EncodeSettings(crf=args.crf, preset=args.preset)
    flat = EncodeSettings(crf=args.crf, preset=args.preset, strength=0)
    samples: dict[str, list[float]] = {"plain": [], "uva --strength 0": [], "uva": []}
    frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        runs = {"plain": lambda: plain(args.video, out, guided),
                "uva --strength 0": lambda: run_encode_task(Task(args.video, {"video": out}), predictor, flat).frames,
                "uva": lambda: run_encode_task(Task(args.video, {"video": out}), predictor, guided).frames}
        for r in range(args.rounds):
            for name, run in runs.items():
                started = time.perf_counter()
                frames = run()
                samples[name].append(frames / (time.perf_counter() - started))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} fps" for k, v in samples.items()), flush=True)
    code = (f"import time; t = time.perf_counter(); from uva_cli.engine import load_predictor; "
            f"load_predictor({args.model!r}, device='cpu'); print(time.perf_counter() - t)")
    startup = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    ratios = [u / p for u, p in zip(samples["uva"], samples["plain"])]
    result = {"video": str(args.video), "frames": frames, "crf": args.crf, "preset": args.preset,
              "fps": {k: float(np.median(v)) for k, v in samples.items()}, "samples": samples,
              "uva_vs_plain": {"median": float(np.median(ratios)), "per_round": ratios},
              "uva_startup_seconds": startup}
    print(f"uva encode / plain decode+encode: {np.median(ratios):.2f} (median of {len(ratios)} rounds: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}); start-up (imports + model) {startup:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
