"""pathwayd: ``/v1/memories`` (agent memories: ADD / UPDATE / REVISE / RETIRE / RESTORE / FORGET / HISTORY, search)
``/v1/pathways`` (runs: their steps and outcomes) and ``/v1/playbooks`` (procedures promoted from successful runs).

Every route names the memory's scope: in the body for writes, as query parameters (``tenant``, ``user_id``,
``agent_id``, ``run_id``) for reads; a memory outside that scope is not found. The actor recorded with each change
is the API key's name when auth is on (with the body's ``actor`` after it, in parentheses, when one is given), else
the body's ``actor`` or ``anonymous``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
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
    MemoryStore,
    Pathway,
    PathwayList,
    Pathways,
    Playbook,
    PlaybookResults,
    Playbooks,
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
from lakehouse.memory.model import MAX_SCOPE_PART, Kind, Status
from lakehouse.memory.pathways import Outcome
from lakehouse.paging import Page, decode_cursor, page_of
from lakehouse.server.auth import BOUND_TENANT, require
from lakehouse.server.params import PageQuery
from lakehouse.server.self_observe import note
from lakehouse.server.threads import run_in_threadpool
from lakehouse.wire import TEXT_PATTERN, WireModel

memories_router = APIRouter(prefix="/v1/memories", tags=["memory"])
Request_ = TypeVar("Request_", bound=WireModel)
MAX_ACTOR = 200


def _lakehouse(request: Request) -> Lakehouse:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse


def _memory(request: Request) -> MemoryStore:
    return _lakehouse(request).memory


def _as_key(request: Request, body: Request_) -> Request_:
    """``body`` with the actor recorded for it: the API key's name when auth is on (the body's actor after it, in
    parentheses), else the body's actor."""
    key = getattr(request.state, "api_key", None)
    given: str | None = getattr(body, "actor", None)
    if key is None:
        return body
    actor = f"{key.name} ({given})" if given else str(key.name)
    return body.model_copy(update={"actor": actor[:MAX_ACTOR]})


def _part(description: str) -> Any:
    return Query(description=description, max_length=MAX_SCOPE_PART, json_schema_extra={"pattern": TEXT_PATTERN})


def _scope_query(
    tenant: Annotated[str, _part("The scope's tenant.")],
    user_id: Annotated[str | None, _part("The scope's user.")] = None,
    agent_id: Annotated[str | None, _part("The scope's agent.")] = None,
    run_id: Annotated[str | None, _part("The scope's run.")] = None,
) -> Scope:
    return Scope(tenant=tenant, user_id=user_id, agent_id=agent_id, run_id=run_id)


Scoped = Annotated[Scope, Depends(_scope_query)]  # the scope of a read, from the query string


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@memories_router.post(
    "",
    status_code=201,
    summary="ADD a memory (deduplicated within its scope: 200 with the one already there)",
    dependencies=[require("write"), BOUND_TENANT],
    responses={
        200: {"model": AddedMemory, "description": "An active memory with this content was there: it, unchanged."},
        201: {"description": "Added."},
    },
)
async def add(body: AddMemory, request: Request, response: Response) -> AddedMemory:
    store = _memory(request)
    memory = await run_in_threadpool(store.add, _as_key(request, body))
    note(request, memory_id=memory.id, memory_version=memory.version, deduplicated=memory.deduplicated)
    if memory.deduplicated:
        response.status_code = 200
    _etag(response, memory.version)
    return memory


@memories_router.post(
    "/search",
    summary="Search a scope's memories: meaning and words, fused",
    dependencies=[require("read"), BOUND_TENANT],
)
async def search(body: MemorySearch, request: Request) -> SearchResults:
    found = await run_in_threadpool(_memory(request).search, body)
    note(request, memory_ids=[hit.id for hit in found.results], result_count=len(found.results))
    return found


