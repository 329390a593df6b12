"""`uva roi`: parse options, run the region-of-interest job, report."""

from __future__ import annotations

from pathlib import Path

import click

from . import batch, options
from .progress import progress_bar

# --write in batch mode (named by roi.job.ROI_OUTPUTS: clip.roi.json, clip.reframe.mp4, clip.crop.mp4)
ROI_KINDS = ("json", "reframe", "crop")


def _size(ctx, param, value):
    """--size WxH, parsed by the library (imported here so `--help` stays light)."""
    from ..reframe import parse_size

    try:
        return parse_size(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _aspect(ctx, param, value):
    """--aspect W:H -> width / height."""
    from ..reframe import parse_aspect

    try:
        return parse_aspect(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _reframe(ctx, param, value):
    """--reframe ASPECT OUT.mp4 -> (width / height, path)."""
    if not value:
        return None
    aspect, out = value
    return _aspect(ctx, param, aspect), Path(out)


@click.command("roi")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_out", metavar="OUT.json", help="Boxes and tracks of every frame as one JSON document ('-' = stdout).")
@click.option("--jsonl", "jsonl_out", metavar="OUT.jsonl", help="The same as JSON Lines: a header line, then one line per frame, streamed ('-' = stdout).")
@click.option("--crop", type=click.Path(path_type=Path), metavar="OUT.mp4", help="Video following the main subject with a smooth virtual camera (audio kept).")
@click.option("--size", callback=_size, metavar="WxH", help="Output size of --crop (in batch mode: of the crop output); its aspect sets the window's. Default: the window's own size, source aspect.")
@click.option("--reframe", nargs=2, callback=_reframe, metavar="ASPECT OUT.mp4", help="Full-height (or full-width) crop of ASPECT (9:16, 1:1, 4:5 ...) that keeps the most saliency in view; of an image input, a picture (OUT.jpg, .png, .webp).")
@click.option("--preview", type=click.Path(path_type=Path), metavar="OUT.mp4", help="The source with the --reframe (white) and --crop (yellow) windows drawn on it, dimmed outside them, and the saliency map faintly over it: a reframe checked at a glance.")
@batch.options(ROI_KINDS, "json", "Batch mode: write DIR/<name>.roi.json, <name>.reframe.mp4, <name>.crop.mp4 for every input (folders searched recursively for videos and images; an image's reframe and crop are images of its format).")
@click.option("--aspect", callback=_aspect, metavar="ASPECT", help="Batch mode: the aspect (9:16, 1:1, 4:5 ...) of the reframe output; needed with --write reframe.")
@click.option("--max-boxes", default=3, show_default=True, type=click.IntRange(1, 100), help="Boxes per frame, most salient first.")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0.01, 0.99), help="Salient = at least this fraction of the frame's peak saliency.")
@click.option("--min-area", default=0.002, show_default=True, type=click.FloatRange(0, 1), help="Smallest region kept, as a fraction of the frame area.")
@options.network
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(inputs, json_out, jsonl_out, crop, size, reframe, preview, out_dir, kinds, overwrite, shard_of, jobs, manifest_to,
            aspect, max_boxes, threshold, min_area, model, device, backend, batch_size, precision, threads, quiet):
    """Regions of interest of INPUT videos and images: tracked boxes as JSON, crops, reframing.

    \b
    One input, outputs named explicitly:
      uva roi clip.mp4 --json clip.roi.json
      uva roi photo.jpg --reframe 1:1 thumb.jpg --json boxes.json   # a saliency-aware thumbnail
      uva roi clip.mp4 --jsonl - | jq -c '.boxes'
      uva roi clip.mp4 --reframe 9:16 clip.vertical.mp4 --json clip.roi.json
      uva roi clip.mp4 --reframe 9:16 clip.vertical.mp4 --preview clip.check.mp4
      uva roi clip.mp4 --crop clip.subject.mp4 --size 512x512
    Many videos or folders (recursively), outputs under a folder:
      uva roi videos/ more.mp4 --out-dir results/ --write json,reframe --aspect 9:16
      uva roi videos/ --out-dir results/ --write json,crop --size 512x512 --shard 2/4 --manifest results/log.jsonl

    Boxes are in source pixels; with --crop or --reframe the JSON also carries each frame's
    window ("crop", "reframe"), so an editor can apply the same camera path itself. A batch
    skips inputs whose outputs exist (--overwrite redoes them) and goes on past failures.
    """
    from ..roi import RoiConfig

    config = RoiConfig(threshold=threshold, min_area=min_area, max_boxes=max_boxes)
    load = dict(model=model, device=device, batch_size=batch_size, backend=backend, precision=precision, threads=threads)
    if out_dir:
        if json_out or jsonl_out or crop or reframe or preview:
            raise click.UsageError("give either --out-dir (batch mode) or explicit --json/--jsonl/--crop/--reframe"
                                   "/--preview, not both")
        if "reframe" in kinds and not aspect:
            raise click.UsageError("--write reframe needs --aspect (9:16, 1:1, 4:5 ...)")
        for option, kind, given in (("--aspect", "reframe", aspect), ("--size", "crop", size)):
            if given and kind not in kinds:
                raise click.UsageError(f"{option} sets the {kind} output: add {kind} to --write")
        from ..roi import ROI_OUTPUTS, run_roi_task

        tasks = batch.plan_tasks(inputs, out_dir, kinds, shard_of, ROI_OUTPUTS)
        batch.run_tasks(tasks, load, True, jobs, overwrite, manifest_to, quiet, run=run_roi_task, config=config,
                        aspect=aspect, crop_size=size)
        return
    if not (json_out or jsonl_out or crop or reframe):
        raise click.UsageError("no output asked for: give --json, --jsonl, --crop or --reframe "
                               "(or --out-dir DIR for many inputs)")
    if json_out == "-" and jsonl_out == "-":
        raise click.UsageError("only one of --json and --jsonl can go to stdout")
    if size and not crop:
        raise click.UsageError("--size sets the size of --crop; give --crop OUT.mp4 too")
    if preview and not (crop or reframe):
        raise click.UsageError("--preview draws the windows of --reframe or --crop: give one of them too")
    for option, given in (("--aspect", aspect), ("--manifest", manifest_to)):
        if given:
            raise click.UsageError(f"{option} is for batch mode: use it with --out-dir")
    input = batch.single_input(inputs, shard_of, jobs)
    from ..engine import load_predictor
    from ..roi import RoiRequest, run_roi

    request = RoiRequest(source=input, json=json_out, jsonl=jsonl_out, crop_video=crop, crop_size=size,
                         reframe_video=reframe[1] if reframe else None, aspect=reframe[0] if reframe else None,
                         preview_video=preview, config=config)
    predictor = load_predictor(**load)
    with progress_bar(quiet) as bar:
        bar_id = bar.add_task(input.name, total=None)
        frames, seconds = run_roi(
            request, predictor,
            on_stage=lambda stage, total: bar.reset(bar_id, description=f"{input.name}: {stage}",
                                                    total=total or None, completed=0),
            on_frames=lambda n: bar.advance(bar_id, n))
    if not quiet:
        click.echo(f"uva: {input.name}: {frames} frames analysed at {frames / max(seconds, 1e-9):.0f} fps", err=True)
