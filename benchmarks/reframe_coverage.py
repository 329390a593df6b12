"""How much of what people look at does `uva roi --reframe` keep in view, with a given model?

On the videos of a fixation-videos dataset (all of them by default; --val: the validation
videos of the usual split, by video, seed 0, 20 %), this plans the reframe camera exactly as
`uva roi --reframe ASPECT` does and counts the human fixations (one per observer per frame,
every frame) inside the window, per video and pooled; beside it a fixed centre crop of the same
size (what a plain vertical crop keeps) and the same camera on the human fixation density of
each frame instead of the model's map ("oracle": what perfect maps would give), and the
camera's motion (fastest pan, jumps inside shots).

The shipped models were trained on every xu-hevc video, so on those their maps are not out of
fold: `benchmarks/reframe_folds.py` scores the camera with the cross-validation folds' models
instead. This script is for a model on videos it has not seen (new eye-tracked clips).

    python benchmarks/reframe_coverage.py --data DIR --model uva-dva-64
    python benchmarks/reframe_coverage.py --data DIR --model runs/x/best.pt --aspect 1:1
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from uva_cli import reframe, roi
from uva_cli.data.fixations import density_map, frame_points, read_dataset, split_videos
from uva_cli.engine import load_predictor, predict_frames
from uva_cli.reframe.camera import shot_spans
from uva_cli.video import iter_frames, probe

KINDS = ("reframe", "centre crop", "oracle")


def inside(window: np.ndarray, pts: np.ndarray) -> np.ndarray:
    x, y, w, h = window
    return (pts[:, 0] >= x) & (pts[:, 0] < x + w) & (pts[:, 1] >= y) & (pts[:, 1] < y + h)


def fixations_kept(windows: np.ndarray, points: list[np.ndarray]) -> tuple[int, int]:
    """(fixations inside their frame's window, all fixations) over the frames."""
    kept = sum(int(inside(window, pts).sum()) for window, pts in zip(windows, points) if len(pts))
    return kept, sum(len(pts) for pts in points[:len(windows)])


def camera_motion(windows: np.ndarray, times: np.ndarray, shots: np.ndarray, span: float = 0.2,
                  jump: float = 0.1) -> dict[str, float]:
    """The fastest move of the window inside a shot, in window widths (or heights, along the axis
    it slides) per second, measured over `span` seconds so that whole-pixel rounding does not
    count, and the jumps inside shots: frame-to-frame moves of more than `jump` of the window."""
    windows, times, shots = np.asarray(windows, np.float64), np.asarray(times, np.float64), np.asarray(shots)
    size = windows[0, 2:4]
    fastest, jumps = 0.0, 0
    for start, stop in shot_spans(shots):
        pos, t = windows[start:stop, :2] / size, times[start:stop]
        if len(t) < 2:
            continue
        jumps += int((np.abs(np.diff(pos, axis=0)).max(axis=1) > jump).sum())
        lag = min(max(1, int(np.searchsorted(t, t[0] + span))), len(t) - 1)  # frames in `span` seconds
        moved = np.abs(pos[lag:] - pos[:-lag]).max(axis=1)
        fastest = max(fastest, float((moved / np.maximum(t[lag:] - t[:-lag], 1e-9)).max()))
    return {"max_speed": fastest, "jumps": jumps}


def centre_windows(width: int, height: int, window: tuple[int, int], n: int) -> np.ndarray:
    return reframe.windows_from_path(np.tile([width / 2, height / 2], (n, 1)), window, width, height)


def oracle_windows(results: list, points: list[np.ndarray], width: int, height: int, window: tuple[int, int],
                   camera: reframe.CameraConfig, size: int = 64) -> np.ndarray:
    """The camera on the human fixation density of each frame (no centre prior: it is the truth)."""
    truth = [dataclasses.replace(r, profile=reframe.mass_profile(density_map(pts, width, height, size, size)))
             for r, pts in zip(results, points)]
    return roi.reframe_windows(truth, window, width, height, dataclasses.replace(camera, centre_prior=None))


def score_video(item, predictor, aspect: float, camera: reframe.CameraConfig = reframe.CameraConfig()) -> dict:
    """Fixations kept by each kind of window, and the reframe camera's motion, on one video."""
    info = probe(item.path)
    window = reframe.reframe_window(info.width, info.height, aspect)
    frames = iter_frames(item.path, size=predictor.input_size, info=info)
    results = list(roi.analyse(predict_frames(predictor, frames), info.width, info.height, profiles=True))
    results = results[:item.frames]
    points = frame_points(item)[:len(results)]
    w, h, n = info.width, info.height, len(results)
    planned = roi.reframe_windows(results, window, w, h, camera)
    times, shots = np.array([r.time for r in results]), np.array([r.shot for r in results])
    return {"reframe": fixations_kept(planned, points),
            "centre crop": fixations_kept(centre_windows(w, h, window, n), points),
            "oracle": fixations_kept(oracle_windows(results, points, w, h, window, camera), points),
            "motion": camera_motion(planned, times, shots), "frames": n, "shots": int(shots[-1]) + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xu-hevc"))
    parser.add_argument("--model", default="uva-dva-64", help="registry name or .pt file")
    parser.add_argument("--aspect", default="9:16")
    parser.add_argument("--val", action="store_true", help="only the validation videos of the usual split")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    dataset = read_dataset(args.data)
    names = [item.name for item in dataset.items]
    chosen = set(split_videos(names, 0.2, seed=0)[1] if args.val else names)
    predictor = load_predictor(args.model, args.device, args.batch_size)
    aspect = reframe.parse_aspect(args.aspect)
    print(f"fixations kept in a {args.aspect} window, model {args.model}")
    print(f"{'video':<16} {'frames':>6} {'shots':>5} " + " ".join(f"{k:>11}" for k in KINDS)
          + f" {'x centre':>8} {'fastest':>7}")
    pooled = {k: [0, 0] for k in KINDS}
    fastest, jumps, below = 0.0, 0, []
    started = time.perf_counter()
    for item in (i for i in dataset.items if i.name in chosen):
        scores = score_video(item, predictor, aspect)
        shares = {k: scores[k][0] / max(scores[k][1], 1) for k in KINDS}
        for k in KINDS:
            pooled[k] = [a + b for a, b in zip(pooled[k], scores[k])]
        fastest, jumps = max(fastest, scores["motion"]["max_speed"]), jumps + scores["motion"]["jumps"]
        if shares["reframe"] < shares["centre crop"]:
            below.append(item.name)
        print(f"{item.name:<16} {scores['frames']:>6} {scores['shots']:>5} "
              + " ".join(f"{shares[k]:>11.3f}" for k in KINDS)
              + f" {shares['reframe'] / max(shares['centre crop'], 1e-9):>8.3f} {scores['motion']['max_speed']:>7.2f}")
    shares = {k: a / max(b, 1) for k, (a, b) in pooled.items()}
    print(f"{'pooled':<16} {'':>6} {'':>5} " + " ".join(f"{shares[k]:>11.3f}" for k in KINDS)
          + f" {shares['reframe'] / max(shares['centre crop'], 1e-9):>8.3f} {fastest:>7.2f}")
    print(f"below the centre crop on {len(below)} video(s){': ' + ', '.join(below) if below else ''}; "
          f"fastest pan {fastest:.2f} window widths/s; {jumps} jump(s) inside shots "
          f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
