"""Inference: frames -> temporal windows -> batches -> saliency maps, on CPU or GPU.

Each batch holds B consecutive frames plus the frame after the last one, so every frame t is
paired with t+1 (the last frame of a video pairs with itself); the trunk runs once per frame.
Results do not depend on the batch size, and memory is bounded by one batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from .video import Frame, VideoInfo, iter_frames


@dataclass
class Predictor:
    """A loaded student on a device; the state every prediction call shares."""

    model: "object"  # uva_cli.models.student.UVANet
    name: str
    device: str
    batch_size: int = 64

    @property
    def input_size(self) -> int:
        return self.model.cfg.input_size


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from .errors import UvaError

        raise UvaError("--device cuda asked for, but PyTorch sees no CUDA GPU")
    return device


def load_predictor(model: str = "uva-dva-64", device: str = "auto", batch_size: int = 64) -> Predictor:
    """Load weights by registry name or file path and put the student in inference mode."""
    import torch

    from .models.blocks import fold_batchnorm
    from .models.registry import load_model

    device = pick_device(device)
    net = fold_batchnorm(load_model(model)).to(device).eval()
    if device == "cpu":
        torch.set_num_threads(int(os.environ.get("UVA_THREADS", 0)) or torch.get_num_threads())
    return Predictor(model=net, name=model, device=device, batch_size=max(1, int(batch_size)))


def _windows(frames: Iterable[Frame], batch_size: int) -> Iterator[list[Frame]]:
    """Lists of up to batch_size + 1 frames; the extra last one is the look-ahead of the batch."""
    buffer: list[Frame] = []
    for frame in frames:
        buffer.append(frame)
        if len(buffer) == batch_size + 1:
            yield buffer
            buffer = buffer[-1:]
    if buffer:
        yield buffer + buffer[-1:]  # the final frame pairs with itself


def predict_arrays(predictor: Predictor, smalls: np.ndarray) -> np.ndarray:
    """Maps for (N+1, S, S, 3) uint8 frames, each paired with the next: returns (N, S, S) float32
    maps scaled so each peaks at 1."""
    import torch

    from .models.student import normalise, probability_maps

    with torch.inference_mode():
        x = normalise(torch.from_numpy(np.ascontiguousarray(smalls)).to(predictor.device))
        features = predictor.model.features(x)
        maps = probability_maps(predictor.model.fuse(features[:-1], features[1:]))
        maps = maps / maps.amax(dim=(1, 2), keepdim=True)
    return maps.cpu().numpy()


def predict_frames(predictor: Predictor, frames: Iterable[Frame]) -> Iterator[tuple[Frame, np.ndarray]]:
    """Stream (frame, map) pairs in frame order; maps are (S, S) float32 in [0, 1]."""
    for window in _windows(frames, predictor.batch_size):
        maps = predict_arrays(predictor, np.stack([f.small for f in window]))
        yield from zip(window[:-1], maps)


def predict_video(path: str | os.PathLike, predictor: Predictor | None = None, native: bool = False,
                  info: VideoInfo | None = None) -> Iterator[tuple[Frame, np.ndarray]]:
    """The Python entry point: `for frame, smap in predict_video("clip.mp4"): ...`."""
    predictor = predictor or load_predictor()
    frames = iter_frames(path, size=predictor.input_size, native=native, info=info)
    return predict_frames(predictor, frames)
