"""Two (or three) recordings of the same cases compared field by field, with Diffy's noise cancelling.

Each answer is flattened into field paths: ``status``, ``header.content-type`` (and any header named), and the
JSON body's leaves (``body.items[0].id``; empty objects and lists are leaves too). A field is compared through the
``Matcher`` whose glob matches its shape (indices as ``[*]``): ``ignore``, ``regex`` (both values match it),
``tolerance`` (numbers within it), ``present`` (both there, any value) or ``unordered`` (a list compared as a
multiset). The status, the content type and a problem body's ``type`` and error ``kind``s are always compared, no
matcher applies to them; a problem body's ``detail``, ``reason``s and ``request_id`` are never compared.

Per endpoint and field shape, ``raw`` counts the cases where the primary and the candidate differ and ``noise``
those where the primary and the secondary (the same version run twice) differ. A field is reported when raw
exceeds noise by more than both thresholds (Diffy's rule and defaults): relatively, (raw - noise) / raw > 20 %, and
absolutely, (raw - noise) / cases of the endpoint > 0.03 %. Without a secondary, noise is zero: every difference
that no matcher excuses is reported.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, JsonValue, model_validator

from lakehouse.replay.cases import Exchange, RecordedResponse
from lakehouse.wire import Answer, WireModel

_MISSING = object()
_INDEX = re.compile(r"\[\d+\]")
_ALWAYS = ("status", "header.content-type", "body.type", "body.errors[*].kind")
_NEVER_IN_PROBLEMS = ("body.detail", "body.errors[*].reason", "body.request_id")
PROBLEM = "application/problem+json"


class Matcher(WireModel):
    """How one field (a glob over field shapes, ``body.items[*].created_at``) is compared."""

    path: str = Field(min_length=1, description="A glob over field shapes; indices are written [*].")
    kind: Literal["ignore", "regex", "tolerance", "present", "unordered"]
    pattern: str | None = Field(None, description="For regex: both values must match it whole.")
    tolerance: float | None = Field(None, ge=0, description="For tolerance: the largest difference of two numbers.")

    @model_validator(mode="after")
    def _complete(self) -> Matcher:
        if self.kind == "regex":
            if self.pattern is None:
                raise ValueError("a regex matcher needs a pattern")
            re.compile(self.pattern)
        if self.kind == "tolerance" and self.tolerance is None:
            raise ValueError("a tolerance matcher needs a tolerance")
        return self

    def covers(self, shape: str) -> bool:
        return glob(self.path).fullmatch(shape) is not None


class Thresholds(WireModel):
    relative: float = Field(20.0, ge=0, le=100, description="Percent of a field's raw differences beyond noise.")
    absolute: float = Field(0.03, ge=0, le=100, description="Percent of the endpoint's cases beyond noise.")


class FieldReport(Answer):
    endpoint: str
    field: str = Field(description="The field's shape: indices as [*].")
    raw: int = Field(description="Cases where the primary and the candidate differ in it.")
    noise: int = Field(description="Cases where the primary and the secondary differ in it.")
    cases: int = Field(description="Cases of the endpoint compared.")
    relative: float = Field(description="(raw - noise) / raw, percent.")
    absolute: float = Field(description="(raw - noise) / cases, percent.")
    reported: bool = Field(description="Beyond both thresholds: a difference, not noise.")
    primary: JsonValue = Field(None, description="The primary's value in the first case that differed.")
    candidate: JsonValue = Field(None, description="The candidate's value in that case.")
    case: str | None = Field(None, description="That case's id.")


class ParityReport(Answer):
    cases: int
    endpoints: dict[str, int] = Field(description="Cases compared per endpoint.")
    fields: list[FieldReport] = Field(description="Every field that differed, reported or taken for noise.")
    unmatched: list[str] = Field(description="Case ids found in one recording only (or without an answer).")
    differences: int = Field(description="Fields reported: non-noise differences.")
    thresholds: Thresholds

    @property
    def ok(self) -> bool:
        return self.differences == 0 and not self.unmatched


@functools.cache
def glob(pattern: str) -> re.Pattern[str]:
    """A field glob: ``*`` is any run of characters; everything else, brackets included, is itself."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*"))


def shape_of(path: str) -> str:
    return _INDEX.sub("[*]", path)


def _flatten_value(value: JsonValue, path: str, into: dict[str, JsonValue], unordered: Sequence[Matcher]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten_value(item, f"{path}.{key}", into, unordered)
    elif isinstance(value, list) and value:
        items = list(value)
        if any(m.covers(shape_of(path)) for m in unordered):
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        for i, item in enumerate(items):
            _flatten_value(item, f"{path}[{i}]", into, unordered)
    else:
        into[path] = value


def flatten(
    response: RecordedResponse, headers: Sequence[str] = (), matchers: Sequence[Matcher] = ()
) -> dict[str, JsonValue]:
    """An answer as field path -> value (what ``compare`` compares)."""
    fields: dict[str, JsonValue] = {"status": response.status, "header.content-type": response.content_type}
    for name in headers:
        fields[f"header.{name.lower()}"] = response.headers.get(name.lower())
    body = response.body
    if body.is_json:
        _flatten_value(body.json_value, "body", fields, [m for m in matchers if m.kind == "unordered"])
    elif body.text is not None:
        fields["body"] = body.text
    elif body.base64 is not None:
        fields["body"] = body.base64
    elif body.blob is not None:  # a recorded large body: compared by what it holds
        fields["body"] = f"sha256:{body.blob.sha256}"
    if response.content_type == PROBLEM:
        for path in list(fields):
            if any(glob(never).fullmatch(shape_of(path)) for never in _NEVER_IN_PROBLEMS):
                del fields[path]
    return fields


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True) if value is not _MISSING else "\x00missing"


