"""Where uva keeps what it can always recompute (dataset caches, teacher maps, ONNX exports):
a module of its own so that finding it imports nothing heavy."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_base() -> Path:
    """UVA_CACHE_DIR, else $XDG_CACHE_HOME/uva, else ~/.cache/uva."""
    if os.environ.get("UVA_CACHE_DIR"):
        return Path(os.environ["UVA_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "uva"
