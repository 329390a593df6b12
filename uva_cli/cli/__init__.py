"""The `uva` command: a group whose subcommands live one per module and load on first use,
so `uva --help` never imports torch. Errors a user can act on become one line and an exit code."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ..errors import EXIT_INTERRUPTED, UvaError

# name -> (module, one-line help shown by `uva --help` without importing the module)
COMMANDS = {
    "saliency": ("saliency", "Predict saliency maps for videos: overlays, heatmaps, PNG maps, npz."),
    "models": ("models", "List the shipped models with their sizes and validation scores."),
    "roi": ("roi", "Regions of interest: JSON box tracks, crops that follow the subject, reframing."),
    "bench": ("bench", "Measure model size and speed: network only and end to end on a video."),
    "train": ("train", "Train a student (or teacher) on a fixation dataset."),
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
        try:
            return super().invoke(ctx)
        except UvaError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"uva: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("uva: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


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
    logging.basicConfig(format="uva: %(levelname)s: %(message)s", level=logging.INFO if debug else logging.WARNING,
                        stream=sys.stderr)
