"""Rows of the observe tables made into answers: a trace's spans as a tree with totals rolled up (``span_tree``),
its summary (``trace_summary``) and its scores (``score_of``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lakehouse.observe.model import Score, SpanEvent, SpanNode, Totals, TraceSummary
from lakehouse.observe.rows import SPAN_COLUMNS


def _loads(text: Any, default: Any) -> Any:
    if text is None:
        return default
    return json.loads(text) if isinstance(text, str) else text


def span_node(row: dict[str, Any]) -> SpanNode:
    data = {name: row[name] for name, _ in SPAN_COLUMNS if name not in ("tenant", "ingested_at")}
    data["attributes"] = _loads(row["attributes"], {})
    data["resource"] = _loads(row["resource"], {})
    data["events"] = [SpanEvent.model_construct(**e) for e in _loads(row["events"], [])]
    data.pop("links", None)
    own = Totals(
        spans=1,
        input_tokens=row["input_tokens"] or 0,
        output_tokens=row["output_tokens"] or 0,
        cost=row["cost"] or 0.0,
        errors=1 if row["status"] == "error" else 0,
    )
    return SpanNode.model_construct(**data, children=[], totals=own)


def span_tree(nodes: list[SpanNode]) -> list[SpanNode]:
    """Children under their parents (in start order); a span whose parent is not in the trace, or that a cycle
    would hide, is a root. Totals roll up from the leaves."""
    by_id = {n.span_id: n for n in nodes}
    roots = [n for n in nodes if n.parent_span_id is None or n.parent_span_id not in by_id]
    for n in nodes:
        if n.parent_span_id is not None and n.parent_span_id in by_id and n not in roots:
            by_id[n.parent_span_id].children.append(n)
    reached: set[str] = set()

    def walk(node: SpanNode) -> Totals:
        reached.add(node.span_id)
        totals = node.totals
        for child in node.children:
            if child.span_id not in reached:
                totals = sum_totals([totals, walk(child)])
        node.totals = totals
        return totals

    for root in roots:
        walk(root)
    for n in nodes:  # in a cycle: no path from a root
        if n.span_id not in reached:
            roots.append(n)
            walk(n)
    return roots


def sum_totals(parts: Iterable[Totals]) -> Totals:
    parts = list(parts)
    return Totals(
        spans=sum(p.spans for p in parts),
        input_tokens=sum(p.input_tokens for p in parts),
        output_tokens=sum(p.output_tokens for p in parts),
        cost=sum(p.cost for p in parts),
        errors=sum(p.errors for p in parts),
    )


def trace_summary(trace_id: str, spans: list[dict[str, Any]]) -> TraceSummary:
    start = min(r["start_time"] for r in spans)
    end = max(r["end_time"] for r in spans)
    roots = [r for r in spans if r["parent_span_id"] is None] or spans
    statuses = {r["status"] for r in spans}
    return TraceSummary(
        trace_id=trace_id,
        name=min(roots, key=lambda r: r["start_time"])["name"],
        start_time=start,
        end_time=end,
        duration_ms=(end - start).total_seconds() * 1000.0,
        status="error" if "error" in statuses else "ok" if "ok" in statuses else "unset",
        session_id=next((r["session_id"] for r in spans if r["session_id"]), None),
        user_id=next((r["user_id"] for r in spans if r["user_id"]), None),
        agent_name=next((r["agent_name"] for r in spans if r["agent_name"]), None),
        models=sorted({r["model"] for r in spans if r["model"]}),
        totals=Totals(
            spans=len(spans),
            input_tokens=sum(r["input_tokens"] or 0 for r in spans),
            output_tokens=sum(r["output_tokens"] or 0 for r in spans),
            cost=sum(r["cost"] or 0.0 for r in spans),
            errors=sum(1 for r in spans if r["status"] == "error"),
        ),
    )


def score_of(row: dict[str, Any]) -> Score:
    kind = row["data_type"]
    value = (
        row["value_bool"] if kind == "boolean" else row["value_text"] if kind == "categorical" else row["value_number"]
    )
    return Score(
        score_id=row["score_id"],
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        name=row["name"],
        data_type=kind,
        value=value,
        source=row["source"],
        comment=row["comment"],
        created_at=row["created_at"],
    )
