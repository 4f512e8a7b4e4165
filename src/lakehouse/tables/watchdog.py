"""One thread that runs functions when their time comes: query time limits, closing idle read transactions.

A thread per query (or per timer) costs more than the queries it guards; one heap of deadlines and one thread
serve them all."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Watchdog:
    """Calls each registered function when its time runs out, unless it was forgotten first."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._live: set[int] = set()
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, fn: Callable[[], object]) -> int:
        """Call ``fn`` in the watchdog's thread after ``seconds``; returns an id for ``forget``."""
        with self._wake:
            ident = next(self._ids)
            heapq.heappush(self._heap, (time.monotonic() + seconds, ident, fn))
            self._live.add(ident)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lakehouse-watchdog", daemon=True)
                self._thread.start()
            self._wake.notify()
        return ident

    def forget(self, ident: int) -> bool:
        """Never call the function registered as ``ident``. True when it had not been called yet: after a True,
        it never will be; after a False, it was called or is being called."""
        with self._wake:
            live = ident in self._live
            self._live.discard(ident)
            return live

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                due, ident, fn = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(ident)
            with contextlib.suppress(Exception):
                fn()
