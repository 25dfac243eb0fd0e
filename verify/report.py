"""Run reports: `reports/<run-name>/` with report.md, report.html, results.json, junit.xml, plots.

Atomicity: everything is written into a staging folder beside the target
(`reports/.staging-<run-name>-<random>/`) — the checks' plots go there too — and only when the
whole report is complete is the folder renamed to `reports/<run-name>` (`os.rename`, atomic
on one file system). `reports/latest` is then replaced by `os.replace` of a freshly made
temporary symlink, so it always points at a complete report. An interrupted run (Ctrl-C or an
exception at any point before the rename) removes its staging folder and leaves earlier
reports and `latest` untouched.

`results.json` layout (`SCHEMA_VERSION`): ``{"schema_version", "run": {run metadata: name,
seed, profile, alpha, command, executor, started/finished, versions, machine}, "summary":
{verdict: count}, "results": [CheckResult.to_dict(), …]}``. `TIMING_FIELDS` lists the fields
that depend on when, where and how the run was executed rather than on its numbers;
`strip_timing` removes them, and the rest is byte-identical across executors and worker counts.

JUnit mapping: PASS → passed; FAIL → `<failure>`; DIVERGED or a check that raised →
`<error>`; INCONCLUSIVE → `<skipped>`; NOT_APPLICABLE → `<skipped>` with the failed hypothesis.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import platform
import shutil
import sys
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from theory.errors import InputError
from verify.figures import draw_figures
from verify.verdict import CheckResult, Verdict, fmt, json_safe

__all__ = [
    "SCHEMA_VERSION",
    "TIMING_FIELDS",
    "ReportInputError",
    "ReportWriter",
    "RunReport",
    "result_section_html",
    "run_metadata",
    "strip_timing",
    "verdict_table_text",
]

SCHEMA_VERSION = "1.0"
_VERSION_PACKAGES = ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "tqdm")


class ReportInputError(InputError):
    """Bad report settings (run name, output folder)."""


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_metadata(**fields: Any) -> dict[str, Any]:
    """Run metadata: the given fields plus package versions, machine and start time (UTC)."""
    import importlib.metadata as md

    versions: dict[str, str] = {"python": sys.version.split()[0]}
    for name in ("sdde-verify", *_VERSION_PACKAGES):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            mod = sys.modules.get(name)
            versions[name] = getattr(mod, "__version__", "not installed")
    machine = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "node": platform.node(),
    }
    return {"started": _utc_now(), **fields, "versions": versions, "machine": machine}


@dataclass
class RunReport:
    """The results of a run, its metadata, and (once written) the report folder."""

    results: list[CheckResult]
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    load_errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        c = Counter(r.verdict.value for r in self.results)
        return {v.value: c.get(v.value, 0) for v in Verdict}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run": json_safe(self.metadata),
            "summary": self.summary(),
            "load_errors": self.load_errors,
            "results": [r.to_dict() for r in self.results],
        }

    def __str__(self) -> str:
        return verdict_table_text(self.results)

    def _repr_html_(self) -> str:
        return _html_body(self, plot_root=self.path, embed=True)

    def __getitem__(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.id == check_id:
                return r
        raise KeyError(check_id)


# ----------------------------------------------------------------------------- text
def verdict_table_text(results: Sequence[CheckResult]) -> str:
    """A plain-text verdict table for the terminal."""
    rows = [("id", "result", "level", "verdict", "method", "estimate", "rhs", "time")]
    for r in results:
        rows.append(
            (
                r.id,
                r.result,
                r.level,
                r.verdict.value,
                r.method,
                fmt(r.estimate),
                fmt(r.rhs),
                f"{r.runtime_s:.1f}s",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _markdown(report: RunReport) -> str:
    meta = report.metadata
    out = [
        f"# sdde-verify report — {meta.get('name', '')}",
        "",
        f"Profile `{meta.get('profile')}`, seed `{meta.get('seed')}`, alpha `{meta.get('alpha')}`, "
        f"executor `{meta.get('executor')}`, started {meta.get('started')}, "
        f"finished {meta.get('finished')}.",
        f"Command: `{meta.get('command', '')}`",
        "",
        "| id | result | level | verdict | method | estimate | rhs | bound kind |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report.results:
        out.append(
            f"| [{r.id}](#{_anchor(r.id)}) | {r.result} | {r.level} | **{r.verdict.value}** | "
            f"{r.method} | {fmt(r.estimate)} | {fmt(r.rhs)} | {r.bound_kind or '—'} |"
        )
    for name, tb in report.load_errors.items():
        out += ["", f"**Check module `{name}` failed to import:**", "", "```", tb.strip(), "```"]
    for r in report.results:
        out += [
            "",
            f'<a id="{_anchor(r.id)}"></a>',
            "",
            f"## {r.id}: {r.result} ({r.level}) — {r.verdict.value}",
            "",
            r.claim,
        ]
        if r.claim_latex:
            out += ["", f"$${r.claim_latex}$$"]
        out += ["", "| | |", "|---|---|"]
        out += [f"| {k} | {v.replace('|', '/')} |" for k, v in r.evidence_rows()]
        for p in r.plots:
            out += ["", f"![{r.id}]({p})"]
        if r.message:
            out += ["", r.message]
        for key, title in (("grid", "Grid"), ("exponents", "Empirical exponents")):
            rows = r.details.get(key)
            if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                out += ["", f"**{title}**", "", *_md_table(rows)]
        if "multiple_testing" in r.details:
            out += ["", f"Multiple testing: {r.details['multiple_testing']}"]
        if r.error:
            out += ["", "```", r.error.strip(), "```"]
    return "\n".join(out) + "\n"


def _row_fails(row: dict[str, Any]) -> bool:
    """A grid row that speaks against the claim (shown first, so a truncated table keeps it)."""
    return (
        str(row.get("verdict", "")).upper() in ("FAIL", "DIVERGED")
        or row.get("holds") is False
        or row.get("holm_reject") is True
    )


def _md_table(rows: list[dict[str, Any]], limit: int = 40) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    n_fail = sum(_row_fails(r) for r in rows)
    rows = sorted(rows, key=lambda r: not _row_fails(r))  # stable: failing rows first
    lines = []
    if n_fail:
        lines = [f"{n_fail} of {len(rows)} rows speak against the claim (listed first).", ""]
    lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows[:limit]:
        cells = [fmt(row.get(k)) if not isinstance(row.get(k), str) else row[k] for k in keys]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if len(rows) > limit:
        lines.append(f"… {len(rows) - limit} more rows in results.json")
    return lines


# ----------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:left;vertical-align:top;font-size:0.92em}th{background:#f4f4f4}
.badge{padding:2px 8px;border-radius:4px;font-weight:bold}
section{border-top:2px solid #ddd;margin-top:1.5em;padding-top:0.5em}
code,pre{background:#f6f6f6}pre{padding:0.5em;overflow-x:auto;font-size:0.85em}
img{max-width:100%}
"""


