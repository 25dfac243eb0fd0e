"""Euler–Maruyama for the SDDE Eq. (6) and for general linear SDDEs, all paths at once.

Glossary: `eta`, `delta` time step, `U(t)` schedule, `theta(t) = l_k delta` on
`[k delta, (k+1) delta)`, `tau = l delta`, `xi` initial segment on `[-tau, 0]`,
`sigma` with `sigma sigma^T = Sigma/b`, `B` Brownian motion, `m` substeps per `delta`.

Eq. (6):
$$dX = -\\frac{\\eta}{\\delta} U(t) \\nabla F(X(t-\\theta(t)))\\,dt
       + \\frac{\\eta}{\\sqrt\\delta} U(t) \\sigma(X(t-\\theta(t)))\\,dB(t).$$
The SDE is `theta = 0`. Linear SDDE (SPEC §4): `dX = -A (X(t - tau) - x_star) dt + G dB`.

Scheme: the coarse Euler–Maruyama scheme `x~_k` (step `delta`, coefficients frozen at
`x~_{k - l_k}` and `U(k delta)`) — one step of it is exactly Eq. (5). With `substeps = m > 1`, a
fine Euler–Maruyama solution on the grid `h = delta/m` is run *on the same Brownian path*: the
coarse increment `B((k+1)delta) - B(k delta)` is the sum of the m fine increments (Brownian-bridge
refinement). The fine solution uses the exact piecewise-constant `theta(t)` (a multiple of h), so
it converges strongly to X as m grows; it is returned at the coarse times as `X_fine`.

Memory: ring buffers of `l+1` coarse and `l m + 1` fine states per path (independent of K).
Normals are drawn in blocks of steps straight into a preallocated buffer and the state is
updated in place.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.asgd import RingBuffer, SimulationResult, flag_divergence, state_noise
from numerics.delays import ConstantDelay, DelayModel, NoDelay
from numerics.errors import DelayError, DimensionError, InputError, PathsError, StepSizeError
from numerics.problems import Problem, check_batch_size, sqrt_psd
from numerics.rng import DEFAULT_CHUNK_SIZE, Chunk, run_chunked
from numerics.schedules import Constant, Schedule
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
    "LinearDrift",
    "SDDEResult",
    "euler_maruyama",
    "simulate_linear_sdde",
    "simulate_sdde",
    "simulate_sde",
]

#: Method metadata as data.
EM_METHOD: dict[str, Any] = {
    "name": "Euler–Maruyama",
    "ito": True,
    "strong_order": 0.5,
    "strong_order_additive_noise": 1.0,
}


@dataclass
class SDDEResult(SimulationResult):
    """`SimulationResult` of the coarse scheme `x~_k`, plus the fine solution.

    Attributes (in addition to `SimulationResult`):
        X_fine: fine solution `X(t)` at the last coarse time, (P, d); None if `substeps == 1`.
        fine_trajectory: fine `X(t_k)` at the recorded coarse times (R, P, d), or None.
        substeps: m, fine steps per `delta`.
    """

    X_fine: np.ndarray | None = None
    fine_trajectory: np.ndarray | None = None
    substeps: int = 1


def euler_maruyama(
    drift: Callable[[np.ndarray], np.ndarray],
    diffusion: np.ndarray | Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    *,
    d: int,
    delta: float,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any = None,
    xi: Any = None,
    delay: DelayModel | None = None,
    k0: int = 0,
    drift_factor: Callable[[float], float] | None = None,
    noise_factor: Callable[[float], float] | None = None,
    noise_dim: int | None = None,
    substeps: int = 1,
    record_every: int | None = None,
    return_delays: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> SDDEResult:
    """Euler–Maruyama for `dX = a(t) f(X(t - theta(t))) dt + c(t) g(X(t - theta(t))) dB`.

    Arguments:
        drift: `f(Xdel)`: (P, d) -> (P, d), the state part of the drift.
        diffusion: constant matrix `G` (d, r), or a callable `g(Xdel, dB)`: ((P, d), (P, r)) ->
            (P, d) returning `sigma(Xdel) dB`, or None (deterministic DDE).
        d: dimension.
        delta: coarse time step; `theta(t) = l_k delta`.
        K: number of coarse steps, from `t = k0 delta` to `(k0 + K) delta`.
        paths, seed, chunk_size, map_fn: the randomness contract (`numerics.rng`).
        x0: `X(k0 delta)`, (d,) or (P, d); default zeros (ignored if `xi` given).
        xi: initial segment on `[-tau, 0]` (relative to `k0 delta`): a callable `xi(s) -> (d,)`
            or an array of its values at the fine grid `s = -tau, ..., 0` (shape (l m + 1, d));
            default the constant `x0` (equivalent to the footnote-2 cap).
        delay: delay model for `l_k` (default none). `tau = delay.l * delta`.
        k0: first step index (schedule start).
        drift_factor, noise_factor: `a(t)`, `c(t)` (default 1). Coarse steps evaluate them at
            `t = k delta`, fine steps at the fine grid time.
        noise_dim: `r`, the dimension of B (default `d`, or `G.shape[1]`).
        substeps: m >= 1 fine steps per delta on the same Brownian path.
        record_every, return_delays: as in `simulate_asgd`.

    Returns:
        `SDDEResult` (coarse scheme in `x_final`/`trajectory`; fine in `X_fine`/`fine_trajectory`).
    """
    d = check_positive_int("d", d, DimensionError)
    delta = check_positive_float("delta", delta)
    K = check_positive_int("K", K, StepSizeError)
    m = check_positive_int("substeps", substeps, StepSizeError)
    paths = check_positive_int("paths", paths, PathsError)
    delay = NoDelay() if delay is None else check_delay_model(delay)
    if isinstance(k0, bool) or not isinstance(k0, (int, np.integer)) or k0 < 0:
        raise StepSizeError("k0", k0, "must be a non-negative integer", "pass k0 = 0 or 1")
    G = None
    if diffusion is not None and not callable(diffusion):
        G = np.atleast_2d(np.asarray(diffusion, dtype=float))
        if G.shape[0] != d or not np.all(np.isfinite(G)):
            raise DimensionError(
                "diffusion", G.shape, f"must be a finite (d={d}, r) matrix", "fix G"
            )
        r = G.shape[1]
    else:
        r = d if noise_dim is None else check_positive_int("noise_dim", noise_dim, DimensionError)
    x0a = initial_point(x0, d, paths)
    hist = initial_history(xi, delay.l, d, scale=m, step=delta)
    rec = record_indices(K, record_every)
    kw = dict(
        drift=drift,
        G=G,
        diffusion=diffusion,
        d=d,
        r=r,
        delta=delta,
        K=K,
        x0=x0a,
        hist=hist,
        delay=delay,
        k0=int(k0),
        a_fn=drift_factor,
        c_fn=noise_factor,
        m=m,
        rec=rec,
        return_delays=return_delays,
        record=record_every is not None,
    )
    out = run_chunked(
        functools.partial(_em_chunk, **kw), seed, paths, chunk_size, map_fn=map_fn, axis=0
    )
    x_final, traj, X_fine, ftraj, delays, div = out
    steps = int(k0) + rec
    meta = {
        **EM_METHOD,
        "delta": delta,
        "K": K,
        "substeps": m,
        "delay": repr(delay),
        "k0": int(k0),
        "initial_segment": "given" if hist is not None else "constant x0 (= footnote-2 cap)",
        "seed": seed,
        "paths": paths,
        "chunk_size": chunk_size,
    }
    return SDDEResult(
        x_final=x_final,
        steps=steps,
        times=steps * delta,
        trajectory=None if traj is None else np.moveaxis(traj, 0, 1),
        delays=None if delays is None else delays.T,
        diverged_from_step=np.where(div >= 0, div + int(k0), -1),
        meta=meta,
        X_fine=X_fine if m > 1 else None,
        fine_trajectory=None if (m == 1 or ftraj is None) else np.moveaxis(ftraj, 0, 1),
        substeps=m,
    )


class LinearDrift:
    """The drift `f(X) = -(X - x_star) A^T` of a linear SDDE, callable on (P, d) arrays.

    The kernel recognises it and updates the state in place without temporaries when d = 1.
    """

    def __init__(self, A: Any, x_star: Any = None) -> None:
        A = np.atleast_2d(np.asarray(A, dtype=float))
        if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
            raise DimensionError("A", A.shape, "must be a finite square matrix", "pass (d, d)")
        self.A = A
        self.d = A.shape[0]
        xs = np.zeros(self.d) if x_star is None else np.asarray(x_star, float).reshape(-1)
        if xs.shape[0] != self.d:
            raise DimensionError("x_star", xs.shape, f"must have d={self.d} entries", "fix")
        self.x_star = xs

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return -(X - self.x_star) @ self.A.T


def _em_chunk(
    chunk: Chunk,
    *,
    drift: Callable,
    G: np.ndarray | None,
    diffusion: Any,
    d: int,
    r: int,
    delta: float,
    K: int,
    x0: np.ndarray,
    hist: np.ndarray | None,
    delay: DelayModel,
    k0: int,
    a_fn: Callable | None,
    c_fn: Callable | None,
    m: int,
    rec: np.ndarray,
    return_delays: bool,
    record: bool,
) -> tuple:
    """One chunk of `euler_maruyama`; outputs have the path axis first."""
    rng = chunk.generator()
    P, l = chunk.size, delay.l
    x0c = x0 if x0.shape[0] == 1 else x0[chunk.start : chunk.stop]
    coarse = RingBuffer(l + 1, P, d)
    coarse.fill(x0c, None if hist is None else hist[::m])
    fine = None
    if m > 1:
        fine = RingBuffer(l * m + 1, P, d)
        fine.fill(x0c, hist)
    h = delta / m
    sqh = np.sqrt(h)
    noisy = G is not None or diffusion is not None
    # normals in blocks of nb coarse steps: Z[step, substep, path, r] (about 2^20 numbers)
    nb = max(1, min(K, (1 << 20) // (m * P * r)))
    Z = np.empty((nb, m, P, r)) if noisy else None
    tmp = np.empty((P, d))
    fast = isinstance(drift, LinearDrift) and d == 1 and (G is None or r == 1)
    div = np.full(P, -1, dtype=np.int64)
    nrec = len(rec)
    traj = np.empty((P, nrec, d)) if record else None
    ftraj = np.empty((P, nrec, d)) if (record and m > 1) else None
    delays = np.empty((P, K), dtype=np.int64) if return_delays else None
    ri = 0
    if record and rec[0] == 0:
        traj[:, 0] = coarse.current()
        if ftraj is not None:
            ftraj[:, 0] = fine.current()
        ri = 1
    lblock = None
    lscalar = None if delay.is_random else delay.draw_block(k0, K, 1, None)[:, 0]
    with np.errstate(all="ignore"):
        for j in range(K):
            if j % nb == 0:
                cnt = min(nb, K - j)
                if noisy:
                    rng.standard_normal(out=Z[:cnt])
                if delay.is_random:
                    lblock = delay.draw_block(k0 + j, cnt, P, rng)
                jb0 = j
            # The fine grid always reads the uncapped delay: its ring buffer is prefilled with
            # the initial segment (constant x0 by default), which is what the coarse cap
            # min(l_k, k) amounts to on the coarse grid but not inside the first tau on the
            # fine grid (reading X(ih) there instead of x0 would be a different equation).
            if delay.is_random:
                lk_raw = lblock[j - jb0]
                lk = np.minimum(lk_raw, j) if hist is None else lk_raw
            else:  # deterministic delays: one scalar per step, no per-path work
                lk_raw = int(lscalar[j])
                lk = lk_raw if hist is not None else min(lk_raw, j)
            if delays is not None:
                delays[:, j] = lk
            t = (k0 + j) * delta
            a = 1.0 if a_fn is None else float(a_fn(t))
            c = 1.0 if c_fn is None else float(c_fn(t))
            # ---- coarse scheme step (coefficients frozen at t_k and at the delayed state)
            Zj = Z[j - jb0] if noisy else None
            if noisy:
                dB = Zj[0] if m == 1 else Zj.sum(axis=0)
                scale = c * (np.sqrt(delta) if m == 1 else sqh)
            _step(
                coarse,
                j,
                lk,
                drift,
                G,
                diffusion,
                a * delta,
                dB if noisy else None,
                scale if noisy else 0.0,
                fast,
                tmp,
            )
            new = coarse.next_slot(j)
            _flag(new, div, j + 1)
            coarse.advance()
            # ---- fine steps on the same Brownian path
            if m > 1:
                lkm = lk_raw * m
                for i in range(m):
                    I = j * m + i
                    tf = t + i * h
                    af = 1.0 if a_fn is None else float(a_fn(tf))
                    cf = 1.0 if c_fn is None else float(c_fn(tf))
                    _step(
                        fine,
                        I,
                        lkm,
                        drift,
                        G,
                        diffusion,
                        af * h,
                        Zj[i] if noisy else None,
                        cf * sqh,
                        fast,
                        tmp,
                    )
                    fine.advance()
                _flag(fine.current(), div, j + 1)
            if record and ri < nrec and rec[ri] == j + 1:
                traj[:, ri] = coarse.current()
                if ftraj is not None:
                    ftraj[:, ri] = fine.current()
                ri += 1
    X_fine = fine.current().copy() if m > 1 else None
    return coarse.current().copy(), traj, X_fine, ftraj, delays, div


def _step(
    ring: RingBuffer,
    j: int,
    lk: np.ndarray,
    drift: Callable,
    G: np.ndarray | None,
    diffusion: Any,
    a_dt: float,
    Zj: np.ndarray | None,
    z_scale: float,
    fast: bool,
    tmp: np.ndarray,
) -> None:
    """Write `X_j + a dt f(X_{j-lk}) + c g(X_{j-lk}) dB` (dB = z_scale Zj) into the next slot."""
    Xdel = ring.delayed(j, lk)
    cur = ring.current()
    new = ring.next_slot(j)
    if fast:
        # d = 1 linear drift: new = cur - a dt A (Xdel - x*) + z_scale G Z, in place.
        # Xdel may alias `new` (lk = l): the elementwise multiply reads before it writes.
        A = drift.A[0, 0]
        np.multiply(Xdel, -a_dt * A, out=new)
        new += cur
        xs = drift.x_star[0]
        if xs != 0.0:
            new += a_dt * A * xs
        if Zj is not None:
            np.multiply(Zj, z_scale * G[0, 0], out=tmp)
            new += tmp
        return
    f = drift(Xdel)
    noise = None
    if Zj is not None:
        if G is not None:
            noise = Zj @ (z_scale * G).T
        else:
            noise = diffusion(Xdel, Zj)
            noise *= z_scale
    np.multiply(f, a_dt, out=new)
    new += cur
    if noise is not None:
        new += noise


def _flag(new: np.ndarray, div: np.ndarray, step: int) -> None:
    """Cheap divergence check: one reduction; the full row check only if the sum is not finite."""
    if not np.isfinite(new.sum()):
        flag_divergence(new, div, step)


def simulate_sdde(
    problem: Problem,
    *,
    eta: float,
    delta: float | None = None,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any = None,
    xi: Any = None,
    delay: DelayModel | None = None,
    schedule: Schedule | None = None,
    b: int = 1,
    sigma_at: str = "x_star",
    noise: bool = True,
    substeps: int = 1,
    record_every: int | None = None,
    return_delays: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> SDDEResult:
    """Euler–Maruyama (coarse, + optional fine) for the SDDE Eq. (6) of a `Problem`.

    Drift `-(eta/delta) U(t) grad F`, diffusion `(eta/sqrt(delta)) U(t) sigma`, with `sigma`
    the PSD root of `Sigma(x_star)/b` (`sigma_at="x_star"`, default) or of `Sigma(X)/b` at the
    delayed state (`"state"`). `delta` defaults to `eta` (choice (a)). `noise=False` gives the
    deterministic DDE. Other arguments as in `euler_maruyama` / `simulate_asgd`; `xi` here is a
    callable on `[-tau, 0]` in *time* units, or an array of values on the fine grid.
    """
    problem_check(problem)
    eta = check_positive_float("eta", eta)
    delta = eta if delta is None else check_positive_float("delta", delta)
    delay = NoDelay() if delay is None else check_delay_model(delay)
    schedule = Constant() if schedule is None else check_schedule(schedule)
    if sigma_at not in ("x_star", "state"):
        raise InputError("sigma_at", sigma_at, "unknown convention", "use 'x_star' or 'state'")
    b = check_batch_size(b, None, True)
    diffusion: Any = None
    if noise and sigma_at == "x_star":
        diffusion = sqrt_psd(problem.Sigma(problem.x_star) / b)
    elif noise:

        def diffusion(Xdel: np.ndarray, dB: np.ndarray) -> np.ndarray:
            return state_noise(problem, Xdel, dB, b)

    def drift(X: np.ndarray) -> np.ndarray:
        return -problem.grad(X)

    res = euler_maruyama(
        drift,
        diffusion,
        d=problem.d,
        delta=delta,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        xi=xi,
        delay=delay,
        k0=schedule.k0,
        drift_factor=lambda t: eta / delta * float(schedule.U(t, delta)),
        noise_factor=lambda t: eta / np.sqrt(delta) * float(schedule.U(t, delta)),
        noise_dim=problem.d,
        substeps=substeps,
        record_every=record_every,
        return_delays=return_delays,
        chunk_size=chunk_size,
        map_fn=map_fn,
    )
    res.meta.update(
        {
            "equation": "SDDE Eq. (6)",
            "eta": eta,
            "b": b,
            "schedule": repr(schedule),
            "sigma_at": sigma_at if noise else None,
            "noise": bool(noise),
        }
    )
    return res


def simulate_sde(problem: Problem, **kwargs: Any) -> SDDEResult:
    """The SDE (`theta = 0`): `simulate_sdde` with `delay=NoDelay()`."""
    kwargs["delay"] = NoDelay()
    res = simulate_sdde(problem, **kwargs)
    res.meta["equation"] = "SDE (theta = 0)"
    return res


def simulate_linear_sdde(
    A: Any,
    G: Any,
    *,
    tau: float,
    delta: float,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x_star: Any = None,
    x0: Any = None,
    xi: Any = None,
    substeps: int = 1,
    record_every: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> SDDEResult:
    """Linear SDDE `dX = -A (X(t - tau) - x_star) dt + G dB` (SPEC §4, Küchler–Mensch).

    `A` (d, d) or scalar, `G` (d, r) or scalar; `tau` must be a non-negative integer multiple
    of `delta` (`l = tau/delta`), else `DelayError`. Constant delay `l`; initial segment `xi`
    as in `euler_maruyama` (default constant `x0`, default `x0 = x_star` or zeros).
    """
    delta = check_positive_float("delta", delta)
    if isinstance(tau, bool) or not np.isfinite(tau) or tau < 0:
        raise DelayError("tau", tau, "must be finite and >= 0", "pass tau = l * delta, l >= 0")
    l = round(tau / delta)
    if abs(l * delta - tau) > 1e-9 * max(tau, delta):
        raise DelayError(
            "tau", tau, f"is not an integer multiple of delta={delta}", "choose delta = tau / l"
        )
    drift = LinearDrift(A, x_star)
    G = np.atleast_2d(np.asarray(G, dtype=float))
    if G.shape[0] != drift.d:
        raise DimensionError("G", G.shape, f"must have d={drift.d} rows", "fix G")
    if x0 is None and xi is None:
        x0 = drift.x_star
    res = euler_maruyama(
        drift,
        G,
        d=drift.d,
        delta=delta,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        xi=xi,
        delay=ConstantDelay(l),
        substeps=substeps,
        record_every=record_every,
        chunk_size=chunk_size,
        map_fn=map_fn,
    )
    res.meta.update({"equation": "linear SDDE dX = -A(X(t-tau)-x*)dt + G dB", "tau": tau})
    return res
