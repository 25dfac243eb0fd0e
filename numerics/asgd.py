"""ASGD Eq. (4) and its Gaussian surrogate Eq. (5), all paths at once.

Glossary: `eta` learning rate, `u_k` schedule, `l_k` delay at step k, `l` delay bound,
`b` minibatch size, `g_M(b, x)` minibatch gradient, `xi` initial segment (iterates
`x_{k0-l}, ..., x_{k0}`), `sigma` with `sigma sigma^T = Sigma/b`, `delta` time step (t_k = k delta).

Update (Eq. (4)):  `x_{k+1} = x_k - eta u_k g_{M_k}(b, x_{k - l_k})`, k = k0 .. k0+K-1.
Surrogate (Eq. (5)): `x_{k+1} = x_k - eta u_k grad F(x_{k-l_k}) + eta u_k sigma(x_{k-l_k}) z_k`,
with `sigma` evaluated at `x_star` (default convention, SPEC §1) or at the delayed iterate.

Implementation: per path, the last `l+1` iterates live in a ring buffer (memory
O(paths d (l+1)), independent of K). Without `xi`, the delays are capped as in footnote 2
(`min(l_k, k - k0)`), which equals the constant initial segment `xi = x_{k0}`.
Divergence: a path that becomes non-finite is frozen (its iterate is set to NaN and never read
by others), `diverged_from_step[p]` is the first step index k (of the produced iterate x_k)
that is non-finite, -1 if never. The simulator never raises on overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numerics.delays import DelayModel, NoDelay
from numerics.problems import Problem
from numerics.rng import DEFAULT_CHUNK_SIZE, Chunk
from numerics.schedules import Constant, Schedule

__all__ = ["SimulationResult", "simulate_asgd"]

#: Method metadata as data.
ASGD_METHOD: dict[str, Any] = {"name": "ASGD Eq. (4)", "exact": True, "monte_carlo": True}


@dataclass
class SimulationResult:
    """Result of an ensemble simulation (ASGD, surrogate, SDDE scheme).

    Attributes:
        x_final: iterates at the last step, shape (P, d) (NaN rows for diverged paths).
        steps: iteration indices `k` of the recorded iterates, shape (R,).
        times: `t_k = k * delta` of the recorded iterates, shape (R,).
        trajectory: recorded iterates (R, P, d), or None if `record_every` was None.
        delays: the (capped) delays `l_k` actually used, shape (K, P), or None if not asked.
        diverged_from_step: first step index k with non-finite `x_k` per path, -1 if never.
        meta: method metadata and conventions (sampling mode, sigma convention, seed, ...).
    """

    x_final: np.ndarray
    steps: np.ndarray
    times: np.ndarray
    trajectory: np.ndarray | None
    delays: np.ndarray | None
    diverged_from_step: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged_paths(self) -> np.ndarray:
        """Indices of the paths that went non-finite."""
        return np.flatnonzero(self.diverged_from_step >= 0)

    @property
    def finite_mask(self) -> np.ndarray:
        """Boolean (P,) mask of the paths that stayed finite."""
        return self.diverged_from_step < 0

    @property
    def n_diverged(self) -> int:
        """Number of diverged paths."""
        return int(np.count_nonzero(self.diverged_from_step >= 0))


def simulate_asgd(
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
    noise: str = "minibatch",
    sigma_at: str = "x_star",
    delta: float | None = None,
    record_every: int | None = None,
    return_delays: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> SimulationResult:
    """Simulate `paths` independent runs of ASGD Eq. (4) (or the surrogate Eq. (5)).

    Arguments:
        problem: the loss (a `Problem`).
        eta: learning rate `eta > 0`.
        K: number of updates; iterates `x_{k0} .. x_{k0+K}` with `k0 = schedule.k0`.
        paths: number of independent paths P.
        seed: int or `SeedSequence` (see `numerics.rng`: bit-identical for fixed
            `seed, paths, chunk_size`).
        x0: initial iterate `x_{k0}`, shape (d,) or (P, d); default zeros. Ignored if `xi` given.
        xi: initial segment: array (l+1, d) of `x_{k0-l} .. x_{k0}` (shape (l+1,) if d = 1), or
            a callable `xi(s)` on `s in [-l, 0]` (in units of steps; returns (d,)). If None, the
            footnote-2 cap `min(l_k, k - k0)` is used.
        delay: delay model (default `NoDelay()`, i.e. SGD).
        schedule: `u_k` (default `Constant()`).
        b: minibatch size.
        replace: minibatches with (True) or without (False) replacement; `b > n` without
            replacement raises `BatchSizeError`.
        noise: `"minibatch"` (Eq. (4)), `"gaussian"` (Eq. (5)), or `"none"` (exact gradient,
            i.e. delayed gradient descent).
        sigma_at: for `noise="gaussian"`: `"x_star"` (constant sigma, default) or `"state"`
            (`sigma(x_{k-l_k})`, PSD root of `Sigma(x)/b`, batched `eigh`).
        delta: time step for the reported times `t_k = k delta` (default `eta`, choice (a)).
        record_every: record every r-th iterate (plus the first and the last); None = final only.
        return_delays: also return the (K, P) array of capped delays used.
        chunk_size: paths per chunk (part of the seed contract).
        map_fn: chunk scheduler, see `numerics.rng.run_chunked`.

    Returns:
        `SimulationResult`.

    Raises:
        StepSizeError, PathsError, BatchSizeError, DelayError, InitialSegmentError,
        DimensionError, SeedError: invalid inputs (checked before any work).
    """
    raise NotImplementedError


def _asgd_chunk(chunk: Chunk, **kwargs: Any) -> Any:
    raise NotImplementedError


_ = (NoDelay, Constant)
