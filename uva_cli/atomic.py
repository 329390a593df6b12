"""Atomic file writes: everything uva writes appears under its final name only when complete.

One naming scheme for every temporary (the one docs/usage.md documents): a hidden file or folder
beside the target, `.NAME.part`; where several processes may write the same target at once
(a shared cache), `.NAME.<unique>.part`, so no writer renames another's half-written file.
Temporaries are hidden, so batch jobs never take them for inputs, and end in `.part`, so nothing
mistakes them for a finished output.

    with atomic_path(target) as tmp:     # write tmp (a file or a folder); renamed on success,
        write_somehow(tmp)               # removed on any error or interrupt

`commit` / `discard` are the two halves, for writers whose open and close are separate calls.
"""

from __future__ import annotations

import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

PART = ".part"


def part_path(path: str | os.PathLike, unique: bool = False) -> Path:
    """The temporary name of `path`: `.NAME.part`, or `.NAME.<pid>-<random>.part` when `unique`."""
    path = Path(path)
    token = f".{os.getpid()}-{secrets.token_hex(4)}" if unique else ""
    return path.with_name(f".{path.name}{token}{PART}")


def commit(tmp: Path, final: Path, replace_folder: bool = True) -> None:
    """Move a finished temporary into place, replacing an older output; an existing folder is
    deleted first only when `replace_folder` (else the rename fails with OSError if it has files,
    which a writer racing others for one result can take as "someone else finished first")."""
    if replace_folder and final.is_dir():
        shutil.rmtree(final)
    os.replace(tmp, final)


def commit_or_fail(tmp: Path, final: Path, abort: Callable[[], None]) -> None:
    """`commit`, or on an OS error (a full disk) call the writer's `abort` and raise the one-line
    OutputError that says the partial output was removed."""
    from .errors import write_failed

    try:
        commit(tmp, final)
    except OSError as exc:
        abort()
        raise write_failed(final, exc) from None


def discard(tmp: Path) -> None:
    """Remove a temporary file or folder, if there is one."""
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        try:
            tmp.unlink()
        except (FileNotFoundError, NotADirectoryError):  # nothing there, or its folder is a file
            pass


@contextmanager
def atomic_path(final: str | os.PathLike, unique: bool = False, replace_folder: bool = True) -> Iterator[Path]:
    """A temporary path to write `final` under (see `part_path`), renamed to `final` when the
    block ends normally and removed when it raises (interrupts included)."""
    final = Path(final)
    tmp = part_path(final, unique)
    discard(tmp)  # left by an interrupted earlier run
    try:
        yield tmp
        commit(tmp, final, replace_folder)
    except BaseException:
        discard(tmp)
        raise


def write_bytes(path: str | os.PathLike, data: bytes, unique: bool = True, mode: int = 0o644) -> Path:
    """Write `data` to `path` atomically (by default under a name unique to this writer, so any
    number of processes may write the same path at once; readers see a whole file or none)."""
    path = Path(path)
    with atomic_path(path, unique) as tmp:
        with open(tmp, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
    return path
