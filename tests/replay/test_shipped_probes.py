"""The shipped probes (parity/): every case file sent to the embedded deployment (SQLite opsdb and catalog, lake and
blobs on local disk) twice, and to the scaled-out one (PostgreSQL opsdb and catalog, lake data and blobs in S3 on a
moto server); the second embedded run is the noise. Zero differences beyond noise, and every error kind the probes
promise is answered by one of them."""

from __future__ import annotations

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


def test_sqlite_and_local_answer_as_postgres_and_s3(answers: dict[str, dict[str, list[Exchange]]]) -> None:
    rules = [Matcher.model_validate(m) for m in _rules()]
    problems = []
    for name, runs in answers.items():
        problems += [(e.id, e.error) for run in runs.values() for e in run if e.response is None]
        report = compare(runs["primary"], runs["candidate"], runs["secondary"], matchers=rules)
        problems += [
            (f.case, f.field, f.primary, f.candidate, f"raw {f.raw} noise {f.noise}") for f in report.fields if f.reported
        ]
        problems += [(case, "unmatched") for case in report.unmatched]
    assert not problems, "\n".join(map(str, problems))


def _rules() -> list[dict[str, Any]]:
    import json

    return list(json.loads((PARITY / "rules.json").read_text()))


def test_every_error_kind_the_probes_promise_is_answered(answers: dict[str, dict[str, list[Exchange]]]) -> None:
    """A case named ``.../<kind>`` or ``.../<kind>-<variant>`` answers a problem with that kind."""
    kinds = _documented_kinds()
    for runs in answers.values():
        for exchange in runs["primary"]:
            promised = re.split(r"-", exchange.id.split("/", 1)[1])[0]
            if promised not in kinds:
                continue
            assert exchange.response is not None
            body = exchange.response.body.json_value
            assert isinstance(body, dict) and "errors" in body, (exchange.id, body)
            answered = {body["type"].rsplit(":", 1)[1], *(e["kind"] for e in body["errors"])}  # type: ignore[union-attr, index]
            assert promised in answered, (exchange.id, answered)
