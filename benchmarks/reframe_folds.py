"""The reframe camera, out of fold: how many of the human fixations does `uva roi --reframe`
keep in view on eye-tracked videos whose maps come from models that never saw them?

The 25 videos of the xu-hevc set are cut into the cross-validation folds of
`benchmarks/crossval.py` (by video, seed 0, five of five). Each video's maps come from the fold's
models, trained on the other 20 videos only:

- student: RUNS_STUDENTS/fold-K/x4-64.pt, the architecture shipped as uva-dva-64 (64 px input);
- teacher: RUNS_TEACHERS/fold-K/teacher-spatial/best.pt (256 px input).

The maps are computed once and cached at 64x64 (CACHE/<video>.<kind>.npy, float16, with the
frame times and the shot numbers `uva roi` finds in CACHE/<video>.frames.npz), so a camera change
re-scores in seconds. Every window is then planned by `roi.reframe_windows`, the camera of
`uva roi --reframe`, and scored by the human fixations inside it, next to a fixed centre crop of
the same size and the same camera on the human fixation density (the oracle: what perfect maps
would give). "kept" counts fixations (one per subject per frame, every frame of every video):
pooled is the share of all of them, per video the share of that video's.

Camera motion is measured on the planned windows: the fastest pan (window widths per second,
over 0.2 s so that whole-pixel rounding does not count), and jumps (a frame-to-frame move of
more than a tenth of the window width) inside shots.

    python benchmarks/reframe_folds.py                      # first run ~25 min on 2 cores, then seconds
    python benchmarks/reframe_folds.py --aspect 1:1 --set centre_prior=null
    python benchmarks/reframe_folds.py --json runs/reframe-oof/table.json
    python benchmarks/reframe_folds.py --calibrate                         # how much centre prior
    python benchmarks/reframe_folds.py --sweep move_cost=0.03,0.1,0.25 margin=0,0.1
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossval import folds  # noqa: E402
from reframe_coverage import camera_motion, centre_windows, fixations_kept  # noqa: E402
from uva_cli import reframe, roi  # noqa: E402
from uva_cli.data.fixations import density_map, frame_points, read_dataset  # noqa: E402
from uva_cli.hashing import sha256  # noqa: E402
from uva_cli.reframe import CameraConfig  # noqa: E402
from uva_cli.video import iter_frames, probe  # noqa: E402

SIZE = 64  # cached maps are SIZE x SIZE, the students' own output
KINDS = ("student", "teacher")
COLUMNS = ("centre crop", "student", "teacher", "oracle")


def model_paths(fold: int, students: Path, teachers: Path) -> dict[str, Path]:
    return {"student": students / f"fold-{fold}" / "x4-64.pt",
            "teacher": teachers / f"fold-{fold}" / "teacher-spatial" / "best.pt"}


def check_held_out(fold_list: list[list[str]], students: Path) -> None:
    """The student runs list the videos each fold held out: they must be crossval's folds."""
    for k, fold in enumerate(fold_list):
        listed = students / f"fold-{k}" / "held_out.json"
        if listed.exists() and sorted(json.loads(listed.read_text())) != sorted(fold):
            raise SystemExit(f"{listed} does not hold fold {k} of crossval.folds: {fold}")


def stamp(path: Path) -> str:
    return sha256(path)


def cache_frames(item, cache: Path, cut_threshold: float) -> None:
    """Frame times and shot numbers as `uva roi` finds them (cuts on the 64 px frames)."""
    target = cache / f"{item.name}.frames.npz"
    if target.exists():
        return
    hists, times = [], []
    for frame in iter_frames(item.path, size=SIZE, info=probe(item.path)):
        hists.append(reframe.colour_histogram(frame.small))
        times.append(frame.time)
    cuts = [reframe.histogram_distance(a, b) > cut_threshold for a, b in zip(hists, hists[1:])]
    shots = np.concatenate([[0], np.cumsum(cuts)]).astype(np.int32)
    np.savez(target, times=np.array(times), shots=shots)