@memories_router.get("", summary="The memories of a scope, paged", dependencies=[require("read"), BOUND_TENANT])
async def list_memories(
    request: Request,
    scope: Scoped,
    paging: Annotated[PageQuery, Depends()],
    kind: Annotated[list[Kind] | None, Query(description="Only these kinds (repeat the parameter).")] = None,
    status: Annotated[list[Status] | None, Query(description="Only these statuses (repeat the parameter).")] = None,
) -> Page[Memory]:
    store = _memory(request)
    after = decode_cursor(paging.cursor)
    found = await run_in_threadpool(
        lambda: store.list_memories(scope, kinds=kind, statuses=status, limit=paging.limit + 1, after=after)
    )
    return page_of(found, paging.limit, lambda m: m.id)


@memories_router.get(
    "/{memory_id}", summary="One memory (ETag: its version)", dependencies=[require("read"), BOUND_TENANT]
)
async def get_memory(memory_id: str, request: Request, response: Response, scope: Scoped) -> Memory:
    memory = await run_in_threadpool(_memory(request).get, memory_id, scope)
    _etag(response, memory.version)
    return memory


@memories_router.get(
    "/{memory_id}/history", summary="HISTORY: every event and the lineage", dependencies=[require("read"), BOUND_TENANT]
)
async def history(memory_id: str, request: Request, scope: Scoped) -> History:
    return await run_in_threadpool(_memory(request).history, memory_id, scope)


def _if_match(header: str | None, body_version: int | None) -> int | None:
    if header is None:
        return body_version
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or int(text) < 1:
        raise RequestValidationFailed('If-Match is the version in quotes, e.g. "3"', field="If-Match")
    if body_version is not None and body_version != int(text):
        raise RequestValidationFailed("If-Match and expected_version differ", field="expected_version")
    return int(text)


@memories_router.patch(
    "/{memory_id}",
    summary="UPDATE: a new revision at the expected version",
    dependencies=[require("write"), BOUND_TENANT],
)
async def update(
    memory_id: str,
    body: ChangeMemory,
    request: Request,
    response: Response,
    if_match: str | None = Header(None, description='The version you read, as its ETag ("3").'),
) -> Memory:
    expected = _if_match(if_match, body.expected_version)
    change = _as_key(request, body).model_copy(update={"expected_version": expected})
    memory = await run_in_threadpool(_memory(request).update, memory_id, change)
    _etag(response, memory.version)
    return memory


@memories_router.post(
    "/{memory_id}/revise",
    summary="REVISE: supersede by new content or an existing memory",
    dependencies=[require("write"), BOUND_TENANT],
)
async def revise(memory_id: str, body: ReviseMemory, request: Request, response: Response) -> Memory:
    successor = await run_in_threadpool(_memory(request).revise, memory_id, _as_key(request, body))
    note(request, memory_id=memory_id, successor_id=successor.id)
    _etag(response, successor.version)
    return successor


@memories_router.post(
    "/{memory_id}/retire", summary="RETIRE, with a reason", dependencies=[require("write"), BOUND_TENANT]
)
async def retire(memory_id: str, body: RetireMemory, request: Request, response: Response) -> Memory:
    memory = await run_in_threadpool(_memory(request).retire, memory_id, _as_key(request, body))
    _etag(response, memory.version)
    return memory


@memories_router.post(
    "/{memory_id}/restore", summary="RESTORE a retired memory", dependencies=[require("write"), BOUND_TENANT]
)
async def restore(memory_id: str, body: RestoreMemory, request: Request, response: Response) -> Memory:
    memory = await run_in_threadpool(_memory(request).restore, memory_id, _as_key(request, body))
    _etag(response, memory.version)
    return memory


@memories_router.post(
    "/{memory_id}/forget",
    summary="FORGET: purge content, keep a tombstone",
    dependencies=[require("write"), BOUND_TENANT],
)
async def forget(memory_id: str, body: ForgetMemory, request: Request) -> Forgotten:
    return await run_in_threadpool(_memory(request).forget, memory_id, _as_key(request, body))


# -- /v1/pathways: runs as memories of kind pathway -----------------------------------------------------------------

pathways_router = APIRouter(prefix="/v1/pathways", tags=["memory"])


