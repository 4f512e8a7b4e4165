"""The smokes: numbered end-to-end checks over real HTTP, each returning a one-line detail or raising."""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

BUCKET = "lakehouse-verify"


class SmokeFailed(AssertionError):
    pass


@dataclass
class Target:
    """Where the smokes run: an auth-off server, an auth-on server with an admin key, or both."""

    open_url: str | None = None
    auth_url: str | None = None
    admin_key: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    restart: Callable[[], str] | None = None  # restarts the auth-off server on its data dir; returns its new url
    stack: bool = False  # the server is a stack's gateway (`lakehouse up`)

    def client(self, url: str, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=url, headers=headers, timeout=30)


@dataclass(frozen=True)
class Smoke:
    name: str
    needs: str  # "any", "open" (auth-off server), "auth" (auth-on server with an admin key), "restart", "stack"
    run: Callable[[Target], str]


SMOKES: list[Smoke] = []


def smoke(name: str, needs: str = "any") -> Callable[[Callable[[Target], str]], Callable[[Target], str]]:
    def register(fn: Callable[[Target], str]) -> Callable[[Target], str]:
        SMOKES.append(Smoke(name, needs, fn))
        return fn

    return register


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailed(message)


def _any_url(t: Target) -> tuple[str, str | None]:
    if t.open_url:
        return t.open_url, None
    assert t.auth_url is not None
    return t.auth_url, t.admin_key


@functools.cache
def _problem_validator() -> Any:
    import jsonschema_rs

    from lakehouse.server.problems import PROBLEM_SCHEMA

    return jsonschema_rs.validator_for(PROBLEM_SCHEMA, offline=True)


def check_problem(response: httpx.Response, status: int, kind: str) -> None:
    """Hold a response to the problem+json shape with the given status and kind."""
    check(
        response.status_code == status,
        f"expected {status}, got {response.status_code}: {response.text[:200]}",
    )
    ctype = response.headers.get("content-type", "")
    check(ctype.startswith("application/problem+json"), f"content-type is {ctype!r}")
    body = response.json()
    broken = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in _problem_validator().iter_errors(body)]
    check(not broken, f"the body breaks the problem JSON Schema (members, items, kinds): {broken[:3]}")
    check(body["status"] == status, "status member differs from the HTTP status")
    check(
        body["type"].endswith(":" + kind) or body["errors"][0]["kind"] == kind,
        f"type is {body['type']!r} and the first item's kind {body['errors'][0]['kind']!r}; expected {kind!r}",
    )
    check(body["request_id"] == response.headers.get("x-request-id"), "request_id not echoed in the header")


@smoke("health")
def _health(t: Target) -> str:
    url, _ = _any_url(t)
    with t.client(url) as c:
        r = c.get("/health")
    check(r.status_code == 200 and r.json()["status"] == "ok", f"GET /health -> {r.status_code}")
    return f"GET /health 200, version {r.json()['version']}"