def _anchor(check_id: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in check_id.lower())


def _badge(v: Verdict) -> str:
    return f'<span class="badge" style="background:{v.colour}">{v.value}</span>'


def _img_tag(path: str, plot_root: Path | str | None, embed: bool) -> str:
    p = Path(path)
    if not p.is_absolute() and plot_root is not None:
        p = Path(plot_root) / p
    if embed and p.exists():
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(p.name)}" src="data:image/png;base64,{data}">'
    return f'<p><a href="{html.escape(str(path))}">{html.escape(str(path))}</a></p>'


def _table(rows: list[dict[str, Any]], limit: int = 200) -> str:
    if not rows:
        return ""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    n_fail = sum(_row_fails(r) for r in rows)
    rows = sorted(rows, key=lambda r: not _row_fails(r))  # stable: failing rows first
    note = (
        f"<p>{n_fail} of {len(rows)} rows speak against the claim (listed first, shaded).</p>"
        if n_fail
        else ""
    )
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = []
    for r in rows[:limit]:
        shade = ' style="background:#fde2e2"' if _row_fails(r) else ""
        cells = []
        for k in keys:
            v = r.get(k)
            txt = fmt(v) if isinstance(v, (int, float)) or v is None else str(v)
            style = ""
            if k == "verdict" and v in Verdict.__members__:
                style = f' style="background:{Verdict(v).colour}"'
            cells.append(f"<td{style}>{html.escape(txt)}</td>")
        body.append(f"<tr{shade}>" + "".join(cells) + "</tr>")
    more = f"<p>… {len(rows) - limit} more rows in results.json</p>" if len(rows) > limit else ""
    return f"{note}<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def result_section_html(
    r: CheckResult, embed_plots: bool = True, plot_root: Path | str | None = None
) -> str:
    """One check's HTML section: claim, verdict, evidence table, plots, message, details."""
    parts = [
        f'<section id="{_anchor(r.id)}"><h2>{html.escape(r.id)}: {html.escape(r.result)} '
        f"({html.escape(r.level)}) {_badge(r.verdict)}</h2>",
        f"<p>{html.escape(r.claim)}</p>",
    ]
    if r.claim_latex:
        parts.append(f"<p><code>${html.escape(r.claim_latex)}$</code></p>")
    ev = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in r.evidence_rows()
    )
    parts.append(f"<table>{ev}</table>")
    if r.message:
        parts.append(f"<p><b>Message.</b> {html.escape(r.message)}</p>")
    parts += [_img_tag(p, plot_root, embed_plots) for p in r.plots]
    d = dict(r.details)
    for key, title in (
        ("grid", "Grid"),
        ("calibration_grid", "Calibration grid"),
        ("exponents", "Empirical exponents"),
    ):
        rows = d.pop(key, None)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            parts.append(f"<h3>{title}</h3>" + _table(rows))
    if "multiple_testing" in d:
        parts.append(
            f"<p><b>Multiple testing.</b> {html.escape(str(d.pop('multiple_testing')))}</p>"
        )
    if d:
        text = json.dumps(json_safe(d), indent=1)[:20000]
        parts.append(f"<details><summary>details</summary><pre>{html.escape(text)}</pre></details>")
    if r.error:
        parts.append(
            f"<details open><summary>error</summary><pre>{html.escape(r.error)}</pre></details>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _html_body(report: RunReport, plot_root: Path | str | None, embed: bool) -> str:
    meta = report.metadata
    summary = ", ".join(f"{k}: {v}" for k, v in report.summary().items() if v)
    rows = "".join(
        f'<tr><td><a href="#{_anchor(r.id)}">{html.escape(r.id)}</a></td>'
        f"<td>{html.escape(r.result)}</td><td>{html.escape(r.level)}</td>"
        f'<td style="background:{r.verdict.colour}"><b>{r.verdict.value}</b></td>'
        f"<td>{html.escape(r.method)}</td><td>{html.escape(fmt(r.estimate))}</td>"
        f"<td>{html.escape(fmt(r.rhs))}</td><td>{html.escape(r.message[:160])}</td></tr>"
        for r in report.results
    )
    errors = "".join(
        f"<p><b>Check module {html.escape(n)} failed to import.</b></p><pre>{html.escape(tb)}</pre>"
        for n, tb in report.load_errors.items()
    )
    return (
        f"<div><h1>sdde-verify report {html.escape(str(meta.get('name', '')))}</h1>"
        f"<p>Profile <code>{html.escape(str(meta.get('profile')))}</code>, seed "
        f"<code>{html.escape(str(meta.get('seed')))}</code>, "
        f"alpha {html.escape(str(meta.get('alpha')))}, "
        f"executor {html.escape(str(meta.get('executor')))}, started "
        f"{html.escape(str(meta.get('started')))}. {html.escape(summary)}.</p>"
        f"<p>Command: <code>{html.escape(str(meta.get('command', '')))}</code></p>"
        "<table><tr><th>id</th><th>result</th><th>level</th><th>verdict</th><th>method</th>"
        f"<th>estimate</th><th>rhs</th><th>message</th></tr>{rows}</table>{errors}"
        + _LEGEND
        + "".join(result_section_html(r, embed, plot_root) for r in report.results)
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
    + " Grids: Holm step-down for FAIL, intersection–union for PASS.</small></p>"
)


def _html_document(report: RunReport, plot_root: Path) -> str:
    title = html.escape(f"sdde-verify {report.metadata.get('name', '')}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n{_html_body(report, plot_root, embed=True)}\n"
        "</body></html>\n"
    )


# ----------------------------------------------------------------------------- JUnit
def _junit(report: RunReport) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="sdde-verify",
        tests=str(len(report.results)),
        failures=str(sum(r.verdict is Verdict.FAIL for r in report.results)),
        errors=str(sum(r.verdict is Verdict.DIVERGED or bool(r.error) for r in report.results)),
        skipped=str(
            sum(
                r.verdict in (Verdict.INCONCLUSIVE, Verdict.NOT_APPLICABLE) and not r.error
                for r in report.results
            )
        ),
        time=f"{sum(r.runtime_s for r in report.results):.3f}",
    )
    for r in report.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{r.result} ({r.level})",
            name=r.id,
            time=f"{r.runtime_s:.3f}",
        )
        text = str(r)
        if r.error:
            ET.SubElement(case, "error", message=r.message, type="CheckRaised").text = r.error
        elif r.verdict is Verdict.FAIL:
            ET.SubElement(case, "failure", message=r.message, type="FAIL").text = text
        elif r.verdict is Verdict.DIVERGED:
            ET.SubElement(case, "error", message=r.message, type="DIVERGED").text = text
        elif r.verdict is Verdict.INCONCLUSIVE:
            ET.SubElement(case, "skipped", message=f"INCONCLUSIVE: {r.message}")
        elif r.verdict is Verdict.NOT_APPLICABLE:
            ET.SubElement(case, "skipped", message=f"NOT_APPLICABLE: {r.message}")
        ET.SubElement(case, "system-out").text = text
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="utf-8", xml_declaration=True)


