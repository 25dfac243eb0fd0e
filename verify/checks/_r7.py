r"""Shared machinery of the Theorem 4.2 / Corollary 4.3 checks (R7, R8).

Grid points (`Row`), the synthetic problems, the SDDE and ASGD simulations in batches of
bounded memory, the ball hypothesis $X(t)\in d(x_0, D)$ (`Ball`, `measure_ball`), horizons
and time grids, and the exact left sides: exact moments of the Euler–Maruyama scheme at
steps $h$ and $h/2$ (`em_exact_curve`, constant or random θ), the closed form for τ = 0
(`tau0_moments`), the exact ASGD moments' read-point trace (`asgd_trace`). The statements
are :mod:`theory.claims.thm42`; the checks are declared in :mod:`verify.checks.r7_thm42` and
:mod:`verify.checks.r8_cor43`.

Glossary as in :mod:`theory.claims.thm42`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, RandomDelay
from numerics.moments import em_scheme_moments
from numerics.problems import LeastSquares, Problem, sqrt_psd
from numerics.sdde import SDDEResult, euler_maruyama
from numerics.synthetic import conditioned_problem
from theory.energy import quadratic_msd
from theory.errors import InputError
from verify.checks.base import Diverged, raise_if_diverged
from verify.context import RunContext, stable_id_key

__all__ = [
    "MAX_BATCH_FLOATS",
    "Ball",
    "Row",
    "Thm42InputError",
    "asgd_horizon",
    "asgd_sup",
    "asgd_trace",
    "build_problem",
    "em_exact_curve",
    "measure_ball",
    "sdde_ball",
    "sdde_batched",
    "sdde_from_one",
    "sdde_horizon",
    "tau0_moments",
]


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
    r"""The loss of a grid row, the start $x_0$ ($\|x_0-x^*\|$ = `x0_dist`), μ and L: the
    synthetic problem :func:`numerics.synthetic.conditioned_problem` of the row's fields."""
    return tuple(conditioned_problem(row.problem, row.kappa, row.noise, row.x0_dist, data_seed))


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


def sdde_ball(key: tuple, problem: Problem, x0: np.ndarray, map_fn: Any) -> Ball:
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
            raise Diverged(f"grid row {label(row.point())}: SDDE fine paths non-finite")
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


def label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


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


def em_exact_curve(
    row: Row, problem: Problem, x0: np.ndarray, mu: float, m0: int, T: float, n_t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, M_{h/2}, M_h - M_{h/2}) from the exact EM moments at steps 1/m0 and 1/(2 m0)."""
    Q = np.atleast_2d(problem.hessian(problem.x_star))
    S = np.atleast_2d(problem.Sigma(problem.x_star)) / row.b
    x_star = np.asarray(problem.x_star, dtype=float)
    tau = row.tau
    if row.delay == "random" and tau > 0:
        return _exact_curve_random(row, Q, S, x_star, x0, mu, m0, T, n_t)
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


def asgd_sup(
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
        raise_if_diverged(sim, label(row.point("as-applied")))
        out.append(np.max(np.linalg.norm(sim.trajectory - x0, axis=-1), axis=0))
    return np.concatenate(out)


def asgd_trace(problem: Problem, row: Row, mom: Any) -> float:
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
