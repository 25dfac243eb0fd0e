"""The HTML report: one page a person reads, opening from disk with no network.

Layout: the run's one-line summary; a verdict filter (plain CSS checkboxes, no script); the
verdict table with failures first (FAIL, DIVERGED, INCONCLUSIVE, NOT APPLICABLE, then PASS),
each row with its lhs/rhs ratio and full message; then one section per check in the same
order: the claim in words and in mathematics (LaTeX converted to MathML by
`verify.mathml`, rendered natively by the browser), the evidence table, the message, the
plots (embedded as PNG data URIs) and the grid tables, which scroll in their own box with the
rows that speak against the claim first.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from verify.mathml import to_mathml
from verify.plots import row_speaks_against
from verify.verdict import CheckResult, Verdict, fmt, json_safe

__all__ = ["SEVERITY", "html_body", "html_document", "result_section_html", "sort_by_severity"]

#: Order of verdicts in the report: what needs a reader's attention first.
SEVERITY = (
    Verdict.FAIL,
    Verdict.DIVERGED,
    Verdict.INCONCLUSIVE,
    Verdict.NOT_APPLICABLE,
    Verdict.PASS,
)

#: Grid rows shown in the HTML (all rows are in grids.json.gz / results.json).
HTML_ROW_LIMIT = 20

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top;font-size:0.92em}th{background:#f4f4f4}
.badge{padding:2px 8px;border-radius:4px;font-weight:bold;white-space:nowrap}
section{border-top:2px solid #ddd;margin-top:1.5em;padding-top:0.5em}
code,pre{background:#f6f6f6}pre{padding:0.5em;overflow-x:auto;font-size:0.85em}
img{max-width:100%}.claim{overflow-x:auto;padding:0.3em 0}
.scroll{max-height:26em;overflow:auto;border:1px solid #ddd;margin:0.5em 0}
.scroll table{margin:0}.scroll th{position:sticky;top:0}
.filter{margin:0.8em 0}.filter label{margin-right:1em;cursor:pointer}
.summary{font-size:1.05em;font-weight:bold}
"""


def _anchor(check_id: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in check_id.lower())


def _vclass(v: Verdict) -> str:
    return f"v-{v.value}"


def _badge(v: Verdict) -> str:
    return f'<span class="badge" style="background:{v.colour}">{v.value}</span>'


def sort_by_severity(results: list[CheckResult]) -> list[CheckResult]:
    """Results with the failures first (stable: the paper's order within a verdict); a
    check that raised comes first of all."""
    rank = {v: i for i, v in enumerate(SEVERITY)}
    return sorted(results, key=lambda r: (not r.error, rank[r.verdict]))


def _img_tag(path: str, plot_root: Path | str | None, embed: bool) -> str:
    p = Path(path)
    if not p.is_absolute() and plot_root is not None:
        p = Path(plot_root) / p
    if embed and p.exists():
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(p.name)}" src="data:image/png;base64,{data}">'
    if not p.is_absolute():  # beside the page: plots/<name>.png opens from disk
        return f'<img alt="{html.escape(p.name)}" src="{html.escape(p.as_posix())}">'
    return f'<p><a href="{html.escape(str(path))}">{html.escape(str(path))}</a></p>'


def _cell(v: Any) -> str:
    txt = fmt(v) if isinstance(v, (int, float)) or v is None else str(v)
    return html.escape(txt)


def grid_table_html(rows: list[dict[str, Any]], limit: int = HTML_ROW_LIMIT) -> str:
    """A grid table in its own scrolling box, rows that speak against the claim first and
    shaded."""
    if not rows:
        return ""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    n_fail = sum(row_speaks_against(r) for r in rows)
    rows = sorted(rows, key=lambda r: not row_speaks_against(r))  # stable
    note = (
        f"<p>{n_fail} of {len(rows)} rows speak against the claim (listed first, shaded).</p>"
        if n_fail
        else f"<p>{len(rows)} rows; none speaks against the claim.</p>"
    )
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for r in rows[:limit]:
        shade = ' style="background:#fde2e2"' if row_speaks_against(r) else ""
        cells = []
        for k in keys:
            v = r.get(k)
            style = ""
            if k == "verdict" and v in Verdict.__members__:
                style = f' style="background:{Verdict(v).colour}"'
            cells.append(f"<td{style}>{_cell(v)}</td>")
        body.append(f"<tr{shade}>" + "".join(cells) + "</tr>")
    more = f"<p>… {len(rows) - limit} more rows in grids.json.gz</p>" if len(rows) > limit else ""
    return f'{note}<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>{more}'


def _ratio_text(r: CheckResult) -> str:
    from verify.summary import lhs_rhs_ratio

    q = lhs_rhs_ratio(r)
    return "—" if q is None else f"{q:.3g}"


