r"""Theorem 4.1 (moment estimation for linear regression, Eq. (7), $\theta(t)=\tau$): checks R6.

The statement (hypotheses, right side, domain) is :mod:`theory.claims.thm41`; the shared
machinery (design, setting, exact moments, tolerance) is :mod:`verify.checks._r6`; the
evidence engine :mod:`verify.evidence` decides. This file declares the rows.

**Problem.** Least squares $F(x) = \frac1{2n}\|Ax-B\|^2$ (Section 4) and its SDDE, Eq. (7):
$dX(t) = -(\tilde AX(t-\tau) - \tilde B)\,dt + \sqrt\eta\,\sigma\,dB(t)$, $X = \xi$ on $[-\tau,0]$.

**Claim (Theorem 4.1).** If $V<0$, then for $\lambda\in(0,-V)$ and $\eta = \epsilon/\tau^2$
$$\mathbb E\|X(t)-x^*\|^2 \le C_5e^{-2\lambda(t-\tau)} + C_6\frac{\epsilon}{\lambda\tau^2}.$$
*Our reading:* for every $\lambda\in(0,-V)$ and every $t\ge0$.

**Checks** (all exact or symbolic; Monte Carlo only as a sanity row):

- `R6-V`, `R6-proof-decomposition` (:mod:`verify.checks._r6_identities`).
- `R6-as-stated` (exact): exact $\mathbb E\|X(t)-x^*\|^2$ of Eq. (7) (:mod:`numerics.linear_sdde`,
  via $\Gamma$; Küchler–Mensch at $t=\infty$) vs the bound over $t$ and a grid in
  $\kappa(\tilde A)$, $\tau$, $\lambda$, $\epsilon$, $b$.
- `R6-as-applied`, `R6-discussion` (:mod:`verify.checks._r6_applied`).
- `R6-proof-mean` (a), `R6-proof-variance` (b), `R6-proof-combination` ((a), (b) in (c) vs
  display (d)), `R6-proof-final` ((d) = (e), SymPy and exact over the grid).

Grid points whose hypothesis fails are NOT APPLICABLE rows; a point where $c_\lambda$ cannot be
computed is an INCONCLUSIVE row. `rhs_scale` (default 1) multiplies every claimed right side
(to feed falsified claims through the same machinery).

Run alone: ``python -m verify.checks.r6_thm41 [--profile full] [--only R6-as-stated]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import sympy as sp

from numerics.linear_sdde import linear_sdde_moments
from numerics.moments import linear_sdde_em_moments
from numerics.problems import sqrt_psd
from numerics.sdde import simulate_linear_sdde
from theory.claims import thm41 as claims
from verify import stats
from verify.checks import _r6
from verify.checks._r6 import (
    CONVENTIONS,
    FLOAT_EPS,
    R6InputError,
    rhs_scale,
    stated_points,
)
from verify.checks._r6_applied import Thm41AsApplied, Thm41Discussion
from verify.checks._r6_identities import Thm41ProofDecomposition, Thm41V
from verify.checks.base import GridCheck, profile
from verify.context import RunContext
from verify.evidence import Row, Tolerance
from verify.runner import run_alone
from verify.verdict import CheckResult, Verdict

__all__ = [
    "CHECKS",
    "R6InputError",
    "Thm41AsApplied",
    "Thm41AsStated",
    "Thm41Discussion",
    "Thm41ProofCombination",
    "Thm41ProofDecomposition",
    "Thm41ProofFinal",
    "Thm41ProofMean",
    "Thm41ProofVariance",
    "Thm41V",
]

_STATED_QUICK = dict(
    d=3,
    n=40,
    data_seed=20180706,
    kappas=(1.0, 100.0),
    a_taus=(0.05, 1.0, 1.55, 1.6),
    lam_fracs=(0.02, 0.5, 0.98),
    epsilons=(1e-1, 1e-4),
    bs=(1,),
    n_t=14,
    relaxations=6.0,
    horizon_taus=40.0,
    rhs_scale=1.0,
    mc_paths=2000,
    mc_substeps_per_tau=8,
    mc_horizon_taus=3.0,
)
_STATED_FULL = dict(
    _STATED_QUICK,
    d=5,
    n=100,
    kappas=(1.0, 10.0, 1000.0),
    a_taus=(0.01, 0.05, 0.3, 1.0, 1.4, 1.55, 1.5707, 1.6),
    lam_fracs=(0.001, 0.02, 0.25, 0.5, 0.9, 0.99),
    epsilons=(1e-1, 1e-2, 1e-4),
    bs=(1, 16),
    n_t=40,
    horizon_taus=150.0,
    mc_paths=20000,
)

#: closed-form float expressions on both sides (no moments): a flat relative tolerance
_CLOSED_FORM = Tolerance(1e3 * FLOAT_EPS, 1e-300, "1e3 eps: both sides closed-form floats")


class _StatedRows(GridCheck):
    """Rows of the as-stated grid: `lhs(point)` against the statement's right side."""

    conventions = CONVENTIONS
    tolerance: ClassVar[Tolerance | None] = None  # None: the exact-moments tolerance

    def lhs(self, sp_: _r6.StatedPoint) -> np.ndarray:
        raise NotImplementedError

    def rows(self, ctx: RunContext) -> list[Row]:
        scale = rhs_scale(ctx.params)
        out = []
        for pt in stated_points(ctx.params):
            if pt.values is None:
                out.append(pt.row(np.zeros(0), 0.0))
                continue
            rhs = scale * self.statement.rhs(pt.values, t=pt.t)
            out.append(pt.row(self.lhs(pt), rhs, self.tolerance))
        return out


