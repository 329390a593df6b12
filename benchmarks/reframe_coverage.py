"""How much of what people look at does `uva roi --reframe` keep in view?

On the validation videos of a fixation-videos dataset (split by video, seed 0, 20 %), this
plans the reframe camera exactly as `uva roi --reframe ASPECT` does and counts, per frame, the
fraction of human fixations inside the window; frames without fixations are skipped and the
fractions are averaged over frames. Next to it: a fixed centre crop of the same size (the
baseline a dumb vertical crop gets), the per-frame best window before camera smoothing (what
the smoothing costs), and the same camera driven by the human fixation density of each frame
instead of the model's map ("oracle": what a perfect saliency model would get with this camera).

    python benchmarks/reframe_coverage.py --model uva-dva-64
    python benchmarks/reframe_coverage.py --model runs/uva-dva-64/best.pt --aspect 1:1
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


def inside(window: np.ndarray, pts: np.ndarray) -> np.ndarray:
    x, y, w, h = window
    return (pts[:, 0] >= x) & (pts[:, 0] < x + w) & (pts[:, 1] >= y) & (pts[:, 1] < y + h)


def coverage(windows: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    """Per frame: fraction of that frame's fixations inside its window (NaN when none)."""
    out = np.full(len(windows), np.nan)
    for k, (window, pts) in enumerate(zip(windows, points)):
        if len(pts):
            out[k] = inside(window, pts).mean()
    return out


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
        lag = max(1, int(np.searchsorted(t, t[0] + span)))  # frames in `span` seconds
        lag = min(lag, len(t) - 1)
        moved = np.abs(pos[lag:] - pos[:-lag]).max(axis=1)
        fastest = max(fastest, float((moved / np.maximum(t[lag:] - t[:-lag], 1e-9)).max()))
    return {"max_speed": fastest, "jumps": jumps}


@dataclasses.dataclass
class Analysed:
    """One video's per-frame analysis and fixations, ready for any camera setting."""

    name: str
    width: int
    height: int
    window: tuple[int, int]
    results: list
    points: list[np.ndarray]


def analyse_video(item, predictor, aspect: float) -> Analysed:
    info = probe(item.path)
    window = reframe.reframe_window(info.width, info.height, aspect)
    frames = iter_frames(item.path, size=predictor.input_size, info=info)
    results = list(roi.analyse(predict_frames(predictor, frames), info.width, info.height, profiles=True))
    n = min(len(results), item.frames)
    return Analysed(item.name, info.width, info.height, window, results[:n], frame_points(item)[:n])


def score_video(video: Analysed, camera: reframe.CameraConfig = reframe.CameraConfig()) -> dict[str, np.ndarray]:
    """Per-frame coverage of each kind of window."""
    results, points, window = video.results, video.points, video.window
    w, h, n = video.width, video.height, len(results)
    centred = reframe.windows_from_path(np.tile([w / 2, h / 2], (n, 1)), window, w, h)
    raw = np.array([reframe.window_focus(r.profile, w, h, window) for r in results])
    size = int(len(results[0].profile[0]))
    oracle = [dataclasses.replace(r, profile=reframe.mass_profile(density_map(pts, w, h, size, size)))
              for r, pts in zip(results, points)]
    return {"reframe": coverage(roi.reframe_windows(results, window, w, h, camera), points),
            "centre crop": coverage(centred, points),
            "unsmoothed": coverage(reframe.windows_from_path(raw, window, w, h), points),
            "oracle": coverage(roi.reframe_windows(oracle, window, w, h, dataclasses.replace(
                camera, centre_mix=0.0, attention_window=0.0)), points),
            "shots": np.array([results[-1].shot + 1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/xu-hevc"))
    parser.add_argument("--model", default="uva-dva-64", help="registry name or .pt file")
    parser.add_argument("--aspect", default="9:16")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    dataset = read_dataset(args.data)
    _, val = split_videos([item.name for item in dataset.items], 0.2, seed=0)
    predictor = load_predictor(args.model, args.device, args.batch_size)
    aspect = reframe.parse_aspect(args.aspect)
    kinds = ("reframe", "centre crop", "unsmoothed", "oracle")
    print(f"fixations inside a {args.aspect} window (mean over frames), model {args.model}")
    print(f"{'video':<16} {'size':>9} {'frames':>6} {'shots':>5} " + " ".join(f"{k:>12}" for k in kinds))
    pooled: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    started = time.perf_counter()
    for item in (i for i in dataset.items if i.name in val):
        scores = score_video(analyse_video(item, predictor, aspect))
        for k in kinds:
            pooled[k].append(scores[k])
        print(f"{item.name:<16} {item.width:>4}x{item.height:<4} {len(scores['reframe']):>6} "
              f"{int(scores['shots'][0]):>5} " + " ".join(f"{np.nanmean(scores[k]):>12.3f}" for k in kinds))
    print(f"{'all frames':<16} {'':>9} {sum(len(v) for v in pooled['reframe']):>6} {'':>5} "
          + " ".join(f"{np.nanmean(np.concatenate(pooled[k])):>12.3f}" for k in kinds))
    print(f"{'mean of videos':<16} {'':>9} {'':>6} {'':>5} "
          + " ".join(f"{np.mean([np.nanmean(v) for v in pooled[k]]):>12.3f}" for k in kinds))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
