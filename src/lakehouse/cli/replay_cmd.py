"""``lakehouse diff``: two recordings of the same cases compared field by field, thin over ``lakehouse.replay``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from lakehouse.errors import ConfigError
from lakehouse.replay import Matcher, ParityReport, Thresholds, compare, read_cases

_MATCHERS = TypeAdapter(list[Matcher])


def _matchers(path: str | None) -> list[Matcher]:
    if path is None:
        return []
    try:
        return _MATCHERS.validate_json(Path(path).read_bytes())
    except (ValidationError, ValueError) as exc:
        raise ConfigError(f"{path}: not a list of matchers ({exc})", field="rules") from exc


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def print_report(report: ParityReport) -> None:
    """The fields that differed, per endpoint: what is reported, and what was taken for noise."""
    table = Table(title=f"{report.cases} cases, {report.differences} field(s) differ beyond noise")
    for column in ("endpoint", "field", "raw", "noise", "cases", "verdict", "primary -> candidate (case)"):
        table.add_column(column)
    for f in report.fields:
        verdict = "[red]DIFFERS[/]" if f.reported else "noise"
        example = f"{_shown(f.primary)} -> {_shown(f.candidate)} ({f.case})" if f.case else ""
        table.add_row(f.endpoint, f.field, str(f.raw), str(f.noise), str(f.cases), verdict, example)
    Console().print(table)
    if report.unmatched:
        click.echo(f"{len(report.unmatched)} case(s) in one recording only: {', '.join(report.unmatched[:10])}")


@click.command()
@click.argument("primary", type=click.Path(exists=True, dir_okay=False))
@click.argument("candidate", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--secondary",
    type=click.Path(exists=True, dir_okay=False),
    help="The primary's version recorded again: its differences are noise.",
)
@click.option(
    "--rules",
    type=click.Path(exists=True, dir_okay=False),
    help='Matchers, a JSON list: [{"path": "body.id", "kind": "ignore"}, ...].',
)
@click.option(
    "--header", "headers", multiple=True, help="A response header to compare besides Content-Type (repeatable)."
)
@click.option(
    "--relative", type=float, default=20.0, show_default=True, help="Percent of a field's differences beyond noise."
)
@click.option(
    "--absolute", type=float, default=0.03, show_default=True, help="Percent of an endpoint's cases beyond noise."
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the report as JSON here.")
def diff(
    primary: str,
    candidate: str,
    secondary: str | None,
    rules: str | None,
    headers: tuple[str, ...],
    relative: float,
    absolute: float,
    json_out: str | None,
) -> None:
    """Compare two recordings of the same cases (case files with answers), field by field.

    Status, content type and problem kinds are always compared, problem reasons never. With --secondary, a field
    is reported only when it differs beyond the noise between PRIMARY and SECONDARY (Diffy's rule). Exits 1 when
    a field is reported or a case is in one recording only.

    \b
    Examples:
      lakehouse diff before.ndjson after.ndjson
      lakehouse diff primary.ndjson candidate.ndjson --secondary primary-again.ndjson --json report.json
    """
    report = compare(
        read_cases(primary),
        read_cases(candidate),
        read_cases(secondary) if secondary else None,
        matchers=_matchers(rules),
        headers=headers,
        thresholds=Thresholds(relative=relative, absolute=absolute),
    )
    print_report(report)
    if json_out:
        Path(json_out).write_text(report.model_dump_json(indent=2))
    if not report.ok:
        sys.exit(1)
