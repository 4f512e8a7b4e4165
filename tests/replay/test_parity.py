"""Replay and parity against real servers: stateful cases replay on fresh deployments, and a drift seeded by a
test-only proxy that renames a field of every error item is reported with its path and counts, while the noise of
generated ids, times and request ids is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.app import create_app
from lakehouse.cli import cli
from lakehouse.core import Lakehouse
from lakehouse.replay import Body, Exchange, RecordedRequest, compare, read_cases, replay, templatize, write_cases
from lakehouse.verify.ephemeral import ServerThread
from tests.conftest import make_settings


class RenameErrorField:
    """A test-only proxy: every problem body's error items come back with ``field`` renamed ``name``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = dict(start["headers"])
            if headers.get(b"content-type", b"").startswith(b"application/problem+json"):
                problem = json.loads(body)
                problem["errors"] = [
                    {("name" if k == "field" else k): v for k, v in e.items()} for e in problem["errors"]
                ]
                body = json.dumps(problem).encode()
                headers[b"content-length"] = str(len(body)).encode()
            await send({**start, "headers": list(headers.items())})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def _case(case: str, method: str, path: str, body: Any = None, **extra: Any) -> Exchange:
    request = RecordedRequest(
        method=method,
        path=path,
        headers={"content-type": "application/json"} if body is not None else {},
        body=Body.model_validate({"json": body, "is_json": True}) if body is not None else Body(),
    )
    return Exchange(id=case, request=request, **extra)


def _cases() -> list[Exchange]:
    scope = {"tenant": "parity", "user_id": "u1"}
    out = []
    for i in range(10):
        out.append(
            _case(
                f"add-{i}",
                "POST",
                "/v1/memories",
                {"scope": scope, "content": f"fact {i}"},
                capture={f"m{i}": "body.id"},
            )
        )
        out.append(
            _case(f"get-{i}", "GET", f"/v1/memories/{{{{m{i}}}}}", endpoint="GET /v1/memories/{id}").model_copy(
                update={
                    "request": RecordedRequest(
                        method="GET", path=f"/v1/memories/{{{{m{i}}}}}", query="tenant=parity&user_id=u1"
                    )
                }
            )
        )
        change = {"scope": scope, "expected_version": 1, "content": f"fact {i}, revised"}
        out.append(
            _case(f"update-{i}", "PATCH", f"/v1/memories/{{{{m{i}}}}}", change, endpoint="PATCH /v1/memories/{id}")
        )
        bad = {"schema": {"type": "object", "required": ["id"]}, "payload": {"n": i}}
        out.append(_case(f"invalid-{i}", "POST", "/v1/validate", bad))
    return out


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[dict[str, str]]:
    opened, servers = [], {}
    for name in ("primary", "secondary", "candidate"):
        lakehouse = Lakehouse(make_settings(tmp_path / name, embed={"provider": "hashing"}))
        app = create_app(lakehouse.settings, lakehouse=lakehouse)
        server = ServerThread(RenameErrorField(app) if name == "candidate" else app).start()  # type: ignore[arg-type]
        opened.append((server, lakehouse))
        servers[name] = server.url
    yield servers
    for server, lakehouse in opened:
        server.stop()
        lakehouse.close()


def test_stateful_cases_replay_and_a_seeded_drift_is_reported_but_noise_is_not(
    targets: dict[str, str], tmp_path: Path
) -> None:
    cases = _cases()
    answers = {name: list(replay(cases, url)) for name, url in targets.items()}
    primary = answers["primary"]
    assert [e.response.status for e in primary[:4]] == [201, 200, 200, 422]  # type: ignore[union-attr]
    assert primary[1].response.body.json_value["id"] == primary[0].response.body.json_value["id"]  # type: ignore[index, union-attr]
    report = compare(primary, answers["candidate"], answers["secondary"])
    reported = sorted((f.endpoint, f.field, f.raw, f.noise) for f in report.fields if f.reported)
    assert reported == [
        ("POST /v1/validate", "body.errors[*].field", 10, 0),
        ("POST /v1/validate", "body.errors[*].name", 10, 0),
    ]
    noise = {f.field for f in report.fields if not f.reported}
    assert "body.id" in noise and any(f.endswith("_at") for f in noise)  # ids and times differ on every deployment
    # the same cases on two deployments of one version: nothing beyond noise
    assert compare(primary, answers["secondary"], answers["secondary"]).ok

    # the command: exit 1 on the drift, 0 without it
    case_file = tmp_path / "cases.ndjson"
    write_cases(case_file, cases)
    runner = CliRunner()
    args = ["parity", str(case_file), "--primary", targets["primary"], "--secondary", targets["secondary"]]
    drift = runner.invoke(cli, [*args, "--candidate", targets["candidate"], "--json", str(tmp_path / "r.json")])
    assert drift.exit_code == 1, drift.output
    written = json.loads((tmp_path / "r.json").read_text())
    # a second run on the same deployments: the memories exist, so the updates are refused too (409), and the
    # renamed field shows in those error bodies as well
    assert {f["field"] for f in written["fields"] if f["reported"]} == {"body.errors[*].field", "body.errors[*].name"}
    same = runner.invoke(cli, [*args, "--candidate", targets["secondary"]])
    assert same.exit_code == 0, same.output


