"""``lakehouse memory``: agent memories from the command line, in-process (add, list, show, history, update, revise,
retire, restore, forget). The scope is given with ``--tenant`` and any of ``--user``, ``--agent`` and ``--run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import open_lakehouse, settings_options
from lakehouse.memory import (
    KINDS,
    STATUSES,
    AddedMemory,
    AddMemory,
    ChangeMemory,
    ForgetMemory,
    Memory,
    MemorySearch,
    MemoryStore,
    Playbook,
    PlaybookSearch,
    PromotePlaybook,
    RecordUse,
    RestoreMemory,
    RetireMemory,
    ReviseMemory,
    Scope,
)
from lakehouse.memory.ranking import ALPHA, FUSIONS


def scope_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--tenant", required=True, help="The scope's tenant."),
            click.option("--user", "user_id", help="The scope's user."),
            click.option("--agent", "agent_id", help="The scope's agent."),
            click.option("--run", "run_id", help="The scope's run."),
        ]
    ):
        fn = option(fn)
    return fn


def _scope(tenant: str, user_id: str | None, agent_id: str | None, run_id: str | None) -> Scope:
    return Scope(tenant=tenant, user_id=user_id, agent_id=agent_id, run_id=run_id)


T = TypeVar("T")


def _run(config_path: str | None, data_dir: str | None, work: Callable[[MemoryStore], T]) -> T:
    with open_lakehouse(config_path, data_dir) as lakehouse:
        return work(lakehouse.memory)


def _json(answer: BaseModel | list[Memory]) -> str:
    if isinstance(answer, list):
        return json.dumps([m.model_dump(mode="json") for m in answer], indent=2)
    return answer.model_dump_json(indent=2)


def _show(memory: Memory, as_json: bool) -> None:
    if as_json:
        click.echo(_json(memory))
        return
    note = " (already known: deduplicated)" if isinstance(memory, AddedMemory) and memory.deduplicated else ""
    click.echo(f"{memory.id}  {memory.kind}  {memory.status}  v{memory.version}{note}")
    click.echo(f"  {memory.content}")
    if memory.superseded_by:
        click.echo(f"  superseded by {memory.superseded_by}")
    if memory.retired_reason:
        click.echo(f"  retired: {memory.retired_reason}")


@click.group()
def memory() -> None:
    """Agent memories: ADD / UPDATE / REVISE / RETIRE / RESTORE / FORGET / HISTORY, scoped.

    \b
    Examples:
      lakehouse memory add --tenant acme --user u1 "Prefers email over phone"
      lakehouse memory list --tenant acme --user u1
      lakehouse memory history --tenant acme --user u1 MEMORY_ID
    """


@memory.command()
@scope_options
@click.argument("content")
@click.option("--kind", type=click.Choice(KINDS), default="fact", show_default=True)
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--metadata", "metadata_json", help="A JSON object.")
@click.option("--actor", help="Who adds it (kept in its history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def add(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    content: str,
    kind: str,
    tags: tuple[str, ...],
    metadata_json: str | None,
    actor: str | None,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """ADD a memory (an active one with the same content in the scope is answered instead).

    \b
    Example:
      lakehouse memory add --tenant acme --user u1 "Prefers email over phone" --tag contact
    """
    try:
        metadata = json.loads(metadata_json) if metadata_json else None
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata") from exc
    request = AddMemory.checked(
        {
            "scope": _scope(tenant, user_id, agent_id, run_id),
            "kind": kind,
            "content": content,
            "tags": list(tags) or None,
            "metadata": metadata,
            "actor": actor,
        }
    )
    found = _run(config_path, data_dir, lambda store: store.add(request))
    _show(found, as_json)


@memory.command(name="list")
@scope_options
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True, help="Only this kind (repeat for more).")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True, help="Only this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def list_(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    kinds: tuple[str, ...],
    statuses: tuple[str, ...],
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """The scope's memories.

    \b
    Example:
      lakehouse memory list --tenant acme --user u1 --status active
    """
    scope = _scope(tenant, user_id, agent_id, run_id)
    found: list[Memory] = _run(
        config_path,
        data_dir,
        lambda store: store.list_memories(scope, kinds=kinds or None, statuses=statuses or None, limit=100_000),
    )
    if as_json:
        click.echo(_json(found))
        return
    table = Table(title=f"memories of {json.dumps(scope.to_dict())}")
    for column in ("id", "kind", "status", "version", "content"):
        table.add_column(column)
    for m in found:
        table.add_row(m.id, m.kind, m.status, str(m.version), m.content)
    Console().print(table)


@memory.command()
@scope_options
@click.argument("memory_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def show(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    memory_id: str,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """One memory.

    \b
    Example:
      lakehouse memory show --tenant acme --user u1 MEMORY_ID --json
    """
    scope = _scope(tenant, user_id, agent_id, run_id)
    _show(_run(config_path, data_dir, lambda store: store.get(memory_id, scope)), as_json)


@memory.command()
@scope_options
@click.argument("memory_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def history(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    memory_id: str,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """HISTORY: every event of a memory, in order, and its lineage.

    \b
    Example:
      lakehouse memory history --tenant acme --user u1 MEMORY_ID
    """
    scope = _scope(tenant, user_id, agent_id, run_id)
    found = _run(config_path, data_dir, lambda store: store.history(memory_id, scope))
    if as_json:
        click.echo(_json(found))
        return
    table = Table(title=f"history of {memory_id}")
    for column in ("at", "op", "version", "actor", "reason", "content after"):
        table.add_column(column)
    for e in found.events:
        after = str((e.after or {}).get("content") or "")
        table.add_row(e.at.isoformat(), e.op, str(e.version or ""), e.actor, e.reason or "", after)
    Console().print(table)
    lineage = found.lineage
    click.echo(f"supersedes: {', '.join(lineage.supersedes) or '-'}; current: {lineage.current}")


@memory.command()
@scope_options
@click.argument("memory_id")
@click.argument("content")
@click.option("--version", "expected_version", type=int, required=True, help="The version you read.")
@click.option("--reason", help="Why (kept in its history).")
@click.option("--actor", help="Who (kept in its history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def update(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    memory_id: str,
    content: str,
    expected_version: int,
    reason: str | None,
    actor: str | None,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """UPDATE a memory's content at the version you read.

    \b
    Example:
      lakehouse memory update --tenant acme --user u1 MEMORY_ID "Prefers SMS" --version 1
    """
    request = ChangeMemory(
        scope=_scope(tenant, user_id, agent_id, run_id),
        expected_version=expected_version,
        content=content,
        reason=reason,
        actor=actor,
    )
    found = _run(config_path, data_dir, lambda store: store.update(memory_id, request))
    _show(found, as_json)


@memory.command()
@scope_options
@click.argument("memory_id")
@click.option("--content", help="New content: a new memory becomes the successor.")
@click.option("--successor", "successor_id", help="Or: an existing memory of the scope becomes the successor.")
@click.option("--reason", help="Why (kept in its history).")
@click.option("--actor", help="Who (kept in its history).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def revise(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    memory_id: str,
    content: str | None,
    successor_id: str | None,
    reason: str | None,
    actor: str | None,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """REVISE a memory into new content or an existing successor; prints the successor.

    \b
    Examples:
      lakehouse memory revise --tenant acme --user u1 MEMORY_ID --content "Prefers SMS after 6pm"
      lakehouse memory revise --tenant acme --user u1 MEMORY_ID --successor OTHER_ID
    """
    request = ReviseMemory(
        scope=_scope(tenant, user_id, agent_id, run_id),
        content=content,
        successor_id=successor_id,
        reason=reason,
        actor=actor,
    )
    found = _run(config_path, data_dir, lambda store: store.revise(memory_id, request))
    _show(found, as_json)


def _status_command(name: str, doc: str, needs_reason: bool) -> click.Command:
    @scope_options
    @click.argument("memory_id")
    @click.option("--reason", required=needs_reason, help="Why (kept in its history).")
    @click.option("--actor", help="Who (kept in its history).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
    @settings_options
    def command(
        tenant: str,
        user_id: str | None,
        agent_id: str | None,
        run_id: str | None,
        memory_id: str,
        reason: str | None,
        actor: str | None,
        as_json: bool,
        config_path: str | None,
        data_dir: str | None,
    ) -> None:
        scope = _scope(tenant, user_id, agent_id, run_id)
        with open_lakehouse(config_path, data_dir) as lakehouse:
            store = lakehouse.memory
            if name == "forget":
                assert reason is not None
                gone = store.forget(memory_id, ForgetMemory(scope=scope, reason=reason, actor=actor))
                click.echo(_json(gone) if as_json else f"{gone.id} forgotten at {gone.at.isoformat()}")
                return
            if name == "retire":
                assert reason is not None
                found = store.retire(memory_id, RetireMemory(scope=scope, reason=reason, actor=actor))
            else:
                found = store.restore(memory_id, RestoreMemory(scope=scope, reason=reason, actor=actor))
        _show(found, as_json)

    command.__doc__ = f"{doc}\n\n\b\nExample:\n  lakehouse memory {name} --tenant acme --user u1 MEMORY_ID" + (
        ' --reason "..."' if needs_reason else ""
    )
    return click.command(name=name)(command)


memory.add_command(_status_command("retire", "RETIRE a memory, with a reason.", True))
memory.add_command(_status_command("restore", "RESTORE a retired memory.", False))
memory.add_command(_status_command("forget", "FORGET: purge a memory's content everywhere, leaving a tombstone.", True))


@memory.command(name="search")
@scope_options
@click.argument("query")
@click.option("-k", "k", type=int, default=10, show_default=True, help="How many results.")
@click.option("--kind", "kinds", type=click.Choice(KINDS), multiple=True, help="Only this kind (repeat for more).")
@click.option("--tag", "tags", multiple=True, help="Only memories with this tag (repeat: all of them).")
@click.option("--as-of", "as_of", help="What the system knew at this time (ISO 8601).")
@click.option("--include-retired", is_flag=True, help="Also retired memories.")
@click.option("--include-superseded", is_flag=True, help="Also superseded memories.")
@click.option(
    "--fusion",
    type=click.Choice(FUSIONS),
    default="relative",
    show_default=True,
    help="How meaning and words combine: scores scaled and weighted, or reciprocal rank.",
)
@click.option("--alpha", type=float, default=ALPHA, show_default=True, help="The weight of meaning (relative fusion).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def search_(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    query: str,
    k: int,
    kinds: tuple[str, ...],
    tags: tuple[str, ...],
    as_of: str | None,
    include_retired: bool,
    include_superseded: bool,
    fusion: str,
    alpha: float,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Search the scope's memories by meaning and words.

    \b
    Example:
      lakehouse memory search --tenant acme --user u1 "how does the user like to be contacted?"
    """
    request = MemorySearch.checked(
        {
            "scope": _scope(tenant, user_id, agent_id, run_id),
            "query": query,
            "k": k,
            "kinds": list(kinds) or None,
            "tags": list(tags) or None,
            "as_of": as_of,
            "include_retired": include_retired,
            "include_superseded": include_superseded,
            "fusion": fusion,
            "alpha": alpha,
        }
    )
    found = _run(config_path, data_dir, lambda store: store.search(request))
    if as_json:
        click.echo(_json(found))
        return
    table = Table(title=f"{len(found.results)} found, {found.suppressed} retired or superseded left out")
    for column in ("score", "id", "kind", "content", "matched"):
        table.add_column(column)
    for r in found.results:
        ways = [("keyword", r.matched.keyword), ("semantic", r.matched.semantic)]
        matched = ", ".join(f"{name} #{part.rank}" for name, part in ways if part is not None)
        table.add_row(f"{r.score:.4f}", r.id, r.kind, r.content, matched)
    Console().print(table)


