"""Smokes of the front door, whichever process it is: request ids, the body limit before any store is touched,
hostile JSON, the observation batch limit, and with auth on the keys: none, good, wrong scope, revoked, and keys
bound to a tenant or to namespaces."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from lakehouse.verify.chain import BUCKET, Target, _any_url, check, check_problem, smoke


@smoke("request id: a given one is echoed, a key-shaped one replaced")
def _request_id(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        echoed = c.get("/health", headers={"X-Request-ID": "verify-req-42"}).headers.get("x-request-id")
        check(echoed == "verify-req-42", f"sent verify-req-42, got {echoed}")
        replaced = c.get("/health", headers={"X-Request-ID": "lh_looks_like_a_key_0123456789"}).headers["x-request-id"]
        check(not replaced.startswith("lh_"), "a key-shaped request id was echoed")
        problem = c.get("/v1/no-such-route", headers={"X-Request-ID": "verify-req-43"})
        check(problem.json().get("request_id") == "verify-req-43", "the problem body names another request id")
    return "echoed in the header and in a problem body; a key-shaped id replaced"


@smoke("body limit: a declared oversize body -> 413 before it is read")
def _body_limit(t: Target) -> str:
    url, key = _any_url(t)
    parts = urlsplit(url)
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    started = time.perf_counter()
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /v1/memories HTTP/1.1\r\nHost: {parts.netloc}\r\n{auth}Content-Type: application/json\r\n"
                "Content-Length: 10737418240\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    took = (time.perf_counter() - started) * 1000
    status = answer.split(b" ", 2)[1] if answer else b""
    check(status == b"413", f"a 10 GiB declared body -> {status!r}")
    return f"10 GiB declared, 413 payload_too_large in {took:.0f} ms without reading it"


@smoke("hostile JSON: deep nesting and a lone surrogate refused, nothing stored")
def _hostile_json(t: Target) -> str:
    url, key = _any_url(t)
    with t.client(url, key) as c:
        deep = '{"scope": {"tenant": "verify-hostile"}, "content": "x", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
        check_problem(
            c.post("/v1/memories", content=deep, headers={"Content-Type": "application/json"}), 400, "nesting_too_deep"
        )
        surrogate = '{"scope": {"tenant": "verify-hostile"}, "content": "bad \\ud800 text"}'
        check_problem(
            c.post("/v1/memories", content=surrogate, headers={"Content-Type": "application/json"}),
            400,
            "lone_surrogate",
        )
        listed = c.get("/v1/memories", params={"tenant": "verify-hostile"})
        check(listed.status_code == 200 and listed.json()["items"] == [], "a refused memory was stored")
    return "100,000 levels -> 400 nesting_too_deep, \\ud800 -> 400 lone_surrogate; the tenant holds nothing"


@smoke("observe: an export past observe.max_spans -> 413, nothing stored")
def _observe_limit(t: Target) -> str:
    url, key = _any_url(t)
    trace = "5" * 32
    spans = [
        {"traceId": trace, "spanId": f"{i:016x}", "name": "s", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
        for i in range(100_001)
    ]
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    with t.client(url, key) as c:
        answer = c.post("/v1/traces", content=body, headers={"Content-Type": "application/json"})
        check(answer.status_code == 413, f"100,001 spans -> {answer.status_code}: {answer.text[:200]}")
        check(c.get(f"/v1/traces/{trace}").status_code == 404, "a span of a refused export was stored")
    return "100,001 spans (past the highest observe.max_spans) -> 413; the trace is not there"


@smoke("auth on: a tenant's memory is another tenant's missing one", needs="auth")
def _tenant_bound(t: Target) -> str:
    assert t.auth_url is not None
    with t.client(t.auth_url, t.admin_key) as admin:
        for name, tenant in (("verify-tenant-a", "verify-a"), ("verify-tenant-b", "verify-b")):
            admin.delete(f"/v1/keys/{name}")
            made = admin.post("/v1/keys", json={"name": name, "scopes": ["read", "write"], "tenant": tenant})
            check(made.status_code == 201, f"creating {name} -> {made.status_code}")
            t.notes[name] = made.json()["secret"]
    try:
        scope = {"tenant": "verify-a", "user_id": "u"}
        with t.client(t.auth_url, t.notes["verify-tenant-a"]) as a:
            added = a.post("/v1/memories", json={"scope": scope, "content": "tenant a's secret plan"})
            check(added.status_code == 201, f"adding -> {added.status_code}")
            memory_id = added.json()["id"]
        with t.client(t.auth_url, t.notes["verify-tenant-b"]) as b:
            check_problem(b.get(f"/v1/memories/{memory_id}", params=scope), 404, "memory_not_found")
            check_problem(b.get("/v1/memories", params=scope), 403, "tenant_forbidden")
    finally:
        with t.client(t.auth_url, t.admin_key) as admin:
            admin.delete("/v1/keys/verify-tenant-a")
            admin.delete("/v1/keys/verify-tenant-b")
    return "tenant b: tenant a's memory -> 404 (as a missing one), its list -> 403 tenant_forbidden"


@smoke("auth on: a key bound to a namespace reaches no other", needs="auth")
def _namespace_bound(t: Target) -> str:
    assert t.auth_url is not None
    with t.client(t.auth_url, t.admin_key) as admin:
        admin.delete("/v1/keys/verify-ns")
        made = admin.post("/v1/keys", json={"name": "verify-ns", "scopes": ["read"], "namespaces": ["verify_ns_a"]})
        check(made.status_code == 201, f"creating the key -> {made.status_code}: {made.text[:200]}")
        secret = made.json()["secret"]
    try:
        with t.client(t.auth_url, secret) as c:
            check_problem(c.get("/v1/datasets/verify_ns_b.anything"), 403, "permission_denied")
            check_problem(c.get("/v1/datasets/verify_ns_a.nothing"), 404, "dataset_not_found")
    finally:
        with t.client(t.auth_url, t.admin_key) as admin:
            admin.delete("/v1/keys/verify-ns")
    return "a dataset of another namespace -> 403 permission_denied; of its own -> 404 (reached, not there)"


@contextlib.contextmanager
def scoped_key(t: Target, name: str, scopes: list[str]) -> Iterator[str]:
    """A key made with the admin key for one smoke, revoked afterwards."""
    assert t.auth_url is not None
    with t.client(t.auth_url, t.admin_key) as admin:
        admin.delete(f"/v1/keys/{name}")
        r = admin.post("/v1/keys", json={"name": name, "scopes": scopes})
        check(r.status_code == 201, f"creating a key -> {r.status_code}: {r.text[:200]} (is --api-key an admin key?)")
        try:
            yield r.json()["secret"]
        finally:
            admin.delete(f"/v1/keys/{name}")


@smoke("auth on: no key -> 401", needs="auth")
def _auth_no_key(t: Target) -> str:
    assert t.auth_url is not None
    with t.client(t.auth_url) as c:
        check_problem(c.get(f"/v1/blobs/{BUCKET}"), 401, "unauthenticated")
        wrong = {"Authorization": "Bearer lh_wrong"}
        check_problem(c.get(f"/v1/blobs/{BUCKET}", headers=wrong), 401, "unauthenticated")
        check(c.get("/health").status_code == 200, "/health must stay open")
    return "no key and an unknown key -> 401 unauthenticated; /health open"


@smoke("auth on: good key -> 200", needs="auth")
def _auth_good_key(t: Target) -> str:
    assert t.auth_url is not None
    with scoped_key(t, "verify-writer", ["read", "write"]) as secret, t.client(t.auth_url, secret) as c:
        put = c.put(f"/v1/blobs/{BUCKET}/auth/ok.txt", content=b"ok")
        check(put.status_code == 201, f"PUT with a write key -> {put.status_code}")
        check(c.get(f"/v1/blobs/{BUCKET}/auth/ok.txt").content == b"ok", "GET with a read key failed")
        c.delete(f"/v1/blobs/{BUCKET}/auth/ok.txt")
    return "a read,write key may PUT and GET"


@smoke("auth on: wrong scope -> 403", needs="auth")
def _auth_wrong_scope(t: Target) -> str:
    assert t.auth_url is not None
    with scoped_key(t, "verify-reader", ["read"]) as secret, t.client(t.auth_url, secret) as c:
        check_problem(c.put(f"/v1/blobs/{BUCKET}/auth/no.txt", content=b"no"), 403, "forbidden")
        check_problem(c.get("/v1/keys"), 403, "forbidden")
    return "a read key is refused PUT (write) and /v1/keys (admin) with 403 forbidden"


@smoke("auth on: revoked key -> 401", needs="auth")
def _auth_revoked(t: Target) -> str:
    assert t.auth_url is not None
    with scoped_key(t, "verify-revoked", ["read"]) as secret:
        with t.client(t.auth_url, t.admin_key) as admin:
            check(admin.delete("/v1/keys/verify-revoked").status_code == 200, "revoking failed")
        with t.client(t.auth_url, secret) as c:
            check_problem(c.get(f"/v1/blobs/{BUCKET}"), 401, "unauthenticated")
    return "a revoked key -> 401 unauthenticated"
