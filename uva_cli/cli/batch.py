"""Batch mode shared by `uva saliency` and `uva roi`: the batch options, the tasks of a batch
or of one named input, and running them (one process or `--jobs N`) with a progress bar, a
manifest, a summary and exit status 1 when some input failed. Imports stay light until a
command runs, so `--help` never imports torch."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import click

from ..errors import EXIT_SOME_FAILED
from .progress import progress_bar


def _shard(ctx, param, value: str | None) -> tuple[int, int] | None:
    from ..jobs import parse_shard

    try:
        return parse_shard(value) if value else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _kinds(choices: tuple[str, ...]) -> Callable:
    """--write's callback: a comma-separated list of `choices` -> the kinds, in order given."""
    def parse(ctx, param, value: str) -> list[str]:
        kinds = [k.strip() for k in value.split(",") if k.strip()]
        bad = [k for k in kinds if k not in choices]
        if bad or not kinds:
            raise click.BadParameter(f"choose from {', '.join(choices)} (comma-separated), got {value!r}")
        return kinds

    return parse


def options(kinds: tuple[str, ...], default: str, out_dir_help: str) -> Callable:
    """--out-dir, --write (any of `kinds`; none for a command with one kind of output),
    --overwrite, --shard, --jobs, --manifest."""
    decorators = [
        click.option("--out-dir", type=click.Path(path_type=Path), metavar="DIR", help=out_dir_help),
        *([click.option("--write", "kinds", default=default, show_default=True, callback=_kinds(kinds),
                        help=f"Outputs to make in batch mode: any of {','.join(kinds)}.")] if len(kinds) > 1 else []),
        click.option("--overwrite", is_flag=True, help="Batch mode: redo inputs whose outputs already exist."),
        click.option("--shard", "shard_of", metavar="I/N", callback=_shard,
                     help="Batch mode: process only part I of N (1-based) of the inputs sorted by path; N processes "
                          "with I=1..N cover each input exactly once."),
        click.option("--jobs", default=1, show_default=True, type=click.IntRange(1),
                     help="Batch mode: run N worker processes over the inputs (split as --shard splits them), the "
                          "cores divided among them (on CUDA, spread over the GPUs)."),
        click.option("--manifest", "manifest_to", metavar="FILE",
                     help="Append one JSON line per input (path, status, reason, frames, seconds); '-' = stdout. "
                          "Shards may share one file."),
    ]

    def decorate(command: Callable) -> Callable:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return decorate


def plan_tasks(inputs, out_dir: Path, kinds: list[str], shard_of: tuple[int, int] | None, naming,
               keep: Callable | None = None) -> list:
    """The tasks of a batch: every input (folders searched) with its outputs named by `naming`
    under out_dir, those `keep(task)` accepts (default all), then this process's shard."""
    from ..jobs import plan, shard

    tasks = [t for t in plan(inputs, out_dir, kinds, naming) if keep is None or keep(t)]
    return shard(tasks, *shard_of) if shard_of else tasks


def single_input(inputs, shard_of, jobs: int) -> Path:
    """The one input of a run without --out-dir; batch-only options are usage errors."""
    if len(inputs) != 1 or inputs[0].is_dir():
        raise click.UsageError("several inputs or a folder need --out-dir DIR")
    if shard_of:
        raise click.UsageError("--shard splits a batch: use it with --out-dir")
    if jobs > 1:
        raise click.UsageError("--jobs runs a batch on several processes: use it with --out-dir")
    return inputs[0]


def run_tasks(tasks: list, load: dict, batch: bool, jobs: int, overwrite: bool, manifest_to, quiet: bool,
              **kw) -> None:
    """Run `tasks` (`jobs.run_batch`'s keyword arguments in `kw`, `run=` among them) on a
    predictor loaded with `load` (load_predictor's keyword arguments), or on `jobs` worker
    processes. A batch skips finished inputs unless `overwrite`, goes on past failures and ends
    with the summary; one named input (not `batch`) is always written and its error raised."""
    if jobs > 1:
        _run_jobs(tasks, jobs, load, overwrite, manifest_to, quiet, **kw)
        return
    from ..engine import load_predictor
    from ..jobs import manifest, run_batch

    predictor = load_predictor(**load)
    with manifest(manifest_to) as record, progress_bar(quiet) as bar:
        bar_id = bar.add_task("", total=None)

        def before(i: int, task) -> None:
            bar.update(bar_id, description=f"[{i + 1}/{len(tasks)}] {task.source.name}" if batch
                       else task.source.name)

        try:
            summary = run_batch(tasks, predictor, overwrite=overwrite or not batch, keep_going=batch,
                                before=before, after=record,
                                on_start=lambda total: bar.reset(bar_id, total=total or None, completed=0),
                                on_frames=lambda n: bar.advance(bar_id, n), **kw)
        except KeyboardInterrupt:
            if batch:
                click.echo("uva: stopping; finished outputs are kept and the unfinished one was removed: "
                           "run the same command again to do the rest", err=True)
            raise
    if batch:
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
