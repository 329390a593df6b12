"""`uva saliency --jobs N`: N worker processes over a batch, each with its own model.

Worker k of N takes `jobs.shard(tasks, k, N)`, the same deterministic round-robin split as
`--shard k/N`, so `--jobs N` does exactly what N shard processes would. Threads per worker are
set so the machine is used and not oversubscribed: the cores are divided among the workers, and
each worker's share goes to its decoder and network as a single process gives them all the
cores (`engine.pipeline_threads`: network threads = share - 1, at least one, or the whole share
for a teacher; FFmpeg decoder and filter threads = the share). On CUDA the workers spread over
the GPUs (`worker_device`). The parent keeps the progress
bar, the manifest and the summary; workers report each input's `Result` as it finishes.

Ctrl-C or SIGTERM in the parent stops the workers with SIGTERM; each removes its unfinished
output as a single process does, and finished outputs are kept (a re-run skips them).
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_mod
import signal
from typing import Callable

from .errors import UvaError
from .jobs import Result, Summary, Task, run_batch, shard
from .threads import FFMPEG_THREADS_ENV


def worker_cores(jobs: int, cores: int | None = None) -> int:
    """The cores each of `jobs` workers may use on `cores` cores (at least one)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, jobs))


def worker_device(device: str, index: int, gpus: int) -> str:
    """The device worker `index` (0-based) runs its network on. With several CUDA GPUs and
    `device` "auto" or "cuda", worker k takes GPU k mod n, so N workers spread over the GPUs
    (each its own model, 0.4 MB, and its own decoding); with one GPU they all share it. A
    named GPU (cuda:1) or the CPU is kept as given."""
    if gpus > 1 and device in ("auto", "cuda"):
        return f"cuda:{index % gpus}"
    return device


def _gpus(load: dict) -> int:
    """CUDA GPUs the workers may spread over (0 where the network runs on ONNX Runtime's CPU provider)."""
    from .engine import cuda_possible

    if load.get("backend") == "onnx" or not str(load.get("device", "auto")).startswith(("auto", "cuda")) \
            or not cuda_possible():
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _worker(index: int, tasks: list[Task], load: dict, cores: int, overwrite: bool,
            kw: dict, results) -> None:
    """Worker `index`: load the model, run its tasks, put each Result (then None) on `results`."""
    os.environ[FFMPEG_THREADS_ENV] = str(cores)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM

    def stop(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt(signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        from .engine import load_predictor, pipeline_threads, shipped_input_size

        args = {k: v for k, v in load.items() if k not in ("threads", "device")}
        device = worker_device(load.get("device", "auto"), index, _gpus(load))
        threads = load.get("threads") or pipeline_threads(shipped_input_size(load.get("model", "uva-dva-64")), cores)
        predictor = load_predictor(**args, device=device, threads=threads)
        run_batch(tasks, predictor, overwrite=overwrite, keep_going=True, after=results.put, **kw)
    except KeyboardInterrupt:
        pass
    except UvaError as exc:  # the model could not be loaded: every worker fails alike
        results.put(exc)
    finally:
        results.put(None)


def run_parallel(tasks: list[Task], jobs: int, load: dict, overwrite: bool = False,
                 before: Callable[[int, Task], None] | None = None,
                 after: Callable[[Result], None] | None = None, **kw) -> Summary:
    """Run `tasks` on `jobs` worker processes; `load` holds load_predictor's keyword arguments.
    `before` is called once with the first task (there is no single current input), `after`
    with each result as it arrives. Returns the results in the order they finished."""
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
    results = ctx.Queue()
    cores = worker_cores(jobs)
    parts = [part for part in (shard(tasks, k, jobs) for k in range(1, jobs + 1)) if part]
    workers = [ctx.Process(target=_worker, args=(k, part, load, cores, overwrite, kw, results),
                           daemon=True) for k, part in enumerate(parts)]
    summary, running, failure = Summary(), len(workers), None
    if before and tasks:
        before(0, tasks[0])
    for worker in workers:
        worker.start()
    try:
        while running:
            try:
                item = results.get(timeout=0.5)
            except queue_mod.Empty:
                if not any(w.is_alive() for w in workers) and results.empty():
                    break  # a worker died without saying so (killed)
                continue
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                failure = failure or item
            else:
                summary.results.append(item)
                if after:
                    after(item)
    except BaseException:
        for worker in workers:
            if worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.join(30)
        raise
    for worker in workers:
        worker.join()
    if failure is not None:
        raise failure
    return summary
