r"""One evidence engine: typed evidence per grid row, one place that decides (SPEC §5).

A grid check declares its **rows** (grid points of a claim's domain), the **hypotheses** per
row (read from the claim statement, :mod:`theory.claims`) and the **evidence** per row. This
module loops the rows, records NOT APPLICABLE per row with the reason, decides each row,
applies Holm across Monte Carlo tests, picks the worst row and writes the message, the
headline numbers and ``details["grid"]`` in one layout for every check.

Evidence types:

- :class:`ExactCurve` — an exactly computed left side over a curve (e.g. $t$), with an
  optional discretisation bracket $\pm\beta_i$ and a :class:`Tolerance` tied to the working
  precision of the evaluator. Element $i$: PASS iff $\ell_i + \beta_i \le r_i + \epsilon_i$,
  FAIL iff $\ell_i - \beta_i > r_i + \epsilon_i$, else INCONCLUSIVE, with
  $\epsilon_i = \rho_i\max(|\ell_i\pm\beta_i|, |r_i|, f)$ ($\rho$ the relative error bound of
  the evaluator, $f$ its absolute floor). ``relation="eq"`` compares $|\ell_i - r_i|$.
  A non-finite $\ell_i$ (a diverging exact moment) violates any finite bound.
- :class:`Samples` — Monte Carlo samples per element with the bound used (Student-t, which
  is asymptotic, or Hoeffding / empirical Bernstein, exact for bounded samples). Across
  every element of every row: FAIL iff Holm rejects some $H_0: \mathbb E\ell_i \le r_i$;
  PASS iff every one-sided upper bound is $\le r_i$ (intersection–union); else INCONCLUSIVE.

Row verdicts: FAIL if an element fails, INCONCLUSIVE if an element is undecided, else PASS;
a row whose hypotheses fail is NOT_APPLICABLE; a row that could not be evaluated (e.g. a
constant not computable) is INCONCLUSIVE with the reason. The check: FAIL if a row fails,
else INCONCLUSIVE if a row is undecided, else PASS; NOT_APPLICABLE if no row is applicable.

Layout of every ``details["grid"]`` row: the point's parameters, then ``x`` (where on the
curve the row's worst element is, e.g. the time), ``estimate``, ``lcb``, ``ucb``, ``rhs``,
``ratio`` (estimate/rhs at that element), ``max_ratio`` (largest estimate/rhs on the curve),
``verdict``, ``reason``, and the check's extra columns. ``details["evidence"]`` summarises the
decision (kind, tolerance or bound, multiple testing, counts, worst row, worst ratio).
``details["figures"]`` holds the data the report draws (the worst row's curve, the ratio of
every row): plots are drawn at report time (:mod:`verify.figures`), never here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from theory.claims.base import Claim, Holds
from verify import stats
from verify.verdict import CheckResult, Hypothesis, Verdict

#: a `verify.checks.base.Check` and a `verify.context.RunContext` (not imported: the engine
#: sits below the checks in the import graph)
Check = Any
RunContext = Any

__all__ = [
    "ExactCurve",
    "Row",
    "Samples",
    "Tolerance",
    "decide_rows",
    "hypotheses_summary",
]

FLOAT_EPS = 2.0**-53


@dataclass(frozen=True)
class Tolerance:
    r"""How far an exact comparison may be off because of floating point: element $i$ gets
    $\epsilon_i = \rho_i\max(|\ell_i|, |r_i|, \text{floor})$.

    Arguments:
        rel: $\rho$, the relative error bound of the evaluator (scalar or per element).
        floor: absolute scale below which errors are not relative (1 for quantities of order
            one; ``1e-300`` for a purely relative bound).
        label: how the bound was derived, for the report.
    """

    rel: Any
    floor: float = 1.0
    label: str = ""

    @classmethod
    def ulps(cls, n: float = 64.0, bits: int = 53, floor: float = 1.0) -> Tolerance:
        """`n` units in the last place at `bits` bits of working precision."""
        return cls(n * 2.0**-bits, floor, f"{n:g} ulp at {bits}-bit precision")


@dataclass
class ExactCurve:
    """Exactly computed left side against the right side, element by element (a curve).

    Arguments:
        lhs, rhs: arrays of the same length (one element per curve point).
        tolerance: the :class:`Tolerance` of the evaluator.
        x: the curve's abscissa (e.g. the times), for the report.
        bracket: a discretisation bracket $\\beta_i \\ge 0$ of `lhs` (None: exact).
        bracket_label: how the bracket was obtained.
        relation: ``"le"`` or ``"eq"``.
    """

    lhs: Any
    rhs: Any
    tolerance: Tolerance
    x: Any = None
    bracket: Any = None
    bracket_label: str = ""
    relation: str = "le"
    kind = "exact"

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        lhs = np.atleast_1d(np.asarray(self.lhs, dtype=float))
        rhs = np.broadcast_to(np.asarray(self.rhs, dtype=float), lhs.shape)
        x = np.arange(lhs.size, dtype=float) if self.x is None else np.asarray(self.x, float)
        br = (
            np.zeros_like(lhs)
            if self.bracket is None
            else np.abs(np.broadcast_to(np.asarray(self.bracket, float), lhs.shape))
        )
        return x.reshape(lhs.shape), lhs, rhs, br


@dataclass
class Samples:
    """Monte Carlo samples of the left side: `samples[i]` are i.i.d. draws at element `i`.

    Arguments:
        samples: a sequence of 1-D arrays, or a 2-D array (paths, elements).
        rhs: one value per element.
        x: the abscissa of the elements (e.g. times).
        bound: ``"student-t"`` (asymptotic), ``"hoeffding"``, ``"bernstein"`` (exact).
        value_range: the range of the samples for the exact bounds.
    """

    samples: Any
    rhs: Any
    x: Any = None
    bound: str = "student-t"
    value_range: tuple[float, float] | None = None
    kind = "monte-carlo"

    def columns(self) -> list[np.ndarray]:
        s = self.samples
        if isinstance(s, np.ndarray) and s.ndim == 2:
            return [s[:, i] for i in range(s.shape[1])]
        if isinstance(s, np.ndarray) and s.ndim == 1:
            return [s]
        return [np.asarray(c, dtype=float).ravel() for c in s]


@dataclass
class Row:
    """One grid point: its parameters, the hypotheses evaluated there and its evidence.

    `evidence` is None when a hypothesis fails (NOT_APPLICABLE) or when the row could not be
    evaluated (`reason` says why; INCONCLUSIVE). `extra` are further columns for the table.
    `values` are the claim's symbols at this row (recorded as the row's ``symbols``, so that
    anyone can re-derive its right side from the statement: ``claim.rhs(symbols, t=x)``).
    """

    point: dict[str, Any]
    evidence: ExactCurve | Samples | None = None
    hypotheses: list[Holds] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    unevaluated: bool = False
    values: dict[str, Any] | None = None


def row_for(
    claim: Claim,
    point: Mapping[str, Any],
    params: Mapping[str, Any],
    make: Any,
    extra: Mapping[str, Any] | None = None,
) -> Row:
    """A row whose hypotheses come from `claim` at `params`; `make()` builds the evidence
    only when they hold (so nothing is computed at a point where the theorem says nothing)."""
    hyps = claim.check_hypotheses(params)
    bad = [h for h in hyps if not h.holds]
    if bad:
        reason = "; ".join(f"{h.name} fails ({h.detail})" for h in bad)
        return Row(dict(point), None, hyps, dict(extra or {}), reason)
    return Row(dict(point), make(), hyps, dict(extra or {}))


def hypotheses_summary(claim: Claim | None, rows: Sequence[Row]) -> list[Hypothesis]:
    """Per hypothesis of the claim: at how many rows it holds (it "holds" for the check when
    it holds at one row at least; the rows where it fails are NOT_APPLICABLE)."""
    names: dict[str, list[Holds]] = {}
    for r in rows:
        for h in r.hypotheses:
            names.setdefault(h.name, []).append(h)
    out = []
    for name, hs in names.items():
        ok = sum(h.holds for h in hs)
        bad = [h.detail for h in hs if not h.holds]
        out.append(
            Hypothesis(
                name,
                ok > 0,
                f"holds at {ok} of {len(hs)} grid points"
                + (f"; fails e.g. where {bad[0]}" if bad else ""),
            )
        )
    return out


# ============================================================================ decisions
@dataclass
class _Decided:
    verdict: Verdict
    x: float
    estimate: float
    lcb: float
    ucb: float
    rhs: float
    ratio: float
    max_ratio: float
    score: tuple[bool, float]  # for picking the worst row: (fails, badness), larger is worse
    curve: dict[str, list[float]] | None = None
    n_elements: int = 0
    n_failing: int = 0
    paths: int | None = None


def _ratio(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, a / r, np.where(a > 0, np.inf, np.where(a == 0, 0.0, -np.inf)))


def _decide_exact(ev: ExactCurve) -> _Decided:
    x, lhs, rhs, br = ev.arrays()
    lhs = np.where(np.isnan(lhs), np.inf, lhs)
    rel = np.broadcast_to(np.asarray(ev.tolerance.rel, dtype=float), lhs.shape)
    floor = float(ev.tolerance.floor)
    hi, lo = lhs + br, lhs - br

    def violates(a: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            size = np.maximum(np.maximum(np.abs(a), np.abs(rhs)), floor)
            diff = (a - rhs) if ev.relation == "le" else np.abs(a - rhs)
            return ~np.isfinite(a) | (diff > rel * np.where(np.isfinite(size), size, 0.0))

    if ev.relation == "le":
        fail = violates(lo)
        undecided = violates(hi) & ~fail
    else:  # equality: a bracket containing rhs within tolerance is not a failure
        fail = violates(lhs) & violates(hi) & violates(lo)
        undecided = np.zeros_like(fail)
    ratio = _ratio(lhs, rhs)
    if ev.relation == "eq":
        with np.errstate(invalid="ignore", divide="ignore"):
            size = np.maximum(np.maximum(np.abs(lhs), np.abs(rhs)), floor)
            score = np.abs(lhs - rhs) / (rel * size)
    else:
        score = _ratio(hi, rhs)
    score = np.where(np.isnan(score), np.inf, score)
    j = int(np.argmax(np.where(fail, score, -np.inf))) if fail.any() else int(np.argmax(score))
    verdict = (
        Verdict.FAIL if fail.any() else Verdict.INCONCLUSIVE if undecided.any() else Verdict.PASS
    )
    return _Decided(
        verdict,
        float(x[j]),
        float(lhs[j]),
        float(lo[j]),
        float(hi[j]),
        float(rhs[j]),
        float(ratio[j]),
        float(np.max(ratio)) if ratio.size else math.nan,
        (verdict is Verdict.FAIL, float(score[j])),
        curve={
            "x": x.tolist(),
            "lhs": lhs.tolist(),
            "lo": lo.tolist(),
            "hi": hi.tolist(),
            "rhs": rhs.tolist(),
        }
        if lhs.size > 1
        else None,
        n_elements=int(lhs.size),
        n_failing=int(fail.sum()),
    )


def _tolerance_label(evs: Sequence[ExactCurve]) -> str:
    ev = evs[0]
    rel = np.asarray(ev.tolerance.rel, dtype=float)
    label = (
        f"exact, relative tolerance {float(rel.max()):.1e}"
        + (f" ({ev.tolerance.label})" if ev.tolerance.label else "")
        + (f", floor {ev.tolerance.floor:g}" if ev.tolerance.floor not in (0.0, 1e-300) else "")
    )
    if any(e.bracket is not None for e in evs):
        label += ", discretisation bracket " + (ev.bracket_label or "+-beta")
    return label


def decide_rows(
    check: Check,
    ctx: RunContext,
    rows: Sequence[Row],
    *,
    claim: Claim | None = None,
    method: str | None = None,
    details: Mapping[str, Any] | None = None,
    note: str = "",
    lhs_name: str = "lhs",
    rhs_name: str = "rhs",
    x_name: str = "t",
) -> CheckResult:
    """The verdict of a grid check from its rows (module docstring). `details` are merged
    into the result's details; `note` is appended to the message."""
    rows = list(rows)
    active = [r for r in rows if r.evidence is not None]
    na = [r for r in rows if r.evidence is None and not r.unevaluated]
    unev = [r for r in rows if r.evidence is None and r.unevaluated]
    kinds = {r.evidence.kind for r in active}
    if len(kinds) > 1:
        raise TypeError(f"{check.id}: one evidence kind per check, got {sorted(kinds)}")
    kind = kinds.pop() if kinds else ("exact" if method in (None, "exact") else "monte-carlo")
    method = method or ("exact" if kind == "exact" else "monte-carlo")
    hyps = hypotheses_summary(claim, rows)
    if not active and not unev:
        res = check.make_result(
            ctx,
            Verdict.NOT_APPLICABLE,
            method,
            message="every grid point fails a hypothesis: "
            + "; ".join(f"{_label(r.point)}: {r.reason}" for r in na[:5])
            + (f" (+{len(na) - 5} more)" if len(na) > 5 else ""),
            details={**(details or {}), "grid": [_na_row(r) for r in rows]},
        )
        res.hypotheses = hyps
        return res
    if kind == "exact":
        decided = [_decide_exact(r.evidence) for r in active]
        bound_kind = _tolerance_label([r.evidence for r in active])
        paths = None
        correction = "none (deterministic comparisons; every row must hold)"
    else:
        decided, bound_kind, paths, correction = _decide_samples(ctx, [r.evidence for r in active])
    grid: list[dict[str, Any]] = []
    names = set(claim.symbols) if claim is not None else set()
    for r, d in zip(active, decided):
        symbols = {k: v for k, v in (r.values or {}).items() if k in names and np.ndim(v) == 0}
        grid.append(
            {
                **r.point,
                **r.extra,
                **({"symbols": symbols} if symbols else {}),
                "x": d.x,
                "estimate": d.estimate,
                "lcb": d.lcb,
                "ucb": d.ucb,
                "rhs": d.rhs,
                "ratio": d.ratio,
                "max_ratio": d.max_ratio,
                "elements": d.n_elements,
                "failing_elements": d.n_failing,
                "verdict": d.verdict.value,
                "reason": _row_reason(d, lhs_name, rhs_name, x_name),
            }
        )
    grid += [_na_row(r) for r in unev] + [_na_row(r) for r in na]
    n_fail = sum(d.verdict is Verdict.FAIL for d in decided)
    n_inc = sum(d.verdict is Verdict.INCONCLUSIVE for d in decided) + len(unev)
    verdict = Verdict.FAIL if n_fail else Verdict.INCONCLUSIVE if n_inc else Verdict.PASS
    w = max(range(len(decided)), key=lambda i: decided[i].score) if decided else 0
    worst = decided[w] if decided else None
    ratios = [d.max_ratio for d in decided if math.isfinite(d.max_ratio)]
    summary = {
        "kind": kind,
        "bound": bound_kind,
        "multiple_testing": correction,
        "rows": len(rows),
        "applicable_rows": len(active),
        "failing_rows": n_fail,
        "inconclusive_rows": n_inc,
        "not_applicable_rows": len(na),
        "unevaluated_rows": len(unev),
        "elements": int(sum(d.n_elements for d in decided)),
        "failing_elements": int(sum(d.n_failing for d in decided)),
        "worst_row": grid[w] if decided else None,
        "max_ratio": max(ratios) if ratios else None,
    }
    figures: list[dict[str, Any]] = []
    if worst is not None and worst.curve is not None:
        figures.append(
            {
                "kind": "curve",
                "title": f"worst grid point: {_label(active[w].point)}",
                "xlabel": x_name,
                "ylabel": lhs_name,
                "band": "discretisation bracket"
                if kind == "exact" and any(r.evidence.bracket is not None for r in active)
                else ("confidence band" if kind == "monte-carlo" else "exact"),
                **worst.curve,
            }
        )
    if len(decided) > 1:
        figures.append(
            {
                "kind": "ratio",
                "title": f"max lhs/rhs per grid point (<= 1 claimed; {n_fail} failing)",
                "ratio": [d.max_ratio for d in decided],
                "verdict": [d.verdict.value for d in decided],
                "labels": [_label(r.point) for r in active],
            }
        )
    msg = (
        f"{n_fail} of {len(active)} applicable grid points violate {lhs_name} "
        f"{'<=' if kind != 'exact' or active[0].evidence.relation == 'le' else '=='} {rhs_name}"
    )
    if worst is not None:
        msg += (
            f"; worst {_label(active[w].point)}"
            + (f", {x_name} = {worst.x:.4g}" if worst.n_elements > 1 else "")
            + f": {lhs_name} {worst.estimate:.6g}"
            + (f" in [{worst.lcb:.6g}, {worst.ucb:.6g}]" if worst.lcb != worst.ucb else "")
            + f" vs {rhs_name} {worst.rhs:.6g} (ratio {worst.ratio:.4g})"
        )
    if unev:
        msg += f"; {len(unev)} grid points could not be evaluated ({unev[0].reason})"
    if na:
        msg += f"; {len(na)} grid points NOT APPLICABLE ({na[0].reason})"
    if note:
        msg += ". " + note
    res = check.make_result(
        ctx,
        verdict,
        method,
        estimate=worst.estimate if worst else None,
        rhs=worst.rhs if worst else None,
        confidence_bound=(worst.lcb if verdict is Verdict.FAIL else worst.ucb) if worst else None,
        bound_kind=bound_kind,
        alpha=ctx.alpha if kind == "monte-carlo" else None,
        paths=paths,
        details={**(details or {}), "grid": grid, "evidence": summary, "figures": figures},
        message=msg,
    )
    res.hypotheses = hyps
    equality = kind == "exact" and bool(active) and active[0].evidence.relation == "eq"
    if decided and not equality and worst is not None:
        tight = max(
            range(len(decided)),
            key=lambda i: decided[i].max_ratio if math.isfinite(decided[i].max_ratio) else -1,
        )
        if all(d.rhs > 0 for d in decided):
            res.tightness = float(decided[tight].max_ratio)
            res.worst_point = {**active[tight].point, "x": decided[tight].x}
    return res


