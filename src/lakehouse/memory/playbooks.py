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
from typing import Any

from lakehouse.errors import (
    ErrorItem,
    MemoryNotFound,
    RequestValidationFailed,
)
from lakehouse.memory.model import Memory, Scope, check_content
from lakehouse.memory.pathways import view
from lakehouse.memory.ranking import bm25, cosine
from lakehouse.memory.store import MemoryStore

Z = 1.96  # 95 %
PRIOR_SUCCESSES, PRIOR_FAILURES = 1, 1


def confidence(successes: int, failures: int) -> float:
    """The Wilson score lower bound of the success rate, with the prior counts added."""
    s, n = successes + PRIOR_SUCCESSES, successes + failures + PRIOR_SUCCESSES + PRIOR_FAILURES
    p = s / n
    centre = p + Z * Z / (2 * n)
    margin = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - margin) / (1 + Z * Z / n)


def playbook_view(memory: Memory) -> dict[str, Any]:
    data = memory.data or {}
    uses = data.get("uses", {"success": 0, "failure": 0})
    return {
        **memory.to_dict(),
        "name": data.get("name"),
        "trigger": data.get("trigger"),
        "steps": data.get("steps", []),
        "sources": data.get("sources", []),
        "uses": uses,
        "confidence": round(confidence(uses["success"], uses["failure"]), 6),
    }


class Playbooks:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def promote(
        self,
        scope: Any,
        name: Any,
        trigger: Any,
        sources: Any,
        *,
        steps: Any = None,
        tags: Any = None,
        metadata: Any = None,
        actor: Any = None,
    ) -> dict[str, Any]:
        """A playbook from one or more successful pathways of the scope (``sources``, their ids); its steps are
        ``steps`` when given, else the live steps of the sources in order (action, input, output)."""
        where = Scope.parse(scope)
        problems: list[ErrorItem] = []
        check_content(name, "name", problems)
        check_content(trigger, "trigger", problems)
        if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
            problems.append(ErrorItem(kind="validation_failed", field="sources", reason="a list of pathway ids"))
        if steps is not None and (not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps)):
            problems.append(ErrorItem(kind="validation_failed", field="steps", reason="a list of step objects"))
        if problems:
            raise RequestValidationFailed("the playbook cannot be promoted as given", errors=problems)
        chosen: list[dict[str, Any]] = []
        for index, pathway_id in enumerate(dict.fromkeys(sources)):
            try:
                memory = self._store.get(pathway_id, where)
            except MemoryNotFound as exc:
                exc.errors = [ErrorItem(kind="memory_not_found", field=f"sources[{index}]", reason=exc.detail)]
                raise
            read = view(memory)
            if memory.kind != "pathway" or memory.status != "active" or read["outcome"] != "success":
                problems.append(
                    ErrorItem(
                        kind="validation_failed",
                        field=f"sources[{index}]",
                        reason=f"{pathway_id} is not an active pathway that ended in success "
                        f"(kind {memory.kind}, {memory.status}, outcome {read.get('outcome')})",
                    )
                )
            chosen.append(read)
        if problems:
            raise RequestValidationFailed("only active, successful pathways can be promoted", errors=problems)
        procedure = (
            steps
            if steps is not None
            else [
                {"action": s["action"], "input": s.get("input"), "output": s.get("output")}
                for read in chosen
                for s in read["steps"]
            ]
        )
        data = {
            "name": name,
            "trigger": trigger,
            "steps": procedure,
            "sources": [read["id"] for read in chosen],
            "uses": {"success": 0, "failure": 0},
        }
        memory = self._store.add(
            where, "playbook", f"{name}: {trigger}", data=data, tags=tags, metadata=metadata, actor=actor
        )
        return playbook_view(memory)

    def get(self, playbook_id: str, scope: Any) -> dict[str, Any]:
        memory = self._store.get(playbook_id, scope)
        if memory.kind != "playbook":
            raise MemoryNotFound(f"no playbook {playbook_id} in this scope", field="id")
        return playbook_view(memory)

    def record_use(
        self, playbook_id: str, scope: Any, outcome: Any, *, pathway_id: Any = None, actor: Any = None
    ) -> dict[str, Any]:
        """Count one use of an active playbook with its outcome (success or failure)."""
        if outcome not in ("success", "failure"):
            raise RequestValidationFailed("outcome is success or failure", field="outcome")
        if pathway_id is not None and not isinstance(pathway_id, str):
            raise RequestValidationFailed("pathway_id is a pathway's id", field="pathway_id")

        def change(head: Memory) -> Any:
            data = dict(head.data or {})
            uses = dict(data.get("uses", {"success": 0, "failure": 0}))
            uses[outcome] += 1
            return {**data, "uses": uses}

        reason = None if pathway_id is None else f"pathway {pathway_id}"
        memory = self._store.change_data(
            playbook_id, scope, kind="playbook", change=change, op="use", actor=actor, reason=reason
        )
        return playbook_view(memory)

    def search(self, scope: Any, task: Any, *, k: int = 5) -> dict[str, Any]:
        """The active playbooks of the scope ranked by similarity to ``task`` x confidence, each with both parts;
        ``suppressed`` counts the retired and superseded ones left out."""
        where = Scope.parse(scope)
        problems: list[ErrorItem] = []
        text = check_content(task, "task", problems)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 1000:
            problems.append(ErrorItem(kind="validation_failed", field="k", reason="k is 1-1000"))
        if problems:
            raise RequestValidationFailed("the search cannot be made as asked", errors=problems)
        assert text is not None
        every = self._store.list_memories(where, kinds=["playbook"], limit=1_000_000)
        active = [m for m in every if m.status == "active"]
        if not active:
            return {"results": [], "suppressed": len(every), "similarity": "none"}
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
            ranked.append({**read, "similarity": round(sim, 6), "score": round(sim * read["confidence"], 6)})
        ranked.sort(key=lambda r: (-r["score"], r["id"]))
        return {"results": ranked[:k], "suppressed": len(every) - len(active), "similarity": measure}
