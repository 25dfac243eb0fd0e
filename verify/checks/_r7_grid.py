r"""The grid machinery shared by the Theorem 4.2 / Corollary 4.3 checks: conventions, the
exact tolerance, the per-row setup (problem, μ of the schedule, the ball, H, the statement's
hypotheses at those values) and the base class `EnergyGrid`. Cor 4.3 is the same machinery
with the statement `COR43` (τ fixed at 0)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from numerics.problems import Problem
from theory import energy
from theory.claims.base import Claim, Holds
from theory.claims.thm42 import THM42
from verify.checks._r7 import (
    Ball,
    Row,
    _rows,
    build_problem,
    sdde_ball,
    sdde_horizon,
    steps_per_unit,
    trace_sigma_at_star,
)
from verify.checks.base import GridCheck
from verify.context import RunContext
from verify.evidence import Row as EvidenceRow
from verify.evidence import Tolerance

__all__ = [
    "COMMON",
    "CONVENTIONS",
    "TOLERANCE",
    "EnergyGrid",
    "Setup",
    "is_corollary",
    "proof_steps",
]

CONVENTIONS: tuple[str, ...] = (
    "Start time: u_k = 1/(mu k) starts at k = 1 and the SDDE (singular at t = 0) at t = 1 "
    "(Cor 4.3 says X(1) = x0; theory.energy remark); Thm 4.2's initial segment is xi = x0 "
    "constant on [1 - tau, 1] (the footnote-2 cap for the iterates).",
    "Delay: constant theta(t) = tau at level 1 (the worst case of theta <= tau); at level 2 "
    "(ASGD) constant l_k = l or i.i.d. uniform on {0..l} (row field delay), tau = l delta.",
    "Horizon: t in (1, T] with T extended to 4 kappa tau/pi (SDDE) and K to twice the last "
    "step where delayed GD with step 1/(mu k) is unstable (ASGD), so the transient growth of "
    "the delayed dynamics is inside the checked window.",
    "Continuous X: exact Euler-Maruyama moments at h and h/2 (h kappa <= h_kappa), reported "
    "as M_h/2 +- |M_h - M_h/2|; Monte Carlo uses the h/2 paths and reports coarse - fine.",
    "sigma at x* (SPEC §1): sigma sigma^T = Sigma(x*)/b, E tr(sigma sigma^T) = tr Sigma(x*)/b; "
    "ASGD on least squares uses the exact minibatch noise (with replacement) and "
    "E tr = sup_k E tr Sigma(x_k)/b (exact, from the moments).",
    "D (SPEC §1 hypothesis): a distribution-free upper (1 - alpha) confidence bound (an order "
    "statistic) of the (1 - eps_D) quantile of sup_t ||X(t) - x0|| over pilot paths (sup over "
    "the recorded times of [1, T_ball]); the exit probability is measured on "
    "independent paths with a one-sided Clopper-Pearson bound (exact); a grid row whose bound "
    "exceeds eps_max is NOT APPLICABLE. A given D (param D) replaces the quantile.",
    "H = E tr(sigma sigma^T) + 2 mu L D^2 (smallest admissible, SPEC §1).",
    "mu, L: extreme eigenvalues of the Hessian (quadratic, least squares); logistic: "
    "L = lambda_max(A^T A)/(4n) + lam, mu = lam (global constants).",
    "Level 2: t = k delta, the bound evaluated where delta k > 1.",
)


#: the parameters every R7/R8 profile shares: the ball rule (eps_D quantile, eps_max exit
#: probability), no falsification (rhs_scale 1), mu = lambda_min, the data seed
COMMON = dict(eps_D=0.01, eps_max=0.05, rhs_scale=1.0, mu_factor=1.0, data_seed=0)

#: exact comparisons of the R7/R8 rows: 64 ulp relative to max(1, |lhs|, |rhs|)
TOLERANCE = Tolerance.ulps(64, 53, floor=1.0)


def is_corollary(claim: Claim) -> bool:
    """Cor 4.3 is Thm 4.2 with tau = 0: its statement has no tau."""
    return "tau" not in claim.symbols


@functools.lru_cache(maxsize=2)
def proof_steps(corollary: bool) -> tuple[energy.ProofStep, ...]:
    """`theory.energy.proof_steps`, built once per process (lambdify is slow)."""
    return energy.proof_steps(corollary)


@dataclass
class Setup:
    """One grid row's problem, constants and hypotheses (or why it is not applicable)."""

    problem: Problem
    x0: np.ndarray
    mu: float
    L: float
    tau: float
    m0: int
    values: dict[str, Any] = field(default_factory=dict)
    hyps: list[Holds] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def _failing(hyps: list[Holds]) -> str:
    return "; ".join(f"{h.name} fails ({h.detail})" for h in hyps if not h.holds)


