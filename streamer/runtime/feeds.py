"""Feeding a worker: where its media come from (:class:`ModalityFeed`), and a file
played at its own pace through a bounded queue (:class:`PacedFeed`).

A file replayed in real time behaves like a live device: a feeder thread releases each
item when the wall clock reaches its media time (an audio block at its end, as a
microphone hands over a block once it is recorded) into a bounded queue; when the worker
falls behind, the oldest item is dropped and counted, never queued without bound.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

_POLL_S = 0.05


class DropOldestQueue:
    """A bounded FIFO between one producer and one consumer thread; full -> oldest dropped.

    Parameters
    ----------
    max_items : int
        Items kept at most.
    """

    def __init__(self, max_items: int):
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self._items: deque = deque()
        self._max_items = int(max_items)
        self._changed = threading.Condition()
        self._closed = False
        self.n_dropped = 0

    def put(self, item) -> None:
        """Add an item, dropping the oldest when full."""
        with self._changed:
            if len(self._items) >= self._max_items:
                self._items.popleft()
                self.n_dropped += 1
            self._items.append(item)
            self._changed.notify()

    def close(self) -> None:
        """No more items: the consumer ends once the queue is empty."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def __iter__(self) -> Iterator:
        while True:
            with self._changed:
                while not self._items and not self._closed:
                    self._changed.wait(_POLL_S)
                if not self._items:
                    return
                item = self._items.popleft()
            yield item


class PacedFeed:
    """Items of ``source`` released at wall-clock ``session_start_s + due_s(item)``.

    Parameters
    ----------
    source : iterable
        Items in time order (video frames, audio blocks).
    due_s : callable
        Media time at which an item becomes available, seconds.
    session_start_s : float
        ``time.monotonic()`` of media time 0.
    max_items : int
        Queue bound (items kept for a slow worker).

    Iterating gives the items; an exception of the source is raised there, after the
    items read before it.
    """

    def __init__(
        self,
        source: Iterable,
        due_s: Callable[[object], float],
        session_start_s: float,
        max_items: int,
    ):
        self._source = source
        self._due_s = due_s
        self._start_s = session_start_s
        self._queue = DropOldestQueue(max_items)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="paced-feed", daemon=True)
        self._thread.start()

    @property
    def n_dropped(self) -> int:
        """Items dropped because the worker fell behind."""
        return self._queue.n_dropped

    def _run(self) -> None:
        try:
            for item in self._source:
                wait_s = self._start_s + self._due_s(item) - time.monotonic()
                if wait_s > 0 and self._stop.wait(wait_s):
                    break
                if self._stop.is_set():
                    break
                self._queue.put(item)
        except BaseException as error:  # handed to the consumer
            self._error = error
        finally:
            self._queue.close()

    def __iter__(self) -> Iterator:
        yield from self._queue
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop reading the source and end the iteration."""
        self._stop.set()
        self._queue.close()
        self._thread.join(timeout=2.0)


@dataclass
class ModalityFeed:
    """Where one worker's media come from.

    Attributes
    ----------
    open : callable
        ``open(start_s)`` returns an iterable of items (``VideoFrame`` or ``AudioBlock``),
        with ``stop()`` or ``close()``; ``start_s`` is the ``time.monotonic()`` of media
        time 0 in a real-time session, else None. Called again to reopen a failed live
        device. Raises ``StreamerError`` on failure.
    reopen : bool
        Try to reopen the source after a failure (live devices) instead of ending.
    close : callable, optional
        Releases what ``open`` holds before it is first called (a device opened early).
    """

    open: Callable[[float | None], Iterable]
    reopen: bool = False
    close: Callable[[], None] | None = None
