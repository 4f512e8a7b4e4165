"""No input crashes the process, poisons what others read, or half-writes: each finding of the hardening review
as a request, its answer in the problem shape, and the stores exactly as they were."""

from __future__ import annotations

import io
import logging
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.doctor import run_checks
from tests.asgi import AppClient
from tests.server.test_error_shape import assert_problem

ND = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}
DEEP = 10_000


@pytest.fixture
def app(make_client: Callable[..., AppClient]) -> AppClient:
    return make_client(embed={"provider": "hashing"})


def _memories(app: AppClient) -> int:
    rows = app.post("/v1/sql", json={"sql": "SELECT count(*) FROM memory.memories"}).json()["rows"]
    return int(rows[0][0])


def _snapshot(app: AppClient) -> int:
    assert app.lakehouse is not None
    return app.lakehouse.lake.current_snapshot()


def test_deep_nesting_is_refused_before_any_parser_recurses(app: AppClient) -> None:
    before = _snapshot(app)
    deep_row = ('{"a": ' + "[" * DEEP + "]" * DEEP + "}\n").encode()
    assert_problem(app.post("/v1/datasets/t/ingest?create=true", content=deep_row, headers=ND), 400, "nesting_too_deep")
    deep_doc = b"[" + deep_row.strip() + b"]"
    json_ingest = app.post("/v1/datasets/t/ingest?create=true", content=deep_doc, headers=JSON)
    assert_problem(json_ingest, 400, "nesting_too_deep")
    shallow_but_past = ('{"a": ' + "[" * 70 + "]" * 70 + "}\n").encode()
    assert_problem(
        app.post("/v1/datasets/t/ingest?create=true", content=shallow_but_past, headers=ND), 400, "nesting_too_deep"
    )
    nested = "[" * DEEP + "]" * DEEP
    for path, body in [
        ("/v1/memories", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"n": ' + nested + "}}"),
        ("/v1/validate", '{"schema": {"type": "array"}, "payload": ' + nested + "}"),
        ("/v1/sql", '{"sql": "SELECT 1", "params": ' + nested + "}"),
    ]:
        answer = app.post(path, content=body.encode(), headers=JSON)
        assert_problem(answer, 400, "nesting_too_deep")
    assert _snapshot(app) == before and _memories(app) == 0
    assert app.get("/health").status_code == 200  # the process is alive


@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("tags", '{"scope": {"tenant": "a"}, "content": "x", "tags": ["\\ud800"]}'),
        ("metadata key", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"\\udc00": 1}}'),
        ("content", '{"scope": {"tenant": "a"}, "content": "x\\ud800"}'),
        ("tenant", '{"scope": {"tenant": "\\ud800"}, "content": "x"}'),
        ("NUL", '{"scope": {"tenant": "a"}, "content": "x\\u0000y"}'),
        ("NaN", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"n": NaN}}'),
        ("Infinity", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"n": -Infinity}}'),
        ("1e400", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"n": 1e400}}'),
        ("huge int", '{"scope": {"tenant": "a"}, "content": "x", "metadata": {"n": 1' + "0" * 30 + "}}"),
    ],
)
def test_a_bad_memory_writes_nothing_and_poisons_nothing(app: AppClient, where: str, body: str) -> None:
    good = app.post("/v1/memories", json={"scope": {"tenant": "a"}, "content": "fine"})
    assert good.status_code == 201
    answer = app.post("/v1/memories", content=body.encode(), headers=JSON)
    assert answer.status_code in (400, 422), answer.text
    assert_problem(answer, answer.status_code, answer.json()["errors"][0]["kind"])
    assert answer.json()["errors"][0]["kind"] in (
        "lone_surrogate",
        "nul_character",
        "non_finite_number",
        "integer_out_of_range",
    )
    assert _memories(app) == 1  # nothing committed, and memory.* still reads for everyone
    assert app.get("/v1/memories", params={"tenant": "a"}).status_code == 200
    search = app.post("/v1/memories/search", json={"scope": {"tenant": "a"}, "query": "fine"})
    assert search.status_code == 200 and search.json()["results"][0]["content"] == "fine"


def test_lone_surrogates_everywhere_are_400(app: AppClient) -> None:
    for path, body in [
        ("/v1/memories/search", '{"scope": {"tenant": "a"}, "query": "\\ud800"}'),
        ("/v1/sql", '{"sql": "SELECT ?", "params": ["\\ud800"]}'),
        ("/v1/sql", '{"sql": "SELECT 1 -- \\udfff"}'),
        ("/v1/validate", '{"schema": {"type": "string"}, "payload": "\\ud800"}'),
        ("/v1/validate", '{"schema": {"type": "object"}, "payload": {"\\ud800": 1}}'),
        ("/v1/embed", '{"input": ["\\ud800"]}'),
        ("/v1/collections", '{"name": "c", "dim": 4, "metric": "\\ud800"}'),
    ]:
        assert_problem(app.post(path, content=body.encode(), headers=JSON), 400, "lone_surrogate")


