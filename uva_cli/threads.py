"""Overlapping pipeline stages in threads. Decoding, the network, Pillow and the encoder all
release the GIL, so on two cores decode, inference and encode can run at the same time.
Queues are bounded, so memory stays flat however long the video is, and every stage can be
stopped promptly (an interrupt must not wait for a backlog of frames to be encoded)."""

from __future__ import annotations

import os
import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.1  # seconds between checks of a stop flag while blocked on a queue


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put unless `stop` is set first; a plain put() on a full queue nobody reads would hang."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _join(thread: threading.Thread) -> None:
    """Join in short waits, so the main thread stays responsive to signals meanwhile."""
    while thread.is_alive():
        thread.join(_POLL)


# Threads of each FFmpeg decoder and filter graph; `--jobs` sets it for its workers so that N of
# them share the cores instead of each taking them all. Unset: FFmpeg's choice (every core).
FFMPEG_THREADS_ENV = "UVA_FFMPEG_THREADS"


def ffmpeg_threads() -> int:
    """Threads for an FFmpeg decoder or filter graph: `FFMPEG_THREADS_ENV`, 0 (automatic) unset."""
    value = os.environ.get(FFMPEG_THREADS_ENV, "").strip()
    return int(value) if value.isdigit() else 0


QUEUE_DEPTH = 32  # items a stage may hold ahead of the next
FRAME_BUDGET = 128 << 20  # bytes of full-size RGB frames one stage may hold


def frames_depth(width: int, height: int) -> int:
    """Queue depth for full-size frames: QUEUE_DEPTH, fewer when frames are big (4K: 5)."""
    return max(2, min(QUEUE_DEPTH, FRAME_BUDGET // (width * height * 3)))


def prefetch(items: Iterable[T], depth: int = 32) -> Iterator[T]:
    """Iterate `items` in a background thread, up to `depth` ahead; errors re-raise here.
    Closing this generator (or leaving it by an exception) stops and joins the thread."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(q, item, stop):
                    return
            _put(q, _END, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            _put(q, exc, stop)
        finally:
            close = getattr(items, "close", None)
            if close and stop.is_set():
                close()

    thread = threading.Thread(target=produce, daemon=True, name="uva-prefetch")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        _join(thread)


class Worker:
    """Run `consume(item)` for each submitted item in one background thread, in order.

    A class because it owns a thread, a queue and two flags. close() waits for the backlog and
    re-raises the first error of the consumer; submit() raises it early so a failed writer
    stops the job; cancel() drops the backlog and returns once the item in hand is done.
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 32):
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._consume = consume
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="uva-writer")
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is None and not self._cancel.is_set():
                try:
                    self._consume(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self.error = exc

    def submit(self, item: T) -> None:
        if self.error is not None:
            raise self.error
        _put(self.q, item, self._cancel)  # gives up only once cancel() was called

    def close(self) -> None:
        self.q.put(_END)
        _join(self.thread)
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Stop without writing the backlog: for interrupts and failures, where the outputs
        are about to be deleted anyway."""
        self._cancel.set()
        self.q.put(_END)  # the thread skips queued items quickly, so this never blocks long
        _join(self.thread)
