"""Opaque page cursors: every list in the API pages with a ``next`` cursor the client passes back."""

from __future__ import annotations

import base64
import binascii
import json

from lakehouse.errors import InvalidCursor


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
