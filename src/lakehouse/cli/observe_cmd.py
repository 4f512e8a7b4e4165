"""``lakehouse traces`` (list, show) and ``lakehouse observe`` (expire, reprice): recorded agent runs from the
command line, in-process over the data dir the settings name. Tables and trees for people, ``--json`` for
machines."""

from __future__ import annotations

from datetime import UTC

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from lakehouse.cli._common import open_lakehouse, settings_options
from lakehouse.observe import SpanNode, Trace, TraceQuery
from lakehouse.observe.model import Status
from lakehouse.tables.maintenance import parse_duration


@click.group()
def traces() -> None:
    """Recorded agent runs: traces of spans, with tokens, cost and scores."""


def _money(value: float) -> str:
    return f"${value:.4f}" if value else "-"


@traces.command("list")
@click.option("--session", "session_id", help="Only traces of this session.")
@click.option("--user", "user_id", help="Only traces of this user.")
@click.option("--agent", "agent_name", help="Only traces of this agent.")
@click.option("--model", help="Only traces with a span of this model.")
@click.option("--status", type=click.Choice(Status.__args__), help="Only traces with this status.")  # type: ignore[attr-defined]
@click.option("--min-cost", type=float, help="Only traces that cost at least this (US dollars).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@settings_options
def list_cmd(
    session_id: str | None,
    user_id: str | None,
    agent_name: str | None,
    model: str | None,
    status: str | None,
    min_cost: float | None,
    limit: int,
    as_json: bool,
    config_path: str | None,
    data_dir: str | None,
) -> None:
    """The newest traces first.

    \b
    Example:
      lakehouse traces list --session trip-7 --limit 5
    """
    query = TraceQuery.checked(
        {
            "session_id": session_id,
            "user_id": user_id,
            "agent_name": agent_name,
            "model": model,
            "status": status,
            "min_cost": min_cost,
            "limit": limit,
        }
    )
    with open_lakehouse(config_path, data_dir) as lakehouse:
        page = lakehouse.observe.traces(query)
    if as_json:
        click.echo(page.model_dump_json(indent=2))
        return
    # the ids, times and figures are never wrapped (an id is what `traces show` takes); the name gives way first
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("trace", no_wrap=True, min_width=32)
    table.add_column("name", overflow="ellipsis", no_wrap=True, ratio=1, min_width=4)
    table.add_column("started (UTC)", no_wrap=True)
    for title in ("ms", "spans", "tokens in/out", "cost"):
        table.add_column(title, no_wrap=True, justify="right")
    table.add_column("status", no_wrap=True)
    for t in page.items:
        table.add_row(
            t.trace_id,
            t.name or "",
            t.start_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"{t.duration_ms:.0f}",
            str(t.totals.spans),
            f"{t.totals.input_tokens}/{t.totals.output_tokens}",
            _money(t.totals.cost),
            t.status,
        )
    Console().print(table)


def _label(node: SpanNode) -> str:
    parts = [f"[bold]{node.name}[/bold]", f"[dim]{node.kind}[/dim]", f"{node.duration_ms:.0f} ms"]
    if node.model:
        parts.append(node.model)
    if node.input_tokens is not None or node.output_tokens is not None:
        parts.append(f"{node.input_tokens or 0}/{node.output_tokens or 0} tokens")
    if node.totals.cost:
        parts.append(_money(node.totals.cost))
    if node.status == "error":
        parts.append(f"[red]error{': ' + node.status_message if node.status_message else ''}[/red]")
    return "  ".join(parts)


def _grow(tree: Tree, node: SpanNode) -> None:
    branch = tree.add(_label(node))
    for child in node.children:
        _grow(branch, child)


def render(trace: Trace) -> Tree:
    """The trace as a rich tree: each span's kind, duration, model, tokens and cost (its subtree's)."""
    head = (
        f"trace {trace.trace_id}  {trace.duration_ms:.0f} ms  {trace.totals.spans} spans  "
        f"{trace.totals.input_tokens}/{trace.totals.output_tokens} tokens  {_money(trace.totals.cost)}  {trace.status}"
    )
    tree = Tree(head)
    for root in trace.spans:
        _grow(tree, root)
    for score in trace.scores:
        tree.add(f"[cyan]score[/cyan] {score.name} = {score.value} ({score.source})")
    return tree


@traces.command("show")
@click.argument("trace_id")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a tree.")
@settings_options
def show_cmd(trace_id: str, as_json: bool, config_path: str | None, data_dir: str | None) -> None:
    """One trace as a tree of spans, with durations, tokens and cost rolled up, and its scores.

    \b
    Example:
      lakehouse traces show 4bf92f3577b34da6a3ce929d0e0e4736
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        trace = lakehouse.observe.trace(trace_id.lower())
    if as_json:
        click.echo(trace.model_dump_json(indent=2))
        return
    Console().print(render(trace))


@click.group()
def observe() -> None:
    """Maintain recorded observations: retention and prices."""


@observe.command("expire")
@click.option("--older-than", required=True, help="30s, 15m, 12h, 7d, 2w: traces that ended longer ago go.")
@settings_options
def expire_cmd(older_than: str, config_path: str | None, data_dir: str | None) -> None:
    """Delete traces that ended longer ago than a duration, with their scores, from the tables, time travel and
    disk (every lake snapshot from before is expired).

    \b
    Example:
      lakehouse observe expire --older-than 30d
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        expired = lakehouse.observe.expire(parse_duration(older_than))
    click.echo(expired.model_dump_json(indent=2))


@observe.command("reprice")
@settings_options
def reprice_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Apply the price table (observe.prices) again to the spans it priced (one commit); spans that reported their
    own cost keep it.

    \b
    Example:
      lakehouse observe reprice
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        priced = lakehouse.observe.reprice()
    click.echo(f'{{"priced": {priced}}}')


@observe.command("reindex")
@settings_options
def reindex_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Make the trace index (the operational DB's list of traces with their time ranges and totals) anew from the
    lake's spans: after a process stopped between a span commit and its index update.

    \b
    Example:
      lakehouse observe reindex
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        count = lakehouse.observe.reindex()
    click.echo(f'{{"traces": {count}}}')


@observe.command("compact")
@settings_options
def compact_cmd(config_path: str | None, data_dir: str | None) -> None:
    """Merge the small Parquet files of observe.spans and observe.scores (a server does it by itself after
    `observe.compact_after` span commits). The files merged away stay for time travel until their snapshots
    expire.

    \b
    Example:
      lakehouse observe compact
    """
    with open_lakehouse(config_path, data_dir) as lakehouse:
        merged = lakehouse.observe.compact()
    click.echo(f'{{"files_merged": {merged}}}')
