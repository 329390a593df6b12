"""Weights registry: model names -> files in `weights/`, their sha256 and model cards.

`weights/manifest.json` is the table of shipped models. A checkpoint is a plain dict of
tensors and config values, loaded with `torch.load(weights_only=True)` after its checksum
is verified, so no pickled code from any file is ever executed.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from ..atomic import atomic_path
from ..errors import WeightsError
from ..hashing import sha256

FORMAT = "uva-weights/1"


def weights_dir() -> Path:
    """The installed weights package; in a checkout that is not installed (PYTHONPATH=., say on
    a machine that only runs training) the checkout's own weights/ folder."""
    try:
        return Path(str(resources.files("uva_cli.weights")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "weights"


def manifest() -> dict[str, dict]:
    path = weights_dir() / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _shipped(file: str) -> Path:
    """A manifest file: installed with the package, or (training-only teacher weights, which
    `pip install .` leaves out) in the weights/ folder of the uva checkout this runs in."""
    for folder in (weights_dir(), *(d / "weights" for d in (Path.cwd(), *Path.cwd().parents))):
        if (folder / file).is_file():
            return folder / file
    raise WeightsError(f"{file} is not installed (the package leaves training-only weights out): it is in "
                       f"weights/ of the uva source checkout; run from there or give the file's path")


def resolve(name_or_path: str | os.PathLike) -> tuple[Path, str | None]:
    """A registry name gives its shipped file and expected sha256; a path gives itself and the
    sha256 in a `<file>.sha256` sidecar if there is one."""
    table = manifest()
    key = str(name_or_path)
    if key in table:
        return _shipped(table[key]["file"]), table[key]["sha256"]
    path = Path(name_or_path)
    if path.suffix in (".pt", ".pth") or path.exists():
        if not path.is_file():
            raise WeightsError(f"{path}: no such weights file")
        sidecar = path.with_name(path.name + ".sha256")
        return path, sidecar.read_text().split()[0] if sidecar.exists() else None
    names = ", ".join(sorted(table)) or "(none shipped)"
    raise WeightsError(f"unknown model '{key}'; choose one of: {names}, or give a .pt file")


def save_checkpoint(path: Path, model, meta: dict | None = None, half: bool = True) -> str:
    """Write a weights-only checkpoint (fp16 by default: the shipped size budget) and return
    its sha256. Written to a temporary name first, so a crash never leaves a torn file."""
    import torch

    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
             for k, v in model.state_dict().items()}
    blob = {"format": FORMAT, "arch": type(model).__name__, "config": model.cfg.to_dict(),
            "state_dict": state, "meta": meta or {}}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)
    return sha256(path)


def load_checkpoint(name_or_path: str | os.PathLike) -> dict:
    import torch

    path, expected = resolve(name_or_path)
    if expected is not None and sha256(path) != expected:
        raise WeightsError(f"{path}: checksum mismatch (corrupt or replaced weights file); "
                           f"expected sha256 {expected[:12]}…")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise WeightsError(f"{path}: not a uva weights file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise WeightsError(f"{path}: not a uva weights file (format {FORMAT} expected)")
    return blob


def build_from_checkpoint(blob: dict):
    """Instantiate the network a checkpoint describes and load its weights in float32."""
    from .student import StudentConfig, UVANet
    from .teachers import Teacher, TeacherConfig

    builders = {"UVANet": (UVANet, StudentConfig), "Teacher": (Teacher, TeacherConfig)}
    try:
        cls, cfg_cls = builders[blob["arch"]]
    except KeyError:
        raise WeightsError(f"unknown architecture {blob.get('arch')!r} in weights file") from None
    model = cls(cfg_cls.from_dict(blob["config"]))
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v
                               for k, v in blob["state_dict"].items()})
    except RuntimeError as exc:
        raise WeightsError(f"weights do not fit the {blob['config'].get('name')} network: "
                           f"{str(exc).splitlines()[0]}") from None
    return model


def load_model(name_or_path: str | os.PathLike):
    return build_from_checkpoint(load_checkpoint(name_or_path)).eval()