def test_ids_with_nul_never_reach_the_lake(app: AppClient) -> None:
    assert app.post("/v1/collections", json={"name": "c", "dim": 2}).status_code == 201
    before = _snapshot(app)
    upsert = b'{"points": [{"id": "a\\u0000b", "vector": [1, 0]}]}'
    assert_problem(app.post("/v1/collections/c/upsert", content=upsert, headers=JSON), 400, "nul_character")
    delete = b'{"ids": ["a\\u0000b"]}'
    assert_problem(app.post("/v1/collections/c/delete", content=delete, headers=JSON), 400, "nul_character")
    app.post("/v1/datasets/p/ingest?create=true", content=b"id,name\na,x\n", headers={"content-type": "text/csv"})
    mid = _snapshot(app)
    key_nul = b'{"id": "a\\u0000b", "name": "z"}\n'
    answer = app.post("/v1/datasets/p/ingest?mode=upsert&key=id", content=key_nul, headers=ND)
    assert_problem(answer, 400, "nul_character")
    assert answer.json()["errors"][0]["line"] == 1
    raw_nul = b"id,name\na\x00b,z\n"
    csv = app.post("/v1/datasets/p/ingest?mode=upsert&key=id", content=raw_nul, headers={"content-type": "text/csv"})
    assert_problem(csv, 400, "nul_character")
    assert _snapshot(app) == mid > before
    assert app.post("/v1/sql", json={"sql": "SELECT * FROM p"}).json()["rows"] == [["a", "x"]]


def test_bad_csv_upsert_is_422_and_writes_nothing(app: AppClient) -> None:
    csv = {"content-type": "text/csv"}
    app.post("/v1/datasets/p/ingest?create=true", content=b"id,name\n1,x\n", headers=csv)
    before = _snapshot(app)
    answer = app.post("/v1/datasets/p/ingest?mode=upsert&key=id", content=b"id,name\nzz,y\n", headers=csv)
    assert_problem(answer, 422, "conversion_failed")
    assert _snapshot(app) == before


