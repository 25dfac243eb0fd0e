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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.asgd import SimulationResult
from numerics.delays import DelayModel
from numerics.problems import Problem
from numerics.rng import DEFAULT_CHUNK_SIZE
from numerics.schedules import Schedule

__all__ = [
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
    raise NotImplementedError


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
    raise NotImplementedError


def simulate_sde(problem: Problem, **kwargs: Any) -> SDDEResult:
    """The SDE (`theta = 0`): `simulate_sdde` with `delay=NoDelay()`."""
    raise NotImplementedError


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
    raise NotImplementedError
