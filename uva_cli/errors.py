"""Errors a user can act on. The CLI turns these into one-line messages and exit codes."""

from __future__ import annotations

import os
import signal

# Documented exit codes (docs/usage.md, "Exit codes").
EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15 = 143


class UvaError(Exception):
    """Base class: a problem with the user's input, files or environment, not a bug."""

    exit_code = EXIT_INPUT


class InputError(UvaError):
    """An input video (or folder) cannot be read or decoded."""


class OutputError(UvaError):
    """An output cannot be written (permissions, full disk, would overwrite the input)."""


class WeightsError(UvaError):
    """A weights file is missing, corrupt, fails its checksum or names an unknown model."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so every cleanup path that handles
    Ctrl-C (temporary outputs removed, threads stopped) handles a scheduler's SIGTERM too."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def reason(exc: BaseException) -> str:
    """The human part of an OS or FFmpeg error ("No space left on device"), not its repr."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def write_failed(path: os.PathLike | str, exc: BaseException) -> OutputError:
    """The one message for a failed write, so a full disk reads the same from every writer."""
    return OutputError(f"{path}: write failed ({reason(exc)}); the partial output was removed")
