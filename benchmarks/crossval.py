"""Leave-videos-out cross-validation of teachers and distilled students, with the baselines.

The 25 videos are cut into 5 seeded folds of 5 (by video, never by frame). For each fold the
spatial and the temporal teacher are trained on the other 20 videos (+ the still images), then,
with --student, a student is distilled from those two teachers on the same 20 videos. Every model
keeps its last epoch (`select="last"`: no epoch is picked on the fold it is scored on) and is scored
on the fold's 5 videos, beside two baselines scored on the same frames: the Gaussian centre bias
and the mean fixation map of the fold's training videos (a static prior learned from the data).

Settings come from benchmarks/configs/{teacher,student}.json, the files the shipped models were
trained with (on all 25 videos), so what is cross-validated is what ships; --teacher-set and
--student-set change single settings for an ablation.

Writes RUNS/crossval.json and a markdown table RUNS/crossval.md (mean ± standard deviation over
folds, per-fold NSS, NSS as a multiple of the centre bias's, folds where it beats the centre bias).

    python benchmarks/crossval.py --runs runs/cv                      # teachers only, ~20 min
    python benchmarks/crossval.py --runs runs/cv --student uva-dva-64 # + distilled students, ~1 h
    python benchmarks/crossval.py --runs runs/cv-faces --teacher-set 'arch={"faces": true}'
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

# uva_cli is imported inside the functions: `folds` is also used where only PyTorch is installed
# (views_cv.py's training on an accelerator machine), and the data and evaluation code need PyAV.
FOLDS = 5
METRICS = ("nss", "cc", "auc_judd")
CONFIGS = Path(__file__).resolve().parent / "configs"  # the settings the shipped models were trained with


def folds(names: list[str], k: int = FOLDS, seed: int = 0) -> list[list[str]]:
    """All videos in k disjoint, seeded folds."""
    order = np.random.default_rng(seed).permutation(len(names))
    return [sorted(names[i] for i in chunk) for chunk in np.array_split(order, k)]


def parse_settings(config: Path, pairs: list[str]) -> dict:
    """TrainConfig fields from a JSON file, then key=value pairs (values as JSON where they parse);
    val_fraction is dropped (the folds choose the held-out videos)."""
    from uva_cli.train.loop import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    out = {k: v for k, v in json.loads(Path(config).read_text()).items() if k != "val_fraction"}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in names:
            raise SystemExit(f"crossval: unknown setting {key!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def last_scores(run: Path) -> dict[str, float]:
    with open(run / "history.csv") as fh:
        row = list(csv.DictReader(fh))[-1]
    return {m: float(row[m]) for m in METRICS}


def mean_prior_scores(cache, fold: list[str], val_step: int) -> dict[str, float]:
    """The mean ground-truth density of the other videos' frames as one static map, scored on the
    fold's frames."""
    from uva_cli.evaluation import score_cache

    prior = np.asarray(cache.density[cache.frames_of([n for n in cache.names if n not in fold])], np.float64).mean(0)
    return score_cache(((int(i), prior) for i in cache.frames_of(fold)[::val_step]), cache).pooled()


def run_fold(k: int, fold: list[str], base, args, runs: Path, cache) -> dict[str, dict[str, float]]:
    from uva_cli.train.distill import distill
    from uva_cli.train.loop import train

    out = runs / f"fold-{k}"
    common = replace(base, val_videos=tuple(fold), select="last")
    rows: dict[str, dict[str, float]] = {}
    teachers = {}
    for name in args.teachers:
        run = (args.teachers_from or runs) / f"fold-{k}" / name
        if not (run / "history.csv").exists() or not (run / "best.pt").exists():
            train(replace(common, model=name, out=str(run), **args.teacher_set), progress=False)
        teachers[name] = str(run / "best.pt")
        rows[name] = last_scores(run)
    if args.student:
        run = out / args.student
        if not (run / "stage2" / "best.pt").exists():
            cfg = replace(common, model=args.student, out=str(run), spatial_teacher=teachers["teacher-spatial"],
                          temporal_teacher=teachers["teacher-temporal"], **args.student_set)
            distill(cfg, args.fusion_epochs, progress=False)
        rows[args.student] = last_scores(run / "stage2")
    # the training loop scored the centre bias on the fold's validation frames (baseline.json)
    rows["centre bias"] = json.loads((Path(next(iter(teachers.values()))).parent / "baseline.json").read_text())["centre"]
    rows["mean fixation map"] = mean_prior_scores(cache, fold, base.val_step)
    return rows


