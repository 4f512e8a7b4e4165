"""HAR 1.2 (the HTTP Archive browsers and proxies export) to case files and back, for interop with their tooling.

An entry's request becomes a case's request (path and query split from its URL, its headers but the hop-by-hop
ones and the credentials, Authorization and cookies, ``postData.text``); its response, when it has a status, the
case's answer (``content.text``, base64 when ``content.encoding`` says so). Going back, each case becomes an entry
on ``base_url``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lakehouse.errors import ErrorItem, MalformedInput
from lakehouse.replay.cases import Body, Exchange, RecordedRequest, RecordedResponse
from lakehouse.version import __version__

_SKIPPED = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "keep-alive", ":authority"}
    | {"authorization", "cookie", "set-cookie"}  # a credential is never replayed from a capture
)


def _headers(entries: Iterable[dict[str, Any]]) -> dict[str, str]:
    return {str(h["name"]).lower(): str(h["value"]) for h in entries if str(h["name"]).lower() not in _SKIPPED}


def _content_type(headers: dict[str, str]) -> str | None:
    return headers.get("content-type")


def from_har(document: bytes) -> list[Exchange]:
    """The entries of a HAR file as cases, in order."""
    try:
        entries = json.loads(document)["log"]["entries"]
        out = []
        for index, entry in enumerate(entries):
            request, response = entry["request"], entry.get("response") or {}
            url = urlsplit(request["url"])
            headers = _headers(request.get("headers", []))
            post = request.get("postData") or {}
            body = Body.of(str(post.get("text", "")).encode(), post.get("mimeType") or _content_type(headers))
            recorded = RecordedRequest(
                method=str(request["method"]).upper(), path=url.path or "/", query=url.query, headers=headers, body=body
            )
            answer = None
            if int(response.get("status") or 0) > 0:
                answer_headers = _headers(response.get("headers", []))
                content = response.get("content") or {}
                text = str(content.get("text", ""))
                raw = base64.b64decode(text) if content.get("encoding") == "base64" else text.encode()
                answer = RecordedResponse(
                    status=int(response["status"]),
                    headers=answer_headers,
                    body=Body.of(raw, content.get("mimeType") or _content_type(answer_headers)),
                )
            started = entry.get("startedDateTime")
            out.append(
                Exchange(
                    id=str(entry.get("comment") or f"har-{index}"),
                    request=recorded,
                    response=answer,
                    latency_ms=float(entry["time"]) if entry.get("time") is not None else None,
                    request_id=(answer.headers.get("x-request-id") if answer else None),
                    time=datetime.fromisoformat(started.replace("Z", "+00:00")) if started else None,
                )
            )
        return out
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"not a HAR 1.2 document: {type(exc).__name__}: {exc}"
        raise MalformedInput(reason, errors=[ErrorItem(kind="malformed_input", reason=reason)]) from exc


def _har_headers(headers: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in headers.items()]


def _har_content(body: Body, content_type: str | None) -> dict[str, Any]:
    raw = body.raw()
    content: dict[str, Any] = {"size": len(raw), "mimeType": content_type or ""}
    if body.base64 is not None:
        content.update(text=body.base64, encoding="base64")
    elif raw:
        content["text"] = raw.decode("utf-8")
    return content


def to_har(exchanges: Iterable[Exchange], base_url: str) -> bytes:
    """Cases as a HAR 1.2 document on ``base_url``."""
    base = base_url.rstrip("/")
    entries = []
    for exchange in exchanges:
        request, response = exchange.request, exchange.response
        query = [{"name": k, "value": v} for k, _, v in (p.partition("=") for p in request.query.split("&") if p)]
        har_request: dict[str, Any] = {
            "method": request.method,
            "url": base + request.path + (f"?{request.query}" if request.query else ""),
            "httpVersion": "HTTP/1.1",
            "headers": _har_headers(request.headers),
            "queryString": query,
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(request.body.raw()),
        }
        if request.body.raw():
            content = _har_content(request.body, request.headers.get("content-type"))
            har_request["postData"] = {
                "mimeType": content["mimeType"],
                "text": request.body.raw().decode("utf-8", "replace"),
            }
        har_response: dict[str, Any] = {
            "status": response.status if response else 0,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": _har_headers(response.headers) if response else [],
            "cookies": [],
            "content": _har_content(response.body, response.content_type) if response else {"size": 0, "mimeType": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response.body.raw()) if response else -1,
        }
        when = exchange.time or datetime.now(UTC)
        entries.append(
            {
                "startedDateTime": when.isoformat(),
                "time": exchange.latency_ms or 0,
                "request": har_request,
                "response": har_response,
                "cache": {},
                "timings": {"send": 0, "wait": exchange.latency_ms or 0, "receive": 0},
                "comment": exchange.id,
            }
        )
    document = {"log": {"version": "1.2", "creator": {"name": "lakehouse", "version": __version__}, "entries": entries}}
    return json.dumps(document, indent=1, ensure_ascii=False).encode()
