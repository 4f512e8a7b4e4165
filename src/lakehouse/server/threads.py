"""Blocking work of requests on worker threads that yield the CPU to the event loop.

The event loop parses, routes and answers every request, ``/health`` included; the worker threads run what blocks
(SQL, the operational DB, validation). When the CPU is saturated, every runnable thread gets an equal share, so with
dozens of busy workers the loop got a sliver and even ``/health`` waited. Each worker thread lowers its own priority
once, the first time it runs request work here (``server.worker_nice``, +5 by default; lowering needs no
privilege), so the kernel serves the loop first, the workers next and the local model (``embed.model_nice``) last.
``run_in_threadpool`` is Starlette's, with that step added; the services import it from here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool as _starlette_run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")

_state = threading.local()
_nice = 5


def set_worker_nice(nice: int) -> None:
    """The priority worker threads take from now on (a nice value; 0 leaves them as they are)."""
    global _nice
    _nice = nice


def _lowered(fn: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        if _nice and getattr(_state, "nice", 0) < _nice:
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _nice)
            _state.nice = _nice
        return fn(*args, **kwargs)

    return run


async def run_in_threadpool(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    return await _starlette_run_in_threadpool(_lowered(fn), *args, **kwargs)