class EnergyGrid(GridCheck):
    """Rows of a Thm 4.2 / Cor 4.3 check: the problem of each row, μ of the schedule
    (`mu_factor` × λ_min), the ball (measured on SDDE paths, or given `D`), H (default
    H_min), and the statement's hypotheses at those values."""

    statement = THM42
    conventions = CONVENTIONS
    names = ("E||X(t)-x*||^2", "bound", "t")

    def values(
        self, row: Row, L: float, mu: float, mu0: float, ball: Ball, tr: float, tau: float, H: Any
    ) -> dict[str, Any]:
        v = {
            "delta": row.delta,
            "L": L,
            "mu": mu,
            "lambda_min": mu0,
            "D": ball.D,
            "tau": tau,
            "tr_sigma": tr,
            "exit_ucb": ball.exit_ucb,
            "eps_max": ball.eps_max,
        }
        if H is not None:
            v["H"] = float(H)
        return self.statement.values(v)

    def grid(self, ctx: RunContext) -> list[Row]:
        """The profile's rows, at the statement's fixed symbols (Cor 4.3: tau = 0, so l = 0)."""
        rows = _rows(ctx.params["rows"])
        if "tau" in self.statement.fixed:
            tau = float(self.statement.fixed["tau"])
            rows = [replace(r, tau=tau, l=0) if (r.tau, r.l) != (tau, 0) else r for r in rows]
        return rows

    def setup(self, ctx: RunContext, j: int, row: Row, sdde_ball_: bool = True) -> Setup:
        p = ctx.params
        problem, x0, mu0, L = build_problem(row, int(p.get("data_seed", 0)))
        mu = float(p.get("mu_factor", 1.0)) * mu0
        tau = row.tau
        m0 = steps_per_unit(row, tau, float(p["h_kappa"])) if "h_kappa" in p else 0
        s = Setup(problem, x0, mu, L, tau, m0)
        pre = self.statement.check_hypotheses({"L": L, "mu": mu, "lambda_min": mu0})
        if _failing(pre[:2]):  # smoothness, strong convexity: before any simulation
            s.hyps, s.reason = pre, _failing(pre[:2])
            return s
        if not sdde_ball_:
            return s
        ball = self.ball_for(ctx, row, problem, x0, mu, m0)
        tr = trace_sigma_at_star(problem, row.b)
        self.finish(s, row, ball, tr, mu0, p.get("H"))
        return s

    def finish(
        self,
        s: Setup,
        row: Row,
        ball: Ball,
        tr: float,
        mu0: float,
        H: Any,
        tau: float | None = None,
    ) -> None:
        s.values = self.values(row, s.L, s.mu, mu0, ball, tr, s.tau if tau is None else tau, H)
        s.hyps = self.statement.check_hypotheses(s.values)
        s.reason = _failing(s.hyps)
        s.extra = {**ball.details(), "H": s.values.get("H"), "E_tr_sigma": tr, "L": s.L, "mu": s.mu}

    def ball_for(
        self, ctx: RunContext, row: Row, problem: Problem, x0: np.ndarray, mu: float, m0: int
    ) -> Ball:
        """Measure the ball on SDDE paths (fine solution, recorded every ~1/20 time unit).

        The paths' seed depends on the run's global seed and the row only (not on the check
        id), so every R7/R8 check sees the same D for the same row; cached in the process."""
        p = ctx.params
        key = (
            ctx.global_seed,
            row,
            row.tau,
            mu,
            m0,
            sdde_horizon(float(p["T_ball"]), row, row.tau),
            int(p["ball_paths"]),
            p.get("D"),
            float(p.get("eps_D", 0.01)),
            float(p.get("eps_max", 0.05)),
            ctx.alpha,
            int(p.get("data_seed", 0)),
        )
        return sdde_ball(key, problem, x0, ctx.map)

    def na_row(self, point: dict[str, Any], s: Setup) -> EvidenceRow:
        return EvidenceRow(point, None, s.hyps, s.extra, s.reason)