def _pathways(request: Request) -> Pathways:
    return _lakehouse(request).pathways


@pathways_router.post(
    "", status_code=201, summary="Start (or record) a pathway", dependencies=[require("write"), BOUND_TENANT]
)
async def start_pathway(body: StartPathway, request: Request) -> Pathway:
    return await run_in_threadpool(_pathways(request).start, _as_key(request, body))


@pathways_router.get(
    "", summary="The scope's pathways, retired traces left out", dependencies=[require("read"), BOUND_TENANT]
)
async def list_pathways(
    request: Request,
    scope: Scoped,
    outcome: Annotated[Outcome | None, Query(description="Only runs that ended so.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PathwayList:
    pathways = _pathways(request)
    return await run_in_threadpool(lambda: pathways.list_pathways(scope, outcome=outcome, limit=limit))


@pathways_router.get(
    "/{pathway_id}", summary="A pathway without its retired steps", dependencies=[require("read"), BOUND_TENANT]
)
async def get_pathway(pathway_id: str, request: Request, scope: Scoped) -> Pathway:
    return await run_in_threadpool(_pathways(request).get, pathway_id, scope)


@pathways_router.post(
    "/{pathway_id}/steps", summary="Append steps to a live run", dependencies=[require("write"), BOUND_TENANT]
)
async def append_steps(pathway_id: str, body: AppendSteps, request: Request) -> Pathway:
    return await run_in_threadpool(_pathways(request).append, pathway_id, _as_key(request, body))


@pathways_router.post(
    "/{pathway_id}/end", summary="Record the run's outcome", dependencies=[require("write"), BOUND_TENANT]
)
async def end_pathway(pathway_id: str, body: EndPathway, request: Request) -> Pathway:
    return await run_in_threadpool(_pathways(request).end, pathway_id, _as_key(request, body))


@pathways_router.post(
    "/{pathway_id}/steps/{step_id}/retire",
    summary="Retire a wrong or harmful step",
    dependencies=[require("write"), BOUND_TENANT],
)
async def retire_step(pathway_id: str, step_id: str, body: RetireStep, request: Request) -> Pathway:
    return await run_in_threadpool(_pathways(request).retire_step, pathway_id, step_id, _as_key(request, body))


# -- /v1/playbooks: procedures promoted from successful pathways ------------------------------------------------------

playbooks_router = APIRouter(prefix="/v1/playbooks", tags=["memory"])


def _playbooks(request: Request) -> Playbooks:
    return _lakehouse(request).playbooks


@playbooks_router.post(
    "",
    status_code=201,
    summary="Promote successful pathways to a playbook",
    dependencies=[require("write"), BOUND_TENANT],
)
async def promote(body: PromotePlaybook, request: Request) -> Playbook:
    return await run_in_threadpool(_playbooks(request).promote, _as_key(request, body))


@playbooks_router.post(
    "/search", summary="Playbooks for a task: similarity x confidence", dependencies=[require("read"), BOUND_TENANT]
)
async def search_playbooks(body: PlaybookSearch, request: Request) -> PlaybookResults:
    return await run_in_threadpool(_playbooks(request).search, body)


@playbooks_router.get(
    "/{playbook_id}", summary="A playbook with its record", dependencies=[require("read"), BOUND_TENANT]
)
async def get_playbook(playbook_id: str, request: Request, scope: Scoped) -> Playbook:
    return await run_in_threadpool(_playbooks(request).get, playbook_id, scope)


@playbooks_router.post(
    "/{playbook_id}/uses", summary="Record a use and its outcome", dependencies=[require("write"), BOUND_TENANT]
)
async def record_use(playbook_id: str, body: RecordUse, request: Request) -> Playbook:
    return await run_in_threadpool(_playbooks(request).record_use, playbook_id, _as_key(request, body))


router = APIRouter()  # the service's routes: memories, pathways and playbooks (each route keeps its full path)
router.routes.extend([*memories_router.routes, *pathways_router.routes, *playbooks_router.routes])
