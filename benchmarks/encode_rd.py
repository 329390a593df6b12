"""Rate-distortion of `uva encode` against plain x264 on the eye-tracked videos.

For each video: plain x264 (`uva encode --strength 0`, byte for byte a plain libx264 encode at
the same settings, tests/test_encode.py) and `uva encode` at four base CRFs, the same preset;
for each encode the video bitrate, the luma PSNR (per frame, averaged over frames) and the
eye-tracking weighted PSNR (EWPSNR: each frame's squared error weighted per pixel by the human
fixation density of that frame, the dataset's recipe, sigma = 0.025 x width; frames without
active fixations are left out), and per video the Bjøntegaard delta rate (BD-rate: the mean
bitrate difference at equal quality, cubic fits of log rate against dB) on EWPSNR and on PSNR.
Negative is better: -15 % means 15 % fewer bits for the same quality.

Maps should come from models that did not train on the video scored: --maps-from DIR takes a
folder of cross-validation runs DIR/fold-K/ (K = 0..4; the folds of benchmarks/crossval.py, or
each folder's held_out.json) and maps each video with DIR/fold-K/--fold-model of the fold that
held it out. Without it the shipped --model is used, which saw every one of these videos in
training (optimistic; the table says which). --oracle adds a third encode driven by the human
density itself (what a perfect saliency model would give with this offset scheme).

    python benchmarks/encode_rd.py --maps-from runs/views --json runs/encode_rd.json   # all 25
    python benchmarks/encode_rd.py --videos BQSquare BasketballPass --frames 120      # a quick subset

The squared error of a frame is pooled in blocks of --block pixels before the weighting (the
density is smooth at sigma = 0.025 x width, 10 px at 416 wide), so EWPSNR costs little more
than PSNR.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from uva_cli.data.fixations import density_map, frame_points, read_dataset  # noqa: E402
from uva_cli.encode import EncodedVideo, EncodeSettings  # noqa: E402
from uva_cli.engine import load_predictor, predict_frames  # noqa: E402
from uva_cli.video import iter_frames, probe  # noqa: E402

CRFS = (22, 27, 32, 37)  # the usual four points of a BD-rate (JCT-VC common test conditions use these QPs)


def bd_rate(rate_a, quality_a, rate_b, quality_b) -> float:
    """Bjøntegaard delta rate of B against A in percent (negative: B needs fewer bits for the
    same quality): cubic fits of log rate against quality, integrated over the quality range
    both curves cover. NaN when the ranges do not overlap."""
    la, lb = np.log(np.asarray(rate_a, float)), np.log(np.asarray(rate_b, float))
    qa, qb = np.asarray(quality_a, float), np.asarray(quality_b, float)
    lo, hi = max(qa.min(), qb.min()), min(qa.max(), qb.max())
    if not hi > lo:
        return float("nan")
    fa, fb = np.polyint(np.polyfit(qa, la, 3)), np.polyint(np.polyfit(qb, lb, 3))
    mean_diff = (np.polyval(fb, hi) - np.polyval(fb, lo) - np.polyval(fa, hi) + np.polyval(fa, lo)) / (hi - lo)
    return float((np.exp(mean_diff) - 1) * 100)


def block_mean(array: np.ndarray, block: int) -> np.ndarray:
    h, w = array.shape[0] // block * block, array.shape[1] // block * block
    return array[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def psnr(mse: float) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-10)))


def fold_model(maps_from: Path, name: str, names: list[str], fold_model_name: str) -> Path:
    """The fold checkpoint that did not train on video `name`: the fold whose held_out.json
    lists it, else the fold of crossval.folds over the dataset's videos."""
    for run in sorted(maps_from.glob("fold-[0-9]*")):
        held = run / "held_out.json"
        if held.exists() and name in json.loads(held.read_text()):
            return run / fold_model_name
    from crossval import folds

    k = next(k for k, fold in enumerate(folds(names)) if name in fold)
    return maps_from / f"fold-{k}" / fold_model_name