def _same(shape: str, a: object, b: object, matchers: Sequence[Matcher]) -> bool:
    if shape not in _ALWAYS:
        matcher = next((m for m in matchers if m.kind != "unordered" and m.covers(shape)), None)
        if matcher is not None:
            if matcher.kind == "ignore":
                return True
            if matcher.kind == "present":
                return (a is _MISSING) == (b is _MISSING)
            if matcher.kind == "regex":
                assert matcher.pattern is not None
                return all(
                    v is not _MISSING and re.fullmatch(matcher.pattern, v if isinstance(v, str) else json.dumps(v))
                    for v in (a, b)
                )
            if matcher.kind == "tolerance":
                assert matcher.tolerance is not None
                numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
                if numbers:
                    return abs(float(a) - float(b)) <= matcher.tolerance  # type: ignore[arg-type]
    return _canonical(a) == _canonical(b)


def _differing(
    a: dict[str, JsonValue], b: dict[str, JsonValue], matchers: Sequence[Matcher]
) -> dict[str, tuple[object, object]]:
    """The shapes whose values differ, with the first differing pair of values of each."""
    found: dict[str, tuple[object, object]] = {}
    for path in sorted(a.keys() | b.keys()):
        shape = shape_of(path)
        left, right = a.get(path, _MISSING), b.get(path, _MISSING)
        if shape not in found and not _same(shape, left, right, matchers):
            found[shape] = (left, right)
    return found


@dataclass
class _Tally:
    raw: Counter[str]
    noise: Counter[str]
    examples: dict[str, tuple[object, object, str]]


def _shown(value: object) -> JsonValue:
    return None if value is _MISSING else value  # type: ignore[return-value]


def compare(
    primary: Iterable[Exchange],
    candidate: Iterable[Exchange],
    secondary: Iterable[Exchange] | None = None,
    *,
    matchers: Sequence[Matcher] = (),
    headers: Sequence[str] = (),
    thresholds: Thresholds | None = None,
) -> ParityReport:
    """Compare the answers of the same cases (matched by id) from a primary, a candidate and optionally a
    secondary run of the primary's version."""
    limits = thresholds or Thresholds()
    by_id = {e.id: e for e in candidate}
    second = {e.id: e for e in secondary} if secondary is not None else None
    endpoints: Counter[str] = Counter()
    tallies: dict[str, _Tally] = defaultdict(lambda: _Tally(Counter(), Counter(), {}))
    unmatched: list[str] = []
    seen: set[str] = set()
    for first in primary:
        seen.add(first.id)
        other = by_id.get(first.id)
        third = second.get(first.id) if second is not None else None
        if (
            first.response is None
            or other is None
            or other.response is None
            or (second is not None and (third is None or third.response is None))
        ):
            unmatched.append(first.id)
            continue
        endpoint = first.endpoint_name()
        endpoints[endpoint] += 1
        tally = tallies[endpoint]
        a = flatten(first.response, headers, matchers)
        differing = _differing(a, flatten(other.response, headers, matchers), matchers)
        for shape, (left, right) in differing.items():
            tally.raw[shape] += 1
            tally.examples.setdefault(shape, (left, right, first.id))
        if third is not None and third.response is not None:
            for shape in _differing(a, flatten(third.response, headers, matchers), matchers):
                tally.noise[shape] += 1
    unmatched += sorted(set(by_id) - seen)
    fields = []
    for endpoint, tally in sorted(tallies.items()):
        for shape in sorted(tally.raw.keys() | tally.noise.keys()):
            raw, noise, cases = tally.raw[shape], tally.noise[shape], endpoints[endpoint]
            beyond = raw - noise
            relative = 100.0 * beyond / raw if raw else 0.0
            absolute = 100.0 * beyond / cases if cases else 0.0
            left, right, case = tally.examples.get(shape, (_MISSING, _MISSING, None))
            fields.append(
                FieldReport(
                    endpoint=endpoint,
                    field=shape,
                    raw=raw,
                    noise=noise,
                    cases=cases,
                    relative=round(relative, 3),
                    absolute=round(absolute, 3),
                    reported=relative > limits.relative and absolute > limits.absolute,
                    primary=_shown(left),
                    candidate=_shown(right),
                    case=case,
                )
            )
    return ParityReport(
        cases=sum(endpoints.values()),
        endpoints=dict(endpoints),
        fields=fields,
        unmatched=unmatched,
        differences=sum(f.reported for f in fields),
        thresholds=limits,
    )
