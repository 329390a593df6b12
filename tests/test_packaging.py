"""The declared dependency floors are at least the versions that have the features the code uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
# (text in the code, the package it needs, the first release that has it)
FEATURES = [
    ("np.trapezoid(", "numpy", (2, 0)),  # np.trapz's new name
    ("dynamo=False", "torch", (2, 5)),  # torch.onnx.export's keyword
    ("set_display_rotation(", "av", (18, 1)),  # PyAV Stream method (tests/conftest.py)
]


def _floors(requirements: list[str]) -> dict[str, tuple[int, ...]]:
    out = {}
    for req in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([\d.]+)", req.strip())
        assert match, f"no floor in {req!r}"
        out[match.group(1).lower()] = tuple(int(x) for x in match.group(2).split("."))
    return out


def test_declared_floors_have_the_features_the_code_uses():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    floors = _floors(project["dependencies"] + project["optional-dependencies"]["test"])
    code = "\n".join(p.read_text() for folder in ("uva_cli", "tests") for p in (ROOT / folder).rglob("*.py"))
    used = [(needle, pkg, version) for needle, pkg, version in FEATURES if needle in code]
    assert [n for n, _, _ in used] == [n for n, _, _ in FEATURES]  # each is still used (else drop it here)
    for needle, pkg, version in used:
        assert floors[pkg] >= version, f"{needle} needs {pkg}>={'.'.join(map(str, version))}"
    if isinstance(project.get("license"), str):  # a PEP 639 SPDX string, read by setuptools 77+
        assert _floors(meta["build-system"]["requires"])["setuptools"] >= (77,)
