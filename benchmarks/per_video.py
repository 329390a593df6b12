"""Out-of-fold NSS per video: each fold's teachers scored on the fold's own videos, beside the
centre bias on the same frames, so the videos where a teacher loses to the centre bias can be named
(the fold means of benchmarks/crossval.py hide them).

Rows are NAME=RUNS:TEACHER, a crossval.py --runs folder and the teacher trained in it per fold
(RUNS/fold-K/TEACHER/best.pt), or several joined by + (the mean of their maps, what a student's
fused head learns). The teachers' frozen features are the ones training cached, so this
runs in a minute or two.

    python benchmarks/per_video.py --out benchmarks/results/per-video-teachers \\
        spatial=runs/cv-main:teacher-spatial temporal=runs/cv-main:teacher-temporal
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossval import folds  # noqa: E402


def per_video(rows: list[str], data: str, step: int) -> tuple[list[list[str]], dict, dict]:
    """The folds, {video: {row name: NSS}} with "centre bias" among the rows, and {row name: [NSS
    of each fold, all its frames pooled]} (as crossval.py's table has them)."""
    from uva_cli.data.cache import build_cache
    from uva_cli.evaluation import centre_predictions, score_cache

    small, large = build_cache(data, 64, progress=False), build_cache(data, 256, progress=False)
    fold_list = folds(small.names)
    videos: dict[str, dict[str, float]] = {}
    pooled: dict[str, list[float]] = {}

    def record(name: str, scores, k: int) -> None:
        pooled.setdefault(name, []).append(scores.pooled()["nss"])
        for video, s in scores.per_video().items():
            videos.setdefault(video, {"fold": k})[name] = s["nss"]

    for k, fold in enumerate(fold_list):
        idx = small.frames_of(fold)[::step]
        record("centre bias", score_cache(centre_predictions(small, idx), small), k)
        for row in rows:
            name, _, sources = row.partition("=")
            record(name, score_cache(_mean_maps(sources.split("+"), k, large, idx), small), k)
    return fold_list, videos, pooled


def _mean_maps(sources: list[str], k: int, cache, idx: np.ndarray):
    """(index, map) of the mean of the fold-K teachers RUNS:TEACHER over the frames idx."""
    from uva_cli.models.registry import load_model
    from uva_cli.train.features import frame_features
    from uva_cli.train.recipes import teacher_batches

    streams = []
    for source in sources:
        runs, _, teacher = source.rpartition(":")
        model = load_model(Path(runs) / f"fold-{k}" / teacher / "best.pt")
        streams.append(teacher_batches(model, frame_features(model, cache, progress=False), cache, idx, "cpu"))
    for batches in zip(*streams):
        yield from zip(batches[0][0].tolist(), np.mean([maps for _, maps in batches], axis=0))


def table(videos: dict[str, dict[str, float]], pooled: dict[str, list[float]]) -> str:
    names = list(pooled)
    lines = ["| video | fold | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for video, row in sorted(videos.items(), key=lambda kv: (kv[1]["fold"], kv[0])):
        lines.append(f"| {video} | {row['fold']} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")
    lines.append("| **folds pooled (crossval.py's NSS)** | | " + " | ".join(f"**{np.mean(pooled[n]):.3f}**" for n in names) + " |")
    centre = np.mean(pooled["centre bias"])
    for n in names[1:]:
        behind = sorted(video for video, row in videos.items() if row[n] <= row["centre bias"])
        lines.append(f"\n{n}: {np.mean(pooled[n]) / centre:.2f}x the centre bias; ahead of it on "
                     f"{len(videos) - len(behind)}/{len(videos)} videos" + (f", not on {', '.join(behind)}" if behind else "") + ".")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", nargs="+", help="NAME=RUNS:TEACHER[+RUNS:TEACHER...]")
    ap.add_argument("--data", default="../shared/data/xu-hevc")
    ap.add_argument("--step", type=int, default=2, help="score every STEP-th frame (crossval.py's validation step)")
    ap.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md")
    args = ap.parse_args()
    fold_list, videos, pooled = per_video(args.rows, args.data, args.step)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"folds": fold_list, "videos": videos, "pooled": pooled}, indent=2))
    text = table(videos, pooled)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
