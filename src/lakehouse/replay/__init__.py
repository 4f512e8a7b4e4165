"""Replay and parity: exchanges recorded as case files (``Exchange``), and the comparison of two recordings of the
same cases field by field with Diffy's noise cancelling (``compare``: raw differences between a primary and a
candidate, noise between the primary and a secondary, matchers per field path), a case file sent to a target
(``replay``), and values one answer gives that later requests use (``state``, ``templatize``)."""

from lakehouse.replay.cases import Body, Exchange, RecordedRequest, RecordedResponse, read_cases, write_cases
from lakehouse.replay.compare import FieldReport, Matcher, ParityReport, Thresholds, compare
from lakehouse.replay.send import replay
from lakehouse.replay.state import templatize

__all__ = [
    "Body",
    "Exchange",
    "FieldReport",
    "Matcher",
    "ParityReport",
    "RecordedRequest",
    "RecordedResponse",
    "Thresholds",
    "compare",
    "read_cases",
    "replay",
    "templatize",
    "write_cases",
]
