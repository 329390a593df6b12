"""`uva train`: train a student on a fixation dataset, optionally publish it to weights/."""

from __future__ import annotations

import json
import logging
import shlex
import sys
from dataclasses import fields
from pathlib import Path

import click

STUDENT_NAMES = ("uva-dva-64", "uva-dva-32")


@click.command("train")
@click.option("--model", "model", type=click.Choice(STUDENT_NAMES), default="uva-dva-64", show_default=True,
              help="Which network to train.")
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
@click.option("--threads", type=click.IntRange(0), help="CPU threads for torch (0: default).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last.pt.")
@click.option("--publish", "publish_as", metavar="NAME", help="Copy the best checkpoint to weights/NAME.pt with a model card.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def command(model, data, images, config_file, out, resume, publish_as, quiet, **overrides):
    """Train a student directly on ground-truth maps, validating on held-out videos each epoch.

    \b
    Example (the shipped uva-dva-64):
      uva train --model uva-dva-64 --data ../shared/data/xu-hevc --images ../shared/data/images
    """
    from ..train.loop import TrainConfig, train
    from ..train.publish import publish

    settings = json.loads(config_file.read_text()) if config_file else {}
    settings.update({"model": model, "data": str(data)})
    if images:
        settings["images"] = str(images)
    settings.update({k: v for k, v in overrides.items() if v is not None})
    settings.setdefault("out", str(out or Path("runs") / model))
    if out:
        settings["out"] = str(out)
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise click.UsageError(f"unknown setting(s) in --config: {', '.join(unknown)}")
    logging.getLogger("uva").setLevel(logging.INFO)
    run = train(TrainConfig.from_dict(settings), resume=resume, progress=not quiet)
    click.echo(f"uva: run folder {run}", err=True)
    if publish_as:
        row = publish(run, publish_as, "uva " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        click.echo(f"uva: published {publish_as}: {row['parameters']:,} parameters, {row['bytes']:,} bytes, "
                   f"val NSS {row['validation'].get('nss', float('nan')):.3f}", err=True)
