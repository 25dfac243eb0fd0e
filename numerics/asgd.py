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
from numerics.errors import BatchSizeError, InputError, PathsError, StepSizeError
from numerics.problems import Problem, check_batch_size
from numerics.rng import DEFAULT_CHUNK_SIZE, Chunk, run_chunked
from numerics.schedules import Constant, Schedule
from numerics.update_rules import ASGDRule, PreparedNoise, state_noise
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

__all__ = ["SimulationResult", "simulate_asgd", "simulate_rule", "state_noise"]

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
    rule = ASGDRule(
        eta,
        delay=delay,
        schedule=schedule,
        b=b,
        replace=replace,
        noise=noise,
        sigma_at=sigma_at,
    )
    if noise == "minibatch" and problem.n is not None and problem.n < 1:
        raise BatchSizeError("n", problem.n, "empty sample set", "give data")
    res = _run_rule(
        problem,
        rule,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        xi=xi,
        delta=delta,
        record_every=record_every,
        return_delays=return_delays,
        chunk_size=chunk_size,
        map_fn=map_fn,
    )
    res.meta = {
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
        "initial_segment": res.meta["initial_segment"],
        "seed": seed,
        "paths": paths,
        "chunk_size": chunk_size,
        "k0": schedule.k0,
    }
    return res


def simulate_rule(
    problem: Problem,
    rule: ASGDRule,
    *,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any = None,
    xi: Any = None,
    delta: float | None = None,
    record_every: int | None = None,
    return_delays: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> SimulationResult:
    """Simulate `paths` runs of any update rule (`numerics.update_rules.ASGDRule` or a subclass).

    `simulate_asgd(problem, eta=..., delay=..., ...)` is
    `simulate_rule(problem, ASGDRule(eta, delay=..., ...), ...)` (bit for bit). Arguments as in
    `simulate_asgd`; `delta` defaults to `rule.eta`. If the rule reads further back than the
    delay bound (momentum: `x_{k-1}`), an initial segment `xi` of `l+1` iterates is extended
    to the left with its first value (zero initial velocity).

    Raises:
        InputError: `rule` is not an `ASGDRule`; plus the input errors of `simulate_asgd`.
    """
    problem_check(problem)
    if not isinstance(rule, ASGDRule):
        raise InputError(
            "rule", rule, "must be a numerics.update_rules.ASGDRule", "use ASGDRule(eta, ...)"
        )
    K = check_positive_int("K", K, StepSizeError)
    rule.check_problem(problem)
    delta = rule.eta if delta is None else check_positive_float("delta", delta)
    paths = check_positive_int("paths", paths, PathsError)
    res = _run_rule(
        problem,
        rule,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        xi=xi,
        delta=delta,
        record_every=record_every,
        return_delays=return_delays,
        chunk_size=chunk_size,
        map_fn=map_fn,
    )
    res.meta.update(
        {
            **rule.describe(),
            "noise": rule.noise,
            "b": rule.b,
            "eta": rule.eta,
            "delta": delta,
            "K": K,
            "delay": repr(rule.delay),
            "schedule": repr(rule.schedule),
            "seed": seed,
            "paths": paths,
            "chunk_size": chunk_size,
            "k0": rule.k0,
        }
    )
    return res


def _run_rule(
    problem: Problem,
    rule: ASGDRule,
    *,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any,
    xi: Any,
    delta: float,
    record_every: int | None,
    return_delays: bool,
    chunk_size: int,
    map_fn: Callable | None,
) -> SimulationResult:
    """The shared driver: validated inputs -> chunks -> `SimulationResult` (meta minimal)."""
    x0a = initial_point(x0, problem.d, paths)
    hist = initial_history(xi, rule.delay.l, problem.d, scale=1, step=delta)
    if hist is not None and hist.shape[0] < rule.window:
        hist = np.concatenate([np.repeat(hist[:1], rule.window - hist.shape[0], axis=0), hist])
    rec = record_indices(K, record_every)
    kw = dict(
        problem=problem,
        rule=rule,
        prep=rule.prepare(problem),
        K=K,
        x0=x0a,
        hist=hist,
        rec=rec,
        return_delays=return_delays,
    )
    out = run_chunked(
        functools.partial(_rule_chunk, **kw), seed, paths, chunk_size, map_fn=map_fn, axis=0
    )
    x_final, traj, delays, div = out
    k0 = rule.k0
    steps = k0 + rec
    return SimulationResult(
        x_final=x_final,
        steps=steps,
        times=steps * delta,
        trajectory=None if record_every is None else np.moveaxis(traj, 0, 1),
        delays=None if not return_delays else delays.T,
        diverged_from_step=np.where(div >= 0, div + k0, -1),
        meta={
            "initial_segment": "given"
            if hist is not None
            else "footnote-2 cap (= constant xi = x0)"
        },
    )


def _rule_chunk(
    chunk: Chunk,
    *,
    problem: Problem,
    rule: ASGDRule,
    prep: PreparedNoise,
    K: int,
    x0: np.ndarray,
    hist: np.ndarray | None,
    rec: np.ndarray,
    return_delays: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """One chunk of `simulate_rule`; outputs have the path axis first."""
    rng = chunk.generator()
    P, d = chunk.size, problem.d
    ring = RingBuffer(rule.window, P, d)
    ring.fill(x0 if x0.shape[0] == 1 else x0[chunk.start : chunk.stop], hist)
    hs = rule.step_sizes(K)
    div = np.full(P, -1, dtype=np.int64)
    traj = np.empty((P, len(rec), d)) if len(rec) > 1 else None
    delays = np.empty((P, K), dtype=np.int64) if return_delays else None
    plan = rule.delay_plan(K)
    capped = hist is None
    r = 0
    if traj is not None and rec[0] == 0:
        traj[:, 0] = ring.current()
        r = 1
    with np.errstate(all="ignore"):
        for j in range(K):
            lk = rule.read_delay(j, P, rng, plan, capped)
            if delays is not None:
                delays[:, j] = lk
            g = rule.gradient(problem, ring.delayed(j, lk), rng, prep)
            new = rule.apply(ring, j, g, hs[j])
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
