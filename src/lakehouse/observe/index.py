"""The trace index: one row per (trace, tenant) in the operational DB (``observe_traces``) with the trace's time
range and totals, derived from ``observe.spans``.

The lake holds the spans; it cannot find one trace among millions without reading every file (trace ids are
random, so file statistics cannot skip any). The index answers what needs a point lookup or an ordered, filtered
list: which traces of a batch are already known (only their spans need the duplicate check), the time range a
trace read is pruned to, and the trace lists and sessions themselves. It is updated after each span commit, in
one transaction, from the rows that commit wrote; a process that stops between the two leaves the index behind
the lake, which a trace read repairs for its trace and ``ObserveStore.reindex`` (``lakehouse observe reindex``)
repairs whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lakehouse.observe.model import Totals, TraceQuery, TraceSummary
from lakehouse.opsdb.engine import insert_ignoring_duplicates, write_transaction
from lakehouse.opsdb.schema import observe_scored as scored
from lakehouse.opsdb.schema import observe_traces as traces
from lakehouse.paging import decode_cursor, encode_cursor

CHUNK = 500


def tenant_key(tenant: str | None) -> str:
    return tenant or ""


def rank(is_root: bool, start: datetime) -> str:
    """Sorts a root span before any other, then by start: the trace's name is its lowest-ranked span's."""
    return ("0" if is_root else "1") + start.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


def merge(current: Mapping[str, Any] | None, spans: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An index row: ``current`` (None for a new trace) with ``spans`` (rows of observe.spans) added."""
    first = min(spans, key=lambda span: (span["parent_span_id"] is not None, span["start_time"]))
    first_rank = rank(first["parent_span_id"] is None, first["start_time"])
    if current is None:
        out: dict[str, Any] = {
            "trace_id": first["trace_id"],
            "tenant_key": tenant_key(first["tenant"]),
            "start_time": first["start_time"],
            "end_time": first["end_time"],
            "spans": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost": 0.0,
            "errors": 0,
            "oks": 0,
            "name": first["name"],
            "name_rank": first_rank,
            "session_id": None,
            "user_id": None,
            "agent_name": None,
        }
        models: set[str] = set()
    else:
        out = dict(current)
        models = set(json.loads(out["models"]))
        if out["name_rank"] is None or first_rank < out["name_rank"]:
            out["name"], out["name_rank"] = first["name"], first_rank
    for span in spans:
        out["start_time"] = min(out["start_time"], span["start_time"])
        out["end_time"] = max(out["end_time"], span["end_time"])
        out["input_tokens"] += span["input_tokens"] or 0
        out["output_tokens"] += span["output_tokens"] or 0
        out["cost"] += span["cost"] or 0.0
        status = span["status"]
        if status == "error":
            out["errors"] += 1
        elif status == "ok":
            out["oks"] += 1
        for column in ("session_id", "user_id", "agent_name"):
            if out[column] is None and span[column] is not None:
                out[column] = span[column]
        if span["model"]:
            models.add(span["model"])
    out["spans"] += len(spans)
    out["models"] = json.dumps(sorted(models))
    return out


