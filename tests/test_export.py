import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_clip
from uva_cli.cli import main
from uva_cli.engine import load_predictor, predict_arrays

ort = pytest.importorskip("onnxruntime")


def _frames(n: int, side: int = 64) -> np.ndarray:
    return np.random.default_rng(n).integers(0, 255, (n, side, side, 3), dtype=np.uint8)


def test_the_file_uva_export_wrote_matches_pytorch(tmp_path, random_weights, monkeypatch):
    """`uva export`'s file, run as --model FILE.onnx (not the backend's own cached export), gives
    PyTorch's maps for any batch size."""
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", "--model", str(random_weights), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    torch_p = load_predictor(str(random_weights), "cpu", backend="torch")
    file_p = load_predictor(str(out), "cpu", backend="onnx")
    assert file_p.input_size == 64 and not (tmp_path / "cache").exists()  # ran the file, exported nothing
    for n in (2, 9, 40):  # the batch dimension is dynamic
        a, b = predict_arrays(torch_p, _frames(n)), predict_arrays(file_p, _frames(n))
        assert a.shape == b.shape == (n - 1, 64, 64)
        assert np.abs(a - b).max() < 1e-4
    assert [i.name for i in file_p.session.get_inputs()] == ["frames"]


def test_saliency_runs_an_exported_file(tmp_path, random_weights):
    clip = make_clip(tmp_path / "clip.mp4", frames=5)
    onnx = tmp_path / "m.onnx"
    assert CliRunner().invoke(main, ["export", "--model", str(random_weights), "--onnx", str(onnx)]).exit_code == 0
    for model, backend in ((onnx, "onnx"), (onnx, "auto"), (random_weights, "torch")):
        out = tmp_path / f"{backend}.npz"
        result = CliRunner().invoke(main, ["saliency", str(clip), "--model", str(model), "--backend", backend,
                                           "--device", "cpu", "--npz", str(out), "-q"])
        assert result.exit_code == 0, result.output
    a, b, c = (np.load(tmp_path / f"{k}.npz")["maps"].astype(np.float32) for k in ("onnx", "auto", "torch"))
    assert a.shape == (5, 64, 64) and np.array_equal(a, b) and np.abs(a - c).max() < 2e-3  # float16 in the npz
    result = CliRunner().invoke(main, ["saliency", str(clip), "--model", str(onnx), "--backend", "torch",
                                       "--npz", str(tmp_path / "x.npz")])
    assert result.exit_code == 3 and "runs on ONNX Runtime" in result.output and "Traceback" not in result.output
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    result = CliRunner().invoke(main, ["saliency", str(clip), "--model", str(tmp_path / "bad.onnx"),
                                       "--npz", str(tmp_path / "y.npz")])
    assert result.exit_code == 3 and "bad.onnx" in result.output and "Traceback" not in result.output


def test_four_processes_share_an_empty_cache(tmp_path, random_weights):
    """The Slurm and GNU parallel recipes of docs/usage.md start many processes at once on an empty cache."""
    clip = make_clip(tmp_path / "clip.mp4", frames=6)
    env = {**os.environ, "UVA_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "UVA_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "uva_cli", "saliency", str(clip), "--model", str(random_weights),
                               "--backend", "onnx", "--device", "cpu", "--npz", str(tmp_path / f"{i}.npz"), "-q"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(4)]
    errors = [p.communicate(timeout=600)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    maps = [np.load(tmp_path / f"{i}.npz")["maps"] for i in range(4)]
    assert all(np.array_equal(maps[0], m) for m in maps[1:])
    cached = sorted(p.name for p in (tmp_path / "cache" / "onnx").iterdir())
    assert len(cached) == 1 and cached[0].endswith(".onnx")  # no temporary file left behind


def test_cache_key_covers_what_changes_the_graph(tmp_path, random_weights, monkeypatch):
    from uva_cli import engine

    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path))
    base = engine.onnx_cache_path(str(random_weights))
    assert base.parent == tmp_path / "onnx" and base == engine.onnx_cache_path(str(random_weights))
    assert engine.onnx_cache_path("uva-dva-64") != base  # other weights
    assert engine.onnx_cache_path(str(random_weights), opset=18) != base
    monkeypatch.setattr(engine, "uva_version", lambda: "0.0.0-other")
    assert engine.onnx_cache_path(str(random_weights)) != base
    monkeypatch.undo()
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(engine, "torch_version", lambda: "0.0-other")  # the exporter is torch's own
    assert engine.onnx_cache_path(str(random_weights)) != base


