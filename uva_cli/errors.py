"""Errors a user can act on. The CLI turns these into one-line messages and exit codes."""

from __future__ import annotations

# Documented exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERRUPTED = 130


class UvaError(Exception):
    """Base class: a problem with the user's input, files or environment, not a bug."""

    exit_code = EXIT_INPUT


class InputError(UvaError):
    """An input video (or folder) cannot be read or decoded."""


class OutputError(UvaError):
    """An output cannot be written (permissions, full disk, would overwrite the input)."""


class WeightsError(UvaError):
    """A weights file is missing, corrupt, fails its checksum or names an unknown model."""
