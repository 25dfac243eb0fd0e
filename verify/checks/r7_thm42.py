r"""R7 — Theorem 4.2 (energy function, SDDE with $\eta_k = 1/(\mu k)$), paper §4.2.

Glossary: `eta` η (= 1) · `mu` μ strong convexity · `L` smoothness · `delta` δ time step ·
`tau` τ delay bound · `theta` θ(t) · `l` delay in iterations (τ = lδ) · `D` radius of the ball
$d(x_0, D)$ · `H` the constant of Thm 4.2 · `tr` $\mathbb E\operatorname{tr}(\sigma\sigma^\top)$ ·
`xi` ξ initial segment · `x0` $x_0$ · `x_star` $x^*$ · `r2` $\|X(t)-x^*\|^2$ ·
`ip` $\langle\nabla F(X(t-\theta)), X(t)-x^*\rangle$ · `K_` $(\delta+1)(H+2L^2D^2\tau)$.

**Claim (Theorem 4.2).** For $F$ $L$-smooth and μ-strongly convex, $X$ the solution of Eq. (6)
with $\eta_k = 1/(\mu k)$ (so $\eta = 1$, $U(t) = \delta/(\mu t)$),
$$dX = -\frac{1}{\mu t}\nabla F(X(t-\theta(t)))\,dt + \frac{\sqrt\delta}{\mu t}\sigma\,dB,$$
with $X(t)\in d(x_0, D)$ for all $t$ and $H \ge \mathbb E\operatorname{tr}(\sigma\sigma^\top) +
2\mu LD^2$: for every $t > 1$
$$\mathbb E\|X(t)-x^*\|^2 \le \frac{(\delta+1)(H+2L^2D^2\tau)\ln t}{(t-1)\mu^2}.$$
Proof sketch: $\mathcal E(t) = \frac{t-1}2\|X-x^*\|^2 - \frac{(\delta+1)(H+2L^2D^2\tau)\ln t}
{2\mu^2}$; Itô gives $d\mathbb E\mathcal E$ (first equality), bounded by
$(\frac{L^2D^2\theta}{\mu^2t} + \frac{LD^2}{t\mu})dt + \frac{\delta}{2\mu^2t}\mathbb E
\operatorname{tr}(\sigma\sigma^\top)dt - \frac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}dt$ (first
inequality) which is $\le 0$; hence $\mathbb E\mathcal E(t)\le\mathcal E(1) = 0$.

**Checks in this file.** Cor 4.3 is `r8_cor43.py`: the same check classes declared with
the statement `COR43` and rows with τ = 0. Machinery: `_r7.py`; statements:
`theory.claims.thm42`.

- `R7-proof-ito` (proof step, symbolic): Itô's $d\mathbb E\mathcal E$ vs the printed first
  equality (`theory.energy`), and Eq. (6) with the schedule vs the printed SDDE.
- `R7-as-stated` (level 1, exact): $\mathbb E\|X(t)-x^*\|^2$ of the SDDE with constant delay
  θ ≡ τ (quadratic, least squares) from the exact moments of its Euler–Maruyama scheme at
  steps $h$ and $h/2$; the bracket $M_{h/2}\pm|M_h-M_{h/2}|$ (weak order 1) carries the
  discretisation bias.
- `R7-as-stated-mc` (level 1, Monte Carlo): the same for logistic regression (no exact
  moments): fine EM paths, Student-t (asymptotic), Holm over (row, t); EM bias from the coarse
  scheme on the same Brownian path, reported.
- `R7-as-applied` (level 2, exact): ASGD iterates $x_{k+1} = x_k - \frac1{\mu k}g(x_{k-l})$
  (exact moments, `numerics.moments`) vs the bound at $t = \delta k$, $\tau = l\delta$, for
  several δ.
- `R7-proof-first-inequality` (proof step, Monte Carlo): $\mathbb E[\text{printed equality}]
  \le \mathbb E[\text{first inequality's right side}]$ along SDDE paths.
- `R7-proof-nonpositive` (proof step, exact): that right side $\le 0$ ($H = H_{\min}$, θ = τ).
- `R7-proof-decreasing` (proof step, Monte Carlo): $\frac{d}{dt}\mathbb E\mathcal E(t) =
  \mathbb E[\text{printed equality}] \le 0$, the "≤ 0" the chain is meant to give
  ($\mathbb E\mathcal E(t)\le\mathcal E(1)=0$ is equivalent to the as-stated bound).

Proof steps compare the parts that differ: the term $-\frac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}$
common to both sides is moved to the right, so `rhs_scale` (default 1) scales a positive right
side and a falsified claim (`rhs_scale` ≪ 1) is false by construction at $t \to 1^+$
(where $\mathbb E[\text{equality}] \to \frac12\|x_0-x^*\|^2 > 0$).

**Exact references.** `theory.energy` (Itô derivation; proof steps as SymPy expressions),
`theory.constants.thm42_bound` (right side, $H_{\min}$), `numerics.moments.em_scheme_moments` /
`asgd_moments_for` (exact moments of the EM scheme and of ASGD on quadratics, least squares with
the exact minibatch noise); for τ = 0 the closed form `theory.energy.quadratic_msd`.

**Conventions** (`CONVENTIONS`, SPEC §1): start at $t = 1$, $\xi \equiv x_0$ on $[1-\tau, 1]$;
θ ≡ τ at level 1, $l_k = l$ at level 2 (footnote-2 cap = constant segment); σ at $x^*$;
$D$ = an upper $(1-\alpha)$ confidence bound (order statistic, distribution-free) of the
$(1-\varepsilon_D)$ quantile of $\sup_t\|X(t)-x_0\|$ over pilot paths, containment
measured on independent paths (Clopper–Pearson bound on the exit probability; rows whose
bound exceeds $\varepsilon_{\max}$ are NOT APPLICABLE); $H = H_{\min}$; μ, L the extreme
Hessian eigenvalues (global).

**Workaround (numerics).** `numerics.sdde.euler_maruyama` / `simulate_sdde` without an explicit
`xi` apply the coarse footnote-2 cap $\min(l_k, j)$ to the fine solution as well, so with
delays and `substeps > 1` the fine paths read $X(ih)$ instead of $\xi = x_0$ during the first
τ and disagree with `numerics.moments.sdde_em_moments_for` (constant segment). The paths here
pass ξ ≡ $x_0$ explicitly (`_constant_segment`); tests compare them with the exact moments.

Example: ``python -m verify.checks.r7_thm42 [--profile full]``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import sympy as sp

from numerics.moments import asgd_moments_for
from numerics.schedules import InverseMuK
from numerics.sdde import SDDEResult
from theory import energy
from theory.claims.thm42 import THM42
from theory.schemes import IdentityCheck, check_identity
from verify.checks._r7 import (
    Row,
    _constant_delay_only,
    _delay_model,
    _record_grid,
    asgd_horizon,
    asgd_sup,
    asgd_trace,
    em_exact_curve,
    label,
    measure_ball,
    sdde_batched,
    sdde_horizon,
    tau0_moments,
)
from verify.checks._r7_grid import COMMON, CONVENTIONS, TOLERANCE, EnergyGrid, is_corollary
from verify.checks._r7_steps import (
    _STATED_FULL_PROFILE,
    EnergyDecreasing,
    EnergyFirstInequality,
    EnergyNonpositive,
    EnergyProofStep,
)
from verify.checks.base import Check, Diverged, profile
from verify.context import RunContext
from verify.evidence import ExactCurve, Samples
from verify.evidence import Row as EvidenceRow
from verify.runner import run_alone
from verify.verdict import CheckResult

__all__ = [
    "CHECKS",
    "CONVENTIONS",
    "EnergyAsApplied",
    "EnergyAsStated",
    "EnergyAsStatedMC",
    "EnergyDecreasing",
    "EnergyFirstInequality",
    "EnergyNonpositive",
    "EnergyProofStep",
    "Thm42Ito",
    "is_corollary",
]


class Thm42Ito(Check):
    r"""Proof step 1: $d\mathbb E\mathcal E$ by Itô (derived in code) = the printed equality."""

    id = "R7-proof-ito"
    result = "Thm 4.2"
    level = "proof-step"
    method = "symbolic"
    statement = THM42
    claim = "Ito's formula gives dE[energy]/dt = the paper's printed first equality (Thm 4.2)"
    claim_latex = (
        r"\frac{d\mathbb E\mathcal E}{dt} = \tfrac12\mathbb E\|X-x^*\|^2 - \tfrac{t-1}{t\mu}"
        r"\mathbb E\langle\nabla F(X(t-\theta)),X-x^*\rangle + \tfrac{(t-1)\delta}{2\mu^2t^2}"
        r"\mathbb E\operatorname{tr}\sigma\sigma^\top - \tfrac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}"
    )
    conventions = CONVENTIONS[:1]
    quick = profile(rhs_scale=1.0, d=2)
    full = profile(rhs_scale=1.0, d=3)

    def identities(self, ctx: RunContext) -> list[IdentityCheck]:
        scale = sp.nsimplify(ctx.params.get("rhs_scale", 1.0))
        c = is_corollary(self.statement)
        name = self.statement.result
        if scale != 1:  # falsified claim: the printed expression scaled
            return [
                check_identity(
                    f"{name}: Itô dE[energy]/dt (vector form) = rhs_scale * printed equality",
                    energy.energy_rate_vector_form(c),
                    scale * energy.energy_rate_paper(c),
                )
            ]
        out = list(energy.ito_equality_checks(c, d=int(ctx.params.get("d", 2))))
        out += list(energy.thm42_sdde_checks())
        return out

    def run(self, ctx: RunContext) -> CheckResult:
        checks = self.identities(ctx)
        failed = [c for c in checks if not c.holds]
        rows = [
            {
                "identity": c.name,
                "holds_symbolically": c.holds_symbolically,
                "holds_numerically": c.holds_numerically,
                "difference": str(c.difference),
                "random_points": c.n_points,
            }
            for c in checks
        ]
        return self.from_exact(
            ctx,
            float(len(failed)),
            0.0,
            tol=0.0,
            method="symbolic",
            details={"identities": rows},
            message=(
                f"{len(checks) - len(failed)} of {len(checks)} identities hold (SymPy simplify "
                "and exact evaluation at random rational points)"
                + (f"; failing: {[c.name for c in failed]}" if failed else "")
            ),
        )


class EnergyAsStated(EnergyGrid):
    r"""Level 1, exact: $\mathbb E\|X(t)-x^*\|^2$ of the SDDE (θ ≡ τ) vs the bound, over a grid.

    τ > 0: exact moments of the Euler–Maruyama scheme at steps $h$ and $h/2$
    (`em_scheme_moments`, started at $t = 1$); the value is $M_{h/2}$ with the bracket
    $\pm|M_h - M_{h/2}|$ (weak order 1). τ = 0 (Cor 4.3): the closed-form second moment
    (`tau0_moments`, no discretisation). $D$ from Monte Carlo paths of the same SDDE.
    """

    id = "R7-as-stated"
    level = "as-stated"
    method = "exact"
    quick = profile(
        rows=(
            dict(kappa=10, noise=1.0, delta=1.0, tau=0.1),
            dict(kappa=10, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=1.0, tau=3.0),
            dict(kappa=1, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=30, noise=1.0, delta=1.0, tau=0.5),
            dict(kappa=10, noise=0.01, delta=1.0, tau=1.0),
            dict(kappa=10, noise=100.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=0.1, tau=1.0),
            dict(kappa=10, noise=1.0, delta=10.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=0.5, tau=1.0, delay="random"),
            dict(problem="least-squares", kappa=10, noise=1.0, delta=1.0, tau=1.0),
        ),
        T=10.0,
        n_t=40,
        h_kappa=0.2,
        ball_paths=800,
        T_ball=10.0,
        **COMMON,
    )
    full = _STATED_FULL_PROFILE

    def rows(self, ctx: RunContext) -> list[EvidenceRow]:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        out = []
        for j, row in enumerate(self.grid(ctx)):
            s = self.setup(ctx, j, row)
            point = row.point()
            if s.reason:
                out.append(self.na_row(point, s))
                continue
            T = sdde_horizon(float(p["T"]), row, s.tau)
            if s.tau == 0:
                t = 1.0 + np.geomspace(1e-6, T - 1.0, int(p["n_t"]))
                lhs, _ = tau0_moments(t, s.problem, s.x0, s.mu, row.delta, row.b)
                bias = None
            else:
                t, lhs, bias = em_exact_curve(row, s.problem, s.x0, s.mu, s.m0, T, int(p["n_t"]))
                s.extra["h"] = 1.0 / (2 * s.m0)
            rhs = scale * self.statement.rhs(s.values, t=t)
            ev = ExactCurve(
                lhs,
                rhs,
                TOLERANCE,
                x=t,
                bracket=bias,
                bracket_label="+-|M_h - M_h/2| (Euler-Maruyama, weak order 1)",
            )
            out.append(EvidenceRow(point, ev, s.hyps, s.extra, values=s.values))
        return out

    def note(self, ctx: RunContext) -> str:
        return (
            "closed-form second moment (theory.energy.quadratic_msd), no discretisation"
            if is_corollary(self.statement)
            else "EM exact moments at h and h/2; bracket +-|M_h - M_h/2| (weak order 1)"
        )


class EnergyAsStatedMC(EnergyGrid):
    r"""Level 1, Monte Carlo (logistic regression: no exact moments).

    Fine EM paths (step $1/(2m_0)$), $\|X(t)-x^*\|^2$ at a geometric t grid; Student-t
    (asymptotic) one-sided bounds, Holm over all (row, t) points. The coarse scheme on the same
    Brownian path gives the bias estimate coarse − fine (reported, per row).
    """

    id = "R7-as-stated-mc"
    level = "as-stated"
    method = "monte-carlo"
    claim = THM42.statement + " [Monte Carlo, logistic regression]"
    quick = profile(
        rows=(
            dict(problem="logistic", kappa=10, delta=1.0, tau=1.0),
            dict(problem="logistic", kappa=3, delta=1.0, tau=3.0),
            dict(problem="logistic", kappa=10, delta=10.0, tau=1.0, b=5),
        ),
        T=10.0,
        n_t=10,
        h_kappa=0.25,
        paths=600,
        ball_paths=600,
        T_ball=10.0,
        **COMMON,
    )
    full = profile(
        rows=tuple(
            dict(problem="logistic", kappa=k, delta=dl, tau=tau, b=b)
            for k in (2, 10, 30)
            for dl in (0.1, 1.0, 10.0)
            for tau in (0.1, 1.0, 3.0)
            for b in (1, 10)
        ),
        T=50.0,
        n_t=20,
        h_kappa=0.1,
        paths=5000,
        ball_paths=2000,
        T_ball=50.0,
        **COMMON,
    )

    def rows(self, ctx: RunContext) -> list[EvidenceRow]:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        n_t, T = int(p["n_t"]), float(p["T"])
        out = []
        for j, row in enumerate(self.grid(ctx)):
            s = self.setup(ctx, j, row)
            if s.reason:
                out.append(self.na_row(row.point(), s))
                continue
            _constant_delay_only(row, s.tau)
            T_row = sdde_horizon(T, row, s.tau)
            every, idx = _record_grid(s.m0, T_row, n_t)
            x_star = np.asarray(s.problem.x_star)

            def r2_at(sim: SDDEResult, idx: np.ndarray = idx, x_star: np.ndarray = x_star):
                return np.stack(
                    [
                        np.sum((sim.fine_trajectory[idx] - x_star) ** 2, axis=-1),
                        np.sum((sim.trajectory[idx] - x_star) ** 2, axis=-1),
                    ]
                )

            fine, coarse = sdde_batched(
                r2_at,
                s.problem,
                s.x0,
                paths=int(p["paths"]),
                seed=ctx.seed(f"paths-{j}"),
                record_every=every,
                T=T_row,
                m0=s.m0,
                mu=s.mu,
                delta=row.delta,
                tau=s.tau,
                b=row.b,
                map_fn=ctx.map,
            )
            t = 1.0 + idx * every / s.m0
            rhs = scale * self.statement.rhs(s.values, t=t)
            bias = coarse.mean(axis=1) - fine.mean(axis=1)
            s.extra["max_abs_bias_coarse_minus_fine"] = float(np.max(np.abs(bias)))
            out.append(
                EvidenceRow(
                    row.point(), Samples(list(fine), rhs, x=t), s.hyps, s.extra, values=s.values
                )
            )
        return out

    def extra_details(self, ctx: RunContext, rows: list[EvidenceRow]) -> dict[str, Any]:
        return {"fine_step": "1/(2 m0), m0 = steps per unit time"}


class EnergyAsApplied(EnergyGrid):
    r"""Level 2, exact: ASGD with $\eta_k = 1/(\mu k)$, delays bounded by $l$ (constant or
    i.i.d. uniform), vs the bound at $t = \delta k$, $\tau = l\delta$, for each δ of `deltas`.

    $\mathbb E\|x_k-x^*\|^2$ from `numerics.moments.asgd_moments_for` (quadratic: additive
    Gaussian noise; least squares: exact minibatch noise); $D$ from Monte Carlo iterates
    (`numerics.asgd.simulate_asgd`, the same noise), $\sup_k\|x_k - x_0\|$ for $k \le$
    `K_ball`; $\mathbb E\operatorname{tr}(\sigma\sigma^\top) = \sup_k\mathbb E
    \operatorname{tr}\Sigma(x_k)/b$ (`asgd_trace`). Cor 4.3 rows have $l = 0$.
    """

    id = "R7-as-applied"
    level = "as-applied"
    method = "exact"
    names = ("E||x_k-x*||^2", "bound", "t = delta k")
    claim = (
        "ASGD with eta_k = 1/(mu k), t = delta k: E||x_k-x*||^2 <= (delta+1)(H+2L^2D^2 tau) "
        "ln(delta k)/((delta k-1) mu^2), tau = l delta"
    )
    claim_latex = (
        r"\mathbb E\|x_k-x^*\|^2\le\frac{(\delta+1)(H+2L^2D^2\tau)\ln(\delta k)}"
        r"{(\delta k-1)\mu^2},\ \tau = l\delta,\ \delta k>1"
    )
    quick = profile(
        rows=(
            dict(kappa=1, noise=1.0, l=2),
            dict(kappa=10, noise=1.0, l=2),
            dict(kappa=10, noise=1.0, l=10),
            dict(kappa=10, noise=1.0, l=10, delay="random"),
            dict(kappa=100, noise=1.0, l=2),
            dict(kappa=10, noise=0.01, l=2),
            dict(kappa=10, noise=100.0, l=2),
            dict(problem="least-squares", kappa=10, noise=1.0, l=2, b=1),
            dict(problem="least-squares", kappa=10, noise=1.0, l=2, b=10),
        ),
        deltas=(0.01, 0.1, 1.0, 10.0),
        K=2000,
        ball_paths=800,
        K_ball=500,
        **COMMON,
    )
    full = profile(
        rows=tuple(
            dict(problem=p, kappa=k, noise=s, l=l, b=b, delay=dl)
            for p in ("quadratic", "least-squares")
            for k in (1, 10, 100, 300)
            for s in (0.01, 1.0, 100.0)
            for l in (0, 2, 10, 50)
            for b in (1, 10)
            for dl in (("constant", "random") if l else ("constant",))
        ),
        deltas=(0.001, 0.01, 0.1, 1.0, 10.0, 100.0),
        K=50000,
        ball_paths=4000,
        K_ball=10000,
        **COMMON,
    )

    def rows(self, ctx: RunContext) -> list[EvidenceRow]:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        out = []
        for j, row in enumerate(self.grid(ctx)):
            s = self.setup(ctx, j, row, sdde_ball_=False)
            l = int(row.l)
            if s.reason:
                out.append(self.na_row(row.point("as-applied"), s))
                continue
            kw = dict(
                eta=1.0,
                delay=_delay_model(row, l),
                schedule=InverseMuK(s.mu),
                b=row.b,
                noise="minibatch" if row.problem == "least-squares" else "gaussian",
            )
            K_ball = asgd_horizon(int(p["K_ball"]), row, l)
            sup = asgd_sup(ctx, j, row, s.problem, s.x0, K_ball, int(p["ball_paths"]), kw)
            ball = measure_ball(sup, p, ctx.alpha, K_ball)
            mom = asgd_moments_for(s.problem, K=asgd_horizon(int(p["K"]), row, l), x0=s.x0, **kw)
            if not (np.all(np.isfinite(mom.mse))):
                bad = int(mom.steps[np.flatnonzero(~np.isfinite(mom.mse))[0]])
                raise Diverged(
                    f"grid row {label(row.point('as-applied'))}: exact moments non-finite "
                    f"from k = {bad}"
                )
            tr = asgd_trace(s.problem, row, mom)
            mu0 = s.mu / float(p.get("mu_factor", 1.0))
            for delta in p["deltas"]:
                r = Row(**{**asdict(row), "delta": float(delta)})
                point = r.point("as-applied")
                self.finish(s, r, ball, tr, mu0, p.get("H"), tau=l * float(delta))
                if s.reason:
                    out.append(self.na_row(point, s))
                    continue
                t = mom.steps * float(delta)
                keep = t > 1
                rhs = scale * self.statement.rhs(s.values, t=t[keep])
                extra = {**s.extra, "k_first": int(mom.steps[keep][0]) if keep.any() else None}
                ev = ExactCurve(mom.mse[keep], rhs, TOLERANCE, x=t[keep])
                out.append(EvidenceRow(point, ev, list(s.hyps), extra, values=dict(s.values)))
        return out

    def note(self, ctx: RunContext) -> str:
        return "exact moments of the iterates (no Monte Carlo); D from Monte Carlo iterates"


CHECKS = [
    Thm42Ito(),
    EnergyAsStated(),
    EnergyAsStatedMC(),
    EnergyAsApplied(),
    EnergyFirstInequality(),
    EnergyNonpositive(),
    EnergyDecreasing(),
]

if __name__ == "__main__":
    run_alone(CHECKS)
