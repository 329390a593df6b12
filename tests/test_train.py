"""Training, teachers and coupled distillation on a tiny synthetic set (tiny configurations:
these check the machinery, not accuracy)."""

import csv
import json
import os
import subprocess
import sys
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from conftest import make_fixation_dataset
from uva_cli.errors import InputError
from uva_cli.models.registry import load_checkpoint, load_model, save_checkpoint
from uva_cli.train import loop
from uva_cli.train.distill import distill
from uva_cli.train.loop import TrainConfig, train

TINY = dict(epochs=2, steps_per_epoch=2, batch_size=4, warmup_steps=1, val_fraction=0.4, val_step=1, threads=1)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    vroot, iroot = make_fixation_dataset(root)
    return vroot, iroot, root / "cache"


def _cfg(dataset, out, **kw):
    vroot, iroot, cache = dataset
    return TrainConfig(data=str(vroot), images=str(iroot), cache_dir=str(cache), out=str(out), **{**TINY, **kw})


def _weights(run):
    return torch.load(run / "last.pt", weights_only=True)["model"]


def test_run_folder_contents(dataset, tmp_path):
    run = train(_cfg(dataset, tmp_path / "run", model="uva-dva-32"), progress=False)
    for name in ("config.json", "baseline.json", "log.txt", "history.csv", "last.pt", "best.pt"):
        assert (run / name).exists(), name
    history = (run / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,loss,nss,cc,auc_judd") and len(history) == 3
    assert load_checkpoint(run / "best.pt")["meta"]["epoch"] in (1, 2)
    assert load_model(run / "best.pt").cfg.name == "uva-dva-32"


def test_interrupted_run_resumes_exactly(dataset, tmp_path, monkeypatch):
    cfg = _cfg(dataset, tmp_path / "straight", model="uva-dva-32")
    straight = _weights(train(cfg, progress=False))
    steps = loop._steps

    def killed_in_epoch_two(cfg_, epoch, progress):
        if epoch == 1:
            raise KeyboardInterrupt
        return steps(cfg_, epoch, progress)

    cut = replace(cfg, out=str(tmp_path / "cut"))
    monkeypatch.setattr(loop, "_steps", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(cut, progress=False)
    assert torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["epoch"] == 0
    monkeypatch.setattr(loop, "_steps", steps)
    resumed = _weights(train(cut, resume=True, progress=False))
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], rtol=0, atol=0)
    assert len((tmp_path / "cut" / "history.csv").read_text().splitlines()) == 3


