r"""Looking where a claim breaks: a seeded global search over the claim's domain (SPEC §6).

The search maximises $\max_x \text{lhs}/\text{rhs}$ over the claim's :class:`~theory.claims.base.
Domain` with scipy's `differential_evolution` (population based, derivative free, handles
integer coordinates through `integrality`, reproducible from a seed, and evaluates a whole
generation through a map — so the evaluations go to the run's executor with the same numbers
for any number of workers). Log-scaled coordinates are searched in $\log_{10}$.

The objective is an **exact evaluator** supplied by the check (a moment recursion, a closed
form): `objective(point) -> ratio` with ratio 0 where a hypothesis fails (the theorem says
nothing there, so it cannot be a counterexample). An exact point is never believed from the
search alone: the check re-evaluates the worst point as a grid row (the engine's tolerance
decides), so a FAIL comes from the same decision as every other row.

Why differential evolution: the objectives are cheap-to-moderate, non-smooth (maxima over a
time grid, stability boundaries) and mixed integer; DE is in SciPy (no new dependency), is
seeded, and its `workers` map lets a generation run on the executor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution

from theory.claims.base import ClaimInputError, Domain, Param

__all__ = ["SearchResult", "search_domain"]


@dataclass
class SearchResult:
    """The outcome of a search: the best point, its ratio, the budget used and the best few."""

    best_point: dict[str, Any]
    best_ratio: float
    evaluations: int
    seed: int
    method: str
    top: list[dict[str, Any]] = field(default_factory=list)

    def to_details(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "seed": self.seed,
            "evaluations": self.evaluations,
            "best_ratio": self.best_ratio,
            "best_point": self.best_point,
            "top": self.top,
        }


def _bounds(params: Sequence[Param]) -> list[tuple[float, float]]:
    out = []
    for p in params:
        lo, hi = float(p.low), float(p.high)
        if not math.isfinite(hi):
            raise ClaimInputError(
                p.name,
                hi,
                "the search needs a finite upper bound",
                "pass overrides={name: (lo, hi)}",
            )
        out.append((math.log10(lo), math.log10(hi)) if p.log else (lo, hi))
    return out


def _decode(params: Sequence[Param], z: np.ndarray) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for p, v in zip(params, z):
        x = 10.0 ** float(v) if p.log else float(v)
        if p.integer:
            x = int(min(max(round(x), math.ceil(p.low)), math.floor(p.high)))
        point[p.name] = x
    return point


class _Objective:
    """Picklable ``z -> -ratio`` for `differential_evolution` (minimises)."""

    def __init__(self, params: Sequence[Param], fixed: Mapping[str, Any], fn: Callable) -> None:
        self.params, self.fixed, self.fn = list(params), dict(fixed), fn

    def __call__(self, z: np.ndarray) -> float:
        point = {**self.fixed, **_decode(self.params, z)}
        r = float(self.fn(point))
        return -r if math.isfinite(r) else -1e300


def search_domain(
    objective: Callable[[dict[str, Any]], float],
    domain: Domain,
    *,
    names: Sequence[str],
    fixed: Mapping[str, Any] | None = None,
    overrides: Mapping[str, tuple[float, float]] | None = None,
    seed: int,
    budget: int,
    map_fn: Callable[..., Any] | None = None,
) -> SearchResult:
    r"""Maximise `objective(point)` over the coordinates `names` of `domain` (others `fixed`).

    `overrides` narrows a coordinate's range (e.g. the evaluator's own limits) — the report
    records it. `budget` bounds the evaluations: population $\max(5, \lfloor\text{budget}/
    (4\,\text{dim})\rfloor)$ per coordinate, generations so that the total stays within the
    budget. Deterministic for a given seed, whatever `map_fn` (a map over a generation).
    """
    params = []
    for n in names:
        p = domain[n]
        if overrides and n in overrides:
            lo, hi = overrides[n]
            p = Param(p.name, lo, hi, p.log, p.integer, p.note)
        params.append(p)
    dim = len(params)
    popsize = max(5, budget // (4 * dim))
    maxiter = max(0, budget // (popsize * dim) - 1)
    fn = _Objective(params, fixed or {}, objective)
    seen: list[tuple[float, dict[str, Any]]] = []

    def mapper(f: Callable, zs: Any) -> list[float]:
        zs = [np.asarray(z) for z in zs]
        vals = list(map_fn(f, zs)) if map_fn is not None else [f(z) for z in zs]
        for z, v in zip(zs, vals):
            seen.append((-v, {**(fixed or {}), **_decode(params, z)}))
        return vals

    res = differential_evolution(
        fn,
        _bounds(params),
        seed=int(seed),
        popsize=popsize,
        maxiter=maxiter,
        tol=0.0,
        polish=False,
        init="latinhypercube",  # sobol would round the population up to a power of 2
        integrality=[p.integer and not p.log for p in params],
        workers=mapper,
        updating="deferred",
    )
    best = {**(fixed or {}), **_decode(params, res.x)}
    seen.sort(key=lambda t: -t[0])
    top, keys = [], set()
    for r, p in seen:
        k = tuple(sorted(p.items()))
        if k not in keys:
            keys.add(k)
            top.append({**p, "ratio": r})
        if len(top) == 5:
            break
    return SearchResult(
        best, float(-res.fun), len(seen), int(seed), "scipy differential_evolution", top
    )
