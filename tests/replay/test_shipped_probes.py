"""The shipped probes (parity/): every case file sent to the embedded deployment (SQLite opsdb and catalog, lake and
blobs on local disk) twice, and to the scaled-out one (PostgreSQL opsdb and catalog, lake data and blobs in S3 on a
moto server); the second embedded run is the noise. Zero differences beyond noise, and every error kind the probes
promise is answered by one of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from lakehouse import Lakehouse
from lakehouse.app import create_app
from lakehouse.config import Settings
from lakehouse.replay import Exchange, Matcher, compare, read_cases, replay
from lakehouse.replay.compare import PROBLEM
from lakehouse.verify import ServerThread
from tests.conftest import fresh_pg_database, s3_bucket

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "parity"


def _serve(stack: ExitStack, settings: dict[str, Any]) -> tuple[str, str]:
    """A real server over these settings, auth on, with an admin key: its URL and the key."""
    loaded = Settings.model_validate({**settings, "auth": {"enabled": True}, "embed": {"provider": "hashing"}})
    lakehouse = stack.enter_context(Lakehouse(loaded))
    admin = lakehouse.keys.create("parity-admin", "admin").secret
    server = stack.enter_context(ServerThread(create_app(loaded, lakehouse=lakehouse)))
    return server.url, admin


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory, pg_server: str, moto_endpoint: str) -> Iterator[Any]:
    """Every case file's answers from the primary, the secondary and the candidate, by file name."""
    with ExitStack() as stack:
        pg = stack.enter_context(fresh_pg_database(pg_server))
        s3 = s3_bucket(moto_endpoint)
        targets = {
            "primary": _serve(stack, {"data_dir": tmp_path_factory.mktemp("primary")}),
            "secondary": _serve(stack, {"data_dir": tmp_path_factory.mktemp("secondary")}),
            "candidate": _serve(
                stack,
                {
                    "data_dir": tmp_path_factory.mktemp("candidate"),
                    "opsdb": {"url": pg},
                    "lake": {
                        "catalog": "postgres",
                        "catalog_dsn": pg.replace("postgresql+psycopg://", "postgresql://"),
                        "data_path": f"s3://{s3['bucket']}/lake",
                    },
                    "storage": {"backend": "s3", "s3": s3},
                },
            ),
        }
        out: dict[str, dict[str, list[Exchange]]] = {}
        for path in sorted(PARITY.glob("*.ndjson")):
            cases = list(read_cases(path))
            out[path.name] = {name: list(replay(cases, url, api_key=key)) for name, (url, key) in targets.items()}
        yield out


def test_the_probes_are_many_and_cover_every_route_family() -> None:
    cases = [c for path in sorted(PARITY.glob("*.ndjson")) for c in read_cases(path)]
    assert len(cases) >= 100
    assert len({c.id for c in cases}) == len(cases)
    prefixes = {"/".join(c.request.path.split("/")[:3]) for c in cases}
    families = {
        "/health", "/ready", "/openapi.json", "/v1/keys", "/v1/blobs", "/v1/datasets", "/v1/sql", "/v1/queries",
        "/v1/embed", "/v1/collections", "/v1/memories", "/v1/pathways", "/v1/playbooks", "/v1/schemas",
        "/v1/validate", "/v1/traces", "/v1/observe", "/v1/sessions",
    }  # fmt: skip
    assert families <= prefixes, families - prefixes


# Kinds no probe answers, and why: each needs a fault, two requests at once or a stack, and is tested elsewhere.
NOT_PROBED = {
    "internal": "an unexpected failure: a bug, never a request's answer by design",
    "store_unavailable": "a store that does not answer",
    "overloaded": "a full embedding queue (concurrent load)",
    "embedder_failed": "an OpenAI-compatible endpoint that fails",
    "embedder_unavailable": "no embedding provider configured",
    "query_cancelled": "a DELETE /v1/queries/{id} while the query runs (two requests at once)",
    "query_id_in_use": "two queries with one id at once",
    "idempotency_in_progress": "a retry while the first request runs",
    "conflict": "POST /v1/stack/restart of a daemon that is not up (a stack)",
    "not_found": "GET /v1/stack on a server that is no stack's gateway: left out, so a stack compares to a server",
    "service_unavailable": "a stack daemon that is down",
    "gone": "answered as its precise kind, schema_retired, today",
}


def _documented_kinds() -> set[str]:
    """The kinds docs/wire-format.md documents for HTTP answers (not the command line's, not validation items)."""
    text = (ROOT / "docs" / "wire-format.md").read_text()
    section = text.split("## Kinds of error", 1)[1].split("## Kinds of validation item", 1)[0]
    return set(re.findall(r"^### `([a-z_]+)`", section, flags=re.MULTILINE))


def test_sqlite_and_local_answer_as_postgres_and_s3(answers: dict[str, dict[str, list[Exchange]]]) -> None:
    rules = [Matcher.model_validate(m) for m in json.loads((PARITY / "rules.json").read_text())]
    problems: list[tuple[object, ...]] = []
    for runs in answers.values():
        problems += [(e.id, e.error) for run in runs.values() for e in run if e.response is None]
        report = compare(runs["primary"], runs["candidate"], runs["secondary"], matchers=rules)
        problems += [(f.case, f.field, f.primary, f.candidate, f.raw, f.noise) for f in report.fields if f.reported]
        problems += [(case, "unmatched") for case in report.unmatched]
    assert not problems, "\n".join(map(str, problems))


def _kinds_of(exchange: Exchange) -> set[str]:
    response = exchange.response
    assert response is not None
    body = response.body.json_value
    if response.content_type != PROBLEM or not isinstance(body, dict):
        return set()
    items = body.get("errors")
    kinds = {str(body.get("type", "")).rsplit(":", 1)[-1]}
    return kinds | {str(e.get("kind")) for e in items if isinstance(e, dict)} if isinstance(items, list) else kinds


def test_every_error_kind_is_answered_by_the_case_named_for_it(answers: dict[str, dict[str, list[Exchange]]]) -> None:
    """A case named for a kind (``<file>/<kind>`` or ``<file>/<kind>-<variant>``) answers a problem of that kind
    on every deployment, and every documented kind but those NOT_PROBED has such a case."""
    kinds = _documented_kinds()
    assert set(NOT_PROBED) <= kinds, set(NOT_PROBED) - kinds
    promised: set[str] = set()
    wrong = []
    for runs in answers.values():
        for run in runs.values():
            for exchange in run:
                named = exchange.id.split("/", 1)[1].split("-", 1)[0]
                if named in kinds:
                    promised.add(named)
                    if named not in _kinds_of(exchange):
                        wrong.append((exchange.id, sorted(_kinds_of(exchange))))
    assert not wrong, wrong
    assert kinds - set(NOT_PROBED) <= promised, sorted(kinds - set(NOT_PROBED) - promised)