def table(results: list[dict[str, dict[str, float]]], fold_list: list[list[str]]) -> str:
    names = list(results[0])
    lines = ["| model | NSS | CC | AUC-Judd | NSS / centre | NSS per fold | beats centre on NSS |",
             "|---|---|---|---|---|---|---|"]
    centre = np.array([r["centre bias"]["nss"] for r in results])
    for name in names:
        cells = []
        for m in METRICS:
            v = np.array([r[name][m] for r in results])
            cells.append(f"{v.mean():.3f} ± {v.std(ddof=1):.3f}")
        nss = np.array([r[name]["nss"] for r in results])
        wins = int((nss > centre).sum())
        lines.append(f"| {name} | {' | '.join(cells)} | {nss.mean() / centre.mean():.2f}x | "
                     f"{' '.join(f'{v:.2f}' for v in nss)} | {wins}/{len(results)} |")
    folds_text = "; ".join(f"fold {k}: {', '.join(f)}" for k, f in enumerate(fold_list))
    return "\n".join(lines) + f"\n\nFolds (by video, seed 0): {folds_text}.\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/xu-hevc")
    ap.add_argument("--images", default="../shared/data/images")
    ap.add_argument("--runs", type=Path, required=True, help="folder for the fold runs and the table")
    ap.add_argument("--student", choices=["uva-dva-64", "uva-dva-32"], help="also distil this student per fold")
    ap.add_argument("--fusion-epochs", type=int, default=2)
    ap.add_argument("--teacher-config", type=Path, default=CONFIGS / "teacher.json")
    ap.add_argument("--student-config", type=Path, default=CONFIGS / "student.json")
    ap.add_argument("--teacher-set", nargs="*", default=[], help="TrainConfig key=value for the teachers")
    ap.add_argument("--student-set", nargs="*", default=[], help="TrainConfig key=value for the student")
    ap.add_argument("--teachers-from", type=Path, help="reuse the fold teachers of an earlier --runs folder")
    ap.add_argument("--teachers", nargs="+", default=["teacher-spatial", "teacher-temporal"],
                    choices=["teacher-spatial", "teacher-temporal"], help="which teachers to train (an ablation "
                    "may need one; --student needs both)")
    ap.add_argument("--folds", type=int, default=FOLDS)
    ap.add_argument("--only", type=int, nargs="*", help="run only these fold numbers")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    from uva_cli.data.cache import build_cache
    from uva_cli.train.loop import TrainConfig

    args.teacher_set = parse_settings(args.teacher_config, args.teacher_set)
    args.student_set = parse_settings(args.student_config, args.student_set)
    base = TrainConfig(data=args.data, images=args.images or None, threads=args.threads)
    cache = build_cache(args.data, 64, progress=False)
    fold_list = folds(cache.names, args.folds)
    results = []
    for k, fold in enumerate(fold_list):
        if args.only is None or k in args.only:
            results.append(run_fold(k, fold, base, args, args.runs, cache))
            print(f"fold {k}: " + "; ".join(f"{n} NSS {r['nss']:.3f} CC {r['cc']:.3f}" for n, r in results[-1].items()),
                  flush=True)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "crossval.json").write_text(json.dumps({"folds": fold_list, "results": results}, indent=2))
    if len(results) > 1:
        text = table(results, [fold_list[k] for k in (args.only or range(len(fold_list)))])
        (args.runs / "crossval.md").write_text(text)
        print(text)


if __name__ == "__main__":
    main()
