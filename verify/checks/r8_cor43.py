r"""R8 — Corollary 4.3 (τ = 0: the SDE of SGD with $\eta_k = 1/(\mu k)$), paper §4.2.

Glossary as in `verify.checks.r7_thm42` (μ, L, δ, D, H, `tr` $= \mathbb E\operatorname{tr}
(\sigma\sigma^\top)$, `r2` $= \|X(t)-x^*\|^2$, `ip` $= \langle\nabla F(X(t)), X(t)-x^*\rangle$).

**Claim (Corollary 4.3).** For $F$ $L$-smooth and μ-strongly convex, $X$ the solution of
Eq. (8), $dX = -\frac{\eta}{\delta}U\nabla F(X)dt + \frac{\eta}{\delta}\sqrt\delta U\sigma(X)dB$
with $\eta_k = 1/(\mu k)$ ($\eta = 1$, $U = \delta/(\mu t)$), $X(1) = x_0$, $X(t)\in d(x_0, D)$
for all t, and $H \ge \mathbb E\operatorname{tr}(\sigma\sigma^\top) + 2\mu LD^2$: for $t > 1$
$$\mathbb E\|X(t)-x^*\|^2 \le \frac{(\delta+1)H\ln t}{(t-1)\mu^2}.$$
Discussion (2) applies it to SGD with $t = \delta k$:
$\mathbb E\|x_k-x^*\|^2 \le \frac{(\delta+1)H\ln(\delta k)}{(\delta k-1)\mu^2}$.
Energy: $\mathcal E(t) = \frac{t-1}2\|X-x^*\|^2 - \frac{(\delta+1)H\ln t}{2\mu^2}$; the proof is
that of Thm 4.2 with θ = τ = 0.

**Checks** (the classes of `r7_thm42` with τ = 0):

- `R8-proof-ito` (symbolic): Itô's $d\mathbb E\mathcal E$ vs the printed first equality (τ = 0).
- `R8-as-stated` (level 1, **exact**): for quadratic $F$ and constant σ (quadratic with Gaussian
  noise; least squares with σ at $x^*$) the second moment solves
  $P' = -\frac{1}{\mu t}(QP+PQ) + \frac{\delta}{\mu^2t^2}\sigma\sigma^\top$; its closed form
  (`theory.energy.quadratic_msd`, eigen-component by eigen-component) gives
  $\mathbb E\|X(t)-x^*\|^2$ at any t — no simulation except for measuring $D$.
- `R8-as-stated-mc` (level 1, Monte Carlo): logistic regression, fine EM paths, Student-t
  (asymptotic), Holm over (row, t), EM bias (coarse − fine, same Brownian path) reported.
- `R8-as-applied` (level 2, exact): SGD iterates (exact moments; quadratic with Gaussian noise,
  least squares with the exact minibatch noise) vs discussion (2)'s bound, several δ.
- `R8-proof-first-inequality`, `R8-proof-nonpositive`, `R8-proof-decreasing` (proof steps,
  **exact**): the steps of `theory.energy.proof_steps(corollary=True)` evaluated at the exact
  moments $\mathbb E\,r2 = \sum_i p_i(t)$, $\mathbb E\,ip = \sum_i q_ip_i(t)$ ($q_i$ the
  Hessian's eigenvalues, $p_i$ the eigen-components of $P$); the common term
  $-\frac{(\delta+1)H}{2t\mu^2}$ moved to the right (see `r7_thm42`).

**Exact references.** `theory.energy.quadratic_msd` (closed form, validated against `dsolve`
and the Itô-derived ODE in `tests/test_energy.py`), `numerics.moments.asgd_moments_for`.

**Conventions**: those of `r7_thm42.CONVENTIONS` with τ = 0 (X(1) = x₀ as the corollary says).

Example: ``python -m verify.checks.r8_cor43 [--profile full]``.
"""

from __future__ import annotations

from theory.claims.thm42 import COR43
from verify.checks import r7_thm42 as r7
from verify.checks._r7 import tau0_moments
from verify.checks._r7_grid import COMMON
from verify.checks.base import declare, profile
from verify.runner import run_alone

__all__ = ["CHECKS", "tau0_moments"]

_CONVENTIONS = (*r7.CONVENTIONS, "Cor 4.3: tau = 0, theta = 0 (SGD / the SDE).")
#: what every Cor 4.3 declaration shares: the statement (Thm 4.2 at tau = 0), its conventions
_COR = dict(statement=COR43, result=COR43.result, conventions=_CONVENTIONS)

_ROWS_STATED = (
    dict(kappa=1, noise=1.0, delta=1.0),
    dict(kappa=10, noise=1.0, delta=1.0),
    dict(kappa=100, noise=1.0, delta=1.0),
    dict(kappa=10, noise=0.01, delta=1.0),
    dict(kappa=10, noise=100.0, delta=1.0),
    dict(kappa=10, noise=1.0, delta=0.1),
    dict(kappa=10, noise=1.0, delta=10.0),
    dict(kappa=10, noise=1.0, delta=1.0, x0_dist=0.0),
    dict(kappa=10, noise=1.0, delta=1.0, x0_dist=10.0),
    dict(problem="least-squares", kappa=10, noise=1.0, delta=1.0),
    dict(problem="least-squares", kappa=10, noise=1.0, delta=1.0, b=10),
)
_ROWS_FULL = tuple(
    dict(problem=p, kappa=k, noise=s, delta=dl, x0_dist=x, b=b)
    for p in ("quadratic", "least-squares")
    for k in (1, 10, 100)
    for s in (0.01, 1.0, 100.0)
    for dl in (0.01, 0.1, 1.0, 10.0)
    for x in (0.0, 1.0, 10.0)
    for b in ((1, 10) if p == "least-squares" else (1,))
)


