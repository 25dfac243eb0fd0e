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

import math
from typing import Any

import numpy as np

from numerics.problems import Problem
from theory.energy import quadratic_msd
from verify.checks.base import profile, run_alone
from verify.checks.r7_thm42 import (
    CONVENTIONS,
    Ball,
    Row,
    Thm42AsApplied,
    Thm42AsStated,
    Thm42AsStatedMC,
    Thm42Decreasing,
    Thm42FirstInequality,
    Thm42Ito,
    Thm42Nonpositive,
    _proof_steps,
)

__all__ = ["CHECKS", "tau0_moments"]

_CONVENTIONS = (*CONVENTIONS, "Cor 4.3: tau = 0, theta = 0 (SGD / the SDE).")


def tau0_moments(
    t: np.ndarray, problem: Problem, x0: np.ndarray, mu: float, delta: float, b: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact $\mathbb E\|X(t)-x^*\|^2$ and $\mathbb E\langle\nabla F(X), X-x^*\rangle$ (τ = 0).

    Quadratic $F$ (Hessian $Q = V\operatorname{diag}(q_i)V^\top$), constant
    $\sigma\sigma^\top = \Sigma(x^*)/b$, $X(1) = x_0$: the diagonal of $P$ in the eigenbasis,
    $p_i(t)$, solves $p_i' = -\frac{2q_i}{\mu t}p_i + \frac{\delta S_{ii}}{\mu^2t^2}$
    independently of the other entries, so each is `quadratic_msd` of a 1-D problem; then
    $\mathbb E\,r2 = \sum_ip_i$ and $\mathbb E\,ip = \operatorname{tr}(QP) = \sum_iq_ip_i$.
    """
    x_star = np.asarray(problem.x_star, dtype=float)
    Q = np.atleast_2d(problem.hessian(x_star))
    S = np.atleast_2d(problem.Sigma(x_star)) / b
    qs, V = np.linalg.eigh(Q)
    s_diag = np.clip(np.diag(V.T @ S @ V), 0.0, None)
    e0 = V.T @ (np.asarray(x0, dtype=float) - x_star)
    p = np.stack(
        [
            quadratic_msd(t, [[q]], [[math.sqrt(s)]], mu, delta, [[e * e]])
            for q, s, e in zip(qs, s_diag, e0)
        ],
        axis=-1,
    )
    return p.sum(axis=-1), p @ qs


class _Cor43:
    """Mixin: Cor 4.3 (τ = 0) versions of the exact parts."""

    result = "Cor 4.3"
    corollary = True
    conventions = _CONVENTIONS


class Cor43Ito(_Cor43, Thm42Ito):
    id = "R8-proof-ito"
    claim = "Ito's formula gives dE[energy]/dt = the paper's printed first equality (tau = 0)"


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


class Cor43AsStated(_Cor43, Thm42AsStated):
    r"""Level 1, exact (closed-form second moment, `tau0_moments`)."""

    id = "R8-as-stated"
    note_exact = "closed-form second moment (theory.energy.quadratic_msd), no discretisation"
    claim = "E||X(t)-x*||^2 <= (delta+1) H ln t / ((t-1) mu^2) for all t > 1 (SDE, X(1) = x0)"
    claim_latex = r"\mathbb E\|X(t)-x^*\|^2\le\frac{(\delta+1)H\ln t}{(t-1)\mu^2},\ t>1"
    quick = profile(
        rows=_ROWS_STATED,
        T=1e4,
        n_t=200,
        h_kappa=0.25,
        ball_paths=800,
        T_ball=10.0,
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = profile(
        rows=_ROWS_FULL,
        T=1e6,
        n_t=1000,
        h_kappa=0.1,
        ball_paths=2000,
        T_ball=50.0,
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )

    def exact_curve(
        self, row: Row, problem: Problem, x0: np.ndarray, mu: float, m0: int, T: float, n_t: int
    ) -> tuple[np.ndarray, np.ndarray, None]:
        t = 1.0 + np.geomspace(1e-6, T - 1.0, n_t)
        m, _ = tau0_moments(t, problem, x0, mu, row.delta, row.b)
        return t, m, None


class Cor43AsStatedMC(_Cor43, Thm42AsStatedMC):
    id = "R8-as-stated-mc"
    claim = Cor43AsStated.claim
    claim_latex = Cor43AsStated.claim_latex
    quick = profile(
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = profile(
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )


class Cor43AsApplied(_Cor43, Thm42AsApplied):
    id = "R8-as-applied"
    claim = (
        "SGD with eta_k = 1/(mu k) (discussion (2)): E||x_k-x*||^2 <= (delta+1) H ln(delta k)"
        " / ((delta k - 1) mu^2)"
    )
    claim_latex = (
        r"\mathbb E\|x_k-x^*\|^2\le\frac{(\delta+1)H\ln(\delta k)}{(\delta k-1)\mu^2},\ "
        r"\delta k>1"
    )
    quick = profile(
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = profile(
        **{
            **dict(Thm42AsApplied.full),
            "rows": tuple(
                {k: v for k, v in r.items() if k != "l"}
                for r in Thm42AsApplied.full["rows"]
                if r["l"] == 0
            ),
        }
    )


class _ExactSteps(_Cor43):
    """Cor 4.3 proof steps at the exact moments (no Monte Carlo)."""

    method = "exact"
    quick = profile(
        rows=_ROWS_STATED,
        T=1e3,
        n_t=50,
        h_kappa=0.25,
        ball_paths=800,
        T_ball=10.0,
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = Cor43AsStated.full

    def exact_sides(
        self,
        problem: Problem,
        row: Row,
        x0: np.ndarray,
        mu: float,
        L: float,
        ball: Ball,
        tr: float,
        bound: Any,
        t: np.ndarray,
        scale: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        vals = self._values(problem, row, mu, L, ball, tr, bound, t)
        r2, ip = tau0_moments(t, problem, x0, mu, row.delta, row.b)
        vals.update(r2=r2, ip=ip)
        return self._sides(vals, scale)

    def exact_extra(
        self,
        problem: Problem,
        row: Row,
        x0: np.ndarray,
        mu: float,
        L: float,
        ball: Ball,
        tr: float,
        bound: Any,
        t: np.ndarray,
    ) -> dict[str, Any]:
        r"""The implication's end point: $\max_t\mathbb E\mathcal E(t)$ (claimed $\le 0$) and
        an independent check of the first equality: $\frac{d}{dt}\mathbb E\mathcal E$ by central
        differences of the exact $\mathbb E\mathcal E(t)$ vs $\mathbb E$[printed equality]."""
        steps = _proof_steps(True)
        vals = self._values(problem, row, mu, L, ball, tr, bound, t)
        r2, ip = tau0_moments(t, problem, x0, mu, row.delta, row.b)
        E_energy = steps[3].left_value(**{**vals, "r2": r2})
        eq = steps[1].left_value(**{**vals, "r2": r2, "ip": ip})
        hs = 1e-6 * t
        e_plus, e_minus = (
            steps[3].left_value(
                **{
                    **vals,
                    "t": t + s,
                    "r2": tau0_moments(t + s, problem, x0, mu, row.delta, row.b)[0],
                }
            )
            for s in (hs, -hs)
        )
        fd = (e_plus - e_minus) / (2 * hs)
        scale_ = np.maximum(1.0, np.abs(eq))
        return {
            "max_E_energy": float(np.max(E_energy)),
            "t_max_E_energy": float(t[int(np.argmax(E_energy))]),
            "dE_energy_fd_vs_equality_max_rel_diff": float(np.max(np.abs(fd - eq) / scale_)),
        }


class Cor43FirstInequality(_ExactSteps, Thm42FirstInequality):
    id = "R8-proof-first-inequality"
    claim = (
        "E[printed equality] <= L D^2/(t mu) + delta E tr/(2 mu^2 t) - (delta+1) H/(2 t mu^2)"
        " for t > 1 (first inequality, Cor 4.3)"
    )


class Cor43Nonpositive(_ExactSteps, Thm42Nonpositive):
    id = "R8-proof-nonpositive"
    claim = "L D^2/(t mu) + delta E tr/(2 mu^2 t) - (delta+1) H/(2 t mu^2) <= 0 (Cor 4.3)"


class Cor43Decreasing(_ExactSteps, Thm42Decreasing):
    id = "R8-proof-decreasing"
    claim = "dE[energy(t)]/dt = E[printed equality] <= 0 for t > 1 (Cor 4.3)"


CHECKS = [
    Cor43Ito(),
    Cor43AsStated(),
    Cor43AsStatedMC(),
    Cor43AsApplied(),
    Cor43FirstInequality(),
    Cor43Nonpositive(),
    Cor43Decreasing(),
]

if __name__ == "__main__":
    run_alone(CHECKS)
