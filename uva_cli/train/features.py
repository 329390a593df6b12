"""Teacher features of every cached frame, computed once and kept beside the cache.

A teacher's encoder and face detector are frozen, so its `features` of a frame never change
during training: each part is computed once per (dataset cache, part weights) and memory-mapped,
which makes a teacher epoch a matter of seconds and lets both teachers, cross-validation folds
and soft-map labelling share one pass of the networks over ~11k frames.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap

from ..atomic import atomic_path
from ..models.student import normalise


def weights_key(module) -> str:
    """Hash of a module's weights as checkpoints store them (fp16), so a trained teacher loaded
    from its file finds the features its training computed."""
    digest = hashlib.sha256()
    for name, value in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().half().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def round_frozen(model) -> None:
    """Round the frozen parts' weights through fp16, as saving a checkpoint does (training then
    sees exactly what inference will)."""
    with torch.no_grad():
        for part in model.parts().values():
            for p in part.parameters():
                p.copy_(p.half().float())


def frame_features(model, cache, device: str = "cpu", progress: bool = True) -> list[np.ndarray]:
    """Each part's (N, C, h, w) float16 features of every frame of a cache at the teacher's input
    size, in the channel order of `model.features`."""
    return [_part_features(model, part, cache, device, progress) for part in model.parts()]


@torch.inference_mode()
def _part_features(model, part: str, cache, device: str, progress: bool, batch: int = 32) -> np.ndarray:
    from rich.progress import Progress

    key = weights_key(model.parts()[part])
    target = Path(cache.path) / (f"features-{key}.npy" if part == "encoder" else f"features-{part}-{key}.npy")
    if target.exists():
        return np.load(target, mmap_mode="r")
    was = model.training
    model.eval()
    first = np.array(cache.frames[:1])
    probe = model.part_features(part, normalise(torch.from_numpy(first).to(device)))
    with atomic_path(target, unique=True) as tmp, Progress(transient=True, disable=not progress) as bar:
        out = open_memmap(tmp, mode="w+", dtype=np.float16, shape=(len(cache), *probe.shape[1:]))
        task = bar.add_task(f"teacher {part} features", total=len(cache))
        for start in range(0, len(cache), batch):
            x = normalise(torch.from_numpy(np.array(cache.frames[start:start + batch])).to(device))
            out[start:start + len(x)] = model.part_features(part, x).half().cpu().numpy()
            bar.advance(task, len(x))
        out.flush()
        del out
    model.train(was)
    return np.load(target, mmap_mode="r")
