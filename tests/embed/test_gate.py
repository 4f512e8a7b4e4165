"""The embedding gate (a full queue is 503 overloaded for a request, a wait for background work) and the model's
own low-priority thread."""

from __future__ import annotations

import os
import threading
import time

import pytest

from lakehouse.embed.embeddings import _Gate
from lakehouse.embed.model_thread import ModelThread
from lakehouse.errors import Overloaded


def test_a_full_queue_refuses_requests_and_holds_background_work() -> None:
    gate = _Gate(limit=4)
    with gate.admit(3, wait=False):
        with gate.admit(1, wait=False):  # fits: 4 of 4
            pass
        with pytest.raises(Overloaded) as refused, gate.admit(2, wait=False):
            pass
        assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
        waited: list[float] = []

        def background() -> None:
            started = time.monotonic()
            with gate.admit(2, wait=True):
                waited.append(time.monotonic() - started)

        thread = threading.Thread(target=background)
        thread.start()
        time.sleep(0.2)
        assert not waited  # still queued behind the first request
    thread.join(timeout=10)
    assert waited and waited[0] >= 0.15
    with gate.admit(10, wait=False):  # more than the limit alone: admitted when nothing else waits
        assert gate.queued == 10
    assert gate.queued == 0


def test_the_model_runs_on_its_own_niced_thread() -> None:
    worker = ModelThread("test-model", nice=7)
    try:
        seen = worker.call(lambda: (threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
        assert seen[0] == "test-model"
        assert seen[1] >= 7  # lowered (or already lower)
        with pytest.raises(ZeroDivisionError):
            worker.call(lambda: 1 / 0)
        assert worker.call(lambda x: x * 2, 21) == 42  # the thread survives an exception
    finally:
        worker.close()
