"""`uva roi`: parse options, run the region-of-interest job, report."""

from __future__ import annotations

from pathlib import Path

import click

from . import options
from .progress import progress_bar


def _size(ctx, param, value):
    """--size WxH, parsed by the library (imported here so `--help` stays light)."""
    from ..reframe import parse_size

    try:
        return parse_size(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _reframe(ctx, param, value):
    """--reframe ASPECT OUT.mp4 -> (width / height, path)."""
    from ..reframe import parse_aspect

    if not value:
        return None
    aspect, out = value
    try:
        return parse_aspect(aspect), Path(out)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("roi")
@click.argument("input", type=click.Path(path_type=Path))
@click.option("--json", "json_out", metavar="OUT.json", help="Boxes and tracks of every frame as one JSON document ('-' = stdout).")
@click.option("--jsonl", "jsonl_out", metavar="OUT.jsonl", help="The same as JSON Lines: a header line, then one line per frame, streamed ('-' = stdout).")
@click.option("--crop", type=click.Path(path_type=Path), metavar="OUT.mp4", help="Video following the main subject with a smooth virtual camera (audio kept).")
@click.option("--size", callback=_size, metavar="WxH", help="Output size of --crop (its aspect sets the window's); default: the window's own size, source aspect.")
@click.option("--reframe", nargs=2, callback=_reframe, metavar="ASPECT OUT.mp4", help="Full-height (or full-width) crop of ASPECT (9:16, 1:1, 4:5 ...) that keeps the most saliency in view; of an image input, a picture (OUT.jpg, .png, .webp).")
@click.option("--max-boxes", default=3, show_default=True, type=click.IntRange(1, 100), help="Boxes per frame, most salient first.")
@click.option("--threshold", default=0.5, show_default=True, type=click.FloatRange(0.01, 0.99), help="Salient = at least this fraction of the frame's peak saliency.")
@click.option("--min-area", default=0.002, show_default=True, type=click.FloatRange(0, 1), help="Smallest region kept, as a fraction of the frame area.")
@options.model
@options.device
@options.backend
@options.batch_size
@options.precision
@options.threads
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(input, json_out, jsonl_out, crop, size, reframe, max_boxes, threshold, min_area, model, device,
            backend, batch_size, precision, threads, quiet):
    """Regions of interest of INPUT (a video or an image): tracked boxes as JSON, crops, reframing.

    \b
      uva roi clip.mp4 --json clip.roi.json
      uva roi photo.jpg --reframe 1:1 thumb.jpg --json boxes.json   # a saliency-aware thumbnail
      uva roi clip.mp4 --jsonl - | jq -c '.boxes'
      uva roi clip.mp4 --reframe 9:16 clip.vertical.mp4 --json clip.roi.json
      uva roi clip.mp4 --crop clip.subject.mp4 --size 512x512

    Boxes are in source pixels; with --crop or --reframe the JSON also carries each frame's
    window ("crop", "reframe"), so an editor can apply the same camera path itself.
    """
    if not (json_out or jsonl_out or crop or reframe):
        raise click.UsageError("no output asked for: give --json, --jsonl, --crop or --reframe")
    if json_out == "-" and jsonl_out == "-":
        raise click.UsageError("only one of --json and --jsonl can go to stdout")
    if size and not crop:
        raise click.UsageError("--size sets the size of --crop; give --crop OUT.mp4 too")
    from ..engine import load_predictor
    from ..roi import RoiConfig, RoiRequest, run_roi

    request = RoiRequest(source=input, json=json_out, jsonl=jsonl_out, crop_video=crop, crop_size=size,
                         reframe_video=reframe[1] if reframe else None, aspect=reframe[0] if reframe else None,
                         config=RoiConfig(threshold=threshold, min_area=min_area, max_boxes=max_boxes))
    predictor = load_predictor(model, device, batch_size, backend, threads=threads, precision=precision)
    with progress_bar(quiet) as bar:
        bar_id = bar.add_task(input.name, total=None)
        frames, seconds = run_roi(
            request, predictor,
            on_stage=lambda stage, total: bar.reset(bar_id, description=f"{input.name}: {stage}",
                                                    total=total or None, completed=0),
            on_frames=lambda n: bar.advance(bar_id, n))
    if not quiet:
        click.echo(f"uva: {input.name}: {frames} frames analysed at {frames / max(seconds, 1e-9):.0f} fps", err=True)
