"""`uva export`: a model as ONNX for other runtimes."""

from __future__ import annotations

from pathlib import Path

import click

from ..export import OPSET


@click.command("export")
@click.option("--model", default="uva-dva-64", show_default=True, help="Model name or .pt file.")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the .onnx file.")
@click.option("--opset", default=OPSET, show_default=True, type=click.IntRange(13), help="ONNX opset.")
def command(model, onnx_path, opset):
    """Export a student as ONNX: input `frames` (N+1, 3, S, S) float in [-1, 1], output `maps`
    (N, S, S), map i for frame i paired with frame i+1, each scaled to peak 1; N is dynamic."""
    from ..export import export_onnx
    from ..models.blocks import fold_batchnorm
    from ..models.registry import load_model

    path = export_onnx(fold_batchnorm(load_model(model)).eval(), onnx_path, opset)
    click.echo(f"uva: wrote {path}", err=True)
