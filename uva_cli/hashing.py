"""File hashing, with no imports from the rest of the package.

`sha256` lived in `models.registry`, which made `models/` one import cycle: the registry imports
the networks (`student`, `teachers`), they import `pretrained`, and `pretrained` needs the hash
to check its source files. A leaf module breaks it; `tests/test_imports.py` keeps the package
free of cycles.
"""

from __future__ import annotations

import hashlib
import os


def sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
