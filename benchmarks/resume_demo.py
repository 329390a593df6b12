"""Interrupt a batch of 20 small clips twice (SIGTERM, then SIGINT, each mid-video), resume it,
and check that all 20 outputs end up complete and valid.

    python benchmarks/resume_demo.py [--clips 20] [--frames 40] [--keep DIR]

Runs `python -m uva_cli saliency` as a real subprocess, as a scheduler would, with untrained
weights (the demo is about plumbing, not accuracy). Exit status 0 means every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import decode_all, make_clip  # noqa: E402


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "uva_cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def interrupt_mid_video(args: list[str], log: Path, out: Path, after_done: int, signum: int) -> tuple[int, str]:
    """Start the batch, wait until `after_done` more inputs are done and the next one has
    written a few frames, then send `signum`. Returns (exit status, stderr)."""
    target = len([r for r in records(log) if r["status"] == "done"]) + after_done
    proc = start(args)
    while proc.poll() is None:
        done = len([r for r in records(log) if r["status"] == "done"])
        partial = [p for p in out.glob(".*.part") if p.is_dir() and len(os.listdir(p)) >= 5]
        if done >= target and partial:
            proc.send_signal(signum)
            break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    opts = parser.parse_args()
    work = opts.keep or Path(tempfile.mkdtemp(prefix="uva-resume-"))
    src, out, log = work / "in", work / "out", work / "manifest.jsonl"
    src.mkdir(parents=True, exist_ok=True)
    for i in range(opts.clips):
        make_clip(src / f"clip {i:02d}.mp4", frames=opts.frames, width=96, height=64, audio=True)

    import torch

    from uva_cli.models.registry import save_checkpoint
    from uva_cli.models.student import build_student

    torch.manual_seed(0)
    weights = work / "random64.pt"
    save_checkpoint(weights, build_student("uva-dva-64"))
    args = ["saliency", str(src), "--out-dir", str(out), "--write", "overlay,maps,npz", "--manifest", str(log),
            "--batch-size", "8", "--model", str(weights)]

    failures = []
    started = time.perf_counter()
    for signum in (signal.SIGTERM, signal.SIGINT):
        code, stderr = interrupt_mid_video(args, log, out, after_done=5, signum=signum)
        leftovers = [p.name for p in out.rglob(".*")]
        name = signal.Signals(signum).name
        print(f"run interrupted by {name}: exit {code}; {len([r for r in records(log) if r['status'] == 'done'])} "
              f"done so far; temporaries left: {leftovers or 'none'}")
        if code != 128 + signum or leftovers or "Traceback" in stderr:
            failures.append(f"{name}: exit {code}, leftovers {leftovers}, stderr {stderr[-300:]!r}")
    final = start(args)
    _, stderr = final.communicate(timeout=600)
    print(f"resumed run: exit {final.returncode}; {stderr.strip().splitlines()[-1]}")
    if final.returncode != 0:
        failures.append(f"resume exit {final.returncode}: {stderr[-300:]!r}")

    import numpy as np

    for i in range(opts.clips):
        stem = out / f"clip {i:02d}"
        frames, times, _ = decode_all(stem.with_name(stem.name + ".overlay.mp4"))
        maps = sorted(os.listdir(stem))
        with np.load(stem.with_name(stem.name + ".npz")) as npz:
            ok = (len(frames) == opts.frames and len(maps) == opts.frames and npz["maps"].shape[0] == opts.frames
                  and np.allclose(times, np.arange(opts.frames) / 25, atol=1e-3))
        if not ok:
            failures.append(f"clip {i:02d}: {len(frames)} video frames, {len(maps)} maps")
    statuses = [(Path(r["path"]).name, r["status"]) for r in records(log)]
    done = [name for name, status in statuses if status == "done"]
    interrupted = [name for name, status in statuses if status == "interrupted"]
    if sorted(done) != sorted(f"clip {i:02d}.mp4" for i in range(opts.clips)):
        failures.append(f"each clip should be done exactly once, got {len(done)} done records")
    print(f"manifest: {len(done)} done (each clip once), {len(interrupted)} interrupted "
          f"({', '.join(interrupted)}), "
          f"{len([s for s in statuses if s[1] == 'skipped'])} skipped on the resumed runs")
    print(f"all {opts.clips} outputs valid: {not failures}; {time.perf_counter() - started:.0f} s; work folder {work}")
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
