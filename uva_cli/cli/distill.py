"""`uva distill`: coupled knowledge distillation of a student from two teachers."""

from __future__ import annotations

from pathlib import Path

import click

from .options import WeightsRef, threads
from .train import crossval_option, finish, settings


@click.command("distill")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Video dataset folder (any layout `uva eval` reads: fixation CSV, DHF1K, AVS1K).")
@click.option("--spatial-teacher", type=WeightsRef(), help="Spatial teacher: teacher-spatial or a weights file (uva train --model teacher-spatial).")
@click.option("--temporal-teacher", type=WeightsRef(), help="Temporal teacher: teacher-temporal or a weights file (uva train --model teacher-temporal).")
@click.option("--student", type=click.Choice(["uva-dva-64", "uva-dva-32"]), default="uva-dva-64", show_default=True)
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Still-image fixation dataset mixed into batches.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSON training settings.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder [default: runs/distill-<student>].")
@click.option("--epochs", type=click.IntRange(1), help="Stage 1 epochs [default 12].")
@click.option("--fusion-epochs", type=click.IntRange(1), help="Stage 2 epochs [default: half of --epochs].")
@click.option("--steps", "steps_per_epoch", type=click.IntRange(1), help="Steps per epoch [default 150].")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size [default 64].")
@click.option("--distill-weight", type=click.FloatRange(0), help="Weight of each teacher term [default 1.0].")
@click.option("--distill-loss", type=click.Choice(["kld", "mse"]), help="Teacher term: kld or the paper's mse [default kld].")
@click.option("--fusion-teachers/--no-fusion-teachers", default=None, help="Stage 2 also learns the teachers' mean map [default on; off is the paper's GT-only stage 2].")
@click.option("--seed", type=int, help="Seed [default 0].")
@threads
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train [default auto].")
@click.option("--resume", is_flag=True, help="Continue an interrupted run.")
@click.option("--publish", "publish_as", metavar="NAME", help="Install the distilled student as weights/NAME.pt with a model card.")
@crossval_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def command(data, student, images, config_file, out, fusion_epochs, resume, publish_as, crossval, quiet, **overrides):
    """Distil a student from a spatial and a temporal teacher (UVA-Net's two stages).

    Stage 1 trains the shared trunk with the spatial branch against ground truth + the spatial
    teacher's maps and the temporal branch against ground truth + the temporal teacher's maps;
    stage 2 freezes it and trains the fusion head on ground truth. Either teacher may be left
    out (that branch then learns from ground truth alone).

    \b
    Example:
      uva distill --data ../shared/data/xu-hevc --images ../shared/data/images \\
        --spatial-teacher runs/teacher-spatial/best.pt --temporal-teacher runs/teacher-temporal/best.pt \\
        --student uva-dva-64 --publish uva-dva-64
    """
    from ..train.distill import distill

    cfg = settings(student, data, images, config_file, out or Path("runs") / f"distill-{student}", overrides)
    finish(distill(cfg, fusion_epochs, resume=resume, progress=not quiet), publish_as, crossval)
