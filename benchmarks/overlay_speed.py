"""`uva saliency --overlay` against the plain transcode a user would run instead: a PyAV decode
+ libx264 `veryfast` encode of the same clip at its default quality (CRF 23), and what the
overlay pays beyond it, taken apart. All in one process, the variants interleaved per round and
clip, so a burst of load from elsewhere moves single samples rather than the ratios: each round
times the plain transcode first and again last, each ratio is taken against the mean of the two,
and the median of the rounds' ratios is reported.

Timed per round and clip (fps, and CPU milliseconds a frame, all threads):
  plain           PyAV decode, every frame straight to libx264 veryfast CRF 23, video only
                  (encode_speed.plain: PyAV's own threading for both)
  decode+encode   uva's decoder (yuv420p planes, model-size frames) and writer at the overlay's
                  encoder settings (outputs.PAINTED_ENCODER), audio copied; no network, no paint
  zero maps       `run_task` with an overlay output, the network replaced by zeros (the painter
                  runs, the picture stays the source's)
  stored maps     the same with the clip's real maps, computed before the rounds (painted picture,
                  no network)
  overlay         `run_task` with an overlay output: `uva saliency CLIP --overlay OUT` after
                  start-up (the model loaded once, before the rounds)
  command         the whole `uva saliency CLIP --overlay OUT` in a new process, its start-up
                  subtracted: the same command on a one-frame cut of the clip, timed in the same
                  round (interpreter, imports, model, probe, encoder set-up); the fps are of the
                  other frames

Before the rounds, what each encoder setting makes of the painted picture (`fidelity`): the clip's
overlay frames painted once, encoded by uva's writer at the overlay's settings, at veryfast with
FFmpeg's default CRF 23 and at uva's former CRF 20, decoded back and compared with the painted frames
(PSNR of luma and chroma, SSIM of luma on every 4th frame), with the file size and the encoder's
CPU time; and the source itself at CRF 23 for scale.

    python benchmarks/overlay_speed.py                        # the bundled example
    python benchmarks/overlay_speed.py --talking-head ../shared/data/xu-hevc/videos/FourPeople.avi
    python benchmarks/overlay_speed.py clip.mp4 --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np

from encode_speed import plain
from pipeline_profile import stub_network

PLAIN = SimpleNamespace(crf=23, preset="veryfast")  # FFmpeg's libx264 defaults but the preset


def cut(source: Path, out: Path, frames: int, crf: int = 16) -> Path:
    """The first `frames` frames of `source` as an MP4 near its quality (x264 `medium` at `crf`),
    timed by frame number (the Xu et al. AVIs carry packet counters as timestamps)."""
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        decoder = src.streams.video[0]
        rate = decoder.average_rate or Fraction(25)
        stream = dst.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = decoder.width, decoder.height, "yuv420p"
        stream.codec_context.time_base = 1 / Fraction(rate)
        stream.options = {"crf": str(crf), "preset": "medium"}
        for n, frame in enumerate(src.decode(decoder)):
            if n == frames:
                break
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = n, stream.codec_context.time_base
            dst.mux(stream.encode(picture))
        dst.mux(stream.encode(None))
    return out


@contextmanager
def replay_maps(maps: list[np.ndarray]):
    """The network replaced by the clip's maps computed beforehand, handed out in order."""
    from uva_cli import engine

    real, queue = engine.predict_arrays, iter(maps)

    def stored(predictor, smalls):
        return np.stack([next(queue) for _ in range(len(smalls) - 1)])

    engine.predict_arrays = stored
    try:
        yield
    finally:
        engine.predict_arrays = real


