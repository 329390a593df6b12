"""Overlapping pipeline stages in threads. Decoding, the network, Pillow and the encoder all
release the GIL, so on two cores decode, inference and encode can run at the same time.
Queues are bounded, so memory stays flat however long the video is."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], depth: int = 32) -> Iterator[T]:
    """Iterate `items` in a background thread, up to `depth` ahead; errors re-raise here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            q.put(exc)
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
        thread.join()


class Worker:
    """Run `consume(item)` for each submitted item in one background thread, in order.

    A class because it owns a thread and a queue; close() waits for the backlog and re-raises
    the first error of the consumer, submit() raises it early so a failed writer stops the job.
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 32):
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._consume = consume
        self.thread = threading.Thread(target=self._run, daemon=True, name="uva-writer")
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is None:
                try:
                    self._consume(item)
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                    self.error = exc

    def submit(self, item: T) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(item)

    def close(self) -> None:
        self.q.put(_END)
        self.thread.join()
        if self.error is not None:
            raise self.error
