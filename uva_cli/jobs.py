"""`uva saliency` as library functions: plan outputs for one or many inputs (videos and still
images), split a batch into
shards, run each video through the predictor into its writers, record what happened, and keep
going past failures in batch mode. The batch machinery (`plan` with a `Naming`, `shard`,
`run_batch` with another `run`, `manifest`) serves `uva roi` too (`roi.job.ROI_OUTPUTS`,
`roi.job.run_roi_task`), and `run_task` with another `opener` serves `uva encode`
(`encode.run_encode_task`).

Reliability rules kept here: an output only appears under its final name when complete (the
writers), a re-run skips inputs whose outputs all exist, an interrupt stops within about one
frame and removes the unfinished outputs, and no input name can place a file outside --out-dir.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import render
from .engine import Predictor, predict_frames
from .errors import InputError, OutputError, UvaError, reason
from .outputs import MAP_NAME, all_or_nothing, open_output, refuse_overwriting_input
from .threads import QUEUE_DEPTH, Worker, frames_depth, prefetch
from .video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoInfo, iter_frames, make_parent, probe

log = logging.getLogger("uva")

# Where each output kind goes inside --out-dir, for an input with stem <stem>. A still image's
# overlay and heatmap are images of its own format (.png, .jpg, .webp; others give .png).
OUTPUT_SUFFIX = {"overlay": ".overlay.mp4", "heatmap": ".heatmap.mp4", "maps": "", "npz": ".npz"}
IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".webp")
INPUT_EXTENSIONS = VIDEO_EXTENSIONS + IMAGE_EXTENSIONS
# uva's own overlays and heatmaps, never taken as inputs
OUTPUT_NAMES = tuple(f".{kind}{ext}" for kind in ("overlay", "heatmap") for ext in (".mp4", *IMAGE_OUTPUTS))

ProgressFn = Callable[[int], None]


@dataclass
class Naming:
    """How one command names its batch outputs: kind -> the ending after the input's stem. For a
    still image, `image_kinds` are pictures of its own format instead (.png, .jpg, .webp; other
    formats give .png): photo.overlay.jpg."""

    suffixes: dict[str, str]
    image_kinds: tuple[str, ...] = ()

    def suffix(self, source: Path, kind: str) -> str:
        ext = source.suffix.lower()
        if kind in self.image_kinds and ext in IMAGE_EXTENSIONS:
            return f".{kind}{ext if ext in IMAGE_OUTPUTS else '.png'}"
        return self.suffixes[kind]


SALIENCY_OUTPUTS = Naming(OUTPUT_SUFFIX, ("overlay", "heatmap"))


@dataclass
class Task:
    """One input video and the outputs to make from it (kind -> path)."""

    source: Path
    outputs: dict[str, Path]


@dataclass
class Result:
    source: Path
    status: str  # "done", "skipped", "failed" or "interrupted"
    frames: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class Summary:
    results: list[Result] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


def _hidden(parts: Iterable[str]) -> bool:
    return any(part.startswith(".") for part in parts)


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder)


def find_videos(paths: Iterable[Path], exclude: Path | None = None) -> list[tuple[Path, tuple[str, ...]]]:
    """(video or image, output name parts) for the files and folders given: the sub-folders
    below the folder given, then the stem. Folders are searched recursively, skipping hidden
    files and folders (temporaries among them), uva's own overlays and heatmaps
    (*.overlay.mp4, *.heatmap.png, …) and anything under `exclude` (an output folder inside an
    input folder). A file given twice is kept once."""
    exclude = exclude.resolve() if exclude is not None and exclude.exists() else None
    found: list[tuple[Path, tuple[str, ...]]] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            skip = exclude if exclude is not None and exclude != path.resolve() else None
            pairs = []
            for video in sorted(path.rglob("*")):
                rel = video.relative_to(path).parts
                if video.suffix.lower() in INPUT_EXTENSIONS and not video.name.endswith(OUTPUT_NAMES) \
                        and not _hidden(rel) and video.is_file() and not _inside(video, skip):
                    pairs.append((video, (*rel[:-1], _stem(video))))
            if not pairs:
                raise InputError(f"{path}: folder holds no video or image files "
                                 f"({', '.join(VIDEO_EXTENSIONS[:5] + IMAGE_EXTENSIONS[:3])}, …)")
        elif path.exists():
            pairs = [(path, (_stem(path),))]
        else:
            raise InputError(f"{path}: no such file or folder")
        for video, parts in pairs:
            key = video.resolve()
            if key not in seen:
                seen.add(key)
                found.append((video, parts))
    return found


def _stem(video: Path) -> str:
    """The file name without its extension, unless that leaves "", "." or ".." (a file named
    "..mp4"), which as a path component would point at the output folder or above it."""
    stem = video.name[: len(video.name) - len(video.suffix)]
    return stem if stem not in ("", ".", "..") else video.name


def plan(paths: Iterable[Path], out_dir: Path, kinds: Iterable[str], naming: Naming = SALIENCY_OUTPUTS) -> list[Task]:
    """Output paths per input under out_dir, mirroring sub-folders, named by `naming`. Names come
    from the inputs' own paths below the folder given, never from `..` or absolute parts, and
    each is checked to lie inside out_dir. Two inputs that would share names (clip.mp4 and
    clip.mkv) keep their extensions instead: clip.mp4.overlay.mp4, clip.mkv.overlay.mp4. Files
    that are outputs of another input (any kind, the PNGs in a maps folder included) are not
    inputs, so a re-run never processes its own results."""
    kinds = list(kinds)
    found = find_videos(paths, exclude=out_dir)
    keys = [tuple(p.casefold() for p in parts) for _, parts in found]
    clashing = {k for k, n in Counter(keys).items() if n > 1}
    names: dict[tuple[str, ...], Path] = {}
    tasks = []
    for (video, parts), key in zip(found, keys):
        if key in clashing:
            parts = (*parts[:-1], video.name)
        other = names.setdefault(tuple(p.casefold() for p in parts), video)
        if other != video:
            raise InputError(f"{video}: would write the same outputs as {other}; give their folders "
                             "instead of the files, or run them separately")
        tasks.append(Task(video, {k: _output_path(out_dir, parts, naming.suffix(video, k)) for k in naming.suffixes}))
    # Outputs written beside their inputs (or in a folder below them) are not inputs of a re-run.
    produced = {os.path.abspath(p) for t in tasks for p in t.outputs.values()}

    def is_output(source: Path) -> bool:
        path = os.path.abspath(source)
        return path in produced or bool(MAP_NAME.fullmatch(source.name)) and os.path.dirname(path) in produced

    return [Task(t.source, {k: t.outputs[k] for k in kinds}) for t in tasks if not is_output(t.source)]


def _output_path(out_dir: Path, parts: tuple[str, ...], suffix: str) -> Path:
    """out_dir/<folders>/<stem><suffix>, refused if any part could step outside out_dir."""
    names = (*parts[:-1], parts[-1] + suffix)
    target = os.path.abspath(os.path.join(out_dir, *names))
    if any(n in ("", ".", "..") or "/" in n or os.sep in n for n in names) or \
            not target.startswith(os.path.join(os.path.abspath(out_dir), "")):
        raise OutputError(f"{target}: would lie outside the output folder {out_dir}")
    return out_dir.joinpath(*names)


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" -> (I, N), 1 <= I <= N: this process's part of a batch split N ways."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"expected I/N such as 1/4, got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: I must be between 1 and N")
    return index, count


def shard(tasks: list[Task], index: int, count: int) -> list[Task]:
    """Shard `index` of `count` (1-based): round-robin over the inputs sorted by path, so N
    processes given the same inputs share them evenly and cover each exactly once."""
    return sorted(tasks, key=lambda t: str(t.source))[index - 1::count]


def is_done(task: Task) -> bool:
    return all(p.exists() for p in task.outputs.values())


# Outputs that never show decoded pixels: decoded without the deblocking filter (video.decode.FAST_DECODE).
# Overlays and heatmaps keep the full-quality decode.
FAST_DECODE_KINDS = {"maps", "npz"}


def _frames_in_flight(info: VideoInfo, native: bool) -> int:
    """How many frames one stage (decode queue, network batch, write queue) may hold: 4K
    overlays get 5 instead of gigabytes of frames in flight."""
    return frames_depth(info.width, info.height) if native else QUEUE_DEPTH


def _write_all(writers: list, size: tuple[int, int] | None, on_frames: ProgressFn | None, item) -> None:
    """Hand one frame to every writer; the source-size map is upsampled once for all of them."""
    frame, smap = item
    smap8 = render.upsample8(smap, *size) if size else None
    for writer in writers:
        writer.write(frame, smap, smap8)
    if on_frames:
        on_frames(1)


def run_task(task: Task, predictor: Predictor, alpha: float = 0.6, colormap: str = "turbo",
             on_start: Callable[[int], None] | None = None, on_frames: ProgressFn | None = None,
             opener: Callable[[str, Path, VideoInfo], object] | None = None) -> Result:
    """Predict one video into all its outputs. Decode, network and writers run as threaded
    stages; on any failure or interrupt the stages are stopped without draining their queues
    and every partial output is removed. `opener(kind, path, info)` opens each output's writer
    (default: the saliency outputs of `outputs.open_output`; `uva encode` passes its own)."""
    started = time.perf_counter()
    refuse_overwriting_input(task.source, task.outputs.values())
    info = probe(task.source)
    if on_start:
        on_start(info.frames or round((info.duration or 0) * info.fps))
    opener = opener or partial(open_output, alpha=alpha, colormap=colormap)
    with all_or_nothing() as writers:
        for kind, path in task.outputs.items():
            writers.append(opener(kind, path, info))
        wanted = {w.native for w in writers} - {None}
        native = bool(wanted)
        depth = _frames_in_flight(info, native)
        # video writers take the decoder's yuv420p planes; image writers paint in RGB; maps and
        # npz alone show no decoded pixels, so the decoder skips its deblocking filter for them
        decoded = iter_frames(task.source, size=predictor.input_size, native=native, info=info,
                              yuv="rgb" not in wanted, fast=set(task.outputs) <= FAST_DECODE_KINDS)
        frames = prefetch(decoded, depth)
        sized = dataclasses.replace(predictor, batch_size=min(predictor.batch_size, depth))
        predictions = predict_frames(sized, frames)
        size = (info.height, info.width) if any(w.needs_source_map for w in writers) else None
        worker = Worker(partial(_write_all, writers, size, on_frames), depth)
        count = 0
        try:
            for item in predictions:
                worker.submit(item)
                count += 1
            worker.close()
        except BaseException:
            worker.cancel()  # stop the stages without draining their queues
            predictions.close()
            frames.close()
            raise
        if count == 0:
            raise InputError(f"{task.source}: no frame could be decoded")
    return Result(task.source, "done", count, time.perf_counter() - started)


def run_batch(tasks: list[Task], predictor: Predictor, overwrite: bool = False, keep_going: bool = True,
              before: Callable[[int, Task], None] | None = None,
              after: Callable[[Result], None] | None = None, run: Callable[..., Result] = run_task,
              **kw) -> Summary:
    """Run every task with `run(task, predictor, **kw)` (`run_task`: saliency outputs), skipping
    finished ones (unless `overwrite`). A failure is recorded and, with `keep_going`, the batch
    goes on; without it (one named video) it is re-raised. `after` sees each result as soon as
    it is known (the manifest); an interrupt is recorded as "interrupted" and re-raised."""
    summary = Summary()
    for i, task in enumerate(tasks):
        if before:
            before(i, task)
        error: BaseException | None = None
        if not overwrite and is_done(task):
            result = Result(task.source, "skipped", error="outputs exist")
        else:
            try:
                result = run(task, predictor, **kw)
            except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - one bad input must not end a batch
                result, error = _failure(task, exc), exc
        summary.results.append(result)
        if after:
            after(result)
        if error is not None and (isinstance(error, KeyboardInterrupt) or not keep_going):
            raise error
    return summary


def _failure(task: Task, exc: BaseException) -> Result:
    if isinstance(exc, KeyboardInterrupt):
        return Result(task.source, "interrupted", error=f"interrupted ({exc or 'SIGINT'})")
    if isinstance(exc, UvaError):
        return Result(task.source, "failed", error=str(exc))
    log.info("%s: unexpected error", task.source, exc_info=True)  # the traceback, with --debug
    return Result(task.source, "failed", error=f"{task.source}: unexpected {type(exc).__name__}: {exc} "
                  "(a bug; rerun with --debug and report it)")


@contextmanager
def manifest(target: str | os.PathLike | None) -> Iterator[Callable[[Result], None]]:
    """A function that appends one JSON line per result to `target` ('-' = stdout, None = off).
    Each line is written whole and flushed at once in append mode, so shards can share one
    file and a killed job keeps every line it wrote."""
    if target is None:
        yield lambda result: None
        return
    if str(target) == "-":
        fh, owned = sys.stdout, False
    else:
        make_parent(Path(target))
        try:
            fh, owned = open(target, "a", encoding="utf-8"), True
        except OSError as exc:
            raise OutputError(f"{target}: cannot write the manifest ({reason(exc)})") from None

    def record(result: Result) -> None:
        line = json.dumps({"path": str(result.source), "status": result.status, "reason": result.error,
                           "frames": result.frames, "seconds": round(result.seconds, 3)}, ensure_ascii=False)
        fh.write(line + "\n")
        fh.flush()

    try:
        yield record
    finally:
        if owned:
            fh.close()