def result_section_html(
    r: CheckResult, embed_plots: bool = True, plot_root: Path | str | None = None
) -> str:
    """One check's HTML section: claim (words and MathML), verdict, evidence table,
    message, plots, grid tables, further details."""
    parts = [
        f'<section id="{_anchor(r.id)}" class="{_vclass(r.verdict)}"><h2>{html.escape(r.id)}: '
        f"{html.escape(r.result)} ({html.escape(r.level)}) {_badge(r.verdict)}</h2>",
        f"<p>{html.escape(r.claim)}</p>",
    ]
    if r.claim_latex:
        parts.append(f'<div class="claim">{to_mathml(r.claim_latex)}</div>')
    ev = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in r.evidence_rows()
    )
    ev += f"<tr><th>lhs / rhs</th><td>{_ratio_text(r)}</td></tr>"
    parts.append(f"<table>{ev}</table>")
    if r.message:
        parts.append(f"<p><b>Message.</b> {html.escape(r.message)}</p>")
    parts += [_img_tag(p, plot_root, embed_plots) for p in r.plots]
    d = {k: v for k, v in r.details.items() if k != "figures"}  # drawn above as plots
    for key, title in (
        ("grid", "Grid"),
        ("calibration_grid", "Calibration grid"),
        ("calibration", "Calibration points"),
        ("heldout", "Held-out points"),
        ("exponents", "Empirical exponents"),
    ):
        rows = d.get(key)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            d.pop(key)
            parts.append(f"<h3>{title}</h3>" + grid_table_html(rows))
    if "multiple_testing" in d:
        parts.append(
            f"<p><b>Multiple testing.</b> {html.escape(str(d.pop('multiple_testing')))}</p>"
        )
    if d:
        text = json.dumps(json_safe(d), indent=1)
        if len(text) > 2500:
            text = text[:2500] + "\n… (the rest is in results.json and grids.json.gz)"
        parts.append(f"<details><summary>details</summary><pre>{html.escape(text)}</pre></details>")
    if r.error:
        parts.append(
            f"<details open><summary>error</summary><pre>{html.escape(r.error)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _filter_css(present: list[Verdict]) -> str:
    rules = [
        f"#f-{v.value}:not(:checked)~.checks .{_vclass(v)},"
        f"#f-{v.value}:not(:checked)~table tr.{_vclass(v)}{{display:none}}"
        for v in present
    ]
    return "<style>" + "".join(rules) + "</style>"


def html_body(report: Any, plot_root: Path | str | None, embed: bool) -> str:
    """The report's HTML body (a `<div>`); `report` is a `verify.report.RunReport`."""
    from verify.summary import reason, summary_line

    meta = report.metadata
    ordered = sort_by_severity(list(report.results))
    present = [v for v in SEVERITY if any(r.verdict is v for r in ordered)]
    boxes = "".join(
        f'<input type="checkbox" id="f-{v.value}" checked>'
        f'<label for="f-{v.value}">{_badge(v)} '
        f"{sum(r.verdict is v for r in ordered)}</label>"
        for v in present
    )
    rows = "".join(
        f'<tr class="{_vclass(r.verdict)}"><td><a href="#{_anchor(r.id)}">{html.escape(r.id)}</a>'
        f"</td><td>{html.escape(r.result)}</td><td>{html.escape(r.level)}</td>"
        f'<td style="background:{r.verdict.colour}"><b>{r.verdict.value}</b></td>'
        f"<td>{html.escape(r.method)}</td><td>{html.escape(fmt(r.estimate))}</td>"
        f"<td>{html.escape(fmt(r.rhs))}</td><td>{_ratio_text(r)}</td>"
        f"<td>{html.escape(r.message or reason(r))}</td></tr>"
        for r in ordered
    )
    errors = "".join(
        f"<p><b>Check module {html.escape(n)} failed to import.</b></p><pre>{html.escape(tb)}</pre>"
        for n, tb in report.load_errors.items()
    )
    return (
        f"<div><h1>sdde-verify report {html.escape(str(meta.get('name', '')))}</h1>"
        f'<p class="summary">{html.escape(summary_line(report.results))}</p>'
        f"<p>Profile <code>{html.escape(str(meta.get('profile')))}</code>, seed "
        f"<code>{html.escape(str(meta.get('seed')))}</code>, "
        f"alpha {html.escape(str(meta.get('alpha')))}, "
        f"executor {html.escape(str(meta.get('executor')))}, started "
        f"{html.escape(str(meta.get('started')))}.</p>"
        f"<p>Command: <code>{html.escape(str(meta.get('command', '')))}</code></p>"
        + _LEGEND
        + _filter_css(present)
        + f'<div class="filter">Show: {boxes}'
        + "<table><tr><th>id</th><th>result</th><th>level</th><th>verdict</th><th>method</th>"
        "<th>estimate</th><th>rhs</th><th>lhs/rhs</th><th>message</th></tr>"
        f"{rows}</table>{errors}"
        + '<div class="checks">'
        + "".join(result_section_html(r, embed, plot_root) for r in ordered)
        + "</div></div>"
        + "<section><h2>Run metadata</h2><details><summary>versions, machine, settings"
        + f"</summary><pre>{html.escape(json.dumps(json_safe(meta), indent=1))}</pre>"
        + "</details></section></div>"
    )


_LEGEND = (
    "<p><small><b>Verdicts</b> (SPEC §5): "
    + " ".join(
        f"{_badge(v)} {html.escape(text)}"
        for v, text in (
            (Verdict.PASS, "one-sided upper confidence bound of the LHS ≤ RHS;"),
            (Verdict.FAIL, "lower confidence bound > RHS;"),
            (Verdict.INCONCLUSIVE, "neither at this budget;"),
            (Verdict.NOT_APPLICABLE, "a hypothesis fails (named), nothing was run;"),
            (Verdict.DIVERGED, "the simulation blew up (where is stated)."),
        )
    )
    + " Grids: Holm step-down for FAIL, intersection–union for PASS. Failures are listed"
    " first; untick a verdict to hide it.</small></p>"
)


def html_document(report: Any, plot_root: Path | str | None, preamble_html: str = "") -> str:
    """The complete page (maths as MathML, no scripts, nothing from the network). With
    `plot_root`, plots are embedded as data URIs; with `None` (the published report.html,
    to keep the folder small) they are ``<img src="plots/…">`` beside the page."""
    title = html.escape(f"sdde-verify {report.metadata.get('name', '')}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n{preamble_html}"
        f"{html_body(report, plot_root, embed=plot_root is not None)}\n</body></html>\n"
    )