def cache_maps(item, kind: str, model: Path, cache: Path, threads: int) -> None:
    """The fold model's maps of one video at SIZE x SIZE (float16), with a note of the weights."""
    from uva_cli.engine import load_predictor, predict_frames

    target, note = cache / f"{item.name}.{kind}.npy", cache / f"{item.name}.{kind}.json"
    if target.exists() and note.exists() and json.loads(note.read_text())["model"] == stamp(model):
        return
    predictor = load_predictor(str(model), "cpu", 16, threads=threads)
    maps = []
    for _, smap in predict_frames(predictor, iter_frames(item.path, size=predictor.input_size, info=probe(item.path))):
        if smap.shape != (SIZE, SIZE):
            f = smap.shape[0] // SIZE
            smap = smap.reshape(SIZE, f, SIZE, f).mean(axis=(1, 3))
        maps.append(smap.astype(np.float16))
    tmp = target.with_suffix(".tmp.npy")
    np.save(tmp, np.stack(maps))
    os.replace(tmp, target)
    note.write_text(json.dumps({"model": stamp(model)}))


@dataclasses.dataclass
class Video:
    """One video's cached analysis and fixations, ready for any camera."""

    name: str
    fold: int
    width: int
    height: int
    times: np.ndarray
    shots: np.ndarray
    profiles: dict[str, list[reframe.Profile]]  # per kind of map
    points: list[np.ndarray]

    def results(self, kind: str) -> list[roi.FrameResult]:
        return [roi.FrameResult(k, float(t), int(s), [], p)
                for k, (t, s, p) in enumerate(zip(self.times, self.shots, self.profiles[kind]))]


def load_video(item, fold: int, cache: Path) -> Video:
    frames = np.load(cache / f"{item.name}.frames.npz")
    points = frame_points(item)
    maps = {kind: np.load(cache / f"{item.name}.{kind}.npy").astype(np.float32) for kind in KINDS}
    n = min([item.frames, len(frames["times"])] + [len(m) for m in maps.values()])
    profiles = {kind: [reframe.mass_profile(m) for m in maps[kind][:n]] for kind in KINDS}
    profiles["oracle"] = [reframe.mass_profile(density_map(p, item.width, item.height, SIZE, SIZE))
                          for p in points[:n]]
    return Video(item.name, fold, item.width, item.height, frames["times"][:n], frames["shots"][:n], profiles,
                 points[:n])


def plan(video: Video, kind: str, window: tuple[int, int], camera: CameraConfig) -> np.ndarray:
    if kind == "centre crop":
        return centre_windows(video.width, video.height, window, len(video.times))
    if kind == "oracle":  # the density is the truth: no centre prior
        camera = dataclasses.replace(camera, centre_prior=None)
    return roi.reframe_windows(video.results(kind), window, video.width, video.height, camera)


def score(videos: list[Video], aspect: float, camera: CameraConfig) -> dict:
    """Per video and pooled: fixations kept by each window, and the camera's motion."""
    rows = {}
    for video in videos:
        window = reframe.reframe_window(video.width, video.height, aspect)
        row = {"fold": video.fold, "frames": len(video.times), "shots": int(video.shots[-1]) + 1}
        for kind in COLUMNS:
            windows = plan(video, kind, window, camera)
            row[kind] = fixations_kept(windows, video.points)
            if kind in KINDS:
                row[kind + " motion"] = camera_motion(windows, video.times, video.shots)
        rows[video.name] = row
    pooled = {kind: [sum(r[kind][i] for r in rows.values()) for i in range(2)] for kind in COLUMNS}
    return {"videos": rows, "pooled": pooled}


def share(counts) -> float:
    return counts[0] / max(counts[1], 1)


