"""Stateful cases: values one answer gives (a new memory's id, a snapshot id, an ETag) used by later requests.

A case captures fields of its answer by field path (``"capture": {"memory": "body.id", "tag": "header.etag"}``,
the paths ``compare.flatten`` makes), and a later request uses them as ``{{memory}}`` in its path, query, header
values or body strings (a body string that is exactly ``{{memory}}`` takes the captured value with its JSON
type). Each target keeps its own captures, so a recording that creates a memory and then revises it replays on a
fresh deployment. ``templatize`` finds such values in a recording made from live traffic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import JsonValue

from lakehouse.errors import ErrorItem, RequestValidationFailed
from lakehouse.replay.cases import Body, Exchange, RecordedRequest, RecordedResponse
from lakehouse.replay.compare import flatten

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
_ID_FIELD = re.compile(r"(?:^|[._])(?:id|[a-z]+_id)$|^header\.etag$")


def placeholders(request: RecordedRequest) -> set[str]:
    """The names a request uses."""
    texts = [request.path, request.query, *request.headers.values(), request.body.text or ""]
    found = {m for text in texts for m in _PLACEHOLDER.findall(text)}
    if request.body.is_json:
        found |= _names_in(request.body.json_value)
    return found


def _names_in(value: JsonValue) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return {n for v in value.values() for n in _names_in(v)}
    if isinstance(value, list):
        return {n for v in value for n in _names_in(v)}
    return set()


def _fill_text(text: str, values: Mapping[str, JsonValue]) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        return value if isinstance(value, str) else str(value)

    return _PLACEHOLDER.sub(one, text)


def _fill_json(value: JsonValue, values: Mapping[str, JsonValue]) -> JsonValue:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        return values[whole.group(1)] if whole else _fill_text(value, values)
    if isinstance(value, dict):
        return {k: _fill_json(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_json(v, values) for v in value]
    return value


def fill(exchange: Exchange, values: Mapping[str, JsonValue]) -> RecordedRequest:
    """The request with this target's captured values in place of its placeholders."""
    missing = sorted(placeholders(exchange.request) - set(values))
    if missing:
        reason = f"case {exchange.id} uses {', '.join(missing)}, which no earlier answer of this target gave"
        raise RequestValidationFailed(
            reason, errors=[ErrorItem(kind="validation_failed", field=exchange.id, reason=reason)]
        )
    request = exchange.request
    body = request.body
    if body.is_json:
        body = Body.model_validate({"json": _fill_json(body.json_value, values), "is_json": True})
    elif body.text is not None:
        body = Body(text=_fill_text(body.text, values))
    return request.model_copy(
        update={
            "path": _fill_text(request.path, values),
            "query": _fill_text(request.query, values),
            "headers": {k: _fill_text(v, values) for k, v in request.headers.items()},
            "body": body,
        }
    )


def captured(exchange: Exchange, response: RecordedResponse) -> dict[str, JsonValue]:
    """What a case captures from an answer (a path the answer lacks is not captured)."""
    fields = flatten(response, headers=("etag",))
    return {name: fields[path] for name, path in exchange.capture.items() if path in fields}


def templatize(exchanges: Sequence[Exchange]) -> list[Exchange]:
    """A recording made replayable on a fresh deployment: an id-like value (a field named ``id``, ``*_id`` or the
    ETag, of 8 characters or more, or any integer id) that an answer gave and a later request uses becomes a
    capture of the first and a placeholder in the others."""
    out = [e.model_copy(deep=True) for e in exchanges]
    known: dict[str, str] = {}  # the value as the requests would show it -> its name
    for index, exchange in enumerate(out):
        if index:
            exchange.request = _replace(exchange.request, known)
        if exchange.response is None:
            continue
        fields = flatten(exchange.response, headers=("etag",))
        for path, value in fields.items():
            if not _ID_FIELD.search(path) or isinstance(value, bool) or value is None:
                continue
            text = value if isinstance(value, str) else str(value)
            if isinstance(value, str) and len(value) < 8:
                continue
            if not isinstance(value, str | int) or text in known:
                continue
            name = f"v{index}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"
            if any(text in _request_text(later.request) for later in out[index + 1 :]):
                known[text] = name
                exchange.capture[name] = path
    return out


def _request_text(request: RecordedRequest) -> str:
    return " ".join(
        [request.path, request.query, *request.headers.values(), request.body.raw().decode("utf-8", "replace")]
    )


def _replace(request: RecordedRequest, known: Mapping[str, str]) -> RecordedRequest:
    if not known:
        return request
    pattern = re.compile("|".join(re.escape(v) for v in sorted(known, key=len, reverse=True)))

    def text(value: str) -> str:
        return pattern.sub(lambda m: "{{" + known[m.group(0)] + "}}", value)

    def walk(value: JsonValue) -> JsonValue:
        if isinstance(value, str):
            return "{{" + known[value] + "}}" if value in known else text(value)
        if isinstance(value, int) and not isinstance(value, bool) and str(value) in known:
            return "{{" + known[str(value)] + "}}"
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    body = request.body
    if body.is_json:
        body = Body.model_validate({"json": walk(body.json_value), "is_json": True})
    elif body.text is not None:
        body = Body(text=text(body.text))
    return request.model_copy(
        update={
            "path": text(request.path),
            "query": text(request.query),
            "headers": {k: text(v) for k, v in request.headers.items()},
            "body": body,
        }
    )
