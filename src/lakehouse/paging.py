"""Paging: every list in the API answers a ``Page`` of items with an opaque ``next`` cursor the client passes back
as ``cursor``; ``page_of`` makes one from ``limit + 1`` rows."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pydantic import Field

from lakehouse.errors import InvalidCursor
from lakehouse.wire import Answer

T = TypeVar("T")


def encode_cursor(last_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_key}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = data["after"]
        if not isinstance(after, str):
            raise TypeError(after)
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("cursor is not one this server issued", field="cursor") from exc
    return after


class Page(Answer, Generic[T]):
    """One page of a list: its items, and the cursor of the next page (``null`` on the last)."""

    items: list[T]
    next: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last page.")


def page_of(found: Sequence[T], limit: int, key: Callable[[T], str]) -> Page[T]:
    """The page of ``found`` (fetched with ``limit + 1`` rows, so a next page shows as one row more)."""
    items = list(found[:limit])
    return Page[T](items=items, next=encode_cursor(key(items[-1])) if len(found) > limit else None)
