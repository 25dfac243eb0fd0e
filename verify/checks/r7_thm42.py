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

**Checks in this file** (Cor 4.3, τ = 0, is `r8_cor43.py`, built from the same classes):

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

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import sympy as sp
from scipy import stats as _st

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, RandomDelay
from numerics.moments import asgd_moments_for, em_scheme_moments
from numerics.problems import LeastSquares, LogisticL2, Problem, Quadratic, sqrt_psd
from numerics.schedules import InverseMuK
from numerics.sdde import SDDEResult, euler_maruyama
from theory import energy
from theory.constants import thm42_bound
from theory.errors import InputError
from theory.schemes import IdentityCheck, check_identity
from verify import stats
from verify.checks.base import Check, Diverged, profile, raise_if_diverged, run_alone
from verify.context import RunContext, stable_id_key
from verify.verdict import CheckResult, Hypothesis, Verdict

__all__ = [
    "CHECKS",
    "CONVENTIONS",
    "Ball",
    "Row",
    "Thm42AsApplied",
    "Thm42AsStated",
    "Thm42AsStatedMC",
    "Thm42InputError",
    "Thm42Ito",
    "Thm42ProofStep",
    "asgd_horizon",
    "build_problem",
    "exact_rows_result",
    "measure_ball",
    "sdde_batched",
    "sdde_from_one",
    "sdde_horizon",
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


class Thm42InputError(InputError):
    """Bad grid row or parameter of the R7/R8 checks (unknown problem, tau not on the grid)."""


# ============================================================================ grid rows


@dataclass(frozen=True)
class Row:
    r"""One grid point (problem and parameters of the claim).

    Attributes:
        problem: ``"quadratic"`` (d = 2, Gaussian noise), ``"least-squares"`` (n = 40, d = 3)
            or ``"logistic"`` (n = 40, d = 2, L2 regularised).
        kappa: condition number L/μ (L = 1 for quadratic and least squares).
        noise: tr Σ(x*) (quadratic, least squares); ignored for logistic (data decide it).
        delta: δ of the bound and of the diffusion $\sqrt\delta/(\mu t)$.
        tau: SDDE delay τ (level 1); `l`: ASGD delay bound (level 2).
        b: minibatch size (σσᵀ = Σ/b).
        x0_dist: $\|x_0 - x^*\|$.
        delay: ``"constant"`` (θ ≡ τ; $l_k = l$) or ``"random"`` (i.i.d. uniform on
            $\{0..l\}$, Thm 3.2's model; level 1: θ(t) = $l_k\delta$ on $[k\delta,(k+1)\delta)$,
            $l = \tau/\delta$, exact check `R7-as-stated` only); the bound uses τ either way.
    """

    problem: str = "quadratic"
    kappa: float = 10.0
    noise: float = 1.0
    delta: float = 1.0
    tau: float = 0.0
    l: int = 0
    b: int = 1
    x0_dist: float = 1.0
    delay: str = "constant"

    def point(self, level: str = "as-stated") -> dict[str, Any]:
        """The parameters shown in a report's grid table."""
        p = asdict(self)
        p.pop("l" if level == "as-stated" else "tau")
        if (self.tau if level == "as-stated" else self.l) == 0:
            p.pop("delay")
        if self.problem == "logistic":
            p.pop("noise")
        return p


def _rows(spec: Sequence[Any]) -> list[Row]:
    out = []
    for r in spec:
        if isinstance(r, Row):
            out.append(r)
        elif isinstance(r, Mapping):
            unknown = set(r) - set(Row.__dataclass_fields__)
            if unknown:
                raise Thm42InputError(
                    "rows",
                    dict(r),
                    f"unknown keys {sorted(unknown)}",
                    f"use keys among {sorted(Row.__dataclass_fields__)}",
                )
            out.append(Row(**r))
        else:
            raise Thm42InputError("rows", r, "must be a Row or a dict", "pass dicts")
    return out


def _constant_delay_only(row: Row, tau: float) -> None:
    """The Monte Carlo level-1/level-3 checks simulate θ ≡ τ only."""
    if row.delay != "constant" and tau > 0:
        raise Thm42InputError(
            "delay",
            row.delay,
            "random theta(t) is supported by R7-as-stated only",
            "use delay='constant' here",
        )


def _delay_model(row: Row, l: int) -> Any:
    if l == 0:
        return None
    if row.delay == "constant":
        return ConstantDelay(l)
    if row.delay == "random":
        return RandomDelay(l)
    raise Thm42InputError("delay", row.delay, "unknown delay model", "use constant or random")


def build_problem(row: Row, data_seed: int = 0) -> tuple[Problem, np.ndarray, float, float]:
    r"""The loss of a grid row, the start $x_0$ ($\|x_0-x^*\|$ = `x0_dist`), μ and L.

    Quadratic: $Q = \operatorname{diag}(1/\kappa, 1)$, noise $\mathcal N(0, \tfrac{noise}{2}I)$.
    Least squares: $\tilde A$ with eigenvalues `geomspace(1/kappa, 1, 3)`, residual at $x^*$
    orthogonal to the columns of $A$ and scaled so that $\operatorname{tr}\Sigma(x^*) =$ noise.
    Logistic: Gaussian features, labels of a logistic model, λ chosen so that L/μ = κ.
    The data use `numpy.random.default_rng(data_seed)` (the data set is part of the problem).
    """
    rng = np.random.default_rng(data_seed)
    if row.kappa < 1 or not math.isfinite(row.kappa):
        raise Thm42InputError("kappa", row.kappa, "must be >= 1 and finite", "pass L/mu >= 1")
    if row.problem == "quadratic":
        mu, L = 1.0 / row.kappa, 1.0
        x_star = np.array([0.5, -0.5])
        problem: Problem = Quadratic(np.diag([mu, L]), x_star, np.eye(2) * row.noise / 2)
    elif row.problem == "least-squares":
        n, d = 40, 3
        lam = np.geomspace(1.0 / row.kappa, 1.0, d)
        U = np.linalg.qr(rng.standard_normal((n, n)))[0]
        V = np.linalg.qr(rng.standard_normal((d, d)))[0]
        A = U[:, :d] @ np.diag(np.sqrt(n * lam)) @ V.T
        r = U[:, d:] @ rng.standard_normal(n - d)  # orthogonal to col(A): x* = x_true
        scale = np.sum(r**2 * np.sum(A**2, axis=1)) / n
        r = r * (math.sqrt(row.noise / scale) if scale > 0 else 0.0)
        problem = LeastSquares(A, A @ np.full(d, 0.5) + r)
        mu, L = problem.mu, problem.L
    elif row.problem == "logistic":
        n, d = 40, 2
        if row.kappa <= 1:
            raise Thm42InputError("kappa", row.kappa, "must be > 1 for logistic", "pass > 1")
        A = rng.standard_normal((n, d))
        y = np.where(A @ np.array([1.0, -1.0]) + rng.logistic(size=n) > 0, 1.0, -1.0)
        s = float(np.linalg.eigvalsh(A.T @ A)[-1] / (4 * n))
        problem = LogisticL2(A, y, s / (row.kappa - 1))
        mu, L = problem.mu, problem.L
    else:
        raise Thm42InputError(
            "problem", row.problem, "unknown problem", "use quadratic, least-squares, logistic"
        )
    direction = np.ones(problem.d) / math.sqrt(problem.d)
    x0 = np.asarray(problem.x_star, dtype=float) + row.x0_dist * direction
    return problem, x0, float(mu), float(L)


def trace_sigma_at_star(problem: Problem, b: int) -> float:
    r"""$\operatorname{tr}(\sigma\sigma^\top) = \operatorname{tr}\Sigma(x^*)/b$."""
    return float(np.trace(np.atleast_2d(problem.Sigma(problem.x_star)))) / b


def steps_per_unit(row: Row, tau: float, h_kappa: float, base: int = 20) -> int:
    r"""$m_0 = 1/h$: a multiple of 10 with $h\kappa \le$ `h_kappa` (the fastest rate of the
    drift at $t \ge 1$ is $L/(\mu t) \le \kappa$) and τ on the grid."""
    m0 = 10 * math.ceil(max(base, row.kappa / h_kappa) / 10)
    l = round(tau * m0)
    if abs(l - tau * m0) > 1e-9 * max(1.0, tau * m0):
        raise Thm42InputError(
            "tau", tau, f"is not a multiple of the step 1/{m0}", "use tau with one decimal"
        )
    return m0


# ============================================================================ simulation


def _constant_segment(x0: np.ndarray, l: int, m: int) -> np.ndarray | None:
    """ξ ≡ x0 on the fine grid of [-τ, 0] (`l m + 1` values), passed explicitly: without it,
    `numerics.sdde.euler_maruyama` applies the coarse footnote-2 cap min(l_k, j) to the fine
    solution too, which then reads X(ih) instead of ξ = x0 inside the first τ (it is the
    constant segment only for the coarse scheme)."""
    if l == 0:
        return None
    return np.broadcast_to(np.asarray(x0, dtype=float), (l * m + 1, np.size(x0))).copy()


def sdde_from_one(
    problem: Problem,
    x0: np.ndarray,
    *,
    mu: float,
    delta: float,
    tau: float,
    b: int,
    T: float,
    m0: int,
    paths: int,
    seed: np.random.SeedSequence,
    record_every: int,
    map_fn: Any = None,
) -> SDDEResult:
    r"""Euler–Maruyama paths of the Thm 4.2 SDDE on $[1, T]$, θ ≡ τ, ξ ≡ $x_0$ on $[1-\tau, 1]$.

    $dX = -\frac{1}{\mu t}\nabla F(X(t-\tau))dt + \frac{\sqrt\delta}{\mu t}\sigma dB$ with
    σ the PSD root of $\Sigma(x^*)/b$; coarse step $\Delta = 1/m_0$ and a fine solution with
    step $\Delta/2$ on the same Brownian path (`numerics.sdde.euler_maruyama`, `k0` = $m_0$ so
    that $t = k\Delta$ starts at 1; ξ ≡ $x_0$ passed explicitly, see `_constant_segment`). The
    fine solution is the reference; coarse − fine is the bias estimate.
    """
    l = round(tau * m0)
    K = round((T - 1) * m0)
    G = sqrt_psd(np.atleast_2d(problem.Sigma(problem.x_star)) / b)
    return euler_maruyama(
        lambda X: -problem.grad(X),
        G,
        d=problem.d,
        delta=1.0 / m0,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        xi=_constant_segment(x0, l, 2),
        delay=ConstantDelay(l) if l else None,
        k0=m0,
        drift_factor=lambda t: 1.0 / (mu * t),
        noise_factor=lambda t: math.sqrt(delta) / (mu * t),
        substeps=2,
        record_every=record_every,
        map_fn=map_fn,
    )


def random_delay_grid(row: Row, m0: int) -> tuple[int, int, int]:
    r"""(k0, l, m) for the SDDE with random θ(t) = $l_k\delta$ on $[k\delta,(k+1)\delta)$:
    $k_0 = 1/\delta$ (start at t = 1), $l = \tau/\delta$, $m = m_0\delta$ substeps per δ
    (step $h = 1/m_0$); all must be integers."""
    k0, l, m = 1.0 / row.delta, row.tau / row.delta, m0 * row.delta
    for name, v in (("1/delta", k0), ("tau/delta", l), ("m0*delta", m)):
        if abs(v - round(v)) > 1e-9 * max(1.0, abs(v)) or round(v) < 1:
            raise Thm42InputError(
                "delta",
                row.delta,
                f"random delays need an integer {name} (= {v:g})",
                "use delta in {0.1, 0.2, 0.5, 1} and tau a multiple of delta",
            )
    return round(k0), round(l), round(m)


def sdde_random_from_one(
    problem: Problem,
    x0: np.ndarray,
    *,
    mu: float,
    delta: float,
    tau: float,
    b: int,
    T: float,
    m0: int,
    paths: int,
    seed: np.random.SeedSequence,
    record_every: int,
    map_fn: Any = None,
    row: Row | None = None,
    h_m0: int = 0,
) -> SDDEResult:
    r"""As `sdde_from_one` with random θ(t) = $l_k\delta$ ($l_k$ uniform on $\{0..l\}$, one per
    $[k\delta,(k+1)\delta)$): coarse step δ, fine step $1/h_{m_0}$ on the same Brownian path.
    `m0` here is the number of coarse steps per unit time ($1/\delta$)."""
    k0, l, m = random_delay_grid(row, h_m0)
    G = sqrt_psd(np.atleast_2d(problem.Sigma(problem.x_star)) / b)
    return euler_maruyama(
        lambda X: -problem.grad(X),
        G,
        d=problem.d,
        delta=delta,
        K=round((T - 1) / delta),
        paths=paths,
        seed=seed,
        x0=x0,
        xi=_constant_segment(x0, l, m),
        delay=RandomDelay(l),
        k0=k0,
        drift_factor=lambda t: 1.0 / (mu * t),
        noise_factor=lambda t: math.sqrt(delta) / (mu * t),
        substeps=m,
        record_every=record_every,
        map_fn=map_fn,
    )


#: memory bound of one batch of recorded paths (floats) in the Monte Carlo parts.
MAX_BATCH_FLOATS = 20_000_000


def sdde_batched(
    reduce: Any,
    problem: Problem,
    x0: np.ndarray,
    *,
    paths: int,
    seed: np.random.SeedSequence,
    record_every: int,
    T: float,
    m0: int,
    sim_fn: Any = None,
    **kw: Any,
) -> np.ndarray:
    """`sdde_from_one` over batches of paths (bounded memory), `reduce(sim)` per batch
    (an array whose last axis is the batch's paths), concatenated on that axis. Batch `i`
    uses `seed.spawn(n_batches)[i]`: the numbers depend on the seed and sizes only."""
    n_rec = round((T - 1) * m0) // record_every + 2
    size = max(50, min(paths, MAX_BATCH_FLOATS // (2 * n_rec * problem.d)))
    sizes = [min(size, paths - s) for s in range(0, paths, size)]
    out = []
    for n_b, sd in zip(sizes, seed.spawn(len(sizes))):
        sim = (sim_fn or sdde_from_one)(
            problem, x0, paths=n_b, seed=sd, record_every=record_every, T=T, m0=m0, **kw
        )
        out.append(np.asarray(reduce(sim)))
    return np.concatenate(out, axis=-1)


@dataclass(frozen=True)
class Ball:
    """The hypothesis $X(t)\\in d(x_0, D)$ for all t, as chosen and as measured."""

    D: float
    rule: str
    exits: int
    n_test: int
    n_pilot: int
    exit_ucb: float
    eps_max: float
    horizon: float

    @property
    def holds(self) -> bool:
        return bool(self.exit_ucb <= self.eps_max)

    def details(self) -> dict[str, Any]:
        return {
            "D": self.D,
            "D_rule": self.rule,
            "exit_fraction": self.exits / self.n_test,
            "exit_ucb": self.exit_ucb,
            "exit_paths": self.n_test,
        }

    def reason(self) -> str:
        return (
            f"paths leave d(x0, D={self.D:.4g}): {self.exits}/{self.n_test} on [1, "
            f"{self.horizon:g}], Clopper-Pearson upper bound {self.exit_ucb:.3g} > eps_max "
            f"{self.eps_max:g}"
        )


def measure_ball(
    sup_dist: np.ndarray, params: Mapping[str, Any], alpha: float, horizon: float
) -> Ball:
    r"""Choose $D$ and measure containment from $\sup_t\|X(t)-x_0\|$ of independent paths.

    The first half of the paths is the pilot: $D$ is the order statistic $X_{(j)}$ with the
    smallest $j$ such that $P(\mathrm{Bin}(n, 1-\varepsilon_D) \le j-1) \ge 1-\alpha$, an upper
    $(1-\alpha)$ confidence bound of the $(1-\varepsilon_D)$ quantile (the sample maximum when
    $n$ is too small); the second half is the test; a given `D` replaces the quantile. Exit
    probability: one-sided Clopper–Pearson upper bound at level α (exact).
    """
    sup_dist = np.asarray(sup_dist, dtype=float)
    half = sup_dist.size // 2
    pilot, test = sup_dist[:half], sup_dist[half:]
    if params.get("D") is not None:
        D, rule = float(params["D"]), "given"
    else:
        eps = float(params.get("eps_D", 0.01))
        srt = np.sort(pilot)
        # smallest order statistic X_(j) with P(Bin(n, 1-eps) <= j-1) >= 1-alpha: an upper
        # (1-alpha) confidence bound of the (1-eps) quantile (distribution-free)
        j = int(_st.binom.ppf(1 - alpha, half, 1 - eps)) + 1
        D = float(srt[min(j, half) - 1])
        rule = (
            f"upper {1 - alpha:g}-confidence bound (order statistic {min(j, half)} of {half} "
            f"pilot paths) of the {1 - eps:g}-quantile of sup_t ||X(t) - x0||"
        )
    exits = int(np.count_nonzero(~(test <= D)))
    n = test.size
    ucb = 1.0 if exits == n else float(_st.beta.ppf(1 - alpha, exits + 1, n - exits))
    return Ball(D, rule, exits, n, half, ucb, float(params.get("eps_max", 0.05)), horizon)


_BALLS: dict[tuple, Ball] = {}


def _sdde_ball(key: tuple, problem: Problem, x0: np.ndarray, map_fn: Any) -> Ball:
    """`measure_ball` on SDDE paths for the cache key of `Thm42AsStated.ball_for`."""
    if key in _BALLS:
        return _BALLS[key]
    seed_, row, tau, mu, m0, T, paths, D, eps_D, eps_max, alpha, _data = key
    extra: dict[str, Any] = {}
    if row.delay == "random" and tau > 0:
        k0, _l, _m = random_delay_grid(row, m0)
        T = 1.0 + row.delta * math.ceil((T - 1.0) / row.delta)
        extra = dict(sim_fn=sdde_random_from_one, row=row, h_m0=m0)
        m0 = k0  # coarse steps per unit time
    every, _ = _record_grid(m0, T, 2)
    seed = np.random.SeedSequence(
        entropy=int(seed_), spawn_key=(stable_id_key("R7/R8 ball"), stable_id_key(repr(row)))
    )

    def sup_dist(sim: SDDEResult) -> np.ndarray:
        X = sim.fine_trajectory
        if not np.all(np.isfinite(X)):
            raise Diverged(f"grid row {_label(row.point())}: SDDE fine paths non-finite")
        return np.max(np.linalg.norm(X - x0, axis=-1), axis=0)

    sup = sdde_batched(
        sup_dist,
        problem,
        x0,
        paths=paths,
        seed=seed,
        record_every=every,
        T=T,
        m0=m0,
        mu=mu,
        delta=row.delta,
        tau=tau,
        b=row.b,
        map_fn=map_fn,
        **extra,
    )
    ball = measure_ball(sup, {"D": D, "eps_D": eps_D, "eps_max": eps_max}, alpha, T)
    if len(_BALLS) > 512:
        _BALLS.clear()
    _BALLS[key] = ball
    return ball


def sdde_horizon(T: float, row: Row, tau: float) -> float:
    r"""`T`, extended to $4\kappa\tau/\pi$: the fastest mode $x' = -\frac{\kappa}{t}x(t-\tau)$
    oscillates with growing amplitude while $\kappa\tau/t > \pi/2$ (the constant-coefficient
    stability limit $a\tau < \pi/2$), so the sup of the paths and the largest moments lie in
    $t \lesssim 2\kappa\tau/\pi$; twice that is covered."""
    return float(max(T, 4.0 * row.kappa * tau / math.pi))


def asgd_horizon(K: int, row: Row, l: int) -> int:
    r"""`K`, extended to twice the last unstable step: delayed GD on a mode $q$ with step
    $h$ and constant delay $l$ is stable iff $hq < 2\sin(\pi/(2(2l+1)))$ (SPEC §4); with
    $h = 1/(\mu k)$ and $q = L$ the iterates may grow while $k < \kappa/(2\sin(\pi/(2(2l+1))))$."""
    k_unstable = row.kappa / (2.0 * math.sin(math.pi / (2 * (2 * l + 1))))
    return int(max(K, math.ceil(2 * k_unstable)))


def _t_targets(T: float, n: int) -> np.ndarray:
    return 1.0 + np.geomspace(1e-3, T - 1.0, n)


def _record_grid(m0: int, T: float, n: int, divisor: int = 0) -> tuple[int, np.ndarray]:
    """`record_every` (dividing the delay `divisor` in steps when > 0) and the recorded-time
    indices nearest to a geometric grid of `n` times in (1, T]."""
    K = round((T - 1) * m0)
    want = max(1, m0 // 20, math.ceil(K / 4000))
    if divisor > 0:
        want = max(d for d in range(1, min(want, divisor) + 1) if divisor % d == 0)
    n_rec = K // want + 1
    idx = np.unique(np.clip(np.rint((_t_targets(T, n) - 1) * m0 / want), 1, n_rec - 1))
    return want, idx.astype(int)


# ============================================================================ verdicts


def _relative(lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.maximum(1.0, np.maximum(np.abs(lhs), np.abs(rhs)))
    return lhs / s, rhs / s


def exact_rows_result(
    check: Check,
    ctx: RunContext,
    evidence: list[dict[str, Any]],
    not_applicable: list[dict[str, Any]],
    *,
    method: str = "exact",
    xlabel: str = "t",
    ylabel: str = "E||X(t) - x*||^2",
    note: str = "",
) -> CheckResult:
    r"""Deterministic verdict over grid rows, each with arrays `t`, `lhs`, `rhs`, `bias`.

    Per element, relative tolerance 64 ulp (`verify.stats.decide_exact` on values divided by
    $\max(1, |lhs|, |rhs|)$). Without bias: PASS iff lhs ≤ rhs everywhere. With a discretisation
    bracket: PASS iff lhs + bias ≤ rhs everywhere, FAIL iff lhs − bias > rhs somewhere, else
    INCONCLUSIVE.
    """
    if not evidence:
        return check.make_result(
            ctx,
            Verdict.NOT_APPLICABLE,
            method,
            message="every grid row fails a hypothesis: "
            + "; ".join(f"{r['point']}: {r['reason']}" for r in not_applicable),
            details={"not_applicable": not_applicable},
        )
    rows, verdicts = [], []
    for ev in evidence:
        t, lhs, rhs = (np.asarray(ev[k], dtype=float) for k in ("t", "lhs", "rhs"))
        bias = np.zeros_like(lhs) if ev.get("bias") is None else np.abs(ev["bias"])
        if not (np.all(np.isfinite(lhs)) and np.all(np.isfinite(rhs))):
            raise Diverged(f"grid row {ev['point']}: non-finite exact moments")
        hi = stats.decide_exact(*_relative(lhs + bias, rhs), relation="le")
        lo = stats.decide_exact(*_relative(lhs - bias, rhs), relation="le")
        v = (
            Verdict.PASS
            if hi.verdict is Verdict.PASS
            else (Verdict.FAIL if lo.verdict is Verdict.FAIL else Verdict.INCONCLUSIVE)
        )
        verdicts.append(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(rhs > 0, lhs / rhs, np.inf)
        j = int(np.argmax(_relative(lhs + bias, rhs)[0] - _relative(lhs + bias, rhs)[1]))
        rows.append(
            {
                **ev["point"],
                **ev.get("extra", {}),
                "t_worst": float(t[j]),
                "estimate": float(lhs[j]),
                "lcb": float(lhs[j] - bias[j]),
                "ucb": float(lhs[j] + bias[j]),
                "rhs": float(rhs[j]),
                "max_lhs_over_rhs": float(np.max(ratio)),
                "t_max_ratio": float(t[int(np.argmax(ratio))]),
                "max_bias": float(np.max(bias)),
                "verdict": v.value,
            }
        )
    if any(v is Verdict.FAIL for v in verdicts):
        verdict = Verdict.FAIL
        w = int(
            np.argmax([r["lcb"] - r["rhs"] if r["verdict"] == "FAIL" else -np.inf for r in rows])
        )
    else:
        verdict = (
            Verdict.PASS if all(v is Verdict.PASS for v in verdicts) else (Verdict.INCONCLUSIVE)
        )
        w = int(np.argmax([r["max_lhs_over_rhs"] for r in rows]))
    worst = rows[w]
    plots = []
    if ctx.out_dir is not None:
        plots.append(check.plot_grid(ctx, "grid", rows))
        ev = evidence[w]
        b = np.zeros_like(ev["lhs"]) if ev.get("bias") is None else np.abs(ev["bias"])
        plots.append(
            check.plot_band(
                ctx,
                "worst_row",
                ev["t"],
                ev["lhs"],
                ev["lhs"] - b,
                ev["lhs"] + b,
                ev["rhs"],
                xlabel=xlabel,
                ylabel=ylabel,
                logx=True,
                logy=bool(np.all(ev["lhs"] - b > 0) and np.all(ev["rhs"] > 0)),
                band_label="discretisation bracket" if ev.get("bias") is not None else "exact",
            )
        )
    n_fail = sum(v is Verdict.FAIL for v in verdicts)
    msg = (
        f"{n_fail} of {len(rows)} applicable rows FAIL; worst row "
        f"{_label(evidence[w]['point'])}: lhs {worst['estimate']:.4g} vs rhs "
        f"{worst['rhs']:.4g} at t = {worst['t_worst']:.4g}; max lhs/rhs = "
        f"{worst['max_lhs_over_rhs']:.3g}"
    )
    if not_applicable:
        msg += f"; {len(not_applicable)} rows NOT APPLICABLE (see details)"
    if note:
        msg += ". " + note
    return check.make_result(
        ctx,
        verdict,
        method,
        estimate=worst["estimate"],
        rhs=worst["rhs"],
        confidence_bound=worst["lcb"] if verdict is Verdict.FAIL else worst["ucb"],
        bound_kind="exact, relative tolerance 64 ulp"
        + (
            ", Euler-Maruyama bracket +-|M_h - M_h/2|"
            if evidence[0].get("bias") is not None
            else ""
        ),
        details={"grid": rows, "not_applicable": not_applicable},
        plots=plots,
        message=msg,
    )


@functools.lru_cache(maxsize=2)
def _proof_steps(corollary: bool) -> tuple[energy.ProofStep, ...]:
    """`theory.energy.proof_steps`, built once per process (lambdify is slow)."""
    return energy.proof_steps(corollary)


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _t_curves_plot(
    check: Check, ctx: RunContext, res: CheckResult, name: str, ylabel: str = "LHS"
) -> None:
    """Band plot over t of the worst row of a Monte Carlo grid result."""
    grid = res.details.get("grid") or []
    if ctx.out_dir is None or not grid:
        return
    worst = int(np.argmax([r["ucb"] - r["rhs"] for r in grid]))
    block = [r for r in grid if r.get("row") == grid[worst].get("row")]
    if len(block) < 2:
        return
    t = [r["t"] for r in block]
    res.plots.append(
        check.plot_band(
            ctx,
            name,
            t,
            [r["estimate"] for r in block],
            [r["lcb"] for r in block],
            [r["ucb"] for r in block],
            [r["rhs"] for r in block],
            logx=True,
            ylabel=ylabel,
        )
    )


# ============================================================================ checks


class Thm42Ito(Check):
    r"""Proof step 1: $d\mathbb E\mathcal E$ by Itô (derived in code) = the printed equality."""

    id = "R7-proof-ito"
    result = "Thm 4.2"
    level = "proof-step"
    method = "symbolic"
    corollary: ClassVar[bool] = False
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
        c = self.corollary
        name = "Cor 4.3" if c else "Thm 4.2"
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


class _Common(Check):
    """Shared hypotheses and parameter handling of the R7/R8 checks."""

    result = "Thm 4.2"
    corollary: ClassVar[bool] = False

    @staticmethod
    def _mu_used(ctx: RunContext, mu: float) -> float:
        """The μ of the schedule and of the bound: `mu_factor` × λ_min (default 1)."""
        return float(ctx.params.get("mu_factor", 1.0)) * mu

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        f = float(ctx.params.get("mu_factor", 1.0))
        return [
            Hypothesis(
                "F is mu-strongly convex for the mu of the schedule (mu <= lambda_min)",
                f <= 1.0,
                f"mu = {f:g} * lambda_min(Hessian) in every grid row",
            ),
            Hypothesis(
                "t > 1 and theta(t) <= tau",
                True,
                "by construction: t grid in (1, T], theta = tau constant",
            ),
        ]

    def _tau(self, row: Row) -> float:
        return 0.0 if self.corollary else row.tau

    def _bound(
        self, row: Row, L: float, mu: float, D: float, tau: float, tr: float, H: Any = None
    ) -> Any:
        """`theory.constants.thm42_bound`; `H` (param) defaults to H_min (SPEC §1); a given
        H below H_min raises `ConstantsInputError`."""
        return thm42_bound(row.delta, L, mu, D, 0.0 if self.corollary else tau, tr, H)


class Thm42AsStated(_Common):
    r"""Level 1, exact: $\mathbb E\|X(t)-x^*\|^2$ of the SDDE (θ ≡ τ) vs the bound, over a grid.

    Exact moments of the Euler–Maruyama scheme at steps $h$ and $h/2$ (`em_scheme_moments`,
    started at $t = 1$); the value reported is $M_{h/2}$ with the bracket
    $\pm|M_h - M_{h/2}|$. $D$ from Monte Carlo paths of the same SDDE (`measure_ball`).
    """

    id = "R7-as-stated"
    level = "as-stated"
    method = "exact"
    claim = "E||X(t)-x*||^2 <= (delta+1)(H+2L^2D^2 tau) ln t / ((t-1) mu^2) for all t > 1"
    claim_latex = (
        r"\mathbb E\|X(t)-x^*\|^2\le\frac{(\delta+1)(H+2L^2D^2\tau)\ln t}{(t-1)\mu^2},\ t>1"
    )
    conventions = CONVENTIONS
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = profile(
        rows=tuple(
            dict(problem=p, kappa=k, noise=s, delta=dl, tau=tau)
            for p in ("quadratic", "least-squares")
            for k in (1, 10, 30)
            for s in (0.01, 1.0, 100.0)
            for dl in (0.1, 1.0, 10.0)
            for tau in (0.1, 1.0, 3.0)
        )
        + tuple(
            dict(problem="quadratic", kappa=k, noise=1.0, delta=dl, tau=tau, delay="random")
            for k in (1, 10, 30)
            for dl in (0.1, 1.0)
            for tau in (1.0, 3.0)
        ),
        T=50.0,
        n_t=80,
        h_kappa=0.1,
        ball_paths=2000,
        T_ball=50.0,
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )

    def ball_for(
        self,
        ctx: RunContext,
        j: int,
        row: Row,
        problem: Problem,
        x0: np.ndarray,
        mu: float,
        m0: int,
    ) -> Ball:
        """Measure the ball on SDDE paths (fine solution, recorded every ~1/20 time unit).

        The paths' seed depends on the run's global seed and the row only (not on the check
        id), so every R7/R8 check sees the same D for the same row; the result is cached in
        the process."""
        p = ctx.params
        key = (
            ctx.global_seed,
            row,
            self._tau(row),
            mu,
            m0,
            sdde_horizon(float(p["T_ball"]), row, self._tau(row)),
            int(p["ball_paths"]),
            p.get("D"),
            float(p.get("eps_D", 0.01)),
            float(p.get("eps_max", 0.05)),
            ctx.alpha,
            int(p.get("data_seed", 0)),
        )
        return _sdde_ball(key, problem, x0, ctx.map)

    note_exact: ClassVar[str] = (
        "EM exact moments at h and h/2; bracket +-|M_h - M_h/2| (weak order 1)"
    )

    def exact_curve(
        self, row: Row, problem: Problem, x0: np.ndarray, mu: float, m0: int, T: float, n_t: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, M_{h/2}, M_h - M_{h/2}) from the exact EM moments at steps 1/m0 and 1/(2 m0)."""
        Q = np.atleast_2d(problem.hessian(problem.x_star))
        S = np.atleast_2d(problem.Sigma(problem.x_star)) / row.b
        x_star = np.asarray(problem.x_star, dtype=float)
        tau = self._tau(row)
        if row.delay == "random" and tau > 0:
            return self._exact_curve_random(row, Q, S, x_star, x0, mu, m0, T, n_t)
        out = []
        K0 = round((T - 1) * m0)
        k0_rec = np.unique(np.clip(np.rint((_t_targets(T, n_t) - 1) * m0), 1, K0)).astype(int)
        for m in (m0, 2 * m0):
            l = round(tau * m)
            q = np.zeros(l + 1)
            q[l] = 1.0
            h = 1.0 / m
            res = em_scheme_moments(
                Q,
                x_star,
                q,
                1.0,
                h,
                lambda t, h=h: h / (mu * t),
                K0 * (m // m0),
                noise=S * row.delta / h,
                x0=x0,
                record=k0_rec * (m // m0),
                k0=m,
            )
            out.append((res.times, res.mse))
        (t1, m1), (_t2, m2) = out
        return t1, m2, m1 - m2

    @staticmethod
    def _exact_curve_random(
        row: Row,
        Q: np.ndarray,
        S: np.ndarray,
        x_star: np.ndarray,
        x0: np.ndarray,
        mu: float,
        m0: int,
        T: float,
        n_t: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Random θ(t) = $l_k\delta$ (uniform $l_k$): exact moments of the EM scheme with
        coarse step δ (Eq. 6's own grid, `em_scheme_moments` with $U = \delta/(\mu t)$,
        $\eta = 1$, σσᵀ = Σ(x*)/b) and $m$, $2m$ substeps; the delay law is mixed exactly."""
        k0, l, m = random_delay_grid(row, m0)
        K = math.ceil((T - 1.0) / row.delta)
        k_rec = np.unique(np.clip(np.rint((_t_targets(T, n_t) - 1) / row.delta), 1, K))
        q = np.full(l + 1, 1.0 / (l + 1))
        out = []
        for sub in (m, 2 * m):
            res = em_scheme_moments(
                Q,
                x_star,
                q,
                1.0,
                row.delta,
                lambda t: row.delta / (mu * t),
                K,
                substeps=sub,
                noise=S,
                x0=x0,
                record=k_rec.astype(int),
                k0=k0,
            )
            out.append((res.times, res.mse))
        (t1, m1), (_t2, m2) = out
        return t1, m2, m1 - m2

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        evidence, na = [], []
        for j, row in enumerate(_rows(p["rows"])):
            problem, x0, mu0, L = build_problem(row, int(p.get("data_seed", 0)))
            mu = self._mu_used(ctx, mu0)
            m0 = steps_per_unit(row, self._tau(row), float(p["h_kappa"]))
            ball = self.ball_for(ctx, j, row, problem, x0, mu, m0)
            tr = trace_sigma_at_star(problem, row.b)
            point = row.point()
            if not ball.holds:
                na.append({"point": point, "reason": ball.reason(), **ball.details()})
                continue
            bound = self._bound(row, L, mu, ball.D, self._tau(row), tr, H=p.get("H"))
            T = sdde_horizon(float(p["T"]), row, self._tau(row))
            t, lhs, bias = self.exact_curve(row, problem, x0, mu, m0, T, int(p["n_t"]))
            evidence.append(
                {
                    "point": point,
                    "t": t,
                    "lhs": lhs,
                    "rhs": scale * bound.rhs(t),
                    "bias": bias,
                    "extra": {
                        **ball.details(),
                        "H": bound.H,
                        "E_tr_sigma": tr,
                        "L": L,
                        "mu": mu,
                        "h": 1.0 / (2 * m0),
                    },
                }
            )
        return exact_rows_result(
            self,
            ctx,
            evidence,
            na,
            note=self.note_exact,
        )


class Thm42AsStatedMC(Thm42AsStated):
    r"""Level 1, Monte Carlo (logistic regression: no exact moments).

    Fine EM paths (step $1/(2m_0)$), $\|X(t)-x^*\|^2$ at a geometric t grid; Student-t
    (asymptotic) one-sided bounds, Holm over all (row, t) points. The coarse scheme on the same
    Brownian path gives the bias estimate coarse − fine (reported, per row).
    """

    id = "R7-as-stated-mc"
    method = "monte-carlo"
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        samples, points, rhs_all, na, biases = [], [], [], [], []
        n_t = int(p["n_t"])
        T = float(p["T"])
        for j, row in enumerate(_rows(p["rows"])):
            problem, x0, mu0, L = build_problem(row, int(p.get("data_seed", 0)))
            mu = self._mu_used(ctx, mu0)
            tau = self._tau(row)
            _constant_delay_only(row, tau)
            T_row = sdde_horizon(T, row, tau)
            m0 = steps_per_unit(row, tau, float(p["h_kappa"]))
            ball = self.ball_for(ctx, j, row, problem, x0, mu, m0)
            tr = trace_sigma_at_star(problem, row.b)
            if not ball.holds:
                na.append({"point": row.point(), "reason": ball.reason(), **ball.details()})
                continue
            bound = self._bound(row, L, mu, ball.D, tau, tr, H=p.get("H"))
            every, idx = _record_grid(m0, T_row, n_t)
            x_star = np.asarray(problem.x_star)

            def r2_at(sim: SDDEResult, idx: np.ndarray = idx, x_star: np.ndarray = x_star):
                return np.stack(
                    [
                        np.sum((sim.fine_trajectory[idx] - x_star) ** 2, axis=-1),
                        np.sum((sim.trajectory[idx] - x_star) ** 2, axis=-1),
                    ]
                )

            fine, coarse = sdde_batched(
                r2_at,
                problem,
                x0,
                paths=int(p["paths"]),
                seed=ctx.seed(f"paths-{j}"),
                record_every=every,
                T=T_row,
                m0=m0,
                mu=mu,
                delta=row.delta,
                tau=tau,
                b=row.b,
                map_fn=ctx.map,
            )
            t = 1.0 + idx * every / m0
            rhs = scale * bound.rhs(t)
            bias = coarse.mean(axis=1) - fine.mean(axis=1)
            biases.append(
                {**row.point(), "max_abs_bias_coarse_minus_fine": float(np.max(np.abs(bias)))}
            )
            for i in range(t.size):
                samples.append(fine[i])
                rhs_all.append(rhs[i])
                points.append(
                    {
                        "row": j,
                        **row.point(),
                        "t": float(t[i]),
                        "D": ball.D,
                        "H": bound.H,
                        "exit_fraction": ball.exits / ball.n_test,
                        "em_bias_coarse_minus_fine": float(bias[i]),
                    }
                )
        if not samples:
            return self.make_result(
                ctx,
                Verdict.NOT_APPLICABLE,
                "monte-carlo",
                message="every grid row fails a hypothesis: "
                + "; ".join(f"{_label(r['point'])}: {r['reason']}" for r in na),
                details={"not_applicable": na},
            )
        res = self.from_grid(
            ctx,
            samples,
            np.asarray(rhs_all),
            points=points,
            plot=False,
            details={
                "not_applicable": na,
                "em_bias": biases,
                "fine_step": "1/(2 m0), m0 = steps per unit time",
            },
        )
        if na:
            res.message += f" {len(na)} rows NOT APPLICABLE (see details)."
        _t_curves_plot(self, ctx, res, "worst_row", ylabel="E||X(t) - x*||^2")
        if ctx.out_dir is not None:
            res.plots.insert(0, self.plot_grid(ctx, "grid", res.details["grid"]))
        return res


class Thm42AsApplied(_Common):
    r"""Level 2, exact: ASGD with $\eta_k = 1/(\mu k)$, delays bounded by $l$ (constant or
    i.i.d. uniform), vs the bound at $t = \delta k$, $\tau = l\delta$, for each δ of `deltas`.

    $\mathbb E\|x_k-x^*\|^2$ from `numerics.moments.asgd_moments_for` (quadratic: additive
    Gaussian noise; least squares: exact minibatch noise); $D$ from Monte Carlo iterates
    (`numerics.asgd.simulate_asgd`, the same noise), $\sup_k\|x_k - x_0\|$ for $k \le$
    `K_ball`.
    """

    id = "R7-as-applied"
    level = "as-applied"
    method = "exact"
    claim = (
        "ASGD with eta_k = 1/(mu k), t = delta k: E||x_k-x*||^2 <= (delta+1)(H+2L^2D^2 tau) "
        "ln(delta k)/((delta k-1) mu^2), tau = l delta"
    )
    claim_latex = (
        r"\mathbb E\|x_k-x^*\|^2\le\frac{(\delta+1)(H+2L^2D^2\tau)\ln(\delta k)}"
        r"{(\delta k-1)\mu^2},\ \tau = l\delta,\ \delta k>1"
    )
    conventions = CONVENTIONS
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
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
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )

    def _l(self, row: Row) -> int:
        return 0 if self.corollary else int(row.l)

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        evidence, na = [], []
        for j, row in enumerate(_rows(p["rows"])):
            problem, x0, mu0, L = build_problem(row, int(p.get("data_seed", 0)))
            mu = self._mu_used(ctx, mu0)
            l = self._l(row)
            kw = dict(
                eta=1.0,
                delay=_delay_model(row, l),
                schedule=InverseMuK(mu),
                b=row.b,
                noise="minibatch" if row.problem == "least-squares" else "gaussian",
            )
            K_ball = asgd_horizon(int(p["K_ball"]), row, l)
            sup = self._asgd_sup(ctx, j, row, problem, x0, K_ball, int(p["ball_paths"]), kw)
            ball = measure_ball(sup, p, ctx.alpha, K_ball)
            mom = asgd_moments_for(problem, K=asgd_horizon(int(p["K"]), row, l), x0=x0, **kw)
            if not (np.all(np.isfinite(mom.mse))):
                bad = int(mom.steps[np.flatnonzero(~np.isfinite(mom.mse))[0]])
                raise Diverged(
                    f"grid row {_label(row.point('as-applied'))}: exact moments non-finite "
                    f"from k = {bad}"
                )
            tr = self._trace(problem, row, mom)
            for delta in p["deltas"]:
                r = Row(**{**asdict(row), "delta": float(delta)})
                point = r.point("as-applied")
                if not ball.holds:
                    na.append({"point": point, "reason": ball.reason(), **ball.details()})
                    continue
                t = mom.steps * float(delta)
                keep = t > 1
                bound = self._bound(r, L, mu, ball.D, l * float(delta), tr, H=p.get("H"))
                evidence.append(
                    {
                        "point": point,
                        "t": t[keep],
                        "lhs": mom.mse[keep],
                        "rhs": scale * bound.rhs(t[keep]),
                        "extra": {
                            **ball.details(),
                            "H": bound.H,
                            "E_tr_sigma": tr,
                            "k_first": int(mom.steps[keep][0]) if keep.any() else None,
                        },
                    }
                )
        return exact_rows_result(
            self,
            ctx,
            evidence,
            na,
            xlabel="t = delta k",
            ylabel="E||x_k - x*||^2",
            note="exact moments of the iterates (no Monte Carlo); D from Monte Carlo iterates",
        )

    @staticmethod
    def _asgd_sup(
        ctx: RunContext,
        j: int,
        row: Row,
        problem: Problem,
        x0: np.ndarray,
        K: int,
        paths: int,
        kw: dict[str, Any],
    ) -> np.ndarray:
        r"""$\sup_k\|x_k - x_0\|$ per path (every step for $K \le 4000$, else every
        $\lceil K/4000\rceil$-th), in batches of bounded memory; DIVERGED if a path overflows."""
        every = max(1, math.ceil(K / 4000))
        size = max(50, min(paths, MAX_BATCH_FLOATS // ((K // every + 2) * problem.d)))
        sizes = [min(size, paths - s) for s in range(0, paths, size)]
        out = []
        for n_b, sd in zip(sizes, ctx.seed(f"ball-{j}").spawn(len(sizes))):
            sim = simulate_asgd(
                problem,
                K=K,
                paths=n_b,
                seed=sd,
                x0=x0,
                record_every=every,
                map_fn=ctx.map,
                **kw,
            )
            raise_if_diverged(sim, _label(row.point("as-applied")))
            out.append(np.max(np.linalg.norm(sim.trajectory - x0, axis=-1), axis=0))
        return np.concatenate(out)

    @staticmethod
    def _trace(problem: Problem, row: Row, mom: Any) -> float:
        r"""$\sup_k\mathbb E\operatorname{tr}(\sigma\sigma^\top)$ at the read point: constant
        for the quadratic; least squares (minibatch, with replacement):
        $\operatorname{tr}\Sigma(x) = \frac1n\sum_i r_i^2\|a_i\|^2 - \|\nabla F(x)\|^2$ with
        $\mathbb E r_i^2 = (a_i^\top m - y_i)^2 + a_i^\top Ca_i$,
        $\mathbb E\|\nabla F\|^2 = \|\nabla F(m)\|^2 + \operatorname{tr}(\tilde AC\tilde A)$."""
        if not isinstance(problem, LeastSquares):
            return trace_sigma_at_star(problem, row.b)
        A, y, n = problem.A, problem.y, problem.n
        m, C = mom.mean, mom.cov
        Er2 = (m @ A.T - y) ** 2 + np.einsum("ni,rij,nj->rn", A, C, A)
        g = problem.grad(m)
        Eg2 = np.sum(g**2, axis=1) + np.einsum("ij,rjk,ki->r", problem.A_tilde, C, problem.A_tilde)
        tr = (Er2 @ np.sum(A**2, axis=1)) / n - Eg2
        return float(np.max(tr)) / row.b


class Thm42ProofStep(Thm42AsStated):
    r"""Level 3: one displayed step of the proof sketch along SDDE trajectories.

    `step` is ``"first_inequality"`` (printed equality ≤ the bound of the first inequality, in
    expectation), ``"nonpositive"`` (that bound ≤ 0) or ``"decreasing"`` (printed equality
    $= \frac{d}{dt}\mathbb E\mathcal E \le 0$). The common term
    $-\frac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}$ is moved to the right (see module docstring).
    Thm 4.2: Monte Carlo (fine EM paths; per path `r2`, `ip` with $X(t-\tau)$, σ constant),
    Student-t (asymptotic), Holm over (row, t). `nonpositive` needs no paths beyond $D$ (exact).
    """

    step: ClassVar[str] = "first_inequality"
    level = "proof-step"
    quick = profile(
        rows=(
            dict(kappa=10, noise=1.0, delta=1.0, tau=0.1),
            dict(kappa=10, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=1.0, tau=3.0),
            dict(kappa=1, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=100.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=0.01, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=10.0, tau=1.0),
            dict(problem="least-squares", kappa=10, noise=1.0, delta=1.0, tau=1.0),
        ),
        T=10.0,
        n_t=12,
        h_kappa=0.2,
        paths=1000,
        ball_paths=800,
        T_ball=10.0,
        eps_D=0.01,
        eps_max=0.05,
        rhs_scale=1.0,
        mu_factor=1.0,
        data_seed=0,
    )
    full = profile(
        **{
            **dict(Thm42AsStated.full),
            "rows": tuple(
                r for r in Thm42AsStated.full["rows"] if r.get("delay", "constant") == "constant"
            ),
            "paths": 10000,
            "n_t": 30,
        }
    )

    def _values(
        self,
        problem: Problem,
        row: Row,
        mu: float,
        L: float,
        ball: Ball,
        tr: float,
        bound: Any,
        t: np.ndarray,
    ) -> dict[str, Any]:
        return dict(
            t=t,
            theta=self._tau(row),
            tau=self._tau(row),
            delta=row.delta,
            mu=mu,
            L=L,
            D=ball.D,
            H=bound.H,
            tr_sigma=tr,
        )

    def _sides(self, values: Mapping[str, Any], scale: float) -> tuple[np.ndarray, np.ndarray]:
        """(lhs, rhs) of the step with the common term moved right (see class docstring)."""
        steps = _proof_steps(self.corollary)
        first, nonpos = steps[1], steps[2]  # first.left is the printed equality
        eq = first
        v = dict(values)
        K_ = (v["delta"] + 1) * (v["H"] + 2 * v["L"] ** 2 * v["D"] ** 2 * v["tau"])
        common = K_ / (2 * np.asarray(v["t"]) * v["mu"] ** 2)
        if self.step == "first_inequality":
            return eq.left_value(**v) + common, scale * (first.right_value(**v) + common)
        if self.step == "nonpositive":
            return nonpos.left_value(**v) + common, scale * common
        if self.step == "decreasing":
            return eq.left_value(**v) + common, scale * common * np.ones_like(eq.left_value(**v))
        raise Thm42InputError(
            "step", self.step, "unknown proof step", "first_inequality, nonpositive, decreasing"
        )

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        n_t, T = int(p["n_t"]), float(p["T"])
        samples, points, na, evidence = [], [], [], []
        for j, row in enumerate(_rows(p["rows"])):
            problem, x0, mu0, L = build_problem(row, int(p.get("data_seed", 0)))
            mu = self._mu_used(ctx, mu0)
            tau = self._tau(row)
            _constant_delay_only(row, tau)
            T_row = sdde_horizon(T, row, tau)
            m0 = steps_per_unit(row, tau, float(p["h_kappa"]))
            ball = self.ball_for(ctx, j, row, problem, x0, mu, m0)
            tr = trace_sigma_at_star(problem, row.b)
            if not ball.holds:
                na.append({"point": row.point(), "reason": ball.reason(), **ball.details()})
                continue
            bound = self._bound(row, L, mu, ball.D, tau, tr, H=p.get("H"))
            extra = {**ball.details(), "H": bound.H, "E_tr_sigma": tr}
            if self.step == "nonpositive" or self.corollary:
                t = _t_targets(T_row, 4 * n_t)
                lhs, rhs = self.exact_sides(problem, row, x0, mu, L, ball, tr, bound, t, scale)
                extra.update(self.exact_extra(problem, row, x0, mu, L, ball, tr, bound, t))
                evidence.append(
                    {"point": row.point(), "t": t, "lhs": lhs, "rhs": rhs, "extra": extra}
                )
                continue
            every, idx = _record_grid(m0, T_row, n_t, divisor=round(tau * m0))
            x_star = np.asarray(problem.x_star)
            lag = round(tau * m0) // every  # the delay in recorded samples
            times = 1.0 + idx * every / m0
            vals_t = [self._values(problem, row, mu, L, ball, tr, bound, float(t)) for t in times]

            def reduce(
                sim: SDDEResult,
                idx=idx,
                lag=lag,
                x_star=x_star,
                vals_t=vals_t,
                x0=x0,
                problem=problem,
            ) -> np.ndarray:
                """(fine lhs - rhs, coarse lhs - rhs, energy) at the grid times, per path
                (`pathwise_violation_fraction`: share of paths with lhs > rhs, the step read
                path by path, which the paper does not claim)."""
                energy_step = _proof_steps(self.corollary)[3]
                out = np.empty((3, len(idx), sim.trajectory.shape[1]))
                for n, i in enumerate(idx):
                    for c, traj in enumerate((sim.fine_trajectory, sim.trajectory)):
                        X = traj[i]
                        Xd = traj[i - lag] if i >= lag else np.broadcast_to(x0, X.shape)
                        e = X - x_star
                        v = {**vals_t[n], "r2": np.sum(e * e, axis=1)}
                        v["ip"] = np.sum(problem.grad(Xd) * e, axis=1)
                        lhs, rhs = self._sides(v, scale)
                        out[c, n] = lhs - rhs
                        if c == 0:
                            out[2, n] = energy_step.left_value(**v)
                return out

            fine, coarse, energies = sdde_batched(
                reduce,
                problem,
                x0,
                paths=int(p["paths"]),
                seed=ctx.seed(f"paths-{j}"),
                record_every=every,
                T=T_row,
                m0=m0,
                mu=mu,
                delta=row.delta,
                tau=tau,
                b=row.b,
                map_fn=ctx.map,
            )
            for n, t_i in enumerate(times):
                samples.append(fine[n])
                points.append(
                    {
                        "row": j,
                        **row.point(),
                        "t": float(t_i),
                        **extra,
                        "em_bias_coarse_minus_fine": float(coarse[n].mean() - fine[n].mean()),
                        "E_energy": float(energies[n].mean()),
                        "pathwise_violation_fraction": float(np.mean(fine[n] > 0)),
                    }
                )
        if self.step == "nonpositive" or self.corollary:
            return exact_rows_result(
                self,
                ctx,
                evidence,
                na,
                ylabel=self._ylabel(),
                note="the common term -(delta+1)(H+2L^2D^2tau)/(2t mu^2) moved to the right",
            )
        if not samples:
            return self.make_result(
                ctx,
                Verdict.NOT_APPLICABLE,
                "monte-carlo",
                message="every grid row fails a hypothesis: "
                + "; ".join(f"{_label(r['point'])}: {r['reason']}" for r in na),
                details={"not_applicable": na},
            )
        res = self.from_grid(
            ctx,
            samples,
            0.0,
            points=points,
            plot=False,
            details={
                "not_applicable": na,
                "compared": "mean over paths of (lhs - rhs) <= 0, lhs/rhs: " + self._ylabel(),
            },
        )
        if na:
            res.message += f" {len(na)} rows NOT APPLICABLE (see details)."
        _t_curves_plot(self, ctx, res, "worst_row", ylabel="mean of (lhs - rhs) over paths")
        return res

    def _ylabel(self) -> str:
        return {
            "first_inequality": "E[equality] + c vs E[first-inequality bound] + c",
            "nonpositive": "first-inequality bound + c vs c",
            "decreasing": "E[equality] + c = dE[energy]/dt + c vs c",
        }[self.step] + ", c = (delta+1)(H+2L^2D^2tau)/(2t mu^2)"

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
        """Further exact evidence of a row (Cor 4.3 adds the energy); none here."""
        return {}

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
        """Exact (lhs, rhs) where no path quantity enters (`nonpositive`): r2 = ip = 0 are
        placeholders the step does not use. Cor 4.3 overrides this with exact moments."""
        vals = self._values(problem, row, mu, L, ball, tr, bound, t)
        vals.update(r2=np.zeros_like(t), ip=np.zeros_like(t))
        return self._sides(vals, scale)


class Thm42FirstInequality(Thm42ProofStep):
    id = "R7-proof-first-inequality"
    step = "first_inequality"
    method = "monte-carlo"
    claim = (
        "E[printed equality] <= (L^2D^2 theta/(mu^2 t) + L D^2/(t mu)) + delta E tr/(2 mu^2 t)"
        " - (delta+1)(H+2L^2D^2 tau)/(2 t mu^2) for t > 1 (first inequality, Thm 4.2)"
    )
    claim_latex = (
        r"\tfrac12\mathbb E\|X-x^*\|^2-\tfrac{t-1}{t\mu}\mathbb E\langle\nabla F(X(t-\theta)),"
        r"X-x^*\rangle+\tfrac{(t-1)\delta}{2\mu^2t^2}\mathbb E\operatorname{tr}\le"
        r"\tfrac{L^2D^2\theta}{\mu^2t}+\tfrac{LD^2}{t\mu}+\tfrac{\delta}{2\mu^2t}\mathbb E"
        r"\operatorname{tr}"
    )


class Thm42Nonpositive(Thm42ProofStep):
    id = "R7-proof-nonpositive"
    step = "nonpositive"
    method = "exact"
    claim = (
        "(L^2D^2 theta/(mu^2 t) + L D^2/(t mu)) + delta E tr/(2 mu^2 t) - (delta+1)(H+2L^2D^2 "
        "tau)/(2 t mu^2) <= 0 (second inequality, Thm 4.2)"
    )
    claim_latex = (
        r"\tfrac{L^2D^2\theta}{\mu^2t}+\tfrac{LD^2}{t\mu}+\tfrac{\delta}{2\mu^2t}\mathbb E"
        r"\operatorname{tr}-\tfrac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}\le0"
    )


class Thm42Decreasing(Thm42ProofStep):
    id = "R7-proof-decreasing"
    step = "decreasing"
    method = "monte-carlo"
    claim = "dE[energy(t)]/dt = E[printed equality] <= 0 for t > 1 (Thm 4.2)"
    claim_latex = r"\frac{d}{dt}\mathbb E\mathcal E(t)\le 0,\ t>1"


CHECKS = [
    Thm42Ito(),
    Thm42AsStated(),
    Thm42AsStatedMC(),
    Thm42AsApplied(),
    Thm42FirstInequality(),
    Thm42Nonpositive(),
    Thm42Decreasing(),
]

if __name__ == "__main__":
    run_alone(CHECKS)
