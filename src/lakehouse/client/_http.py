"""The client's transport: one httpx client, auth header, and problem+json mapped back to exceptions."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from lakehouse.errors import ErrorItem, error_class_for_kind

A = TypeVar("A", bound=BaseModel)


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the exception class the server raised, found by the body's ``kind``."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    items = body.get("errors") or []
    kind = items[0].get("kind", "") if items and isinstance(items[0], dict) else ""
    type_uri = str(body.get("type", ""))
    if type_uri.startswith("urn:lakehouse:problem:"):
        kind = type_uri.rsplit(":", 1)[1]
    cls = error_class_for_kind(kind, response.status_code)
    errors = [
        ErrorItem(
            kind=i.get("kind", ""),
            field=i.get("field"),
            pointer=i.get("pointer"),
            reason=i.get("reason", ""),
            extra={k: v for k, v in i.items() if k not in ("kind", "field", "pointer", "reason")},  # cycle, line, ...
        )
        for i in items
        if isinstance(i, dict)
    ]
    exc = cls(str(body.get("detail") or response.reason_phrase), errors=errors or None)
    exc.request_id = body.get("request_id") or response.headers.get("x-request-id")
    raise exc


def idempotency(key: str | None) -> dict[str, str]:
    """The header that makes a write safe to retry (docs/api.md), when a key is given."""
    return {"Idempotency-Key": key} if key else {}


class ChunkFile(io.RawIOBase):
    """A read-only file over an iterator of byte chunks (a streamed response body), for readers such as pyarrow's
    that pull bytes as they need them."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class Transport:
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = http or httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.http.headers.update(headers)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)
        raise_for_problem(response)
        return response

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives; an error status raises before the body is handed out."""
        with self.http.stream(method, path, **kwargs) as response:
            if response.status_code >= 400:
                response.read()
                raise_for_problem(response)
            yield response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def call(self, method: str, path: str, answer: type[A], *, body: BaseModel | None = None, **kwargs: Any) -> A:
        """One request whose answer is ``answer``: ``body`` (a wire model) is sent with only the fields it was
        given (an UPDATE's ``null`` clears; a field left out is kept)."""
        if body is not None:
            kwargs["json"] = body.model_dump(mode="json", exclude_unset=True, by_alias=True)
        return answer.model_validate(self.json(method, path, **kwargs))

    def pages_of(self, path: str, params: dict[str, Any], item: type[A]) -> Iterator[A]:
        """Every item of a paged list, as ``item``."""
        return (item.model_validate(found) for found in self.pages(path, params))

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following ``next`` cursors."""
        cursor: str | None = None
        while True:
            page = self.json("GET", path, params={**params, **({"cursor": cursor} if cursor else {})})
            yield from page["items"]
            cursor = page.get("next")
            if not cursor:
                return

    def close(self) -> None:
        self.http.close()
