"""uva: ultrafast video attention prediction (UVA-Net) as a library and a CLI.

    import uva_cli
    predictor = uva_cli.load_predictor("uva-dva-64")
    for frame, smap in uva_cli.predict_video("clip.mp4", predictor): ...

Names load lazily so that importing the package (and `uva --help`) does not import torch.
"""

from __future__ import annotations

_EXPORTS = {"load_predictor": "engine", "predict_video": "engine", "predict_frames": "engine",
            "probe": "video", "iter_frames": "video"}


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