def test_silent_corruption_is_refused(app: AppClient) -> None:
    before = _snapshot(app)
    mixed = b'{"id": 1, "name": "ada"}\n{"id": 2, "name": {"first": "bob"}}\n{"id": 3, "name": "cy"}\n'
    answer = app.post("/v1/datasets/people/ingest?create=true", content=mixed, headers=ND)
    assert_problem(answer, 422, "mixed_types")
    assert answer.json()["errors"][0]["row"] == 2 and answer.json()["errors"][0]["field"] == "name"
    for body in [b'{"a": NaN}\n', b'{"a": Infinity}\n', b'{"a": -Infinity}\n', b'{"a": 1e400}\n']:
        assert_problem(
            app.post("/v1/datasets/n/ingest?create=true", content=body, headers=ND), 400, "non_finite_number"
        )
    import pyarrow as pa
    import pyarrow.ipc

    table = pa.table({"a": list(range(1000))})
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=500):
            writer.write_batch(batch)
    whole = sink.getvalue()
    arrow = {"content-type": "application/vnd.apache.arrow.stream"}
    cut = whole[: len(whole) - 8]  # both batches, no end-of-stream marker
    assert_problem(app.post("/v1/datasets/a/ingest?create=true", content=cut, headers=arrow), 400, "truncated_input")
    half = app.post("/v1/datasets/a/ingest?create=true", content=whole[: len(whole) // 2], headers=arrow)
    assert half.status_code == 400
    assert _snapshot(app) == before
    ok = app.post("/v1/datasets/a/ingest?create=true", content=whole, headers=arrow)
    assert ok.status_code == 200 and ok.json()["rows_written"] == 1000


def test_blob_keys_any_unicode(app: AppClient) -> None:
    key = "naïve/日本語/ℵ.txt"
    put = app.put(f"/v1/blobs/docs/{key}", content=b"x")
    assert put.status_code == 201, put.text
    assert put.headers["location"] == "/v1/blobs/docs/na%C3%AFve/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E2%84%B5.txt"
    assert app.get(put.headers["location"]).content == b"x"
    nfc, nfd = unicodedata.normalize("NFC", "café"), unicodedata.normalize("NFD", "café")
    app.put(f"/v1/blobs/docs/{nfc}", content=b"composed")
    app.put(f"/v1/blobs/docs/{nfd}", content=b"decomposed")
    assert app.get(f"/v1/blobs/docs/{nfc}").content == b"composed"  # kept as given: two keys
    assert app.get(f"/v1/blobs/docs/{nfd}").content == b"decomposed"
    listed = {item["key"] for item in app.get("/v1/blobs/docs").json()["items"]}
    long_segment = "a/" + "é" * 128
    assert_problem(app.put(f"/v1/blobs/docs/{long_segment}", content=b"x"), 400, "invalid_key")
    assert {item["key"] for item in app.get("/v1/blobs/docs").json()["items"]} == listed


def test_numbers_past_their_columns(app: AppClient) -> None:
    assert_problem(app.get("/v1/schemas/r/versions/9223372036854775808"), 422, "maximum")
    assert_problem(app.delete("/v1/schemas/r/versions/9223372036854775808"), 422, "maximum")
    huge = {"schema": "r@9223372036854775808", "payload": {}}
    assert_problem(app.post("/v1/validate", json=huge), 400, "invalid_name")
    assert_problem(app.post("/v1/validate", json={"schema": "r@²", "payload": {}}), 400, "invalid_name")
    big = b'{"sql": "SELECT ?", "params": [123456789012345678901234567890]}'
    assert_problem(app.post("/v1/sql", content=big, headers=JSON), 422, "integer_out_of_range")


def test_a_failure_after_the_checks_leaves_the_stores_as_they_were(
    app: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.memory import rows
    from lakehouse.tables.ingest import Ingestor

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("injected")

    assert app.post("/v1/memories", json={"scope": {"tenant": "a"}, "content": "kept"}).status_code == 201
    app.post("/v1/datasets/p/ingest?create=true", content=b'{"id": 1}\n', headers=ND)
    before = (_snapshot(app), _memories(app))
    monkeypatch.setattr(rows, "event", broken)
    monkeypatch.setattr(Ingestor, "_write", broken)
    assert_problem(app.post("/v1/memories", json={"scope": {"tenant": "a"}, "content": "lost"}), 500, "internal")
    assert_problem(app.post("/v1/datasets/p/ingest", content=b'{"id": 2}\n', headers=ND), 500, "internal")
    monkeypatch.undo()
    assert (_snapshot(app), _memories(app)) == before
    assert app.post("/v1/sql", json={"sql": "SELECT count(*) FROM p"}).json()["rows"] == [[1]]


def test_spool_leftovers_are_swept_at_start_and_reported(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path / "data"})
    spool = settings.in_data_dir(settings.lake.spool_path)
    spool.mkdir(parents=True)
    dead = spool / "999999999-abc.body"  # no such process
    dead.write_bytes(b"half a body")
    unknown = spool / "stray.body"
    unknown.write_bytes(b"x")
    live = spool / f"{os.getpid()}-def.body"  # this process: in flight, kept
    live.write_bytes(b"in flight")

    from lakehouse.config import LoadedSettings

    checks = {c.name: c for c in run_checks(lambda: LoadedSettings(settings, [], {}))}
    assert not checks["spool"].ok and "2 file(s)" in checks["spool"].detail
    with Lakehouse(settings):
        assert not dead.exists() and not unknown.exists() and live.exists()
    checks = {c.name: c for c in run_checks(lambda: LoadedSettings(settings, [], {}))}
    assert checks["spool"].ok


def test_request_ids_and_methods_and_media_types(app: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    key_like = "lh_" + "A" * 43
    with caplog.at_level(logging.INFO):
        answer = app.get("/health", headers={"X-Request-ID": key_like})
    assert answer.headers["x-request-id"] != key_like
    assert key_like not in caplog.text
    assert app.get("/health", headers={"X-Request-ID": "x" * 65}).headers["x-request-id"] != "x" * 65
    assert app.get("/health", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"
    wrong = app.post("/v1/blobs/docs/a.txt", content=b"x")
    assert_problem(wrong, 405, "method_not_allowed")
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE"}
    plain = app.post("/v1/sql", content=b'{"sql": "SELECT 1"}', headers={"content-type": "text/plain"})
    assert_problem(plain, 415, "unsupported_media_type")


def test_error_details_name_no_host_path(app: AppClient) -> None:
    assert app.lakehouse is not None
    data_dir = str(app.lakehouse.settings.data_dir)
    answers = [
        app.post(
            "/v1/datasets/t/ingest?create=true", content=b"\xff\xfe not csv", headers={"content-type": "text/csv"}
        ),
        app.post("/v1/datasets/t/ingest?create=true", content=b'{"a": 1', headers=ND),
        app.post(
            "/v1/datasets/t/ingest?create=true",
            content=b"PAR1 not parquet",
            headers={"content-type": "application/vnd.apache.parquet"},
        ),
        app.post("/v1/sql", json={"sql": f"SELECT * FROM read_csv('{data_dir}/x.csv')"}),
        app.post("/v1/sql", json={"sql": f"SELECT '{data_dir}'::INTEGER"}),
    ]
    for answer in answers:
        assert answer.status_code >= 400
        assert data_dir not in answer.text, answer.text
