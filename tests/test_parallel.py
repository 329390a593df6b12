"""`uva saliency --jobs N`: worker processes over a batch, split as --shard splits it."""

import json

import numpy as np

from conftest import make_clip
from test_reliability import run
from uva_cli.engine import pipeline_threads, shipped_input_size
from uva_cli.parallel import worker_cores, worker_device


def test_jobs_runs_every_input_once_with_the_same_maps_as_one_process(tmp_path, random_weights):
    (tmp_path / "in").mkdir()
    for k in range(5):
        make_clip(tmp_path / "in" / f"c{k}.mp4", frames=6 + k)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run("saliency", tmp_path / "in", "--out-dir", one, "--write", "npz", "--model", random_weights,
               "-q").exit_code == 0
    result = run("saliency", tmp_path / "in", "--out-dir", two, "--write", "npz", "--model", random_weights,
                 "--jobs", "2", "--manifest", tmp_path / "log.jsonl")
    assert result.exit_code == 0, result.output
    assert "5 done, 0 skipped" in result.output
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert sorted(line["path"] for line in lines) == sorted(str(tmp_path / "in" / f"c{k}.mp4") for k in range(5))
    for k in range(5):
        a, b = np.load(one / f"c{k}.npz"), np.load(two / f"c{k}.npz")
        assert np.array_equal(a["maps"], b["maps"]) and len(b["maps"]) == 6 + k
    again = run("saliency", tmp_path / "in", "--out-dir", two, "--write", "npz", "--model", random_weights,
                "--jobs", "2")
    assert again.exit_code == 0 and "0 done, 5 skipped" in again.output


def test_jobs_needs_a_batch_and_divides_the_cores():
    result = run("saliency", "x.mp4", "--npz", "x.npz", "--jobs", "2")
    assert result.exit_code == 2 and "--jobs" in result.output and "Traceback" not in result.output
    assert worker_cores(1, 2) == 2 and worker_cores(2, 2) == 1 and worker_cores(2, 16) == 8 and worker_cores(4, 2) == 1


def test_network_threads_leave_a_core_to_decoding_unless_the_network_is_a_teacher(monkeypatch):
    monkeypatch.delenv("UVA_THREADS", raising=False)
    assert shipped_input_size("uva-dva-64") == 64 and shipped_input_size("teacher-spatial") == 256
    assert shipped_input_size("my-weights.pt") == 0  # a file's side is unknown until loaded
    # a student shares the cores with the decoder; a teacher is the bottleneck and takes them all
    assert pipeline_threads(64, cores=8) == 7 and pipeline_threads(256, cores=8) == 8
    assert pipeline_threads(64, cores=1) == 1 and pipeline_threads(0, cores=2) == 1
    monkeypatch.setenv("UVA_THREADS", "3")
    assert pipeline_threads(256, cores=8) == 3


def test_workers_spread_over_the_gpus():
    # 3 workers, 2 GPUs: worker k on GPU k mod 2; one GPU or a named one is shared; the CPU stays
    assert [worker_device("auto", k, 2) for k in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert [worker_device("cuda", k, 4) for k in range(2)] == ["cuda:0", "cuda:1"]
    assert worker_device("cuda", 1, 1) == "cuda" and worker_device("cuda:1", 0, 2) == "cuda:1"
    assert worker_device("cpu", 1, 2) == "cpu" and worker_device("auto", 1, 0) == "auto"
