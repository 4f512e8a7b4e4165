"""Structured JSON logs: one object per line, the request id in every line, secrets redacted."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_SECRET_FIELDS = re.compile(r"authorization|api[_-]?key|secret|password|token|cookie", re.IGNORECASE)
_SECRET_TEXT = [
    (re.compile(r"lh_[A-Za-z0-9_-]{8,}"), "lh_[redacted]"),
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1[redacted]"),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",\s]+"), r"\1[redacted]"),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), r"\1[redacted]@"),
]
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, key: str = "") -> Any:
    """Redact key material from a log field, recursively."""
    if key and _SECRET_FIELDS.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record; with a ``service`` (a daemon of a stack), each line names it."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            **({"service": self.service} if self.service else {}),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
            "request_id": getattr(record, "lakehouse_request_id", None) or request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(redact(fields))
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


_base_factory = logging.getLogRecordFactory()


def _stamped_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record carries the request id of the request that made it, whenever it is formatted."""
    record = _base_factory(*args, **kwargs)
    record.lakehouse_request_id = request_id_var.get()
    return record


if not getattr(_base_factory, "_lakehouse", False):
    _stamped_record._lakehouse = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(_stamped_record)


def configure_logging(level: str = "info", service: str | None = None) -> None:
    """Send every log line (ours and uvicorn's) to stderr as JSON, each naming ``service`` when given."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the gateway's every forward is in the access line
