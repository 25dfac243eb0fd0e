"""Couplings of ASGD `x_k`, its Euler–Maruyama scheme `x~_k` and the fine SDDE `X(t_k)` (SPEC §3).

Needed for Theorems 3.2–3.4: `E||X(t_K) - x_K||` depends on how the processes share
randomness, which the paper leaves open. All three processes are simulated together, per path:

(a) scheme `x~` and fine `X` always share the Brownian path (Brownian-bridge substeps, see
    `numerics.sdde`).
(b) `noise="quantile"`: scheme vs ASGD share the delays `l_k`; each of the b minibatch samples
    gets one uniform `U_j`. The sample index is `perm[floor(U_j n)]`, where `perm` sorts the
    samples by their gradient deviation `(grad F(x_star) - grad f_i(x_star))` projected on the
    leading eigenvector `v` of `Sigma(x_star)` (ascending). The Gaussian for sample j is
    `z_j = Phi^{-1}(U_j) v + (I - v v^T) w_j`, `w_j ~ N(0, I)` independent; the scheme's
    increment is `dB_k = sqrt(delta) (1/sqrt(b)) sum_j z_j`. Marginals are exact: `U_j` uniform
    makes `floor(U_j n)` uniform on {0..n-1}, and any fixed permutation keeps it uniform and
    independent across j (with replacement); `Phi^{-1}(U_j) ~ N(0, 1)` along `v`, independent of
    the N(0, I - v v^T) complement, so `z_j ~ N(0, I)` i.i.d. and `dB_k ~ N(0, delta I)`. The
    coupling is comonotone along `v`: the largest minibatch noise goes with the largest Gaussian.
    (Requires a finite-sum problem and sampling with replacement; for `Quadratic`, whose noise is
    already Gaussian, the scheme and ASGD share the same normal draws exactly.)
(b') `coupling="quantile-mean"`: the minibatch *mean* (not each sample) is paired with its
    Gaussian — the quantile coupling of the minibatch sum. The samples are drawn as in ASGD
    (i.i.d. uniform indices); their deviations projected on `v`, `D_i`, are put on a lattice of
    spacing `h = (max D - min D)/G` (`G = MEAN_QUANTILE_GRID`), `k_i = round((D_i - min D)/h)`,
    and the exact law of `S = sum_j k_{I_j}` is computed by convolution
    (:func:`minibatch_sum_law`). With the randomised rank `R = P(S < s) + V P(S = s)`,
    `V ~ U(0, 1)` fresh, `R ~ U(0, 1)` exactly (randomised probability integral transform), so
    `z = Phi^{-1}(R) v + (I - v v^T) w` is N(0, I), independent across steps, and
    `dB_k = sqrt(delta) z`. Along `v` the pair (minibatch sum, Gaussian) is comonotone, the
    optimal (W1 and W2) coupling of the two 1-D laws up to the lattice rounding `b h/2` (none
    when the `D_i` lie on the lattice, e.g. the two-point problem). As b grows the minibatch mean
    approaches its Gaussian and the coupled distance shrinks (Berry–Esseen, ~ 1/sqrt(b)), which
    the per-sample coupling (b) cannot do. Requires sampling with replacement.
(c) `noise="independent"`: independent noise (and, with `share_delays=False`, independent
    delays).
(d) `wasserstein1_1d`: the distance between the two laws from sorted samples (1-D); apply it to
    two independent same-law samples for the noise floor.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from numerics.asgd import RingBuffer, flag_divergence, state_noise
from numerics.delays import DelayModel, NoDelay
from numerics.errors import (
    CouplingError,
    DimensionError,
    InputError,
    PathsError,
    StepSizeError,
)
from numerics.problems import Problem, check_batch_size, sqrt_psd
from numerics.rng import DEFAULT_CHUNK_SIZE, Chunk, run_chunked
from numerics.schedules import Constant, Schedule
from numerics.sdde import _step
from numerics.update_rules import ASGDRule
from numerics.validation import (
    check_delay_model,
    check_positive_float,
    check_positive_int,
    check_schedule,
    initial_history,
    initial_point,
    problem_check,
    record_indices,
)

__all__ = [
    "COUPLINGS",
    "CoupledResult",
    "MinibatchSumLaw",
    "minibatch_sum_law",
    "simulate_coupled",
    "wasserstein1_1d",
]

COUPLINGS = ("quantile", "independent", "quantile-mean")

#: Lattice points across the range of the projected sample noise (quantile-mean coupling).
MEAN_QUANTILE_GRID = 4096


@dataclass
class CoupledResult:
    """Final values per path of the three coupled processes (E-ready arrays).

    Attributes:
        x_asgd: ASGD iterates `x_K`, (P, d).
        x_scheme: Euler–Maruyama scheme `x~_K`, (P, d).
        X_fine: fine SDDE solution `X(t_K)`, (P, d) (equals `x_scheme` if `substeps == 1`).
        steps, times: recorded step indices and times (R,).
        trajectories: dict name -> (R, P, d) for "asgd", "scheme", "fine" if recorded, else None.
        diverged_from_step: first non-finite step per path over the three processes, -1 if never.
        meta: coupling, sampling, sigma convention, seed, chunk size, substeps.
    """

    x_asgd: np.ndarray
    x_scheme: np.ndarray
    X_fine: np.ndarray
    steps: np.ndarray
    times: np.ndarray
    trajectories: dict[str, np.ndarray] | None
    diverged_from_step: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged_paths(self) -> np.ndarray:
        """Indices of paths where any of the three processes went non-finite."""
        return np.flatnonzero(self.diverged_from_step >= 0)

    def errors(self) -> dict[str, np.ndarray]:
        """Per-path distances: `"fine_asgd"` ||X(t_K) - x_K||, `"scheme_asgd"` ||x~_K - x_K||,
        `"fine_scheme"` ||X(t_K) - x~_K|| (NaN for diverged paths)."""
        return {
            "fine_asgd": np.linalg.norm(self.X_fine - self.x_asgd, axis=1),
            "scheme_asgd": np.linalg.norm(self.x_scheme - self.x_asgd, axis=1),
            "fine_scheme": np.linalg.norm(self.X_fine - self.x_scheme, axis=1),
        }


def simulate_coupled(
    problem: Problem,
    *,
    eta: float,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any = None,
    xi: Any = None,
    delay: DelayModel | None = None,
    schedule: Schedule | None = None,
    b: int = 1,
    replace: bool = True,
    coupling: str = "quantile",
    share_delays: bool = True,
    sigma_at: str = "x_star",
    delta: float | None = None,
    substeps: int = 1,
    record_every: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> CoupledResult:
    """Simulate ASGD Eq. (4), the EM scheme of Eq. (6) and the fine SDDE together, per path.

    Arguments as in `simulate_asgd` / `simulate_sdde` (`delta` defaults to `eta`, choice (a));
    `coupling` is `"quantile"` (b, per sample), `"quantile-mean"` (b', the minibatch mean with
    its Gaussian) or `"independent"` (c); the scheme and the fine solution
    always share the Brownian path (a). `share_delays` (default True) gives ASGD and the SDDE
    the same `l_k`.

    Raises:
        CouplingError: unknown coupling, or a quantile coupling with sampling without replacement.
        plus the input errors of `simulate_asgd`.
    """
    problem_check(problem)
    eta = check_positive_float("eta", eta)
    delta = eta if delta is None else check_positive_float("delta", delta)
    K = check_positive_int("K", K, StepSizeError)
    m = check_positive_int("substeps", substeps, StepSizeError)
    paths = check_positive_int("paths", paths, PathsError)
    delay = NoDelay() if delay is None else check_delay_model(delay)
    schedule = Constant() if schedule is None else check_schedule(schedule)
    if coupling not in COUPLINGS:
        raise CouplingError("coupling", coupling, "unknown coupling", f"use one of {COUPLINGS}")
    if sigma_at not in ("x_star", "state"):
        raise InputError("sigma_at", sigma_at, "unknown convention", "use 'x_star' or 'state'")
    b = check_batch_size(b, problem.n, replace)
    if coupling in ("quantile", "quantile-mean") and not replace and problem.n is not None:
        raise CouplingError(
            "replace", replace, "the quantile coupling needs i.i.d. samples", "use replace=True"
        )
    d = problem.d
    x0a = initial_point(x0, d, paths)
    hist = initial_history(xi, delay.l, d, scale=m, step=delta)
    rec = record_indices(K, record_every)
    x_star = problem.x_star
    Sigma_star = problem.Sigma(x_star)
    sigma_const = sqrt_psd(Sigma_star / b) if sigma_at == "x_star" else None
    perm = v = None
    law = None
    if coupling in ("quantile", "quantile-mean") and problem.n is not None:
        dev = (
            problem.grad(x_star[None, :])[0]
            - problem.sample_grads(x_star[None, :], np.arange(problem.n)[None, :])[0]
        )
        v = np.linalg.eigh(Sigma_star)[1][:, -1]
        if coupling == "quantile":
            perm = np.argsort(dev @ v, kind="stable")
        else:
            law = minibatch_sum_law(dev @ v, b)
    # the ASGD side is the one update rule of numerics.update_rules (delay read and noise are
    # coupled here, so the rule contributes its update and its step sizes)
    rule = ASGDRule(eta, delay=delay, schedule=schedule, b=b, replace=replace)
    kw = dict(
        problem=problem,
        rule=rule,
        eta=eta,
        delta=delta,
        K=K,
        x0=x0a,
        hist=hist,
        delay=delay,
        schedule=schedule,
        b=b,
        replace=replace,
        coupling=coupling,
        share_delays=share_delays,
        sigma_const=sigma_const,
        m=m,
        rec=rec,
        record=record_every is not None,
        perm=perm,
        v=v,
        law=law,
    )
    out = run_chunked(
        functools.partial(_coupled_chunk, **kw), seed, paths, chunk_size, map_fn=map_fn, axis=0
    )
    xa, xs, xf, trajs, div = out
    k0 = schedule.k0
    steps = k0 + rec
    meta = {
        "coupling": coupling,
        "scheme_fine": "shared Brownian path (Brownian-bridge substeps)",
        "share_delays": share_delays,
        "sampling": "with replacement" if replace else "without replacement",
        "sigma_at": sigma_at,
        "b": b,
        "eta": eta,
        "delta": delta,
        "K": K,
        "substeps": m,
        "delay": repr(delay),
        "schedule": repr(schedule),
        "seed": seed,
        "paths": paths,
        "chunk_size": chunk_size,
        "k0": k0,
        "quantile_axis": None if v is None else v.tolist(),
        "sum_lattice_step": None if law is None else law.h,
    }
    return CoupledResult(
        x_asgd=xa,
        x_scheme=xs,
        X_fine=xf,
        steps=steps,
        times=steps * delta,
        trajectories=None
        if trajs is None
        else {key: np.moveaxis(val, 0, 1) for key, val in trajs.items()},
        diverged_from_step=np.where(div >= 0, div + k0, -1),
        meta=meta,
    )


def _coupled_chunk(
    chunk: Chunk,
    *,
    problem: Problem,
    rule: ASGDRule,
    eta: float,
    delta: float,
    K: int,
    x0: np.ndarray,
    hist: np.ndarray | None,
    delay: DelayModel,
    schedule: Schedule,
    b: int,
    replace: bool,
    coupling: str,
    share_delays: bool,
    sigma_const: np.ndarray | None,
    m: int,
    rec: np.ndarray,
    record: bool,
    perm: np.ndarray | None,
    v: np.ndarray | None,
    law: MinibatchSumLaw | None = None,
) -> tuple:
    """One chunk of `simulate_coupled`; outputs have the path axis first."""
    rng = chunk.generator()
    P, d, l = chunk.size, problem.d, delay.l
    x0c = x0 if x0.shape[0] == 1 else x0[chunk.start : chunk.stop]
    hc = None if hist is None else hist[::m]
    ra, rs = RingBuffer(rule.window, P, d), RingBuffer(l + 1, P, d)
    ra.fill(x0c, hc)
    rs.fill(x0c, hc)
    rf = None
    if m > 1:
        rf = RingBuffer(l * m + 1, P, d)
        rf.fill(x0c, hist)
    k0 = schedule.k0
    h = delta / m
    sqh, sqd, sqb = np.sqrt(h), np.sqrt(delta), np.sqrt(b)
    n = problem.n
    tmp = np.empty((P, d))

    def drift(X: np.ndarray) -> np.ndarray:
        return -problem.grad(X)

    diffusion = None
    if sigma_const is None:

        def diffusion(Xdel: np.ndarray, dB: np.ndarray) -> np.ndarray:
            return state_noise(problem, Xdel, dB, b)

    nrec = len(rec)
    trajs = {key: np.empty((P, nrec, d)) for key in ("asgd", "scheme", "fine")} if record else None

    def store(ri: int) -> None:
        trajs["asgd"][:, ri] = ra.current()
        trajs["scheme"][:, ri] = rs.current()
        trajs["fine"][:, ri] = (rf if rf is not None else rs).current()

    div = np.full(P, -1, dtype=np.int64)
    ri = 0
    if record and rec[0] == 0:
        store(0)
        ri = 1
    with np.errstate(all="ignore"):
        for j in range(K):
            k = k0 + j
            lk = delay.draw(k, P, rng)
            lka = lk if share_delays else delay.draw(k, P, rng)
            lk_fine = lk  # the fine grid reads the (x0-prefilled) history uncapped, as in sdde.py
            if hist is None:
                lk, lka = np.minimum(lk, j), np.minimum(lka, j)
            u = float(schedule.u(k))
            t = k * delta
            # ---- noise for both processes
            Xa = ra.delayed(j, lka)
            if coupling == "quantile" and n is not None:
                Uq = rng.random((P, b))
                idx = perm[np.minimum((Uq * n).astype(np.int64), n - 1)]
                g = problem.minibatch_grad(Xa, idx)
                W = rng.standard_normal((P, b, d))
                W -= (W @ v)[..., None] * v
                W += special.ndtri(np.maximum(Uq, 2.0**-60))[..., None] * v
                z = W.sum(axis=1) / sqb
            elif coupling == "quantile-mean" and n is not None:
                idx = rng.integers(0, n, size=(P, b), dtype=np.int64)
                g = problem.minibatch_grad(Xa, idx)
                R = law.rank(law.k[idx].sum(axis=1), rng.random(P))
                W = rng.standard_normal((P, d))
                W -= (W @ v)[:, None] * v
                W += special.ndtri(np.clip(R, 2.0**-60, 1.0 - 2.0**-53))[:, None] * v
                z = W
            elif coupling in ("quantile", "quantile-mean"):
                z = rng.standard_normal((P, d))
                g = problem.grad(Xa) - (z @ problem.noise_root.T) / sqb
            else:
                g = problem.stochastic_grad(Xa, b, rng, replace)
                z = rng.standard_normal((P, d))
            # ---- ASGD Eq. (4): the update rule
            new = rule.apply(ra, j, g, eta * u)
            flag_divergence(new, div, j + 1)
            ra.advance()
            # ---- EM scheme of Eq. (6): x~_{k+1} = x~_k - eta u grad F + eta u sigma z
            a = eta / delta * u
            c = eta / sqd * u
            _step(rs, j, lk, drift, sigma_const, diffusion, a * delta, z, c * sqd, False, tmp)
            flag_divergence(rs.next_slot(j), div, j + 1)
            rs.advance()
            # ---- fine solution on the same Brownian path (bridge increments, units of sqrt h)
            if rf is not None:
                E = rng.standard_normal((m, P, d))
                E += z / np.sqrt(m) - E.mean(axis=0)
                for i in range(m):
                    tf = t + i * h
                    Uf = float(schedule.U(tf, delta))
                    _step(
                        rf,
                        j * m + i,
                        lk_fine * m,
                        drift,
                        sigma_const,
                        diffusion,
                        eta / delta * Uf * h,
                        E[i],
                        eta / sqd * Uf * sqh,
                        False,
                        tmp,
                    )
                    rf.advance()
                flag_divergence(rf.current(), div, j + 1)
            if record and ri < nrec and rec[ri] == j + 1:
                store(ri)
                ri += 1
    xf = (rf if rf is not None else rs).current().copy()
    return ra.current().copy(), rs.current().copy(), xf, trajs, div


@dataclass(frozen=True)
class MinibatchSumLaw:
    r"""Exact law of the lattice minibatch sum $S = \sum_{j=1}^b k_{I_j}$, $I_j$ i.i.d. uniform.

    Attributes:
        k: lattice index $k_i$ of each sample, `(n,)` int64.
        h: lattice step ($D_i \approx \min D + h k_i$).
        below: $P(S < s)$ for $s = 0..bG$; `upto`: $P(S \le s)$.
    """

    k: np.ndarray
    h: float
    below: np.ndarray
    upto: np.ndarray

    def rank(self, s: np.ndarray, V: np.ndarray) -> np.ndarray:
        r"""Randomised rank $P(S < s) + V\,P(S = s)$: uniform on (0, 1) when $S$ has this law."""
        lo = self.below[s]
        return lo + V * (self.upto[s] - lo)


def minibatch_sum_law(D: np.ndarray, b: int, grid: int | None = None) -> MinibatchSumLaw:
    r"""Lattice form and exact law of the sum of `b` i.i.d. uniform draws from the values `D`.

    $k_i = \mathrm{round}((D_i - \min D)/h)$, $h = (\max D - \min D)/G$; the pmf of one draw is
    the histogram of $k$ over $n$, that of the sum its $b$-fold convolution (real FFT of length
    $\ge bG + 1$; rounding about $10^{-16}$, negative round-off clipped, renormalised).

    Arguments:
        D: the projected per-sample deviations, `(n,)`.
        b: minibatch size $\ge 1$.
        grid: $G$ (default `MEAN_QUANTILE_GRID`, reduced so that $bG \le 2^{22}$).

    Raises:
        DimensionError: `D` empty or not finite.
    """
    D = np.asarray(D, dtype=float).ravel()
    if D.size == 0 or not np.all(np.isfinite(D)):
        raise DimensionError("D", D.shape, "must be a non-empty finite vector", "pass data")
    b = check_positive_int("b", b, InputError)
    G = int(grid) if grid is not None else max(1, min(MEAN_QUANTILE_GRID, (1 << 22) // b))
    span = float(D.max() - D.min())
    if span == 0.0:
        k, h, G = np.zeros(D.size, dtype=np.int64), 0.0, 0
    else:
        h = span / G
        k = np.rint((D - D.min()) / h).astype(np.int64)
    p1 = np.bincount(k, minlength=G + 1) / D.size
    if b == 1:
        pmf = p1
    else:
        N = 1 << int(np.ceil(np.log2(b * G + 1)))
        pmf = np.fft.irfft(np.fft.rfft(p1, N) ** b, N)[: b * G + 1]
        pmf = np.clip(pmf, 0.0, None)
        pmf /= pmf.sum()
    upto = np.minimum(np.cumsum(pmf), 1.0)
    below = np.concatenate([[0.0], upto[:-1]])
    return MinibatchSumLaw(k=k, h=h, below=below, upto=upto)


def wasserstein1_1d(x: Any, y: Any) -> float:
    r"""Wasserstein-1 distance between the empirical laws of two 1-D samples (SPEC §3 (d)).

    $W_1 = \int_0^1 |F_x^{-1}(u) - F_y^{-1}(u)|\,du$, computed exactly for the empirical
    quantile functions (sorted samples; unequal sizes by merging the quantile breakpoints).

    Raises:
        DimensionError: a sample is empty or not 1-D.
    """
    xs = np.sort(np.asarray(x, dtype=float).ravel())
    ys = np.sort(np.asarray(y, dtype=float).ravel())
    if xs.size == 0 or ys.size == 0:
        raise DimensionError("x", (xs.size, ys.size), "samples must be non-empty", "pass data")
    if xs.size == ys.size:
        return float(np.mean(np.abs(xs - ys)))
    u = np.union1d(np.arange(1, xs.size) / xs.size, np.arange(1, ys.size) / ys.size)
    u = np.concatenate([[0.0], u, [1.0]])
    mid = (u[:-1] + u[1:]) / 2
    qx = xs[np.minimum((mid * xs.size).astype(np.int64), xs.size - 1)]
    qy = ys[np.minimum((mid * ys.size).astype(np.int64), ys.size - 1)]
    return float(np.sum(np.diff(u) * np.abs(qx - qy)))
