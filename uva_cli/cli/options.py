"""Options shared by the commands that run a network (saliency, roi, bench, eval): one definition
and one help text each, so the commands cannot drift apart."""

from __future__ import annotations

import click

model = click.option("--model", default="uva-dva-64", show_default=True,
                     help="Model name (see `uva models`) or a .pt weights file.")
device = click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
                      help="Where the network runs.")
batch_size = click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1, 4096),
                          help="Frames per network call; results do not depend on it.")
backend = click.option("--backend", default="auto", show_default=True, type=click.Choice(["auto", "torch", "onnx"]),
                       help="Inference runtime: onnx is ONNX Runtime (`pip install uva[onnx]`), the same maps for "
                            "less CPU; auto takes it on the CPU when installed, else torch.")
precision = click.option("--precision", default="auto", show_default=True,
                         type=click.Choice(["auto", "fp32", "fp16"]),
                         help="Network precision: auto is fp16 on CUDA (PyTorch; maps within 5e-3 of fp32's), "
                              "fp32 on the CPU.")
# One meaning wherever it appears: how many CPU threads the network itself runs on.
threads = click.option("--threads", default=0, show_default=True, type=click.IntRange(0),
                       help="CPU threads for the network (PyTorch's, or ONNX Runtime's); 0: automatic, i.e. all "
                            "cores but one while a video streams (decoding and encoding take the other; "
                            "UVA_THREADS overrides), every core for a shipped teacher (its network is what "
                            "the video waits for) and when the network runs alone.")


def network(f):
    """All of the above at once, in this order: what every command that streams video through a
    model takes (saliency, roi)."""
    for option in reversed((model, device, backend, batch_size, precision, threads)):
        f = option(f)
    return f


class WeightsRef(click.ParamType):
    """A model name from the registry (`uva models`) or a weights file, wherever weights are asked for."""

    name = "NAME|FILE"

    def convert(self, value, param, ctx):
        from pathlib import Path

        from ..models.registry import manifest

        if str(value) in manifest() or Path(value).is_file():
            return str(value)
        names = ", ".join(sorted(manifest()))
        self.fail(f"{value!r} is neither a model name ({names}) nor a weights file", param, ctx)
