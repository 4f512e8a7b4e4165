"""The dynamic batcher in front of the local model: concurrent callers share forward passes, interactive texts go
before background ones (which run in small passes), a full queue is 503 ``overloaded`` for a request and a wait for
background work, an error reaches exactly the callers of its pass, and the model's thread runs niced."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lakehouse.embed.batcher import Batcher
from lakehouse.errors import Overloaded


class Model:
    """A stand-in forward pass: each text's vector is [len(text), first char code]; passes are recorded and can be
    held at a gate."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_on: str | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.passes.append(list(texts))
        self.entered.set()
        self.gate.wait(10)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("the model broke")
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def _hold(model: Model, batcher: Batcher) -> threading.Thread:
    """Start a pass that stays in the model until ``model.gate`` is set."""
    model.gate.clear()
    model.entered.clear()
    holder = threading.Thread(target=batcher.submit, args=(["held"],))
    holder.start()
    assert model.entered.wait(10)
    return holder


def test_concurrent_callers_share_one_forward_pass_and_get_their_own_rows() -> None:
    model = Model()
    batcher = Batcher(model, max_batch=64, nice=0)
    try:
        holder = _hold(model, batcher)
        texts = [chr(ord("a") + i) * (i + 1) for i in range(16)]
        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(batcher.submit, [text]) for text in texts]
            deadline = time.monotonic() + 10
            while batcher.queued < 16 and time.monotonic() < deadline:
                time.sleep(0.005)
            model.gate.set()
            rows = [future.result(timeout=10) for future in futures]
        holder.join(10)
        assert len(model.passes) == 2 and sorted(model.passes[1]) == sorted(texts)  # all 16 in one pass
        for text, row in zip(texts, rows, strict=True):
            assert row.tolist() == [[len(text), ord(text[0])]]
        assert batcher.stats.largest_pass == 16
    finally:
        model.gate.set()
        batcher.close()


def test_a_pass_is_at_most_max_batch_and_a_long_request_keeps_its_order() -> None:
    model = Model()
    batcher = Batcher(model, max_batch=4, nice=0)
    try:
        texts = [f"{chr(97 + i % 26)}{'x' * i}" for i in range(10)]
        rows = batcher.submit(texts)
        assert [len(p) for p in model.passes] == [4, 4, 2]
        assert rows[:, 0].tolist() == [len(t) for t in texts]
    finally:
        batcher.close()


def test_interactive_texts_wait_behind_at_most_one_small_background_pass() -> None:
    model = Model()
    batcher = Batcher(model, max_batch=64, background_chars=3000, nice=0)
    try:
        paragraphs = [f"{chr(97 + i % 26)}" + "p" * 999 for i in range(30)]
        model.gate.clear()
        background = threading.Thread(target=batcher.submit, args=(paragraphs,), kwargs={"background": True})
        background.start()
        assert model.entered.wait(10)  # the first background pass is in the model
        query = threading.Thread(target=batcher.submit, args=(["query"],))
        query.start()
        deadline = time.monotonic() + 10
        while batcher.queued < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        model.gate.set()
        query.join(10)
        background.join(10)
        assert [len(p) for p in model.passes[:1]] == [3]  # background passes of at most 3,000 characters
        assert model.passes[1] == ["query"]  # next after the pass that was running
        assert sum(len(p) for p in model.passes) == 31
        assert batcher.stats.background_passes == 10
    finally:
        model.gate.set()
        batcher.close()


def test_a_full_queue_refuses_requests_and_holds_background_work() -> None:
    model = Model()
    batcher = Batcher(model, max_batch=2, max_queue=4, nice=0)
    pool = ThreadPoolExecutor(8)
    try:
        holder = _hold(model, batcher)
        first = pool.submit(batcher.submit, ["aa", "bb", "cc"])
        while batcher.queued < 3:
            time.sleep(0.005)
        fits = pool.submit(batcher.submit, ["dd"])  # 4 of 4
        while batcher.queued < 4:
            time.sleep(0.005)
        with pytest.raises(Overloaded) as refused:
            batcher.submit(["ee"])
        assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
        assert batcher.stats.refused == 1
        background = [pool.submit(batcher.submit, ["b" * 5] * 3, background=True) for _ in range(3)]
        time.sleep(0.1)
        assert not any(f.done() for f in background)  # waiting, not refused
        model.gate.set()
        assert first.result(10).shape == (3, 2) and fits.result(10).shape == (1, 2)
        assert all(f.result(10).shape == (3, 2) for f in background)
        holder.join(10)
        alone = batcher.submit(["x"] * 9)  # more than the limit alone: admitted when nothing else waits
        assert alone.shape == (9, 2)
    finally:
        model.gate.set()
        pool.shutdown()
        batcher.close()


def test_an_error_reaches_the_callers_of_its_pass_and_the_thread_goes_on() -> None:
    model = Model()
    model.fail_on = "boom"
    batcher = Batcher(model, nice=0)
    try:
        with pytest.raises(RuntimeError, match="the model broke"):
            batcher.submit(["fine", "boom"])
        assert batcher.submit(["after"]).tolist() == [[5, ord("a")]]
    finally:
        batcher.close()


def test_the_model_runs_on_its_own_niced_thread() -> None:
    batcher = Batcher(Model(), name="test-model", nice=7)
    try:
        name, priority = batcher.call(lambda: (threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))
        assert name == "test-model" and priority >= 7
        with pytest.raises(ZeroDivisionError):
            batcher.call(lambda: 1 / 0)
        assert batcher.call(lambda: 42) == 42
    finally:
        batcher.close()


def test_a_waiting_bulk_is_never_refused_and_a_query_goes_before_it() -> None:
    model = Model()
    batcher = Batcher(model, max_batch=8, max_queue=4, nice=0)
    pool = ThreadPoolExecutor(4)
    try:
        holder = _hold(model, batcher)
        bulk = pool.submit(batcher.submit, [f"m{i}" for i in range(40)], wait=True)  # more than max_queue
        while batcher.queued < 40:
            time.sleep(0.005)
        query = pool.submit(batcher.submit, ["query"])  # admitted: the bulk does not count against the limit
        while batcher.queued < 41:
            time.sleep(0.005)
        model.gate.set()
        assert query.result(10).shape == (1, 2) and bulk.result(10).shape == (40, 2)
        holder.join(10)
        assert "query" in model.passes[1]  # in the first pass after the held one, not behind five passes of the bulk
    finally:
        model.gate.set()
        pool.shutdown()
        batcher.close()
