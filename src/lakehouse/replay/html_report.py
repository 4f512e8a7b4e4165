"""A parity report as one self-contained HTML page (no script, no external file): a table per endpoint of the
fields that differed, the reported ones first, with the first differing values."""

from __future__ import annotations

import html
import json
from itertools import groupby

from lakehouse.replay.compare import ParityReport

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: left; }
th { background: #f4f4f4; } .differs { background: #fde2e2; } .noise { color: #777; }
code { font: 12px ui-monospace, monospace; word-break: break-all; }
"""


def _value(value: object) -> str:
    return f"<code>{html.escape(json.dumps(value, ensure_ascii=False)[:200])}</code>"


def render_html(report: ParityReport, title: str = "Lakehouse parity report") -> str:
    verdict = "no difference beyond noise" if report.ok else f"{report.differences} field(s) differ beyond noise"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{report.cases} cases on {len(report.endpoints)} endpoints: <strong>{html.escape(verdict)}</strong>. "
        f"Thresholds: relative {report.thresholds.relative}%, absolute {report.thresholds.absolute}%.</p>",
    ]
    if report.unmatched:
        shown = ", ".join(html.escape(c) for c in report.unmatched[:50])
        parts.append(f"<p>{len(report.unmatched)} case(s) in one recording only: {shown}</p>")
    fields = sorted(report.fields, key=lambda f: (f.endpoint, not f.reported, f.field))
    for endpoint, group in groupby(fields, key=lambda f: f.endpoint):
        parts.append(f"<h2>{html.escape(endpoint)} ({report.endpoints.get(endpoint, 0)} cases)</h2>")
        parts.append(
            "<table><tr><th>field</th><th>raw</th><th>noise</th><th>relative</th><th>absolute</th>"
            "<th>verdict</th><th>primary</th><th>candidate</th><th>case</th></tr>"
        )
        for f in group:
            css = "differs" if f.reported else "noise"
            parts.append(
                f"<tr class='{css}'><td><code>{html.escape(f.field)}</code></td><td>{f.raw}</td><td>{f.noise}</td>"
                f"<td>{f.relative:.1f}%</td><td>{f.absolute:.3f}%</td>"
                f"<td>{'DIFFERS' if f.reported else 'noise'}</td><td>{_value(f.primary)}</td>"
                f"<td>{_value(f.candidate)}</td><td>{html.escape(f.case or '')}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