def video_maps(path: Path, predictor, frames: int) -> list[np.ndarray]:
    """The model's map of each of the first `frames` frames."""
    decoded = iter_frames(path, size=predictor.input_size)
    return [smap for _, smap in islice(predict_frames(predictor, islice(decoded, frames)), frames)]


def density_maps(item, frames: int, height: int, width: int) -> list[np.ndarray | None]:
    """The human fixation density of each frame on a (height, width) grid; None without fixations."""
    points = frame_points(item)
    return [density_map(p, item.width, item.height, height, width) if len(p) else None
            for p in points[:frames]]


def encode(path: Path, out: Path, maps: list[np.ndarray], settings: EncodeSettings, frames: int) -> float:
    """Encode the first `frames` frames of `path` with `uva encode`'s writer; seconds taken."""
    started = time.perf_counter()
    info = probe(path)
    video = EncodedVideo(out, info, settings)
    try:
        for frame, smap in zip(islice(iter_frames(path, size=64, native=True, yuv=True, info=info), frames), maps):
            video.write(frame, smap, None)
        video.close()
    except BaseException:
        video.abort()
        raise
    return time.perf_counter() - started


def measure(source: Path, encoded: Path, densities: list, frames: int, fps: float, block: int) -> dict:
    """Bitrate (video stream, kbit/s), mean luma PSNR and EWPSNR of an encode of `source`."""
    import av

    with av.open(str(encoded)) as container:
        stream = container.streams.video[0]
        size = sum(p.size for p in container.demux(stream) if p.size)
    psnrs, ewpsnrs = [], []
    pairs = zip(iter_frames(source, native=True, yuv=True), iter_frames(encoded, native=True, yuv=True))
    n = 0
    for (ref, dec), density in zip(islice(pairs, frames), densities):
        h = ref.native.shape[0] * 2 // 3
        error = (ref.native[:h].astype(np.float32) - dec.native[:h].astype(np.float32)) ** 2
        psnrs.append(psnr(float(error.mean())))
        if density is not None:
            blocks = block_mean(error, block)
            weights = density[: blocks.shape[0], : blocks.shape[1]]
            ewpsnrs.append(psnr(float((blocks * weights).sum() / weights.sum())))
        n += 1
    return {"kbps": size * 8 / (n / fps) / 1000, "psnr": float(np.mean(psnrs)),
            "ewpsnr": float(np.mean(ewpsnrs)) if ewpsnrs else float("nan"), "frames": n}


def run_video(item, predictor, args, work: Path) -> dict:
    info = probe(item.path)
    frames = min(args.frames or item.frames, item.frames)
    maps = {"uva": video_maps(item.path, predictor, frames)}
    h, w = (info.height - info.height % 2) // args.block, (info.width - info.width % 2) // args.block
    densities = density_maps(item, frames, h, w)
    if args.oracle:  # the human density as the map, at the model's side, peak 1
        side = maps["uva"][0].shape[0]
        dens = [density_map(p, item.width, item.height, side, side) for p in frame_points(item)[:frames]]
        maps["oracle"] = [d / d.max() for d in dens]
    modes = {"x264": (maps["uva"], 0.0), **{m: (v, args.strength) for m, v in maps.items()}}
    rows: dict[str, list[dict]] = {mode: [] for mode in modes}
    for crf in args.crfs:
        for mode, (mode_maps, strength) in modes.items():
            settings = EncodeSettings(crf=crf, strength=strength, preset=args.preset)
            out = work / f"{item.name}.{mode}.crf{crf}.mp4"
            seconds = encode(item.path, out, mode_maps, settings, frames)
            row = {"crf": crf, "seconds": round(seconds, 2), **measure(item.path, out, densities, frames, info.fps,
                                                                       args.block)}
            rows[mode].append(row)
            out.unlink()
            print(f"  {item.name} {mode:6s} crf {crf}: {row['kbps']:8.1f} kbit/s  PSNR {row['psnr']:.2f}  "
                  f"EWPSNR {row['ewpsnr']:.2f}  ({seconds:.1f} s)", flush=True)
    result = {"name": item.name, "frames": frames, "size": [info.width, info.height], "encodes": rows}
    base = rows["x264"]
    for mode in modes:
        if mode != "x264":
            for metric in ("ewpsnr", "psnr"):
                result[f"bd_rate_{metric}_{mode}"] = bd_rate([r["kbps"] for r in base], [r[metric] for r in base],
                                                             [r["kbps"] for r in rows[mode]],
                                                             [r[metric] for r in rows[mode]])
    return result