class Thm41AsStated(_StatedRows):
    r"""Level 1: exact $\mathbb E\|X(t)-x^*\|^2$ of Eq. (7) vs $C_5e^{-2\lambda(t-\tau)} +
    C_6\epsilon/(\lambda\tau^2)$ on the whole grid, including $t=\infty$ (Küchler–Mensch). The
    same rows against display (d) are summarised in `details["intermediate"]`; a Monte Carlo
    sanity row (simulated SDDE vs exact EM law vs exact continuous law) in
    `details["mc_sanity"]`."""

    id = "R6-as-stated"
    level = "as-stated"
    statement = claims.THM41
    names = ("E||X(t)-x*||^2", "bound", "t")
    quick = profile(**_STATED_QUICK)
    full = profile(**_STATED_FULL)

    def lhs(self, pt: _r6.StatedPoint) -> np.ndarray:
        return pt.mse

    def extra_details(self, ctx: RunContext, rows: list[Row]) -> dict[str, Any]:
        scale = rhs_scale(ctx.params)
        viol, ratio, n = 0, 0.0, 0
        for pt in stated_points(ctx.params):
            if pt.values is None:
                continue
            inter = scale * claims.INTERMEDIATE.rhs(pt.values, t=pt.t)
            viol += int(np.sum(pt.mse > inter * (1 + pt.tolerance.rel)))
            ratio = max(ratio, float(np.max(pt.mse / inter)))
            n += pt.t.size
        return {
            "intermediate": {
                "claim": "E||X(t)-x*||^2 <= display (d) (proof, before eta = eps/tau^2)",
                "elements": n,
                "violations": viol,
                "max_ratio": ratio,
            },
            "mc_sanity": _mc_sanity(ctx),
            "t_infinity_rows": "mse(inf) = sum_i S_ii (1+sin l_i tau)/(2 l_i cos l_i tau) "
            "(Kuchler-Mensch), bound(inf) = C6 eps/(lam tau^2) = a2",
        }


def _mc_sanity(ctx: RunContext) -> dict[str, Any]:
    """A small simulation of Eq. (7) at the first applicable setting, compared with the exact
    law of the same Euler–Maruyama scheme (sampling error only) and the exact continuous law
    (discretisation bias). Never used for the verdict. Student-t interval (asymptotic)."""
    p = ctx.params
    paths = int(p.get("mc_paths", 0))
    if paths < 2:
        return {"skipped": "mc_paths < 2"}
    s = next((s for s in _r6.settings(p) if s.applicable), None)
    if s is None:
        return {"skipped": "no applicable setting"}
    eps = _r6.floats(p, "epsilons")[0]
    eta = eps / s.tau**2
    m = int(p["mc_substeps_per_tau"])
    delta = s.tau / m
    K = round(float(p["mc_horizon_taus"]) * m)
    G = sqrt_psd(s.Sigma * eta)
    sim = simulate_linear_sdde(
        s.A_tilde,
        G,
        tau=s.tau,
        delta=delta,
        K=K,
        paths=paths,
        seed=ctx.seed("mc-sanity"),
        x_star=s.x_star,
        x0=s.xi,
        map_fn=ctx.map,
    )
    x = sim.x_final[sim.finite_mask]
    sq = np.sum((x - s.x_star) ** 2, axis=1)
    mb = stats.mean_bounds(sq, ctx.alpha, "student-t")
    em = linear_sdde_em_moments(
        s.A_tilde, G, tau=s.tau, delta=delta, K=K, x_star=s.x_star, x0=s.xi, record=[K]
    )
    cont = linear_sdde_moments(s.A_tilde, G, s.tau, [K * delta], x_star=s.x_star, xi=s.xi)
    em_mse, cont_mse = float(em.mse[-1]), float(cont.mse[-1])
    # two-sided (1 - 2 alpha) interval from the two one-sided alpha bounds
    return {
        "setting": s.label(),
        "epsilon": eps,
        "t": K * delta,
        "delta": delta,
        "paths": int(paths),
        "diverged_paths": int(sim.diverged_paths.size),
        "seed": "ctx.seed('mc-sanity')",
        "mc_mean": float(mb.estimate),
        "mc_lcb": float(mb.lcb),
        "mc_ucb": float(mb.ucb),
        "bound_kind": mb.label,
        "alpha_each_side": ctx.alpha,
        "em_exact": em_mse,
        "continuous_exact": cont_mse,
        "em_bias": em_mse - cont_mse,
        "em_exact_inside_interval": bool(mb.lcb <= em_mse <= mb.ucb),
    }


