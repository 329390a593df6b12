"""`uva roi` batch mode: folders and several inputs, outputs under --out-dir named and mirrored
as `uva saliency` names them, finished inputs skipped, --shard, --manifest, failures."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import decode_all, make_clip, square_frame
from uva_cli.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def manifest_of(path: Path) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in map(json.loads, path.read_text().splitlines())}


def test_folder_gives_mirrored_json_and_reframes_and_a_rerun_skips_them(tmp_path, random_weights):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_clip(src / "a.mp4", frames=4)
    make_clip(src / "sub" / "b.mp4", frames=5)
    out, log = tmp_path / "out", tmp_path / "log.jsonl"
    args = ("roi", src, "--out-dir", out, "--write", "json,reframe", "--aspect", "9:16", "--model", random_weights,
            "--manifest", log)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "2 done, 0 skipped" in result.stderr
    for name, frames in (("a", 4), ("sub/b", 5)):
        doc = json.loads((out / f"{name}.roi.json").read_text())
        assert doc["video"]["frame_count"] == frames and len(doc["frames"]) == frames
        assert all("reframe" in f for f in doc["frames"])
        pictures, _, _ = decode_all(out / f"{name}.reframe.mp4")
        assert len(pictures) == frames and pictures[0].shape == (120, 68, 3)  # 9:16 of 160x120
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "a.reframe.mp4", "a.roi.json", "sub", "sub/b.reframe.mp4", "sub/b.roi.json"]
    assert {r["status"] for r in manifest_of(log).values()} == {"done"}
    stamp = (out / "a.roi.json").stat().st_mtime_ns
    log.unlink()
    again = run(*args)
    assert again.exit_code == 0 and "0 done, 2 skipped" in again.stderr, again.output
    records = manifest_of(log)
    assert sorted(records) == ["a.mp4", "b.mp4"] and {r["status"] for r in records.values()} == {"skipped"}
    assert (out / "a.roi.json").stat().st_mtime_ns == stamp


def test_image_inputs_give_image_reframes_and_crops(tmp_path, random_weights):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(square_frame(160, 120, 3)[0]).save(src / "photo.jpg")
    Image.fromarray(square_frame(160, 120, 5)[0]).save(src / "pic.bmp")
    out = tmp_path / "out"
    result = run("roi", src, "--out-dir", out, "--write", "json,reframe,crop", "--aspect", "1:1", "--size", "64x48",
                 "--model", random_weights, "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["photo.crop.jpg", "photo.reframe.jpg", "photo.roi.json",
                                                     "pic.crop.png", "pic.reframe.png", "pic.roi.json"]
    assert Image.open(out / "photo.reframe.jpg").size == (120, 120)
    assert Image.open(out / "pic.crop.png").size == (64, 48)
    assert json.loads((out / "photo.roi.json").read_text())["video"]["frame_count"] == 1


def test_shards_cover_every_input_once(tmp_path, random_weights):
    src = tmp_path / "in"
    for i in range(3):
        (src / f"sub{i % 2}").mkdir(parents=True, exist_ok=True)
        make_clip(src / f"sub{i % 2}" / f"v{i}.mp4", frames=2)
    log = tmp_path / "log.jsonl"
    for i in (1, 2):
        result = run("roi", src, "--out-dir", tmp_path / "out", "--shard", f"{i}/2", "--manifest", log, "-q",
                     "--model", random_weights)
        assert result.exit_code == 0, result.output
    done = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(Path(r["path"]).name for r in done) == ["v0.mp4", "v1.mp4", "v2.mp4"]
    assert {r["status"] for r in done} == {"done"}
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.roi.json")) == [
        "sub0/v0.roi.json", "sub0/v2.roi.json", "sub1/v1.roi.json"]


def test_a_broken_input_fails_alone_and_is_named_in_one_line(tmp_path, random_weights):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "a.mp4", frames=3)
    (src / "broken.mp4").write_bytes(b"nope" * 50)
    make_clip(src / "c.mp4", frames=4)
    out = tmp_path / "out"
    result = run("roi", src, "--out-dir", out, "--model", random_weights)
    assert result.exit_code == 1, result.output
    assert json.loads((out / "a.roi.json").read_text())["video"]["frame_count"] == 3
    assert json.loads((out / "c.roi.json").read_text())["video"]["frame_count"] == 4
    assert not (out / "broken.roi.json").exists()
    named = [line for line in result.stderr.splitlines() if "broken.mp4" in line]
    assert len(named) == 1 and named[0].startswith("uva: failed: ") and "Traceback" not in result.output
    assert "2 done, 0 skipped (already finished), 1 failed" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--out-dir", "o", "--write", "reframe"), "--aspect"),
    (("--out-dir", "o", "--json", "o.json"), "not both"),
    (("--out-dir", "o", "--size", "64x48"), "add crop to --write"),
    (("--out-dir", "o", "--aspect", "1:1"), "add reframe to --write"),
    (("--out-dir", "o", "--write", "json,overlay"), "choose from json, reframe, crop"),
    (("--json", "o.json", "--aspect", "1:1"), "--out-dir"),
    (("--json", "o.json", "--shard", "1/2"), "--out-dir"),
    (("--json", "o.json", "--manifest", "m.jsonl"), "--out-dir"),
])
def test_batch_usage_errors(clip, args, message):
    result = run("roi", clip, *args)
    assert result.exit_code == 2 and message in result.output, result.output
