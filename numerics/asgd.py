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

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numerics.delays import DelayModel, NoDelay
from numerics.errors import (
    BatchSizeError,
    DelayError,
    DimensionError,
    InitialSegmentError,
    InputError,
    PathsError,
    ScheduleError,
    StepSizeError,
)
from numerics.problems import Problem, check_batch_size, sqrt_psd
from numerics.rng import DEFAULT_CHUNK_SIZE, Chunk, run_chunked
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
            a callable `xi(s) -> (d,)` on `s in [-tau, 0]` in *time* units, evaluated at
            `s = -j delta` (the same callable works for `simulate_sdde`). If None, the
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
    problem_check(problem)
    eta = check_positive_float("eta", eta)
    K = check_positive_int("K", K, StepSizeError)
    delay = NoDelay() if delay is None else check_delay_model(delay)
    schedule = Constant() if schedule is None else check_schedule(schedule)
    if noise not in ("minibatch", "gaussian", "none"):
        raise InputError(
            "noise", noise, "unknown noise model", "use 'minibatch', 'gaussian', 'none'"
        )
    if sigma_at not in ("x_star", "state"):
        raise InputError("sigma_at", sigma_at, "unknown convention", "use 'x_star' or 'state'")
    b = check_batch_size(b, problem.n, replace)
    delta = eta if delta is None else check_positive_float("delta", delta)
    paths = check_positive_int("paths", paths, PathsError)
    x0a = initial_point(x0, problem.d, paths)
    hist = initial_history(xi, delay.l, problem.d, scale=1, step=delta)
    rec = record_indices(K, record_every)
    sigma_const = None
    if noise == "gaussian" and sigma_at == "x_star":
        sigma_const = sqrt_psd(problem.Sigma(problem.x_star) / b)
    if noise == "minibatch" and problem.n is not None and problem.n < 1:
        raise BatchSizeError("n", problem.n, "empty sample set", "give data")
    kw = dict(
        problem=problem,
        eta=eta,
        K=K,
        x0=x0a,
        hist=hist,
        delay=delay,
        schedule=schedule,
        b=b,
        replace=replace,
        noise=noise,
        sigma_const=sigma_const,
        rec=rec,
        return_delays=return_delays,
    )
    out = run_chunked(
        functools.partial(_asgd_chunk, **kw), seed, paths, chunk_size, map_fn=map_fn, axis=0
    )
    x_final, traj, delays, div = out
    k0 = schedule.k0
    steps = k0 + rec
    meta = {
        **ASGD_METHOD,
        "noise": noise,
        "sampling": "with replacement" if replace else "without replacement",
        "sigma_at": sigma_at if noise == "gaussian" else None,
        "b": b,
        "eta": eta,
        "delta": delta,
        "K": K,
        "delay": repr(delay),
        "schedule": repr(schedule),
        "initial_segment": "given" if hist is not None else "footnote-2 cap (= constant xi = x0)",
        "seed": seed,
        "paths": paths,
        "chunk_size": chunk_size,
        "k0": k0,
    }
    return SimulationResult(
        x_final=x_final,
        steps=steps,
        times=steps * delta,
        trajectory=None if record_every is None else np.moveaxis(traj, 0, 1),
        delays=None if not return_delays else delays.T,
        diverged_from_step=np.where(div >= 0, div + k0, -1),
        meta=meta,
    )


