"""The ImageNet MobileNets converted from their TFLite files against the files themselves.

Needs ../shared/pretrained (or UVA_PRETRAINED), the `tflite` parser and a TFLite interpreter
(`ai-edge-litert`); skipped cleanly where any is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from uva_cli.errors import WeightsError
from uva_cli.models import pretrained as P

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bunny.mp4"

needs_files = pytest.mark.skipif(not (P.pretrained_dir() / P.SOURCES["mobilenet_v2"].file).exists(),
                                 reason="../shared/pretrained is absent")


def _frames(side: int, count: int = 6) -> list[np.ndarray]:
    """Evenly spaced frames of the bundled example, resized to side x side RGB uint8."""
    import av

    with av.open(str(EXAMPLE)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(width=side, height=side, format="rgb24") for f in container.decode(stream)]
    return [frames[i] for i in np.linspace(0, len(frames) - 1, count).astype(int)]


@needs_files
@pytest.mark.parametrize("name,side", [("mobilenet_v2", 224), ("mobilenet_v1_025", 128)])
def test_converted_network_matches_the_tflite_file(name, side):
    pytest.importorskip("tflite")
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = litert.Interpreter(model_path=str(P.source_path(name)))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = out["quantization"]
    net, head = P.classifier(name)
    decisive, agree, diffs = 0, 0, []
    frames = _frames(side)
    for frame in frames:
        interpreter.set_tensor(inp["index"], frame[None].astype(inp["dtype"]))
        interpreter.invoke()
        theirs = (interpreter.get_tensor(out["index"])[0].astype(np.float64) - zero) * scale
        x = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
        with torch.no_grad():
            ours = torch.softmax(P.imagenet_logits(name, net, head, x)[0].double(), 0).numpy()
        top = np.sort(theirs)[::-1]
        if top[0] - top[1] > 2 * scale:  # the file's own top-1 is not a tie at its output precision
            decisive += 1
            agree += int(ours.argmax() == theirs.argmax())
        else:
            assert ours.argmax() in np.argsort(-theirs)[:3]
        diffs.append(np.abs(ours - theirs).max())
    # The file computes in 8-bit integers, we in float: the same class, probabilities close.
    assert decisive >= len(frames) - 1 and agree == decisive, f"top-1 agrees on {agree} of {decisive} frames"
    assert max(diffs) < 0.1, diffs


@needs_files
def test_same_padding_matches_tensorflow_for_even_and_odd_sides():
    """SAME with stride 2 pads only at the end for even sides: a one-hot input's response lands
    where TensorFlow puts it."""
    conv = P.SameConv(1, 1, 3, stride=2, relu6=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0  # picks the top-left tap of each window
        conv.bias.zero_()
    x = torch.arange(36.0).view(1, 1, 6, 6)
    # TF: out = ceil(6/2) = 3, total padding 1, all of it after: windows start at 0, 2, 4.
    assert torch.equal(conv(x)[0, 0], x[0, 0, ::2, ::2])
    x = torch.arange(49.0).view(1, 1, 7, 7)  # odd: total padding 2, one each side
    y = conv(x)[0, 0]
    assert y.shape == (4, 4) and y[0, 0] == 0 and y[1, 1] == x[0, 0, 1, 1]


def test_missing_pretrained_file_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("UVA_PRETRAINED", str(tmp_path))
    with pytest.raises(WeightsError) as err:
        P.source_path("mobilenet_v2")
    message = str(err.value)
    assert "\n" not in message and "tf2_mobilenet_v2_1.0_224_ptq.tflite" in message and "google-coral" in message


def test_altered_pretrained_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("UVA_PRETRAINED", str(tmp_path))
    target = tmp_path / P.SOURCES["mobilenet_v1_025"].file
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the original")
    with pytest.raises(WeightsError, match="sha256"):
        P.source_path("mobilenet_v1_025")
