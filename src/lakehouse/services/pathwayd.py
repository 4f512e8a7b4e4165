"""pathwayd: ``/v1/memories`` (agent memories: ADD / UPDATE / REVISE / RETIRE / RESTORE / FORGET / HISTORY, search)
``/v1/pathways`` (runs: their steps and outcomes) and ``/v1/playbooks`` (procedures promoted from successful runs).

Every route names the memory's scope: in the body for writes, as query parameters (``tenant``, ``user_id``,
``agent_id``, ``run_id``) for reads; a memory outside that scope is not found. The actor recorded with each change
is the API key's name when auth is on (with the body's ``actor`` after it, in parentheses, when one is given), else
the body's ``actor`` or ``anonymous``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from lakehouse.core import Lakehouse
from lakehouse.errors import RequestValidationFailed
from lakehouse.memory import MemoryStore, Pathways, Playbooks
from lakehouse.paging import decode_cursor, encode_cursor
from lakehouse.server.auth import BOUND_TENANT, require
from lakehouse.server.threads import run_in_threadpool

memories_router = APIRouter(prefix="/v1/memories", tags=["memory"])


def _memory(request: Request) -> MemoryStore:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.memory


def _actor(request: Request, given: str | None) -> str | None:
    key = getattr(request.state, "api_key", None)
    if key is None:
        return given
    return f"{key.name} ({given})" if given else str(key.name)


def _scope_query(
    tenant: str = Query(description="The scope's tenant."),
    user_id: str | None = Query(None, description="The scope's user."),
    agent_id: str | None = Query(None, description="The scope's agent."),
    run_id: str | None = Query(None, description="The scope's run."),
) -> dict[str, Any]:
    given = {"tenant": tenant, "user_id": user_id, "agent_id": agent_id, "run_id": run_id}
    return {name: value for name, value in given.items() if value is not None or name == "tenant"}


Scoped = Annotated[dict[str, Any], Depends(_scope_query)]  # the scope of a read, from the query string


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


class Add(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description='{"tenant", "user_id"?, "agent_id"?, "run_id"?}')
    kind: str = Field("fact", description="fact, pathway or playbook.")
    content: Any = Field(description="The memory's text.")
    data: Any = Field(None, description="Any JSON (a pathway's steps).")
    metadata: Any = Field(None, description="A JSON object.")
    tags: Any = Field(None, description="A list of strings.")
    valid_from: Any = Field(None, description="When it became true in the world (ISO 8601), if known.")
    valid_until: Any = Field(None, description="When it stopped being true in the world (ISO 8601), if known.")
    actor: str | None = Field(None, description="Who adds it (recorded in its history).")


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The memory's scope.")
    expected_version: Any = Field(None, description="The version you read (or send If-Match).")
    content: Any = None
    data: Any = None
    metadata: Any = None
    tags: Any = None
    valid_from: Any = None
    valid_until: Any = None
    actor: str | None = None
    reason: Any = None


class Revise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The memory's scope.")
    content: Any = Field(None, description="New content: a new memory becomes the successor.")
    successor_id: Any = Field(None, description="Or: an existing memory of the scope becomes the successor.")
    data: Any = None
    metadata: Any = None
    tags: Any = None
    expected_version: Any = None
    actor: str | None = None
    reason: Any = None


class Retire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The memory's scope.")
    reason: Any = Field(description="Why it is retired (required).")
    expected_version: Any = None
    actor: str | None = None


class Restore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The memory's scope.")
    reason: Any = None
    actor: str | None = None


class Forget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The memory's scope.")
    reason: Any = Field(description="Why it is purged (required; kept in the tombstone).")
    actor: str | None = None


def _given(model: BaseModel, *names: str) -> dict[str, Any]:
    """The fields the body set (an UPDATE changes only what it names; ``null`` clears)."""
    return {name: getattr(model, name) for name in names if name in model.model_fields_set}


@memories_router.post(
    "",
    status_code=201,
    summary="ADD a memory (deduplicated within its scope)",
    dependencies=[require("write"), BOUND_TENANT],
)
async def add(body: Add, request: Request, response: Response) -> dict[str, Any]:
    store = _memory(request)
    memory = await run_in_threadpool(
        lambda: store.add(
            body.scope,
            body.kind,
            body.content,
            data=body.data,
            metadata=body.metadata,
            tags=body.tags,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            actor=_actor(request, body.actor),
        )
    )
    if memory.extra.get("deduplicated"):
        response.status_code = 200
    _etag(response, memory.version)
    return memory.to_dict()


class Search(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The scope searched.")
    query: Any = Field(description="What to look for: matched by meaning (embeddings) and by words (BM25).")
    k: Any = Field(10, description="How many results (1-1000).")
    kinds: Any = Field(None, description="Only these kinds.")
    tags: Any = Field(None, description="Only memories with all these tags.")
    filter: Any = Field(None, description="Only memories whose metadata matches (the filter language of vectors).")
    as_of: Any = Field(None, description="The memories as the system knew them at this time (ISO 8601).")
    valid_at: Any = Field(None, description="Only memories true in the world at this time (ISO 8601).")
    include_retired: bool = Field(False, description="Also retired memories.")
    include_superseded: bool = Field(False, description="Also superseded memories.")
    fusion: Any = Field(
        "relative", description="`relative` (scores scaled and weighted by `alpha`) or `rrf` (reciprocal rank)."
    )
    alpha: Any = Field(0.75, description="The weight of meaning in relative fusion (0-1; words get the rest).")


@memories_router.post(
    "/search",
    summary="Search a scope's memories: meaning and words, fused",
    dependencies=[require("read"), BOUND_TENANT],
)
async def search(body: Search, request: Request) -> dict[str, Any]:
    store = _memory(request)
    found: dict[str, Any] = await run_in_threadpool(
        lambda: store.search(
            body.scope,
            body.query,
            k=body.k,
            kinds=body.kinds,
            tags=body.tags,
            filter=body.filter,
            as_of=body.as_of,
            valid_at=body.valid_at,
            include_retired=body.include_retired,
            include_superseded=body.include_superseded,
            fusion=body.fusion,
            alpha=body.alpha,
        )
    )
    return found


@memories_router.get("", summary="The memories of a scope, paged", dependencies=[require("read"), BOUND_TENANT])
async def list_memories(
    request: Request,
    scope: Scoped,
    kind: Annotated[list[str] | None, Query(description="Only these kinds (repeat the parameter).")] = None,
    status: Annotated[list[str] | None, Query(description="Only these statuses (repeat the parameter).")] = None,
    cursor: str | None = Query(None, description="The `next` of the previous page."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    store = _memory(request)
    after = decode_cursor(cursor)
    found = await run_in_threadpool(
        lambda: store.list_memories(scope, kinds=kind, statuses=status, limit=limit + 1, after=after)
    )
    page = found[:limit]
    return {
        "items": [m.to_dict() for m in page],
        "next": encode_cursor(page[-1].id) if len(found) > limit else None,
    }


@memories_router.get(
    "/{memory_id}", summary="One memory (ETag: its version)", dependencies=[require("read"), BOUND_TENANT]
)
async def get_memory(
    memory_id: str,
    request: Request,
    response: Response,
    scope: Scoped,
) -> dict[str, Any]:
    store = _memory(request)
    memory = await run_in_threadpool(store.get, memory_id, scope)
    _etag(response, memory.version)
    return memory.to_dict()


@memories_router.get(
    "/{memory_id}/history", summary="HISTORY: every event and the lineage", dependencies=[require("read"), BOUND_TENANT]
)
async def history(
    memory_id: str,
    request: Request,
    scope: Scoped,
) -> dict[str, Any]:
    store = _memory(request)
    found: dict[str, Any] = await run_in_threadpool(store.history, memory_id, scope)
    return found


def _if_match(header: str | None, body_version: Any) -> Any:
    if header is None:
        return body_version
    text = header.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
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
    body: Change,
    request: Request,
    response: Response,
    if_match: str | None = Header(None, description='The version you read, as its ETag ("3").'),
) -> dict[str, Any]:
    store = _memory(request)
    expected = _if_match(if_match, body.expected_version)
    changes = _given(body, "content", "data", "metadata", "tags", "valid_from", "valid_until")
    memory = await run_in_threadpool(
        lambda: store.update(
            memory_id,
            body.scope,
            expected_version=expected,
            actor=_actor(request, body.actor),
            reason=body.reason,
            **changes,
        )
    )
    _etag(response, memory.version)
    return memory.to_dict()


@memories_router.post(
    "/{memory_id}/revise",
    summary="REVISE: supersede by new content or an existing memory",
    dependencies=[require("write"), BOUND_TENANT],
)
async def revise(memory_id: str, body: Revise, request: Request, response: Response) -> dict[str, Any]:
    store = _memory(request)
    carried = _given(body, "data", "metadata", "tags")
    successor = await run_in_threadpool(
        lambda: store.revise(
            memory_id,
            body.scope,
            content=body.content,
            successor_id=body.successor_id,
            expected_version=body.expected_version,
            actor=_actor(request, body.actor),
            reason=body.reason,
            **carried,
        )
    )
    _etag(response, successor.version)
    return successor.to_dict()


@memories_router.post(
    "/{memory_id}/retire", summary="RETIRE, with a reason", dependencies=[require("write"), BOUND_TENANT]
)
async def retire(memory_id: str, body: Retire, request: Request, response: Response) -> dict[str, Any]:
    store = _memory(request)
    memory = await run_in_threadpool(
        lambda: store.retire(
            memory_id,
            body.scope,
            reason=body.reason,
            expected_version=body.expected_version,
            actor=_actor(request, body.actor),
        )
    )
    _etag(response, memory.version)
    return memory.to_dict()


@memories_router.post(
    "/{memory_id}/restore", summary="RESTORE a retired memory", dependencies=[require("write"), BOUND_TENANT]
)
async def restore(memory_id: str, body: Restore, request: Request, response: Response) -> dict[str, Any]:
    store = _memory(request)
    memory = await run_in_threadpool(
        lambda: store.restore(memory_id, body.scope, reason=body.reason, actor=_actor(request, body.actor))
    )
    _etag(response, memory.version)
    return memory.to_dict()


@memories_router.post(
    "/{memory_id}/forget",
    summary="FORGET: purge content, keep a tombstone",
    dependencies=[require("write"), BOUND_TENANT],
)
async def forget(memory_id: str, body: Forget, request: Request) -> dict[str, Any]:
    store = _memory(request)
    gone: dict[str, Any] = await run_in_threadpool(
        lambda: store.forget(memory_id, body.scope, reason=body.reason, actor=_actor(request, body.actor))
    )
    return gone


# -- /v1/pathways: runs as memories of kind pathway -----------------------------------------------------------------

pathways_router = APIRouter(prefix="/v1/pathways", tags=["memory"])


def _pathways(request: Request) -> Pathways:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.pathways


class PathwayStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The run's scope.")
    summary: Any = Field(description="What the run was for (the memory's content).")
    steps: Any = Field(None, description="Steps so far: [{action, input?, output?, outcome?, started_at?, ended_at?}]")
    outcome: Any = Field(None, description="success, failure or partial, when the run has ended.")
    score: Any = Field(None, description="An optional score of the outcome.")
    tags: Any = None
    metadata: Any = None
    actor: str | None = None


class StepsAppend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The run's scope.")
    steps: Any = Field(description="The steps to append, in order.")
    expected_version: Any = None
    actor: str | None = None


class PathwayEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The run's scope.")
    outcome: Any = Field(description="success, failure or partial.")
    score: Any = None
    actor: str | None = None


class StepRetire(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The run's scope.")
    reason: Any = Field(description="Why the step is retired (required).")
    actor: str | None = None


@pathways_router.post(
    "", status_code=201, summary="Start (or record) a pathway", dependencies=[require("write"), BOUND_TENANT]
)
async def start_pathway(body: PathwayStart, request: Request) -> dict[str, Any]:
    pathways = _pathways(request)
    started: dict[str, Any] = await run_in_threadpool(
        lambda: pathways.start(
            body.scope,
            body.summary,
            steps=body.steps,
            outcome=body.outcome,
            score=body.score,
            tags=body.tags,
            metadata=body.metadata,
            actor=_actor(request, body.actor),
        )
    )
    return started


@pathways_router.get(
    "", summary="The scope's pathways, retired traces left out", dependencies=[require("read"), BOUND_TENANT]
)
async def list_pathways(
    request: Request,
    scope: Scoped,
    outcome: str | None = Query(None, description="Only runs that ended so."),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    pathways = _pathways(request)
    found: dict[str, Any] = await run_in_threadpool(lambda: pathways.list_pathways(scope, outcome=outcome, limit=limit))
    return found


@pathways_router.get(
    "/{pathway_id}", summary="A pathway without its retired steps", dependencies=[require("read"), BOUND_TENANT]
)
async def get_pathway(
    pathway_id: str,
    request: Request,
    scope: Scoped,
) -> dict[str, Any]:
    pathways = _pathways(request)
    found: dict[str, Any] = await run_in_threadpool(pathways.get, pathway_id, scope)
    return found


@pathways_router.post(
    "/{pathway_id}/steps", summary="Append steps to a live run", dependencies=[require("write"), BOUND_TENANT]
)
async def append_steps(pathway_id: str, body: StepsAppend, request: Request) -> dict[str, Any]:
    pathways = _pathways(request)
    found: dict[str, Any] = await run_in_threadpool(
        lambda: pathways.append(
            pathway_id,
            body.scope,
            body.steps,
            expected_version=body.expected_version,
            actor=_actor(request, body.actor),
        )
    )
    return found


@pathways_router.post(
    "/{pathway_id}/end", summary="Record the run's outcome", dependencies=[require("write"), BOUND_TENANT]
)
async def end_pathway(pathway_id: str, body: PathwayEnd, request: Request) -> dict[str, Any]:
    pathways = _pathways(request)
    found: dict[str, Any] = await run_in_threadpool(
        lambda: pathways.end(pathway_id, body.scope, body.outcome, score=body.score, actor=_actor(request, body.actor))
    )
    return found


@pathways_router.post(
    "/{pathway_id}/steps/{step_id}/retire",
    summary="Retire a wrong or harmful step",
    dependencies=[require("write"), BOUND_TENANT],
)
async def retire_step(pathway_id: str, step_id: str, body: StepRetire, request: Request) -> dict[str, Any]:
    pathways = _pathways(request)
    found: dict[str, Any] = await run_in_threadpool(
        lambda: pathways.retire_step(
            pathway_id, body.scope, step_id, reason=body.reason, actor=_actor(request, body.actor)
        )
    )
    return found


# -- /v1/playbooks: procedures promoted from successful pathways ------------------------------------------------------

playbooks_router = APIRouter(prefix="/v1/playbooks", tags=["memory"])


def _playbooks(request: Request) -> Playbooks:
    lakehouse: Lakehouse = request.app.state.lakehouse
    return lakehouse.playbooks


class Promote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The scope of the pathways and of the playbook.")
    name: Any = Field(description="The playbook's name.")
    trigger: Any = Field(description="When to use it.")
    sources: Any = Field(description="The ids of the successful pathways it comes from.")
    steps: Any = Field(None, description="Its steps; default: the live steps of the sources, in order.")
    tags: Any = None
    metadata: Any = None
    actor: str | None = None


class Use(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The playbook's scope.")
    outcome: Any = Field(description="success or failure.")
    pathway_id: Any = Field(None, description="The run that used it, if recorded.")
    actor: str | None = None


class PlaybookSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: Any = Field(description="The scope searched.")
    task: Any = Field(description="The task at hand.")
    k: Any = Field(5, description="How many results (1-1000).")


@playbooks_router.post(
    "",
    status_code=201,
    summary="Promote successful pathways to a playbook",
    dependencies=[require("write"), BOUND_TENANT],
)
async def promote(body: Promote, request: Request) -> dict[str, Any]:
    playbooks = _playbooks(request)
    made: dict[str, Any] = await run_in_threadpool(
        lambda: playbooks.promote(
            body.scope,
            body.name,
            body.trigger,
            body.sources,
            steps=body.steps,
            tags=body.tags,
            metadata=body.metadata,
            actor=_actor(request, body.actor),
        )
    )
    return made


@playbooks_router.post(
    "/search", summary="Playbooks for a task: similarity x confidence", dependencies=[require("read"), BOUND_TENANT]
)
async def search_playbooks(body: PlaybookSearch, request: Request) -> dict[str, Any]:
    playbooks = _playbooks(request)
    found: dict[str, Any] = await run_in_threadpool(lambda: playbooks.search(body.scope, body.task, k=body.k))
    return found


@playbooks_router.get(
    "/{playbook_id}", summary="A playbook with its record", dependencies=[require("read"), BOUND_TENANT]
)
async def get_playbook(
    playbook_id: str,
    request: Request,
    scope: Scoped,
) -> dict[str, Any]:
    playbooks = _playbooks(request)
    found: dict[str, Any] = await run_in_threadpool(playbooks.get, playbook_id, scope)
    return found


@playbooks_router.post(
    "/{playbook_id}/uses", summary="Record a use and its outcome", dependencies=[require("write"), BOUND_TENANT]
)
async def record_use(playbook_id: str, body: Use, request: Request) -> dict[str, Any]:
    playbooks = _playbooks(request)
    found: dict[str, Any] = await run_in_threadpool(
        lambda: playbooks.record_use(
            playbook_id, body.scope, body.outcome, pathway_id=body.pathway_id, actor=_actor(request, body.actor)
        )
    )
    return found


router = APIRouter()  # the service's routes: memories, pathways and playbooks (each route keeps its full path)
router.routes.extend([*memories_router.routes, *pathways_router.routes, *playbooks_router.routes])
