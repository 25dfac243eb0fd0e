r"""The ASGD update rule, defined once (issue 9 item 6).

Glossary: `eta` $\eta$ · `u_k` schedule · `h_k` $= \eta u_k$ · `l_k` delay at step $k$ · `l` delay
bound · `b` minibatch size · `sigma` with $\sigma\sigma^\top = \Sigma/b$ · `window` number of
past iterates a step may read.

An update rule says how $x_{k+1}$ is made from the past iterates; everything that consumes it
reads it from one object:

- the ensemble simulator `numerics.asgd.simulate_asgd` / :func:`numerics.asgd.simulate_rule`,
- the coupled simulator `numerics.coupling.simulate_coupled` (its ASGD side),
- the exact moment recursion `numerics.moments.asgd_moments_for` /
  :func:`numerics.moments.rule_moments` (quadratic losses).

**Plain ASGD** (:class:`ASGDRule`, paper Eq. (4), surrogate Eq. (5)):

$$x_{k+1} = x_k - h_k\,g_k,\qquad h_k = \eta u_k,\qquad
  g_k = g_{M_k}(b, x_{k-l_k})\ \text{(minibatch)},\ \
  \nabla F(x_{k-l_k}) - \sigma z_k\ \text{(Gaussian)},\ \ \nabla F(x_{k-l_k})\ \text{(none)}.$$

The three ingredients are the *delay read* ($l_k$ from the delay model, capped at $k - k_0$ as in
footnote 2 unless an initial segment is given), the *noise* of $g_k$ and the *schedule* $u_k$.

**Linear multi-step rules.** A rule may add a fixed linear combination of recent iterates,
$x_{k+1} = \sum_i c_i x_{k-i} - h_k g_k$ with $\sum_i c_i = 1$ (so $x^*$ stays a fixed point);
plain ASGD is $c = (1)$. It declares `combination` = `((i, c_i), ...)`; the exact recursion of
`numerics.moments` propagates any such rule on quadratics (:meth:`ASGDRule.moment_step`). Heavy
ball (:mod:`numerics.momentum`) is $c = (1 + \beta, -\beta)$.

**Adding a rule** (e.g. a delay-compensated update): subclass :class:`ASGDRule` in one file;
override :meth:`ASGDRule.apply` (how the simulator writes $x_{k+1}$) and, if the new rule is
not a linear combination as above, :meth:`ASGDRule.moment_step` (its exact recursion on
quadratics). Delay read, noise and schedule are inherited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.delays import DelayModel, NoDelay
from numerics.errors import InputError
from numerics.problems import Problem, check_batch_size, sqrt_psd
from numerics.schedules import Constant, Schedule
from numerics.validation import check_delay_model, check_positive_float, check_schedule

__all__ = ["NOISE_MODELS", "ASGDRule", "PreparedNoise", "linear_moment_step", "state_noise"]

#: Gradient-noise models of a rule: Eq. (4), Eq. (5), exact gradient (delayed GD).
NOISE_MODELS = ("minibatch", "gaussian", "none")


@dataclass(frozen=True)
class PreparedNoise:
    """What a rule precomputes once per run for a problem (constant sigma, blocking)."""

    sigma_const: np.ndarray | None
    blockwise: bool
    rows: int


class ASGDRule:
    r"""Plain ASGD, Eq. (4) (`noise="minibatch"`), Eq. (5) (`"gaussian"`), delayed GD (`"none"`).

    Arguments:
        eta: learning rate $\eta > 0$.
        delay: delay model for $l_k$ (default `NoDelay()`, SGD).
        schedule: $u_k$ (default `Constant()`).
        b: minibatch size.
        replace: minibatches with (True) or without replacement.
        noise: one of :data:`NOISE_MODELS`.
        sigma_at: for `noise="gaussian"`: `"x_star"` (constant $\sigma$) or `"state"`
            ($\sigma(x_{k-l_k})$).

    Raises:
        StepSizeError, DelayError, ScheduleError, InputError: invalid arguments.
    """

    name: str = "ASGD Eq. (4)"
    #: $x_{k+1} = \sum_i c_i x_{k-i} - h_k g_k$: pairs (i, c_i).
    combination: tuple[tuple[int, float], ...] = ((0, 1.0),)

    def __init__(
        self,
        eta: float,
        *,
        delay: DelayModel | None = None,
        schedule: Schedule | None = None,
        b: int = 1,
        replace: bool = True,
        noise: str = "minibatch",
        sigma_at: str = "x_star",
    ) -> None:
        self.eta = check_positive_float("eta", eta)
        self.delay = NoDelay() if delay is None else check_delay_model(delay)
        self.schedule = Constant() if schedule is None else check_schedule(schedule)
        if noise not in NOISE_MODELS:
            raise InputError(
                "noise", noise, "unknown noise model", "use 'minibatch', 'gaussian', 'none'"
            )
        if sigma_at not in ("x_star", "state"):
            raise InputError("sigma_at", sigma_at, "unknown convention", "use 'x_star' or 'state'")
        self.b = check_batch_size(b, None, True)
        self.replace = bool(replace)
        self.noise = noise
        self.sigma_at = sigma_at

    # ----- structure ---------------------------------------------------------------------
    @property
    def window(self) -> int:
        """Past iterates kept per path: $\\max(l, \\max_i i) + 1$ (ring-buffer size)."""
        return max(self.delay.l, max(i for i, _ in self.combination)) + 1

    @property
    def k0(self) -> int:
        """First iteration index (from the schedule)."""
        return self.schedule.k0

    def step_sizes(self, K: int) -> np.ndarray:
        """$h_k = \\eta u_k$ for $k = k_0, \\dots, k_0 + K - 1$, shape (K,)."""
        k0 = self.schedule.k0
        return self.eta * self.schedule.u(np.arange(k0, k0 + K))

    def describe(self) -> dict[str, Any]:
        """Rule metadata as data (for `meta` and reports)."""
        return {"rule": self.name, "combination": [list(c) for c in self.combination]}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(eta={self.eta}, delay={self.delay!r}, "
            f"schedule={self.schedule!r}, b={self.b}, noise={self.noise!r})"
        )

    # ----- delay read --------------------------------------------------------------------
    def delay_plan(self, K: int) -> np.ndarray | None:
        """Deterministic delays $l_{k_0}, \\dots$ (uncapped, (K,)), or None for random delays."""
        if self.delay.is_random:
            return None
        return self.delay.draw_block(self.schedule.k0, K, 1, None)[:, 0]

    def read_delay(
        self,
        j: int,
        P: int,
        rng: np.random.Generator,
        plan: np.ndarray | None,
        capped: bool,
    ) -> np.ndarray | int:
        """The delay $l_k$ of step $k = k_0 + j$: (P,) int64 (random) or an int (deterministic).

        `capped` applies footnote 2, $\\min(l_k, j)$ (no initial segment given). Random models
        draw from `rng` (one draw of P delays per step); deterministic ones do not touch it.
        """
        if plan is None:
            lk = self.delay.draw(self.schedule.k0 + j, P, rng)
            return np.minimum(lk, j) if capped else lk
        return min(int(plan[j]), j) if capped else int(plan[j])

    # ----- noise -------------------------------------------------------------------------
    def check_problem(self, problem: Problem) -> None:
        """Raise `BatchSizeError` if `b` does not fit the problem's sample set."""
        check_batch_size(self.b, problem.n, self.replace)

    def prepare(self, problem: Problem) -> PreparedNoise:
        """Precompute the constant $\\sigma = (\\Sigma(x^*)/b)^{1/2}$ and the gradient blocking."""
        sigma_const = None
        if self.noise == "gaussian" and self.sigma_at == "x_star":
            sigma_const = sqrt_psd(problem.Sigma(problem.x_star) / self.b)
        blockwise = (
            problem.n is not None and type(problem).stochastic_grad is Problem.stochastic_grad
        )
        rows = max(1, (1 << 15) // (self.b * problem.d))
        return PreparedNoise(sigma_const, blockwise, rows)

    def gradient(
        self, problem: Problem, Xdel: np.ndarray, rng: np.random.Generator, prep: PreparedNoise
    ) -> np.ndarray:
        """The stochastic gradient $g_k$ at the delayed iterates `Xdel` (P, d) -> (P, d)."""
        b, P = self.b, Xdel.shape[0]
        if self.noise == "minibatch" and prep.blockwise:
            # same random stream as the default stochastic_grad; the gather-heavy gradient is
            # computed in row blocks that fit in cache (no effect on the result)
            idx = problem.sample_indices(rng, P, b, self.replace)
            g = np.empty((P, problem.d))
            rows = prep.rows
            for s0 in range(0, P, rows):
                g[s0 : s0 + rows] = problem.minibatch_grad(
                    Xdel[s0 : s0 + rows], idx[s0 : s0 + rows]
                )
            return g
        if self.noise == "minibatch":
            return problem.stochastic_grad(Xdel, b, rng, self.replace)
        if self.noise == "none":
            return problem.grad(Xdel)
        Z = rng.standard_normal((P, problem.d))
        g = problem.grad(Xdel)
        if prep.sigma_const is not None:
            g -= Z @ prep.sigma_const.T
        else:
            g -= state_noise(problem, Xdel, Z, b)
        return g

    # ----- the update --------------------------------------------------------------------
    def apply(self, ring: Any, j: int, g: np.ndarray, h: float) -> np.ndarray:
        """Write $x_{k+1} = x_k - h g$ into `ring.next_slot(j)` and return that view.

        `ring` is a `numerics.asgd.RingBuffer` whose current state is $x_k$; `g` must not alias
        the next slot (compute it first: the delayed read may live there).
        """
        new = ring.next_slot(j)
        np.multiply(g, -h, out=new)
        new += ring.current()
        return new

    def moment_step(
        self,
        ring: Any,
        h: float,
        delays: np.ndarray,
        weights: np.ndarray,
        Q: np.ndarray,
        noise: Any,
    ) -> None:
        r"""One step of the exact recursion on a quadratic (see `numerics.moments`).

        `ring` holds the means and second moments of $(e_k, \dots, e_{k-L})$, $e = x - x^*$;
        the delay is `delays[i]` with probability `weights[i]`; `noise(mbar, Mbar)` is the
        conditional noise covariance averaged over the read point (or None). Plain ASGD uses
        the specialised update; other linear combinations the general one.
        """
        linear_moment_step(self.combination, ring, h, delays, weights, Q, noise)


def linear_moment_step(
    combination: tuple[tuple[int, float], ...],
    ring: Any,
    h: float,
    delays: np.ndarray,
    weights: np.ndarray,
    Q: np.ndarray,
    noise: Any,
) -> None:
    r"""Exact moment step of $x_{k+1} = \sum_i c_ix_{k-i} - h\,g(x_{k-l_k})$ on a quadratic.

    Plain ASGD ($c = (1)$) takes the specialised ring update (`_Ring.step`), any other
    combination the general one (`_Ring.step_combination`); both are exact.
    """
    if tuple(combination) == ((0, 1.0),):
        ring.step(h, h * h, delays, weights, Q, noise)
    else:
        ring.step_combination(tuple(combination), h, delays, weights, Q, noise)


def state_noise(problem: Problem, Xdel: np.ndarray, Z: np.ndarray, b: int) -> np.ndarray:
    """`sigma(Xdel) Z` per path with `sigma` the PSD root of `Sigma(Xdel)/b` (NaN rows -> NaN)."""
    out = np.full_like(Z, np.nan)
    ok = np.isfinite(Xdel).all(axis=1)
    if ok.any():
        roots = sqrt_psd(problem.Sigma_batch(Xdel[ok]) / b)
        out[ok] = np.einsum("pij,pj->pi", roots, Z[ok])
    return out
