"""`uva bench`: one table of sizes and speeds, optionally JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import options


def default_video() -> Path:
    """The bundled example clip, installed with the package (`uva_cli.examples`, from examples/)."""
    from ..examples import BUNNY

    return BUNNY


@click.command("bench")
@options.model
@options.device
@click.option("--batch-size", "batch_sizes", multiple=True, type=click.IntRange(1), help="Batch sizes to time (repeatable) [default: 1 16 64 256 on the CPU, 1 64 256 1024 4096 on CUDA].")
@options.backend
@options.precision
@options.threads
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Clip for the pipeline timings [default: the bundled example].")
@click.option("--no-video", is_flag=True, help="Time the network only.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1), help="Rounds of the video timings (each runs every pipeline once, interleaved); medians are reported.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results as JSON ('-' for stdout).")
def command(model, device, batch_sizes, backend, precision, threads, video, no_video, rounds, json_out):
    """Measure parameters, multiply-adds, network-only fps (the paper's measure, next to its
    figure) and, on a video, decode-only vs end-to-end fps, and apart from them the start-up a
    new process pays before its first frame."""
    from rich.console import Console
    from rich.table import Table

    from ..bench import run_bench

    if video is None and not no_video:
        video = default_video()
        if not video.is_file():
            raise click.UsageError(f"the bundled example {video} is missing from this install: give --video CLIP")
    result = run_bench(model, device, tuple(batch_sizes), threads, None if no_video else video, backend, precision,
                       rounds)
    table = Table("measure", "value", title=f"uva bench: {result.model}, {result.backend} {result.precision} on "
                                            f"{result.device} ({result.threads} threads)")
    table.add_row("parameters", f"{result.parameters:,}")
    table.add_row("weights file", f"{result.weights_bytes / 1e6:.3f} MB")
    table.add_row("multiply-adds / frame", f"{result.macs_per_frame / 1e6:.2f} M")
    for batch, fps in result.network_fps.items():
        table.add_row(f"network fps, batch {batch}", f"{fps:,.0f}")
    if result.paper_fps:
        best = max(result.network_fps.values())
        table.add_row("paper's figure", f"{result.paper_fps:,.1f} fps (best here: {best / result.paper_fps:.1f}x)")
    labels = {"decode_fps": "decode only fps", "decode_fast_fps": "decode only fps, fast decoder (--npz, --maps)",
              "npz_fps": "end to end, --npz fps", "decode_encode_fps":
              "decode + encode only fps", "overlay_fps": "end to end, --overlay fps",
              "decode_fast_vs_decode": "fast decoder / decode", "npz_vs_decode": "npz / decode", "overlay_vs_decode_encode": "overlay / decode+encode"}
    for key, label in labels.items():
        if key in result.video:
            table.add_row(label, f"{result.video[key]:,.2f}" if "vs" in key else f"{result.video[key]:,.1f}")
    if "pipeline_threads" in result.video:
        table.add_row("network threads while streaming", f"{result.video['pipeline_threads']:.0f}")
    if result.startup:
        s = result.startup
        table.add_row("start-up of a new process", f"{s['total']:.2f} s (interpreter {s['interpreter']:.2f}, imports "
                      f"{s['imports']:.2f}, model load {s['model_load']:.2f}, first batch {s['first_batch']:.2f})")
    table.add_row("peak memory", f"{result.peak_rss_mb:,.0f} MB")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in result.versions.items()))
    Console(stderr=json_out == Path("-")).print(table)
    if json_out:
        text = json.dumps(result.to_dict(), indent=2)
        click.echo(text) if str(json_out) == "-" else json_out.write_text(text + "\n")
