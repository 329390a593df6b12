"""The teachers: readouts on a frozen ImageNet MobileNetV2 (+ face maps), usable as models of
their own by `uva saliency`, `uva eval` and `uva bench` (slower, better)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import make_clip, make_fixation_dataset, square_frame
from uva_cli.cli import main
from uva_cli.models.registry import load_model
from uva_cli.models.teachers import ENCODER, FACES
from uva_cli.train.recipes import flip_features

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bunny.mp4"


@pytest.fixture(scope="module")
def teacher():
    return load_model("teacher-spatial")


def test_features_of_a_mirrored_frame_are_the_mirrored_features(teacher):
    """Teacher training mirrors cached features instead of frames (flip augmentation); that must be
    close to what the encoder makes of the mirrored frame (ImageNet features are not exactly
    mirror-symmetric), and far closer than the unmirrored features are."""
    import av

    with av.open(str(EXAMPLE)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 39)
    img = frame.to_ndarray(width=256, height=256, format="rgb24")
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        f, f_mirror = teacher.features(x), teacher.features(x.flip(-1))
    assert f.shape == (1, ENCODER + (FACES if teacher.cfg.faces else 0), 16, 16)
    corr = lambda a, b: float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])  # noqa: E731
    mirrored = corr(flip_features(f.clone()), f_mirror)  # 0.79 measured
    assert mirrored > 0.7 and mirrored > corr(f, f_mirror) + 0.3  # unmirrored: 0.22


def test_teacher_maps_a_video_through_the_cli(tmp_path, teacher, monkeypatch):
    """A teacher runs on the default backend (ONNX Runtime on the CPU, its export cached like a
    student's) with PyTorch's maps."""
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    clip = make_clip(tmp_path / "square.mp4", frames=12)
    for backend in ("auto", "torch"):
        result = CliRunner().invoke(main, ["saliency", str(clip), "--model", "teacher-spatial", "--npz",
                                           str(tmp_path / f"{backend}.npz"), "--backend", backend, "-q"])
        assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "cache" / "onnx").glob("teacher-spatial-*.onnx"))) == 1
    maps = np.load(tmp_path / "auto.npz")["maps"]
    assert np.abs(maps.astype(np.float32) - np.load(tmp_path / "torch.npz")["maps"]).max() < 2e-3
    assert maps.shape == (12, teacher.cfg.output_size, teacher.cfg.output_size)
    # the bright square on a dark, textured background is where it looks, frame after frame
    errors = []
    for k, smap in enumerate(maps):
        _, (cx, cy) = square_frame(160, 120, k)
        r, c = np.unravel_index(np.argmax(smap), smap.shape)
        errors.append(np.hypot((c + 0.5) * 160 / smap.shape[1] - cx, (r + 0.5) * 120 / smap.shape[0] - cy))
    assert np.median(errors) < 24


def test_teacher_is_scored_and_timed(tmp_path, monkeypatch):
    """uva eval scores a teacher (observers here look at the moving square, so it must beat the
    centre bias), and uva bench times it."""
    monkeypatch.setenv("UVA_CACHE_DIR", str(tmp_path / "cache"))
    vroot, _ = make_fixation_dataset(tmp_path, videos=2, frames=4, images=1)
    pooled = {}
    for args in (["--model", "teacher-temporal"], ["--baseline", "centre"]):
        result = CliRunner().invoke(main, ["eval", "--data", str(vroot), *args, "--json", "-"])
        assert result.exit_code == 0, result.output
        scores = json.loads(result.stdout)
        assert scores["frames"] == 8
        pooled[args[1]] = scores["pooled"]
    assert pooled["teacher-temporal"]["nss"] > pooled["centre"]["nss"] + 0.5
    result = CliRunner().invoke(main, ["bench", "--model", "teacher-spatial", "--no-video", "--batch-size", "2",
                                       "--backend", "torch", "--json", "-"])
    assert result.exit_code == 0, result.output
    bench = json.loads(result.stdout)
    assert bench["macs_per_frame"] > 100e6 and bench["network_fps"]["2"] > 0


def test_a_teacher_with_face_maps_is_not_exported():
    """The face-map ablation was never exported: asking for it on ONNX is a one-line error."""
    from uva_cli.errors import UvaError
    from uva_cli.export import onnx_bytes
    from uva_cli.models.teachers import build_teacher

    with pytest.raises(UvaError, match="PyTorch only"):
        onnx_bytes(build_teacher("teacher-spatial", faces=True))


def test_camera_residual_finds_the_pan_and_what_moves_against_it():
    """A textured frame panned 8 px left (2 cells of the stride-4 brightness grid), with a bright
    square appearing in the second frame: the camera's shift is found, the residual peaks on the
    square, and a still pair gives no residual at all."""
    from uva_cli.models.teachers import build_teacher, camera_residual

    torch.manual_seed(0)
    scene = torch.rand(1, 3, 288, 288) * 2 - 1
    x_t, x_n = scene[..., 16:272, 16:272].clone(), scene[..., 16:272, 24:280].clone()
    x_n[..., 96:144, 96:144] = 1.0  # the square covers cells 6-8 of the 16x16 grid
    teacher = build_teacher("teacher-temporal", residual=True).eval()
    with torch.no_grad():
        f_t, f_n = teacher.features(x_t), teacher.features(x_n)
        r = camera_residual(f_t, f_n)
        still = camera_residual(f_t, f_t)
        logits = teacher(x_t, x_n)
    assert r.shape == (1, 4, 16, 16)
    assert torch.allclose(r[0, 2], torch.full((16, 16), -0.5)) and torch.allclose(r[0, 3], torch.zeros(16, 16))
    row, col = divmod(int(r[0, 0].argmax()), 16)
    assert 6 <= row <= 8 and 6 <= col <= 8
    # away from the square (and the frame's right edge, which the pan uncovers) little is left
    assert float(r[0, 0, :4, :12].max()) < 0.2 * float(r[0, 0].max())
    assert float(still[:, :2].abs().max()) == 0.0 and float(still[:, 2:].abs().max()) == 0.0
    assert logits.shape == (1, 1, 64, 64)
