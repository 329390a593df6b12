"""Teacher features of every cached frame, computed once and kept beside the cache.

A teacher's encoder and face detector are frozen, so its `features` of a frame never change
during training: each part is computed once per (dataset cache, part weights) and memory-mapped,
which makes a teacher epoch a matter of seconds and lets both teachers, cross-validation folds
and soft-map labelling share one pass of the networks over ~11k frames.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

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


def stored_array(target: Path, label: str, rows: int, make: Callable[[], Iterable[tuple]],
                 progress: bool = True) -> np.ndarray:
    """The float16 array at `target`, memory-mapped. When it is missing, `make()` gives the
    (row indices, values) batches that fill its `rows` rows (the row shape is the first batch's);
    they are written to a memory-mapped temporary, renamed into place once complete, so ranks of
    one run may race here and an interrupted run leaves nothing half-written."""
    if not target.exists():
        from rich.progress import Progress

        batches = make()  # before the bar: making them may show bars of its own
        with atomic_path(target, unique=True) as tmp, Progress(transient=True, disable=not progress) as bar:
            task = bar.add_task(label, total=rows)
            out = None
            for index, values in batches:
                if out is None:
                    out = open_memmap(tmp, mode="w+", dtype=np.float16, shape=(rows, *values.shape[1:]))
                out[index] = values
                bar.advance(task, len(values))
            if out is None:
                raise ValueError(f"{label}: no rows to store")
            out.flush()
            del out
    return np.load(target, mmap_mode="r")


@torch.inference_mode()
def _part_features(model, part: str, cache, device: str, progress: bool, batch: int = 32) -> np.ndarray:
    key = weights_key(model.parts()[part])
    target = Path(cache.path) / (f"features-{key}.npy" if part == "encoder" else f"features-{part}-{key}.npy")

    def batches() -> Iterator[tuple[slice, np.ndarray]]:
        was = model.training
        model.eval()
        for start in range(0, len(cache), batch):
            x = normalise(torch.from_numpy(np.array(cache.frames[start:start + batch])).to(device))
            yield slice(start, start + len(x)), model.part_features(part, x).half().cpu().numpy()
        model.train(was)

    return stored_array(target, f"teacher {part} features", len(cache), batches, progress)
