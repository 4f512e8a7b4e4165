"""Client methods for /v1/memories: ``client.memories.add(scope, "fact", "...")`` and the rest of the operations.

A scope is a dict (``{"tenant": "acme", "user_id": "u1"}``); every call names one. Errors are raised as the same
``lakehouse.errors`` classes the in-process ``Lakehouse.memory`` raises (``VersionConflict``, ``RevisionCycle``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

from lakehouse.client._http import Transport

ROUTES = {
    ("POST", "/v1/memories"),
    ("GET", "/v1/memories"),
    ("GET", "/v1/memories/{memory_id}"),
    ("PATCH", "/v1/memories/{memory_id}"),
    ("POST", "/v1/memories/{memory_id}/revise"),
    ("POST", "/v1/memories/{memory_id}/retire"),
    ("POST", "/v1/memories/{memory_id}/restore"),
    ("POST", "/v1/memories/{memory_id}/forget"),
    ("GET", "/v1/memories/{memory_id}/history"),
    ("POST", "/v1/memories/search"),
}


def _m(memory_id: str) -> str:
    return "/v1/memories/" + quote(memory_id, safe="")


def _set(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


class Memories:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("POST", path, json=body)
        return result

    def add(self, scope: dict[str, str], kind: str, content: str, **fields: Any) -> dict[str, Any]:
        """ADD; ``fields``: data, metadata, tags, valid_from, valid_until, actor. The answer says ``deduplicated``."""
        return self._post("/v1/memories", {"scope": scope, "kind": kind, "content": content, **fields})

    def get(self, memory_id: str, scope: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", _m(memory_id), params=scope)
        return result

    def list(
        self, scope: dict[str, str], *, kinds: Sequence[str] = (), statuses: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = dict(scope)
        if kinds:
            params["kind"] = list(kinds)
        if statuses:
            params["status"] = list(statuses)
        return self._t.pages("/v1/memories", params)

    def update(self, memory_id: str, scope: dict[str, str], expected_version: int, **changes: Any) -> dict[str, Any]:
        """UPDATE at ``expected_version``; ``changes``: content, data, metadata, tags, valid_from, valid_until, actor,
        reason (a field given as None is cleared, one not given is kept)."""
        body = {"scope": scope, "expected_version": expected_version, **changes}
        result: dict[str, Any] = self._t.json("PATCH", _m(memory_id), json=body)
        return result

    def revise(
        self,
        memory_id: str,
        scope: dict[str, str],
        *,
        content: str | None = None,
        successor_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """REVISE into new ``content`` or an existing ``successor_id``; the answer is the successor."""
        body = {"scope": scope, **_set(content=content, successor_id=successor_id), **fields}
        return self._post(_m(memory_id) + "/revise", body)

    def retire(self, memory_id: str, scope: dict[str, str], reason: str, **fields: Any) -> dict[str, Any]:
        return self._post(_m(memory_id) + "/retire", {"scope": scope, "reason": reason, **fields})

    def restore(self, memory_id: str, scope: dict[str, str], **fields: Any) -> dict[str, Any]:
        return self._post(_m(memory_id) + "/restore", {"scope": scope, **fields})

    def forget(self, memory_id: str, scope: dict[str, str], reason: str, **fields: Any) -> dict[str, Any]:
        return self._post(_m(memory_id) + "/forget", {"scope": scope, "reason": reason, **fields})

    def search(self, scope: dict[str, str], query: str, **options: Any) -> dict[str, Any]:
        """``{"results": [memory + "score" + "matched"], "suppressed", "semantic"}``; ``options``: k, kinds, tags,
        filter, as_of, valid_at, include_retired, include_superseded, fusion ("relative" or "rrf"), alpha."""
        return self._post("/v1/memories/search", {"scope": scope, "query": query, **options})

    def history(self, memory_id: str, scope: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", _m(memory_id) + "/history", params=scope)
        return result


PATHWAY_ROUTES = {
    ("POST", "/v1/pathways"),
    ("GET", "/v1/pathways"),
    ("GET", "/v1/pathways/{pathway_id}"),
    ("POST", "/v1/pathways/{pathway_id}/steps"),
    ("POST", "/v1/pathways/{pathway_id}/end"),
    ("POST", "/v1/pathways/{pathway_id}/steps/{step_id}/retire"),
}


def _p(pathway_id: str) -> str:
    return "/v1/pathways/" + quote(pathway_id, safe="")


class Pathways:
    """Runs as memories: ``client.pathways.start(scope, "summary", steps=[{"action": ...}])``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("POST", path, json=body)
        return result

    def start(self, scope: dict[str, str], summary: str, **fields: Any) -> dict[str, Any]:
        """``fields``: steps, outcome, score, tags, metadata, actor."""
        return self._post("/v1/pathways", {"scope": scope, "summary": summary, **fields})

    def get(self, pathway_id: str, scope: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", _p(pathway_id), params=scope)
        return result

    def list(self, scope: dict[str, str], *, outcome: str | None = None, limit: int = 100) -> dict[str, Any]:
        params: dict[str, Any] = {**scope, "limit": limit, **_set(outcome=outcome)}
        result: dict[str, Any] = self._t.json("GET", "/v1/pathways", params=params)
        return result

    def append(
        self, pathway_id: str, scope: dict[str, str], steps: Sequence[dict[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        return self._post(_p(pathway_id) + "/steps", {"scope": scope, "steps": list(steps), **fields})

    def end(self, pathway_id: str, scope: dict[str, str], outcome: str, **fields: Any) -> dict[str, Any]:
        return self._post(_p(pathway_id) + "/end", {"scope": scope, "outcome": outcome, **fields})

    def retire_step(self, pathway_id: str, scope: dict[str, str], step_id: str, reason: str) -> dict[str, Any]:
        path = _p(pathway_id) + "/steps/" + quote(step_id, safe="") + "/retire"
        return self._post(path, {"scope": scope, "reason": reason})


PLAYBOOK_ROUTES = {
    ("POST", "/v1/playbooks"),
    ("POST", "/v1/playbooks/search"),
    ("GET", "/v1/playbooks/{playbook_id}"),
    ("POST", "/v1/playbooks/{playbook_id}/uses"),
}


class Playbooks:
    """``client.playbooks.promote(scope, "name", "trigger", [pathway ids])``, ``record_use``, ``search``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("POST", path, json=body)
        return result

    def promote(
        self, scope: dict[str, str], name: str, trigger: str, sources: Sequence[str], **fields: Any
    ) -> dict[str, Any]:
        """``fields``: steps, tags, metadata, actor."""
        body = {"scope": scope, "name": name, "trigger": trigger, "sources": list(sources), **fields}
        return self._post("/v1/playbooks", body)

    def get(self, playbook_id: str, scope: dict[str, str]) -> dict[str, Any]:
        result: dict[str, Any] = self._t.json("GET", "/v1/playbooks/" + quote(playbook_id, safe=""), params=scope)
        return result

    def record_use(self, playbook_id: str, scope: dict[str, str], outcome: str, **fields: Any) -> dict[str, Any]:
        path = "/v1/playbooks/" + quote(playbook_id, safe="") + "/uses"
        return self._post(path, {"scope": scope, "outcome": outcome, **fields})

    def search(self, scope: dict[str, str], task: str, *, k: int = 5) -> dict[str, Any]:
        return self._post("/v1/playbooks/search", {"scope": scope, "task": task, "k": k})
