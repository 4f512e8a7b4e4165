"""``Pathways``: the runs of an agent as memories of kind ``pathway`` whose data is their ordered steps and outcome.

A pathway's data is ``{"steps": [{"id", "action", "input", "output", "outcome", "started_at", "ended_at",
"retired", "retired_reason"}], "outcome": null | "success" | "failure" | "partial", "score": null | number}``.
Steps are appended while the run is live (no outcome yet); ``end`` records the outcome. A wrong or harmful step is
retired: every read of a pathway leaves retired steps out and says how many it left out, and retired (or
superseded) pathways are left out of the list the same way ("retired-trace exclusion"). Each change is a revision
and an event of the memory (``append``, ``end``, ``retire_step``), through ``MemoryStore.change_data``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, model_validator

from lakehouse.errors import (
    MemoryNotFound,
    MemoryRetired,
    MemorySuperseded,
    PathwayEnded,
    RequestValidationFailed,
    StepNotFound,
)
from lakehouse.memory.model import (
    Actor,
    Content,
    Memory,
    Metadata,
    Reason,
    Scope,
    Tags,
    Version,
)
from lakehouse.memory.store import MemoryStore
from lakehouse.wire import Answer, NotBlank, Time, WireModel, refuse

OUTCOMES = ("success", "failure", "partial")
MAX_STEPS = 10_000
Outcome = Literal["success", "failure", "partial"]


class Step(WireModel):
    """One step of a run, as recorded."""

    action: NotBlank = Field(description="What was done.")
    input: JsonValue = None
    output: JsonValue = None
    outcome: str | None = Field(None, description="How the step went, in your words.")
    started_at: Time | None = None
    ended_at: Time | None = None


Steps = Annotated[list[Step], Field(max_length=MAX_STEPS)]


class StartPathway(WireModel):
    """Start (or record whole) a run: its summary is the memory's content."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"scope": {"tenant": "acme"}, "summary": "Refund an order", "steps": [{"action": "lookup"}]}]
        }
    )

    scope: Scope
    summary: Content = Field(description="What the run was for.")
    steps: Steps | None = Field(None, description="Steps so far, in order.")
    outcome: Outcome | None = Field(None, description="How the run ended, when it has.")
    score: float | None = Field(None, description="An optional score of the outcome.")
    tags: Tags | None = None
    metadata: Metadata | None = None
    actor: Actor | None = None


class AppendSteps(WireModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "steps": [{"action": "refund"}]}]}
    )

    scope: Scope
    steps: Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS)] = Field(description="In order.")
    expected_version: Version | None = None
    actor: Actor | None = None


class EndPathway(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "outcome": "success"}]})

    scope: Scope
    outcome: Outcome
    score: float | None = None
    actor: Actor | None = None

    @model_validator(mode="after")
    def _finite(self) -> EndPathway:
        if self.score is not None and not math.isfinite(self.score):
            raise refuse("score is a finite number", "score")
        return self


class RetireStep(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "reason": "wrong tool"}]})

    scope: Scope
    reason: Reason = Field(description="Why the step is retired.")
    actor: Actor | None = None


class PathwayStep(Answer):
    id: str
    action: str
    input: JsonValue = None
    output: JsonValue = None
    outcome: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


class Pathway(Memory):
    """A pathway as callers read it: retired steps left out and counted."""

    steps: list[PathwayStep]
    outcome: str | None
    score: float | None
    suppressed_steps: int


class SuppressedCounts(Answer):
    pathways: int = Field(description="Retired or superseded pathways left out.")
    steps: int = Field(description="Retired steps left out of the pathways shown.")


class PathwayList(Answer):
    items: list[Pathway]
    suppressed: SuppressedCounts


def _recorded(steps: list[Step], first_number: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"s{first_number + index}",
            "action": step.action,
            "input": step.input,
            "output": step.output,
            "outcome": step.outcome,
            "started_at": None if step.started_at is None else step.started_at.isoformat(),
            "ended_at": None if step.ended_at is None else step.ended_at.isoformat(),
            "retired": False,
            "retired_reason": None,
        }
        for index, step in enumerate(steps)
    ]


def run_data(memory: Memory) -> dict[str, Any]:
    """A pathway's data, read leniently: a memory of kind pathway made by a plain ADD may hold any JSON, and is
    then an empty run (its data kept as it is in the memory)."""
    data = memory.data if isinstance(memory.data, dict) else {}
    steps = data.get("steps")
    if not isinstance(steps, list):
        steps = []
    steps = [s for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)]
    return {**data, "steps": steps}


