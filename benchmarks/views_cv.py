"""Cross-validation of students distilled on their own views (uva_cli/train/views.py).

For each of the 5 folds (by video, the folds of benchmarks/crossval.py) the students of
benchmarks/configs/views.json learn from that fold's teachers on views of every pool frame except
the fold's own videos (the other 20 eye-tracked videos, the still images, the unlabelled clips);
`all` trains the same students on the whole pool from the shipped teachers. They are then scored
on the fold's videos beside the centre bias, the mean fixation map and the ceilings: the fold's
teachers (the mean of their maps, which the fused head learns) run on the 64 px and the 32 px
frame scaled back up to their 256 px.

Steps, each its own sub-command:

    python benchmarks/views_cv.py pool --out runs/views/pool            # frames at 128 px, packed
    python benchmarks/views_cv.py teachers --cv runs/cv-main --out runs/views/teachers.pt
    python benchmarks/views_cv.py train --pool runs/views/pool --teachers runs/views/teachers.pt \\
        --runs runs/views --seconds 360 --folds 0 1 2 3 4 all            # all folds in one process
    python benchmarks/views_cv.py score --runs runs/views --packed runs/views/teachers.pt
    python benchmarks/views_cv.py report --cv runs/cv-main --out benchmarks/results/crossval-views \\
        uva-dva-64=runs/views2:x4-64 ...                                  # rows renamed

What ran for the shipped students (one H200, 15 minutes of device time in each of two sessions):
session 8, when `train` still ran one process per fold: `train --seconds 420` into runs/views (the
eight students of views.json, 268 steps), then `train --seconds 185 --config
benchmarks/configs/views-continue.json --init-from runs/views` into runs/views2 (four of them
continued, 222 steps); session 9, all folds in one process: `train --seconds 470 --config
benchmarks/configs/views-long.json --init-from runs/views2` into runs/views3 (the two shipped rows,
864 steps of 512), then the same `--init-from runs/views3 --seconds 200` into runs/views4 (282
steps). Then `score` on each and `report` into benchmarks/results/crossval-views; uva-dva-64 is
runs/views3's x4-64, uva-dva-32 runs/views4's x2-32-t64 (their cards give the stages). (On the
GPU, --init-from named a folder of copies of the previous run's checkpoints, runs/gpu/init, which
travels with the command; each run's views.json names the previous run's folder.)

`train` is what runs on an accelerator: it needs PyTorch (and PyAV or OpenCV to read the pool),
not the eye-tracking data. `teachers` packs the fold teachers' readouts only: their encoder is the
shipped teachers' (checked), so a fold teacher is rebuilt from the shipped file plus its readout.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crossval import FOLDS, folds  # noqa: E402

CONFIG = Path(__file__).resolve().parent / "configs" / "views.json"
TEACHERS = ("teacher-spatial", "teacher-temporal")
DATA, IMAGES, CLIPS = "../shared/data/xu-hevc", "../shared/data/images", "../shared/data/unlabelled"


def video_names(pool) -> list[str]:
    return [n[6:] for n in pool.names if n.startswith("video:")]


def cmd_pool(args) -> None:
    from uva_cli.train.pool import build_pool, pack

    pack(build_pool(args.data, args.images, args.clips), args.out)


def cmd_teachers(args) -> None:
    """{fold: {teacher: readout and prior state}} of the fold teachers, fp16."""
    import torch

    from uva_cli.models.registry import load_model

    shipped = {name: load_model(name).encoder.state_dict() for name in TEACHERS}
    out = {}
    for k in range(FOLDS):
        out[str(k)] = {}
        for name in TEACHERS:
            state = load_model(args.cv / f"fold-{k}" / name / "best.pt").state_dict()
            enc = {key[len("encoder."):]: v for key, v in state.items() if key.startswith("encoder.")}
            if any(not torch.equal(enc[key], shipped[name][key]) for key in enc):
                raise SystemExit(f"fold {k} {name}: its encoder is not the shipped teacher's")
            out[str(k)][name] = {key: v.half() for key, v in state.items() if not key.startswith("encoder.")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, args.out)


def fold_teachers(packed: Path | None, fold: str, device: str):
    """The fold's two teachers (the shipped ones for `all`)."""
    import torch

    from uva_cli.models.registry import load_model
    from uva_cli.train.views import Teachers

    nets = [load_model(name) for name in TEACHERS]
    if fold != "all":
        readouts = torch.load(packed, map_location="cpu", weights_only=True)[fold]
        for net, name in zip(nets, TEACHERS):
            net.load_state_dict({**net.state_dict(), **{k: v.float() for k, v in readouts[name].items()}})
    return Teachers(*nets).on(device)