def summary(row: Mapping[str, Any]) -> TraceSummary:
    start, end = row["start_time"], row["end_time"]
    return TraceSummary(
        trace_id=row["trace_id"],
        name=row["name"],
        start_time=start,
        end_time=end,
        duration_ms=(end - start).total_seconds() * 1000.0,
        status="error" if row["errors"] else "ok" if row["oks"] else "unset",
        session_id=row["session_id"],
        user_id=row["user_id"],
        agent_name=row["agent_name"],
        models=json.loads(row["models"]),
        totals=Totals(
            spans=row["spans"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cost=row["cost"],
            errors=row["errors"],
        ),
    )


class TraceIndex:
    def __init__(self, db: sa.Engine) -> None:
        self.db = db

    def known(self, trace_ids: Iterable[str]) -> dict[str, tuple[datetime, datetime]]:
        """The traces among ``trace_ids`` already indexed (any tenant), with their time range."""
        ids = sorted(set(trace_ids))
        found: dict[str, tuple[datetime, datetime]] = {}
        with self.db.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                query = sa.select(traces.c.trace_id, traces.c.start_time, traces.c.end_time).where(
                    traces.c.trace_id.in_(ids[start : start + CHUNK])
                )
                for trace_id, low, high in conn.execute(query):
                    old = found.get(trace_id)
                    found[trace_id] = (low, high) if old is None else (min(old[0], low), max(old[1], high))
        return found

    def add(self, spans: Sequence[Mapping[str, Any]]) -> None:
        """Fold the rows a span commit wrote into their traces' index rows (one transaction)."""
        groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for span in spans:
            groups.setdefault((span["trace_id"], tenant_key(span["tenant"])), []).append(span)
        if not groups:
            return
        with write_transaction(self.db, "observe-traces") as conn:
            ids = sorted({trace_id for trace_id, _ in groups})
            current: dict[tuple[str, str], dict[str, Any]] = {}
            for start in range(0, len(ids), CHUNK):
                rows = conn.execute(sa.select(traces).where(traces.c.trace_id.in_(ids[start : start + CHUNK])))
                for row in rows.mappings():
                    current[(row["trace_id"], row["tenant_key"])] = dict(row)
            merged = [merge(current.get(key), group) for key, group in groups.items()]
            known = [key for key in groups if key in current]
            for start in range(0, len(known), CHUNK):
                part = known[start : start + CHUNK]
                conn.execute(traces.delete().where(sa.tuple_(traces.c.trace_id, traces.c.tenant_key).in_(part)))
            conn.execute(traces.insert(), merged)

    def replace(self, rows: Sequence[Mapping[str, Any]], *, everything: bool = False) -> None:
        """Set index rows as given (aggregated from the lake): ``everything`` empties the index first."""
        with write_transaction(self.db, "observe-traces") as conn:
            if everything:
                conn.execute(traces.delete())
            else:
                keys = [(r["trace_id"], r["tenant_key"]) for r in rows]
                for start in range(0, len(keys), CHUNK):
                    part = keys[start : start + CHUNK]
                    conn.execute(traces.delete().where(sa.tuple_(traces.c.trace_id, traces.c.tenant_key).in_(part)))
            if rows:
                conn.execute(traces.insert(), [dict(r) for r in rows])

    def remove(self, trace_ids: Sequence[str]) -> None:
        with write_transaction(self.db, "observe-traces") as conn:
            for start in range(0, len(trace_ids), CHUNK):
                part = list(trace_ids[start : start + CHUNK])
                conn.execute(traces.delete().where(traces.c.trace_id.in_(part)))
                conn.execute(scored.delete().where(scored.c.trace_id.in_(part)))

    # -- which traces have scores ---------------------------------------------------------------------------------

    def mark_scored(self, pairs: Iterable[tuple[str, str | None]], *, everything: bool = False) -> None:
        """Note that these (trace, tenant) pairs have scores; ``everything``: these and no others."""
        rows = [{"trace_id": t, "tenant_key": tenant_key(tenant)} for t, tenant in sorted(set(pairs), key=str)]
        statement = insert_ignoring_duplicates(self.db, scored)
        with self.db.begin() as conn:
            if everything:
                conn.execute(scored.delete())
            if rows:
                conn.execute(statement, rows)

    def has_scores(self, trace_id: str, tenant: str | None) -> bool:
        """Whether the trace has scores (of ``tenant``; with None, of any tenant)."""
        query = sa.select(scored.c.trace_id).where(scored.c.trace_id == trace_id)
        if tenant is not None:
            query = query.where(scored.c.tenant_key == tenant)
        with self.db.connect() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def get(self, trace_id: str, tenant: str | None) -> dict[str, Any] | None:
        """The trace's index row; with ``tenant`` None, any tenant's (the one that started first)."""
        query = sa.select(traces).where(traces.c.trace_id == trace_id)
        if tenant is not None:
            query = query.where(traces.c.tenant_key == tenant)
        with self.db.connect() as conn:
            rows = [dict(r) for r in conn.execute(query.order_by(traces.c.start_time)).mappings()]
        if not rows:
            return None
        if len(rows) == 1:
            return rows[0]
        first = rows[0]
        return {**first, "start_time": min(r["start_time"] for r in rows), "end_time": max(r["end_time"] for r in rows)}

    def page(self, query: TraceQuery, tenant: str | None) -> tuple[list[TraceSummary], str | None]:
        """Trace summaries newest first, filtered, and the cursor of the next page."""
        select = sa.select(traces)
        if tenant is not None:
            select = select.where(traces.c.tenant_key == tenant)
        for column in ("session_id", "user_id", "agent_name"):
            value = getattr(query, column)
            if value is not None:
                select = select.where(traces.c[column] == value)
        if query.model is not None:
            select = select.where(traces.c.models.contains(json.dumps(query.model), autoescape=True))
        if query.start is not None:
            select = select.where(traces.c.start_time >= query.start)
        if query.end is not None:
            select = select.where(traces.c.start_time < query.end)
        if query.status == "error":
            select = select.where(traces.c.errors > 0)
        elif query.status == "ok":
            select = select.where(traces.c.errors == 0, traces.c.oks > 0)
        elif query.status == "unset":
            select = select.where(traces.c.errors == 0, traces.c.oks == 0)
        if query.min_cost is not None:
            select = select.where(traces.c.cost >= query.min_cost)
        after = decode_cursor(query.cursor)
        if after is not None:
            started, _, last = after.partition("|")
            moment = datetime.fromisoformat(started)
            select = select.where(
                sa.or_(
                    traces.c.start_time < moment,
                    sa.and_(traces.c.start_time == moment, traces.c.trace_id < last),
                )
            )
        select = select.order_by(traces.c.start_time.desc(), traces.c.trace_id.desc())
        found: list[TraceSummary] = []
        with self.db.connect() as conn:
            # the duration is kept as a range, not a column: filter on it here, reading on until the page is full
            result = conn.execute(select.execution_options(yield_per=query.limit + 1)).mappings()
            for row in result:
                item = summary(dict(row))
                if query.min_duration_ms is not None and item.duration_ms < query.min_duration_ms:
                    continue
                found.append(item)
                if len(found) > query.limit:
                    break
        items = found[: query.limit]
        cursor = (
            encode_cursor(f"{items[-1].start_time.isoformat()}|{items[-1].trace_id}")
            if len(found) > query.limit and items
            else None
        )
        return items, cursor

    def session(self, session_id: str, tenant: str | None) -> list[TraceSummary]:
        select = sa.select(traces).where(traces.c.session_id == session_id)
        if tenant is not None:
            select = select.where(traces.c.tenant_key == tenant)
        with self.db.connect() as conn:
            rows = conn.execute(select.order_by(traces.c.start_time, traces.c.trace_id)).mappings()
            return [summary(dict(row)) for row in rows]
