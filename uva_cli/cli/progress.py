"""A rich progress bar on stderr (frames, fps, ETA) when stderr is a terminal and not --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeRemainingColumn)


class _Rate(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[override]
        speed = task.finished_speed or task.speed
        return f"{speed:6.0f} {task.fields.get('unit', 'fps')}" if speed else "      "


@contextmanager
def progress_bar(quiet: bool = False) -> Iterator[Progress]:
    console = Console(stderr=True)
    enabled = not quiet and sys.stderr.isatty()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                  _Rate(), TimeRemainingColumn(), console=console, disable=not enabled, transient=False) as bar:
        yield bar
