"""`lakehouse serve` as a real process: it binds, serves, logs JSON with request ids, and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lakehouse import Client
from tests.conftest import pg_s3_env

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, capture: bool = True
) -> tuple[subprocess.Popen[str], str]:
    """`lakehouse serve` on a free port over ``data_dir``; without ``capture`` its output is discarded (a long
    run would fill an undrained pipe and block the server)."""
    port = _free_port()
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakehouse", "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
        stdout=output,
        stderr=output,
        text=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"server did not start: {proc.communicate()[1] if capture else ''}")


def _serve_pair(
    tmp_path: Path, pair: str, request: pytest.FixtureRequest, processes: int = 2
) -> tuple[subprocess.Popen[str], str, subprocess.Popen[str], str]:
    """A writer and a reader `lakehouse serve` on one lakehouse (output discarded): ``sqlite``, one data dir (the
    reader is the writer when ``processes`` is 1); ``postgres+s3``, a data dir each with a PostgreSQL catalog and
    opsdb and lake data under one S3 prefix, as two machines would share it."""
    env: dict[str, str] = {}
    dirs = (tmp_path, tmp_path)
    if pair == "postgres+s3":
        env = pg_s3_env(request.getfixturevalue("pg_url"), request.getfixturevalue("s3_settings"))
        dirs = (tmp_path / "a", tmp_path / "b")
    writer, writer_url = _serve(dirs[0], env=env, capture=False)
    reader, reader_url = _serve(dirs[1], env=env, capture=False) if processes == 2 else (writer, writer_url)
    return writer, writer_url, reader, reader_url


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err
    return err


def test_serve_embedded_default(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path / "d")
    try:
        with Client(url) as c:
            assert set(c.health().services) == {
                "gateway",
                "storaged",
                "catalogd",
                "ingestd",
                "queryd",
                "embedd",
                "vectord",
                "pathwayd",
                "validatord",
                "observerd",
            }
            assert c.ready().checks["opsdb"].ok
            c.blobs.put("e2e", "k", b"hello")
        r = httpx.get(url + "/v1/blobs/e2e/k", headers={"X-Request-ID": "e2e-1", "Authorization": "Bearer lh_leak"})
        assert r.content == b"hello"
    finally:
        err = _stop(proc)
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "lakehouse.access"]
    assert any(line["request_id"] == "e2e-1" and line["status"] == 200 for line in access)
    assert all(line["request_id"] for line in access)
    assert "lh_leak" not in err
    serving = "serving gateway,storaged,catalogd,ingestd,queryd,embedd,vectord,pathwayd,validatord,observerd on http://127.0.0.1"
    assert any(serving in line["msg"] for line in lines)
    assert any(line["logger"] == "lakehouse.embed" and line["msg"].startswith("embeddings: ") for line in lines)
    assert (tmp_path / "d" / "opsdb.sqlite3").exists() and (tmp_path / "d" / "blobs" / "e2e" / "k").exists()


def test_stopping_the_server_closes_its_stores_and_stops_its_workers(tmp_path: Path) -> None:
    """SIGTERM: after the requests drain, the stores close — the processes that read OTLP exports
    (``observe.decode_workers``) do not outlive the server."""
    proc, url = _serve(tmp_path / "d", env={"LAKEHOUSE_OBSERVE__DECODE_WORKERS": "1"})
    span = {"traceId": "ab" * 16, "spanId": "00f067aa0ba902b7", "name": "run", "startTimeUnixNano": "1"}
    export = {"resourceSpans": [{"scopeSpans": [{"spans": [{**span, "endTimeUnixNano": "2"}]}]}]}
    try:
        answer = httpx.post(url + "/v1/traces", json=export, timeout=60)
        assert answer.status_code == 200 and answer.headers["X-Spans-Accepted"] == "1"
        tasks = Path(f"/proc/{proc.pid}/task").iterdir()  # a thread's children are listed under that thread
        children = [pid for task in tasks for pid in (task / "children").read_text().split()]
        assert children  # the worker (and multiprocessing's resource tracker)
    finally:
        _stop(proc)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [
        pid
        for pid in children
        if Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
    ]
    assert alive == []


def test_serve_only_one_service_with_auth(tmp_path: Path) -> None:
    proc, url = _serve(tmp_path / "d", "--only", "storaged", "--auth")
    try:
        assert httpx.get(url + "/health").json()["services"] == ["storaged"]
        assert httpx.get(url + "/v1/blobs/e2e").status_code == 401
        assert httpx.get(url + "/v1/keys").status_code == 404
    finally:
        err = _stop(proc)
    assert "no API key exists" in err


def test_serve_unknown_service_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lakehouse", "serve", "--only", "nosuchd", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown service nosuchd" in result.stderr


def test_kill_mid_upload_leaves_no_partial_blob(tmp_path: Path) -> None:
    """SIGKILL while a blob streams in: after restart the key does not exist and the old blob is intact."""
    proc, url = _serve(tmp_path / "d")
    assert httpx.put(url + "/v1/blobs/crash/kept", content=b"old").status_code == 201
    for key in ("kept", "new"):
        if proc.poll() is not None:
            proc, url = _serve(tmp_path / "d")

        def body(victim: subprocess.Popen[str] = proc) -> Iterator[bytes]:
            for sent in range(200):
                if sent == 20:
                    victim.kill()  # mid-stream: no chance to clean up
                    victim.wait()
                yield b"x" * 65536

        try:
            with pytest.raises(httpx.TransportError):
                httpx.put(url + f"/v1/blobs/crash/{key}", content=body(), timeout=10)
        finally:
            proc.kill()
            proc.communicate()
    proc, url = _serve(tmp_path / "d")
    try:
        assert httpx.get(url + "/v1/blobs/crash/kept").content == b"old"
        assert httpx.head(url + "/v1/blobs/crash/new").status_code == 404
        assert [b["key"] for b in httpx.get(url + "/v1/blobs/crash").json()["items"]] == ["kept"]
    finally:
        _stop(proc)
