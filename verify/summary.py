"""One-line summaries of check results for the terminal, the HTML and the PDF reports
(ratio, reason, the pytest-style summary line). Below every report module in the import
graph: it imports only the verdicts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from verify.verdict import CheckResult, Verdict

__all__ = ["lhs_rhs_ratio", "reason", "summary_line"]


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def lhs_rhs_ratio(r: CheckResult) -> float | None:
    """estimate / rhs when both are finite and rhs > 0 (how close the left side comes to
    the bound: above 1 the claim fails at the estimate), else `None`."""
    est, rhs = _as_float(r.estimate), _as_float(r.rhs)
    if est is None or rhs is None or rhs <= 0:
        return None
    return est / rhs


def _first_sentence(text: str, limit: int) -> str:
    text = " ".join(text.split())
    for stop in (". ", "; "):
        k = text.find(stop)
        if 0 < k < limit:
            return text[: k + 1].rstrip(";") if stop == ". " else text[:k]
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def reason(r: CheckResult, limit: int = 110) -> str:
    """One line saying why a check is not PASS ("" for PASS): the exception for a check that
    raised, the failed hypotheses for NOT APPLICABLE, else the message's first sentence."""
    if r.error:
        lines = r.error.strip().splitlines()
        return "raised " + (lines[-1] if lines else "an exception")
    if r.verdict is Verdict.PASS:
        return ""
    if r.verdict is Verdict.NOT_APPLICABLE:
        failed = [h for h in r.hypotheses if not h.holds]
        if failed:
            text = "; ".join(h.name + (f" ({h.detail})" if h.detail else "") for h in failed)
            return _first_sentence("hypothesis fails: " + text, limit)
    return _first_sentence(r.message or "(no message)", limit)


_WORDS = {
    Verdict.PASS: "passed",
    Verdict.FAIL: "failed",
    Verdict.INCONCLUSIVE: "inconclusive",
    Verdict.NOT_APPLICABLE: "not applicable",
    Verdict.DIVERGED: "diverged",
}


def summary_line(
    results: Sequence[CheckResult], seconds: float | None = None, where: str | None = None
) -> str:
    """The pytest-style last line, e.g.
    ``54 checks: 47 passed, 6 failed, 1 inconclusive (52 s) — reports/latest/report.html``.
    Checks that raised are counted as errors (their verdict is INCONCLUSIVE)."""
    n = len(results)
    errors = sum(bool(r.error) for r in results)
    counts = Counter(r.verdict for r in results if not r.error)
    parts = [f"{counts[v]} {_WORDS[v]}" for v in Verdict if counts[v]]
    if errors:
        parts.append(f"{errors} error{'s' if errors > 1 else ''}")
    line = f"{n} check{'s' if n != 1 else ''}: " + (", ".join(parts) or "none run")
    if seconds is not None:
        line += f" ({seconds:.0f} s)" if seconds >= 10 else f" ({seconds:.1f} s)"
    if where:
        line += f" — {where}"
    return line
