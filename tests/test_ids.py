"""Ids sort by the time they were made, never go backwards within a process, and are valid UUIDv7s."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from lakehouse.ids import new_id


def test_ids_are_uuid7_in_32_hex_digits() -> None:
    made = new_id()
    assert len(made) == 32 and made == made.lower()
    parsed = uuid.UUID(made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert abs(int(made[:12], 16) - time.time_ns() // 1_000_000) < 5_000


def test_ids_only_go_forward_even_many_in_one_millisecond_and_from_many_threads() -> None:
    burst = [new_id() for _ in range(20_000)]  # past the 4,096 a millisecond's counter holds
    assert burst == sorted(burst) and len(set(burst)) == len(burst)
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: new_id(), range(4_000)))
    assert len(set(together)) == len(together)
    assert min(together) > burst[-1]
