"""The bundled example clip, installed with uva as package data (`uva_cli.examples`), so `uva bench`
and scripts find it from a wheel as well as from a checkout. Credits: CREDITS.md beside it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNNY = Path(str(resources.files(__name__) / "bunny.mp4"))