def cmd_train(args) -> None:
    """Every fold's students, and the final ones, in one process: each step's batch of views and
    the teachers' encoder pass on it serve them all (train_cohorts); a fold's students learn only
    from the rows of the batch that are not its own videos."""
    import logging
    from dataclasses import replace

    from uva_cli.train.pool import unpack
    from uva_cli.train.views import Cohort, ViewConfig, train_cohorts, training_device

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pool = unpack(args.pool)
    fold_list = folds(video_names(pool))
    print(f"pool: {len(pool)} frames, {len(video_names(pool))} eye-tracked videos", flush=True)
    settings = json.loads(args.config.read_text())
    cfg = ViewConfig.from_dict({**settings, "seconds": args.seconds, "device": args.device,
                                **({"steps": args.steps} if args.steps else {})})
    device = training_device(args.device)
    cohorts = []
    for fold in args.folds:
        # --init-from: each student continues from its checkpoint of an earlier run of this fold
        specs = [replace(spec, init=str(args.init_from / f"fold-{fold}" / f"{spec.label}.pt")) if args.init_from
                 else spec for spec in cfg.students]
        cohorts.append(Cohort(args.runs / f"fold-{fold}", fold_teachers(args.teachers, fold, device), specs,
                              exclude=-1 if fold == "all" else int(fold) + 1))  # stratum 0: no fold's frames
    train_cohorts(cfg, pool.frames, pool.nxt, pool.strata(fold_list), cohorts, progress=True)
    for fold, cohort in zip(args.folds, cohorts):
        (cohort.out / "held_out.json").write_text(json.dumps([] if fold == "all" else fold_list[int(fold)]))
        if args.tar:
            args.tar.mkdir(parents=True, exist_ok=True)
            with tarfile.open(args.tar / f"fold-{fold}.tar", "w") as tar:
                tar.add(cohort.out, arcname=f"fold-{fold}")


def cmd_score(args) -> None:
    """Every fold's students, ceilings and baselines on the fold's videos (every 2nd frame). The
    ceilings need only the fold teachers: they are kept in RUNS/ceilings.json and computed once."""
    from uva_cli.data.cache import build_cache
    from uva_cli.evaluation import centre_predictions, model_predictions, score_cache
    from uva_cli.models.registry import load_model

    from crossval import mean_prior_scores, table

    caches = {s: build_cache(args.data, s, progress=False) for s in (32, 64)}
    fold_list = folds(caches[64].names)
    saved = args.runs / "ceilings.json"
    ceilings = json.loads(saved.read_text()) if saved.exists() else {}
    results = []
    for k, fold in enumerate(fold_list):
        run = args.runs / f"fold-{k}"
        idx = caches[64].frames_of(fold)[::2]
        rows = {}
        for ckpt in sorted(run.glob("*.pt")):
            model = load_model(ckpt)
            cache = caches[model.cfg.input_size]
            rows[ckpt.stem] = score_cache(model_predictions(model, cache, idx), caches[64]).pooled()
        for side in args.ceilings:
            key = f"fold teachers on {side} px"
            if key not in ceilings.setdefault(str(k), {}):
                teachers = fold_teachers(args.packed, str(k), "cpu")
                ceilings[str(k)][key] = score_cache(teacher_on_small(teachers, caches[side], idx), caches[64]).pooled()
                saved.write_text(json.dumps(ceilings, indent=2))
            rows[key] = ceilings[str(k)][key]
        rows["centre bias"] = score_cache(centre_predictions(caches[64], idx), caches[64]).pooled()
        rows["mean fixation map"] = mean_prior_scores(caches[64], fold, 2)
        results.append(rows)
        print(f"fold {k}: " + "; ".join(f"{n} {r['nss']:.3f}" for n, r in rows.items()), flush=True)
    (args.runs / "scores.json").write_text(json.dumps({"folds": fold_list, "results": results}, indent=2))
    text = table(results, fold_list)
    (args.runs / "scores.md").write_text(text)
    print(text)


