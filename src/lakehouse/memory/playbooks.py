"""``Playbooks``: procedures that worked, promoted from successful pathways, with a record of how they do since.

A playbook is a memory of kind ``playbook`` (its content: ``"<name>: <trigger>"``) whose data is ``{"name",
"trigger", "steps", "sources", "uses": {"success", "failure"}}``. Only active pathways that ended in success can be
promoted, and their retired steps never become playbook steps. Each later use is recorded with its outcome (an event
``use``); search ranks playbooks by similarity to the task times a confidence from that record: the Wilson score
lower bound (95 %) of the success rate, counting one success and one failure beforehand so that a playbook never
used starts at about 0.09 rather than 0, and every answer shows both parts. The memory operations (UPDATE, REVISE,
RETIRE, RESTORE, FORGET, HISTORY) apply to playbooks as to any memory.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue

from lakehouse.errors import ErrorItem, MemoryNotFound, RequestValidationFailed
from lakehouse.memory.model import Actor, Content, Memory, Metadata, Scope, Tags
from lakehouse.memory.pathways import view
from lakehouse.memory.ranking import bm25, cosine
from lakehouse.memory.store import MemoryStore
from lakehouse.wire import Answer, NotBlank, WireModel

Z = 1.96  # 95 %
PRIOR_SUCCESSES, PRIOR_FAILURES = 1, 1


def confidence(successes: int, failures: int) -> float:
    """The Wilson score lower bound of the success rate, with the prior counts added."""
    s, n = successes + PRIOR_SUCCESSES, successes + failures + PRIOR_SUCCESSES + PRIOR_FAILURES
    p = s / n
    centre = p + Z * Z / (2 * n)
    margin = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - margin) / (1 + Z * Z / n)


class PromotePlaybook(WireModel):
    """Promote successful pathways of a scope to a playbook."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"scope": {"tenant": "acme"}, "name": "Refund", "trigger": "a refund request", "sources": ["<id>"]}
            ]
        }
    )

    scope: Scope
    name: Content = Field(description="The playbook's name.")
    trigger: Content = Field(description="When to use it.")
    sources: Annotated[list[NotBlank], Field(min_length=1, max_length=1000)] = Field(
        description="The ids of the successful pathways it comes from."
    )
    steps: list[dict[str, JsonValue]] | None = Field(
        None, description="Its steps; default: the live steps of the sources, in order."
    )
    tags: Tags | None = None
    metadata: Metadata | None = None
    actor: Actor | None = None


class RecordUse(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "outcome": "success"}]})

    scope: Scope
    outcome: Literal["success", "failure"]
    pathway_id: NotBlank | None = Field(None, description="The run that used it, if recorded.")
    actor: Actor | None = None


class PlaybookSearch(WireModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"scope": {"tenant": "acme"}, "task": "refund", "k": 3}]})

    scope: Scope
    task: Content = Field(description="The task at hand.")
    k: int = Field(5, ge=1, le=1000, description="How many results.")


class Uses(Answer):
    success: int
    failure: int


class Playbook(Memory):
    name: str | None
    trigger: str | None
    steps: list[JsonValue]
    sources: list[JsonValue]
    uses: Uses
    confidence: float = Field(description="Wilson lower bound of the success rate (with one success and one failure).")


class RankedPlaybook(Playbook):
    similarity: float
    score: float = Field(description="similarity x confidence")


class PlaybookResults(Answer):
    results: list[RankedPlaybook]
    suppressed: int = Field(description="Retired and superseded playbooks left out.")
    similarity: str = Field(description="How similarity was measured: cosine, or bm25 when no embedder answered.")


def _uses(data: dict[str, Any]) -> Uses:
    uses = data.get("uses")
    counts = uses if isinstance(uses, dict) else {}
    return Uses(**{name: int(n) if isinstance(n := counts.get(name), int) else 0 for name in ("success", "failure")})


def playbook_view(memory: Memory) -> Playbook:
    """A playbook as callers read it (a memory of kind playbook made by a plain ADD reads as an empty one)."""
    data = memory.data if isinstance(memory.data, dict) else {}
    uses = _uses(data)
    name, trigger = data.get("name"), data.get("trigger")
    steps, sources = data.get("steps"), data.get("sources")
    return Playbook.model_construct(
        **dict(memory),
        name=name if isinstance(name, str) else None,
        trigger=trigger if isinstance(trigger, str) else None,
        steps=steps if isinstance(steps, list) else [],
        sources=sources if isinstance(sources, list) else [],
        uses=uses,
        confidence=round(confidence(uses.success, uses.failure), 6),
    )