def variants(clip: Path, predictor, model: str, tmp: Path) -> tuple[list[np.ndarray], dict]:
    """The clip's maps, and the timed runs by name (`model`: the predictor's, for the command)."""
    from uva_cli.bench import decode_encode_only
    from uva_cli.engine import predict_frames
    from uva_cli.jobs import Task, run_task
    from uva_cli.video import iter_frames, probe

    info = probe(clip)
    out = tmp / "out.mp4"
    maps = [m for _, m in predict_frames(predictor, iter_frames(clip, size=predictor.input_size, info=info))]
    one_frame = cut(clip, tmp / "one-frame.mp4", 1)

    def overlay() -> int:
        return run_task(Task(clip, {"overlay": out}), predictor).frames

    def zero_maps() -> int:
        with stub_network():
            return overlay()

    def stored_maps() -> int:
        with replay_maps(maps):
            return overlay()

    def command() -> tuple[int, float, float]:
        """Frames past the first, and the seconds and CPU seconds they took beyond start-up."""
        spent = []
        for source in (one_frame, clip):
            out.unlink(missing_ok=True)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "uva_cli", "saliency", str(source), "--overlay", str(out),
                            "--model", model], check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent.append((time.perf_counter() - started,
                          after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
        return len(maps) - 1, spent[1][0] - spent[0][0], spent[1][1] - spent[0][1]

    return maps, {"overlay": overlay, "command": command,
                  "decode+encode": lambda: decode_encode_only(clip, predictor.input_size, info, out),
                  "zero maps": zero_maps, "stored maps": stored_maps, "plain": lambda: plain(clip, out, PLAIN)}


# CPU a frame beyond the plain transcode, row by row: (name, row, the row before it)
BEYOND = (("uva's decoder and writer at the overlay's x264 settings (cheaper than veryfast's own; the "
           "model-size frames, planes and audio cost)", "decode+encode", "plain"),
          ("the painter and the pipeline's threads (zero maps)", "zero maps", "decode+encode"),
          ("x264 on the painted picture", "stored maps", "zero maps"),
          ("the network", "overlay", "stored maps"))


ENCODINGS = {"painted, veryfast CRF 23 (FFmpeg's default CRF)": {"crf": 23},
             "painted, veryfast CRF 20 (uva before)": {"crf": 20},
             "painted, the overlay's settings": None,  # outputs.PAINTED_ENCODER
             "source, veryfast CRF 23 (the plain transcode)": {"crf": 23}}


def fidelity(clip: Path, maps: list[np.ndarray], tmp: Path) -> dict[str, dict[str, float]]:
    """Each of ENCODINGS against the pictures it was given: size, PSNR, SSIM, encoder CPU."""
    from skimage.metrics import structural_similarity

    from uva_cli.outputs import PAINTED_ENCODER
    from uva_cli.render import Painter
    from uva_cli.video import VideoWriter, iter_frames, probe

    info = probe(clip)
    source = [f.native for f in iter_frames(clip, native=True, info=info, yuv=True)]
    h, w = source[0].shape[0] * 2 // 3, source[0].shape[1]  # even sides, as the writer takes them
    painter = Painter(w, h, colour=info.colour)
    painted = [painter.overlay(planes.copy(), smap).to_ndarray() for planes, smap in zip(source, maps)]
    out, rows = tmp / "fidelity.mp4", {}
    for name, settings in ENCODINGS.items():
        pictures = source if name.startswith("source") else painted
        cpu = time.process_time()
        with VideoWriter(out, w, h, info.fps, colour=info.colour,
                         **(settings or PAINTED_ENCODER)) as writer:
            for k, picture in enumerate(pictures):
                writer.write(picture, k / info.fps)
        cpu = time.process_time() - cpu
        decoded = [f.native for f in iter_frames(out, native=True, yuv=True)]
        errors = np.array([[np.mean((d[:h].astype(np.float32) - p[:h]) ** 2),
                            np.mean((d[h:].astype(np.float32) - p[h:]) ** 2)] for d, p in zip(decoded, pictures)])
        luma, chroma = 10 * np.log10(255 ** 2 / errors.mean(0))
        ssim = np.mean([structural_similarity(d[:h], p[:h], gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=255)
                        for d, p in zip(decoded[::4], pictures[::4])])
        rows[name] = {"kB": out.stat().st_size / 1e3, "psnr_y": float(luma), "psnr_cbcr": float(chroma),
                      "ssim_y": float(ssim), "encoder_cpu_ms_per_frame": 1000 * cpu / len(pictures)}
    return rows


def measure(fn) -> tuple[float, float]:
    """fps and CPU ms a frame (this process's threads, or a command's own figures)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    frames, wall, cpu = result if isinstance(result, tuple) else (result, wall, cpu)
    return frames / wall, 1000 * cpu / frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clips", nargs="*", type=Path, help="clips used as they are (default: the bundled example)")
    ap.add_argument("--talking-head", type=Path, help="a 720p talking-head clip, cut to --frames first")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="uva-dva-64")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from uva_cli.allocator import keep_freed_memory
    from uva_cli.engine import load_predictor
    from uva_cli.examples import BUNNY

    keep_freed_memory()  # as the CLI does at start
    predictor = load_predictor(args.model, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        clips = list(args.clips) or ([] if args.talking_head else [Path(BUNNY)])
        if args.talking_head:
            clips.append(cut(args.talking_head, Path(tmp) / f"{args.talking_head.stem}.mp4", args.frames))
        runs, quality = {}, {}
        for k, clip in enumerate(clips):
            (Path(tmp) / str(k)).mkdir()
            maps, runs[clip.stem] = variants(clip, predictor, args.model, Path(tmp) / str(k))
            quality[clip.stem] = fidelity(clip, maps, Path(tmp) / str(k))
            print(f"{clip.stem}: what the encoder makes of the pictures it is given")
            for name, q in quality[clip.stem].items():
                print(f"  {name:46s} {q['kB']:7.0f} kB  PSNR Y {q['psnr_y']:.2f} dB, Cb/Cr {q['psnr_cbcr']:.2f} dB  "
                      f"SSIM Y {q['ssim_y']:.4f}  encoder CPU {q['encoder_cpu_ms_per_frame']:.2f} ms/frame", flush=True)
        samples: dict[str, dict[str, list]] = {name: {} for name in runs}
        for r in range(args.rounds):
            for name, fns in runs.items():
                first = measure(fns["plain"])  # the round's reference: the mean of this and the last
                for variant, fn in fns.items():
                    samples[name].setdefault(variant, []).append(measure(fn))
                last = samples[name]["plain"][-1] = tuple((a + b) / 2 for a, b in zip(first, samples[name]["plain"][-1]))
                print(f"round {r + 1} {name}: " + ", ".join(
                    f"{v} {s[-1][0]:.1f} fps {s[-1][1]:.1f} ms ({s[-1][0] / last[0]:.2f})"
                    for v, s in samples[name].items()), flush=True)
    results = {}
    for name, row in samples.items():
        plain_fps = [s[0] for s in row["plain"]]
        results[name] = {variant: {
            "fps": float(np.median([s[0] for s in values])),
            "cpu_ms_per_frame": float(np.median([s[1] for s in values])),
            "vs_plain": float(np.median([s[0] / p for s, p in zip(values, plain_fps)])),
            "vs_plain_per_round": [s[0] / p for s, p in zip(values, plain_fps)],
            "samples": values} for variant, values in row.items()}
        print(f"\n{name} (median of {args.rounds} interleaved rounds; ratios per round, then their median)")
        print("row".ljust(15) + "fps".rjust(8) + "CPU ms/frame".rjust(14) + "/ plain".rjust(9) + "   per round")
        for variant, v in results[name].items():
            print(variant.ljust(15) + f"{v['fps']:8.1f}{v['cpu_ms_per_frame']:14.2f}{v['vs_plain']:9.2f}   "
                  + " ".join(f"{x:.2f}" for x in v["vs_plain_per_round"]))
        cpu = {variant: v["cpu_ms_per_frame"] for variant, v in results[name].items()}
        print("CPU ms a frame beyond the plain transcode:")
        for what, row_name, before in BEYOND:
            print(f"  {cpu[row_name] - cpu[before]:+6.2f}  {what}")
        print(f"  {cpu['overlay'] - cpu['plain']:+6.2f}  in all ({cpu['plain'] / cpu['overlay']:.2f} of the overlay's "
              "CPU time is the plain transcode's)")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "rounds": args.rounds, "plain": vars(PLAIN),
                                         "clips": results, "fidelity": quality}, indent=2) + "\n")


if __name__ == "__main__":
    main()