def table(results: list[dict], header: str) -> str:
    modes = sorted({k.rsplit("_", 1)[1] for r in results for k in r if k.startswith("bd_rate_ewpsnr_")})
    lines = [header, "", "| video | frames | " + " | ".join(f"BD-rate EWPSNR ({m}) | BD-rate PSNR ({m})" for m in modes)
             + " |", "|---|---|" + "---|---|" * len(modes)]
    for r in results:
        cells = " | ".join(f"{r[f'bd_rate_ewpsnr_{m}']:+.1f} % | {r[f'bd_rate_psnr_{m}']:+.1f} %" for m in modes)
        lines.append(f"| {r['name']} | {r['frames']} | {cells} |")
    means = " | ".join(f"**{np.nanmean([r[f'bd_rate_ewpsnr_{m}'] for r in results]):+.1f} %** | "
                       f"{np.nanmean([r[f'bd_rate_psnr_{m}'] for r in results]):+.1f} %" for m in modes)
    lines.append(f"| mean of {len(results)} | | {means} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/xu-hevc"))
    ap.add_argument("--videos", nargs="*", help="only these videos (default: all)")
    ap.add_argument("--frames", type=int, default=0, help="only the first N frames of each video (0: all)")
    ap.add_argument("--crfs", type=int, nargs=4, default=CRFS)
    ap.add_argument("--preset", default=EncodeSettings.preset)
    ap.add_argument("--strength", type=float, default=EncodeSettings.strength)
    ap.add_argument("--model", default="uva-dva-64", help="the maps' model without --maps-from")
    ap.add_argument("--maps-from", type=Path, help="folder of fold runs (fold-K/FOLD_MODEL): out-of-fold maps")
    ap.add_argument("--fold-model", default="x1-64.pt", help="checkpoint name inside each fold folder")
    ap.add_argument("--oracle", action="store_true", help="also encode with the human density as the map")
    ap.add_argument("--block", type=int, default=4, help="pixels per side of the error blocks EWPSNR weighs")
    ap.add_argument("--work", type=Path, default=Path("runs/encode_rd"), help="folder for the encodes (removed)")
    ap.add_argument("--json", type=Path, help="write every figure here")
    args = ap.parse_args()
    dataset = read_dataset(args.data)
    names = [item.name for item in dataset.items]
    items = [item for item in dataset.items if not args.videos or item.name in args.videos]
    args.work.mkdir(parents=True, exist_ok=True)
    results, models = [], {}
    for item in items:
        model = str(fold_model(args.maps_from, item.name, names, args.fold_model)) if args.maps_from else args.model
        if model not in models:
            models[model] = load_predictor(model, device="cpu", batch_size=64)
        print(f"{item.name} ({item.width}x{item.height}, maps: {model})", flush=True)
        results.append({**run_video(item, models[model], args, args.work), "model": model})
    source = "out-of-fold maps" if args.maps_from else f"maps of {args.model} (trained on these videos: optimistic)"
    text = table(results, f"uva encode against x264 (preset {args.preset}, strength {args.strength}, CRFs "
                          f"{', '.join(map(str, args.crfs))}; {source}; "
                          f"{'first ' + str(args.frames) + ' frames' if args.frames else 'all frames'})")
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": {k: str(v) if isinstance(v, Path) else v
                                                      for k, v in vars(args).items()},
                                         "results": results, "table": text}, indent=2))


if __name__ == "__main__":
    main()