_STEP_QUICK = profile(**{**_STATED_QUICK, "mc_paths": 0})
_STEP_FULL = profile(**{**_STATED_FULL, "mc_paths": 0})


class Thm41ProofMean(_StatedRows):
    r"""Step (a): $\|\mathbb EX(t)-x^*\| \le a_1e^{-\lambda t}$ against the exact mean
    $x^* + \Gamma(t+\tau)\tilde\xi$ (constant segment)."""

    id = "R6-proof-mean"
    level = "proof-step"
    statement = claims.MEAN
    names = ("||E X(t)-x*||", "a1 e^{-lambda t}", "t")
    quick, full = _STEP_QUICK, _STEP_FULL

    def lhs(self, pt: _r6.StatedPoint) -> np.ndarray:
        return pt.mean_err


class Thm41ProofVariance(_StatedRows):
    r"""Step (b): $\mathbb E\|X(t)-\mathbb EX(t)\|^2 \le a_2(1-e^{-2\lambda t})$ against the
    exact $\operatorname{tr}\int_0^t\Gamma GG^\top\Gamma^\top$ (Küchler–Mensch at
    $t=\infty$)."""

    id = "R6-proof-variance"
    level = "proof-step"
    statement = claims.VARIANCE
    names = ("E||X(t)-EX(t)||^2", "a2 (1 - e^{-2 lambda t})", "t")
    quick, full = _STEP_QUICK, _STEP_FULL

    def lhs(self, pt: _r6.StatedPoint) -> np.ndarray:
        return pt.variance


class Thm41ProofCombination(_StatedRows):
    r"""Step (d): "putting $a_1$ and $a_2$ in it" — is $a_1^2e^{-2\lambda t} +
    a_2(1-e^{-2\lambda t})$ (what (a), (b), (c) give) $\le$ the printed display (d)? Exact,
    over the grid (the left side is built from the constants, not from the process)."""

    id = "R6-proof-combination"
    level = "proof-step"
    statement = claims.INTERMEDIATE
    claim = "a1^2 e^{-2 lambda t} + a2 (1 - e^{-2 lambda t}) <= display (d)"
    claim_latex = claims.COMBINED.latex + r"\le\text{(d)}"
    names = ("(a)+(b) in (c)", "display (d)", "t")
    tolerance = _CLOSED_FORM
    quick, full = _STEP_QUICK, _STEP_FULL

    def lhs(self, pt: _r6.StatedPoint) -> np.ndarray:
        return claims.COMBINED.rhs(pt.values, t=pt.t)


class Thm41ProofFinal(_StatedRows):
    r"""Step (e): display (d) with $\eta = \epsilon/\tau^2$ equals
    $C_5e^{-2\lambda(t-\tau)} + C_6\epsilon/(\lambda\tau^2)$ — symbolically (SymPy, from the
    statements in :mod:`theory.claims.thm41` with $C_5$, $C_6$ as defined there) and exactly on
    the grid. Also reports $\partial C_5/\partial\epsilon$ (the paper calls $C_5$ a constant)."""

    id = "R6-proof-final"
    level = "proof-step"
    method = "symbolic"
    statement = claims.THM41
    claim = "display (d) with eta = eps/tau^2 <= C5 e^{-2 lambda (t-tau)} + C6 eps/(lambda tau^2)"
    claim_latex = r"\text{(d)}|_{\eta=\epsilon/\tau^2} \le " + claims.THM41.latex.split(r"\le ")[1]
    names = ("display (d)", "C5 e^{-2 lambda (t-tau)} + C6 eps/(lambda tau^2)", "t")
    tolerance = _CLOSED_FORM
    quick, full = _STEP_QUICK, _STEP_FULL

    def lhs(self, pt: _r6.StatedPoint) -> np.ndarray:
        return claims.INTERMEDIATE.rhs(pt.values, t=pt.t)

    def run(self, ctx: RunContext) -> CheckResult:
        scale = sp.nsimplify(rhs_scale(ctx.params))
        diff = claims.proof_final_difference(scale)
        res = super().run(ctx)
        res.details["symbolic"] = {
            "display_d_minus_final": str(diff),
            "identically_equal": bool(diff == 0),
            "dC5_deps": str(sp.diff(claims.CONSTANTS[claims.C5], claims.epsilon)),
            "note": "C5 depends on epsilon (through eta = eps/tau^2); the step is an "
            "equality, not only <=",
        }
        if diff != 0 and res.verdict is Verdict.PASS:
            res.verdict = Verdict.FAIL
            res.message = f"symbolic difference (d) - rhs = {diff} != 0; " + res.message
        else:
            res.message = (
                f"symbolic: (d)|eta=eps/tau^2 - {scale} * rhs simplifies to {diff}; " + res.message
            )
        return res


CHECKS = [
    Thm41V(),
    Thm41AsStated(),
    Thm41AsApplied(),
    Thm41Discussion(),
    Thm41ProofMean(),
    Thm41ProofVariance(),
    Thm41ProofDecomposition(),
    Thm41ProofCombination(),
    Thm41ProofFinal(),
]

if __name__ == "__main__":
    run_alone(CHECKS)
