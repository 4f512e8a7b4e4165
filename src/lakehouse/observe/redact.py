"""Redaction at ingest: what must never be stored is masked before a span or a score reaches any store, on every
path in (OTLP protobuf, OTLP JSON, the JSON API).

Two rules, from ``[observe.redact]``: ``patterns`` (regular expressions; the built-in ``email`` and ``api_key``
shapes by name, or any expression) replace each match inside every string value — attributes, resource attributes,
event attributes, input, output, status message and span name — with ``[REDACTED]``; ``attributes`` (names) replace
the whole value of an attribute whose key is one of them or ends with ``.<name>`` (case-insensitive), whatever its
type. Keys are kept, so a reader sees that something was there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lakehouse.config import BUILTIN_REDACTIONS

MASK = "[REDACTED]"

BUILTIN_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    # provider keys and tokens with a recognizable prefix, and bearer tokens
    "api_key": (
        r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9_-]{2,}-)?[A-Za-z0-9_-]{16,}"
        r"|\bAKIA[0-9A-Z]{16}\b"
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
        r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
        r"|\bAIza[0-9A-Za-z_-]{35}"
        r"|\blh_[A-Za-z0-9_-]{20,}"
        r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/-]{16,}=*"
    ),
}


assert tuple(BUILTIN_PATTERNS) == BUILTIN_REDACTIONS


def compile_patterns(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """The patterns (built-in names or expressions) as one alternation, or None when there are none. Raises
    ``re.error`` for an expression that does not compile (the settings check calls this)."""
    parts = [BUILTIN_PATTERNS.get(p, p) for p in patterns]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts))


_CACHED_TEXT = 256  # texts up to this long are remembered with their masked form (names, models, ids repeat)
_CACHE_SIZE = 16_384


class Redactor:
    """Thread-safe (its caches are plain dicts: a lost race costs one recomputation)."""

    def __init__(self, patterns: Iterable[str], attributes: Iterable[str]) -> None:
        self._pattern = compile_patterns(patterns)
        self._names = frozenset(name.lower() for name in attributes)
        self._dotted = tuple("." + name for name in self._names if "." in name)  # matched as a suffix
        self._keys: dict[str, bool] = {}
        self._texts: dict[str, str] = {}

    def text(self, value: str | None) -> str | None:
        if value is None or self._pattern is None:
            return value
        if len(value) > _CACHED_TEXT:
            return self._pattern.sub(MASK, value)
        known = self._texts.get(value)
        if known is None:
            known = self._pattern.sub(MASK, value)
            if len(self._texts) >= _CACHE_SIZE:
                self._texts.clear()
            self._texts[value] = known
        return known

    def _masked_name(self, key: str) -> bool:
        """A key equal to a configured name or ending in ``.<name>`` (case-insensitive)."""
        if not self._names:
            return False
        known = self._keys.get(key)
        if known is None:
            lowered = key.lower()
            known = (
                lowered in self._names
                or lowered.rsplit(".", 1)[-1] in self._names
                or any(lowered.endswith(suffix) for suffix in self._dotted)
            )
            if len(self._keys) >= _CACHE_SIZE:
                self._keys.clear()
            self._keys[key] = known
        return known

    def value(self, value: Any) -> Any:
        """Every string inside ``value`` (lists and maps walked) with the patterns masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: (MASK if self._masked_name(str(k)) else self.value(v)) for k, v in value.items()}
        return value

    def attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        return {key: (MASK if self._masked_name(key) else self.value(v)) for key, v in attributes.items()}
