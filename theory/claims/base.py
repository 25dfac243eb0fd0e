r"""Claims as data: each result of the paper stated once, in the paper's symbols.

A :class:`Claim` is what a theorem says, independent of how it is checked:

- its **hypotheses**, predicates over named parameters that return whether they hold and why
  (:class:`Condition`);
- its **right-hand side**, a SymPy expression in the paper's symbols (``tau``, ``delta``,
  ``mu``, ``C5`` …); derived constants (``C5``, ``H``, …) are symbols that the claim's
  `derived` function computes from :mod:`theory.constants`;
- the **left-hand side** it bounds, in words and LaTeX (what an evaluator must compute);
- for existence claims ("there exist $C_1, C_2$"), the **form**: a sum of free constants times
  basis terms (:class:`RateTerm`), each a SymPy expression;
- its **domain**: the parameter box where the hypotheses can hold (:class:`Domain`), with wide,
  log-scaled bounds, degenerate corners included.

Checks in ``verify/``, the user-loss applicability table and user claims read the statement
from here (``theory.claims.get("thm4.2")``); nothing in ``verify/`` re-types a bound or a
hypothesis. The numeric right side is generated from the expression (`Claim.rhs`), so the
printed statement and the evaluated bound cannot drift apart.

Glossary: `id` short claim id (``"thm4.1"``) · `result` the paper's name (``"Thm 4.1"``) ·
`symbols` the free symbols of `rhs_expr` · `derived` parameters → values of derived symbols.

Adding a theorem: one module here (the statement: hypotheses, rhs expression, domain) plus a
check declaration in ``verify/checks/`` (its rows and evidence); see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from theory.errors import InputError

__all__ = [
    "Claim",
    "ClaimInputError",
    "Condition",
    "Domain",
    "Holds",
    "Param",
    "RateTerm",
    "fmt_num",
    "seq",
]


class ClaimInputError(InputError):
    """A claim was asked for an unknown id, or evaluated with a missing parameter."""


@dataclass(frozen=True)
class Holds:
    """A hypothesis evaluated at one parameter point: its name, whether it holds, the numbers."""

    name: str
    holds: bool
    detail: str = ""


@dataclass(frozen=True)
class Condition:
    """A hypothesis of a claim as a predicate over named parameters.

    Arguments:
        name: the hypothesis as written in the paper, e.g. ``"eta L (l+1) <= 1"``.
        test: ``test(params) -> (holds, detail)``; `detail` gives the numbers behind it.
        needs: the parameter names `test` reads (for documentation and the search).
    """

    name: str
    test: Callable[[Mapping[str, Any]], tuple[bool, str]]
    needs: tuple[str, ...] = ()

    def __call__(self, params: Mapping[str, Any]) -> Holds:
        missing = [k for k in self.needs if k not in params]
        if missing:
            return Holds(self.name, False, f"not evaluable: missing {', '.join(missing)}")
        holds, detail = self.test(params)
        return Holds(self.name, bool(holds), detail)


@dataclass(frozen=True)
class Param:
    """One coordinate of a claim's domain.

    Arguments:
        name: the paper's symbol (``"tau"``, ``"kappa"``, ``"b"``).
        low, high: the closed range (``math.inf`` allowed for `high` where the claim has no
            upper limit; the search then uses `search_high`).
        log: log-scaled (the parameter spans decades).
        integer: integer-valued (``K``, ``b``, ``l``).
        note: why the bounds are where they are (a hypothesis, a degenerate corner).
    """

    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    note: str = ""

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Domain:
    """The parameter box of a claim: every point where its hypotheses can hold, corners
    included. The hypotheses themselves still decide per point (a box point may violate
    one; it is then NOT APPLICABLE, never evaluated)."""

    params: tuple[Param, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def contains(self, point: Mapping[str, Any]) -> bool:
        return all(p.contains(float(point[p.name])) for p in self.params if p.name in point)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ClaimInputError("name", name, "not a domain parameter", f"use {self.names()}")


@dataclass(frozen=True)
class RateTerm:
    r"""One term $C_i\varphi_i$ of an existence claim: the free constant's name and
    $\varphi_i$ as a SymPy expression in the paper's symbols (``K``, ``b``, ``l``, ``L``;
    the claimed exponents enter as the symbols ``e_K``, ``e_b``)."""

    constant: str
    expr: sp.Expr

    def evaluate(self, values: Mapping[str, float]) -> float:
        """$\\varphi_i$ at `values` (every free symbol of `expr` must be given)."""
        return float(_lambdified(self.expr)(**_pick(self.expr, values)))


@dataclass(frozen=True)
class Claim:
    r"""One result of the paper at one level, stated once (module docstring).

    Arguments:
        id: short id, e.g. ``"thm4.2"``; proof steps append the step: ``"thm4.1/mean"``.
        result: the paper's name, e.g. ``"Thm 4.2"``.
        where: section / equation, e.g. ``"§4.2, Theorem 4.2"``.
        statement: the claim in words (plain text).
        latex: the claim in LaTeX (no surrounding ``$``).
        lhs: the left side in words, e.g. ``"E||X(t) - x*||^2"``.
        lhs_latex: the left side in LaTeX.
        relation: ``"le"`` (lhs ≤ rhs) or ``"eq"``.
        rhs_expr: the right side (explicit claims), a SymPy expression.
        terms: the form $\sum_i C_i\varphi_i$ (existence claims; `rhs_expr` is then the sum).
        hypotheses: the hypotheses as :class:`Condition`.
        domain: where the hypotheses can hold (:class:`Domain`).
        derived: ``derived(params) -> {symbol: value}`` for derived constants (from
            :mod:`theory.constants`); default: none.
        readings: name → description of each defensible reading where the paper leaves a
            choice open; `literal` names the most literal one.
        conventions: the SPEC §1 conventions this statement relies on.
        fixed: symbols fixed by `specialise` (Cor 4.3 has ``{"tau": 0}``); a check of this
            claim evaluates its rows there.
    """

    id: str
    result: str
    where: str
    statement: str
    latex: str
    lhs: str
    lhs_latex: str
    rhs_expr: sp.Expr
    relation: str = "le"
    terms: tuple[RateTerm, ...] = ()
    hypotheses: tuple[Condition, ...] = ()
    domain: Domain = field(default_factory=Domain)
    derived: Callable[[Mapping[str, Any]], Mapping[str, float]] | None = None
    readings: Mapping[str, str] = field(default_factory=dict)
    literal: str = ""
    conventions: tuple[str, ...] = ()
    fixed: Mapping[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ hypotheses
    def check_hypotheses(self, params: Mapping[str, Any]) -> list[Holds]:
        """Every hypothesis evaluated at `params`."""
        return [h(params) for h in self.hypotheses]

    def applicable(self, params: Mapping[str, Any]) -> tuple[bool, str]:
        """(all hypotheses hold, the reason of the first that fails)."""
        for h in self.check_hypotheses(params):
            if not h.holds:
                return False, f"{h.name} fails" + (f" ({h.detail})" if h.detail else "")
        return True, ""

    # ------------------------------------------------------------------ right side
    @property
    def symbols(self) -> tuple[str, ...]:
        """The free symbols of the right side (sorted names)."""
        return tuple(sorted(str(s) for s in self.rhs_expr.free_symbols))

    def values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """`params` with the derived constants added (`derived(params)` wins no ties: a
        parameter given explicitly is kept)."""
        out = dict(self.derived(params)) if self.derived is not None else {}
        out.update(params)
        return out

    def rhs(self, params: Mapping[str, Any], **arrays: Any) -> Any:
        r"""The right side evaluated numerically (NumPy-broadcastable in `arrays`, e.g.
        ``t=np.array([...])``), generated from `rhs_expr`."""
        vals = self.values({**params, **arrays})
        return _lambdified(self.rhs_expr)(**_pick(self.rhs_expr, vals, self.id))

    def rhs_exact(self, params: Mapping[str, Any], dps: int = 30) -> sp.Float:
        """The right side by SymPy substitution at `dps` digits (an independent evaluation,
        used by the tests and to confirm a counterexample at higher precision)."""
        vals = self.values(params)
        subs = {s: sp.Float(repr(float(vals[str(s)])), dps) for s in self.rhs_expr.free_symbols}
        return sp.N(self.rhs_expr.subs(subs), dps)

    def specialise(self, id: str, result: str, **fixed: float) -> Claim:
        """The claim with some symbols fixed (e.g. Cor 4.3 is Thm 4.2 at ``tau=0``): the
        right side and the form are substituted, the domain loses those coordinates."""
        syms = {str(s): s for s in self.rhs_expr.free_symbols}
        for term in self.terms:
            syms.update({str(s): s for s in term.expr.free_symbols})
        subs = {syms[k]: sp.nsimplify(v) for k, v in fixed.items() if k in syms}
        derived = self.derived

        def derived_fixed(p: Mapping[str, Any]) -> Mapping[str, float]:
            return derived({**p, **fixed}) if derived is not None else {}

        return dataclasses.replace(
            self,
            id=id,
            result=result,
            rhs_expr=self.rhs_expr.subs(subs),
            terms=tuple(RateTerm(t.constant, t.expr.subs(subs)) for t in self.terms),
            domain=Domain(tuple(p for p in self.domain.params if p.name not in fixed)),
            derived=derived_fixed if derived is not None else None,
            fixed={**self.fixed, **fixed},
        )


def _pick(expr: sp.Expr, values: Mapping[str, Any], who: str = "") -> dict[str, Any]:
    names = sorted(str(s) for s in expr.free_symbols)
    missing = [n for n in names if n not in values]
    if missing:
        raise ClaimInputError(
            "params",
            sorted(values),
            f"claim {who} needs {missing} to evaluate its right side",
            f"pass {missing}",
        )
    return {n: values[n] for n in names}


_LAMBDIFIED: dict[sp.Expr, Callable[..., Any]] = {}


def _lambdified(expr: sp.Expr) -> Callable[..., Any]:
    """`sympy.lambdify` of `expr` over its free symbols by name (NumPy), cached."""
    fn = _LAMBDIFIED.get(expr)
    if fn is None:
        names = sorted(expr.free_symbols, key=str)
        raw = sp.lambdify(names, expr, modules="numpy")
        order = [str(s) for s in names]

        def fn(**kw: Any) -> Any:
            return raw(*(kw[n] for n in order))

        _LAMBDIFIED[expr] = fn
    return fn


def fmt_num(x: float) -> str:
    """A short number for a hypothesis detail (``4.1e-05``, ``0.25``, ``inf``)."""
    return f"{x:.4g}" if math.isfinite(x) else str(x)


def seq(x: Any) -> Sequence[Any]:
    """`x` as a tuple (scalars become 1-tuples)."""
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)
