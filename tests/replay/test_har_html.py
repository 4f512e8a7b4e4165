"""HAR to case files and back, and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakehouse.cli import cli
from lakehouse.errors import MalformedInput
from lakehouse.replay import Body, Exchange, RecordedRequest, RecordedResponse, compare, read_cases, write_cases
from lakehouse.replay.har import from_har, to_har
from lakehouse.replay.html_report import render_html

HAR = {
    "log": {
        "version": "1.2",
        "creator": {"name": "a browser", "version": "1"},
        "entries": [
            {
                "startedDateTime": "2026-12-07T08:00:00.000Z",
                "time": 12.5,
                "request": {
                    "method": "post",
                    "url": "http://lake.example:3100/v1/memories?dry=1",
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "Host", "value": "lake.example"},
                    ],
                    "postData": {"mimeType": "application/json", "text": '{"scope": {"tenant": "t"}, "content": "x"}'},
                },
                "response": {
                    "status": 201,
                    "headers": [
                        {"name": "Content-Type", "value": "application/json"},
                        {"name": "X-Request-ID", "value": "r1"},
                    ],
                    "content": {"mimeType": "application/json", "text": '{"id": "m1"}'},
                },
            },
            {
                "startedDateTime": "2026-12-07T08:00:01.000Z",
                "time": 3,
                "request": {"method": "GET", "url": "http://lake.example:3100/v1/blobs/b/k", "headers": []},
                "response": {
                    "status": 200,
                    "headers": [{"name": "Content-Type", "value": "application/octet-stream"}],
                    "content": {"mimeType": "application/octet-stream", "text": "/wA=", "encoding": "base64"},
                },
            },
            {
                "startedDateTime": "2026-12-07T08:00:02.000Z",
                "request": {"method": "GET", "url": "http://x/health", "headers": []},
                "response": {"status": 0},
            },
        ],
    }
}


def test_har_entries_become_cases_and_come_back() -> None:
    cases = from_har(json.dumps(HAR).encode())
    first, blob, unanswered = cases
    assert first.request.method == "POST" and first.request.path == "/v1/memories" and first.request.query == "dry=1"
    assert first.request.headers == {"content-type": "application/json"}  # Host is the connection's
    assert first.request.body.json_value == {"scope": {"tenant": "t"}, "content": "x"}
    assert first.response is not None and first.response.status == 201 and first.request_id == "r1"
    assert first.latency_ms == 12.5 and first.time is not None
    assert blob.response is not None and blob.response.body.raw() == b"\xff\x00"
    assert unanswered.response is None  # a status of 0: the browser got no answer
    again = from_har(to_har(cases, "http://lake.example:3100"))
    assert [(c.id, c.request, c.response) for c in again] == [(c.id, c.request, c.response) for c in cases]


def test_a_document_that_is_not_har_is_refused() -> None:
    with pytest.raises(MalformedInput, match="not a HAR"):
        from_har(b'{"entries": []}')


def test_the_html_report_names_the_drift_and_escapes_what_it_shows(tmp_path: Path) -> None:
    def case(value: str) -> Exchange:
        return Exchange(
            id="c<1>",
            request=RecordedRequest(method="GET", path="/x"),
            response=RecordedResponse(
                status=200,
                headers={"content-type": "application/json"},
                body=Body.model_validate({"json": {"name": value}, "is_json": True}),
            ),
        )

    report = compare([case("<script>alert(1)</script>")], [case("plain")])
    page = render_html(report)
    assert "1 field(s) differ beyond noise" in page and "body.name" in page and "DIFFERS" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    primary, candidate = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    write_cases(primary, [case("x")])
    write_cases(candidate, [case("y")])
    result = CliRunner().invoke(cli, ["diff", str(primary), str(candidate), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "body.name" in (tmp_path / "r.html").read_text()


def test_the_cases_commands_convert_both_ways(tmp_path: Path) -> None:
    har = tmp_path / "in.har"
    har.write_text(json.dumps(HAR))
    runner = CliRunner()
    assert runner.invoke(cli, ["cases", "from-har", str(har), "--out", str(tmp_path / "c.ndjson")]).exit_code == 0
    assert len(list(read_cases(tmp_path / "c.ndjson"))) == 3
    made = runner.invoke(cli, ["cases", "to-har", str(tmp_path / "c.ndjson"), "--out", str(tmp_path / "out.har")])
    assert made.exit_code == 0
    assert len(json.loads((tmp_path / "out.har").read_text())["log"]["entries"]) == 3


def test_a_har_import_never_keeps_credentials() -> None:
    """Authorization and cookies a browser or proxy captured are dropped: a secret is never replayed."""
    request = {
        "method": "GET",
        "url": "http://x/v1/keys",
        "headers": [
            {"name": "Authorization", "value": "Bearer lh_secret"},
            {"name": "Cookie", "value": "s=1"},
            {"name": "Accept", "value": "application/json"},
        ],
    }
    (imported,) = from_har(json.dumps({"log": {"entries": [{"request": request, "response": {"status": 0}}]}}).encode())
    assert imported.request.headers == {"accept": "application/json"}