def test_damaged_cache_file_is_replaced_and_no_cache_folder_is_fine(tmp_path, random_weights, monkeypatch):
    from uva_cli import engine

    torch_p = load_predictor(str(random_weights), "cpu", backend="torch")
    want = predict_arrays(torch_p, _frames(4))
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    path = engine.onnx_cache_path(str(random_weights))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated")  # e.g. left by a crash of an older uva
    got = predict_arrays(load_predictor(str(random_weights), "cpu", backend="onnx"), _frames(4))
    assert np.abs(got - want).max() < 1e-4 and path.stat().st_size > 10_000
    (tmp_path / "file").write_text("")  # the cache "folder" is a file: nothing can be written under it
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "file" / "cache"))
    got = predict_arrays(load_predictor(str(random_weights), "cpu", backend="onnx"), _frames(4))
    assert np.abs(got - want).max() < 1e-4


def test_onnx_on_cuda_is_refused_in_one_line(tmp_path, random_weights):
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    result = CliRunner().invoke(main, ["saliency", str(clip), "--model", str(random_weights), "--backend", "onnx",
                                       "--device", "cuda", "--npz", str(tmp_path / "a.npz")])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert "--backend onnx runs on the CPU" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_rename_by_another_writer_in_between_is_harmless(tmp_path, random_weights, monkeypatch):
    """Two writers of one cache file: the other finishes while this one is between writing and
    renaming (the interleaving that made the losers exit 4 when all used one temporary name)."""
    from uva_cli import export
    from uva_cli.models.registry import load_model

    net, target, real_replace, calls = load_model(str(random_weights)), tmp_path / "g.onnx", os.replace, []

    def replace(src, dst):
        if not calls:
            calls.append(src)
            export.export_onnx(net, target)  # the other process, start to finish
        real_replace(src, dst)

    monkeypatch.setattr(export.os, "replace", replace)
    assert export.export_onnx(net, target) == target
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["g.onnx"]
    assert export.onnx_session(target).get_inputs()[0].shape[1:] == [3, 64, 64]


def test_a_cached_export_runs_without_importing_torch(tmp_path, random_weights, monkeypatch):
    """The second process to run a model on ONNX Runtime starts from the cached graph and never
    imports PyTorch (a second of every start), with the maps PyTorch gives."""
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    want = predict_arrays(load_predictor(str(random_weights), "cpu", backend="torch"), _frames(5))
    load_predictor(str(random_weights), "cpu", backend="onnx")  # exports into the cache
    np.save(tmp_path / "frames.npy", _frames(5))
    code = ("import sys, numpy as np; from uva_cli.engine import load_predictor, predict_arrays; "
            "p = load_predictor(sys.argv[1], 'cpu', backend='auto'); "
            "np.save(sys.argv[3], predict_arrays(p, np.load(sys.argv[2]))); "
            "print(p.backend, p.model is None, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(random_weights), str(tmp_path / "frames.npy"),
                          str(tmp_path / "maps.npy")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["onnx", "True", "False"]
    got = np.load(tmp_path / "maps.npy")
    assert got.shape == want.shape == (4, 64, 64) and np.abs(got - want).max() < 1e-4


def test_a_cpu_build_of_torch_means_the_cpu_without_asking_it(monkeypatch):
    from uva_cli import engine

    monkeypatch.setattr(engine, "torch_version", lambda: "2.13.0+cpu")
    assert engine.pick_device("auto") == "cpu" and not engine.cuda_possible()
    monkeypatch.setattr(engine, "torch_version", lambda: "2.13.0")
    assert engine.cuda_possible()
