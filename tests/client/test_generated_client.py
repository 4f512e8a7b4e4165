"""The OpenAPI document is a contract: a client generated from it by a standard generator
(``openapi-python-client``) works against a real server with the generated code only: ADD a memory and see it
deduplicated, search it, get a typed Problem for a bad request, ingest rows and query them back."""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.e2e.test_serve import _serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("generated") / "data"
    proc, url = _serve(data, env={"LAKEHOUSE_EMBED__PROVIDER": "hashing"}, capture=False)
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def generated(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The client package generated from the running server's /openapi.json, importable by its name."""
    where = tmp_path_factory.mktemp("client")
    (where / "openapi.json").write_text(json.dumps(httpx.get(server + "/openapi.json").json()))
    (where / "config.yaml").write_text("post_hooks: []\npackage_name_override: lakehouse_generated\n")
    tool = Path(sys.executable).parent / "openapi-python-client"
    command = [str(tool), "generate", "--path", "openapi.json", "--config", "config.yaml", "--meta", "none"]
    done = subprocess.run(
        [*command, "--output-path", "lakehouse_generated"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(where))
    try:
        yield "lakehouse_generated"
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m.split(".")[0] == "lakehouse_generated"]:
            del sys.modules[name]


def _module(package: str, name: str) -> ModuleType:
    return importlib.import_module(f"{package}.{name}")


def test_memory_through_the_generated_client(server: str, generated: str) -> None:
    with _module(generated, "client").Client(base_url=server) as client:
        _memory(client, generated)


def _memory(client: Any, generated: str) -> None:
    models: Any = _module(generated, "models")
    add = _module(generated, "api.memory.memory_add")
    search = _module(generated, "api.memory.memory_search")
    scope = models.Scope(tenant="gen", user_id="u1")
    first = add.sync(client=client, body=models.AddMemory(scope=scope, content="Prefers email over phone"))
    assert isinstance(first, models.AddedMemory) and first.deduplicated is False and first.version == 1
    again = add.sync_detailed(client=client, body=models.AddMemory(scope=scope, content="prefers EMAIL over phone"))
    assert again.status_code == 200 and again.parsed.id == first.id and again.parsed.deduplicated is True
    found = search.sync(client=client, body=models.MemorySearch(scope=scope, query="email", k=3))
    assert isinstance(found, models.SearchResults) and [hit.id for hit in found.results] == [first.id]
    refused = add.sync(client=client, body=models.AddMemory(scope=models.Scope(tenant=""), content="x"))
    assert isinstance(refused, models.Problem) and refused.status == 422
    assert [(e.kind, e.pointer) for e in refused.errors] == [("min_length", "/scope/tenant")]


def test_tables_through_the_generated_client(server: str, generated: str) -> None:
    with _module(generated, "client").Client(base_url=server) as client:
        _tables(client, generated)


def _tables(client: Any, generated: str) -> None:
    models: Any = _module(generated, "models")
    ingest = _module(generated, "api.ingest.ingest_ingest")
    run_sql = _module(generated, "api.sql.sql_run_sql")
    rows = [models.IngestIngestJsonBodyItem.from_dict({"id": i, "name": n}) for i, n in ((1, "ada"), (2, "bob"))]
    written = ingest.sync("crm.people", client=client, body=rows, create=True)
    assert isinstance(written, models.IngestSummary) and written.rows_written == 2 and written.created is True
    answer = run_sql.sync(client=client, body=models.SqlRequest(sql="SELECT name FROM crm.people ORDER BY id"))
    assert isinstance(answer, models.SqlAnswer) and answer.rows == [["ada"], ["bob"]]
    assert answer.snapshot_id == written.snapshot_id
