"""Ids that sort by the time they were made: UUIDv7 (RFC 9562) as 32 hex digits, the form every id here has.

The first 48 bits are the Unix time in milliseconds; the next 12 count ids made in the same millisecond by this
process (so ids of one process never go backwards), the rest is random. Ordering by id is ordering by creation,
which is what breaks ties in rankings: two deployments given the same writes in the same order rank alike, and a
B-tree index on the id grows at its right edge.
"""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A fresh UUIDv7, as 32 lowercase hex digits."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            _last_ms, _counter = now, secrets.randbits(8)  # room for 3,840 more in this millisecond
        else:
            _counter += 1
            if _counter > 0xFFF:  # the millisecond is full: borrow the next one
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | secrets.randbits(62)
    return f"{value:032x}"