def print_table(result: dict, aspect: str, camera: CameraConfig) -> None:
    rows, pooled = result["videos"], result["pooled"]
    print(f"fixations kept in a {aspect} window, out of fold (xu-hevc, 25 videos, every frame)")
    print(f"camera: {camera}")
    print(f"{'video':<16} {'fold':>4} {'frames':>6} {'shots':>5} " + " ".join(f"{k:>11}" for k in COLUMNS)
          + f" {'stu/centre':>10} {'tea/centre':>10}")
    for name, r in sorted(rows.items(), key=lambda kv: (kv[1]["fold"], kv[0])):
        c = share(r["centre crop"])
        print(f"{name:<16} {r['fold']:>4} {r['frames']:>6} {r['shots']:>5} "
              + " ".join(f"{share(r[k]):>11.3f}" for k in COLUMNS)
              + "".join(f" {share(r[k]) / c:>10.3f}" for k in KINDS))
    c = share(pooled["centre crop"])
    print(f"{'pooled':<16} {'':>4} {sum(r['frames'] for r in rows.values()):>6} {'':>5} "
          + " ".join(f"{share(pooled[k]):>11.3f}" for k in COLUMNS)
          + "".join(f" {share(pooled[k]) / c:>10.3f}" for k in KINDS))
    means = {k: np.mean([share(r[k]) for r in rows.values()]) for k in COLUMNS}
    print(f"{'mean of videos':<16} {'':>4} {'':>6} {'':>5} " + " ".join(f"{means[k]:>11.3f}" for k in COLUMNS)
          + "".join(f" {means[k] / means['centre crop']:>10.3f}" for k in KINDS))
    print(f"({int(pooled['centre crop'][1])} fixations)")
    for kind in KINDS:
        below = sorted(name for name, r in rows.items() if share(r[kind]) < share(r["centre crop"]) - 1e-9)
        fastest = max(r[kind + " motion"]["max_speed"] for r in rows.values())
        jumps = sum(r[kind + " motion"]["jumps"] for r in rows.values())
        print(f"{kind}: {share(pooled[kind]) / c:.3f}x the centre crop pooled; below it on {len(below)} "
              f"video(s){': ' + ', '.join(below) if below else ''}; fastest pan {fastest:.2f} window widths/s; "
              f"{jumps} jump(s) inside shots")


def calibration(videos: list[Video], sigmas: list[float | None]) -> None:
    """How well each kind of map, weighted by a centre prior of each sigma (frame sides), predicts
    the column of every fixation: mean log2 of (columns x the probability of its column), per fold
    and pooled (0: no better than uniform). This, not the table, chooses CameraConfig.centre_prior."""
    coords = (np.arange(SIZE) + 0.5) / SIZE - 0.5
    print("bits per fixation on its column (a 9:16 window slides along x), centre prior sigma in frame sides")
    for kind in KINDS:
        for sigma in sigmas:
            weight = np.exp(-coords ** 2 / (2 * sigma ** 2)) if sigma else np.ones(SIZE)
            bits: list[list[float]] = [[] for _ in range(max(v.fold for v in videos) + 1)]
            for video in videos:
                for (cols, _), pts in zip(video.profiles[kind], video.points):
                    if len(pts):
                        q = cols * weight / (cols * weight).sum()
                        cells = np.clip((pts[:, 0] * SIZE / video.width).astype(int), 0, SIZE - 1)
                        bits[video.fold] += np.log2(q[cells] * SIZE + 1e-12).tolist()
            print(f"{kind:>8} sigma {str(sigma):>5}: {np.mean(np.concatenate(bits)):.3f} "
                  f"(folds {' '.join(f'{np.mean(b):.3f}' for b in bits)})")


