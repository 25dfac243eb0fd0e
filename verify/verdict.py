"""Verdicts and the structured result every check returns (SPEC §5).

Glossary: a *check* tests one claim of the paper at one *level* ("as-stated" for the
SDDE/SDE, "as-applied" for the ASGD/SGD iterates with $t = k\\delta$, "proof-step" for a
displayed step of a proof sketch). Its *verdict* is one of

- **PASS** — one-sided upper confidence bound of the left side $\\le$ right side
  (or an exact comparison holds within the stated tolerance);
- **FAIL** — lower confidence bound $>$ right side (or the exact comparison fails);
- **INCONCLUSIVE** — neither, at the budget;
- **NOT_APPLICABLE** — a hypothesis of the result fails (the result says which; nothing
  else was run);
- **DIVERGED** — the simulation blew up (the result says where).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from theory.errors import InputError

__all__ = [
    "LEVELS",
    "METHODS",
    "VACUOUS_BELOW",
    "CheckResult",
    "Hypothesis",
    "ResultFieldError",
    "Verdict",
    "json_safe",
]

LEVELS = ("as-stated", "as-applied", "proof-step")
#: a PASS whose worst lhs/rhs is below this is vacuous (SPEC §6)
VACUOUS_BELOW = 1e-2
METHODS = ("exact", "symbolic", "monte-carlo", "rate")


class ResultFieldError(InputError):
    """A `CheckResult` field has a value outside its documented set."""


class Verdict(str, enum.Enum):
    """Outcome of one check (SPEC §5). A `str` subclass, so it serialises as its name."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    DIVERGED = "DIVERGED"

    def __str__(self) -> str:
        return self.value

    @property
    def colour(self) -> str:
        """Background colour used by the HTML report and notebooks."""
        return _COLOURS[self]


