"""Distillation on the student's own views: the frame pool, the views, the teachers' targets and
a tiny training run through `uva distill --views` (tiny configurations: machinery, not accuracy)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import make_clip, make_fixation_dataset
from uva_cli.models.registry import load_model
from uva_cli.train.pool import FramePool, build_pool, pack, unpack
from uva_cli.train.views import StudentSpec, Teachers, ViewConfig, draw_views, train_views


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    vroot, iroot = make_fixation_dataset(root, videos=3, frames=6, images=2)
    clips = root / "clips"
    (clips / "sub").mkdir(parents=True)
    make_clip(clips / "sub" / "a.mp4", frames=5, width=80, height=48)
    return vroot, iroot, clips


@pytest.fixture(scope="module")
def pool(folders, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("UVA_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    try:
        yield build_pool(*map(str, folders), side=64, progress=False)
    finally:
        mp.undo()


def test_pool_holds_every_frame_with_its_partner(pool):
    assert pool.frames.shape == (3 * 6 + 2 + 5, 64, 64, 3) and pool.frames.dtype == np.uint8
    assert pool.names == ["video:clip0", "video:clip1", "video:clip2", "images", "clip:sub/a.mp4"]
    same_group = pool.group[pool.nxt] == pool.group
    assert same_group.all()
    images = np.flatnonzero(pool.group == 3)
    assert (pool.nxt[images] == images).all()  # a still image pairs with itself
    clip = np.flatnonzero(pool.group == 4)
    assert list(pool.nxt[clip]) == [*clip[1:], clip[-1]]  # the next frame, the last with itself
    free, first, second = pool.strata([["clip1"], ["clip0", "clip2"]])
    assert list(first) == list(np.flatnonzero(pool.group == 1))
    assert list(second) == list(np.flatnonzero((pool.group == 0) | (pool.group == 2)))
    assert list(free) == list(np.flatnonzero(pool.group >= 3))  # the images and the unlabelled clip


def test_pool_packs_to_one_video_and_back(pool, tmp_path):
    pack(pool, tmp_path / "packed")
    back = unpack(tmp_path / "packed")
    assert back.names == pool.names
    assert np.array_equal(back.nxt, pool.nxt) and np.array_equal(back.group, pool.group)
    assert back.frames.shape == pool.frames.shape
    assert np.abs(back.frames.astype(int) - pool.frames.astype(int)).mean() < 4  # H.264 at CRF 16


def _square_pool() -> FramePool:
    """Two 'clips' of 128 px frames: a white square on black at the left, then at the right."""
    frames = np.zeros((4, 128, 128, 3), np.uint8)
    frames[0:2, 48:80, 8:40] = 255
    frames[2:4, 48:80, 88:120] = 255
    return FramePool(frames, np.array([1, 1, 3, 3]), np.array([0, 0, 1, 1]), ["clip:a", "clip:b"])


def test_views_are_reduced_crops_of_both_frames_alike():
    p = _square_pool()
    frames, nxt = torch.from_numpy(p.frames), torch.from_numpy(p.nxt)
    cfg = ViewConfig(zoom=1.0, aspect=0.0, skip=0.0)
    g = torch.Generator().manual_seed(0)
    views = draw_views(frames, nxt, torch.tensor([0, 2] * 16), [64, 32], cfg, g)
    for side in (64, 32):
        x_t, x_n = views[side]
        assert x_t.shape == (32, 3, side, side) and x_t.min() >= -1 and x_t.max() <= 1
        assert torch.equal(x_t, x_n)  # a static pair stays identical under the same crop and colour
    # the 32 px view is the 64 px view reduced by area (up to rounding to 8 bits)
    x64, x32 = views[64][0], views[32][0]
    assert (F.avg_pool2d(x64, 2) - x32).abs().max() < 3 / 127.5
    # no zoom: the square stays where it was (columns 4-19 of 64 for the left one), or mirrored
    cols = x64.mean((1, 2)).argmax(-1)
    assert ((cols >= 4) & (cols < 20) | (cols >= 44) & (cols < 60)).all()
    mirrored = (cols >= 44) == torch.tensor([True, False] * 16)  # idx 0 (left) now on the right, or idx 2 left
    assert 0 < int(mirrored.sum()) < 32  # some views mirrored, not all


def test_zoomed_views_differ_and_pairs_can_skip_a_frame():
    frames = torch.from_numpy(np.stack([np.full((128, 128, 3), 40 * k, np.uint8) for k in range(5)]))
    nxt = torch.tensor([1, 2, 3, 4, 4])
    cfg = ViewConfig(zoom=0.5, skip=1.0)  # always t+2
    views = draw_views(frames, nxt, torch.tensor([0] * 64), [64], cfg, torch.Generator().manual_seed(1))
    x_t, x_n = views[64]
    # flat frames: the pair's mean brightness tells which frames were drawn (40*0 and 40*2, in
    # either order after reversal, each through the same colour change)
    gap = (x_n.mean((1, 2, 3)) - x_t.mean((1, 2, 3))).abs()
    assert (gap > 0.2).all()


def test_teachers_label_a_view_with_maps_and_features():
    teachers = Teachers(load_model("teacher-spatial"), load_model("teacher-temporal"))
    assert teachers.shared  # one ImageNet encoder under both readouts
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    out = teachers(x, x.flip(0))
    assert out["spatial"].shape == out["temporal"].shape == (2, 64, 64)
    assert torch.allclose(out["spatial"].sum((1, 2)), torch.ones(2), atol=1e-4)
    assert out["features"].shape[:2] == (2, teachers.spatial.readout[1].in_channels)


def test_students_learn_from_teachers_on_views(tmp_path):
    """Two students (64 px with a hint loss, 32 px on the 64 px view's targets) from one batch
    stream; the loss falls and the checkpoints load as students."""
    p = _square_pool()
    cfg = ViewConfig(students=[StudentSpec("a", "uva-dva-64", hint=0.25), StudentSpec("b", "uva-dva-32", target_side=64)],
                     steps=12, batch_size=4, warmup=3, device="cpu")
    paths = train_views(cfg, p.frames, p.nxt, np.arange(4), tmp_path)
    summary = json.loads((tmp_path / "views.json").read_text())
    assert summary["steps"] == 12 and summary["frames"] == 4
    assert load_model(paths["a"]).cfg.input_size == 64 and load_model(paths["b"]).cfg.input_size == 32
    for curve in summary["loss_curve"].values():  # one mean per step here (12 < 20 chunks)
        assert len(curve) == 12 and np.mean(curve[-3:]) < np.mean(curve[:3])


def test_distill_views_command_publishes_a_card(folders, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from uva_cli.cli import main
    from uva_cli.train import publish as publish_mod

    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setattr(publish_mod, "weights_dir", lambda: weights)
    vroot, iroot, clips = folders
    args = ["distill", "--views", "--data", str(vroot), "--images", str(iroot), "--clips", str(clips),
            "--student", "uva-dva-32", "--steps", "2", "--batch-size", "4", "--device", "cpu", "--quiet",
            "--out", str(tmp_path / "run"), "--publish", "mine"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    assert load_model(weights / "mine.pt").cfg.name == "uva-dva-32"
    card = (weights / "mine.md").read_text()
    assert "uva distill " in card and " --views" in card and "2 steps of 4 views" in card
    assert "1 clips from" not in card  # a folder without clips.csv claims no sources
    pool = json.loads((tmp_path / "run" / "pool.json").read_text())
    assert pool["frames"] == {"video": 18, "images": 2, "clip": 5}
    bad = CliRunner().invoke(main, [*args[:-2], "--epochs", "3"])
    assert bad.exit_code == 2 and "--epochs: not used with --views" in bad.output
    bad = CliRunner().invoke(main, ["distill", "--data", str(vroot), "--seconds", "5"])
    assert bad.exit_code == 2 and "--views" in bad.output


def test_a_time_budget_ends_training_and_decays_the_rate(tmp_path):
    from uva_cli.train.views import learning_rate

    p = _square_pool()
    cfg = ViewConfig(students=[StudentSpec("a", "uva-dva-32")], seconds=1.5, batch_size=2, device="cpu")
    train_views(cfg, p.frames, p.nxt, np.arange(4), tmp_path)
    summary = json.loads((tmp_path / "views.json").read_text())
    assert summary["steps"] >= 1 and 1.5 <= summary["seconds"] < 60
    assert learning_rate(cfg, 0, 0.0) == pytest.approx(cfg.lr / cfg.warmup)  # warm-up first
    assert learning_rate(cfg, 500, 0.5) == pytest.approx(cfg.lr / 2)  # half-way down the cosine
    assert learning_rate(cfg, 500, 1.0) == pytest.approx(0.0)
