"""Request ids, structured logs with secrets redacted, and metrics by route template."""

from __future__ import annotations

import json
import logging
import time

import pytest

from lakehouse.server.logs import JsonFormatter, redact, request_id_var
from tests.asgi import AppClient


def test_request_id_generated_and_echoed(client: AppClient) -> None:
    first = client.get("/health").headers["x-request-id"]
    second = client.get("/health").headers["x-request-id"]
    assert first and second and first != second


def test_request_id_accepted(client: AppClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("given", ["has space", "x" * 200, "new\\nline", 'quote"'])
def test_unsafe_request_id_replaced(client: AppClient, given: str) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": given}).headers["x-request-id"]
    assert echoed != given and len(echoed) == 32


def test_access_log_line(client: AppClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lakehouse.access"):
        client.get("/v1/blobs/bkt", headers={"X-Request-ID": "log-me", "Authorization": "Bearer lh_topsecretvalue"})
        # the line is written after the response is sent (its latency includes the send): wait for it
        deadline = time.monotonic() + 10
        while not any(r.name == "lakehouse.access" for r in caplog.records) and time.monotonic() < deadline:
            time.sleep(0.01)
    access = logging.getLogger("lakehouse.access")
    state = (access.disabled, access.level, access.propagate, logging.root.manager.disable, logging.root.handlers)
    records = [r for r in caplog.records if r.name == "lakehouse.access"]
    assert records, f"no access line; logger state {state}"
    record = records[0]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "log-me"
    assert line["route"] == "/v1/blobs/{bucket}" and line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert "topsecret" not in json.dumps(line)


def test_formatter_redacts_key_material() -> None:
    token = request_id_var.set("rid-1")
    try:
        record = logging.LogRecord(
            "x",
            logging.INFO,
            __file__,
            1,
            "got Authorization: Bearer lh_abcdefghijklmnopqrstuvwxyz and %s",
            ("postgresql://user:hunter2@db/x",),
            None,
        )
        record.fields = {"authorization": "Bearer abc", "headers": {"Authorization": "x", "api_key": "y"}, "n": 1}
        text = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(text)
    assert line["request_id"] == "rid-1"
    for secret in ("lh_abcdefghijklmnop", "hunter2", "Bearer abc"):
        assert secret not in text
    assert line["authorization"] == "[redacted]" and line["headers"]["api_key"] == "[redacted]" and line["n"] == 1
    assert redact({"nested": ["Bearer xyz123"]}) == {"nested": ["Bearer [redacted]"]}


def test_metrics_count_by_route_and_status(client: AppClient) -> None:
    client.put("/v1/blobs/bkt/a/b/c", content=b"x")
    client.get("/v1/blobs/bkt/a/b/c")
    client.get("/v1/blobs/bkt/missing")
    client.get("/nowhere")
    text = client.get("/metrics").text
    assert 'lakehouse_http_requests_total{method="PUT",route="/v1/blobs/{bucket}/{key:path}",status="201"} 1.0' in text
    assert 'lakehouse_http_requests_total{method="GET",route="/v1/blobs/{bucket}/{key:path}",status="404"} 1.0' in text
    assert 'lakehouse_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'lakehouse_http_request_duration_seconds_bucket{le="0.005",method="PUT"' in text
