"""`pip install .` (not editable) works: the wheel holds every module, the shipped student weights
and the bundled example, and leaves the training-only teacher weights out; installed, the example
and `uva bench`'s default clip are found, and teacher weights are found in a checkout or named in a
one-line error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setuptools_version() -> tuple[int, ...]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(x) for x in version("setuptools").split(".")[:2] if x.isdigit())
    except PackageNotFoundError:
        return ()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of this tree, as `pip install .` builds it (so no build files land
    in the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("uva_cli", "weights", "examples"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.part"))
    out = tmp_path_factory.mktemp("wheel")
    # the build backend installed here when it is new enough (no download), else pip fetches one
    isolation = [] if _setuptools_version() < (77,) else ["--no-build-isolation"]
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "--quiet",
                             "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (path,) = out.glob("uva-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as an install's site-packages folder."""
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def test_wheel_has_every_module_the_example_and_no_teacher_weights(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "uva_cli").rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(modules - names) == []  # every package listed in pyproject.toml
    assert {"uva_cli/examples/bunny.mp4", "uva_cli/examples/CREDITS.md", "uva_cli/weights/manifest.json"} <= names
    shipped = json.loads((ROOT / "weights" / "manifest.json").read_text())
    students = [row["file"] for name, row in shipped.items() if not name.startswith("teacher-")]
    assert students and all(f"uva_cli/weights/{f}" in names for f in students)
    assert not [n for n in names if Path(n).name.startswith("teacher-") and n.endswith(".pt")]
    assert zipfile.ZipFile(wheel).getinfo("uva_cli/examples/bunny.mp4").file_size == \
        (ROOT / "examples" / "bunny.mp4").stat().st_size


def _run_installed(site: Path, cwd: Path, code: str) -> subprocess.CompletedProcess:
    """Python code run against the unpacked wheel, from `cwd`; a script file outside `cwd`, so
    the current folder is not on sys.path and a checkout there cannot shadow the install."""
    script = site.parent / f"check_{abs(hash(code))}.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "UVA_THREADS": "1"}
    return subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_installed_example_and_bench_default_clip(installed, tmp_path):
    code = f"""
import sys
from pathlib import Path
import uva_cli
from uva_cli.cli.bench import default_video
from uva_cli.examples import BUNNY
site = Path({str(installed)!r})
assert Path(uva_cli.__file__).is_relative_to(site), uva_cli.__file__
assert BUNNY == default_video() and BUNNY.is_relative_to(site) and BUNNY.is_file(), BUNNY
from uva_cli.cli import main
sys.argv = ["uva", "saliency", str(BUNNY), "--npz", "bunny.npz", "--model", "uva-dva-32", "-q"]
main()
"""
    result = _run_installed(installed, tmp_path, code)
    assert result.returncode == 0, result.stderr[-2000:]
    import numpy as np

    with np.load(tmp_path / "bunny.npz") as npz:
        assert npz["maps"].shape[0] == 132  # the example's frames


def test_teacher_weights_from_a_checkout_else_a_one_line_error(installed, tmp_path):
    code = """
from uva_cli.errors import WeightsError
from uva_cli.models.registry import resolve
try:
    print(resolve("teacher-spatial")[0])
except WeightsError as exc:
    print("error:", exc)
"""
    outside = _run_installed(installed, tmp_path, code)
    assert outside.returncode == 0, outside.stderr[-2000:]
    line = outside.stdout.strip()
    assert line.startswith("error: teacher-spatial.pt is not installed") and "\n" not in line
    assert "weights/ of the uva source checkout" in line
    inside = _run_installed(installed, ROOT / "uva_cli", code)  # in a checkout (any folder of it)
    assert inside.returncode == 0, inside.stderr[-2000:]
    assert Path(inside.stdout.strip()) == ROOT / "weights" / "teacher-spatial.pt"