_STATED_FULL = profile(
    rows=_ROWS_FULL,
    T=1e6,
    n_t=1000,
    h_kappa=0.1,
    ball_paths=2000,
    T_ball=50.0,
    **COMMON,
)


_STEPS_QUICK = profile(
    rows=_ROWS_STATED,
    T=1e3,
    n_t=50,
    h_kappa=0.25,
    ball_paths=800,
    T_ball=10.0,
    **COMMON,
)


CHECKS = [
    declare(
        r7.Thm42Ito,
        "Cor43Ito",
        id="R8-proof-ito",
        claim="Ito's formula gives dE[energy]/dt = the paper's printed first equality (tau = 0)",
        **_COR,
    ),
    declare(
        r7.EnergyAsStated,
        "Cor43AsStated",
        id="R8-as-stated",
        claim=COR43.statement + " (SDE, X(1) = x0)",
        claim_latex=COR43.latex,
        **_COR,
        quick=profile(
            rows=_ROWS_STATED,
            T=1e4,
            n_t=200,
            h_kappa=0.25,
            ball_paths=800,
            T_ball=10.0,
            **COMMON,
        ),
        full=_STATED_FULL,
    ),
    declare(
        r7.EnergyAsStatedMC,
        "Cor43AsStatedMC",
        id="R8-as-stated-mc",
        claim=COR43.statement + " [Monte Carlo, logistic regression]",
        claim_latex=COR43.latex,
        **_COR,
        quick=profile(
            rows=(
                dict(problem="logistic", kappa=10, delta=1.0),
                dict(problem="logistic", kappa=10, delta=0.1),
                dict(problem="logistic", kappa=10, delta=10.0, b=5),
            ),
            T=10.0,
            n_t=10,
            h_kappa=0.25,
            paths=600,
            ball_paths=600,
            T_ball=10.0,
            **COMMON,
        ),
        full=profile(
            rows=tuple(
                dict(problem="logistic", kappa=k, delta=dl, b=b)
                for k in (2, 10, 30)
                for dl in (0.1, 1.0, 10.0)
                for b in (1, 10)
            ),
            T=50.0,
            n_t=20,
            h_kappa=0.1,
            paths=5000,
            ball_paths=2000,
            T_ball=50.0,
            **COMMON,
        ),
    ),
    declare(
        r7.EnergyAsApplied,
        "Cor43AsApplied",
        id="R8-as-applied",
        claim=(
            "SGD with eta_k = 1/(mu k) (discussion (2)): E||x_k-x*||^2 <= (delta+1) H "
            "ln(delta k) / ((delta k - 1) mu^2)"
        ),
        claim_latex=(
            r"\mathbb E\|x_k-x^*\|^2\le\frac{(\delta+1)H\ln(\delta k)}{(\delta k-1)\mu^2},\ "
            r"\delta k>1"
        ),
        **_COR,
        quick=profile(
            rows=(
                dict(kappa=1, noise=1.0),
                dict(kappa=10, noise=1.0),
                dict(kappa=100, noise=1.0),
                dict(kappa=10, noise=0.01),
                dict(kappa=10, noise=100.0),
                dict(kappa=10, noise=1.0, x0_dist=0.0),
                dict(problem="least-squares", kappa=10, noise=1.0, b=1),
                dict(problem="least-squares", kappa=10, noise=1.0, b=10),
            ),
            deltas=(0.01, 0.1, 1.0, 10.0),
            K=2000,
            ball_paths=800,
            K_ball=500,
            **COMMON,
        ),
        full=profile(
            **{
                **dict(r7.EnergyAsApplied.full),
                "rows": tuple(
                    {k: v for k, v in r.items() if k != "l"}
                    for r in r7.EnergyAsApplied.full["rows"]
                    if r["l"] == 0
                ),
            }
        ),
    ),
    declare(
        r7.EnergyFirstInequality,
        "Cor43FirstInequality",
        id="R8-proof-first-inequality",
        method="exact",
        claim=(
            "E[printed equality] <= L D^2/(t mu) + delta E tr/(2 mu^2 t) - (delta+1) H/(2 t mu^2)"
            " for t > 1 (first inequality, Cor 4.3)"
        ),
        quick=_STEPS_QUICK,
        full=_STATED_FULL,
        **_COR,
    ),
    declare(
        r7.EnergyNonpositive,
        "Cor43Nonpositive",
        id="R8-proof-nonpositive",
        method="exact",
        claim=("L D^2/(t mu) + delta E tr/(2 mu^2 t) - (delta+1) H/(2 t mu^2) <= 0 (Cor 4.3)"),
        quick=_STEPS_QUICK,
        full=_STATED_FULL,
        **_COR,
    ),
    declare(
        r7.EnergyDecreasing,
        "Cor43Decreasing",
        id="R8-proof-decreasing",
        method="exact",
        claim=("dE[energy(t)]/dt = E[printed equality] <= 0 for t > 1 (Cor 4.3)"),
        quick=_STEPS_QUICK,
        full=_STATED_FULL,
        **_COR,
    ),
]

if __name__ == "__main__":
    run_alone(CHECKS)
