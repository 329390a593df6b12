"""`uva train`: train a student on a fixation dataset, optionally publish it to weights/."""

from __future__ import annotations

import json
import logging
import os
import shlex
from dataclasses import fields
from pathlib import Path

import click
from click.core import ParameterSource

from .options import WeightsRef, threads

MODEL_NAMES = ("uva-dva-64", "uva-dva-32", "teacher-spatial", "teacher-temporal")

crossval_option = click.option(
    "--crossval", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --publish: a crossval.json from benchmarks/crossval.py whose scores go on the model card.")


@click.command("train")
@click.option("--model", "model", type=click.Choice(MODEL_NAMES), default="uva-dva-64", show_default=True,
              help="Which network to train: a student or a high-resolution teacher.")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Video dataset folder (videos/, videos.csv, fixations.csv).")
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Still-image fixation dataset mixed into every batch as static pairs.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON file of training settings (see config.json in any run folder).")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder [default: runs/<model>].")
@click.option("--epochs", type=click.IntRange(1), help="Epochs [default 12].")
@click.option("--steps", "steps_per_epoch", type=click.IntRange(1), help="Steps per epoch [default 150].")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size [default 64].")
@click.option("--lr", type=float, help="Peak learning rate [default 2e-3].")
@click.option("--seed", type=int, help="Seed for split, sampling and initialisation [default 0].")
@click.option("--image-fraction", type=click.FloatRange(0, 1), help="Share of each batch from --images (1: images only, i.e. pretraining) [default 0.25].")
@click.option("--init", type=WeightsRef(), help="Start from these weights: a model name (uva-dva-64, …) or a file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train [default auto].")
@threads
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last.pt.")
@click.option("--publish", "publish_as", metavar="NAME", help="Copy the best checkpoint to weights/NAME.pt with a model card.")
@crossval_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def command(model, data, images, config_file, out, resume, publish_as, crossval, quiet, **overrides):
    """Train a student on ground-truth maps, or a teacher, validating on held-out videos each epoch.

    \b
    Examples:
      uva train --model uva-dva-64 --data ../shared/data/xu-hevc --images ../shared/data/images
      uva train --model teacher-spatial --data ../shared/data/xu-hevc --images ../shared/data/images

    Runs under torchrun as data-parallel training (gloo on CPU, nccl on CUDA):
      torchrun --nproc-per-node 2 -m uva_cli train --model uva-dva-32 --data DIR
    """
    from ..train.loop import train

    cfg = settings(model, data, images, config_file, out, overrides)
    run = train(cfg, resume=resume, progress=not quiet)
    finish(run, publish_as, crossval)


def settings(model: str, data: Path, images: Path | None, config_file: Path | None, out: Path | None,
             overrides: dict):
    """TrainConfig from --config, then the command line (which wins)."""
    from ..train.loop import TrainConfig

    values = json.loads(config_file.read_text()) if config_file else {}
    values.update({"model": model, "data": str(data)})
    if images:
        values["images"] = str(images)
    ctx = click.get_current_context(silent=True)
    given = (lambda k: ctx.get_parameter_source(k) != ParameterSource.DEFAULT) if ctx else (lambda k: True)
    values.update({k: v for k, v in overrides.items() if v is not None and given(k)})  # the command line wins
    values["out"] = str(out) if out else values.get("out", str(Path("runs") / model))
    unknown = sorted(set(values) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise click.UsageError(f"unknown setting(s) in --config: {', '.join(unknown)}")
    logging.getLogger("uva").setLevel(logging.INFO)
    return TrainConfig.from_dict(values)


def command_line() -> str:
    """The running command as a copyable line, rebuilt from its parsed options (for model cards)."""
    ctx = click.get_current_context()
    parts = ["uva", ctx.info_name]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if (value is None or not isinstance(param, click.Option)
                or ctx.get_parameter_source(param.name) == ParameterSource.DEFAULT):  # only what was given
            continue
        if param.is_flag:
            if param.secondary_opts and value is False:
                parts.append(param.secondary_opts[0])
            elif value is True and (param.secondary_opts or param.default is not True):
                parts.append(param.opts[0])
            continue
        parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


def finish(run: Path, publish_as: str | None, crossval: Path | None = None) -> None:
    from ..train.publish import publish

    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports and publishes
        return
    click.echo(f"uva: run folder {run}", err=True)
    if publish_as:
        row = publish(run, publish_as, command_line(), crossval=crossval)
        click.echo(f"uva: published {publish_as}: {row['parameters']:,} parameters, {row['bytes']:,} bytes, "
                   f"NSS {row['validation'].get('nss') or float('nan'):.3f}", err=True)
