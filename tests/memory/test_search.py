"""Memory search with the real local embedding model: paraphrases found by meaning, words by BM25, the two fused;
retired and superseded left out and counted; as_of answers what the system knew then; valid_at, kinds, tags and
metadata filters narrow; forgotten content leaves the embedding cache."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.memory import AddMemory, ForgetMemory, MemorySearch, RetireMemory, ReviseMemory, SearchHit, SearchResults
from lakehouse.memory.ranking import bm25, fuse, fuse_relative, ranked

WEIGHTS = {"semantic": 0.75, "keyword": 0.25}

SCOPE = {"tenant": "acme", "user_id": "u1"}


@pytest.fixture
def lh(opsdb_url: str, tmp_path: Path) -> Iterator[Lakehouse]:
    settings = Settings.model_validate({"data_dir": tmp_path / "data", "opsdb": {"url": opsdb_url}})
    with Lakehouse(settings) as lakehouse:
        yield lakehouse


def _ids(answer: dict[str, object]) -> list[str]:
    return [r.id for r in answer.results]  # type: ignore[index, union-attr]


def test_search_fuses_meaning_and_words_and_hides_what_is_no_longer_true(lh: Lakehouse) -> None:
    store = lh.memory
    tea = store.add(
        AddMemory(
            scope=SCOPE,
            kind="fact",
            content="The user drinks green tea every morning",
            tags=["food"],
            metadata={"source": "chat"},
        )
    )
    dog = store.add(
        AddMemory(
            scope=SCOPE,
            kind="fact",
            content="The user has a dog called Rex",
            tags=["pets"],
            metadata={"source": "form"},
        )
    )
    store.add(
        AddMemory(
            scope=SCOPE, kind="fact", content="Invoices are sent on the first of the month", metadata={"source": "crm"}
        )
    )
    store.add(
        AddMemory(scope={"tenant": "acme", "user_id": "u2"}, kind="fact", content="The user drinks black coffee")
    )  # another scope
    answer = store.search(MemorySearch(scope=SCOPE, query="what beverage does the customer like in the morning?", k=2))
    assert answer.semantic is True and _ids(answer)[0] == tea.id  # found by meaning: no shared content word
    top = answer.results[0]
    assert top.matched.semantic.rank == 1 and top.score > answer.results[1].score
    words = store.search(MemorySearch(scope=SCOPE, query="Rex", k=3))
    assert _ids(words)[0] == dog.id and words.results[0].matched.keyword.terms == ["rex"]
    assert _ids(store.search(MemorySearch(scope=SCOPE, query="tea", tags=["pets"]))) == [dog.id]
    assert _ids(store.search(MemorySearch(scope=SCOPE, query="anything", filter={"source": "chat"}))) == [tea.id]
    assert all(
        r.scope.to_dict() == SCOPE for r in store.search(MemorySearch(scope=SCOPE, query="coffee", k=10)).results
    )

    before = datetime.now(UTC)
    time.sleep(0.01)
    coffee = store.revise(tea.id, ReviseMemory(scope=SCOPE, content="The user switched to black coffee in the morning"))
    store.retire(dog.id, RetireMemory(scope=SCOPE, reason="the dog was a cat"))
    now = store.search(MemorySearch(scope=SCOPE, query="morning drink", k=3))
    assert tea.id not in _ids(now) and dog.id not in _ids(now) and coffee.id in _ids(now)
    assert now.suppressed >= 1
    assert tea.id in _ids(store.search(MemorySearch(scope=SCOPE, query="morning drink", k=3, include_superseded=True)))
    assert dog.id in _ids(store.search(MemorySearch(scope=SCOPE, query="dog", k=3, include_retired=True)))
    then = store.search(
        MemorySearch(scope=SCOPE, query="morning drink", k=3, as_of=before)
    )  # what was known before the revise
    assert tea.id in _ids(then) and coffee.id not in _ids(then)
    assert next(r for r in then.results if r.id == tea.id).content == "The user drinks green tea every morning"
    assert (
        store.search(MemorySearch(scope=SCOPE, query="morning drink", as_of=datetime(2000, 1, 1, tzinfo=UTC))).results
        == []
    )


def test_valid_at_kinds_and_refusals(lh: Lakehouse) -> None:
    store = lh.memory
    old = store.add(
        AddMemory(scope=SCOPE, kind="fact", content="The office is in Berlin", valid_until="2025-06-01T00:00:00Z")
    )
    new = store.add(
        AddMemory(scope=SCOPE, kind="fact", content="The office is in Munich", valid_from="2025-06-01T00:00:00Z")
    )
    how = store.add(AddMemory(scope=SCOPE, kind="playbook", content="How to move an office: pack, ship, unpack"))
    assert _ids(
        store.search(MemorySearch(scope=SCOPE, query="office", valid_at="2024-01-01T00:00:00Z", kinds=["fact"]))
    ) == [old.id]
    assert _ids(
        store.search(MemorySearch(scope=SCOPE, query="office", valid_at="2026-01-01T00:00:00Z", kinds=["fact"]))
    ) == [new.id]
    assert _ids(store.search(MemorySearch(scope=SCOPE, query="office", kinds=["playbook"]))) == [how.id]
    with pytest.raises(RequestValidationFailed) as raised:
        store.search(MemorySearch(scope=SCOPE, query="", k=0, kinds=["opinion"], as_of="soon", fusion="max", alpha=1.5))
    assert {e.field for e in raised.value.errors} == {"query", "k", "kinds[0]", "as_of", "fusion", "alpha"}


def test_forget_removes_the_content_from_the_embedding_cache(lh: Lakehouse) -> None:
    secret = "Card number 4111 1111 1111 1111 expires 12/29"
    memory = lh.memory.add(AddMemory(scope=SCOPE, kind="fact", content=secret))
    assert lh.memory.flush(timeout=120)  # the content is embedded after the ADD returns
    with lh.opsdb.connect() as conn:
        cached = conn.execute(sa.text("SELECT count(*) FROM embedding_cache")).scalar_one()
    assert cached >= 1
    lh.memory.forget(memory.id, ForgetMemory(scope=SCOPE, reason="asked"))
    assert lh.memory.search(MemorySearch(scope=SCOPE, query="card number")).results == []
    with lh.opsdb.connect() as conn:
        left = conn.execute(
            sa.text("SELECT count(*) FROM embedding_cache WHERE text_sha256 = :h"),
            {"h": hashlib.sha256(secret.encode()).hexdigest()},
        ).scalar_one()
    assert left == 0


def test_bm25_and_fusion() -> None:
    scores = bm25("green tea", ["green tea green", "black tea", "coffee"])
    assert scores[0][0] > scores[1][0] > 0 == scores[2][0] and scores[0][1] == ["green", "tea"]
    fused = fuse([np.array([0, 1, 2]), np.array([2, 0])], 4)
    assert fused[0][0] == pytest.approx(1 / 61 + 1 / 62) and ranked(fused) == [0, 2, 1]  # 3 is in no ranking
    relative = fuse_relative(
        {
            "semantic": (np.array([0, 1, 2]), np.array([0.9, 0.5, 0.7])),
            "keyword": (np.array([1, 2]), np.array([8.0, 4.0])),
        },
        WEIGHTS,
        3,
    )
    assert relative[0].tolist() == pytest.approx([0.75, 0.25, 0.375])  # scaled 0-1 per list, then weighted
    words_alone = fuse_relative(
        {"semantic": (np.array([]), np.array([])), "keyword": (np.array([3]), np.array([2.0]))}, WEIGHTS, 5
    )
    assert ranked(words_alone) == [3] and words_alone[0][3] == 1.0  # words alone: their whole weight
    tied = fuse_relative({"keyword": (np.array([4, 1, 2]), np.array([2.0, 2.0, 1.0]))}, WEIGHTS, 5)
    assert ranked(tied) == [1, 4, 2]  # equal scores in candidate (id) order


def test_relative_fusion_lets_meaning_decide_when_words_match_only_a_name(lh: Lakehouse) -> None:
    store = lh.memory
    facts = [
        "Alice works as a nurse at the Lisbon office.",
        "Alice drives a red electric car.",
        "Alice is allergic to peanuts.",
        "Alice prefers to be contacted by email.",
        "Alice's favourite cuisine is Thai.",
    ]
    made = {text: store.add(AddMemory(scope=SCOPE, kind="fact", content=text)).id for text in facts}
    question = "Which food must Alice stay away from?"
    answer = store.search(MemorySearch(scope=SCOPE, query=question, k=5))
    assert _ids(answer)[0] == made["Alice is allergic to peanuts."]
    for hit in answer.results:  # each score is the two scaled parts, weighted 0.75 and 0.25
        expected = 0.75 * _scaled(answer, hit, "semantic", "similarity") + 0.25 * _scaled(
            answer, hit, "keyword", "score"
        )
        assert hit.score == pytest.approx(expected, abs=1e-4)
    rrf = store.search(MemorySearch(scope=SCOPE, query=question, k=5, fusion="rrf"))
    assert len(rrf.results) == 5 and all(r.score < 2 / 61 for r in rrf.results)


def _scaled(answer: SearchResults, hit: SearchHit, part: str, field: str) -> float:
    """The hit's score in one list scaled 0-1 over the answer's hits in that list (0 when it is not in it)."""
    scores = [getattr(getattr(r.matched, part), field) for r in answer.results if getattr(r.matched, part)]
    if getattr(hit.matched, part) is None:
        return 0.0
    own = getattr(getattr(hit.matched, part), field)
    return 1.0 if max(scores) == min(scores) else float((own - min(scores)) / (max(scores) - min(scores)))


def test_content_is_embedded_after_the_write_and_a_forget_right_after_leaves_no_embedding(lh: Lakehouse) -> None:
    def cached(text: str) -> int:
        with lh.opsdb.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM embedding_cache WHERE text_sha256 = :h"),
                    {"h": hashlib.sha256(text.encode()).hexdigest()},
                ).scalar_one()
            )

    texts = [f"The customer in room {n} asked for a late checkout" for n in range(40)]
    made = [
        lh.memory.add(AddMemory(scope=SCOPE, kind="fact", content=text)) for text in texts
    ]  # each returns before its embedding is made
    assert lh.memory.flush(timeout=120) and all(cached(t) == 1 for t in texts)
    secret = "Passport number P-99812 belongs to the guest in room 7"
    memory = lh.memory.add(AddMemory(scope=SCOPE, kind="fact", content=secret))
    lh.memory.forget(
        memory.id, ForgetMemory(scope=SCOPE, reason="asked")
    )  # while its embedding may still be in the making
    assert lh.memory.flush(timeout=120) and cached(secret) == 0
    found = lh.memory.search(MemorySearch(scope=SCOPE, query="who wants to leave the hotel later?", k=3))
    assert found.semantic is True and found.results[0].id in {m.id for m in made}


def test_embed_on_write_inline_and_off(tmp_path: Path) -> None:
    for mode, expected in (("inline", 1), ("off", 0)):
        settings = Settings.model_validate(
            {"data_dir": tmp_path / mode, "memory": {"embed_on_write": mode}, "embed": {"provider": "hashing"}}
        )
        with Lakehouse(settings) as lakehouse:
            lakehouse.memory.add(AddMemory(scope=SCOPE, kind="fact", content="written and embedded, or not"))
            with lakehouse.opsdb.connect() as conn:  # no flush: inline has embedded before the ADD returned
                assert conn.execute(sa.text("SELECT count(*) FROM embedding_cache")).scalar_one() == expected
            assert (
                lakehouse.memory.search(MemorySearch(scope=SCOPE, query="embedded")).semantic is True
            )  # a search embeds what it needs
