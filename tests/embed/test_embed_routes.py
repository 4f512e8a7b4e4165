"""POST /v1/embed and GET /v1/embed/models over HTTP (in-process app): results, and refusals in the problem shape."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from lakehouse.embed import HashingEmbedder, LocalEmbedder
from tests.asgi import AppClient
from tests.embed.conftest import FakeEndpoint
from tests.server.test_error_shape import assert_problem


def test_embed_returns_vectors_in_order(make_client: Callable[..., AppClient]) -> None:
    client = make_client(embed={"provider": "hashing", "hashing_dim": 32})
    response = client.post("/v1/embed", json={"texts": ["red apple", "green pear", "red apple"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "hashing-32" and body["dim"] == 32 and body["count"] == 3 and body["cached"] == 0
    expected = HashingEmbedder(32).embed(["red apple", "green pear", "red apple"])
    assert np.allclose(np.asarray(body["vectors"], dtype=np.float32), expected)
    assert client.post("/v1/embed", json={"texts": ["green pear"]}).json()["cached"] == 1
    assert client.get("/v1/embed/models").json() == {"default": "hashing-32", "models": ["hashing-32"]}


def test_embed_refusals(make_client: Callable[..., AppClient], openai_endpoint: FakeEndpoint) -> None:
    client = make_client(embed={"provider": "hashing", "max_texts": 3})
    cases = [
        ({"texts": []}, 422, "empty_batch", ["texts"]),
        ({"texts": ["a", "b", "c", "d"]}, 413, "batch_too_large", ["texts"]),
        ({"texts": ["a", "", " "]}, 422, "invalid_text", ["texts[1]", "texts[2]"]),
        ({"texts": ["a", None]}, 422, "type", ["texts[1]"]),
        ({"texts": ["a"], "model": "nope"}, 422, "unknown_model", ["model"]),
    ]
    for body, status, kind, fields in cases:
        response = client.post("/v1/embed", json=body)
        assert_problem(response, status, kind)
        assert [e["field"] for e in response.json()["errors"]] == fields, body
    assert_problem(client.post("/v1/embed", json={"texts": "a"}), 422)
    unset = make_client(embed={"provider": "openai"})
    assert_problem(unset.post("/v1/embed", json={"texts": ["a"]}), 503, "embedder_unavailable")
    failing = make_client(embed={"provider": "openai", "openai": {"base_url": openai_endpoint.url, "model": "m"}})
    openai_endpoint.fail_with = 500
    assert_problem(failing.post("/v1/embed", json={"texts": ["a"]}), 502, "embedder_failed")


def test_a_full_model_queue_is_503_overloaded_with_retry_after(
    make_client: Callable[..., AppClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local model's batcher holds at most embed.max_queue waiting texts: one more request is refused at once
    (and nothing is cached for it); background work would wait instead."""
    entered, release = threading.Event(), threading.Event()

    def held(self: LocalEmbedder, texts: list[str]) -> np.ndarray:
        entered.set()
        release.wait(10)
        return np.full((len(texts), 4), 0.5, dtype=np.float32)

    monkeypatch.setattr(LocalEmbedder, "_encode", held)
    client = make_client(embed={"provider": "local", "max_queue": 1})
    lakehouse = client.lakehouse
    assert lakehouse is not None
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(lakehouse.embed, ["in the model"])
        assert entered.wait(10)
        waiting = pool.submit(lakehouse.embed, ["queued behind it"])
        batcher = lakehouse.embeddings.default().batcher  # type: ignore[attr-defined]
        while batcher.queued < 1:
            time.sleep(0.005)
        response = client.post("/v1/embed", json={"texts": ["one too many"]})
        release.set()
        assert running.result(10).vectors.shape == (1, 4) and waiting.result(10).vectors.shape == (1, 4)
    assert_problem(response, 503, "overloaded")
    assert response.headers["Retry-After"] == "1"
    assert client.post("/v1/embed", json={"texts": ["one too many"]}).json()["cached"] == 0  # not cached by the 503
