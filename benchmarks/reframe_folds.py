"""Choose the reframe camera's attention settings without looking at the validation videos.

A saliency model is over-confident on video it has not seen, and the shipped students have seen
every training video, so their maps on those videos say nothing about how far to trust a map.
This script makes honest out-of-fold maps instead: the 20 training videos (the split `uva train`
uses by default: by video, seed 0, 20 % validation) are cut into 4 folds of 5; for each fold a
ground-truth-only uva-dva-32 is trained on the other 15 (the validation videos are excluded
entirely, and each fold model picks its epoch on its own fold), then predicts its fold.

On those maps it scores every combination of `CameraConfig.centre_mix` (how much of a centre
prior is mixed into each map) and `CameraConfig.attention_window` (seconds over which window
mass is averaged) by the fraction of human fixations inside the 9:16 reframe window, and prints
the table and the best row. The validation videos are then scored once with the winner by
`benchmarks/reframe_coverage.py`.

    python benchmarks/reframe_folds.py --runs runs/folds            # ~25 min on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import numpy as np

from reframe_coverage import analyse_video, score_video
from uva_cli.data.fixations import read_dataset, split_videos
from uva_cli.engine import load_predictor
from uva_cli.reframe import CameraConfig
from uva_cli.train.loop import TrainConfig, train

FOLDS = 4
MIXES = (0.0, 0.25, 0.5, 0.75, 0.9)
WINDOWS = (0.0, 0.5, 1.0, 2.0)


def folds(names: list[str], k: int = FOLDS, seed: int = 1) -> list[list[str]]:
    """The training videos in k disjoint, seeded folds."""
    train_names, _ = split_videos(names, 0.2, seed=0)
    order = np.random.default_rng(seed).permutation(len(train_names))
    return [sorted(train_names[i] for i in chunk) for chunk in np.array_split(order, k)]


def train_folds(names: list[str], fold_list: list[list[str]], data: Path, images: Path | None, runs: Path,
                epochs: int, threads: int) -> list[Path]:
    """One ground-truth-only uva-dva-32 per fold (skipped when its best.pt exists); the
    validation videos of the usual split are never seen."""
    _, val = split_videos(names, 0.2, seed=0)
    models = []
    for k, fold in enumerate(fold_list):
        out = runs / f"fold-{k}"
        if not (out / "best.pt").exists():
            train(TrainConfig(model="uva-dva-32", data=str(data), images=str(images) if images else None,
                              out=str(out), epochs=epochs, val_videos=tuple(fold), exclude=tuple(val),
                              threads=threads), progress=False)
        models.append(out / "best.pt")
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/xu-hevc"))
    parser.add_argument("--images", type=Path, default=Path("/work/shared/data/images"))
    parser.add_argument("--runs", type=Path, default=Path("runs/folds"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    by_name = {item.name: item for item in read_dataset(args.data).items}
    fold_list = folds(list(by_name))
    models = train_folds(list(by_name), fold_list, args.data, args.images, args.runs, args.epochs, args.threads)
    if args.train_only:
        return
    videos = []
    for model, fold in zip(models, fold_list):
        predictor = load_predictor(str(model), "cpu", 64)
        videos += [analyse_video(by_name[name], predictor, 9 / 16) for name in fold]
    print("fixations inside a 9:16 window, out-of-fold maps of the 20 training videos (pooled over frames)")
    print(f"{'centre_mix':>10} {'attention_window':>16} {'reframe':>8} {'centre crop':>11}")
    table = {}
    for mix, seconds in itertools.product(MIXES, WINDOWS):
        camera = dataclasses.replace(CameraConfig(), centre_mix=mix, attention_window=seconds)
        scores = [score_video(video, camera) for video in videos]
        table[mix, seconds] = pooled = {k: float(np.nanmean(np.concatenate([s[k] for s in scores])))
                                        for k in ("reframe", "centre crop")}
        print(f"{mix:>10.2f} {seconds:>16.1f} {pooled['reframe']:>8.3f} {pooled['centre crop']:>11.3f}")
    (mix, seconds), best = max(table.items(), key=lambda kv: kv[1]["reframe"])
    print(f"best: centre_mix={mix} attention_window={seconds} -> {best['reframe']:.3f} "
          f"(centre crop {best['centre crop']:.3f})")


if __name__ == "__main__":
    main()
