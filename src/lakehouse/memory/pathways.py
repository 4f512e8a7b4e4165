"""``Pathways``: the runs of an agent as memories of kind ``pathway`` whose data is their ordered steps and outcome.

A pathway's data is ``{"steps": [{"id", "action", "input", "output", "outcome", "started_at", "ended_at",
"retired", "retired_reason"}], "outcome": null | "success" | "failure" | "partial", "score": null | number}``.
Steps are appended while the run is live (no outcome yet); ``end`` records the outcome. A wrong or harmful step is
retired: every read of a pathway leaves retired steps out and says how many it left out, and retired (or
superseded) pathways are left out of the list the same way ("retired-trace exclusion"). Each change is a revision
and an event of the memory (``append``, ``end``, ``retire_step``), through ``MemoryStore.change_data``.
"""

from __future__ import annotations

from typing import Any

from lakehouse.errors import (
    ErrorItem,
    MemoryNotFound,
    MemoryRetired,
    MemorySuperseded,
    PathwayEnded,
    RequestValidationFailed,
    StepNotFound,
)
from lakehouse.memory.model import Memory, check_reason, check_time
from lakehouse.memory.store import MemoryStore

OUTCOMES = ("success", "failure", "partial")
STEP_FIELDS = ("action", "input", "output", "outcome", "started_at", "ended_at")
MAX_STEPS = 10_000


def _check_steps(steps: Any, first_number: int) -> list[dict[str, Any]]:
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise RequestValidationFailed("steps is a list of step objects", field="steps")
    problems: list[ErrorItem] = []
    out = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            problems.append(ErrorItem(kind="validation_failed", field=where, reason="a step is an object"))
            continue
        unknown = sorted(set(step) - set(STEP_FIELDS))
        if unknown:
            problems.append(
                ErrorItem(
                    kind="validation_failed",
                    field=f"{where}.{unknown[0]}",
                    reason=f"unknown step field; use {', '.join(STEP_FIELDS)}",
                )
            )
        action = step.get("action")
        if not isinstance(action, str) or not action.strip():
            problems.append(ErrorItem(kind="validation_failed", field=f"{where}.action", reason="a non-empty string"))
        outcome = step.get("outcome")
        if outcome is not None and not isinstance(outcome, str):
            problems.append(ErrorItem(kind="validation_failed", field=f"{where}.outcome", reason="a string"))
        times = {name: check_time(step.get(name), f"{where}.{name}", problems) for name in ("started_at", "ended_at")}
        out.append(
            {
                "id": f"s{first_number + index}",
                "action": action,
                "input": step.get("input"),
                "output": step.get("output"),
                "outcome": outcome,
                "started_at": None if times["started_at"] is None else times["started_at"].isoformat(),
                "ended_at": None if times["ended_at"] is None else times["ended_at"].isoformat(),
                "retired": False,
                "retired_reason": None,
            }
        )
    if problems:
        raise RequestValidationFailed("the steps cannot be recorded as given", errors=problems)
    return out


def _check_outcome(outcome: Any, score: Any) -> None:
    problems = []
    if outcome not in OUTCOMES:
        problems.append(ErrorItem(kind="validation_failed", field="outcome", reason=f"one of {', '.join(OUTCOMES)}"))
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        problems.append(ErrorItem(kind="validation_failed", field="score", reason="a number"))
    if problems:
        raise RequestValidationFailed("the outcome cannot be recorded as given", errors=problems)


def view(memory: Memory) -> dict[str, Any]:
    """A pathway as callers read it: retired steps left out and counted."""
    data = memory.data or {}
    steps = data.get("steps", [])
    live = [{k: v for k, v in s.items() if k not in ("retired", "retired_reason")} for s in steps if not s["retired"]]
    return {
        **memory.to_dict(),
        "data": {**data, "steps": live},
        "steps": live,
        "outcome": data.get("outcome"),
        "score": data.get("score"),
        "suppressed_steps": len(steps) - len(live),
    }


