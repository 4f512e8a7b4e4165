"""The replay smoke: requests recorded by the server (``[record] enabled``), read back from ``replay.exchanges``,
sent again, and the two recordings diffed: nothing beyond what is expected to change."""

from __future__ import annotations

import secrets
import time

from lakehouse.replay import Exchange, Matcher, compare, replay
from lakehouse.verify.chain import Target, _any_url, check, smoke

_NOISE = [
    Matcher(path="body.elapsed_ms", kind="ignore"),
    Matcher(path="body.query_id", kind="ignore"),
    Matcher(path="body.snapshot_id", kind="present"),
]


@smoke("replay: recorded requests replayed and diffed, nothing beyond noise")
def _record_replay_diff(t: Target) -> str:
    url, key = _any_url(t)
    marker = f"verify-rec-{secrets.token_hex(4)}"
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    requests = [
        ("/v1/validate", {"schema": schema, "payload": {"id": 1}}),
        ("/v1/validate", {"schema": schema, "payload": {"id": "one"}}),
        ("/v1/sql", {"sql": "SELECT 40 + 2 AS answer"}),
    ]
    with t.client(url, key) as c:
        for i, (path, body) in enumerate(requests):
            c.post(path, json=body, headers={"X-Request-ID": f"{marker}-{i}"})
        query = {
            "sql": "SELECT exchange FROM replay.exchanges WHERE request_id LIKE ? ORDER BY request_id",
            "params": [f"{marker}-%"],
        }
        rows: list[list[str]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            answer = c.post("/v1/sql", json=query)
            if answer.status_code == 200:
                rows = answer.json()["rows"]
                if len(rows) == len(requests):
                    break
            time.sleep(0.2)
    if len(rows) < len(requests):
        return "nothing recorded after 5 s: [record] enabled is off on this server"
    recorded = [Exchange.model_validate_json(row[0]) for row in rows]
    again = list(replay(recorded, url, api_key=key))
    report = compare(recorded, again, matchers=_NOISE)
    differing = [f"{f.endpoint} {f.field}" for f in report.fields if f.reported]
    check(report.ok, f"the replay differs from the recording: {differing or report.unmatched}")
    statuses = [e.response.status for e in again if e.response is not None]
    return f"{len(recorded)} recorded exchanges replayed ({statuses}) and diffed: nothing beyond noise"
