"""`uva saliency` as library functions: plan outputs for one or many inputs, run each video
through the predictor into its writers, and keep going past failures in batch mode."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .engine import Predictor, predict_frames
from .errors import InputError, OutputError, UvaError
from .outputs import open_output
from .threads import Worker, prefetch
from .video import VIDEO_EXTENSIONS, iter_frames, probe


# Where each output kind goes inside --out-dir, for an input with stem <stem>.
OUTPUT_SUFFIX = {"overlay": ".overlay.mp4", "heatmap": ".heatmap.mp4", "maps": "", "npz": ".npz"}

ProgressFn = Callable[[int], None]


@dataclass
class Task:
    """One input video and the outputs to make from it (kind -> path)."""

    source: Path
    outputs: dict[str, Path]


@dataclass
class Result:
    source: Path
    status: str  # "done", "skipped" or "failed"
    frames: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


def find_videos(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(video, path relative to the output folder without suffix) for files and folders given.
    Folders are searched recursively and their sub-folder structure is kept."""
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            videos = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                            and not p.name.startswith("."))
            if not videos:
                raise InputError(f"{path}: folder holds no video files ({', '.join(VIDEO_EXTENSIONS[:5])}, …)")
            found += [(v, v.relative_to(path).with_suffix("")) for v in videos]
        elif path.exists():
            found.append((path, Path(path.stem)))
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def plan(paths: Iterable[Path], out_dir: Path, kinds: Iterable[str]) -> list[Task]:
    """Output paths per input under out_dir, mirroring sub-folders. Relative names come from the
    inputs' own paths below the folder given, so no input name can place a file outside out_dir."""
    tasks = []
    for video, rel in find_videos(paths):
        base = out_dir / rel
        tasks.append(Task(video, {k: base.with_name(base.name + OUTPUT_SUFFIX[k]) for k in kinds}))
    return tasks


def is_done(task: Task) -> bool:
    return all(p.exists() for p in task.outputs.values())


def run_task(task: Task, predictor: Predictor, alpha: float = 0.6, colormap: str = "turbo",
             on_start: Callable[[int], None] | None = None, on_frames: ProgressFn | None = None) -> Result:
    """Predict one video into all its outputs; on any failure every partial output is removed."""
    started = time.perf_counter()
    info = probe(task.source)
    for path in task.outputs.values():
        if path.resolve() == task.source.resolve():
            raise OutputError(f"{path}: output would overwrite the input")
    if on_start:
        on_start(info.frames or round((info.duration or 0) * info.fps))
    writers = []
    try:
        for kind, path in task.outputs.items():
            writers.append(open_output(kind, path, info, alpha, colormap))
        native = any(w.needs_native for w in writers)
        frames = prefetch(iter_frames(task.source, size=predictor.input_size, native=native, info=info))
        count = 0

        def write(item) -> None:
            for writer in writers:
                writer.write(*item)
            if on_frames:
                on_frames(1)

        worker = Worker(write)
        try:
            for item in predict_frames(predictor, frames):
                worker.submit(item)
                count += 1
        finally:
            worker.close()
        if count == 0:
            raise InputError(f"{task.source}: no frame could be decoded")
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return Result(task.source, "done", count, time.perf_counter() - started)


def run_batch(tasks: list[Task], predictor: Predictor, overwrite: bool = False,
              before: Callable[[int, Task], None] | None = None, **kw) -> Summary:
    """Run every task, skipping finished ones, recording failures instead of stopping."""
    summary = Summary()
    for i, task in enumerate(tasks):
        if before:
            before(i, task)
        if not overwrite and is_done(task):
            summary.results.append(Result(task.source, "skipped"))
            continue
        try:
            summary.results.append(run_task(task, predictor, **kw))
        except UvaError as exc:
            summary.results.append(Result(task.source, "failed", error=str(exc)))
    return summary
