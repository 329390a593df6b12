"""`uva saliency`: parse options, plan the outputs, run the job, report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_SOME_FAILED
from ..outputs import OUTPUT_KINDS
from ..render import COLORMAPS
from . import options
from .progress import progress_bar


def _shard(ctx, param, value: str | None) -> tuple[int, int] | None:
    from ..jobs import parse_shard

    try:
        return parse_shard(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _kinds(ctx, param, value: str) -> list[str]:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    bad = [k for k in kinds if k not in OUTPUT_KINDS]
    if bad or not kinds:
        raise click.BadParameter(f"choose from {', '.join(OUTPUT_KINDS)} (comma-separated), got {value!r}")
    return kinds


@click.command("saliency")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--overlay", type=click.Path(path_type=Path), help="Video of the heatmap blended over the frames (H.264, audio kept); an image input with an image name (.png, .jpg, .webp) gives an image.")
@click.option("--heatmap", type=click.Path(path_type=Path), help="Video of the coloured map alone (an image for an image input named .png, .jpg, .webp).")
@click.option("--maps", type=click.Path(path_type=Path), help="Folder of 8-bit grayscale PNG maps at source size: 000001.png, …")
@click.option("--npz", type=click.Path(path_type=Path), help="Maps at model resolution (float16) with fps and timestamps.")
@click.option("--out-dir", type=click.Path(path_type=Path), help="Batch mode: write DIR/<name>.overlay.mp4 etc. for every input (folders searched recursively for videos and images; an image's overlay and heatmap are images of its format).")
@click.option("--write", "kinds", default="overlay", show_default=True, callback=_kinds, help="Outputs to make in batch mode: any of overlay,heatmap,maps,npz.")
@click.option("--overwrite", is_flag=True, help="Batch mode: redo inputs whose outputs already exist.")
@click.option("--shard", "shard_of", metavar="I/N", callback=_shard, help="Batch mode: process only part I of N (1-based) of the inputs sorted by path; N processes with I=1..N cover each input exactly once.")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1), help="Batch mode: run N worker processes over the inputs (split as --shard splits them), the cores divided among them.")
@click.option("--manifest", "manifest_to", metavar="FILE", help="Append one JSON line per input (path, status, reason, frames, seconds); '-' = stdout. Shards may share one file.")
@options.model
@options.device
@options.backend
@options.batch_size
@options.precision
@options.threads
@click.option("--alpha", default=0.6, show_default=True, type=click.FloatRange(0, 1), help="Overlay strength at the most salient pixels.")
@click.option("--colormap", default="turbo", show_default=True, type=click.Choice(COLORMAPS), help="Colour map for overlay and heatmap.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(inputs, overlay, heatmap, maps, npz, out_dir, kinds, overwrite, shard_of, jobs, manifest_to, model, device, backend,
            batch_size, precision, threads, alpha, colormap, quiet):
    """Predict where people look in INPUT videos and images (PNG, JPEG, WebP, BMP, TIFF: a
    photo is a one-frame video).

    \b
    One video, outputs named explicitly:
      uva saliency clip.mp4 --overlay clip.overlay.mp4 --maps clip_maps/
    A photo, overlay as an image:
      uva saliency photo.jpg --overlay photo.overlay.jpg --maps photo_maps/
    Many videos or folders (recursively), outputs under a folder:
      uva saliency videos/ more.mp4 --out-dir results/ --write overlay,npz
    A batch split over 4 processes, with a log of every input:
      uva saliency videos/ --out-dir results/ --shard 2/4 --manifest results/log.jsonl
    The same batch on 4 worker processes of this machine:
      uva saliency videos/ --out-dir results/ --jobs 4

    Finished outputs are skipped on a re-run of a batch (use --overwrite to redo them); every
    output is written under a temporary name and appears only when complete, so an interrupted
    batch is finished by running the same command again.
    """
    from ..engine import load_predictor
    from ..jobs import Task, manifest, plan, run_batch, shard

    named = {k: v for k, v in (("overlay", overlay), ("heatmap", heatmap), ("maps", maps), ("npz", npz)) if v}
    if out_dir and named:
        raise click.UsageError("give either --out-dir (batch mode) or explicit --overlay/--heatmap/--maps/--npz, not both")
    if out_dir:
        tasks = plan(inputs, out_dir, kinds)
        if shard_of:
            tasks = shard(tasks, *shard_of)
    else:
        if not named:
            raise click.UsageError("no output asked for: give --overlay, --heatmap, --maps or --npz "
                                   "(or --out-dir DIR for many inputs)")
        if len(inputs) != 1 or inputs[0].is_dir():
            raise click.UsageError("several inputs or a folder need --out-dir DIR")
        if shard_of:
            raise click.UsageError("--shard splits a batch: use it with --out-dir")
        if jobs > 1:
            raise click.UsageError("--jobs runs a batch on several processes: use it with --out-dir")
        tasks = [Task(inputs[0], named)]
    if jobs > 1:
        _run_jobs(tasks, jobs, dict(model=model, device=device, batch_size=batch_size, backend=backend,
                                    precision=precision), overwrite, manifest_to, quiet, alpha=alpha, colormap=colormap)
        return
    predictor = load_predictor(model, device, batch_size, backend, threads=threads, precision=precision)
    with manifest(manifest_to) as record, progress_bar(quiet) as bar:
        bar_id = bar.add_task("", total=None)

        def before(i: int, task: Task) -> None:
            bar.update(bar_id, description=f"[{i + 1}/{len(tasks)}] {task.source.name}" if out_dir
                       else task.source.name)

        try:
            summary = run_batch(tasks, predictor, overwrite=overwrite or not out_dir, keep_going=bool(out_dir),
                                before=before, after=record, alpha=alpha, colormap=colormap,
                                on_start=lambda total: bar.reset(bar_id, total=total or None, completed=0),
                                on_frames=lambda n: bar.advance(bar_id, n))
        except KeyboardInterrupt:
            if out_dir:
                click.echo("uva: stopping; finished outputs are kept and the unfinished one was removed: "
                           "run the same command again to do the rest", err=True)
            raise
    if not out_dir:
        return
    _report(summary, quiet)


def _report(summary, quiet: bool, wall: float | None = None) -> None:
    """Failures, the one-line summary (fps over `wall` seconds where workers ran side by side)
    and exit status 1 when any input failed."""
    for failed in (r for r in summary.results if r.status == "failed"):
        click.echo(f"uva: failed: {failed.error}", err=True)
    if not quiet:
        frames = sum(r.frames for r in summary.results)
        seconds = wall or sum(r.seconds for r in summary.results) or 1e-9
        click.echo(f"uva: {summary.count('done')} done, {summary.count('skipped')} skipped (already finished), "
                   f"{summary.count('failed')} failed; {frames} frames at {frames / seconds:.0f} fps", err=True)
    if summary.count("failed"):
        sys.exit(EXIT_SOME_FAILED)


def _run_jobs(tasks, jobs: int, load: dict, overwrite: bool, manifest_to, quiet: bool, **kw) -> None:
    """--jobs N: the batch on N worker processes; the bar counts finished inputs."""
    import time

    from ..jobs import manifest
    from ..parallel import run_parallel

    started = time.perf_counter()
    with manifest(manifest_to) as record, progress_bar(quiet) as bar:
        bar_id = bar.add_task(f"{len(tasks)} inputs on {jobs} processes", total=len(tasks))

        def after(result) -> None:
            record(result)
            bar.advance(bar_id, 1)

        try:
            summary = run_parallel(tasks, jobs, load, overwrite=overwrite, after=after, **kw)
        except KeyboardInterrupt:
            click.echo("uva: stopping; finished outputs are kept and the unfinished ones were removed: "
                       "run the same command again to do the rest", err=True)
            raise
    _report(summary, quiet, time.perf_counter() - started)
