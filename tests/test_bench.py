"""`uva bench` on a tiny synthetic clip: the table's numbers are consistent, not their size."""

import json
import time

from click.testing import CliRunner

from conftest import make_clip
from uva_cli.bench import count_macs
from uva_cli.cli import main
from uva_cli.models.blocks import fold_batchnorm
from uva_cli.models.registry import load_model, manifest


def test_bench_json_is_consistent(tmp_path):
    """The sizes are the shipped file's and the timings are real: every fps, turned back into
    seconds, fits in the time the command took, and end to end is not faster than decoding alone."""
    clip = make_clip(tmp_path / "clip.mp4", frames=10)
    out = tmp_path / "bench.json"
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["bench", "--model", "uva-dva-32", "--batch-size", "1", "--batch-size", "4",
                                       "--video", str(clip), "--json", str(out)])
    wall = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    bench = json.loads(out.read_text())
    row = manifest()["uva-dva-32"]
    assert (bench["parameters"], bench["weights_bytes"]) == (row["parameters"], row["bytes"])
    assert bench["macs_per_frame"] == count_macs(fold_batchnorm(load_model("uva-dva-32")), 32)
    assert set(bench["network_fps"]) == {"1", "4"} and min(bench["network_fps"].values()) > 0
    video = bench["video"]
    assert video["frames"] == 10
    # each network fps is timed for at least 2 s; each of the 5 video pipelines is sampled in 3
    # rounds of at least 1 s each (the clip run again and again)
    assert 2 * 2 + 3 * 5 * 1.0 < wall
    # start-up: a new interpreter timed from outside, its parts measured inside it
    startup = bench["startup"]
    assert set(startup) == {"total", "interpreter", "imports", "model_load", "first_batch"}
    assert 0 < startup["imports"] + startup["model_load"] + startup["first_batch"] < startup["total"] < wall
    assert video["decode_fast_vs_decode"] > 0  # both decoders timed
    assert 0 < video["npz_vs_decode"] < 1.2 and 0 < video["overlay_vs_decode_encode"] < 1.2


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