@smoke("ready")
def _ready(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        r = c.get("/ready")
    check(r.status_code == 200, f"GET /ready -> {r.status_code}: {r.text[:300]}")
    checks = r.json()["checks"]
    check(all(v["ok"] for v in checks.values()), f"stores not ready: {checks}")
    return "GET /ready 200: " + ", ".join(f"{k} ok" for k in checks)


@smoke("metrics")
def _metrics(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        c.get("/health")
        r = c.get("/metrics")
    check(r.status_code == 200, f"GET /metrics -> {r.status_code}")
    check(
        'lakehouse_http_requests_total{method="GET",route="/health",status="200"}' in r.text,
        "no /health count",
    )
    check("lakehouse_http_request_duration_seconds_bucket" in r.text, "no latency histogram")
    return "GET /metrics 200 with request counts and latency histograms"


@smoke("error shape on an unknown route")
def _unknown_route(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        r = c.get("/v1/no-such-route", headers={"X-Request-ID": "verify-unknown-route"})
    check_problem(r, 404, "route_not_found")
    check(r.json()["request_id"] == "verify-unknown-route", "X-Request-ID not honoured")
    return "GET /v1/no-such-route 404 problem+json, request id echoed"


@smoke("error shape on a bad query parameter")
def _bad_param(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        r = c.get(f"/v1/blobs/{BUCKET}", params={"limit": "0"})
    check_problem(r, 422, "minimum")
    check(r.json()["errors"][0]["field"] == "limit", "field is not 'limit'")
    return "GET /v1/blobs/{bucket}?limit=0 422 problem+json naming the field"


@smoke("error shape on a wrong method")
def _wrong_method(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        r = c.delete("/health")
    check_problem(r, 405, "method_not_allowed")
    check("GET" in r.headers.get("allow", ""), "no Allow header naming GET")
    return "DELETE /health 405 problem+json with Allow: GET"


@smoke("openapi document")
def _openapi(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        r = c.get("/openapi.json")
    check(r.status_code == 200, f"GET /openapi.json -> {r.status_code}")
    spec = r.json()
    check("/v1/blobs/{bucket}/{key}" in spec["paths"], "blob routes missing from the document")
    check("Problem" in spec["components"]["schemas"], "the error body is not documented")
    return f"GET /openapi.json 200: {len(spec['paths'])} paths, errors documented as Problem"


@smoke("auth off: /v1 open without a key", needs="open")
def _auth_off(t: Target) -> str:
    assert t.open_url is not None
    with t.client(t.open_url) as c:
        r = c.get(f"/v1/blobs/{BUCKET}")
    check(r.status_code == 200, f"expected 200 without a key, got {r.status_code} (is auth on? pass --api-key)")
    return f"GET /v1/blobs/{BUCKET} 200 with no Authorization header"


@smoke("blob round-trip with hash check")
def _blob_round_trip(t: Target) -> str:
    url, key = _any_url(t)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = hashlib.sha256(data).hexdigest()
    path = f"/v1/blobs/{BUCKET}/round-trip/{time.time_ns()}.bin"
    with t.client(url, key) as c:
        put = c.put(path, content=data)
        check(put.status_code == 201, f"PUT -> {put.status_code}: {put.text[:200]}")
        check(put.json()["sha256"] == digest, "sha256 from PUT differs from the sent bytes")
        check(put.json()["size"] == len(data), "size from PUT differs")
        got = c.get(path)
        check(got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest, "GET bytes differ")
        part = c.get(path, headers={"Range": "bytes=100-199"})
        check(part.status_code == 206 and part.content == data[100:200], "Range GET wrong")
        head = c.head(path)
        check(int(head.headers["content-length"]) == len(data), "HEAD size wrong")
        again = c.put(path, content=b"x", headers={"If-None-Match": "*"})
        check_problem(again, 412, "precondition_failed")
        check(c.delete(path).status_code == 204, "DELETE failed")
        check_problem(c.get(path), 404, "blob_not_found")
    return f"PUT/GET/Range/HEAD/If-None-Match/DELETE of {len(data)} bytes, sha256 {digest[:12]}… matches"


@smoke("invalid blob keys refused")
def _invalid_keys(t: Target) -> str:
    url, key = _any_url(t)
    bad = ["%2E%2E/escape", "a/%2E%2E/%2E%2E/escape", "a%00b", "a%5Cb", "a//b", "x" * 1025]
    with t.client(url, key) as c:
        for k in bad:
            check_problem(c.put(f"/v1/blobs/{BUCKET}/{k}", content=b"nope"), 400, "invalid_key")
    return f"{len(bad)} bad keys ('..', NUL, backslash, empty segment, >1024 bytes) -> 400 invalid_key"


DATASET = "lakehouse_verify.people"
SELECT_ALL = "SELECT id, name FROM lakehouse_verify.people ORDER BY id"
SELECT_VIP = "SELECT id, name, vip FROM lakehouse_verify.people ORDER BY id"
ND = {"content-type": "application/x-ndjson"}
_FORMATS = {
    "text/csv": b"id,name\n3,cy\n",
    "application/json": b'[{"id": 4, "name": "di"}]',
    "application/x-ndjson": b'{"id": 5, "name": "ed"}\n',
}


def _columnar_bodies() -> dict[str, bytes]:
    """The same kind of rows as Parquet and as an Arrow IPC stream."""
    import io

    import pyarrow as pa
    import pyarrow.ipc
    import pyarrow.parquet

    parquet, arrow = io.BytesIO(), io.BytesIO()
    pyarrow.parquet.write_table(pa.table({"id": [6], "name": ["fy"]}), parquet)
    table = pa.table({"id": [7], "name": ["gu"]})
    with pyarrow.ipc.new_stream(arrow, table.schema) as writer:
        writer.write_table(table)
    return {
        "application/vnd.apache.parquet": parquet.getvalue(),
        "application/vnd.apache.arrow.stream": arrow.getvalue(),
    }


def _fresh_dataset(c: httpx.Client) -> None:
    c.delete(f"/v1/datasets/{DATASET}")
    r = c.post(
        "/v1/datasets",
        json={"name": DATASET, "columns": [{"name": "id", "type": "bigint"}, {"name": "name", "type": "text"}]},
    )
    check(r.status_code == 201, f"creating {DATASET} -> {r.status_code}: {r.text[:200]}")


@smoke("tables: create, ingest each format, query")
def _tables_ingest_query(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_dataset(c)
        for ctype, body in {**_FORMATS, **_columnar_bodies()}.items():
            r = c.post(f"/v1/datasets/{DATASET}/ingest", content=body, headers={"content-type": ctype})
            check(r.status_code == 200 and r.json()["rows_written"] == 1, f"{ctype} ingest -> {r.text[:200]}")
        q = c.post("/v1/sql", json={"sql": SELECT_ALL})
        check(q.status_code == 200, f"SQL -> {q.status_code}: {q.text[:200]}")
        expected = [[3, "cy"], [4, "di"], [5, "ed"], [6, "fy"], [7, "gu"]]
        check(q.json()["rows"] == expected, f"rows are {q.json()['rows']}")
    return f"created {DATASET}, ingested CSV, JSON, NDJSON, Parquet and Arrow IPC, read the 5 rows back with /v1/sql"


@smoke("tables: a dataset without columns takes its schema from the first ingest")
def _tables_schema_from_ingest(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        c.delete(f"/v1/datasets/{DATASET}")
        created = c.post("/v1/datasets", json={"name": DATASET, "description": "verify"})
        check(created.status_code == 201, f"create without columns -> {created.status_code}: {created.text[:200]}")
        check(created.json()["state"] == "awaiting_first_ingest", f"state is {created.json().get('state')}")
        r = c.post(f"/v1/datasets/{DATASET}/ingest", content=b"id,name\n1,a\n", headers={"content-type": "text/csv"})
        check(r.status_code == 200, f"first ingest -> {r.status_code}: {r.text[:200]}")
        described = c.get(f"/v1/datasets/{DATASET}").json()
        columns = [col["name"] for col in described["columns"]]
        check(described["state"] == "ready" and columns == ["id", "name"], f"after ingest: {described}")
        c.delete(f"/v1/datasets/{DATASET}")
    return "created without columns (awaiting_first_ingest); the first CSV ingest gave it columns id, name"


@smoke("tables: cancel a running query")
def _tables_cancel(t: Target) -> str:
    import threading

    url, key = _any_url(t)
    query_id = f"verify-{time.time_ns()}"
    outcome: list[httpx.Response] = []

    def run() -> None:
        with t.client(url, key) as runner:
            body = {"sql": "SELECT count(*) FROM range(10000000000) a", "query_id": query_id, "timeout_ms": 60000}
            outcome.append(runner.post("/v1/sql", json=body))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    with t.client(url, key) as c:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(q["query_id"] == query_id for q in c.get("/v1/queries").json()["items"]):
                break
            time.sleep(0.02)
        cancelled = c.delete(f"/v1/queries/{query_id}")
        check(cancelled.status_code == 202, f"DELETE /v1/queries/{query_id} -> {cancelled.status_code}")
    worker.join(30)
    check(len(outcome) == 1, "the cancelled query did not answer")
    check_problem(outcome[0], 409, "query_cancelled")
    return f"query {query_id} listed in /v1/queries, cancelled with DELETE (202); it answered 409 query_cancelled"


@smoke("tables: upsert, schema evolution, time travel")
def _tables_upsert_time_travel(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_dataset(c)
        first = c.post(f"/v1/datasets/{DATASET}/ingest", content=b'{"id": 1, "name": "a"}\n', headers=ND).json()
        up = c.post(
            f"/v1/datasets/{DATASET}/ingest",
            params={"mode": "upsert", "key": "id"},
            content=b'{"id": 1, "name": "A", "vip": true}\n{"id": 2, "name": "b", "vip": false}\n',
            headers=ND,
        )
        check(up.status_code == 200, f"upsert -> {up.status_code}: {up.text[:200]}")
        check(up.json()["schema_changes"][0]["column"] == "vip", "the new column was not added")
        now = c.post("/v1/sql", json={"sql": SELECT_VIP}).json()
        check(now["rows"] == [[1, "A", True], [2, "b", False]], f"after upsert: {now['rows']}")
        then = c.post("/v1/sql", json={"sql": SELECT_ALL, "snapshot": first["snapshot_id"]}).json()
        check(then["rows"] == [[1, "a"]], f"at snapshot {first['snapshot_id']}: {then['rows']}")
    return "upsert updated 1 and inserted 1, added column vip; the earlier snapshot still reads the old row"


@smoke("tables: query in each result format")
def _tables_formats(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_dataset(c)
        c.post(
            f"/v1/datasets/{DATASET}/ingest", content=b'{"id": 1, "name": "a"}\n{"id": 2, "name": "b"}\n', headers=ND
        )
        sizes = {}
        for accept in (
            "application/json",
            "application/x-ndjson",
            "text/csv",
            "application/vnd.apache.arrow.stream",
            "application/vnd.apache.parquet",
        ):
            r = c.post("/v1/sql", json={"sql": SELECT_ALL}, headers={"accept": accept})
            check(r.status_code == 200, f"{accept} -> {r.status_code}: {r.text[:200]}")
            check(r.headers["content-type"].startswith(accept), f"{accept} answered as {r.headers['content-type']}")
            sizes[accept.rsplit("/", 1)[-1]] = len(r.content)
        check(r.content[:4] == b"PAR1" and r.content[-4:] == b"PAR1", "the Parquet result is not a Parquet file")
        c.delete(f"/v1/datasets/{DATASET}")
    return "JSON, NDJSON, CSV, Arrow IPC and Parquet results: " + ", ".join(f"{k} {v} B" for k, v in sizes.items())


@smoke("tables: idempotent retry")
def _tables_idempotent(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_dataset(c)
        headers = {**ND, "Idempotency-Key": f"verify-{time.time_ns()}"}
        body = b'{"id": 1, "name": "once"}\n'
        first = c.post(f"/v1/datasets/{DATASET}/ingest", content=body, headers=headers)
        again = c.post(f"/v1/datasets/{DATASET}/ingest", content=body, headers=headers)
        check(first.status_code == 200 and again.status_code == 200, f"{first.status_code}, {again.status_code}")
        check(again.json() == first.json() and again.headers.get("idempotent-replayed") == "true", "no replay")
        rows = c.post("/v1/sql", json={"sql": SELECT_ALL}).json()["rows"]
        check(rows == [[1, "once"]], f"rows after the retry: {rows}")
        other = c.post(f"/v1/datasets/{DATASET}/ingest", content=b'{"id": 2, "name": "x"}\n', headers=headers)
        check_problem(other, 409, "idempotency_conflict")
        c.delete(f"/v1/datasets/{DATASET}")
    return "the retry replayed the first response and wrote nothing; a different body with the key -> 409"


@smoke("tables: schema mismatch and an escape refused")
def _tables_refusals(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_dataset(c)
        # the dataset itself (the lake's snapshot moves with any other write: recordings, spans)
        shape = ("columns", "row_count", "file_count", "updated_at")
        before = {k: v for k, v in c.get(f"/v1/datasets/{DATASET}").json().items() if k in shape}
        bad = c.post(f"/v1/datasets/{DATASET}/ingest", content=b'{"id": "not a number"}\n', headers=ND)
        check_problem(bad, 409, "schema_mismatch")
        check_problem(
            c.post("/v1/sql", json={"sql": "SELECT * FROM read_csv('/etc/passwd')"}), 403, "forbidden_function"
        )
        check_problem(c.post("/v1/sql", json={"sql": f"DROP TABLE {DATASET}"}), 403, "forbidden_statement")
        after = {k: v for k, v in c.get(f"/v1/datasets/{DATASET}").json().items() if k in shape}
        check(after == before, f"a refused request changed the dataset: {before} -> {after}")
        c.delete(f"/v1/datasets/{DATASET}")
    return "409 schema_mismatch, 403 forbidden_function (read_csv), 403 forbidden_statement (DROP); lake unchanged"


@smoke("embed: texts to vectors, cached, refusals")
def _embed(t: Target) -> str:
    url, key = _any_url(t)
    texts = ["The cat sat on the mat.", "A kitten lay on the rug.", "Interest rates rose again."]
    with t.client(url, key) as c:
        r = c.post("/v1/embed", json={"texts": texts})
        check(r.status_code == 200, f"POST /v1/embed -> {r.status_code}: {r.text[:300]}")
        body = r.json()
        vectors = body["vectors"]
        check(body["count"] == 3 and len(vectors) == 3, f"{body['count']} vectors for 3 texts")
        check(all(len(v) == body["dim"] for v in vectors), "vectors of another length than dim")

        def cosine(a: list[float], b: list[float]) -> float:
            dot = sum(x * y for x, y in zip(a, b, strict=True))
            return dot / ((sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5 or 1.0)

        near, far = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
        if not body["model"].startswith("hashing-"):  # feature hashing knows words, not meaning
            check(near > far, f"the cat/kitten pair ({near:.2f}) is not closer than cat/rates ({far:.2f})")
        again = c.post("/v1/embed", json={"texts": texts[:1]}).json()
        check(again["cached"] == 1 and again["vectors"][0] == vectors[0], "a repeated text was not served cached")
        check_problem(c.post("/v1/embed", json={"texts": []}), 422, "empty_batch")
    return (
        f"{body['model']} ({body['dim']} dims): cat/kitten {near:.2f} > cat/rates {far:.2f}; repeat cached; [] -> 422"
    )


COLLECTION = "verify_faq"
FAQ = [
    {
        "id": "refunds",
        "text": "Refunds reach your card within five days.",
        "metadata": {"lang": "en", "topic": "money"},
    },
    {
        "id": "shipping",
        "text": "Orders leave our warehouse within one day.",
        "metadata": {"lang": "en", "topic": "post"},
    },
    {"id": "erstattung", "text": "Erstattungen sind in fünf Tagen auf der Karte.", "metadata": {"lang": "de"}},
]


def _fresh_collection(c: httpx.Client) -> int:
    """The verify collection, made anew with the dimension of the default embedder; returns the dimension."""
    c.delete(f"/v1/collections/{COLLECTION}")
    probe = c.post("/v1/embed", json={"texts": ["probe"]})
    check(probe.status_code == 200, f"POST /v1/embed -> {probe.status_code}: {probe.text[:200]}")
    dim = int(probe.json()["dim"])
    made = c.post("/v1/collections", json={"name": COLLECTION, "dim": dim})
    check(made.status_code == 201, f"creating the collection -> {made.status_code}: {made.text[:200]}")
    return dim


def _ids(response: httpx.Response) -> list[str]:
    check(response.status_code == 200, f"search -> {response.status_code}: {response.text[:200]}")
    return [r["id"] for r in response.json()["results"]]


@smoke("vectors: a collection from texts, searched and filtered")
def _vectors_search(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        dim = _fresh_collection(c)
        up = c.post(f"/v1/collections/{COLLECTION}/upsert", json={"points": FAQ})
        check(up.status_code == 200 and up.json()["upserted"] == 3, f"upsert -> {up.status_code}: {up.text[:200]}")
        search = f"/v1/collections/{COLLECTION}/search"
        top = _ids(c.post(search, json={"text": "Refunds within five days", "k": 3}))
        check(top[0] == "refunds", f"nearest to the refund question: {top}")
        only_post = _ids(c.post(search, json={"text": "Refunds within five days", "filter": {"topic": "post"}}))
        check(only_post == ["shipping"], f"filtered to topic=post: {only_post}")
        count = "SELECT count(*) FROM vectors." + COLLECTION  # noqa: S608 (a constant name)
        rows = c.post("/v1/sql", json={"sql": count}).json()["rows"]
        check(rows == [[3]], f"the points as a lake table: {rows}")
    return f"3 texts embedded ({dim} dims); nearest and filtered results right; vectors.{COLLECTION} in SQL"


@smoke("vectors: deletes never come back; a bad point refuses its batch")
def _vectors_delete(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        _fresh_collection(c)
        c.post(f"/v1/collections/{COLLECTION}/upsert", json={"points": FAQ})
        by_id = c.post(f"/v1/collections/{COLLECTION}/delete", json={"ids": ["refunds"]}).json()
        by_filter = c.post(f"/v1/collections/{COLLECTION}/delete", json={"filter": {"lang": "de"}}).json()
        check(by_id["deleted"] == 1 and by_filter["deleted"] == 1, f"deleted {by_id} and {by_filter}")
        left = _ids(c.post(f"/v1/collections/{COLLECTION}/search", json={"text": "Refunds", "k": 10}))
        check(left == ["shipping"], f"after the deletes: {left}")
        bad = c.post(
            f"/v1/collections/{COLLECTION}/upsert",
            json={"points": [{"id": "ok", "text": "fine"}, {"id": "bad", "vector": [1.0, 2.0]}]},
        )
        check_problem(bad, 422, "invalid_point")
        check(c.get(f"/v1/collections/{COLLECTION}/points/ok").status_code == 404, "a refused batch stored a point")
        c.delete(f"/v1/collections/{COLLECTION}")
    return "by id and by filter: gone from search; 422 invalid_point for points[1], nothing stored"


@smoke("vectors: a point survives a restart", needs="restart")
def _vectors_restart(t: Target) -> str:
    assert t.open_url is not None and t.restart is not None
    with t.client(t.open_url) as c:
        _fresh_collection(c)
        c.post(f"/v1/collections/{COLLECTION}/upsert", json={"points": FAQ[:1]})
    t.open_url = t.restart()
    with t.client(t.open_url) as c:
        found = _ids(c.post(f"/v1/collections/{COLLECTION}/search", json={"text": "refund", "k": 1}))
        check(found == ["refunds"], f"after the restart: {found}")
        c.delete(f"/v1/collections/{COLLECTION}")
    return "the server was stopped and started again on its data dir; the point was found"


@dataclass
class Outcome:
    number: int
    name: str
    ok: bool
    detail: str
    seconds: float


def run_chain(target: Target, echo: Callable[[str], None] = print) -> tuple[list[Outcome], float]:
    """Run every smoke the target can take; print one line each and the closing ``N/N PASS in X.Xs``."""
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    runnable = [
        s
        for s in SMOKES
        if s.needs == "any"
        or (s.needs == "open" and target.open_url)
        or (s.needs == "auth" and target.auth_url)
        or (s.needs == "restart" and target.restart and target.open_url)
        or (s.needs == "stack" and target.stack)
    ]
    for number, s in enumerate(runnable, 1):
        t0 = time.perf_counter()
        try:
            detail, ok = s.run(target), True
        except (SmokeFailed, httpx.HTTPError, KeyError, ValueError) as exc:
            detail, ok = f"{type(exc).__name__}: {exc}", False
        outcome = Outcome(number, s.name, ok, detail, time.perf_counter() - t0)
        outcomes.append(outcome)
        echo(f"{number:>2}. {'PASS' if ok else 'FAIL'} {s.name}: {detail} ({outcome.seconds * 1000:.0f} ms)")
    elapsed = time.perf_counter() - started
    passed = sum(o.ok for o in outcomes)
    echo(f"{passed}/{len(outcomes)} PASS in {elapsed:.1f}s")
    return outcomes, elapsed
