"""`uva encode`: parse options, plan the encodes, run them (batch mode as `uva saliency`'s)."""

from __future__ import annotations

from pathlib import Path

import click

from . import batch, options

# x264's presets, fastest first (named here: `--help` imports nothing heavy)
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@click.command("encode")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="IN [OUT] | INPUTS...")
@batch.options(("video",), "video", "Batch mode: write DIR/<name>.mp4 for every input video (folders searched recursively; pictures in them are left out).")
@click.option("--crf", default=23.0, show_default=True, type=click.FloatRange(0, 51),
              help="Base quality as in FFmpeg: lower is better and bigger (18 looks lossless to most, 28 is small).")
@click.option("--strength", default=0.75, show_default=True, type=click.FloatRange(0, 3),
              help="How far the quality moves with saliency: 0 is a plain x264 encode, 1 the allocation that "
                   "would be optimal if the map were the viewers' real gaze.")
@click.option("--preset", default="medium", show_default=True, type=click.Choice(PRESETS),
              help="x264 speed/size trade-off, as in FFmpeg (medium is FFmpeg's default).")
@options.network
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(paths, out_dir, overwrite, shard_of, jobs, manifest_to, crf, strength, preset, model, device, backend,
            batch_size, precision, threads, quiet):
    """Re-encode videos as H.264 with the bits where people look: the quantiser is lowered where
    the saliency map is high and raised where it is low, at about the file size of a plain
    encode at the same --crf (audio, timestamps and colour tags kept).

    \b
    One video:
      uva encode clip.mp4 clip.small.mp4
      uva encode clip.mp4 clip.small.mp4 --crf 28 --strength 1
    Many videos or folders (recursively), outputs under a folder:
      uva encode videos/ --out-dir compressed/
      uva encode videos/ --out-dir compressed/ --shard 2/4 --manifest compressed/log.jsonl

    Every output is written under a temporary name and appears only when complete; a batch
    skips inputs whose output exists (--overwrite redoes them) and goes on past failures.
    """
    from ..encode import ENCODE_OUTPUTS, EncodeSettings, run_encode_task
    from ..jobs import Task
    from ..video import IMAGE_EXTENSIONS

    try:
        settings = EncodeSettings(crf=crf, strength=strength, preset=preset)
    except ValueError as exc:
        raise click.UsageError(str(exc).replace("strength 0", "--strength 0")) from None
    load = dict(model=model, device=device, batch_size=batch_size, backend=backend, precision=precision, threads=threads)
    if out_dir:
        if any(p.is_dir() and p.resolve() == out_dir.resolve() for p in paths):
            raise click.UsageError(f"--out-dir {out_dir} is an input folder: the outputs would replace the "
                                   "inputs; choose another folder")
        named = {p for p in paths if not p.is_dir()}  # pictures named explicitly fail with a reason

        def is_video(task) -> bool:
            return task.source in named or task.source.suffix.lower() not in IMAGE_EXTENSIONS

        tasks = batch.plan_tasks(paths, out_dir, ["video"], shard_of, ENCODE_OUTPUTS, keep=is_video)
    else:
        if manifest_to:
            raise click.UsageError("--manifest is for batch mode: use it with --out-dir")
        if len(paths) != 2:
            raise click.UsageError("give IN OUT (one video and its output), or --out-dir DIR for many inputs")
        tasks = [Task(batch.single_input(paths[:1], shard_of, jobs), {"video": paths[1]})]
    batch.run_tasks(tasks, load, bool(out_dir), jobs, overwrite, manifest_to, quiet, run=run_encode_task,
                    settings=settings)