def test_teachers_and_coupled_distillation(dataset, tmp_path):
    # teachers start from the shipped ones, so no pretrained source file is needed here
    spatial = train(_cfg(dataset, tmp_path / "ts", model="teacher-spatial", init="teacher-spatial", epochs=1,
                        select="last"),
                    progress=False)
    temporal = train(_cfg(dataset, tmp_path / "tt", model="teacher-temporal", init="teacher-temporal", epochs=1,
                         select="last"),
                     progress=False)
    assert not load_model(spatial / "best.pt").cfg.motion and load_model(temporal / "best.pt").cfg.motion
    # the frozen encoder and face detector are what they were; only the readout and prior learnt
    before, after = load_model("teacher-spatial").state_dict(), load_model(spatial / "best.pt").state_dict()
    for k in before:
        if k.startswith(("encoder.", "faces.")):
            assert torch.equal(before[k], after[k]), k
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("readout."))
    cfg = _cfg(dataset, tmp_path / "kd", model="uva-dva-32", epochs=1, spatial_teacher=str(spatial / "best.pt"),
               temporal_teacher=str(temporal / "best.pt"))
    final = distill(cfg, fusion_epochs=1, progress=False)
    assert final == tmp_path / "kd" / "stage2"
    stage1 = load_model(tmp_path / "kd" / "stage1" / "best.pt").state_dict()
    stage2 = _weights(final)
    # stage 2 leaves trunk and branches as stage 1 made them and changes only the fusion head
    # (fusion.* and uva-dva-32's fusion_detail.*)
    for k in stage1:
        if k.startswith("fusion"):
            continue
        torch.testing.assert_close(stage2[k], stage1[k], rtol=0, atol=0)
    assert any(not torch.equal(stage2[k], stage1[k]) for k in stage1 if k.startswith("fusion.") and "weight" in k)
    assert not torch.equal(stage2["fusion_detail.weight"], stage1["fusion_detail.weight"])
    # stage 2 first scores what it starts from (uva-dva-32's fused head is then its branches'
    # mean, so stage 1's best up to the fp16 checkpoint), and best.pt is the best of that and
    # every epoch
    rows = list(csv.DictReader(open(final / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"]
    start = load_checkpoint(tmp_path / "kd" / "stage1" / "best.pt")["meta"]["validation"]["nss"]
    assert float(rows[0]["nss"]) == pytest.approx(start, abs=1e-3)
    best = max(rows, key=lambda r: float(r["nss"]))
    assert load_checkpoint(final / "best.pt")["meta"]["epoch"] == int(best["epoch"])
    # the teacher soft maps were cached once per teacher beside the 256 px dataset cache
    cached = list((dataset[2]).glob("**/teacher-*.npy"))
    assert len(cached) == 4  # two teachers x (videos, images)
    # and their encoder features once for both teachers (same frozen weights)
    assert len(list((dataset[2]).glob("**/features-*.npy"))) == 2  # videos, images


RANK_SCRIPT = """
import json, sys, torch
from uva_cli.train import loop
seen, models = [], []
draw, init = loop.draw, loop.LossModule.__init__
def recording_draw(*args, **kw):
    vid, img = draw(*args, **kw)
    seen.append((vid.tolist(), img.tolist()))
    return vid, img
def keep_model(self, model, recipe):
    init(self, model, recipe)
    models.append(model)
loop.draw, loop.LossModule.__init__ = recording_draw, keep_model
cfg = loop.TrainConfig.from_dict(json.load(open(sys.argv[1])))
loop.train(cfg, progress=False)
rank = torch.distributed.get_rank()
assert torch.distributed.get_backend() == "gloo"
torch.save({"seen": seen, "state": models[0].state_dict()}, sys.argv[2] + f"/rank{rank}.pt")
"""


def test_two_process_data_parallel(dataset, tmp_path, monkeypatch):
    """torchrun with 2 CPU processes (gloo): the ranks draw different halves of each batch, end
    with identical weights, and those equal one process trained on the union of their batches
    (the teacher's readout has no batch statistics, so the two are the same computation; its
    dropout, whose masks depend on the batch size, is off here)."""
    teacher = load_model("teacher-spatial")
    teacher.cfg = replace(teacher.cfg, dropout=0.0)
    save_checkpoint(tmp_path / "start.pt", teacher)
    cfg = _cfg(dataset, tmp_path / "ddp", model="teacher-spatial", init=str(tmp_path / "start.pt"), epochs=1,
               steps_per_epoch=3, batch_size=8, augment=False)
    (tmp_path / "cfg.json").write_text(json.dumps(asdict(cfg)))
    (tmp_path / "rank.py").write_text(RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           str(tmp_path / "rank.py"), str(tmp_path / "cfg.json"), str(tmp_path)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert len(ranks[0]["seen"]) == 3 and ranks[0]["seen"] != ranks[1]["seen"]
    for k, v in ranks[0]["state"].items():
        torch.testing.assert_close(ranks[1]["state"][k], v, rtol=0, atol=1e-6)
    # rank 0 alone wrote the run folder: one log line per epoch, no second copy
    assert len((tmp_path / "ddp" / "history.csv").read_text().splitlines()) == 1 + 2  # epoch 0 (init) + 1
    # one process on the union of the two ranks' batches, step by step
    steps = iter(zip(ranks[0]["seen"], ranks[1]["seen"]))

    def union(*args, **kw):
        (v0, i0), (v1, i1) = next(steps)
        return np.sort(np.array(v0 + v1, np.int64)), np.sort(np.array(i0 + i1, np.int64))

    monkeypatch.setattr(loop, "draw", union)
    single = _weights(train(replace(cfg, out=str(tmp_path / "single")), progress=False))
    # Compare what training changed: Adam divides by the gradient's size, so a parameter whose
    # gradient is ~0 may move by up to 2 x lr on float rounding alone; the whole update must agree.
    start = {k: v.half().float() for k, v in teacher.state_dict().items()}
    trained = [k for k in start if not k.startswith("encoder.")]
    ours = torch.cat([(single[k] - start[k]).flatten() for k in trained])
    theirs = torch.cat([(ranks[0]["state"][k] - start[k]).flatten() for k in trained])
    assert ours.norm() > 0.01  # it did train
    assert (ours - theirs).norm() / ours.norm() < 0.02
    # one rank's batches alone give a different update: the check can tell the union from a half
    steps = iter(zip(ranks[0]["seen"], ranks[0]["seen"]))
    half = _weights(train(replace(cfg, out=str(tmp_path / "half")), progress=False))
    halves = torch.cat([(half[k] - start[k]).flatten() for k in trained])
    assert (halves - theirs).norm() / ours.norm() > 0.1


def test_train_and_distill_commands_with_publish(dataset, tmp_path, monkeypatch):
    """The CLI faces: --config, --publish (weights, card, manifest) and --no-fusion-teachers."""
    from click.testing import CliRunner

    from uva_cli.cli import main

    vroot, iroot, cache = dataset
    config = tmp_path / "cfg.json"
    config.write_text('{"cache_dir": "%s", "val_fraction": 0.4, "val_step": 1, "warmup_steps": 1, '
                      '"batch_size": 4, "threads": 1}' % cache)
    common = ["--data", str(vroot), "--images", str(iroot), "--config", str(config), "--epochs", "1",
              "--steps", "2", "--quiet"]
    run = CliRunner().invoke(main, ["train", "--model", "teacher-temporal", "--init", "teacher-temporal", *common,
                                    "--out", str(tmp_path / "tt")])
    assert run.exit_code == 0, run.output
    weights = tmp_path / "weights"
    weights.mkdir()
    from uva_cli.train import publish as publish_mod

    monkeypatch.setattr(publish_mod, "weights_dir", lambda: weights)
    run = CliRunner().invoke(main, ["distill", *common, "--student", "uva-dva-32", "--temporal-teacher",
                                    str(tmp_path / "tt" / "best.pt"), "--fusion-epochs", "1",
                                    "--no-fusion-teachers", "--out", str(tmp_path / "kd"), "--publish", "mine"])
    assert run.exit_code == 0, run.output
    stage2 = (tmp_path / "kd" / "stage2" / "config.json").read_text()
    assert '"temporal_teacher": null' in stage2 and '"stage": "fusion"' in stage2
    manifest = (weights / "manifest.json").read_text()
    assert '"mine"' in manifest and (weights / "mine.pt").exists()
    card = (weights / "mine.md").read_text()
    assert "stage 1 (coupled)" in card
    assert "uva distill --data" in card and "--no-fusion-teachers --publish mine" in card


def test_cross_validation_folds_choose_and_exclude_videos(dataset):
    cfg = _cfg(dataset, "unused", model="uva-dva-32")
    names = loop.load_data(cfg, (32,), progress=False).videos[32].names
    held, dropped = names[0], names[-1]
    data = loop.load_data(replace(cfg, val_videos=(held,), exclude=(dropped,)), (32,), progress=False)
    cache = data.videos[32]
    assert data.val_names == [held]
    assert set(data.val) == set(cache.frames_of([held]))
    assert set(data.train) == set(cache.frames_of([n for n in names if n not in (held, dropped)]))
    assert TrainConfig.from_dict({**vars(cfg), "loss": {}, "exclude": [dropped]}).exclude == (dropped,)
    with pytest.raises(InputError, match="nosuchvideo"):
        loop.load_data(replace(cfg, exclude=("nosuchvideo",)), (32,), progress=False)
