"""`uva bench` on a tiny synthetic clip: the table's numbers are consistent, not their size."""

import json

from click.testing import CliRunner

from conftest import make_clip
from uva_cli.bench import count_macs
from uva_cli.cli import main
from uva_cli.models.blocks import fold_batchnorm
from uva_cli.models.registry import load_model
from uva_cli.models.student import count_parameters


def test_bench_json_is_consistent(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=10)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--model", "uva-dva-32", "--batch-size", "1", "--batch-size", "4",
                                       "--video", str(clip), "--json", str(out)])
    assert result.exit_code == 0, result.output
    bench = json.loads(out.read_text())
    shipped = load_model("uva-dva-32")
    assert bench["parameters"] == count_parameters(shipped)
    assert bench["macs_per_frame"] == count_macs(fold_batchnorm(shipped), 32)
    assert set(bench["network_fps"]) == {"1", "4"} and min(bench["network_fps"].values()) > 0
    video = bench["video"]
    assert video["frames"] == 10
    assert video["npz_vs_decode"] == video["npz_fps"] / video["decode_fps"]
    assert video["overlay_vs_decode_encode"] == video["overlay_fps"] / video["decode_encode_fps"]
    assert bench["peak_rss_mb"] > 0



def test_macs_are_counted_on_a_half_precision_model():
    from uva_cli.engine import load_predictor

    half = load_predictor("uva-dva-64", "cpu", backend="torch", precision="fp16")
    assert count_macs(half.model, 64) == count_macs(fold_batchnorm(load_model("uva-dva-64")), 64)


def test_bench_records_the_precision_it_ran_at(tmp_path):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(main, ["bench", "--model", "uva-dva-32", "--precision", "fp16", "--batch-size", "2",
                                       "--no-video", "--json", str(out)])
    assert result.exit_code == 0, result.output
    bench = json.loads(out.read_text())
    assert (bench["precision"], bench["backend"]) == ("fp16", "torch") and bench["network_fps"]["2"] > 0
