"""`uva eval`: parse options, score one predictor on a dataset, print the table, write JSON/report."""

from __future__ import annotations

from pathlib import Path

import click

from ..metrics import METRICS
from . import options
from .progress import progress_bar

EVAL_METRICS = "nss,cc,sim,kld,auc_judd,sauc"


def _metrics(ctx, param, value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(m.strip().lower() for m in value.split(",") if m.strip()))
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise click.BadParameter(f"choose from {','.join(METRICS)} (comma-separated), got {value!r}")
    return names


@click.command("eval")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Dataset folder: fixation CSV videos/images, DHF1K, AVS1K or train/valid/test folders.")
@click.option("--model", help="Score a uva model (name from `uva models`, or a .pt file) on the cached frames.")
@click.option("--pred", type=click.Path(path_type=Path),
              help="Score saved maps: DIR/<video>/000001.png ... (the `uva saliency --maps` layout, 1-based).")
@click.option("--baseline", type=click.Choice(["centre", "human"]),
              help="Score a reference: centre bias, or the leave-one-observer-out human ceiling.")
@click.option("--metrics", "metrics", default=EVAL_METRICS, show_default=True, callback=_metrics,
              help=f"Comma-separated, any of {','.join(METRICS)}.")
@click.option("--frame-step", default=1, show_default=True, type=click.IntRange(1),
              help="Score every N-th frame of each video.")
@click.option("--split", default="auto", show_default=True, type=click.Choice(["auto", "all", "val"]),
              help="Which videos: auto is the videos --model held out in training when this is the dataset it "
                   "was trained on (its checkpoint names them), else every video; all: every video; val: those "
                   "held-out videos, else the official validation set (DHF1K 601-700, AVS1K validSet), else "
                   "`uva train`'s default split.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the scores as JSON ('-' for stdout; the table then goes to stderr).")
@click.option("--report", type=click.Path(file_okay=False, path_type=Path),
              help="Write contact sheets, per-frame metric curves and index.html to this folder.")
@options.device
@options.batch_size
@options.threads
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def command(data, model, pred, baseline, metrics, frame_step, split, json_out, report, device, batch_size, threads,
            quiet):
    """Score saliency predictions against human fixations, per video and over all frames.

    \b
    Examples:
      uva eval --data ../shared/data/xu-hevc --baseline centre
      uva eval --data ../shared/data/xu-hevc --model uva-dva-64 --json scores.json --report report/
      uva eval --data DHF1K/ --pred my_model_maps/ --split val --frame-step 5
    """
    from rich.console import Console

    from ..evaluation import evaluate
    from ..report import results_table, write_json, write_report

    chosen = [(k, v) for k, v in (("model", model), ("pred", pred), ("baseline", baseline)) if v]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --model, --pred or --baseline"
                               + (f" (got {', '.join('--' + k for k, _ in chosen)})" if chosen else ""))
    kind, source = chosen[0]
    with progress_bar(quiet) as bar:
        task = bar.add_task("scoring", total=None, unit="frames/s")
        ev = evaluate(data, kind, str(source), metrics, split, frame_step, device, batch_size,
                      keep_per_video=4 if report else 0, progress=not quiet, threads=threads,
                      on_start=lambda total: bar.reset(task, total=total, completed=0),
                      on_frame=lambda: bar.advance(task))
        if report:
            bar.reset(task, total=len(ev.scores.counts()), completed=0, unit="videos/s")
            index = write_report(ev, report, on_video=lambda name: (
                bar.update(task, description=f"report: {name}"), bar.advance(task)))
    console = Console(stderr=str(json_out) == "-")
    if not console.is_terminal:  # a pipe or file gets full video names, not an 80-column squeeze
        console = Console(stderr=console.stderr, width=200)
    console.print(results_table(ev))
    if json_out:
        write_json(ev, json_out)
    if report and not quiet:
        click.echo(f"uva: report {index}", err=True)