_COLOURS = {
    Verdict.PASS: "#c8e6c9",
    Verdict.FAIL: "#ffcdd2",
    Verdict.INCONCLUSIVE: "#fff9c4",
    Verdict.NOT_APPLICABLE: "#e0e0e0",
    Verdict.DIVERGED: "#ffe0b2",
}


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of a result, evaluated for the parameters of a check.

    Arguments:
        name: the hypothesis as written in the paper, e.g. ``"eta L (l+1) <= 1"``.
        holds: whether it holds for the parameters used.
        detail: the numbers behind it, e.g. ``"eta L (l+1) = 0.8"``.
    """

    name: str
    holds: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "holds": bool(self.holds), "detail": self.detail}


@dataclass
class CheckResult:
    """Everything a report needs to show about one check.

    Arguments:
        id: the check id, e.g. ``"R6-as-stated"``.
        result: the paper's result, e.g. ``"Thm 4.1"``.
        level: one of `LEVELS`.
        claim: the claim in words.
        verdict: the `Verdict`.
        method: one of `METHODS`.
        claim_latex: the claim in LaTeX (without surrounding `$`).
        estimate: the measured left side (a point estimate; the worst grid point for grids).
        rhs: the right side it is compared with.
        confidence_bound: the one-sided bound used for the verdict (the upper bound for
            PASS, the lower bound for FAIL), or the tolerance-adjusted value for exact checks.
        bound_kind: e.g. ``"Student-t (asymptotic)"``, ``"empirical Bernstein (exact)"``,
            ``"Hoeffding (exact)"``, ``"exact, tolerance 1e-25"``.
        alpha: the level of each one-sided bound (`None` for exact checks).
        paths: number of Monte Carlo paths (`None` for exact checks).
        seed: the global seed of the run (the check's own stream is derived from it and
            the check id; see `verify.context`).
        hypotheses: the evaluated `Hypothesis` list.
        conventions: the SPEC §1 conventions this check relies on, in words.
        runtime_s: wall time of the check.
        details: any further evidence (grid rows, fitted constants, exponents …); must be
            JSON-serialisable after `json_safe`.
        plots: paths of the check's plots (relative to the run folder once reported).
        message: one or two sentences a reader needs (e.g. why INCONCLUSIVE).
        error: a traceback if the check raised instead of returning (the verdict is then
            INCONCLUSIVE and the command line exits with code 3).
        tightness: the largest lhs/rhs found over the evaluated domain (grid checks; `None`
            where no ratio is meaningful); a PASS below `VACUOUS_BELOW` says almost nothing.
        worst_point: where that ratio was found (the grid point's parameters and `x`).
    """

    id: str
    result: str
    level: str
    claim: str
    verdict: Verdict
    method: str
    claim_latex: str = ""
    estimate: float | None = None
    rhs: float | None = None
    confidence_bound: float | None = None
    bound_kind: str = ""
    alpha: float | None = None
    paths: int | None = None
    seed: int | None = None
    hypotheses: list[Hypothesis] = field(default_factory=list)
    conventions: list[str] = field(default_factory=list)
    runtime_s: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    message: str = ""
    error: str = ""
    tightness: float | None = None
    worst_point: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ResultFieldError("level", self.level, "unknown level", f"use one of {LEVELS}")
        if self.method not in METHODS:
            raise ResultFieldError("method", self.method, "unknown method", f"use one of {METHODS}")
        try:
            self.verdict = Verdict(self.verdict)
        except ValueError:
            raise ResultFieldError(
                "verdict", self.verdict, "unknown verdict", f"use a {Verdict.__name__} member"
            ) from None

    @property
    def vacuous(self) -> bool:
        """A PASS whose bound sits more than 100x above the worst left side found (SPEC §6)."""
        return (
            self.verdict is Verdict.PASS
            and self.tightness is not None
            and 0 <= self.tightness < VACUOUS_BELOW
        )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf become strings, arrays become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "hypotheses":
                value = [h.to_dict() for h in value]
            elif f.name == "verdict":
                value = value.value
            out[f.name] = json_safe(value)
        out["vacuous"] = self.vacuous
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Inverse of `to_dict` (numbers written as strings stay strings)."""
        kwargs = dict(data)
        kwargs.pop("vacuous", None)  # derived
        kwargs["verdict"] = Verdict(kwargs["verdict"])
        kwargs["hypotheses"] = [Hypothesis(**h) for h in kwargs.get("hypotheses", [])]
        return cls(**kwargs)

    def evidence_rows(self) -> list[tuple[str, str]]:
        """(label, value) rows of the evidence table shown in reports."""
        hyp = "; ".join(
            f"{h.name}: {'true' if h.holds else 'FALSE'}" + (f" ({h.detail})" if h.detail else "")
            for h in self.hypotheses
        )
        rows = [
            ("result", f"{self.result} ({self.level})"),
            ("method", self.method),
            ("estimate (LHS)", fmt(self.estimate)),
            ("rhs", fmt(self.rhs)),
            ("confidence bound", fmt(self.confidence_bound)),
            ("bound kind", self.bound_kind or "—"),
            ("alpha", fmt(self.alpha)),
            ("paths", fmt(self.paths)),
            ("seed", fmt(self.seed)),
            ("hypotheses", hyp or "—"),
            ("conventions", "; ".join(self.conventions) or "—"),
            ("runtime", f"{self.runtime_s:.2f} s"),
        ]
        return rows

    def __str__(self) -> str:
        head = f"[{self.verdict.value}] {self.id} — {self.result} ({self.level}): {self.claim}"
        lines = [head] + [f"    {k}: {v}" for k, v in self.evidence_rows()[1:]]
        if self.message:
            lines.append(f"    message: {self.message}")
        if self.error:
            lines.append(f"    error: {self.error.strip().splitlines()[-1]}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html(embed_plots=True)

    #: renders one result as an HTML fragment; installed by `verify.report` when it is
    #: imported (so this module does not import the report layer: no import cycle)
    html_renderer: ClassVar[Any] = None

    def to_html(self, embed_plots: bool = True, plot_root: str | None = None) -> str:
        """An HTML fragment: claim, verdict badge, evidence table, plots, message (the report
        layer's renderer; a plain-text fallback when `verify.report` is not loaded)."""
        if CheckResult.html_renderer is None:
            import html

            return f"<pre>{html.escape(str(self))}</pre>"
        return CheckResult.html_renderer(self, embed_plots=embed_plots, plot_root=plot_root)


def fmt(value: Any) -> str:
    """Short human formatting of a number (or `—` for `None`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.4e}"
        return f"{value:.6g}"
    return str(value)


def json_safe(value: Any) -> Any:
    """Recursively convert numpy scalars/arrays, enums, tuples and non-finite floats."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(value, enum.Enum):
        return value.value
    if np is not None and isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if np is not None and isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [json_safe(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, complex):
        return {"re": json_safe(value.real), "im": json_safe(value.imag)}
    return json.dumps(repr(value))[1:-1]