def _decide_samples(
    ctx: RunContext, evs: Sequence[Samples]
) -> tuple[list[_Decided], str, int, str]:
    cols, rhs, owner = [], [], []
    for i, ev in enumerate(evs):
        c = ev.columns()
        r = np.broadcast_to(np.asarray(ev.rhs, dtype=float), (len(c),))
        cols += c
        rhs += list(r)
        owner += [i] * len(c)
    kinds = {(ev.bound, ev.value_range) for ev in evs}
    if len(kinds) > 1:
        raise TypeError(f"one bound per check, got {kinds}")
    bound, vr = kinds.pop()
    g = stats.grid_decide(cols, np.asarray(rhs), ctx.alpha, bound, vr)
    owner_a = np.asarray(owner)
    out = []
    for i, ev in enumerate(evs):
        idx = np.flatnonzero(owner_a == i)
        ratio = _ratio(g.estimate[idx], g.rhs[idx])
        rej = g.rejected[idx]
        if rej.any():
            v = Verdict.FAIL
            j = idx[int(np.argmin(np.where(rej, g.p_values[idx], np.inf)))]
        else:
            v = Verdict.PASS if np.all(g.ucb[idx] <= g.rhs[idx]) else Verdict.INCONCLUSIVE
            j = idx[int(np.argmax(g.ucb[idx] - g.rhs[idx]))]
        if g.worst in idx:  # the family's worst test (Holm: smallest rejected p; else max ucb-rhs)
            j = g.worst
        x = np.arange(idx.size, dtype=float) if ev.x is None else np.asarray(ev.x, float)
        pos = int(np.flatnonzero(idx == j)[0])
        # the row holding the family's worst test is the worst row (as `stats.grid_decide`)
        score = (v is Verdict.FAIL, float(j == g.worst))
        out.append(
            _Decided(
                v,
                float(x[pos]),
                float(g.estimate[j]),
                float(g.lcb[j]),
                float(g.ucb[j]),
                float(g.rhs[j]),
                float(_ratio(g.estimate[[j]], g.rhs[[j]])[0]),
                float(np.max(ratio)),
                score,
                curve={
                    "x": x.tolist(),
                    "lhs": g.estimate[idx].tolist(),
                    "lo": g.lcb[idx].tolist(),
                    "hi": g.ucb[idx].tolist(),
                    "rhs": g.rhs[idx].tolist(),
                }
                if idx.size > 1
                else None,
                n_elements=int(idx.size),
                n_failing=int(rej.sum()),
                paths=int(min(g.n[k] for k in idx)),
            )
        )
    label = stats.BOUND_KINDS[bound] + ", Holm over grid"
    return out, label, int(min(g.n)) if g.n else 0, g.correction


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items()
    )


def _row_reason(d: _Decided, lhs: str, rhs: str, x: str) -> str:
    where = f" at {x} = {d.x:.4g}" if d.n_elements > 1 else ""
    if d.verdict is Verdict.FAIL:
        return f"{lhs} {d.lcb:.4g} > {rhs} {d.rhs:.4g}{where}"
    if d.verdict is Verdict.INCONCLUSIVE:
        return f"{rhs} {d.rhs:.4g} inside [{d.lcb:.4g}, {d.ucb:.4g}]{where}"
    return ""


def _na_row(r: Row) -> dict[str, Any]:
    return {
        **r.point,
        **r.extra,
        "verdict": Verdict.INCONCLUSIVE.value if r.unevaluated else Verdict.NOT_APPLICABLE.value,
        "reason": r.reason,
    }