def view(memory: Memory) -> Pathway:
    """A pathway as callers read it: retired steps left out and counted."""
    data = run_data(memory)
    steps = data["steps"]
    live = [
        {k: v for k, v in s.items() if k not in ("retired", "retired_reason")} for s in steps if not s.get("retired")
    ]
    outcome = data.get("outcome")
    score = data.get("score")
    return Pathway.model_construct(
        **{**dict(memory), "data": {**data, "steps": live}},
        steps=[PathwayStep.model_construct(**{"action": "", **s}) for s in live],
        outcome=outcome if isinstance(outcome, str) else None,
        score=score if isinstance(score, int | float) and not isinstance(score, bool) else None,
        suppressed_steps=len(steps) - len(live),
    )


class Pathways:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def start(self, request: StartPathway) -> Pathway:
        """A new pathway (its summary is the memory's content), with any steps so far; ended now when ``outcome``
        is given."""
        data: dict[str, Any] = {
            "steps": _recorded(request.steps or [], 1),
            "outcome": request.outcome,
            "score": request.score if request.outcome is not None else None,
        }
        added = self._store.add_made(request.scope, "pathway", request.summary, data, request)
        return view(added)

    def get(self, pathway_id: str, scope: Scope) -> Pathway:
        """The pathway without its retired steps; a retired or superseded pathway is refused (409), never shown."""
        memory = self._store.get(pathway_id, scope)
        if memory.kind != "pathway":
            raise MemoryNotFound(f"no pathway {pathway_id} in this scope", field="id")
        if memory.status == "retired":
            raise MemoryRetired(f"pathway {pathway_id} is retired", field="id")
        if memory.status == "superseded":
            raise MemorySuperseded(f"pathway {pathway_id} is superseded by {memory.superseded_by}", field="id")
        return view(memory)

    def list_pathways(self, scope: Scope, *, outcome: Outcome | None = None, limit: int = 100) -> PathwayList:
        """The scope's active pathways (retired steps left out), newest first; ``suppressed`` counts the retired or
        superseded pathways and the retired steps left out."""
        every = self._store.list_memories(scope, kinds=["pathway"], limit=1_000_000)
        shown = [view(m) for m in every if m.status == "active"]
        if outcome is not None:
            shown = [p for p in shown if p.outcome == outcome]
        shown.sort(key=lambda p: (p.recorded_at, p.id), reverse=True)
        return PathwayList(
            items=shown[:limit],
            suppressed=SuppressedCounts(
                pathways=sum(m.status != "active" for m in every),
                steps=sum(p.suppressed_steps for p in shown[:limit]),
            ),
        )

    def append(self, pathway_id: str, request: AppendSteps) -> Pathway:
        """Append steps to a live run (409 ``pathway_ended`` once it has an outcome)."""

        def change(head: Memory) -> Any:
            data = run_data(head)
            if data.get("outcome") is not None:
                raise PathwayEnded(f"pathway {head.id} ended with {data['outcome']}", field="id")
            existing = data["steps"]
            if len(existing) + len(request.steps) > MAX_STEPS:
                raise RequestValidationFailed(f"a pathway has at most {MAX_STEPS} steps", field="steps")
            return {**data, "steps": existing + _recorded(request.steps, len(existing) + 1)}

        return view(
            self._store.change_data(
                pathway_id,
                request.scope,
                kind="pathway",
                change=change,
                op="append",
                actor=request.actor,
                expected_version=request.expected_version,
            )
        )

    def end(self, pathway_id: str, request: EndPathway) -> Pathway:
        """Record the run's outcome (success, failure or partial; an optional score): no steps are added after."""

        def change(head: Memory) -> Any:
            data = run_data(head)
            if data.get("outcome") is not None:
                raise PathwayEnded(f"pathway {head.id} already ended with {data['outcome']}", field="id")
            return {**data, "outcome": request.outcome, "score": request.score}

        return view(
            self._store.change_data(
                pathway_id, request.scope, kind="pathway", change=change, op="end", actor=request.actor
            )
        )

    def retire_step(self, pathway_id: str, step_id: str, request: RetireStep) -> Pathway:
        """Retire one step (wrong or harmful): it stays in the pathway's history, never in what is read."""

        def change(head: Memory) -> Any:
            data = run_data(head)
            steps = [dict(s) for s in data["steps"]]
            for step in steps:
                if step["id"] == step_id and not step.get("retired"):
                    step["retired"], step["retired_reason"] = True, request.reason
                    return {**data, "steps": steps}
            raise StepNotFound(f"pathway {head.id} has no live step {step_id}", field="step_id")

        return view(
            self._store.change_data(
                pathway_id,
                request.scope,
                kind="pathway",
                change=change,
                op="retire_step",
                actor=request.actor,
                reason=request.reason,
            )
        )
