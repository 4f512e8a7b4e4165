"""``lakehouse replay``, ``lakehouse diff`` and ``lakehouse parity``: case files sent to deployments and their
answers compared field by field, thin over ``lakehouse.replay``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import click
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from lakehouse.cli._common import open_lakehouse, settings_options
from lakehouse.errors import ConfigError
from lakehouse.replay import Matcher, ParityReport, Thresholds, compare, read_cases, replay, write_cases
from lakehouse.replay import templatize as make_replayable
from lakehouse.replay.cases import read_case_files
from lakehouse.replay.har import from_har, to_har
from lakehouse.replay.html_report import render_html

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
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Also write it as one HTML page here.")
def diff(
    primary: str,
    candidate: str,
    secondary: str | None,
    rules: str | None,
    headers: tuple[str, ...],
    relative: float,
    absolute: float,
    json_out: str | None,
    html_out: str | None,
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
    _finish(report, json_out, html_out)


def _finish(report: ParityReport, json_out: str | None, html_out: str | None) -> None:
    print_report(report)
    if json_out:
        Path(json_out).write_text(report.model_dump_json(indent=2))
    if html_out:
        Path(html_out).write_text(render_html(report))
    if not report.ok:
        sys.exit(1)


@click.command("replay")
@click.argument("cases", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--target", required=True, help="The deployment to send the cases to (its base URL).")
@click.option("--api-key", default=None, envvar="LAKEHOUSE_API_KEY", help="Sent as the bearer key of every case.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="The recording to write.")
@click.option("--rate", type=float, default=None, help="At most this many cases a second.")
@click.option("--timing", type=click.Choice(["none", "original"]), default="none", help="original: spaced as recorded.")
@click.option("--concurrency", type=int, default=1, show_default=True, help="Cases at once (only without captures).")
def replay_cmd(
    cases: tuple[str, ...],
    target: str,
    api_key: str | None,
    out_path: str,
    rate: float | None,
    timing: Literal["none", "original"],
    concurrency: int,
) -> None:
    """Send the cases of CASES (files, or directories of *.ndjson files) to a deployment in order, and write each
    with its answer.

    Values a case captures from its answer (`"capture": {"memory": "body.id"}`) fill the {{memory}} placeholders
    of later cases, from this target's answers.

    \b
    Example:
      lakehouse replay parity/05-memory.ndjson --target http://127.0.0.1:3100 --out answers.ndjson
    """
    sent = replay(read_case_files(cases), target, api_key=api_key, rate=rate, timing=timing, concurrency=concurrency)
    count = write_cases(out_path, sent)
    click.echo(f"{count} cases sent to {target}; answers in {out_path}")


@click.command()
@click.argument("cases", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--primary", required=True, help="The deployment taken as right (base URL).")
@click.option("--candidate", required=True, help="The deployment under test (base URL).")
@click.option(
    "--secondary", default=None, help="A second deployment of the primary's version: its differences are noise."
)
@click.option("--api-key", default=None, envvar="LAKEHOUSE_API_KEY", help="Sent as the bearer key to every target.")
@click.option(
    "--primary-key", default=None, envvar="LAKEHOUSE_PRIMARY_KEY", help="The primary's key, if not --api-key."
)
@click.option(
    "--secondary-key", default=None, envvar="LAKEHOUSE_SECONDARY_KEY", help="The secondary's key, if not --api-key."
)
@click.option(
    "--candidate-key", default=None, envvar="LAKEHOUSE_CANDIDATE_KEY", help="The candidate's key, if not --api-key."
)
@click.option(
    "--rules", type=click.Path(exists=True, dir_okay=False), help="Matchers, a JSON list (see lakehouse diff)."
)
@click.option(
    "--header", "headers", multiple=True, help="A response header to compare besides Content-Type (repeatable)."
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the report as JSON here.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), help="Also write it as one HTML page here.")
def parity(
    cases: tuple[str, ...],
    primary: str,
    candidate: str,
    secondary: str | None,
    api_key: str | None,
    primary_key: str | None,
    secondary_key: str | None,
    candidate_key: str | None,
    rules: str | None,
    headers: tuple[str, ...],
    json_out: str | None,
    html_out: str | None,
) -> None:
    """Send CASES (files, or directories of *.ndjson files) to a primary, a candidate and optionally a secondary,
    and report where the candidate differs.

    Each target gets the cases in order with its own captured values, and its own key when deployments do not
    share one (--primary-key, --secondary-key, --candidate-key; else --api-key). Exits 1 on a difference beyond
    noise.

    \b
    Example:
      lakehouse parity parity/ --rules parity/rules.json --primary http://a:3100 --candidate http://b:3100
    """
    exchanges = list(read_case_files(cases))
    targets = (
        ("primary", primary, primary_key),
        ("secondary", secondary, secondary_key),
        ("candidate", candidate, candidate_key),
    )
    answers = {name: list(replay(exchanges, url, api_key=key or api_key)) for name, url, key in targets if url}
    for name, sent in answers.items():
        for exchange in sent:
            if exchange.error:
                click.echo(f"{name}: case {exchange.id} has no answer: {exchange.error}", err=True)
    report = compare(
        answers["primary"],
        answers["candidate"],
        answers.get("secondary"),
        matchers=_matchers(rules),
        headers=headers,
    )
    _finish(report, json_out, html_out)


@click.group()
def cases() -> None:
    """Case files to and from HAR (the HTTP Archive browsers and proxies export)."""


@cases.command("from-har")
@click.argument("har", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="The case file to write.")
def cases_from_har(har: str, out_path: str) -> None:
    """Write the entries of a HAR file as a case file (each with its answer, when it has one).

    \b
    Example:
      lakehouse cases from-har session.har --out cases.ndjson
    """
    count = write_cases(out_path, from_har(Path(har).read_bytes()))
    click.echo(f"{count} cases written to {out_path}")


@cases.command("to-har")
@click.argument("cases_path", metavar="CASES", type=click.Path(exists=True, dir_okay=False))
@click.option("--base-url", default="http://127.0.0.1:3100", show_default=True, help="The origin of every entry's URL.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="The HAR file to write.")
def cases_to_har(cases_path: str, base_url: str, out_path: str) -> None:
    """Write a case file (with its answers) as a HAR 1.2 file for browser and proxy tooling.

    \b
    Example:
      lakehouse cases to-har answers.ndjson --out answers.har
    """
    exchanges = list(read_cases(cases_path))
    Path(out_path).write_bytes(to_har(exchanges, base_url))
    click.echo(f"{len(exchanges)} entries written to {out_path}")


@click.group()
def record() -> None:
    """Recorded traffic (`[record] enabled`): the lake table replay.exchanges as case files."""


@record.command("export")
@settings_options
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None, help="From this UTC time."
)
@click.option(
    "--route", default=None, help="Only paths matching this glob (`*`: any characters), e.g. '/v1/memories*'."
)
@click.option("--status", type=int, default=None, help="Only exchanges answered with this status.")
@click.option("--limit", type=int, default=None, help="At most this many, the oldest first.")
@click.option(
    "--templatize/--literal", default=True, show_default=True, help="Turn ids answers gave into {{captures}}."
)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), required=True, help="The case file to write.")
def record_export(
    config_path: str | None,
    data_dir: str | None,
    since: datetime | None,
    route: str | None,
    status: int | None,
    limit: int | None,
    templatize: bool,
    out_path: str,
) -> None:
    """Write recorded exchanges as a case file, ready for `lakehouse replay` and `lakehouse parity`. Bodies that
    were stored as blobs (larger than record.max_body_bytes) are read back inline.

    \b
    Example:
      lakehouse record export --since 2026-12-07 --route '/v1/memories*' --out cases.ndjson
    """
    lakehouse = open_lakehouse(config_path, data_dir)
    try:
        found = lakehouse.recordings.export(
            since=since.replace(tzinfo=UTC) if since else None, route=route, status=status, limit=limit, inline=True
        )
    finally:
        lakehouse.close()
    count = write_cases(out_path, make_replayable(found) if templatize else found)
    click.echo(f"{count} recorded exchange(s) written to {out_path}")