def _asgd_chunk(
    chunk: Chunk,
    *,
    problem: Problem,
    eta: float,
    K: int,
    x0: np.ndarray,
    hist: np.ndarray | None,
    delay: DelayModel,
    schedule: Schedule,
    b: int,
    replace: bool,
    noise: str,
    sigma_const: np.ndarray | None,
    rec: np.ndarray,
    return_delays: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """One chunk of `simulate_asgd`; outputs have the path axis first."""
    rng = chunk.generator()
    P, d, l = chunk.size, problem.d, delay.l
    ring = RingBuffer(l + 1, P, d)
    ring.fill(x0 if x0.shape[0] == 1 else x0[chunk.start : chunk.stop], hist)
    k0 = schedule.k0
    u = schedule.u(np.arange(k0, k0 + K))
    div = np.full(P, -1, dtype=np.int64)
    traj = np.empty((P, len(rec), d)) if len(rec) > 1 else None
    delays = np.empty((P, K), dtype=np.int64) if return_delays else None
    lscalar = None if delay.is_random else delay.draw_block(k0, K, 1, None)[:, 0]
    blockwise = problem.n is not None and type(problem).stochastic_grad is Problem.stochastic_grad
    rows = max(1, (1 << 15) // (b * d))
    r = 0
    if traj is not None and rec[0] == 0:
        traj[:, 0] = ring.current()
        r = 1
    with np.errstate(all="ignore"):
        for j in range(K):
            if delay.is_random:
                lk = delay.draw(k0 + j, P, rng)
                if hist is None:
                    lk = np.minimum(lk, j)
            else:  # deterministic delays: one scalar per step
                lk = int(lscalar[j]) if hist is not None else min(int(lscalar[j]), j)
            if delays is not None:
                delays[:, j] = lk
            Xdel = ring.delayed(j, lk)
            h = eta * u[j]
            if noise == "minibatch" and blockwise:
                # same random stream as the default stochastic_grad; the gather-heavy gradient
                # is computed in row blocks that fit in cache (no effect on the result)
                idx = problem.sample_indices(rng, P, b, replace)
                g = np.empty((P, d))
                for s0 in range(0, P, rows):
                    g[s0 : s0 + rows] = problem.minibatch_grad(
                        Xdel[s0 : s0 + rows], idx[s0 : s0 + rows]
                    )
            elif noise == "minibatch":
                g = problem.stochastic_grad(Xdel, b, rng, replace)
            elif noise == "none":
                g = problem.grad(Xdel)
            else:
                Z = rng.standard_normal((P, d))
                g = problem.grad(Xdel)
                if sigma_const is not None:
                    g -= Z @ sigma_const.T
                else:
                    g -= state_noise(problem, Xdel, Z, b)
            new = ring.next_slot(j)
            np.multiply(g, -h, out=new)
            new += ring.current()
            flag_divergence(new, div, j + 1)
            ring.advance()
            if traj is not None and r < len(rec) and rec[r] == j + 1:
                traj[:, r] = new
                r += 1
    return ring.current().copy(), traj, delays, div


# ----- shared helpers (used by numerics.sdde and numerics.coupling) ------------------------
class RingBuffer:
    """The last `size` states of every path: array (size, P, d); iterate j lives in slot
    `j mod size` (j counted from the first iterate, negative j for the initial segment)."""

    def __init__(self, size: int, P: int, d: int) -> None:
        self.size, self.P, self.d = size, P, d
        self.buf = np.empty((size, P, d))
        self.j = 0
        self._rows = np.arange(P)

    def fill(self, x0: np.ndarray, hist: np.ndarray | None) -> None:
        """Initialise with the constant `x0` ((1, d) or (P, d)), or with `hist` (size, d) holding
        iterates `-(size-1) .. 0` in order."""
        if hist is None:
            self.buf[:] = x0
        else:
            for i in range(self.size):
                self.buf[(i - (self.size - 1)) % self.size] = hist[i]
        self.j = 0

    def current(self) -> np.ndarray:
        """View of the current state (P, d)."""
        return self.buf[self.j % self.size]

    def delayed(self, j: int, lk: np.ndarray | int) -> np.ndarray:
        """States `X_{j - lk[p]}` per path (P, d); a view when `lk` is a scalar or constant."""
        if self.size == 1:
            return self.buf[0]
        if np.ndim(lk) == 0:
            return self.buf[(j - int(lk)) % self.size]
        first = lk[0]
        if np.all(lk == first):
            return self.buf[(j - first) % self.size]
        return self.buf[(j - lk) % self.size, self._rows]

    def next_slot(self, j: int) -> np.ndarray:
        """View of the slot that will hold state j+1 (overwrites state j+1-size)."""
        return self.buf[(j + 1) % self.size] if self.size > 1 else self._scratch()

    def _scratch(self) -> np.ndarray:
        if not hasattr(self, "_tmp"):
            self._tmp = np.empty((self.P, self.d))
        return self._tmp

    def advance(self) -> None:
        """Make the slot written by `next_slot` the current state."""
        if self.size == 1:
            self.buf[0] = self._tmp
        self.j += 1


def flag_divergence(new: np.ndarray, div: np.ndarray, step: int) -> None:
    """Mark rows of `new` that became non-finite at `step` (first time only) and freeze them as
    NaN rows (NaN is absorbing under the updates, and rows never mix)."""
    bad = ~np.isfinite(new.sum(axis=1))
    if bad.any():
        fresh = bad & (div < 0)
        div[fresh] = step
        new[bad] = np.nan


def state_noise(problem: Problem, Xdel: np.ndarray, Z: np.ndarray, b: int) -> np.ndarray:
    """`sigma(Xdel) Z` per path with `sigma` the PSD root of `Sigma(Xdel)/b` (NaN rows -> NaN)."""
    out = np.full_like(Z, np.nan)
    ok = np.isfinite(Xdel).all(axis=1)
    if ok.any():
        roots = sqrt_psd(problem.Sigma_batch(Xdel[ok]) / b)
        out[ok] = np.einsum("pij,pj->pi", roots, Z[ok])
    return out


def problem_check(problem: Any) -> None:
    """Raise `InputError` unless `problem` is a `Problem`."""
    if not isinstance(problem, Problem):
        raise InputError("problem", problem, "must be a numerics.problems.Problem", "wrap F")


def check_positive_float(name: str, value: Any) -> float:
    """A finite float > 0, else `StepSizeError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise StepSizeError(name, value, "must be a finite number > 0", f"pass {name} > 0")
    if not np.isfinite(value) or value <= 0:
        raise StepSizeError(name, value, "must be finite and > 0", f"pass {name} > 0")
    return float(value)


def check_positive_int(name: str, value: Any, err: type[InputError] = StepSizeError) -> int:
    """An int >= 1, else `err`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise err(name, value, "must be a positive integer", f"pass an int {name} >= 1")
    if value < 1:
        raise err(name, value, "must be >= 1", f"pass an int {name} >= 1")
    return int(value)


def check_delay_model(delay: Any) -> DelayModel:
    """A `DelayModel`, else `DelayError`."""
    if not isinstance(delay, DelayModel):
        raise DelayError(
            "delay", delay, "must be a DelayModel", "use NoDelay(), ConstantDelay(l), ..."
        )
    return delay


def check_schedule(schedule: Any) -> Schedule:
    """A `Schedule`, else `ScheduleError`."""
    if not isinstance(schedule, Schedule):
        raise ScheduleError("schedule", schedule, "must be a Schedule", "use Constant(), ...")
    return schedule


def initial_point(x0: Any, d: int, paths: int) -> np.ndarray:
    """`x0` as (1, d) or (paths, d); default 0. Raises DimensionError, InitialSegmentError."""
    if x0 is None:
        return np.zeros((1, d))
    xa = np.asarray(x0, dtype=float)
    if xa.ndim <= 1 and xa.size == d:
        xa = xa.reshape(1, d)
    if xa.ndim != 2 or xa.shape[1] != d or xa.shape[0] not in (1, paths):
        raise DimensionError("x0", xa.shape, f"must have shape (d={d},) or (paths, d)", "fix x0")
    if not np.all(np.isfinite(xa)):
        raise InitialSegmentError("x0", x0, "must be finite", "pass finite values")
    return xa


def initial_history(
    xi: Any, l: int, d: int, scale: int = 1, step: float = 1.0
) -> np.ndarray | None:
    """Initial segment as an array (l*scale + 1, d) of values at `s = -l*step, ..., 0` on the grid
    of spacing `step/scale`; `xi` is None, such an array ((l*scale+1,) allowed when d = 1), or a
    callable `xi(s) -> (d,)`. Raises `InitialSegmentError`."""
    if xi is None:
        return None
    N = l * scale + 1
    if callable(xi):
        s = np.linspace(-l * step, 0.0, N)
        try:
            H = np.array([np.asarray(xi(si), dtype=float).reshape(-1) for si in s])
        except Exception as exc:
            raise InitialSegmentError(
                "xi", xi, f"callable failed on [-tau, 0]: {exc}", "return a (d,) array"
            ) from exc
    else:
        H = np.asarray(xi, dtype=float)
        if H.ndim == 1 and d == 1:
            H = H[:, None]
    if H.ndim != 2 or H.shape != (N, d):
        raise InitialSegmentError(
            "xi", np.shape(H), f"must have shape ({N}, {d}) (values at s = -tau..0)", "fix xi"
        )
    if not np.all(np.isfinite(H)):
        raise InitialSegmentError("xi", xi, "must be finite", "pass finite values")
    return H


def record_indices(K: int, record_every: int | None) -> np.ndarray:
    """Relative step indices recorded: `[K]` if None, else `0, r, 2r, ..., K` (K always last)."""
    if record_every is None:
        return np.array([K], dtype=np.int64)
    r = check_positive_int("record_every", record_every, PathsError)
    idx = np.arange(0, K + 1, r, dtype=np.int64)
    if idx[-1] != K:
        idx = np.append(idx, K)
    return idx
