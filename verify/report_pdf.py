r"""The referee's PDF: ``report.pdf``, compiled with pdflatex (Debian's texlive-latex-base).

Contents: the run's summary line and settings; the verdict table (failures first) with the
ratio lhs/rhs; then per check, in the same order, the claim in words and in mathematics,
the reading (the conventions the check uses), the evidence (estimate, rhs, confidence bound
and its kind, α, paths, seed, hypotheses), the message, the plots, the tightness and any
counterexample when the check recorded them (``details["tightness"]``,
``details["counterexample"]``), and the command that reproduces the check.

Only packages of texlive-latex-base are used: amsmath, amssymb, graphicx, longtable, array,
geometry, hyperref. Text is escaped and the common Unicode maths of the messages (η, ≤, ‖ …)
is mapped to LaTeX; any other non-ASCII character is dropped rather than breaking the build.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from verify.verdict import CheckResult, fmt

__all__ = ["PdfBuildError", "build_latex", "latex_text", "write_pdf"]


class PdfBuildError(RuntimeError):
    """pdflatex is missing or failed; the message says how to fix it or quotes the log."""


_ASCII = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\~{}",
    "<": r"\ensuremath{<}",
    ">": r"\ensuremath{>}",
    "|": r"\ensuremath{|}",
}
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho "
    "varsigma sigma tau upsilon phi chi psi omega"
).split()  # U+03B1 .. U+03C9 in order
_UNICODE = {
    chr(0x3B1 + i): ("o" if name == "o" else rf"\ensuremath{{\{name}}}")
    for i, name in enumerate(_GREEK)
}
_UNICODE.update(
    {
        "Γ": r"\ensuremath{\Gamma}",
        "Δ": r"\ensuremath{\Delta}",
        "Σ": r"\ensuremath{\Sigma}",
        "Φ": r"\ensuremath{\Phi}",
        "Λ": r"\ensuremath{\Lambda}",
        "Ω": r"\ensuremath{\Omega}",
        "≤": r"\ensuremath{\le}",
        "≥": r"\ensuremath{\ge}",
        "≠": r"\ensuremath{\ne}",
        "≈": r"\ensuremath{\approx}",
        "∈": r"\ensuremath{\in}",
        "→": r"\ensuremath{\to}",
        "⇒": r"\ensuremath{\Rightarrow}",
        "×": r"\ensuremath{\times}",
        "·": r"\ensuremath{\cdot}",
        "−": "-",
        "–": "--",
        "—": "---",
        "…": r"\ldots{}",
        "‖": r"\ensuremath{\|}",
        "√": r"\ensuremath{\surd}",
        "∞": r"\ensuremath{\infty}",
        "∑": r"\ensuremath{\sum}",
        "Σ̃": r"\ensuremath{\tilde\Sigma}",
        "∫": r"\ensuremath{\int}",
        "±": r"\ensuremath{\pm}",
        "°": r"\ensuremath{^\circ}",
        "²": r"\ensuremath{^2}",
        "³": r"\ensuremath{^3}",
        "¹": r"\ensuremath{^1}",
        "⁰": r"\ensuremath{^0}",
        "⁻": r"\ensuremath{^-}",
        "₀": r"\ensuremath{_0}",
        "₁": r"\ensuremath{_1}",
        "₂": r"\ensuremath{_2}",
        "₃": r"\ensuremath{_3}",
        "₄": r"\ensuremath{_4}",
        "₅": r"\ensuremath{_5}",
        "₆": r"\ensuremath{_6}",
        "ᵀ": r"\ensuremath{^\top}",
        "ᵢ": r"\ensuremath{_i}",
        "ₖ": r"\ensuremath{_k}",
        "ₗ": r"\ensuremath{_l}",
        "§": r"\S{}",
        "’": "'",
        "‘": "`",
        "“": "``",
        "”": "''",
        "é": r"\'e",
        "ü": r"\"u",
        "ö": r"\"o",
        "Ã": r"\ensuremath{\tilde A}",
        "ξ": r"\ensuremath{\xi}",
    }
)


def latex_text(text: str) -> str:
    """Plain text (a claim, a message) escaped for LaTeX, with common Unicode maths mapped."""
    out = []
    for ch in str(text):
        if ch in _ASCII:
            out.append(_ASCII[ch])
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        elif ord(ch) < 128:
            out.append(ch)
        elif unicodedata.combining(ch):
            continue  # e.g. the tilde of Ã written as A + U+0303
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(latex_text(base) if base else "")
    return "".join(out)


def _tt(text: str) -> str:
    return r"\texttt{" + latex_text(text) + "}"


def _order(results: list[CheckResult]) -> list[CheckResult]:
    from verify.report_html import sort_by_severity

    return sort_by_severity(results)


def _reproduce(r: CheckResult, meta: dict[str, Any]) -> str:
    parts = ["sdde-verify", "run", "--only", r.id, "--profile", str(meta.get("profile", "quick"))]
    if r.seed is not None or meta.get("seed") is not None:
        parts += ["--seed", str(r.seed if r.seed is not None else meta.get("seed"))]
    if meta.get("alpha") not in (None, 0.05):
        parts += ["--alpha", str(meta.get("alpha"))]
    if "user_spec" in meta:
        cmd = str(meta.get("command", ""))
        return cmd.split(" --only")[0] + f" --only {r.id}" if cmd else ""
    return " ".join(shlex.quote(p) for p in parts)


def _claim_maths(latex: str) -> str:
    src = latex.replace(r"\tfrac", r"\frac")
    return (
        "\\par\\noindent\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}"
        f"{{$\\displaystyle {src}$}}\\par\n"
    )


def _evidence(r: CheckResult) -> str:
    from verify.summary import lhs_rhs_ratio

    rows = [(k, v) for k, v in r.evidence_rows() if k not in ("result", "runtime", "conventions")]
    q = lhs_rhs_ratio(r)
    rows.insert(4, ("lhs / rhs", "—" if q is None else f"{q:.4g}"))
    body = "".join(f"{latex_text(k)} & {latex_text(v)} \\\\\n" for k, v in rows)
    return (
        "\\begin{longtable}{@{}>{\\raggedright}p{0.22\\linewidth}p{0.72\\linewidth}@{}}\n"
        + body
        + "\\end{longtable}\n"
    )


def _named_detail(r: CheckResult, key: str, title: str) -> str:
    value = r.details.get(key)
    if not value:
        return ""
    if isinstance(value, dict):
        items = "".join(
            f"\\item {latex_text(str(k))}: {latex_text(fmt(v) if not isinstance(v, str) else v)}\n"
            for k, v in value.items()
        )
        return f"\\paragraph{{{title}.}}\n\\begin{{itemize}}\n{items}\\end{{itemize}}\n"
    return f"\\paragraph{{{title}.}} {latex_text(str(value))}\n\n"


def _section(r: CheckResult, meta: dict[str, Any], images: dict[str, str]) -> str:
    out = [
        f"\\section*{{{latex_text(r.id)}: {latex_text(r.result)} ({latex_text(r.level)}) --- "
        f"{r.verdict.value.replace('_', ' ')}}}\n",
        f"\\addcontentsline{{toc}}{{subsection}}{{{latex_text(r.id)} "
        f"({r.verdict.value.replace('_', ' ')})}}\n",
        f"\\paragraph{{Statement.}} {latex_text(r.claim)}\n",
    ]
    if r.claim_latex:
        out.append(_claim_maths(r.claim_latex))
    if r.conventions:
        out.append(
            "\\paragraph{Reading.} " + latex_text("; ".join(r.conventions)).rstrip(".") + ".\n"
        )
    out.append("\\paragraph{Evidence.}\n" + _evidence(r))
    if r.message:
        out.append("\\paragraph{Finding.} " + latex_text(r.message) + "\n\n")
    for p in r.plots:
        if p in images:
            out.append(
                "\\begin{center}\\includegraphics[width=0.72\\linewidth]{"
                + images[p]
                + "}\\end{center}\n"
            )
    out.append(_named_detail(r, "tightness", "Tightness"))
    out.append(_named_detail(r, "counterexample", "Counterexample"))
    if r.error:
        last = r.error.strip().splitlines()[-1] if r.error.strip() else "an exception"
        out.append("\\paragraph{Error.} The check raised: " + _tt(last) + "\n\n")
    cmd = _reproduce(r, meta)
    if cmd:
        out.append("\\paragraph{Reproduce.} " + _tt(cmd) + "\n")
    return "".join(out)


def build_latex(report: Any, images: dict[str, str] | None = None) -> str:
    """The LaTeX source of the PDF for a `verify.report.RunReport`; `images` maps a plot
    path of a result to the file name to include (plots not in it are left out)."""
    from verify.summary import lhs_rhs_ratio, summary_line

    images = images or {}
    meta = report.metadata
    ordered = _order(list(report.results))
    rows = []
    for r in ordered:
        q = lhs_rhs_ratio(r)
        rows.append(
            f"\\hyperlink{{{_anchor(r.id)}}}{{{latex_text(r.id)}}} & {latex_text(r.result)} & "
            f"{latex_text(r.level)} & {r.verdict.value.replace('_', ' ')} & "
            f"{latex_text(fmt(r.estimate))} & {latex_text(fmt(r.rhs))} & "
            f"{'---' if q is None else latex_text(f'{q:.3g}')} \\\\\n"
        )
    settings = (
        f"Profile \\texttt{{{latex_text(str(meta.get('profile')))}}}, seed "
        f"{latex_text(str(meta.get('seed')))}, $\\alpha={latex_text(str(meta.get('alpha')))}$, "
        f"started {latex_text(str(meta.get('started', '')))}. Command: "
        + _tt(str(meta.get("command", "")))
        + "."
    )
    sections = "".join(
        f"\\hypertarget{{{_anchor(r.id)}}}{{}}\n" + _section(r, meta, images) for r in ordered
    )
    return (
        "\\documentclass[10pt]{article}\n"
        "\\usepackage[margin=2cm]{geometry}\n"
        "\\usepackage{amsmath,amssymb,graphicx,longtable,array}\n"
        "\\usepackage[hidelinks]{hyperref}\n"
        "\\setlength{\\parindent}{0pt}\\setlength{\\parskip}{0.4em}\n"
        "\\renewcommand{\\arraystretch}{1.15}\n"
        "\\sloppy\n"
        "\\begin{document}\n"
        "\\begin{center}{\\Large sdde-verify: verification report}\\\\[0.3em]"
        f"{latex_text(str(meta.get('name', '')))}\\end{{center}}\n"
        f"\\textbf{{{latex_text(summary_line(report.results))}.}} {settings}\n\n"
        "He, Meng, Chen, Ma \\& Liu, \\emph{Differential Equations for Modeling Asynchronous "
        "Algorithms}: each result checked as stated (SDDE/SDE), as applied (ASGD/SGD iterates) "
        "and per proof step. PASS: the one-sided upper confidence bound of the left side is at "
        "most the right side; FAIL: the lower confidence bound exceeds it; INCONCLUSIVE: "
        "neither; NOT APPLICABLE: a hypothesis fails. Failures first.\n\n"
        "\\begin{longtable}{@{}lllllll@{}}\n"
        "id & result & level & verdict & estimate & rhs & lhs/rhs \\\\ \\hline\\endhead\n"
        + "".join(rows)
        + "\\end{longtable}\n"
        + sections
        + "\\end{document}\n"
    )


def _anchor(check_id: str) -> str:
    return "chk-" + "".join(c if c.isalnum() else "-" for c in check_id.lower())


def _error_excerpt(log: str) -> str:
    lines = log.splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith("!")]
    if not hits:
        return "\n".join(lines[-20:])
    return "\n".join("\n".join(lines[i : i + 6]) for i in hits[:3])


def write_pdf(report: Any, path: str | Path, plot_root: str | Path | None = None) -> Path:
    """Compile the report's PDF to `path` (pdflatex, twice, in a temporary folder).

    Plot paths of the results are read relative to `plot_root` (default: the folder of
    `path`).

    Raises:
        PdfBuildError: pdflatex is not installed or reports an error.
    """
    path = Path(path)
    root = Path(plot_root) if plot_root is not None else path.parent
    exe = shutil.which("pdflatex")
    if exe is None:
        raise PdfBuildError(
            "pdflatex not found, so report.pdf cannot be written. Fix: apt-get install "
            "texlive-latex-base, or run without --pdf"
        )
    with tempfile.TemporaryDirectory(prefix="sdde-verify-pdf-") as tmp:
        work = Path(tmp)
        images: dict[str, str] = {}
        for r in report.results:
            for p in r.plots:
                src = Path(p) if Path(p).is_absolute() else root / p
                if src.is_file() and src.suffix.lower() == ".png":
                    name = f"fig{len(images)}.png"
                    shutil.copyfile(src, work / name)
                    images[p] = name
        (work / "report.tex").write_text(build_latex(report, images), encoding="utf-8")
        for _ in range(2):  # twice: longtable column widths
            proc = subprocess.run(
                [exe, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                cwd=work,
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            )
            log_file = work / "report.log"
            log = log_file.read_text(errors="replace") if log_file.exists() else proc.stdout
            if proc.returncode != 0 or re.search(r"^! ", log, flags=re.M):
                raise PdfBuildError(f"pdflatex failed on report.tex:\n{_error_excerpt(log)}")
        shutil.copyfile(work / "report.pdf", path)
    return path
