import numpy as np
import pytest
from click.testing import CliRunner

from uva_cli.cli import main
from uva_cli.engine import load_predictor, predict_arrays

ort = pytest.importorskip("onnxruntime")


def test_onnx_export_matches_pytorch(tmp_path, random_weights, monkeypatch):
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["export", "--model", str(random_weights), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    torch_p = load_predictor(str(random_weights), "cpu", backend="torch")
    onnx_p = load_predictor(str(random_weights), "cpu", backend="onnx")
    rng = np.random.default_rng(0)
    for n in (2, 9, 40):  # the batch dimension is dynamic
        frames = rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8)
        a, b = predict_arrays(torch_p, frames), predict_arrays(onnx_p, frames)
        assert a.shape == b.shape == (n - 1, 64, 64)
        assert np.abs(a - b).max() < 1e-4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["frames"]
