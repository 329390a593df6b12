"""`uva eval` on tiny synthetic fixation datasets made here (and, when present, the real xu-hevc set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import SHARED_DATA, make_clip, write_csv
from uva_cli import metrics as M
from uva_cli.cli import main
from uva_cli.data.fixations import centre_bias, density_map, fixation_map, split_videos
from uva_cli.evaluation import eval_shape

W, H, FPS, N = 64, 48, 10, 10  # frame k shown at 100 k ms
VIDEOS = [f"v{j}" for j in range(5)]
SUBJECTS = (1, 2, 3, 4)
DIRECT = ("nss", "cc", "sim", "kld", "auc_judd", "auc_borji", "info_gain")


def _spots(video: int, same: bool) -> dict[tuple[int, int], tuple[int, int]]:
    """(subject, half) -> (x, y): where each subject looks in the first (0) and second (1) half."""
    rng = np.random.default_rng(video)
    common = [tuple(rng.integers([4, 4], [W - 4, H - 4])) for _ in range(2)]
    return {(s, half): common[half] if same else tuple(rng.integers([0, 0], [W, H]))
            for s in SUBJECTS for half in (0, 1)}


def _make_dataset(root: Path, same: bool) -> Path:
    """Five clips; each subject fixates one spot for frames 0-4 and another for frames 5-9."""
    (root / "videos").mkdir(parents=True)
    rows = []
    for j, name in enumerate(VIDEOS):
        make_clip(root / "videos" / f"{name}.mp4", frames=N, width=W, height=H, fps=FPS)
        for (s, half), (x, y) in sorted(_spots(j, same).items()):
            rows.append((name, s, 500 * half, 500 if half == 0 else 10_000, x, y))
    write_csv(root / "videos.csv", ["name", "width", "height", "frames", "fps"], [(v, W, H, N, FPS) for v in VIDEOS])
    write_csv(root / "fixations.csv", ["video", "subject", "onset_ms", "duration_ms", "x", "y"], rows)
    return root


def _points(video: str, k: int, same: bool = False) -> np.ndarray:
    spots = _spots(VIDEOS.index(video), same)
    return np.array([spots[(s, int(k >= 5))] for s in SUBJECTS], dtype=np.float64)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _make_dataset(tmp_path_factory.mktemp("evaldata"), same=False)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evalcache")


def run(cache_dir: Path, *args):
    return CliRunner().invoke(main, ["eval", *map(str, args), "-q"], env={"UVA_CACHE_DIR": str(cache_dir)})


def scores(cache_dir: Path, tmp_path: Path, *args) -> dict:
    out = tmp_path / f"scores{len(list(tmp_path.glob('scores*.json')))}.json"
    result = run(cache_dir, *args, "--json", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_centre_baseline_equals_direct_metrics(data, cache_dir, tmp_path):
    got = scores(cache_dir, tmp_path, "--data", data, "--baseline", "centre", "--split", "all",
                 "--metrics", ",".join(DIRECT))
    h, w = eval_shape(W, H)
    centre = centre_bias(h, w)
    per_frame = {}
    for name in VIDEOS:
        rows = []
        for k in range(N):
            pts = _points(name, k)
            fix, dens = fixation_map(pts, W, H, h, w), density_map(pts, W, H, h, w)
            rows.append([M.nss(centre, fix), M.cc(centre, dens), M.sim(centre, dens), M.kld(centre, dens),
                         M.auc_judd(centre, fix, jitter=False), M.auc_borji(centre, fix),
                         M.info_gain(centre, fix, centre)])
        per_frame[name] = np.array(rows)
        for m, value in zip(DIRECT, per_frame[name].mean(axis=0)):
            assert got["videos"][name][m] == pytest.approx(value, abs=2e-6), (name, m)
    pooled = np.concatenate(list(per_frame.values())).mean(axis=0)
    assert got["pooled"] == pytest.approx(dict(zip(DIRECT, pooled)), abs=2e-6)
    assert got["pooled"]["info_gain"] == pytest.approx(0.0, abs=1e-9)


def _write_perfect(pred: Path, videos: list[str]) -> None:
    """The ground-truth density of each frame at the source size: the `uva saliency --maps` layout."""
    for name in videos:
        (pred / name).mkdir(parents=True)
        for k in range(N):
            dens = density_map(_points(name, k), W, H, H, W)
            Image.fromarray((255 * dens / dens.max()).astype(np.uint8)).save(pred / name / f"{k + 1:06d}.png")


def test_perfect_predictions_beat_centre(data, cache_dir, tmp_path):
    val = split_videos(VIDEOS, 0.2, seed=0)[1]
    _write_perfect(tmp_path / "pred", val)
    perfect = scores(cache_dir, tmp_path, "--data", data, "--pred", tmp_path / "pred", "--split", "val")
    centre = scores(cache_dir, tmp_path, "--data", data, "--baseline", "centre", "--split", "val")
    assert list(perfect["videos"]) == val == list(centre["videos"])
    for m in ("nss", "cc", "sim", "auc_judd", "sauc"):
        assert perfect["pooled"][m] > centre["pooled"][m], m
    assert perfect["pooled"]["kld"] < centre["pooled"]["kld"]
    assert perfect["pooled"]["cc"] > 0.95 and perfect["pooled"]["sauc"] > 0.8


def test_missing_predictions_are_named(data, cache_dir, tmp_path):
    val = split_videos(VIDEOS, 0.2, seed=0)[1]
    result = run(cache_dir, "--data", data, "--pred", tmp_path / "empty_parent")
    assert result.exit_code == 3 and "no such prediction folder" in result.output
    (tmp_path / "empty").mkdir()
    result = run(cache_dir, "--data", data, "--pred", tmp_path / "empty", "--split", "all")
    assert result.exit_code == 3 and all(v in result.output for v in VIDEOS) and "Traceback" not in result.output
    _write_perfect(tmp_path / "pred", val)
    (tmp_path / "pred" / val[0] / "000003.png").unlink()
    result = run(cache_dir, "--data", data, "--pred", tmp_path / "pred", "--split", "val")
    assert result.exit_code == 3 and f"{val[0]}/000003.png" in result.output


def test_human_baseline_when_everyone_looks_at_one_spot(tmp_path, cache_dir):
    same = _make_dataset(tmp_path / "same", same=True)
    human = scores(cache_dir, tmp_path, "--data", same, "--baseline", "human", "--split", "all",
                   "--metrics", "nss,auc_judd,cc")
    centre = scores(cache_dir, tmp_path, "--data", same, "--baseline", "centre", "--split", "all",
                    "--metrics", "nss,auc_judd,cc")
    assert human["pooled"]["nss"] > 10 and human["pooled"]["auc_judd"] > 0.99
    assert human["pooled"]["cc"] > 0.99  # the others' density is the held-out observer's density
    assert human["pooled"]["nss"] > 3 * centre["pooled"]["nss"]


def test_json_schema(data, cache_dir, tmp_path):
    got = scores(cache_dir, tmp_path, "--data", data, "--baseline", "centre", "--frame-step", "3", "--split", "val")
    assert set(got) == {"data", "layout", "predictor", "split", "selection", "frame_step", "metrics", "frames",
                        "approximate_fixations", "seconds", "pooled", "videos"}
    assert got["selection"] == "the validation videos of `uva train`'s default split (seed 0, 20%)"
    assert got["predictor"] == {"kind": "baseline", "name": "centre"} and got["layout"] == "fixation-videos"
    assert got["split"] == "val" and got["frame_step"] == 3 and got["approximate_fixations"] is False
    assert got["metrics"] == ["nss", "cc", "sim", "kld", "auc_judd", "sauc"]
    assert list(got["videos"]) == split_videos(VIDEOS, 0.2, seed=0)[1]
    assert all(row["frames"] == 4 for row in got["videos"].values())  # frames 0, 3, 6, 9
    assert got["frames"] == 4 * len(got["videos"]) and set(got["pooled"]) == set(got["metrics"])
    assert all(isinstance(v, float) for row in got["videos"].values() for k, v in row.items() if k != "frames")


def test_report_writes_index_and_pngs(data, cache_dir, tmp_path):
    result = run(cache_dir, "--data", data, "--baseline", "centre", "--split", "all", "--report", tmp_path / "rep")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "rep" / "index.html").read_text()
    pngs = sorted((tmp_path / "rep").glob("*.png"))
    assert len(pngs) == 2 * len(VIDEOS)
    for png in pngs:
        assert f"src='{png.name}'" in index
        with Image.open(png) as img:
            assert img.width >= 300 and img.height >= 100
    sheet = Image.open(next(p for p in pngs if p.name.endswith(".sheet.png")))
    assert sheet.height > 4 * 100  # four frames, one row each
    for name in VIDEOS:
        assert name in index


def test_table_on_stdout(data, cache_dir):
    result = run(cache_dir, "--data", data, "--baseline", "centre", "--split", "all", "--metrics", "nss,cc")
    assert result.exit_code == 0, result.output
    assert "all frames" in result.stdout and all(v in result.stdout for v in VIDEOS)
    assert "nss" in result.stdout and "cc" in result.stdout


@pytest.mark.parametrize("args", [[], ["--baseline", "centre", "--pred", "x"], ["--model", "m", "--baseline", "human"]])
def test_needs_exactly_one_predictor(data, cache_dir, args):
    result = run(cache_dir, "--data", data, *args)
    assert result.exit_code == 2 and "exactly one of --model, --pred or --baseline" in result.output


def test_bad_metric_is_a_usage_error(data, cache_dir):
    result = run(cache_dir, "--data", data, "--baseline", "centre", "--metrics", "nss,accuracy")
    assert result.exit_code == 2 and "auc_judd" in result.output


def test_model_scores_are_its_own_maps_scored_directly(data, cache_dir, tmp_path, random_weights):
    """--model scores what the model predicts for each frame paired with the next, as computed
    here from the videos with the streaming engine and the metric functions."""
    from uva_cli.engine import load_predictor, predict_video

    got = scores(cache_dir, tmp_path, "--data", data, "--model", random_weights, "--metrics", "nss,cc",
                 "--device", "cpu")
    assert got["predictor"] == {"kind": "model", "name": str(random_weights)} and got["frames"] == N * len(VIDEOS)
    predictor = load_predictor(str(random_weights), "cpu", backend="torch", precision="fp32")
    h, w = eval_shape(W, H)
    for name in VIDEOS:
        rows = [(M.nss(smap, fixation_map(_points(name, f.index), W, H, h, w)),
                 M.cc(smap, density_map(_points(name, f.index), W, H, h, w)))
                for f, smap in predict_video(data / "videos" / f"{name}.mp4", predictor)]
        assert len(rows) == N
        want = np.mean(rows, axis=0)
        assert (got["videos"][name]["nss"], got["videos"][name]["cc"]) == pytest.approx(tuple(want), abs=1e-4), name


def _weights_holding_out(path: Path, videos: list[str]) -> Path:
    """A student checkpoint whose meta says it was validated on `videos` (as `uva train` writes best.pt)."""
    import torch

    from uva_cli.models.registry import save_checkpoint
    from uva_cli.models.student import build_student

    torch.manual_seed(1)
    save_checkpoint(path, build_student("uva-dva-32"), meta={"epoch": 1, "val_videos": videos, "seed": 3})
    return path


def test_every_video_by_default(data, cache_dir, tmp_path):
    """A dataset no model was trained on is scored whole unless a split is asked for; the title says why."""
    result = run(cache_dir, "--data", data, "--baseline", "centre", "--metrics", "nss")
    assert result.exit_code == 0, result.output
    assert "5 videos: every video" in result.stdout and all(v in result.stdout for v in VIDEOS)
    elsewhere = _weights_holding_out(tmp_path / "elsewhere.pt", ["clip0", "clip1"])  # trained on another set
    got = scores(cache_dir, tmp_path, "--data", data, "--model", elsewhere, "--metrics", "nss", "--frame-step", "5")
    assert list(got["videos"]) == VIDEOS and got["split"] == "auto"
    assert got["selection"] == f"every video (this dataset lacks the videos {elsewhere} held out in training)"


def test_model_is_scored_on_the_videos_it_held_out(data, cache_dir, tmp_path):
    """On the dataset a model was trained on, its own held-out videos (from its checkpoint), not a
    split recomputed from defaults (which would be another video here, one the model trained on)."""
    held = ["v1", "v3"]
    assert split_videos(VIDEOS, 0.2, seed=0)[1] != held
    weights = _weights_holding_out(tmp_path / "best.pt", held)
    for split in ("auto", "val"):
        got = scores(cache_dir, tmp_path, "--data", data, "--model", weights, "--split", split, "--metrics", "nss",
                     "--frame-step", "5")
        assert list(got["videos"]) == held and got["frames"] == 4, split
        assert got["selection"] == f"the videos {weights} held out in training (its checkpoint's val_videos)"
    result = run(cache_dir, "--data", data, "--model", weights, "--metrics", "nss", "--frame-step", "5")
    title = " ".join(result.stdout.split())  # rich wraps the title to the table's width
    assert "2 videos: the videos" in title and "held out in training (its checkpoint's val_videos)" in title
    got = scores(cache_dir, tmp_path, "--data", data, "--model", weights, "--split", "all", "--metrics", "nss",
                 "--frame-step", "5")
    assert list(got["videos"]) == VIDEOS and got["selection"] == f"every video (--split all; {weights} trained on the others)"


def test_json_to_stdout(data, cache_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(cache_dir, "--data", data, "--baseline", "centre", "--metrics", "nss", "--json", "-")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)  # the table went to stderr
    assert list(got["videos"]) == VIDEOS and not (tmp_path / "-").exists()
    assert "every video" in result.stderr


def _avs1k(root: Path) -> Path:
    """AVS1K as released: trainSet/ and validSet/, each Frame/ + Ground/ with <video>_00001.png."""
    y, x = np.mgrid[0:30, 0:40]
    for split, videos in (("trainSet", ("AV01", "AV02")), ("validSet", ("AV03",))):
        for j, name in enumerate(videos):
            for k in range(1, 3):
                for sub, img in (("Frame", np.full((30, 40, 3), 60 * k, np.uint8)),
                                 ("Ground", (255 * np.exp(-((x - 10 - 9 * j) ** 2 + (y - 15) ** 2) / 8.0)).astype(np.uint8))):
                    (root / split / sub).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(img).save(root / split / sub / f"{name}_{k:05d}.png")
    return root


def _dhf1k(root: Path) -> Path:
    """DHF1K as released, with one training (600) and one validation (601) video."""
    y, x = np.mgrid[0:H, 0:W]
    for number in (600, 601):
        make_clip((root / "video").mkdir(parents=True, exist_ok=True) or root / "video" / f"{number}.mp4",
                  frames=2, width=W, height=H, fps=FPS)
        (root / "annotation" / f"{number:04d}" / "maps").mkdir(parents=True)
        for k in range(1, 3):
            blob = (255 * np.exp(-((x - 20) ** 2 + (y - 20) ** 2) / 8.0)).astype(np.uint8)
            Image.fromarray(blob).save(root / "annotation" / f"{number:04d}" / "maps" / f"{k:04d}.png")
    return root


@pytest.mark.parametrize("layout, val, why", [
    (_avs1k, ["AV03"], "the official validation set (validSet/)"),
    (_dhf1k, ["601"], "DHF1K's official validation videos (601-700)")])
def test_official_validation_sets(tmp_path, cache_dir, layout, val, why):
    root = layout(tmp_path / "set")
    every = scores(cache_dir, tmp_path, "--data", root, "--baseline", "centre", "--metrics", "cc")
    assert len(every["videos"]) == 3 - (layout is _dhf1k) and every["selection"] == "every video"
    got = scores(cache_dir, tmp_path, "--data", root, "--baseline", "centre", "--metrics", "cc", "--split", "val")
    assert list(got["videos"]) == val and got["selection"] == why


def test_map_layout_centre_and_no_human(tmp_path, cache_dir):
    """A density-only set scores (approximately) with centre bias; the human baseline says why it can't."""
    root = tmp_path / "plain"
    y, x = np.mgrid[0:30, 0:40]
    for j, name in enumerate(("a", "b", "c")):
        for k in range(3):
            folder = root / "train"
            (folder / "frames" / name).mkdir(parents=True, exist_ok=True)
            (folder / "maps" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((30, 40, 3), 50 * k, np.uint8)).save(folder / "frames" / name / f"{k}.png")
            blob = np.exp(-((x - 10 - 8 * j) ** 2 + (y - 15) ** 2) / 8.0)
            Image.fromarray((255 * blob).astype(np.uint8)).save(folder / "maps" / name / f"{k}.png")
    got = scores(cache_dir, tmp_path, "--data", root, "--baseline", "centre", "--split", "all")
    assert got["layout"] == "split-folders" and got["approximate_fixations"] is True and got["frames"] == 9
    assert all(np.isfinite(v) for v in got["pooled"].values())
    result = run(cache_dir, "--data", root, "--baseline", "human")
    assert result.exit_code == 3 and "per-observer fixations" in result.output


@pytest.mark.skipif(not (SHARED_DATA / "xu-hevc" / "videos.csv").is_file(), reason="shared eye-tracking data absent")
def test_real_xu_hevc_centre(tmp_path):
    """Uses the normal cache location (built once, ~1 min, then reused like `uva eval` itself)."""
    out = tmp_path / "xu.json"
    result = CliRunner().invoke(main, ["eval", "--data", str(SHARED_DATA / "xu-hevc"), "--baseline", "centre",
                                       "--split", "val", "--frame-step", "25", "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    got = json.loads(out.read_text())
    assert len(got["videos"]) == 5 and got["frames"] > 50
    assert 0.5 < got["pooled"]["nss"] < 2.0 and 0.6 < got["pooled"]["auc_judd"] < 0.95
    assert 0.35 < got["pooled"]["sauc"] < 0.7  # centre bias gains little once centre-biased negatives are used
