"""Client methods for /v1/memories, /v1/pathways and /v1/playbooks, over the memory library's own wire models:
``client.memories.add(AddMemory(scope=Scope(tenant="acme"), content="..."))`` answers an ``AddedMemory``, the same
as ``Lakehouse.memory.add``. Errors are raised as the same ``lakehouse.errors`` classes the in-process API raises
(``VersionConflict``, ``RevisionCycle``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from lakehouse.client._http import Transport
from lakehouse.memory import (
    AddedMemory,
    AddMemory,
    AppendSteps,
    ChangeMemory,
    EndPathway,
    ForgetMemory,
    Forgotten,
    History,
    Memory,
    MemorySearch,
    Pathway,
    PathwayList,
    Playbook,
    PlaybookResults,
    PlaybookSearch,
    PromotePlaybook,
    RecordUse,
    RestoreMemory,
    RetireMemory,
    RetireStep,
    ReviseMemory,
    Scope,
    SearchResults,
    StartPathway,
)
from lakehouse.memory.pathways import Outcome
from lakehouse.wire import WireModel

A = TypeVar("A", bound=BaseModel)

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


def _body(request: WireModel) -> dict[str, Any]:
    """The request as JSON, with only the fields it was given (an UPDATE's ``null`` clears; a field left out is
    kept)."""
    body: dict[str, Any] = request.model_dump(mode="json", exclude_unset=True)
    return body


class _Area:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def _call(self, method: str, path: str, answer: type[A], **kwargs: Any) -> A:
        return answer.model_validate(self._t.json(method, path, **kwargs))

    def _post(self, path: str, request: WireModel, answer: type[A]) -> A:
        return self._call("POST", path, answer, json=_body(request))


class Memories(_Area):
    def add(self, request: AddMemory) -> AddedMemory:
        """ADD; the answer says whether it was ``deduplicated``."""
        return self._post("/v1/memories", request, AddedMemory)

    def get(self, memory_id: str, scope: Scope) -> Memory:
        return self._call("GET", _m(memory_id), Memory, params=scope.to_dict())

    def list(self, scope: Scope, *, kinds: Sequence[str] = (), statuses: Sequence[str] = ()) -> Iterator[Memory]:
        params: dict[str, Any] = scope.to_dict()
        if kinds:
            params["kind"] = list(kinds)
        if statuses:
            params["status"] = list(statuses)
        return (Memory.model_validate(item) for item in self._t.pages("/v1/memories", params))

    def update(self, memory_id: str, request: ChangeMemory) -> Memory:
        """UPDATE at ``request.expected_version`` (a field given as None is cleared, one not given is kept)."""
        return self._call("PATCH", _m(memory_id), Memory, json=_body(request))

    def revise(self, memory_id: str, request: ReviseMemory) -> Memory:
        """REVISE into new content or an existing ``successor_id``; the answer is the successor."""
        return self._post(_m(memory_id) + "/revise", request, Memory)

    def retire(self, memory_id: str, request: RetireMemory) -> Memory:
        return self._post(_m(memory_id) + "/retire", request, Memory)

    def restore(self, memory_id: str, request: RestoreMemory) -> Memory:
        return self._post(_m(memory_id) + "/restore", request, Memory)

    def forget(self, memory_id: str, request: ForgetMemory) -> Forgotten:
        return self._post(_m(memory_id) + "/forget", request, Forgotten)

    def search(self, request: MemorySearch) -> SearchResults:
        return self._post("/v1/memories/search", request, SearchResults)

    def history(self, memory_id: str, scope: Scope) -> History:
        return self._call("GET", _m(memory_id) + "/history", History, params=scope.to_dict())


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


class Pathways(_Area):
    """Runs as memories: ``client.pathways.start(StartPathway(scope=..., summary="...", steps=[...]))``."""

    def start(self, request: StartPathway) -> Pathway:
        return self._post("/v1/pathways", request, Pathway)

    def get(self, pathway_id: str, scope: Scope) -> Pathway:
        return self._call("GET", _p(pathway_id), Pathway, params=scope.to_dict())

    def list(self, scope: Scope, *, outcome: Outcome | None = None, limit: int = 100) -> PathwayList:
        params: dict[str, Any] = {**scope.to_dict(), "limit": limit}
        if outcome is not None:
            params["outcome"] = outcome
        return self._call("GET", "/v1/pathways", PathwayList, params=params)

    def append(self, pathway_id: str, request: AppendSteps) -> Pathway:
        return self._post(_p(pathway_id) + "/steps", request, Pathway)

    def end(self, pathway_id: str, request: EndPathway) -> Pathway:
        return self._post(_p(pathway_id) + "/end", request, Pathway)

    def retire_step(self, pathway_id: str, step_id: str, request: RetireStep) -> Pathway:
        return self._post(_p(pathway_id) + "/steps/" + quote(step_id, safe="") + "/retire", request, Pathway)


PLAYBOOK_ROUTES = {
    ("POST", "/v1/playbooks"),
    ("POST", "/v1/playbooks/search"),
    ("GET", "/v1/playbooks/{playbook_id}"),
    ("POST", "/v1/playbooks/{playbook_id}/uses"),
}


def _b(playbook_id: str) -> str:
    return "/v1/playbooks/" + quote(playbook_id, safe="")


class Playbooks(_Area):
    """``client.playbooks.promote(PromotePlaybook(...))``, ``record_use``, ``search``."""

    def promote(self, request: PromotePlaybook) -> Playbook:
        return self._post("/v1/playbooks", request, Playbook)

    def get(self, playbook_id: str, scope: Scope) -> Playbook:
        return self._call("GET", _b(playbook_id), Playbook, params=scope.to_dict())

    def record_use(self, playbook_id: str, request: RecordUse) -> Playbook:
        return self._post(_b(playbook_id) + "/uses", request, Playbook)

    def search(self, request: PlaybookSearch) -> PlaybookResults:
        return self._post("/v1/playbooks/search", request, PlaybookResults)
