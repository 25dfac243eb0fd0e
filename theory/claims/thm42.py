r"""Theorem 4.2 (energy function, §4.2) and Corollary 4.3 (its $\tau = 0$ row).

Glossary: `t` time ($t>1$) · `delta` $\delta$ · `tau` $\tau$ (bound of $\theta(t)$) · `mu`,
`L` strong convexity and smoothness · `D` radius of the ball $d(x_0, D)$ containing the paths ·
`H` the constant with $H\ge\mathbb E\operatorname{tr}(\sigma\sigma^\top)+2\mu LD^2$ ·
`tr_sigma` $\mathbb E\operatorname{tr}(\sigma\sigma^\top)$ · `exit_ucb` upper confidence bound
of the probability that a path leaves the ball · `eps_max` the largest exit probability
accepted as "the paths stay in the ball".

**Claim (Thm 4.2).** For $F$ $L$-smooth and $\mu$-strongly convex, $\eta_k = 1/(\mu k)$,
$X(t)\in d(x_0, D)$ for all $t$ and $H\ge\mathbb E\operatorname{tr}(\sigma\sigma^\top)+2\mu
LD^2$: for every $t>1$
$$\mathbb E\|X(t)-x^*\|^2\le\frac{(\delta+1)(H+2L^2D^2\tau)\ln t}{(t-1)\mu^2}.$$
**Cor 4.3** is the same statement at $\tau = 0$ (`THM42.specialise`).

The symbols are those of :mod:`theory.energy`, whose `proof_steps` state the proof's steps
(first equality, first inequality, "≤ 0", $\mathbb E\mathcal E(t)\le\mathcal E(1)$).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sympy as sp

from theory import energy
from theory.claims.base import Claim, Condition, Domain, Param

__all__ = ["CLAIMS", "COR43", "THM42", "h_min"]

t, tau, delta, mu, L, D, H = (
    energy.t,
    energy.tau,
    energy.delta,
    energy.mu,
    energy.L,
    energy.D,
    energy.H,
)
tr_sigma = sp.Symbol("tr_sigma", nonnegative=True)

#: the smallest admissible H (SPEC §1: the default)
H_MIN = tr_sigma + 2 * mu * L * D**2


def h_min(p: Mapping[str, Any]) -> float:
    r"""$H_{\min} = \mathbb E\operatorname{tr}(\sigma\sigma^\top) + 2\mu LD^2$."""
    return float(p["tr_sigma"]) + 2 * float(p["mu"]) * float(p["L"]) * float(p["D"]) ** 2


def _derived(p: Mapping[str, Any]) -> Mapping[str, float]:
    """`H` defaults to $H_{\\min}$ (SPEC §1)."""
    if "H" in p or not all(k in p for k in ("tr_sigma", "mu", "L", "D")):
        return {}
    return {"H": h_min(p)}


def _strongly_convex(p: Mapping[str, Any]) -> tuple[bool, str]:
    m = float(p["mu"])
    lo = float(p.get("lambda_min", m))
    return 0 < m <= lo * (1 + 1e-12), f"mu = {m:.6g}, lambda_min(Hessian) = {lo:.6g}"


def _smooth(p: Mapping[str, Any]) -> tuple[bool, str]:
    Lv = float(p["L"])
    return math.isfinite(Lv) and Lv > 0, f"L = {Lv:.6g}"


def _h_admissible(p: Mapping[str, Any]) -> tuple[bool, str]:
    need = h_min(p)
    Hv = float(p.get("H", need))
    return Hv >= need * (1 - 1e-12), f"H = {Hv:.6g}, E tr + 2 mu L D^2 = {need:.6g}"


def _in_ball(p: Mapping[str, Any]) -> tuple[bool, str]:
    if "exit_ucb" not in p:
        return True, "D given, containment assumed"
    u, m = float(p["exit_ucb"]), float(p.get("eps_max", 0.05))
    return u <= m, f"P(exit) upper bound {u:.3g} vs eps_max {m:g}, D = {float(p['D']):.4g}"


HYPOTHESES = (
    Condition("F L-smooth", _smooth, needs=("L",)),
    Condition(
        "F is mu-strongly convex for the mu of the schedule (mu <= lambda_min)",
        _strongly_convex,
        needs=("mu",),
    ),
    Condition(
        "H >= E tr(sigma sigma^T) + 2 mu L D^2", _h_admissible, needs=("tr_sigma", "mu", "L", "D")
    ),
    Condition("X(t) in d(x0, D) for all t", _in_ball, needs=("D",)),
    Condition("t > 1 and theta(t) <= tau", lambda p: (True, "by construction")),
)

THM42 = Claim(
    id="thm4.2",
    result="Thm 4.2",
    where="§4.2, Theorem 4.2",
    statement="E||X(t)-x*||^2 <= (delta+1)(H+2L^2D^2 tau) ln t / ((t-1) mu^2) for all t > 1",
    latex=r"\mathbb E\|X(t)-x^*\|^2\le\frac{(\delta+1)(H+2L^2D^2\tau)\ln t}{(t-1)\mu^2},\ t>1",
    lhs="E||X(t)-x*||^2",
    lhs_latex=r"\mathbb E\|X(t)-x^*\|^2",
    rhs_expr=energy.K_constant(False) * sp.log(t) / ((t - 1) * mu**2),
    hypotheses=HYPOTHESES,
    domain=Domain(
        (
            Param("kappa", 1.0, 1e3, log=True, note="condition number L/mu"),
            Param("tau", 0.0, 30.0, note="tau = 0 is Cor 4.3; long delays against 1/mu"),
            Param("delta", 1e-2, 10.0, log=True),
            Param("noise", 0.0, 100.0, note="sigma = 0: deterministic delayed dynamics"),
            Param("t", 1.0, math.inf, note="t > 1"),
        )
    ),
    derived=_derived,
    readings={
        "sigma-at-x-star": "E tr(sigma sigma^T) = tr Sigma(x*)/b (SPEC §1)",
        "sup-trace": "E tr(sigma sigma^T) = sup_k E tr Sigma(x_k)/b along the iterates",
    },
    literal="sigma-at-x-star",
)

COR43 = THM42.specialise("cor4.3", "Cor 4.3", tau=0)
COR43 = Claim(
    **{
        **{f: getattr(COR43, f) for f in COR43.__dataclass_fields__},
        "where": "§4.2, Corollary 4.3, Eq. (8)",
        "statement": "E||X(t)-x*||^2 <= (delta+1) H ln t / ((t-1) mu^2) for all t > 1 (tau = 0)",
        "latex": r"\mathbb E\|X(t)-x^*\|^2\le\frac{(\delta+1)H\ln t}{(t-1)\mu^2},\ t>1",
    }
)

CLAIMS = (THM42, COR43)