CheckResult.html_renderer = staticmethod(result_section_html)


# ----------------------------------------------------------------------------- writer
class ReportWriter:
    """Stage a run's files beside `out_root/<name>` and publish them atomically.

    Use as a context manager: `plots_dir` is where checks save plots while they run;
    `publish(report)` writes the files and renames the staging folder into place; leaving the
    block without publishing (an exception, Ctrl-C) deletes the staging folder.
    """

    def __init__(self, out_root: str | Path, name: str) -> None:
        if not name or any(c in name for c in "/\\") or name.startswith(".") or name == "latest":
            raise ReportInputError(
                "run_name",
                name,
                "must be a plain folder name, not hidden, not 'latest'",
                "use e.g. 2026-11-24T2300-quick",
            )
        self.out_root = Path(out_root)
        self.out_root.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.staging = self.out_root / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        self.staging.mkdir()
        self.plots_dir = self.staging / "plots"
        self.plots_dir.mkdir()
        self.published: Path | None = None

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.published is None:
            self.abort()

    def abort(self) -> None:
        """Remove the staging folder (earlier reports are never touched)."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def _relocate_plots(self, report: RunReport) -> None:
        for r in report.results:
            new = []
            for p in r.plots:
                src = Path(p)
                if not src.is_absolute():
                    new.append(str(p))
                    continue
                try:
                    new.append(src.relative_to(self.staging).as_posix())
                except ValueError:
                    if src.exists():
                        dst = self.plots_dir / f"{_anchor(r.id)}_{src.name}"
                        shutil.copyfile(src, dst)
                        new.append(dst.relative_to(self.staging).as_posix())
                    else:
                        new.append(str(p))
            r.plots = new

    def _target(self) -> Path:
        target = self.out_root / self.name
        k = 2
        while target.exists() or target.is_symlink():
            target = self.out_root / f"{self.name}-{k}"
            k += 1
        return target

    def publish(self, report: RunReport) -> Path:
        """Write report.md, report.html, results.json, junit.xml; rename into place; point
        `latest` at it. Returns the published folder."""
        report.metadata.setdefault("finished", _utc_now())
        warnings = draw_figures(report.results, self.plots_dir)
        if warnings:
            report.metadata["figure_warnings"] = warnings
        self._relocate_plots(report)
        target = self._target()
        report.metadata["name"] = target.name
        files = {
            "results.json": (json.dumps(report.to_dict(), indent=1) + "\n").encode("utf-8"),
            "report.md": _markdown(report).encode("utf-8"),
            "report.html": _html_document(report, self.staging).encode("utf-8"),
            "junit.xml": _junit(report),
        }
        for fname, data in files.items():
            _write_file(self.staging / fname, data)
        os.rename(self.staging, target)
        self.published = target
        report.path = target
        _point_latest(self.out_root, target.name)
        return target


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _point_latest(out_root: Path, name: str) -> None:
    tmp = out_root / f".latest-{uuid.uuid4().hex[:8]}"
    os.symlink(name, tmp)
    try:
        os.replace(tmp, out_root / "latest")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def default_run_name(profile: str, seed: int) -> str:
    """``YYYYmmdd-HHMMSS-<profile>-s<seed>`` in UTC."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{profile}-s{seed}"


#: Fields of `results.json` that depend on when, where and how a run was executed (executor,
#: worker count, command line, clock), not on its numbers: ``run.<key>`` and
#: ``results[i].<key>``. Everything else is identical for serial, process and dask runs.
TIMING_FIELDS: dict[str, tuple[str, ...]] = {
    "run": ("started", "finished", "name", "command", "executor", "workers"),
    "results": ("runtime_s",),
}


def strip_timing(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a `results.json` document (or `RunReport.to_dict()`) without `TIMING_FIELDS`."""
    out = dict(obj)
    if isinstance(out.get("run"), dict):
        out["run"] = {k: v for k, v in out["run"].items() if k not in TIMING_FIELDS["run"]}
    if isinstance(out.get("results"), list):
        out["results"] = [
            {k: v for k, v in r.items() if k not in TIMING_FIELDS["results"]}
            for r in out["results"]
        ]
    return out