def sweep(videos: list[Video], aspect: float, camera: CameraConfig, pairs: list[str]) -> None:
    """Every combination of the settings given (key=v1,v2,...), pooled; then each fold scored with
    the combination best on the other folds (mean of the students' and teachers' pooled ratios), so
    that the choice is out of fold too."""
    keys = [pair.partition("=")[0] for pair in pairs]
    values = [[json.loads(v) for v in pair.partition("=")[2].split(",")] for pair in pairs]
    results = {combo: score(videos, aspect, dataclasses.replace(camera, **dict(zip(keys, combo))))["videos"]
               for combo in itertools.product(*values)}

    def ratio(rows: dict, kind: str, fold_set) -> float:
        chosen = [r for r in rows.values() if r["fold"] in fold_set]
        return sum(r[kind][0] for r in chosen) / sum(r["centre crop"][0] for r in chosen)

    folds_seen = sorted({v.fold for v in videos})
    print(" ".join(f"{k:>14}" for k in keys) + "   student  teacher   (x the centre crop, pooled)")
    for combo, rows in results.items():
        print(" ".join(f"{str(v):>14}" for v in combo) + "".join(f" {ratio(rows, k, folds_seen):>8.3f}" for k in KINDS))
    kept = {kind: [0, 0] for kind in KINDS}
    for fold in folds_seen:
        others = [f for f in folds_seen if f != fold]
        best = max(results, key=lambda c: np.mean([ratio(results[c], k, others) for k in KINDS]))
        print(f"fold {fold}: chosen on the other folds: {dict(zip(keys, best))}")
        for kind in KINDS:
            rows = [r for r in results[best].values() if r["fold"] == fold]
            kept[kind][0] += sum(r[kind][0] for r in rows)
            kept[kind][1] += sum(r["centre crop"][0] for r in rows)
    print("chosen out of fold: " + ", ".join(f"{k} {a / b:.3f}x" for k, (a, b) in kept.items()))


def parse_set(pairs: list[str]) -> CameraConfig:
    """CameraConfig with key=value overrides (values as JSON)."""
    names = {f.name for f in dataclasses.fields(CameraConfig)}
    changes = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in names:
            raise SystemExit(f"reframe_folds: unknown camera setting {key!r} ({', '.join(sorted(names))})")
        changes[key] = json.loads(value)
    return dataclasses.replace(CameraConfig(), **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xu-hevc"))
    parser.add_argument("--students", type=Path, default=Path("runs/views3"), help="fold-K/x4-64.pt")
    parser.add_argument("--teachers", type=Path, default=Path("runs/cv-main"), help="fold-K/teacher-spatial/best.pt")
    parser.add_argument("--cache", type=Path, default=Path("runs/reframe-oof"))
    parser.add_argument("--aspect", default="9:16")
    parser.add_argument("--set", nargs="*", default=[], help="CameraConfig key=value overrides")
    parser.add_argument("--threads", type=int, default=2, help="network threads while caching maps")
    parser.add_argument("--cache-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the table here")
    parser.add_argument("--calibrate", nargs="*", type=json.loads, metavar="SIGMA",
                        help="bits per fixation of the maps under centre priors of these sigmas (null: none)")
    parser.add_argument("--sweep", nargs="+", metavar="KEY=V1,V2", help="score every combination, and choose out of fold")
    args = parser.parse_args()
    camera = parse_set(args.set)
    dataset = read_dataset(args.data)
    by_name = {item.name: item for item in dataset.items}
    fold_list = folds(sorted(by_name))
    check_held_out(fold_list, args.students)
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for k, fold in enumerate(fold_list):
        models = model_paths(k, args.students, args.teachers)
        for name in fold:
            cache_frames(by_name[name], args.cache, camera.cut_threshold)
            for kind in KINDS:
                cache_maps(by_name[name], kind, models[kind], args.cache, args.threads)
    if args.cache_only:
        return
    videos = [load_video(by_name[name], k, args.cache) for k, fold in enumerate(fold_list) for name in fold]
    if args.calibrate is not None:
        calibration(videos, args.calibrate or [None, 1.0, 0.5, 0.375, 0.25, 0.175])
        return
    if args.sweep:
        parse_set([p.partition(",")[0] for p in args.sweep])  # names checked
        sweep(videos, reframe.parse_aspect(args.aspect), camera, args.sweep)
        return
    result = score(videos, reframe.parse_aspect(args.aspect), camera)
    print_table(result, args.aspect, camera)
    print(f"({time.perf_counter() - started:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps({"aspect": args.aspect, "camera": dataclasses.asdict(camera), **result},
                                        indent=1, default=float))


if __name__ == "__main__":
    main()