class Pathways:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def start(
        self,
        scope: Any,
        summary: Any,
        *,
        steps: Any = None,
        outcome: Any = None,
        score: Any = None,
        tags: Any = None,
        metadata: Any = None,
        actor: Any = None,
    ) -> dict[str, Any]:
        """A new pathway (its summary is the memory's content), with any steps so far; ended now when ``outcome``
        is given."""
        checked = _check_steps(steps, 1)
        if outcome is not None:
            _check_outcome(outcome, score)
        data = {"steps": checked, "outcome": outcome, "score": score if outcome is not None else None}
        memory = self._store.add(scope, "pathway", summary, data=data, tags=tags, metadata=metadata, actor=actor)
        return view(memory)

    def get(self, pathway_id: str, scope: Any) -> dict[str, Any]:
        """The pathway without its retired steps; a retired or superseded pathway is refused (409), never shown."""
        memory = self._store.get(pathway_id, scope)
        if memory.kind != "pathway":
            raise MemoryNotFound(f"no pathway {pathway_id} in this scope", field="id")
        if memory.status == "retired":
            raise MemoryRetired(f"pathway {pathway_id} is retired", field="id")
        if memory.status == "superseded":
            raise MemorySuperseded(f"pathway {pathway_id} is superseded by {memory.superseded_by}", field="id")
        return view(memory)

    def list_pathways(self, scope: Any, *, outcome: str | None = None, limit: int = 100) -> dict[str, Any]:
        """The scope's active pathways (retired steps left out), newest first; ``suppressed`` counts the retired or
        superseded pathways and the retired steps left out."""
        every = self._store.list_memories(scope, kinds=["pathway"], limit=1_000_000)
        shown = [view(m) for m in every if m.status == "active"]
        if outcome is not None:
            shown = [p for p in shown if p["outcome"] == outcome]
        shown.sort(key=lambda p: (p["recorded_at"], p["id"]), reverse=True)
        return {
            "items": shown[:limit],
            "suppressed": {
                "pathways": sum(m.status != "active" for m in every),
                "steps": sum(p["suppressed_steps"] for p in shown[:limit]),
            },
        }

    def append(
        self, pathway_id: str, scope: Any, steps: Any, *, expected_version: Any = None, actor: Any = None
    ) -> dict[str, Any]:
        """Append steps to a live run (409 ``pathway_ended`` once it has an outcome)."""
        if not isinstance(steps, list) or not steps:
            raise RequestValidationFailed("steps is a non-empty list of step objects", field="steps")

        def change(head: Memory) -> Any:
            data = dict(head.data or {})
            if data.get("outcome") is not None:
                raise PathwayEnded(f"pathway {head.id} ended with {data['outcome']}", field="id")
            existing = list(data.get("steps", []))
            if len(existing) + len(steps) > MAX_STEPS:
                raise RequestValidationFailed(f"a pathway has at most {MAX_STEPS} steps", field="steps")
            data["steps"] = existing + _check_steps(steps, len(existing) + 1)
            return data

        return view(
            self._store.change_data(
                pathway_id,
                scope,
                kind="pathway",
                change=change,
                op="append",
                actor=actor,
                expected_version=expected_version,
            )
        )

    def end(self, pathway_id: str, scope: Any, outcome: Any, *, score: Any = None, actor: Any = None) -> dict[str, Any]:
        """Record the run's outcome (success, failure or partial; an optional score): no steps are added after."""
        _check_outcome(outcome, score)

        def change(head: Memory) -> Any:
            data = dict(head.data or {})
            if data.get("outcome") is not None:
                raise PathwayEnded(f"pathway {head.id} already ended with {data['outcome']}", field="id")
            return {**data, "outcome": outcome, "score": score}

        return view(self._store.change_data(pathway_id, scope, kind="pathway", change=change, op="end", actor=actor))

    def retire_step(
        self, pathway_id: str, scope: Any, step_id: str, *, reason: Any, actor: Any = None
    ) -> dict[str, Any]:
        """Retire one step (wrong or harmful): it stays in the pathway's history, never in what is read."""
        why = check_reason(reason, required=True)

        def change(head: Memory) -> Any:
            data = dict(head.data or {})
            steps = [dict(s) for s in data.get("steps", [])]
            for step in steps:
                if step["id"] == step_id and not step["retired"]:
                    step["retired"], step["retired_reason"] = True, why
                    return {**data, "steps": steps}
            raise StepNotFound(f"pathway {head.id} has no live step {step_id}", field="step_id")

        return view(
            self._store.change_data(
                pathway_id, scope, kind="pathway", change=change, op="retire_step", actor=actor, reason=why
            )
        )
