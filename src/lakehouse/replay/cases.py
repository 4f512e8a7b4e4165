"""The case file: one recorded exchange per line (NDJSON), the request and, once sent, the answer.

A body is kept as JSON when it parsed as JSON, as text when it is UTF-8, else as base64, so that a case file stays
readable and diffable. ``endpoint`` groups exchanges for a report: given, or the method and the path with the
segments that look like ids replaced by ``{id}``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from pydantic import Field, JsonValue, ValidationError

from lakehouse.errors import ErrorItem, MalformedInput
from lakehouse.wire import Answer

_ID_SEGMENT = re.compile(r"^(?:[0-9]+|[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


class BlobRef(Answer):
    """A recorded body too large to keep inline, stored (masked as a small one is) as a blob."""

    bucket: str
    key: str
    size: int = Field(ge=0)
    sha256: str
    content_type: str | None = None


class Body(Answer):
    """A message body: exactly one of ``json``, ``text``, ``base64`` and ``blob`` is set (none for an empty body).
    ``blob`` is a recording's reference to a large body; ``lakehouse record export`` puts the bytes back inline."""

    json_value: JsonValue = Field(None, alias="json")
    text: str | None = None
    base64: str | None = None
    blob: BlobRef | None = None
    is_json: bool = Field(False, description="Whether the body parsed as JSON (a JSON null is a body too).")

    @classmethod
    def of(cls, data: bytes, content_type: str | None = None) -> Body:
        if not data:
            return cls()
        if content_type is None or "json" in content_type:
            try:
                return cls.model_validate({"json": json.loads(data), "is_json": True})
            except ValueError:
                pass
        try:
            return cls(text=data.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(base64=base64.b64encode(data).decode())

    def raw(self) -> bytes:
        if self.is_json:
            return json.dumps(self.json_value, ensure_ascii=False).encode()
        if self.text is not None:
            return self.text.encode()
        if self.base64 is not None:
            return base64.b64decode(self.base64)
        return b""  # empty, or a blob reference (``send`` refuses to send one)


class RecordedRequest(Answer):
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    body: Body = Field(default_factory=Body)


class RecordedResponse(Answer):
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: Body = Field(default_factory=Body)

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        return value.split(";")[0].strip().lower() if value else None


class Exchange(Answer):
    """One case: a request, and the answer a target gave (absent in a case file not yet replayed)."""

    id: str = Field(description="The case's id: recordings of the same cases are matched by it.")
    endpoint: str | None = Field(None, description="The group it is reported under (default: method and path shape).")
    request: RecordedRequest
    capture: dict[str, str] = Field(
        default_factory=dict,
        description="Names for fields of the answer (`body.id`, `header.etag`) that later requests use as {{name}}.",
    )
    response: RecordedResponse | None = None
    error: str | None = Field(
        None, description="Why the case has no answer: a value it uses no earlier answer gave, or no answer came."
    )
    latency_ms: float | None = None
    request_id: str | None = None
    time: datetime | None = None

    def endpoint_name(self) -> str:
        if self.endpoint:
            return self.endpoint
        shape = "/".join("{id}" if _ID_SEGMENT.match(s) else s for s in self.request.path.split("/"))
        return f"{self.request.method} {shape}"


def read_cases(path: Path | str) -> Iterator[Exchange]:
    """The exchanges of a case file, in order; a line that is not an exchange stops with its line number."""
    with Path(path).open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                yield Exchange.model_validate_json(line)
            except ValidationError as exc:
                reason = f"line {number}: not an exchange ({exc.error_count()} problem(s): {exc.errors()[0]['msg']})"
                raise MalformedInput(reason, errors=[ErrorItem(kind="malformed_input", reason=reason)]) from exc


def case_files(paths: Iterable[Path | str]) -> list[Path]:
    """The case files named: a file as it is, a directory as its ``*.ndjson`` files in name order (the order
    `parity/` numbers its files in)."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        out += sorted(path.glob("*.ndjson")) if path.is_dir() else [path]
    return out


def read_case_files(paths: Iterable[Path | str]) -> Iterator[Exchange]:
    """The exchanges of every case file named (see ``case_files``), file after file."""
    for path in case_files(paths):
        yield from read_cases(path)


def write_cases(path: Path | str, exchanges: Iterable[Exchange]) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8") as file:
        for exchange in exchanges:
            file.write(exchange.model_dump_json(by_alias=True, exclude_none=True) + "\n")
            count += 1
    return count
