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
{verdict: count}, "grids": "grids.json.gz", "results": [CheckResult.to_dict(), …]}``. Long
row lists in a result's details (more than `INLINE_ROWS` rows, e.g. the grid rows) are moved
to the gzip-compressed sidecar `grids.json.gz` (``{"schema_version", "grids": {check_id:
{details key: rows}}}``); in `results.json` each is replaced by ``{"sidecar":
"grids.json.gz", "rows": n, "against": m}``. `read_report(folder)` puts them back, and the
published report.md / report.html / report.pdf are rendered from the folder read back that
way, so what the report shows is what the files hold. `TIMING_FIELDS` lists the fields
that depend on when, where and how the run was executed rather than on its numbers;
`strip_timing` removes them, and the rest is byte-identical across executors and worker counts.

JUnit mapping: PASS → passed; FAIL → `<failure>`; DIVERGED or a check that raised →
`<error>`; INCONCLUSIVE → `<skipped>`; NOT_APPLICABLE → `<skipped>` with the failed hypothesis.
"""

from __future__ import annotations

import datetime as _dt
import gzip
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
from verify.report_html import html_body, html_document, result_section_html, sort_by_severity
from verify.summary import _first_sentence, lhs_rhs_ratio, reason, summary_line
from verify.verdict import CheckResult, Verdict, fmt, json_safe

__all__ = [
    "GRIDS_FILE",
    "INLINE_ROWS",
    "SCHEMA_VERSION",
    "TIMING_FIELDS",
    "ReportInputError",
    "ReportWriter",
    "RunReport",
    "lhs_rhs_ratio",
    "read_report",
    "reason",
    "result_section_html",
    "run_metadata",
    "strip_timing",
    "summary_line",
    "validate_out_root",
    "verdict_table_text",
]

SCHEMA_VERSION = "1.1"
GRIDS_FILE = "grids.json.gz"
#: Row lists longer than this (or over 4 kB, e.g. recorded figure data) go to the sidecar
#: `GRIDS_FILE`.
INLINE_ROWS = 12
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
    #: why report.pdf could not be built (empty: built, or not asked for)
    pdf_error: str = ""

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
        return html_body(self, plot_root=self.path, embed=True)

    def to_dataframe(self) -> Any:
        """One row per check (id, result, level, verdict, method, estimate, rhs, ratio,
        confidence bound, alpha, paths, runtime, message) as a `pandas.DataFrame`.

        Raises:
            ImportError: pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "RunReport.to_dataframe needs pandas. Fix: pip install pandas "
                '(or pip install ".[notebook]")'
            ) from None
        cols = ("id", "result", "level", "method", "estimate", "rhs", "confidence_bound",
                "bound_kind", "alpha", "paths", "seed", "runtime_s", "message")  # fmt: skip
        rows = []
        for r in self.results:
            row = {c: getattr(r, c) for c in cols}
            row["verdict"] = r.verdict.value
            row["ratio"] = lhs_rhs_ratio(r)
            rows.append(row)
        order = ["id", "result", "level", "verdict", "method", "estimate", "rhs", "ratio"]
        df = pd.DataFrame(rows, columns=[*order, *(c for c in cols if c not in order)])
        return df.set_index("id")

    def __getitem__(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.id == check_id:
                return r
        raise KeyError(check_id)


# ----------------------------------------------------------------------------- text
def verdict_table_text(results: Sequence[CheckResult], width: int | None = None) -> str:
    """A plain-text verdict table for the terminal: id, verdict, method, estimate, rhs, the
    ratio estimate/rhs, time, and for every non-PASS a one-line reason."""
    rows = [("id", "verdict", "method", "estimate", "rhs", "lhs/rhs", "time", "reason")]
    for r in results:
        q = lhs_rhs_ratio(r)
        rows.append(
            (
                r.id,
                "ERROR" if r.error else r.verdict.value,
                r.method,
                fmt(r.estimate),
                fmt(r.rhs),
                "—" if q is None else f"{q:.3g}",
                f"{r.runtime_s:.1f}s",
                reason(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1]
        if width and len(line) > width and row[-1]:
            room = max(width - (len(line) - len(row[-1])), 20)
            line = line[: len(line) - len(row[-1])] + _first_sentence(row[-1], room - 2)
        lines.append(line.rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ------")
    return "\n".join(lines)


def _markdown(report: RunReport) -> str:
    meta = report.metadata
    out = [
        f"# sdde-verify report — {meta.get('name', '')}",
        "",
        f"**{summary_line(report.results)}**",
        "",
        f"Profile `{meta.get('profile')}`, seed `{meta.get('seed')}`, alpha `{meta.get('alpha')}`, "
        f"executor `{meta.get('executor')}`, started {meta.get('started')}, "
        f"finished {meta.get('finished')}.",
        f"Command: `{meta.get('command', '')}`",
        "",
        "Failures first.",
        "",
        "| id | result | level | verdict | method | estimate | rhs | lhs/rhs | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ordered = sort_by_severity(list(report.results))
    for r in ordered:
        q = lhs_rhs_ratio(r)
        out.append(
            f"| [{r.id}](#{_anchor(r.id)}) | {r.result} | {r.level} | **{r.verdict.value}** | "
            f"{r.method} | {fmt(r.estimate)} | {fmt(r.rhs)} | {'—' if q is None else f'{q:.3g}'}"
            f" | {reason(r).replace('|', '/')} |"
        )
    for name, tb in report.load_errors.items():
        out += ["", f"**Check module `{name}` failed to import:**", "", "```", tb.strip(), "```"]
    for r in ordered:
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


def _anchor(check_id: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in check_id.lower())


def _row_fails(row: dict[str, Any]) -> bool:
    """A grid row that speaks against the claim (shown first, so a truncated table keeps it)."""
    from verify.plots import row_speaks_against

    return row_speaks_against(row)


def _md_table(rows: list[dict[str, Any]], limit: int = 12) -> list[str]:
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
        lines.append(f"… {len(rows) - limit} more rows in {GRIDS_FILE}")
    return lines


def _table(rows: list[dict[str, Any]], limit: int = 200) -> str:
    """The HTML grid table (`verify.report_html.grid_table_html`)."""
    from verify.report_html import grid_table_html

    return grid_table_html(rows, limit)


# ----------------------------------------------------------------------------- sidecar
def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def split_grids(doc: dict[str, Any]) -> dict[str, Any]:
    """Move every row list longer than `INLINE_ROWS` out of ``doc['results'][i]['details']``
    (in place) and return the sidecar document; `doc` then names the sidecar."""
    from verify.plots import row_speaks_against

    grids: dict[str, dict[str, Any]] = {}
    for res in doc.get("results", []):
        details = res.get("details") or {}
        for key, value in list(details.items()):
            if _is_rows(value) and (len(value) > INLINE_ROWS or len(json.dumps(value)) > 4000):
                grids.setdefault(res["id"], {})[key] = value
                details[key] = {
                    "sidecar": GRIDS_FILE,
                    "rows": len(value),
                    "against": sum(row_speaks_against(v) for v in value),
                }
    doc["grids"] = GRIDS_FILE if grids else None
    return {"schema_version": SCHEMA_VERSION, "grids": grids}


def _gzip_json(obj: Any) -> bytes:
    raw = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return gzip.compress(raw, compresslevel=9, mtime=0)  # mtime 0: same bytes every run


def read_report(folder: str | Path) -> RunReport:
    """A published (or staged) report folder read back: `results.json` with the rows of
    `grids.json.gz` put back in place; plot paths stay relative to `folder`.

    Raises:
        ReportInputError: the folder has no readable results.json.
    """
    folder = Path(folder)
    try:
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportInputError(
            "folder", str(folder), f"no readable results.json ({exc})", "pass a run folder"
        ) from None
    grids: dict[str, Any] = {}
    if doc.get("grids"):
        with gzip.open(folder / doc["grids"], "rt", encoding="utf-8") as fh:
            grids = json.load(fh).get("grids", {})
    results = []
    for res in doc.get("results", []):
        details = dict(res.get("details") or {})
        for key, rows in grids.get(res["id"], {}).items():
            details[key] = rows
        results.append(CheckResult.from_dict({**res, "details": details}))
    return RunReport(results, doc.get("run", {}), folder, doc.get("load_errors", {}))


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
        if r.verdict is not Verdict.PASS or r.error:  # the evidence of what needs a look
            ET.SubElement(case, "system-out").text = text
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="utf-8", xml_declaration=True)


CheckResult.html_renderer = staticmethod(result_section_html)


# ----------------------------------------------------------------------------- writer
def _fs_error(path: Path, exc: OSError, doing: str) -> ReportInputError:
    """A named error for a file-system problem with the output folder."""
    why = exc.strerror or type(exc).__name__
    if isinstance(exc, FileExistsError) or isinstance(exc, NotADirectoryError):
        why = "a file (or a path through a file) is in the way"
    return ReportInputError(
        "--out",
        str(path),
        f"cannot {doing} ({why})",
        "choose a folder you can write, e.g. --out reports or --out ~/sdde-reports",
    )


def _compact_png(path: Path) -> None:
    """Re-save a PNG with a 32-colour palette (line plots lose nothing visible; about 4x
    smaller). Left as it is if Pillow is missing or the file is not a PNG."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            if im.format != "PNG" or im.mode == "P":
                return
            small = im.convert("RGB").quantize(colors=32)
        small.save(path, format="PNG", optimize=True)
    except Exception:  # pragma: no cover - best effort only
        return


def validate_out_root(out_root: str | Path) -> Path:
    """The absolute report root for `out_root` (relative to the working directory, ``~``
    expanded), created if missing, after checking that it is a writable folder.

    Raises:
        ReportInputError: a file is in the way, no permission, a read-only file system.
    """
    root = Path(out_root).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise ReportInputError(
            "--out", str(out_root), "is a file, not a folder", "choose a folder, e.g. --out reports"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fs_error(root, exc, "create the report folder") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise ReportInputError(
            "--out",
            str(out_root),
            "is not writable",
            "choose a folder you can write, e.g. --out ~/sdde-reports",
        )
    return root


class ReportWriter:
    """Stage a run's files beside `out_root/<name>` and publish them atomically.

    Use as a context manager: `plots_dir` (absolute) is where checks save plots while they
    run; `publish(report)` writes the files and renames the staging folder into place;
    leaving the block without publishing (an exception, Ctrl-C) deletes the staging folder.

    `out_root` may be relative (to the current directory) or start with ``~``; it is made
    absolute once, here, so every path recorded during the run stays valid after the
    staging folder is renamed.

    Raises:
        ReportInputError: bad run name, or `out_root` cannot be created or written (a file
            in the way, no permission, a read-only file system); nothing is written then.
    """

    def __init__(self, out_root: str | Path, name: str) -> None:
        if not name or any(c in name for c in "/\\") or name.startswith(".") or name == "latest":
            raise ReportInputError(
                "run_name",
                name,
                "must be a plain folder name, not hidden, not 'latest'",
                "use e.g. 2026-11-24T2300-quick",
            )
        root = validate_out_root(out_root)
        self.out_root = root
        self.name = name
        self.staging = root / f".staging-{name}-{uuid.uuid4().hex[:8]}"
        try:
            self.staging.mkdir()
            self.plots_dir = self.staging / "plots"
            self.plots_dir.mkdir()
        except OSError as exc:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise _fs_error(root, exc, "write in the report folder") from None
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
        """Make every plot path relative to the run folder; plots saved elsewhere (a check
        that used its own folder, a relative path) are copied into ``plots/``."""
        for r in report.results:
            new = []
            for p in r.plots:
                src = Path(p).expanduser().absolute()  # relative: to the working directory
                try:
                    new.append(src.relative_to(self.staging).as_posix())
                    continue
                except ValueError:
                    pass
                if src.is_file():
                    dst = self.plots_dir / f"{_anchor(r.id)}_{src.name}"
                    shutil.copyfile(src, dst)
                    new.append(dst.relative_to(self.staging).as_posix())
                else:
                    new.append(str(p))
            r.plots = new

    def _draw_missing_plots(self, report: RunReport) -> None:
        """Report-time plots from recorded evidence for results that have none."""
        from verify.plots import evidence_figures

        for r in report.results:
            if r.plots:
                continue
            for key, png in evidence_figures(r):
                dst = self.plots_dir / f"{_anchor(r.id)}_{key}.png"
                dst.write_bytes(png)
                r.plots.append(dst.relative_to(self.staging).as_posix())

    def _target(self) -> Path:
        target = self.out_root / self.name
        k = 2
        while target.exists() or target.is_symlink():
            target = self.out_root / f"{self.name}-{k}"
            k += 1
        return target

    def publish(
        self,
        report: RunReport,
        preamble_md: str = "",
        preamble_html: str = "",
        pdf: bool = False,
    ) -> Path:
        """Write results.json (+ grids.json.gz), then report.md, report.html, junit.xml (and
        report.pdf with `pdf`) from the files read back; rename into place; point `latest` at
        it. Returns the published folder.

        Raises:
            ReportInputError: the files cannot be written (disk full, permissions).

        With `pdf`, a failed pdflatex build leaves report.pdf out and sets
        `report.pdf_error`; everything else is still published.
        """
        report.metadata.setdefault("finished", _utc_now())
        warnings = draw_figures(report.results, self.plots_dir)
        if warnings:
            report.metadata["figure_warnings"] = warnings
        self._relocate_plots(report)
        self._draw_missing_plots(report)
        for png in self.plots_dir.glob("*.png"):
            _compact_png(png)
        target = self._target()
        report.metadata["name"] = target.name
        doc = report.to_dict()
        sidecar = split_grids(doc)
        try:
            _write_file(
                self.staging / "results.json", (json.dumps(doc, indent=1) + "\n").encode("utf-8")
            )
            if doc["grids"]:
                _write_file(self.staging / GRIDS_FILE, _gzip_json(sidecar))
            shown = read_report(self.staging)  # what the files hold is what the report shows
            files = {
                "report.md": (preamble_md + _markdown(shown)).encode("utf-8"),
                "report.html": html_document(shown, None, preamble_html).encode("utf-8"),
                "junit.xml": _junit(shown),
            }
            for fname, data in files.items():
                _write_file(self.staging / fname, data)
        except OSError as exc:
            if exc.errno is None:
                raise
            raise _fs_error(self.staging, exc, "write the report files") from None
        if pdf:  # a failed build is reported (report.pdf_error), the rest is still published
            from verify.report_pdf import PdfBuildError, write_pdf

            try:
                write_pdf(shown, self.staging / "report.pdf")
            except PdfBuildError as exc:
                report.pdf_error = str(exc)
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


#: Former private names (kept for callers written against them).
_html_document = html_document
_html_body = html_body
