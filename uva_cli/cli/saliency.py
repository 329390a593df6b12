"""`uva saliency`: parse options, plan the outputs, run the job, report."""

from __future__ import annotations

from pathlib import Path

import click

from ..outputs import OUTPUT_KINDS
from ..render import COLORMAPS
from . import batch, options


@click.command("saliency")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--overlay", type=click.Path(path_type=Path), help="Video of the heatmap blended over the frames (H.264, audio kept); an image input with an image name (.png, .jpg, .webp) gives an image.")
@click.option("--heatmap", type=click.Path(path_type=Path), help="Video of the coloured map alone (an image for an image input named .png, .jpg, .webp).")
@click.option("--maps", type=click.Path(path_type=Path), help="Folder of 8-bit grayscale PNG maps at source size: 000001.png, …")
@click.option("--npz", type=click.Path(path_type=Path), help="Maps at model resolution (float16) with fps and timestamps.")
@batch.options(OUTPUT_KINDS, "overlay", "Batch mode: write DIR/<name>.overlay.mp4 etc. for every input (folders searched recursively for videos and images; an image's overlay and heatmap are images of its format).")
@options.network
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
    from ..jobs import SALIENCY_OUTPUTS, Task

    named = {k: v for k, v in (("overlay", overlay), ("heatmap", heatmap), ("maps", maps), ("npz", npz)) if v}
    if out_dir and named:
        raise click.UsageError("give either --out-dir (batch mode) or explicit --overlay/--heatmap/--maps/--npz, not both")
    if out_dir:
        tasks = batch.plan_tasks(inputs, out_dir, kinds, shard_of, SALIENCY_OUTPUTS)
    else:
        if not named:
            raise click.UsageError("no output asked for: give --overlay, --heatmap, --maps or --npz "
                                   "(or --out-dir DIR for many inputs)")
        tasks = [Task(batch.single_input(inputs, shard_of, jobs), named)]
    load = dict(model=model, device=device, batch_size=batch_size, backend=backend, precision=precision, threads=threads)
    batch.run_tasks(tasks, load, bool(out_dir), jobs, overwrite, manifest_to, quiet, alpha=alpha, colormap=colormap)
