"""The `uva` command: a group whose subcommands live one per module and load on first use,
so `uva --help` never imports torch. Errors a user can act on become one line and an exit code."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

import click

from ..allocator import keep_freed_memory
from ..errors import EXIT_INPUT, EXIT_INTERNAL, Interrupted, UvaError

# name -> (module, one-line help shown by `uva --help` without importing the module)
COMMANDS = {
    "saliency": ("saliency", "Predict saliency maps for videos: overlays, heatmaps, PNG maps, npz."),
    "models": ("models", "List the shipped models with their sizes and validation scores."),
    "roi": ("roi", "Regions of interest: JSON box tracks, crops that follow the subject, reframing."),
    "encode": ("encode", "Saliency-guided H.264: better quality where people look, fewer bits elsewhere."),
    "bench": ("bench", "Measure model size and speed: network only and end to end on a video."),
    "export": ("export", "Export a model as ONNX (dynamic batch) for other runtimes."),
    "train": ("train", "Train a student (or teacher) on a fixation dataset."),
    "distill": ("distill", "Coupled knowledge distillation of a student from two teachers."),
    "eval": ("eval", "Score predictions against human fixations: models, saved maps or baselines."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
        return getattr(module, "command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])

    def invoke(self, ctx: click.Context):
        """Run the command with SIGTERM handled like Ctrl-C; turn what can go wrong into one
        line on stderr and a documented exit code (tracebacks only with --debug)."""
        with _interrupts_raise():
            try:
                return super().invoke(ctx)
            except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise
            except UvaError as exc:
                if _debug(ctx):
                    raise
                _fail(str(exc), exc.exit_code)
            except KeyboardInterrupt as exc:
                signum = getattr(exc, "signum", signal.SIGINT)
                _fail(f"interrupted by {signal.Signals(signum).name}", 128 + signum)
            except BrokenPipeError:
                # stdout (`--json -`, `--manifest -`) was closed by the reader, e.g. `| head`
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(EXIT_INPUT)
            except Exception as exc:  # noqa: BLE001 - a bug, but the user still gets one line
                if _debug(ctx):
                    raise
                _fail(f"unexpected {type(exc).__name__}: {exc} (a bug; rerun with --debug for the traceback "
                      "and report it)", EXIT_INTERNAL)


def _debug(ctx: click.Context) -> bool:
    return bool(ctx.obj and ctx.obj.get("debug"))


def _fail(message: str, code: int) -> None:
    click.echo(f"uva: error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM (what Slurm, systemd and `kill` send) raise Interrupted in the main
    thread, so the same cleanup runs for both. Further signals are ignored while that cleanup
    runs: it takes about a frame, and being cut short is what would leave partial files."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="uva", prog_name="uva")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """uva: ultrafast video attention prediction (UVA-Net).

    Predicts where people look in a video with a tiny student network that reads 64x64
    (or 32x32) frames plus the next frame for motion, fast enough for whole libraries on a CPU.

    \b
    Examples:
      uva saliency clip.mp4 --overlay clip.overlay.mp4
      uva saliency videos/ --out-dir results/ --write overlay,maps
    """
    ctx.obj = {"debug": debug}
    keep_freed_memory()  # frame-sized buffers reused, not page-faulted in anew for every frame
    # force: rebind to this invocation's stderr (in-process callers such as tests swap it)
    logging.basicConfig(format="uva: %(levelname)s: %(message)s", level=logging.INFO if debug else logging.WARNING,
                        stream=sys.stderr, force=True)