def test_a_recording_is_templatized_to_replay_on_a_fresh_deployment(targets: dict[str, str]) -> None:
    scope = {"tenant": "t", "user_id": "u"}
    literal = [_case("add", "POST", "/v1/memories", {"scope": scope, "content": "first"})]
    recorded = list(replay(literal, targets["primary"]))
    memory_id = recorded[0].response.body.json_value["id"]  # type: ignore[index, union-attr]
    follow = _case(
        "update", "PATCH", f"/v1/memories/{memory_id}", {"scope": scope, "expected_version": 1, "content": "second"}
    )
    recorded += list(replay([follow], targets["primary"]))
    assert recorded[1].response.status == 200  # type: ignore[union-attr]
    templated = templatize(recorded)
    assert templated[0].capture == {"v0_body_id": "body.id"}
    assert templated[1].request.path == "/v1/memories/{{v0_body_id}}"
    again = list(replay(templated, targets["secondary"]))  # a fresh deployment: another id
    assert [e.response.status for e in again] == [201, 200]  # type: ignore[union-attr]
    assert again[0].response.body.json_value["id"] != memory_id  # type: ignore[index, union-attr]


def test_a_case_whose_value_no_answer_gave_is_not_sent_and_is_unmatched(targets: dict[str, str]) -> None:
    cases = [_case("x", "GET", "/v1/memories/{{nope}}"), _case("health", "GET", "/health")]
    sent = list(replay(cases, targets["primary"]))
    assert sent[0].response is None and sent[0].error is not None and "uses nope" in sent[0].error
    assert sent[1].response is not None and sent[1].response.status == 200  # the run goes on
    report = compare(sent, sent)
    assert report.unmatched == ["x"] and not report.ok


def test_a_case_may_name_its_own_key_and_a_recorded_one_is_never_replayed(tmp_path: Path) -> None:
    """A case's own Authorization (a key an earlier answer gave, or none) wins over --api-key; each deployment may
    have its own admin key (--primary-key, --candidate-key)."""
    cases = [
        _case("create", "POST", "/v1/keys", {"name": "reader", "scopes": ["read"]}, capture={"k": "body.secret"}),
        _case("as-reader", "GET", "/v1/keys"),
        _case("no-key", "GET", "/v1/datasets"),
        _case("as-admin", "GET", "/v1/datasets"),
        _case("revoke", "DELETE", "/v1/keys/reader"),
    ]
    cases[1].request.headers["authorization"] = "Bearer {{k}}"
    cases[2].request.headers["authorization"] = ""
    with ExitStack() as stack:
        servers, admins = [], []
        for name in ("a", "b"):
            settings = make_settings(tmp_path / name, auth={"enabled": True}, embed={"provider": "hashing"})
            lakehouse = stack.enter_context(Lakehouse(settings))
            admins.append(lakehouse.keys.create("ops", "admin").secret)
            servers.append(stack.enter_context(ServerThread(create_app(settings, lakehouse=lakehouse))).url)
        statuses = [e.response.status for e in replay(cases, servers[0], api_key=admins[0])]  # type: ignore[union-attr]
        assert statuses == [201, 403, 401, 200, 200]
        case_file = tmp_path / "keys.ndjson"
        write_cases(case_file, cases)
        rules = tmp_path / "rules.json"
        rules.write_text('[{"path": "body.key.*", "kind": "ignore"}, {"path": "body.secret", "kind": "ignore"}]')
        args = ["parity", str(case_file), "--rules", str(rules), "--primary", servers[0], "--candidate", servers[1]]
        one_key = CliRunner().invoke(cli, [*args, "--api-key", admins[0]])
        assert one_key.exit_code == 1  # b does not know a's key: every answer of b is a 401
        own_keys = CliRunner().invoke(cli, [*args, "--primary-key", admins[0], "--candidate-key", admins[1]])
        assert own_keys.exit_code == 0, own_keys.output


def test_replay_and_parity_take_directories_of_case_files(targets: dict[str, str], tmp_path: Path) -> None:
    cases_dir = tmp_path / "probes"
    cases_dir.mkdir()
    write_cases(cases_dir / "02-second.ndjson", [_case("b", "GET", "/v1/datasets")])
    write_cases(cases_dir / "01-first.ndjson", [_case("a", "GET", "/health")])
    (cases_dir / "rules.json").write_text("[]")  # not a case file: left alone
    out = tmp_path / "answers.ndjson"
    result = CliRunner().invoke(cli, ["replay", str(cases_dir), "--target", targets["primary"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [e.id for e in read_cases(out)] == ["a", "b"]
    args = ["parity", str(cases_dir), "--primary", targets["primary"], "--candidate", targets["secondary"]]
    same = CliRunner().invoke(cli, args)
    assert same.exit_code == 0, same.output
