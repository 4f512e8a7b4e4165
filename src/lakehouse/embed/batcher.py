"""Dynamic batching in front of a local model: concurrent callers' texts go through the model together, interactive
work first, on one thread of the model's own at a lower CPU priority.

- Callers block in ``submit`` until their vectors are ready. Each forward pass takes up to ``max_batch`` texts
  from whatever is queued; texts that arrive while a pass runs go together in the next one (and, with
  ``max_wait_ms``, a pass waits that long for more before it starts).
- Two queues. Interactive texts (a search's query, ``POST /v1/embed``) are always taken first. Background texts
  (embedding new memory content after a write) run in small passes of at most ``background_chars`` characters,
  so an interactive text never waits behind more than one such pass: background work yields between passes.
- Bounded. At most ``max_queue`` interactive texts wait; past it ``submit`` raises ``Overloaded`` (503 with
  ``Retry-After``) at once, never an unbounded wait; a request of more texts than the limit is still admitted
  when nothing else waits. Background callers wait for room instead (at most ``max_queue`` texts of theirs queue),
  and so may an interactive caller that asks to (a search embedding the memories it reads that have no vector
  yet); the smallest interactive jobs are taken first, so a query's one text never waits behind such a bulk.
- The thread is niced (``nice``, +10 by default: about a tenth of a core's share against a thread that wants the
  CPU). The thread pools a model library starts from it (ONNX Runtime's, torch's) inherit that priority, so
  routes that need no model (``/health``, SQL, validation) are not slowed by it. The model is loaded on it too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakehouse.embed.providers import Vectors
from lakehouse.errors import Overloaded

Forward = Callable[[list[str]], Vectors]

_log = logging.getLogger("lakehouse.embed")


@dataclass(eq=False)
class _Job:
    texts: list[str]
    background: bool
    refusable: bool = True  # counted against max_queue (an interactive caller that did not ask to wait)
    taken: int = 0  # texts handed to a pass so far
    done: int = 0  # texts whose vectors are in
    rows: list[Vectors | None] = field(default_factory=list)
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.rows = [None] * len(self.texts)


@dataclass
class BatcherStats:
    """What the batcher has done since it started (for tests, benchmarks and metrics)."""

    passes: int = 0
    texts: int = 0
    background_passes: int = 0
    largest_pass: int = 0
    refused: int = 0


class Batcher:
    def __init__(
        self,
        forward: Forward,
        *,
        name: str = "lakehouse-embed-model",
        max_batch: int = 64,
        max_wait_ms: float = 0.0,
        max_queue: int = 256,
        background_chars: int = 2048,
        nice: int = 10,
    ) -> None:
        self._forward = forward
        self._name = name
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.background_chars = background_chars
        self._nice = nice
        self._interactive: deque[_Job] = deque()
        self._background: deque[_Job] = deque()
        self._queued = 0  # interactive texts not yet taken by a pass, of callers that are refused past max_queue
        self._queued_waiting = 0  # interactive texts of callers that wait instead
        self._queued_background = 0
        self._calls: deque[tuple[Callable[[], Any], Future[Any]]] = deque()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.stats = BatcherStats()

    @property
    def queued(self) -> int:
        """Interactive texts waiting for a pass."""
        return self._queued + self._queued_waiting

    def submit(self, texts: list[str], *, background: bool = False, wait: bool = False) -> Vectors:
        """The vectors of ``texts`` (float32 rows, in order), computed on the model's thread with others' texts.
        ``background``: after every interactive text, in small passes. ``wait``: an interactive caller that is
        never refused (a search's own missing vectors): it is not counted against ``max_queue``, and smaller jobs
        go before it."""
        if not texts:
            raise ValueError("no texts")
        if threading.current_thread() is self._thread:  # a nested call from the model's own thread
            return self._forward(texts)
        job = _Job(list(texts), background, refusable=not (background or wait))
        with self._changed:
            if self._closed:
                raise RuntimeError("the embedder is closed")
            if background:
                self._changed.wait_for(
                    lambda: (
                        self._closed
                        or self._queued_background == 0
                        or self._queued_background + len(texts) <= self.max_queue
                    )
                )
                if self._closed:
                    raise RuntimeError("the embedder is closed")
                self._background.append(job)
                self._queued_background += len(texts)
            elif not job.refusable:
                self._interactive.append(job)
                self._queued_waiting += len(texts)
            else:
                if self._queued and self._queued + len(texts) > self.max_queue:
                    self.stats.refused += 1
                    raise Overloaded(
                        f"the embedder has {self._queued} texts waiting; retry in a moment",
                        field="input",
                        headers={"Retry-After": "1"},
                    )
                self._interactive.append(job)
                self._queued += len(texts)
            self._start()
            self._changed.notify_all()
        job.finished.wait()
        if job.error is not None:
            raise job.error
        return np.stack([row for row in job.rows if row is not None]).astype(np.float32, copy=False)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model's thread, before any queued pass (a load: the thread pools a library starts there
        inherit its priority), and return its result or raise its exception."""
        if threading.current_thread() is self._thread:
            return fn()
        done: Future[Any] = Future()
        with self._changed:
            if self._closed:
                raise RuntimeError("the embedder is closed")
            self._calls.append((fn, done))
            self._start()
            self._changed.notify_all()
        return done.result()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    # -- the model's thread ---------------------------------------------------------------------------------------

    def _take(self) -> tuple[list[tuple[_Job, int, int]], bool]:
        """The next pass: (job, start, end) slices, and whether it is background work. Called with the lock held."""
        budget_texts = self.max_batch
        if self._interactive:  # the smallest jobs first: a query's one text never waits behind a bulk of them
            queue = deque(sorted(self._interactive, key=lambda job: len(job.texts) - job.taken))
            budget_chars, background = None, False
        else:
            queue, budget_chars, background = self._background, self.background_chars, True
        slices: list[tuple[_Job, int, int]] = []
        count = chars = 0
        while queue and count < budget_texts:
            job = queue[0]
            start = end = job.taken
            while end < len(job.texts) and count < budget_texts:
                size = len(job.texts[end])
                if budget_chars is not None and count and chars + size > budget_chars:
                    break
                chars += size
                count += 1
                end += 1
            if end > start:
                slices.append((job, start, end))
                job.taken = end
                if job.background:
                    self._queued_background -= end - start
                elif job.refusable:
                    self._queued -= end - start
                else:
                    self._queued_waiting -= end - start
            if job.taken == len(job.texts):
                queue.popleft()
                if not background:
                    self._interactive.remove(job)
            if end < len(job.texts) or (budget_chars is not None and chars >= budget_chars):
                break
        return slices, background

    def _run(self) -> None:
        if self._nice:
            with contextlib.suppress(OSError, AttributeError):  # lowering one's own priority needs no privilege
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        while True:
            try:
                if not self._step():
                    return
            except Exception as exc:  # a bug here must not leave callers waiting forever: they get the error
                _log.exception("the embedding batcher failed")
                with self._changed:
                    for job in (*self._interactive, *self._background):
                        job.error = exc
                        job.finished.set()
                    self._interactive.clear()
                    self._background.clear()
                    self._queued = self._queued_waiting = self._queued_background = 0
                    self._changed.notify_all()

    def _step(self) -> bool:
        """Run one call or one pass; False when closed with nothing left."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or bool(self._calls or self._interactive or self._background))
            if self._calls:
                fn, done = self._calls.popleft()
            else:
                fn = None
                if self._closed and not (self._interactive or self._background):
                    return False
                if self.max_wait and self._interactive and self._queued < self.max_batch:
                    self._changed.wait_for(lambda: self._queued >= self.max_batch, self.max_wait)
                slices, background = self._take()
                self._changed.notify_all()  # room for background callers
        if fn is not None:
            if done.set_running_or_notify_cancel():
                try:
                    done.set_result(fn())
                except BaseException as exc:
                    done.set_exception(exc)
            return True
        self._pass(slices, background)
        return True

    def _pass(self, slices: list[tuple[_Job, int, int]], background: bool) -> None:
        texts = [text for job, start, end in slices for text in job.texts[start:end]]
        try:
            vectors = self._forward(texts)
        except BaseException as exc:  # every caller in the pass gets the error; the thread goes on
            for job, _, _ in slices:
                job.error = exc
                job.finished.set()
            return
        self.stats.passes += 1
        self.stats.texts += len(texts)
        self.stats.background_passes += background
        self.stats.largest_pass = max(self.stats.largest_pass, len(texts))
        row = 0
        for job, start, end in slices:
            for index in range(start, end):
                job.rows[index] = vectors[row]
                row += 1
            job.done += end - start
            if job.done == len(job.texts) and job.error is None:
                job.finished.set()

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._changed:
            self._closed = True
            thread = self._thread
            self._changed.notify_all()
        if thread is not None:
            thread.join(timeout=60)