def cmd_report(args) -> None:
    """One cross-validation table of what ships and what it was chosen from: rows NAME=RUNS:LABEL
    (a score run's row, renamed), the fold teachers of a crossval.py run, the ceilings and the
    baselines, as RUNS.json and RUNS.md (what `uva distill --publish --crossval` reads)."""
    from crossval import table

    teachers = json.loads((args.cv / "crossval.json").read_text())
    merged = [{} for _ in teachers["results"]]
    for row in args.rows:
        name, _, source = row.partition("=")
        folder, _, label = source.rpartition(":")
        scores = json.loads((Path(folder) / "scores.json").read_text())
        for k, fold in enumerate(scores["results"]):
            merged[k][name] = fold[label]
    for k, fold in enumerate(teachers["results"]):
        merged[k].update({n: fold[n] for n in TEACHERS})
    last = json.loads((Path(args.rows[0].partition("=")[2].rpartition(":")[0]) / "scores.json").read_text())
    for k, fold in enumerate(last["results"]):
        merged[k].update({n: v for n, v in fold.items() if n.startswith("fold teachers") or n in ("centre bias", "mean fixation map")})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"folds": teachers["folds"], "results": merged}, indent=2))
    args.out.with_suffix(".md").write_text(table(merged, teachers["folds"]))
    print(table(merged, teachers["folds"]))


def teacher_on_small(teachers, cache, indices: np.ndarray, batch: int = 32):
    """The mean of both teachers' maps on each cached small frame (and its next) scaled up."""
    import torch

    from uva_cli.models.student import normalise

    for start in range(0, len(indices), batch):
        idx = indices[start:start + batch]
        x_t = normalise(torch.from_numpy(cache.frames[idx]))
        x_n = normalise(torch.from_numpy(cache.frames[cache.next_index(idx)]))
        maps = teachers(x_t, x_n)
        yield from zip(idx.tolist(), ((maps["spatial"] + maps["temporal"]) / 2).numpy())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pool")
    p.add_argument("--data", default=DATA)
    p.add_argument("--images", default=IMAGES)
    p.add_argument("--clips", default=CLIPS)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("teachers")
    p.add_argument("--cv", type=Path, required=True, help="a crossval.py --runs folder with fold teachers")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("train")
    p.add_argument("--pool", type=Path, required=True)
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--teachers", type=Path, help="packed fold teachers (needed for folds other than all)")
    p.add_argument("--config", type=Path, default=CONFIG)
    p.add_argument("--seconds", type=float, default=360)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--folds", nargs="+", default=[*map(str, range(FOLDS)), "all"])
    p.add_argument("--tar", type=Path, help="also write each fold's folder as fold-FOLD.tar here")
    p.add_argument("--init-from", type=Path, help="an earlier --runs folder: each student continues from "
                   "its checkpoint there (fold-FOLD/LABEL.pt)")
    p = sub.add_parser("score")
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--packed", type=Path, help="packed fold teachers, for the ceiling rows")
    p.add_argument("--ceilings", type=int, nargs="*", default=[64, 32])
    p.add_argument("--data", default=DATA)
    p = sub.add_parser("report")
    p.add_argument("--cv", type=Path, required=True, help="the crossval.py run of the fold teachers")
    p.add_argument("--out", type=Path, required=True, help="OUT.json and OUT.md")
    p.add_argument("rows", nargs="+", help="NAME=RUNS:LABEL; the last folder's ceilings and baselines are used")
    args = ap.parse_args()
    {"report": cmd_report, "pool": cmd_pool, "teachers": cmd_teachers, "train": cmd_train,
     "score": cmd_score}[args.cmd](args)


if __name__ == "__main__":
    main()