@click.group()
def playbooks() -> None:
    """Playbooks: procedures promoted from successful pathways, with their record.

    \b
    Examples:
      lakehouse playbooks promote --tenant acme --name "Worker restart" --trigger "a worker hangs" --source RUN_ID
      lakehouse playbooks search --tenant acme "a worker stopped taking jobs"
    """


@playbooks.command()
@scope_options
@click.option("--name", required=True, help="The playbook's name.")
@click.option("--trigger", required=True, help="When to use it.")
@click.option("--source", "sources", multiple=True, required=True, help="A successful pathway's id (repeat).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def promote(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    name: str,
    trigger: str,
    sources: tuple[str, ...],
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Promote successful pathways to a playbook (their live steps, in order).

    \b
    Example:
      lakehouse playbooks promote --tenant acme --name "Worker restart" --trigger "a worker hangs" --source RUN_ID
    """
    request = PromotePlaybook(
        scope=_scope(tenant, user_id, agent_id, run_id), name=name, trigger=trigger, sources=list(sources)
    )
    with open_lakehouse(config_path, data_dir) as lakehouse:
        made = lakehouse.playbooks.promote(request)
    _print_playbook(made, as_json)


@playbooks.command(name="show")
@scope_options
@click.argument("playbook_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def show_playbook(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    playbook_id: str,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """One playbook: its steps and record.

    \b
    Example:
      lakehouse playbooks show --tenant acme PLAYBOOK_ID
    """
    scope = _scope(tenant, user_id, agent_id, run_id)
    with open_lakehouse(config_path, data_dir) as lakehouse:
        found = lakehouse.playbooks.get(playbook_id, scope)
    _print_playbook(found, as_json)


@playbooks.command(name="use")
@scope_options
@click.argument("playbook_id")
@click.option("--outcome", type=click.Choice(["success", "failure"]), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def use(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    playbook_id: str,
    outcome: str,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Record a use of a playbook and how it went.

    \b
    Example:
      lakehouse playbooks use --tenant acme PLAYBOOK_ID --outcome success
    """
    request = RecordUse.checked({"scope": _scope(tenant, user_id, agent_id, run_id), "outcome": outcome})
    with open_lakehouse(config_path, data_dir) as lakehouse:
        found = lakehouse.playbooks.record_use(playbook_id, request)
    _print_playbook(found, as_json)


@playbooks.command(name="search")
@scope_options
@click.argument("task")
@click.option("-k", "k", type=int, default=5, show_default=True, help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@settings_options
def search_playbooks(
    tenant: str,
    user_id: str | None,
    agent_id: str | None,
    run_id: str | None,
    task: str,
    k: int,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """Playbooks for a task, ranked by similarity x confidence.

    \b
    Example:
      lakehouse playbooks search --tenant acme "a worker stopped taking jobs"
    """
    request = PlaybookSearch(scope=_scope(tenant, user_id, agent_id, run_id), task=task, k=k)
    with open_lakehouse(config_path, data_dir) as lakehouse:
        found = lakehouse.playbooks.search(request)
    if as_json:
        click.echo(_json(found))
        return
    table = Table(title=f"playbooks ({found.suppressed} retired or superseded left out)")
    for column in ("score", "similarity", "confidence", "uses", "id", "name", "trigger"):
        table.add_column(column)
    for r in found.results:
        uses = f"{r.uses.success}/{r.uses.success + r.uses.failure}"
        table.add_row(
            f"{r.score:.3f}",
            f"{r.similarity:.3f}",
            f"{r.confidence:.3f}",
            uses,
            r.id,
            r.name or "",
            r.trigger or "",
        )
    Console().print(table)


def _print_playbook(found: Playbook, as_json: bool) -> None:
    if as_json:
        click.echo(_json(found))
        return
    uses = found.uses
    click.echo(f"{found.id}  {found.name}  ({found.status}, v{found.version})")
    click.echo(f"  when: {found.trigger}")
    for number, step in enumerate(found.steps, start=1):
        click.echo(f"  {number}. {step.get('action') if isinstance(step, dict) else step}")
    click.echo(f"  record: {uses.success} successes, {uses.failure} failures; confidence {found.confidence:.3f}")
