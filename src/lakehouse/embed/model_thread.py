"""One thread of its own for the local model's work, at a lower CPU priority than request handling.

A forward pass keeps every core it is given busy. Run on the threads that serve requests, it takes the CPU from
routes that need no model at all (``/health``, SQL, validation): under load they waited behind it. Here every
load and forward pass runs on one thread made for it, niced (``embed.model_nice``, +10 by default: the kernel then
gives it about a tenth of a core's share against a normal thread that wants the CPU). The threads torch starts for
its own parallel work are started from this thread and inherit its priority. Callers wait for their result; the
queue in front is bounded by the embedding gate (``embed.max_queue``), never here.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class ModelThread:
    def __init__(self, name: str, nice: int) -> None:
        self._name = name
        self._nice = nice
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model's thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread:  # already there (a nested call)
            return fn(*args)
        done: Future[T] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._jobs.put((fn, args, done))
        return done.result()

    def _run(self) -> None:
        if self._nice:
            with contextlib.suppress(OSError, AttributeError):  # lowering one's own priority needs no privilege
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            fn, args, done = job
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(fn(*args))
            except BaseException as exc:
                done.set_exception(exc)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(_STOP)
            thread.join(timeout=60)
