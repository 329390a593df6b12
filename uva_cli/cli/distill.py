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
@click.option("--views", is_flag=True, help="Distil on the student's own views instead: fresh crops, zooms, mirrors and "
              "colours of every frame, each labelled online by the teachers at the student's resolution; no "
              "ground truth (the shipped students' recipe; see docs/distillation.md).")
@click.option("--clips", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="With --views: a folder of unlabelled videos added to the frames the views are drawn from.")
@click.option("--seconds", type=click.FloatRange(1), help="With --views: training time when --steps is not given [default 600].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def command(data, student, images, config_file, out, fusion_epochs, resume, publish_as, crossval, quiet,
            views, clips, seconds, **overrides):
    """Distil a student from a spatial and a temporal teacher (UVA-Net's two stages).

    Stage 1 trains the shared trunk with the spatial branch against ground truth + the spatial
    teacher's maps and the temporal branch against ground truth + the temporal teacher's maps;
    stage 2 freezes it and trains the fusion head on ground truth. Either teacher may be left
    out (that branch then learns from ground truth alone).

    \b
    With --views, every head learns from the teachers alone, on random views of the frames reduced
    to the student's side and labelled by the teachers at that resolution (scaled back up to
    their 256 px): targets the student can learn exactly, and no two batches alike.

    \b
    Examples:
      uva distill --data ../shared/data/xu-hevc --images ../shared/data/images \\
        --spatial-teacher runs/teacher-spatial/best.pt --temporal-teacher runs/teacher-temporal/best.pt \\
        --student uva-dva-64 --publish uva-dva-64
      uva distill --views --data ../shared/data/xu-hevc --images ../shared/data/images \\
        --clips ../shared/data/unlabelled --spatial-teacher teacher-spatial \\
        --temporal-teacher teacher-temporal --student uva-dva-64 --seconds 3600
    """
    if views:
        return _views(student, data, images, clips, config_file, out, seconds, publish_as, crossval, quiet,
                      resume=resume, fusion_epochs=fusion_epochs, **overrides)
    if clips or seconds:
        raise click.UsageError("--clips and --seconds go with --views")
    from ..train.distill import distill

    cfg = settings(student, data, images, config_file, out or Path("runs") / f"distill-{student}", overrides)
    finish(distill(cfg, fusion_epochs, resume=resume, progress=not quiet), publish_as, crossval)


VIEW_OPTIONS = {"spatial_teacher": "spatial_teacher", "temporal_teacher": "temporal_teacher",
                "steps_per_epoch": "steps", "batch_size": "batch_size", "seed": "seed", "device": "device"}


def _views(student, data, images, clips, config_file, out, seconds, publish_as, crossval, quiet, threads, **given):
    """--views: settings from --config (a views config such as benchmarks/configs/views.json),
    then the options given; the stage options of the two-stage recipe are refused."""
    import json

    from ..train.publish import publish_views
    from ..train.views import distill_on_views
    from .train import command_line

    stray = [k for k, v in given.items() if v not in (None, False) and k not in VIEW_OPTIONS]
    if stray:
        names = ", ".join("--" + k.replace("_", "-").replace("steps-per-epoch", "steps") for k in stray)
        raise click.UsageError(f"{names}: not used with --views (it trains one stage, for --steps or --seconds)")
    values = json.loads(config_file.read_text()) if config_file else {}
    values.update({VIEW_OPTIONS[k]: str(v) if isinstance(v, Path) else v for k, v in given.items()
                   if k in VIEW_OPTIONS and v is not None})
    if seconds:
        values["seconds"] = seconds
    if threads:
        import torch

        torch.set_num_threads(threads)
    out = out or Path("runs") / f"views-{student}"
    run = distill_on_views(student, out, str(data), images and str(images), clips and str(clips), values,
                           progress=not quiet)
    click.echo(f"uva: run folder {run}", err=True)
    if publish_as:
        row = publish_views(run / "best.pt", publish_as, command_line(), crossval=crossval)
        click.echo(f"uva: published {publish_as}: {row['parameters']:,} parameters, {row['bytes']:,} bytes", err=True)