class Playbooks:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def promote(self, request: PromotePlaybook) -> Playbook:
        """A playbook from one or more successful pathways of the scope (``sources``, their ids); its steps are
        ``steps`` when given, else the live steps of the sources in order (action, input, output)."""
        where = request.scope
        problems: list[ErrorItem] = []
        chosen = []
        for index, pathway_id in enumerate(dict.fromkeys(request.sources)):
            try:
                memory = self._store.get(pathway_id, where)
            except MemoryNotFound as exc:
                exc.errors = [ErrorItem(kind="memory_not_found", field=f"sources[{index}]", reason=exc.detail)]
                raise
            read = view(memory)
            if memory.kind != "pathway" or memory.status != "active" or read.outcome != "success":
                problems.append(
                    ErrorItem(
                        kind="validation_failed",
                        field=f"sources[{index}]",
                        reason=f"{pathway_id} is not an active pathway that ended in success "
                        f"(kind {memory.kind}, {memory.status}, outcome {read.outcome})",
                    )
                )
            chosen.append(read)
        if problems:
            raise RequestValidationFailed("only active, successful pathways can be promoted", errors=problems)
        procedure = (
            request.steps
            if request.steps is not None
            else [{"action": s.action, "input": s.input, "output": s.output} for read in chosen for s in read.steps]
        )
        data = {
            "name": request.name,
            "trigger": request.trigger,
            "steps": procedure,
            "sources": [read.id for read in chosen],
            "uses": {"success": 0, "failure": 0},
        }
        added = self._store.add_made(where, "playbook", f"{request.name}: {request.trigger}", data, request)
        return playbook_view(added)

    def get(self, playbook_id: str, scope: Scope) -> Playbook:
        memory = self._store.get(playbook_id, scope)
        if memory.kind != "playbook":
            raise MemoryNotFound(f"no playbook {playbook_id} in this scope", field="id")
        return playbook_view(memory)

    def record_use(self, playbook_id: str, request: RecordUse) -> Playbook:
        """Count one use of an active playbook with its outcome (success or failure)."""

        def change(head: Memory) -> Any:
            data = head.data if isinstance(head.data, dict) else {}
            uses = _uses(data)
            counts = {"success": uses.success, "failure": uses.failure}
            counts[request.outcome] += 1
            return {**data, "uses": counts}

        reason = None if request.pathway_id is None else f"pathway {request.pathway_id}"
        memory = self._store.change_data(
            playbook_id, request.scope, kind="playbook", change=change, op="use", actor=request.actor, reason=reason
        )
        return playbook_view(memory)

    def search(self, request: PlaybookSearch) -> PlaybookResults:
        """The active playbooks of the scope ranked by similarity to the task x confidence, each with both parts;
        ``suppressed`` counts the retired and superseded ones left out."""
        text = request.task
        every = self._store.list_memories(request.scope, kinds=["playbook"], limit=1_000_000)
        active = [m for m in every if m.status == "active"]
        if not active:
            return PlaybookResults(results=[], suppressed=len(every), similarity="none")
        vectors = self._store.embed([text, *(m.content for m in active)])
        if vectors is not None:
            similarity = [max(0.0, float(x)) for x in cosine(vectors[0], vectors[1:])]
            measure = "cosine"
        else:
            scores = [score for score, _ in bm25(text, [m.content for m in active])]
            top = max(scores) or 1.0
            similarity = [score / top for score in scores]
            measure = "bm25 (scaled to the best)"
        ranked = []
        for memory, sim in zip(active, similarity, strict=True):
            read = playbook_view(memory)
            ranked.append(
                RankedPlaybook.model_construct(
                    **dict(read), similarity=round(sim, 6), score=round(sim * read.confidence, 6)
                )
            )
        ranked.sort(key=lambda r: (-r.score, r.id))
        return PlaybookResults(results=ranked[: request.k], suppressed=len(every) - len(active), similarity=measure)
