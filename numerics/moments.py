r"""Exact first and second moments of ASGD / SGD / Euler–Maruyama iterates on quadratics.

Glossary: `eta` $\eta$ · `u` $u_k$ schedule · `U` $U(t)$ · `delta` $\delta$ · `l` delay bound ·
`q` delay law $q_j = P(l_k = j)$ on $\{0..l\}$ · `b` minibatch size · `n` data size · `Q` Hessian
($\tilde A = A^\top A/n$ for least squares) · `x_star` $x^*$ · `Sigma` $\Sigma(x)$ per-sample
gradient covariance · `xi` $\xi$ initial segment · `substeps` $m$ Euler–Maruyama steps per $\delta$.

**The recursion (paper Eqs. 4–5).** On a quadratic $F(x) = F^* + \tfrac12 (x-x^*)^\top Q (x-x^*)$,

$$x_{k+1} = x_k - \eta u_k\big(Q(x_{k-l_k} - x^*) + \zeta_k\big),$$

with $\zeta_k$ the gradient noise: conditionally on the past and on $l_k$ it has mean $0$ and
covariance either a given $S_k$ (additive Gaussian noise, Eq. 5 with constant $\sigma$,
$\sigma\sigma^\top = S$) or $\frac{c_b}{b}\Sigma(x_{k-l_k})$ (exact minibatch noise of least
squares, $c_b = 1$ with replacement, $c_b = (n-b)/(n-1)$ without). The delay $l_k$ is independent
of the state with law $q$ (constant delay: one-hot $q$; cyclic: a one-hot row per step).

**Exact propagation.** Write $e_k = x_k - x^*$ and $s_k = (e_k, \dots, e_{k-l})$. Because
$l_k$ is independent of $s_k$ and the noise has conditional mean zero,

$$E[e_{k+1}] = E e_k - h_k Q \textstyle\sum_j q_j E e_{k-j},\qquad h_k = \eta u_k,$$
$$E[e_{k+1}e_{k-i}^\top] = E[e_k e_{k-i}^\top]
   - h_k Q \textstyle\sum_j q_j E[e_{k-j}e_{k-i}^\top],$$
$$E[e_{k+1}e_{k+1}^\top] = P_{00} - h_k(QR_0 + R_0^\top Q^\top)
   + h_k^2 Q\big(\textstyle\sum_j q_j P_{jj}\big)Q^\top + h_k^2\,\bar N_k,$$

where $P_{ij} = E[e_{k-i}e_{k-j}^\top]$, $R_0 = \sum_j q_j P_{j0}$ and $\bar N_k$ is the noise
covariance averaged over the read point. For least squares, $\Sigma(x)$ is quadratic in $x$, so
$\bar N_k$ is an exact affine function of $\sum_j q_j E e_{k-j}$ and $\sum_j q_j P_{jj}$
(:func:`minibatch_noise_covariance`). This is $\sum_j q_j M_j E[s_ks_k^\top] M_j^\top + $ noise
with the companion matrices $M_j$, but only the first block row is new: the other blocks are a
shift. The blocks live in a ring buffer (no copy for the shift), so a step costs
$O(|\mathrm{supp}\,q|\,(l+1)d^2 + (l+1)d^3)$ instead of the dense $O((l+1)^4 d^3)$.
Everything is exact up to floating-point rounding (no sampling, no truncation).

**Update rules.** The step is the rule's (`numerics.update_rules.ASGDRule.moment_step`):
plain ASGD takes the update above; a linear multi-step rule
$x_{k+1} = \sum_i c_ix_{k-i} - h_kg_k$ (heavy ball, `numerics.momentum`) the general
`_Ring.step_combination`. :func:`rule_moments` propagates any rule object;
:func:`asgd_moments_for` is it with a plain rule.

**Lag cross-moments.** The ring holds every block $E[e_ke_{k-i}^\top]$, $i \le L$, so
$E[e_ke_{k-j}^\top]$ (e.g. $j = l$, the current and the delayed read) is read off it
(:func:`rule_lag_moments`, :func:`asgd_lag_moments_for`, :func:`sdde_em_lag_moments_for`,
:func:`linear_sdde_em_lag_moments`);
for $j > l$ the ring is widened.

**Start (paper footnote 2).** Without an initial segment, the delay at step $k < l$ is
$\min(l_k, k)$: the probability mass of $q$ above $k$ moves to $k$. This equals supplying the
constant segment $x_{-l} = \dots = x_{-1} = x_0$ (both read $x_0$). With `xi` given, no cap.

**Euler–Maruyama scheme of Eq. (6)** with $m$ substeps of size $\delta/m$
(:func:`em_scheme_moments`): $X_{j+1} = X_j - \frac{\eta}{m}U(t_j)Q(X_{j-m l_k} - x^*) +
\eta U(t_j)\sqrt{1/m}\,\sigma z_j$, the delay $l_k$ drawn once per interval
$[k\delta, (k+1)\delta)$ ($\theta(t) = l_k\delta$). With $m = 1$ and $U(k\delta) = u_k$ it is
Eq. (5), so its exact law is the one above; larger $m$ separates discretisation bias from
sampling error.

**Coupling (a) of SPEC §3** (:func:`em_coupling_moments`): the fine and the coarse schemes on
the same Brownian path and delays form one linear recursion in $(X, \tilde x)$, so
$E\|X(t_k) - \tilde x_k\|^2$ is exact too (additive noise). Under independent noise (coupling (c))
it is $\operatorname{tr}\operatorname{Cov}X + \operatorname{tr}\operatorname{Cov}\tilde x
+ \|EX - E\tilde x\|^2$ from the marginals.

**Divergence.** Nothing raises on overflow (shared contract): an unstable recursion (e.g.
$\eta$ above the delayed-GD threshold) returns moments that grow to `inf`/`nan`; callers test
`np.isfinite`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.delays import NoDelay
from numerics.problems import LeastSquares, Quadratic, TwoPoint
from numerics.schedules import Constant
from numerics.update_rules import ASGDRule, linear_moment_step
from numerics.validation import initial_history
from theory.errors import InputError

__all__ = [
    "CouplingMoments",
    "LagMomentResult",
    "LeastSquaresNoise",
    "MomentInputError",
    "MomentResult",
    "asgd_lag_moments_for",
    "asgd_moments_for",
    "capped_delay_probabilities",
    "constant_delay_probabilities",
    "cyclic_delay_probabilities",
    "em_coupling_moments",
    "em_scheme_moments",
    "least_squares_asgd_moments",
    "linear_sdde_em_lag_moments",
    "linear_sdde_em_moments",
    "minibatch_noise_covariance",
    "quadratic_asgd_moments",
    "rule_lag_moments",
    "rule_moments",
    "sdde_coupling_moments_for",
    "sdde_em_lag_moments_for",
    "sdde_em_moments_for",
    "sgd_warmup_delay_probabilities",
]


class MomentInputError(InputError):
    """Bad input to the exact moment propagation (shapes, probabilities, step sizes)."""


# --------------------------------------------------------------------------------------------
# Results and noise models
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MomentResult:
    r"""Exact moments of the iterates at the recorded steps.

    Attributes:
        steps: iteration indices $k$ recorded, shape `(r,)` (coarse steps for the EM scheme).
        times: $t = k\delta$ for the EM scheme, else `steps` as floats.
        mean: $E[x_k]$, shape `(r, d)`.
        cov: $\operatorname{Cov}(x_k)$, shape `(r, d, d)`.
        x_star: the minimiser $x^*$.
        Q: the Hessian of $F$ (so that $F(x) - F^* = \frac12(x-x^*)^\top Q(x-x^*)$).
        method: `"exact"` (moment recursion; no Monte Carlo, no truncation).
    """

    steps: np.ndarray
    times: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    x_star: np.ndarray
    Q: np.ndarray
    method: str = "exact"

    @property
    def second_moment(self) -> np.ndarray:
        r"""$E[(x_k - x^*)(x_k - x^*)^\top]$, shape `(r, d, d)`."""
        e = self.mean - self.x_star
        return self.cov + e[:, :, None] * e[:, None, :]

    @property
    def mse(self) -> np.ndarray:
        r"""$E\|x_k - x^*\|^2 = \operatorname{tr}\operatorname{Cov} + \|E x_k - x^*\|^2$."""
        return np.trace(self.second_moment, axis1=1, axis2=2)

    @property
    def excess_loss(self) -> np.ndarray:
        r"""$E[F(x_k)] - F^* = \frac12\operatorname{tr}(Q\,E[(x_k-x^*)(x_k-x^*)^\top])$."""
        return 0.5 * np.einsum("ab,rba->r", self.Q, self.second_moment)

    @property
    def variance(self) -> np.ndarray:
        r"""$E\|x_k - E x_k\|^2 = \operatorname{tr}\operatorname{Cov}(x_k)$."""
        return np.trace(self.cov, axis1=1, axis2=2)


@dataclass(frozen=True)
class LagMomentResult:
    r"""Exact lag moments $E[e_ke_{k-j}^\top]$ of a linear recursion, $e = x - x^*$.

    Attributes:
        steps, times: recorded steps $k$ and their times.
        lag: $j$, in steps of the recursion (fine steps for the Euler–Maruyama scheme).
        mean, mean_lagged: $E x_k$ and $E x_{k-j}$, `(r, d)` (before the start: the initial
            segment, constant $x_0$ by default).
        cov: $\operatorname{Cov}x_k$, `(r, d, d)`.
        cross_cov: $\operatorname{Cov}(x_k, x_{k-j})$, `(r, d, d)`.
        x_star, Q: the minimiser and the Hessian.
    """

    steps: np.ndarray
    times: np.ndarray
    lag: int
    mean: np.ndarray
    mean_lagged: np.ndarray
    cov: np.ndarray
    cross_cov: np.ndarray
    x_star: np.ndarray
    Q: np.ndarray

    @property
    def second_moment(self) -> np.ndarray:
        r"""$E[e_ke_k^\top]$, `(r, d, d)`."""
        e = self.mean - self.x_star
        return self.cov + e[:, :, None] * e[:, None, :]

    @property
    def cross_moment(self) -> np.ndarray:
        r"""$E[e_ke_{k-j}^\top]$, `(r, d, d)`."""
        e = self.mean - self.x_star
        el = self.mean_lagged - self.x_star
        return self.cross_cov + e[:, :, None] * el[:, None, :]


def _lag_result(
    res: MomentResult, lag: int, lag_mean_e: np.ndarray, lag_cross_e: np.ndarray
) -> LagMomentResult:
    """Centre the recorded $E e_{k-j}$, $E[e_ke_{k-j}^T]$ (in e = x - x*) into a result."""
    e = res.mean - res.x_star
    cross_cov = lag_cross_e - e[:, :, None] * lag_mean_e[:, None, :]
    return LagMomentResult(
        steps=res.steps,
        times=res.times,
        lag=int(lag),
        mean=res.mean,
        mean_lagged=lag_mean_e + res.x_star,
        cov=res.cov,
        cross_cov=cross_cov,
        x_star=res.x_star,
        Q=res.Q,
    )


@dataclass(frozen=True)
class LeastSquaresNoise:
    r"""Exact minibatch gradient noise of least squares $f_i(x) = \frac12(a_i^\top x - y_i)^2$.

    The noise covariance at the read point $x$ is $\frac{c_b}{b}\Sigma(x)$ with
    $\Sigma(x) = \frac1n\sum_i g_ig_i^\top - \bar g\bar g^\top$, $g_i = a_i(a_i^\top x - y_i)$,
    $c_b = 1$ with replacement and $(n-b)/(n-1)$ without (SPEC §1).

    Arguments:
        A: data matrix, rows $a_i^\top$, shape `(n, d)`.
        y: targets, shape `(n,)` (the paper's $b_i$).
        b: minibatch size, $1 \le b$ ($\le n$ without replacement).
        replacement: sample the minibatch with (default) or without replacement.
    """

    A: np.ndarray
    y: np.ndarray
    b: int
    replacement: bool = True

    def __post_init__(self) -> None:
        A = np.asarray(self.A, dtype=float)
        y = np.asarray(self.y, dtype=float)
        if A.ndim != 2 or y.shape != (A.shape[0],):
            raise MomentInputError(
                "A, y",
                (A.shape, y.shape),
                "need A of shape (n, d) and y of shape (n,)",
                "pass the data matrix with one row per sample and one target per row",
            )
        n = A.shape[0]
        if not (isinstance(self.b, (int, np.integer)) and 1 <= self.b):
            raise MomentInputError("b", self.b, "must be an integer >= 1", "pass 1 <= b")
        if not self.replacement and self.b > n:
            raise MomentInputError(
                "b", self.b, f"exceeds n={n} without replacement", "pass b <= n or replacement"
            )
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "y", y)

    @property
    def factor(self) -> float:
        """$c_b/b$: the minibatch covariance is `factor` times $\\Sigma(x)$."""
        n = self.A.shape[0]
        if self.replacement:
            return 1.0 / self.b
        return 0.0 if n == 1 else (n - self.b) / ((n - 1) * self.b)


def minibatch_noise_covariance(
    noise: LeastSquaresNoise, mean: np.ndarray, second_moment: np.ndarray
) -> np.ndarray:
    r"""$E_x\big[\operatorname{Cov}(g_M(b, x)\mid x)\big] = \frac{c_b}{b}E[\Sigma(x)]$, exactly.

    For random $x$ with $E x = m$ and $E[xx^\top] = M$ (any law):

    $$E\Sigma(x) = \frac1n\sum_i a_ia_i^\top\big(a_i^\top M a_i - 2y_i a_i^\top m + y_i^2\big)
      - \big(\tilde A M\tilde A - \tilde A m h^\top - h m^\top\tilde A + hh^\top\big),$$

    $\tilde A = A^\top A/n$, $h = A^\top y/n$ (so $\bar g = \tilde A x - h$).

    Arguments:
        noise: the least-squares data and sampling mode.
        mean: $m = E[x]$, shape `(d,)`.
        second_moment: $M = E[xx^\top]$ (not centred), shape `(d, d)`.

    Returns:
        The `(d, d)` covariance of the minibatch gradient noise, averaged over $x$.
    """
    A, y = noise.A, noise.y
    n = A.shape[0]
    m = np.asarray(mean, dtype=float)
    M = np.asarray(second_moment, dtype=float)
    quad = np.einsum("ia,ab,ib->i", A, M, A) - 2.0 * y * (A @ m) + y * y
    first = (A.T * quad) @ A / n
    A_tilde = A.T @ A / n
    h = A.T @ y / n
    Am = A_tilde @ m
    second = A_tilde @ M @ A_tilde - np.outer(Am, h) - np.outer(h, Am) + np.outer(h, h)
    out = noise.factor * (first - second)
    return 0.5 * (out + out.T)


# --------------------------------------------------------------------------------------------
# Delay laws
# --------------------------------------------------------------------------------------------


def constant_delay_probabilities(l: int) -> np.ndarray:
    """One-hot law of the constant delay $l_k = l$ on $\\{0..l\\}$."""
    _check_l(l)
    q = np.zeros(l + 1)
    q[l] = 1.0
    return q


def cyclic_delay_probabilities(l: int, K: int) -> np.ndarray:
    """Per-step one-hot laws of the cyclic delay $l_k = k \\bmod (l+1)$, shape `(K, l+1)`."""
    _check_l(l)
    q = np.zeros((K, l + 1))
    q[np.arange(K), np.arange(K) % (l + 1)] = 1.0
    return q


def sgd_warmup_delay_probabilities(l: int, K: int, warmup: int | None = None) -> np.ndarray:
    r"""Per-step laws for "SGD for the first `warmup` steps, then constant delay $l$", `(K, l+1)`.

    The convention of the paper's Section 5 experiment ("we run the SGD during the first ten
    steps and ASGD iterations are used from ten steps on"; `warmup` defaults to $l$). It differs
    from the footnote-2 cap (which reads $x_0$ at steps $k < l$); pass the result as `q`.
    """
    _check_l(l)
    w = l if warmup is None else int(warmup)
    q = np.zeros((K, l + 1))
    ks = np.arange(K)
    q[ks, np.where(ks < w, 0, l)] = 1.0
    return q


def capped_delay_probabilities(q: np.ndarray, k: int) -> np.ndarray:
    r"""Law of $\min(l_k, k)$ (paper footnote 2): the mass of $q$ above $k$ moves to $k$."""
    q = np.asarray(q, dtype=float)
    if k >= q.size - 1:
        return q
    out = q[: k + 1].copy()
    out[k] += q[k + 1 :].sum()
    return np.concatenate([out, np.zeros(q.size - k - 1)])


def _check_l(l: int) -> None:
    if not (isinstance(l, (int, np.integer)) and l >= 0):
        raise MomentInputError("l", l, "must be an integer >= 0", "pass the delay bound l >= 0")


def _check_q(q: object, K: int) -> np.ndarray:
    qa = np.asarray(q, dtype=float)
    if qa.ndim == 1:
        qa = np.broadcast_to(qa, (K, qa.size))
    if qa.ndim != 2 or qa.shape[0] != K or qa.shape[1] < 1:
        raise MomentInputError(
            "q",
            q,
            f"must have shape (l+1,) or (K, l+1) with K={K}",
            "pass one probability vector, or one per step",
        )
    if np.any(qa < 0) or not np.allclose(qa.sum(axis=1), 1.0, rtol=0, atol=1e-12):
        raise MomentInputError(
            "q",
            q,
            "is not a probability vector (entries >= 0 summing to 1)",
            "normalise q, e.g. q / q.sum()",
        )
    return qa


# --------------------------------------------------------------------------------------------
# The ring-buffer engine
# --------------------------------------------------------------------------------------------


class _Ring:
    r"""First and second moments of $(e_k, \dots, e_{k-L})$ in a ring buffer.

    Slot of $e_{k-i}$ is $(k - i) \bmod (L+1)$; a step writes one block row and column.
    """

    def __init__(self, history: np.ndarray) -> None:
        # history: (L+1, d), e_{-L}, ..., e_0 in time order (deterministic start).
        n, _d = history.shape
        self.n = n
        self.k = 0
        self.mean = np.empty_like(history)
        for i in range(n):
            self.mean[(-i) % n] = history[n - 1 - i]
        self.P = np.einsum("sa,tb->stab", self.mean, self.mean).copy()

    def slot(self, i: int) -> int:
        return (self.k - i) % self.n

    def copy(self) -> _Ring:
        other = object.__new__(_Ring)
        other.n, other.k = self.n, self.k
        other.mean, other.P = self.mean.copy(), self.P.copy()
        return other

    def current(self) -> tuple[np.ndarray, np.ndarray]:
        s = self.slot(0)
        return self.mean[s], self.P[s, s]

    def step(
        self,
        h: float,
        noise_scale2: float,
        delays: np.ndarray,
        weights: np.ndarray,
        Q: np.ndarray,
        noise: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    ) -> None:
        """One update with delay `delays[i]` w.p. `weights[i]` (fine-grid units)."""
        cur = self.slot(0)
        new = (self.k + 1) % self.n
        slots = [(self.k - int(j)) % self.n for j in delays]
        mbar = np.zeros(self.mean.shape[1])
        R = np.zeros(self.P.shape[1:])
        Mbar = np.zeros(self.P.shape[2:])
        for w, s in zip(weights, slots):
            mbar += w * self.mean[s]
            R += w * self.P[s]
            Mbar += w * self.P[s, s]
        QR = Q @ R  # (n, d, d): Q E[e_read e_s^T]
        row = self.P[cur] - h * QR
        QR0 = QR[cur]
        diag = self.P[cur, cur] - h * (QR0 + QR0.T) + (h * h) * (Q @ Mbar @ Q.T)
        if noise is not None:
            diag = diag + noise_scale2 * noise(mbar, Mbar)
        diag = 0.5 * (diag + diag.T)
        new_mean = self.mean[cur] - h * (Q @ mbar)
        self.P[new] = row
        self.P[:, new] = row.transpose(0, 2, 1)
        self.P[new, new] = diag
        self.mean[new] = new_mean
        self.k += 1

    def step_combination(
        self,
        combination: tuple[tuple[int, float], ...],
        h: float,
        delays: np.ndarray,
        weights: np.ndarray,
        Q: np.ndarray,
        noise: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
    ) -> None:
        r"""One step of a linear multi-step rule $e_{new} = \sum_i c_i e_{k-i} - hQe_{k-l_k}
        - h\zeta_k$ (`combination` = $((i, c_i), \dots)$, $l_k$ = `delays[t]` w.p.
        `weights[t]`, $\zeta_k$ conditionally centred with covariance `noise(mbar, Mbar)`).

        With $F = \sum_i c_ie_{k-i}$ and $D = e_{k-l_k}$ (independent choice of $l_k$):
        $E[e_{new}e_s^\top] = \sum_i c_iP_{is} - hQ\sum_j q_jP_{js}$ and
        $E[e_{new}e_{new}^\top] = \sum_{i,i'}c_ic_{i'}P_{ii'} - h(X + X^\top)
        + h^2Q\bar MQ^\top + h^2\bar N$, $X = Q\,E[DF^\top] = \sum_ic_i\,Q\sum_jq_jP_{ji}$.
        """
        cur_slots = [((self.k - int(i)) % self.n, float(c)) for i, c in combination]
        new = (self.k + 1) % self.n
        slots = [(self.k - int(j)) % self.n for j in delays]
        mbar = np.zeros(self.mean.shape[1])
        R = np.zeros(self.P.shape[1:])
        Mbar = np.zeros(self.P.shape[2:])
        for w, s in zip(weights, slots):
            mbar += w * self.mean[s]
            R += w * self.P[s]
            Mbar += w * self.P[s, s]
        QR = Q @ R  # (n, d, d): Q E[e_read e_s^T]
        rowF = sum(c * self.P[s] for s, c in cur_slots)
        FF = sum(c1 * c2 * self.P[s1, s2] for s1, c1 in cur_slots for s2, c2 in cur_slots)
        X = sum(c * QR[s] for s, c in cur_slots)
        row = rowF - h * QR
        diag = FF - h * (X + X.T) + (h * h) * (Q @ Mbar @ Q.T)
        if noise is not None:
            diag = diag + (h * h) * noise(mbar, Mbar)
        diag = 0.5 * (diag + diag.T)
        new_mean = sum(c * self.mean[s] for s, c in cur_slots) - h * (Q @ mbar)
        self.P[new] = row
        self.P[:, new] = row.transpose(0, 2, 1)
        self.P[new, new] = diag
        self.mean[new] = new_mean
        self.k += 1

    def step_terms(self, terms: list[tuple[int, np.ndarray]], N: np.ndarray) -> None:
        r"""Deterministic-delay update $e_{new} = e_{cur} - \sum_t C_t e_{k-j_t} + w$, $w\sim(0,N)$.

        `terms` = [(delay $j_t$, matrix $C_t$)]; $w$ independent of the past.
        """
        cur = self.slot(0)
        new = (self.k + 1) % self.n
        slots = [(self.k - int(j)) % self.n for j, _ in terms]
        CR = sum(C @ self.P[s] for (_, C), s in zip(terms, slots))  # (n, D, D)
        row = self.P[cur] - CR
        CR0 = CR[cur]
        quad = sum(
            C1 @ self.P[s1, s2] @ C2.T
            for (_, C1), s1 in zip(terms, slots)
            for (_, C2), s2 in zip(terms, slots)
        )
        diag = self.P[cur, cur] - CR0 - CR0.T + quad + N
        diag = 0.5 * (diag + diag.T)
        new_mean = self.mean[cur] - sum(C @ self.mean[s] for (_, C), s in zip(terms, slots))
        self.P[new] = row
        self.P[:, new] = row.transpose(0, 2, 1)
        self.P[new, new] = diag
        self.mean[new] = new_mean
        self.k += 1


def _noise_callable(
    noise: object, x_star: np.ndarray, d: int, K: int
) -> tuple[Callable[[int], Callable | None], str]:
    """Map the `noise` argument to `step -> (mbar_e, Mbar_e) -> covariance` (in e = x − x*)."""
    if noise is None:
        return (lambda k: None), "none"
    if isinstance(noise, LeastSquaresNoise):
        if noise.A.shape[1] != d:
            raise MomentInputError(
                "noise.A",
                noise.A.shape,
                f"has {noise.A.shape[1]} columns, need d={d}",
                "pass data with d features",
            )

        def ls(mbar: np.ndarray, Mbar: np.ndarray) -> np.ndarray:
            m_x = mbar + x_star
            M_x = Mbar + np.outer(mbar, x_star) + np.outer(x_star, mbar) + np.outer(x_star, x_star)
            return minibatch_noise_covariance(noise, m_x, M_x)

        return (lambda k: ls), "least-squares minibatch"
    S = np.asarray(noise, dtype=float)
    if S.shape == (d, d):
        return (lambda k: lambda m, M: S), "additive"
    if S.shape == (K, d, d):
        return (lambda k: lambda m, M, _S=S[k]: _S), "additive"
    raise MomentInputError(
        "noise",
        getattr(noise, "shape", noise),
        f"must be (d, d), (K, d, d) with d={d}, K={K}, a LeastSquaresNoise, or None",
        "pass the gradient-noise covariance S = sigma sigma^T",
    )


def _check_square(name: str, M: object) -> np.ndarray:
    Ma = np.asarray(M, dtype=float)
    if Ma.ndim != 2 or Ma.shape[0] != Ma.shape[1] or not np.all(np.isfinite(Ma)):
        raise MomentInputError(name, M, "must be a finite square matrix", "pass a (d, d) array")
    return Ma


def _records(record: Iterable[int] | None, K: int) -> np.ndarray:
    if record is None:
        return np.arange(K + 1)
    rec = np.unique(np.asarray(list(record), dtype=int))
    if rec.size and (rec[0] < 0 or rec[-1] > K):
        raise MomentInputError("record", record, f"steps must lie in [0, {K}]", "clip to 0..K")
    return rec


def _schedule(u: object, K: int, name: str = "u") -> np.ndarray:
    ua = np.asarray(u, dtype=float)
    if ua.ndim == 0:
        ua = np.full(K, float(ua))
    if ua.shape != (K,) or not np.all(np.isfinite(ua)):
        raise MomentInputError(name, u, f"must be a scalar or shape ({K},), finite", "pass u_k")
    return ua


@np.errstate(over="ignore", invalid="ignore")
def quadratic_asgd_moments(
    Q: np.ndarray,
    x_star: np.ndarray,
    q: np.ndarray,
    eta: float,
    u: float | np.ndarray,
    K: int,
    *,
    noise: np.ndarray | LeastSquaresNoise | None = None,
    x0: np.ndarray | None = None,
    xi: np.ndarray | None = None,
    record: Iterable[int] | None = None,
    combination: tuple[tuple[int, float], ...] = ((0, 1.0),),
) -> MomentResult:
    r"""Exact $E x_k$, $\operatorname{Cov} x_k$ of ASGD (Eq. 4) / its Gaussian surrogate (Eq. 5).

    $x_{k+1} = x_k - \eta u_k(Q(x_{k-l_k} - x^*) + \zeta_k)$, $l_k \sim q$ independent.

    Arguments:
        Q: Hessian, `(d, d)`.
        x_star: minimiser $x^*$, `(d,)`.
        q: delay law on $\{0..l\}$, `(l+1,)` (i.i.d.) or `(K, l+1)` (one per step; one-hot rows
            for a deterministic sequence such as :func:`cyclic_delay_probabilities`).
        eta: learning rate $\eta$.
        u: schedule $u_k$, scalar or `(K,)` ($u_k$ multiplies the update $k \to k+1$).
        K: number of updates.
        noise: gradient-noise covariance $S$ (`(d, d)` or `(K, d, d)`: Eq. 5 with
            $\sigma\sigma^\top = S$), a :class:`LeastSquaresNoise` (exact minibatch noise; also
            the exact second moments of Eq. 5 with state-dependent $\sigma(x)$, since only the
            conditional covariance enters), or `None` (gradient descent).
        x0: start $x_0$ (default $0$).
        xi: initial segment $x_{-l}, \dots, x_0$ in time order, `(l+1, d)`; if given, no
            footnote-2 cap and `x0` is ignored.
        record: steps $k \in [0, K]$ to return (default all).
        combination: the linear part $((i, c_i), \dots)$ of a multi-step rule
            $x_{k+1} = \sum_i c_ix_{k-i} - \eta u_k g_k$ (default plain ASGD, $((0, 1),)$;
            heavy ball: `numerics.momentum.HeavyBallRule.combination`). Iterates further back
            than $l$ start at the first value of the initial segment.

    Returns:
        :class:`MomentResult` with `mean`, `cov` at the recorded steps.

    Raises:
        MomentInputError: shapes, a $q$ that is not a probability vector, bad schedule.
    """
    return _propagate(Q, x_star, q, eta, u, K, noise, x0, xi, record, combination, lag=None)[0]


@np.errstate(over="ignore", invalid="ignore")
def _propagate(
    Q: np.ndarray,
    x_star: np.ndarray,
    q: np.ndarray,
    eta: float,
    u: float | np.ndarray,
    K: int,
    noise: np.ndarray | LeastSquaresNoise | None,
    x0: np.ndarray | None,
    xi: np.ndarray | None,
    record: Iterable[int] | None,
    combination: tuple[tuple[int, float], ...],
    lag: int | None,
) -> tuple[MomentResult, np.ndarray | None, np.ndarray | None]:
    """The exact recursion; also returns $E e_{k-lag}$ and $E[e_ke_{k-lag}^T]$ if `lag` given."""
    Q = _check_square("Q", Q)
    d = Q.shape[0]
    x_star = np.asarray(x_star, dtype=float).reshape(d)
    if not (isinstance(K, (int, np.integer)) and K >= 0):
        raise MomentInputError("K", K, "must be an integer >= 0", "pass the number of steps")
    qa = _check_q(q, max(K, 1))
    l = qa.shape[1] - 1
    ua = _schedule(u, K)
    comb = _check_combination(combination)
    L = max(l, max(i for i, _ in comb), 0 if lag is None else _check_lag(lag))
    history = _initial_history(x0, xi, x_star, d, l)
    if L > l:  # older iterates than the segment: its first value (constant extension)
        history = np.concatenate([np.repeat(history[:1], L - l, axis=0), history])
    capped = xi is None
    noise_at, _kind = _noise_callable(noise, x_star, d, K)
    rec = _records(record, K)
    ring = _Ring(history)
    means, covs, lag_means, lag_cross = [], [], [], []
    rec_set = iter(rec.tolist())
    nxt = next(rec_set, None)
    for k in range(K + 1):
        if k == nxt:
            m, P = ring.current()
            means.append(m + x_star)
            covs.append(P - np.outer(m, m))
            if lag is not None:
                s0, sl = ring.slot(0), ring.slot(lag)
                lag_means.append(ring.mean[sl].copy())
                lag_cross.append(ring.P[s0, sl].copy())
            nxt = next(rec_set, None)
        if k == K:
            break
        qk = capped_delay_probabilities(qa[k], k) if capped else qa[k]
        js = np.flatnonzero(qk)
        h = eta * ua[k]
        linear_moment_step(comb, ring, h, js, qk[js], Q, noise_at(k))
    res = MomentResult(
        steps=rec,
        times=rec.astype(float),
        mean=np.array(means).reshape(-1, d),
        cov=np.array(covs).reshape(-1, d, d),
        x_star=x_star,
        Q=Q,
    )
    if lag is None:
        return res, None, None
    return res, np.array(lag_means).reshape(-1, d), np.array(lag_cross).reshape(-1, d, d)


def _check_combination(combination: object) -> tuple[tuple[int, float], ...]:
    try:
        comb = tuple((int(i), float(c)) for i, c in combination)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise MomentInputError(
            "combination",
            combination,
            f"is not a sequence of (lag, coefficient): {exc}",
            "pass e.g. ((0, 1.0),)",
        ) from exc
    if not comb or any(i < 0 for i, _ in comb) or abs(sum(c for _, c in comb) - 1.0) > 1e-12:
        raise MomentInputError(
            "combination",
            combination,
            "needs lags >= 0 and coefficients summing to 1 (x* must stay a fixed point)",
            "pass ((0, 1 + beta), (1, -beta)) for heavy ball",
        )
    return comb


def _check_lag(lag: object) -> int:
    if isinstance(lag, bool) or not isinstance(lag, (int, np.integer)) or lag < 0:
        raise MomentInputError("lag", lag, "must be an integer >= 0", "pass the lag in steps")
    return int(lag)


def _initial_history(
    x0: np.ndarray | None, xi: np.ndarray | None, x_star: np.ndarray, d: int, L: int
) -> np.ndarray:
    if xi is not None:
        xa = np.asarray(xi, dtype=float)
        if xa.shape != (L + 1, d):
            raise MomentInputError(
                "xi",
                getattr(xi, "shape", xi),
                f"must have shape (l+1, d) = {(L + 1, d)}",
                "pass x_{-l}, ..., x_0 in time order",
            )
        return xa - x_star
    x0a = np.zeros(d) if x0 is None else np.asarray(x0, dtype=float).reshape(d)
    return np.broadcast_to(x0a - x_star, (L + 1, d)).copy()


def least_squares_asgd_moments(
    A: np.ndarray,
    y: np.ndarray,
    q: np.ndarray,
    eta: float,
    u: float | np.ndarray,
    b: int,
    K: int,
    *,
    replacement: bool = True,
    x0: np.ndarray | None = None,
    xi: np.ndarray | None = None,
    record: Iterable[int] | None = None,
) -> MomentResult:
    r"""Exact moments of minibatch ASGD (Eq. 4) on $F(x) = \frac1{2n}\|Ax - y\|^2$.

    $Q = \tilde A = A^\top A/n$, $x^* = $ the least-squares solution (minimum norm), noise exact
    (:class:`LeastSquaresNoise`). Other arguments as :func:`quadratic_asgd_moments`.
    """
    noise = LeastSquaresNoise(A, y, b, replacement)
    n = noise.A.shape[0]
    A_tilde = noise.A.T @ noise.A / n
    x_star = np.linalg.lstsq(noise.A, noise.y, rcond=None)[0]
    return quadratic_asgd_moments(
        A_tilde, x_star, q, eta, u, K, noise=noise, x0=x0, xi=xi, record=record
    )


@np.errstate(over="ignore", invalid="ignore")
def em_scheme_moments(
    Q: np.ndarray,
    x_star: np.ndarray,
    q: np.ndarray,
    eta: float,
    delta: float,
    U: float | np.ndarray | Callable[[float], float],
    K: int,
    *,
    substeps: int = 1,
    noise: np.ndarray | LeastSquaresNoise | None = None,
    x0: np.ndarray | None = None,
    xi: np.ndarray | Callable[[float], np.ndarray] | None = None,
    record: Iterable[int] | None = None,
    k0: int = 0,
) -> MomentResult:
    r"""Exact moments of the Euler–Maruyama scheme of the SDDE (6) with $m$ substeps per $\delta$.

    $$X_{j+1} = X_j - \frac{\eta}{m}U(t_j)\,Q(X_{j-ml_k} - x^*)
      + \frac{\eta}{\sqrt m}U(t_j)\,\sigma z_j,
      \qquad t_j = j\delta/m,\ j \in [km, (k+1)m),$$

    i.e. drift $-\frac{\eta}{\delta}U\nabla F$ and diffusion $\frac{\eta}{\sqrt\delta}U\sigma$ of
    Eq. (6) over a step $\delta/m$ ($\Delta B \sim N(0, \delta/m)$); $\theta(t) = l_k\delta$ is
    drawn once per $[k\delta, (k+1)\delta)$ and shared by its $m$ substeps.
    The initial segment is $\xi$ on $[-\tau, 0]$, $\tau = l\delta$ (constant $x_0$ by default; the
    SDDE always has one, so there is no footnote-2 cap; with constant $\xi$ it is equivalent).

    Arguments:
        Q, x_star, q, eta, noise, x0: as :func:`quadratic_asgd_moments` ($\sigma\sigma^\top$ =
            `noise`).
        delta: the time step $\delta$ of Eq. (6).
        U: $U(t)$: scalar, callable of $t$, or array of the `K*substeps` fine-grid values.
        K: number of coarse steps ($T = K\delta$).
        substeps: $m \ge 1$.
        xi: callable $\xi(s)$, $s\in[-\tau,0]$, returning `(d,)`, or `(l*m+1, d)` fine-grid values
            in time order.
        record: coarse steps $k \in [0, K]$ to return (at $t = k\delta$), counted from the start.
        k0: first step index: the scheme runs on $[k_0\delta, (k_0+K)\delta]$, so $U$ is evaluated
            at $t_j = (k_0 + j/m)\delta$ (decreasing schedules start at $k_0 = 1$); the result's
            `steps` are $k_0 + k$ and `times` $(k_0 + k)\delta$.

    Cost: one-hot $q$ rows take one ring update per substep; a random $q$ with $m > 1$ takes one
    copy of the ring per delay value per coarse step.
    """
    return _em_propagate(
        Q, x_star, q, eta, delta, U, K, substeps, noise, x0, xi, record, k0, lag=None
    )[0]


@np.errstate(over="ignore", invalid="ignore")
def _em_propagate(
    Q: np.ndarray,
    x_star: np.ndarray,
    q: np.ndarray,
    eta: float,
    delta: float,
    U: float | np.ndarray | Callable[[float], float],
    K: int,
    substeps: int,
    noise: np.ndarray | LeastSquaresNoise | None,
    x0: np.ndarray | None,
    xi: np.ndarray | Callable[[float], np.ndarray] | None,
    record: Iterable[int] | None,
    k0: int,
    lag: int | None,
) -> tuple[MomentResult, np.ndarray | None, np.ndarray | None]:
    """The EM recursion; with `lag` (fine steps) also $E e_{j-lag}$, $E[e_je_{j-lag}^T]$."""
    Q = _check_square("Q", Q)
    d = Q.shape[0]
    x_star = np.asarray(x_star, dtype=float).reshape(d)
    if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
        raise MomentInputError("substeps", substeps, "must be an integer >= 1", "pass m >= 1")
    if not (np.isfinite(delta) and delta > 0):
        raise MomentInputError("delta", delta, "must be > 0", "pass the time step delta > 0")
    m = int(substeps)
    qa = _check_q(q, max(K, 1))
    l = qa.shape[1] - 1
    L = l * m
    t_fine = k0 * delta + np.arange(K * m) * (delta / m)
    if callable(U):
        Ua = np.array([float(U(t)) for t in t_fine])
    else:
        Ua = _schedule(U, K * m, "U") if np.ndim(U) else np.full(K * m, float(U))
    if callable(xi):
        s_grid = -np.arange(L, -1, -1) * (delta / m)
        xi = np.array([np.asarray(xi(s), dtype=float).reshape(d) for s in s_grid])
    history = _initial_history(x0, xi, x_star, d, L)
    if lag is not None and _check_lag(lag) > L:  # older than the segment: its first value
        history = np.concatenate([np.repeat(history[:1], lag - L, axis=0), history])
    noise_at, _kind = _noise_callable(noise, x_star, d, K * m)
    rec = _records(record, K)
    ring = _Ring(history)
    means, covs, lag_means, lag_cross = [], [], [], []
    rec_list = set(rec.tolist())
    for k in range(K + 1):
        if k in rec_list:
            mu, P = ring.current()
            means.append(mu + x_star)
            covs.append(P - np.outer(mu, mu))
            if lag is not None:
                s0, sl = ring.slot(0), ring.slot(lag)
                lag_means.append(ring.mean[sl].copy())
                lag_cross.append(ring.P[s0, sl].copy())
        if k == K:
            break
        js = np.flatnonzero(qa[k])
        ws = qa[k][js]
        if js.size == 1 or m == 1:
            for i in range(m):
                j = k * m + i
                h = eta * Ua[j] / m
                ring.step(h, (eta * Ua[j]) ** 2 / m, js * m, ws, Q, noise_at(j))
        else:
            ring = _mix_block(ring, js, ws, m, k, eta, Ua, Q, noise_at)
    res = MomentResult(
        steps=rec + k0,
        times=(rec + k0) * float(delta),
        mean=np.array(means).reshape(-1, d),
        cov=np.array(covs).reshape(-1, d, d),
        x_star=x_star,
        Q=Q,
    )
    if lag is None:
        return res, None, None
    return res, np.array(lag_means).reshape(-1, d), np.array(lag_cross).reshape(-1, d, d)


def _mix_block(
    ring: _Ring,
    js: np.ndarray,
    ws: np.ndarray,
    m: int,
    k: int,
    eta: float,
    Ua: np.ndarray,
    Q: np.ndarray,
    noise_at: Callable[[int], Callable | None],
) -> _Ring:
    """m substeps sharing one random delay: propagate per delay value, then mix the laws."""
    out: _Ring | None = None
    one = np.ones(1)
    for j_delay, w in zip(js, ws):
        r = ring.copy()
        for i in range(m):
            j = k * m + i
            r.step(
                eta * Ua[j] / m,
                (eta * Ua[j]) ** 2 / m,
                np.array([j_delay * m]),
                one,
                Q,
                noise_at(j),
            )
        if out is None:
            out = r
            out.mean *= w
            out.P *= w
        else:
            out.mean += w * r.mean
            out.P += w * r.P
    assert out is not None
    return out


# --------------------------------------------------------------------------------------------
# Coupling (a) of SPEC §3: fine and coarse Euler–Maruyama on the same Brownian path
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouplingMoments:
    r"""Exact joint moments of the fine solution $X$ and the coarse scheme $\tilde x$ at $k\delta$.

    Attributes:
        steps, times: recorded coarse steps $k$ and times $k\delta$.
        mean_fine, mean_coarse: $E X(t_k)$, $E\tilde x_k$, `(r, d)`.
        cov_fine, cov_coarse: their covariances, `(r, d, d)`.
        cross: $\operatorname{Cov}(X(t_k), \tilde x_k)$, `(r, d, d)`.
        x_star: $x^*$.
    """

    steps: np.ndarray
    times: np.ndarray
    mean_fine: np.ndarray
    mean_coarse: np.ndarray
    cov_fine: np.ndarray
    cov_coarse: np.ndarray
    cross: np.ndarray
    x_star: np.ndarray

    @property
    def diff_mean(self) -> np.ndarray:
        r"""$E[X(t_k) - \tilde x_k]$, `(r, d)`."""
        return self.mean_fine - self.mean_coarse

    @property
    def diff_cov(self) -> np.ndarray:
        r"""$\operatorname{Cov}(X(t_k) - \tilde x_k)$, `(r, d, d)`."""
        return self.cov_fine + self.cov_coarse - self.cross - np.swapaxes(self.cross, 1, 2)

    @property
    def diff_mse(self) -> np.ndarray:
        r"""$E\|X(t_k) - \tilde x_k\|^2$ (exact; an upper bound of $(E\|X - \tilde x\|)^2$)."""
        tr = np.trace(self.cov_fine + self.cov_coarse - 2 * self.cross, axis1=1, axis2=2)
        dm = self.mean_fine - self.mean_coarse
        return tr + np.sum(dm * dm, axis=1)


@np.errstate(over="ignore", invalid="ignore")
def em_coupling_moments(
    Q: np.ndarray,
    x_star: np.ndarray,
    q: np.ndarray,
    eta: float,
    delta: float,
    U: float | np.ndarray | Callable[[float], float],
    K: int,
    *,
    substeps: int,
    noise: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    xi: np.ndarray | Callable[[float], np.ndarray] | None = None,
    record: Iterable[int] | None = None,
    k0: int = 0,
) -> CouplingMoments:
    r"""Exact joint moments of the coarse EM scheme and the $m$-substep EM of Eq. (6), coupled.

    Coupling (a) of SPEC §3, as `numerics.sdde` simulates it: the same delays $l_k$ and the same
    Brownian path, the coarse increment being the sum of the $m$ fine ones. The coarse scheme is
    embedded in the fine grid: over $[k\delta, (k+1)\delta)$ it moves by
    $-\frac{\eta}{m}U(k\delta)Q(\tilde x_{k-l_k} - x^*)
    + \frac{\eta}{\sqrt\delta}U(k\delta)\sigma\Delta B_j$
    per substep, so $z = (X, \tilde x)$ is one linear recursion on the fine grid with
    the two components reading at fine delays $ml_k$ and $i + ml_k$ ($i$ = substep), and
    perfectly correlated noise. Random delays: the $m$ substeps of an interval are propagated per
    value of $l_k$ and the laws mixed. Additive noise only (`noise` = $\sigma\sigma^\top$):
    with state-dependent $\sigma$ the cross term $E[\sigma(X)\sigma(\tilde x)^\top]$ is not a
    function of the moments.

    Arguments: as :func:`em_scheme_moments` (`substeps` $= m \ge 1$; $m = 1$ gives $X = \tilde x$).

    Returns:
        :class:`CouplingMoments` with `diff_mse` $= E\|X(t_k) - \tilde x_k\|^2$.
    """
    Q = _check_square("Q", Q)
    d = Q.shape[0]
    x_star = np.asarray(x_star, dtype=float).reshape(d)
    if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
        raise MomentInputError("substeps", substeps, "must be an integer >= 1", "pass m >= 1")
    if not (np.isfinite(delta) and delta > 0):
        raise MomentInputError("delta", delta, "must be > 0", "pass the time step delta > 0")
    if isinstance(noise, LeastSquaresNoise):
        raise MomentInputError(
            "noise",
            "LeastSquaresNoise",
            "state-dependent sigma has no exact coupled moments",
            "pass the constant covariance sigma sigma^T (e.g. Sigma(x*)/b)",
        )
    S = np.zeros((d, d)) if noise is None else np.asarray(noise, dtype=float)
    if S.shape != (d, d):
        raise MomentInputError("noise", S.shape, f"must be ({d}, {d})", "pass sigma sigma^T")
    m = int(substeps)
    qa = _check_q(q, max(K, 1))
    l = qa.shape[1] - 1
    L = l * m + m - 1
    t_fine = k0 * delta + np.arange(K * m) * (delta / m)
    if callable(U):
        Uf = np.array([float(U(t)) for t in t_fine])
    else:
        Uf = _schedule(U, K * m, "U") if np.ndim(U) else np.full(K * m, float(U))
    if callable(xi):
        s_grid = -np.arange(l * m, -1, -1) * (delta / m)
        xi = np.array([np.asarray(xi(s), dtype=float).reshape(d) for s in s_grid])
    if xi is not None:
        xa = np.asarray(xi, dtype=float)
        if xa.shape != (l * m + 1, d):
            raise MomentInputError(
                "xi", xa.shape, f"must be ({l * m + 1}, {d})", "fine-grid values"
            )
        xi = np.concatenate([np.repeat(xa[:1], m - 1, axis=0), xa])  # never read: pad
    hist = _initial_history(x0, xi, x_star, d, L)
    ring = _Ring(np.concatenate([hist, hist], axis=1))
    Z = np.zeros((d, d))
    rec = _records(record, K)
    rec_set = set(rec.tolist())
    out: dict[str, list] = {"mf": [], "mc": [], "cf": [], "cc": [], "x": []}

    def block(k: int, lk: int, r: _Ring) -> None:
        Uc = Uf[k * m]
        for i in range(m):
            j = k * m + i
            Cf = np.block([[eta / m * Uf[j] * Q, Z], [Z, Z]])
            Cc = np.block([[Z, Z], [Z, eta / m * Uc * Q]])
            u2 = np.array([[Uf[j] ** 2, Uf[j] * Uc], [Uf[j] * Uc, Uc**2]])
            r.step_terms([(lk * m, Cf), (i + lk * m, Cc)], eta**2 / m * np.kron(u2, S))

    for k in range(K + 1):
        if k in rec_set:
            mu, P = ring.current()
            C = P - np.outer(mu, mu)
            out["mf"].append(mu[:d] + x_star)
            out["mc"].append(mu[d:] + x_star)
            out["cf"].append(C[:d, :d])
            out["cc"].append(C[d:, d:])
            out["x"].append(C[:d, d:])
        if k == K:
            break
        js = np.flatnonzero(qa[k])
        if js.size == 1:
            block(k, int(js[0]), ring)
            continue
        mixed: _Ring | None = None
        for lk, w in zip(js, qa[k][js]):
            r = ring.copy()
            block(k, int(lk), r)
            if mixed is None:
                mixed, mixed.mean, mixed.P = r, w * r.mean, w * r.P
            else:
                mixed.mean += w * r.mean
                mixed.P += w * r.P
        ring = mixed
    return CouplingMoments(
        steps=rec + k0,
        times=(rec + k0) * float(delta),
        mean_fine=np.array(out["mf"]).reshape(-1, d),
        mean_coarse=np.array(out["mc"]).reshape(-1, d),
        cov_fine=np.array(out["cf"]).reshape(-1, d, d),
        cov_coarse=np.array(out["cc"]).reshape(-1, d, d),
        cross=np.array(out["x"]).reshape(-1, d, d),
        x_star=x_star,
    )


# --------------------------------------------------------------------------------------------
# Adapters for the simulators' objects (numerics.problems / delays / schedules)
# --------------------------------------------------------------------------------------------


def _problem_quadratic(problem: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(problem, LeastSquares):
        return problem.A_tilde, np.asarray(problem.x_star, dtype=float)
    if isinstance(problem, (Quadratic, TwoPoint)):
        return problem.hessian(problem.x_star), np.asarray(problem.x_star, dtype=float)
    raise MomentInputError(
        "problem",
        problem,
        "exact moments need a quadratic loss (LeastSquares, Quadratic, TwoPoint)",
        "use the Monte Carlo simulators for other losses",
    )


def _problem_noise(
    problem: Any, noise: str, sigma_at: str, b: int, replace: bool
) -> np.ndarray | LeastSquaresNoise | None:
    """The gradient-noise model of `simulate_asgd(noise=..., sigma_at=...)` for a quadratic."""
    if noise == "none":
        return None
    if isinstance(problem, LeastSquares):
        if noise == "minibatch":
            return LeastSquaresNoise(problem.A, problem.y, b, replace)
        if sigma_at == "state":  # sigma(x) sigma(x)^T = Sigma(x)/b
            return LeastSquaresNoise(problem.A, problem.y, b, True)
        return problem.Sigma(problem.x_star) / b
    S = np.atleast_2d(problem.Sigma(problem.x_star))  # state-independent for these problems
    if noise == "minibatch" and isinstance(problem, TwoPoint) and not replace:
        n = problem.n
        return S * (n - b) / ((n - 1) * b)
    return S / b


def asgd_moments_for(
    problem: Any,
    *,
    eta: float,
    K: int,
    delay: Any = None,
    schedule: Any = None,
    b: int = 1,
    replace: bool = True,
    noise: str = "minibatch",
    sigma_at: str = "x_star",
    x0: np.ndarray | None = None,
    xi: Any = None,
    delta: float | None = None,
    record: Iterable[int] | None = None,
) -> MomentResult:
    r"""Exact moments of what `numerics.asgd.simulate_asgd` simulates, same arguments.

    Quadratic problems only (`LeastSquares`, `Quadratic`, `TwoPoint`). Iterates
    $x_{k_0}, \dots, x_{k_0+K}$ with $k_0$ = `schedule.k0`; `record` counts from 0 (like the
    simulator's steps minus $k_0$); the result's `steps` are $k_0 + k$, `times` $(k_0+k)\delta$
    ($\delta$ = `eta` by default). `noise="gaussian"` with `sigma_at="x_star"` is additive
    $\Sigma(x^*)/b$; `"state"` is $\Sigma(x)/b$ (exact second moments); `"minibatch"` is exact.
    """
    rule = ASGDRule(
        eta,
        delay=delay,
        schedule=schedule,
        b=b,
        replace=replace,
        noise=noise,
        sigma_at=sigma_at,
    )
    return rule_moments(problem, rule, K=K, x0=x0, xi=xi, delta=delta, record=record)


def rule_moments(
    problem: Any,
    rule: ASGDRule,
    *,
    K: int,
    x0: np.ndarray | None = None,
    xi: Any = None,
    delta: float | None = None,
    record: Iterable[int] | None = None,
) -> MomentResult:
    r"""Exact moments of what `numerics.asgd.simulate_rule(problem, rule, ...)` simulates.

    The delay law, the schedule $u_k$, the noise model and the step (`rule.moment_step`) all
    come from the one rule object; quadratic problems only. Conventions as
    :func:`asgd_moments_for` (which is this function with a plain :class:`ASGDRule`).
    """
    return _rule_propagate(problem, rule, K, x0, xi, delta, record, None)[0]


def _rule_propagate(
    problem: Any,
    rule: ASGDRule,
    K: int,
    x0: np.ndarray | None,
    xi: Any,
    delta: float | None,
    record: Iterable[int] | None,
    lag: int | None,
) -> tuple[MomentResult, np.ndarray | None, np.ndarray | None]:
    if not isinstance(rule, ASGDRule):
        raise MomentInputError(
            "rule", rule, "must be a numerics.update_rules.ASGDRule", "use ASGDRule(eta, ...)"
        )
    Q, x_star = _problem_quadratic(problem)
    delay, schedule, eta = rule.delay, rule.schedule, rule.eta
    k0 = int(schedule.k0)
    ks = k0 + np.arange(K)
    q = np.array([delay.probabilities(int(k)) for k in ks]).reshape(K, delay.l + 1)
    u = np.asarray(schedule.u(ks), dtype=float) if K else np.zeros(0)
    hist = initial_history(xi, delay.l, problem.d, scale=1, step=eta if delta is None else delta)
    model = _problem_noise(problem, rule.noise, rule.sigma_at, rule.b, rule.replace)
    res, lag_mean, lag_cross = _propagate(
        Q,
        x_star,
        q if K else np.ones((1, delay.l + 1)) / (delay.l + 1),
        eta,
        u,
        K,
        model,
        x0,
        hist,
        record,
        rule.combination,
        lag,
    )
    step = float(eta if delta is None else delta)
    out = MomentResult(
        steps=res.steps + k0,
        times=(res.steps + k0) * step,
        mean=res.mean,
        cov=res.cov,
        x_star=res.x_star,
        Q=res.Q,
    )
    return out, lag_mean, lag_cross


def sdde_em_moments_for(
    problem: Any,
    *,
    eta: float,
    delta: float | None = None,
    K: int,
    delay: Any = None,
    schedule: Any = None,
    b: int = 1,
    sigma_at: str = "x_star",
    noise: bool = True,
    substeps: int = 1,
    x0: np.ndarray | None = None,
    xi: Any = None,
    record: Iterable[int] | None = None,
) -> MomentResult:
    r"""Exact moments of the Euler–Maruyama scheme of Eq. (6), as `simulate_sdde` runs it.

    `substeps = 1` is the coarse scheme $\tilde x_k$ (= Eq. 5); `substeps = m` is the fine
    solution `X_fine` (step $\delta/m$). $U(t)$ = `schedule.U(t, delta)` at the fine times,
    $\sigma\sigma^\top = \Sigma(x^*)/b$ or $\Sigma(x)/b$ (`sigma_at="state"`).
    """
    Q, x_star = _problem_quadratic(problem)
    delta = float(eta if delta is None else delta)
    delay = NoDelay() if delay is None else delay
    schedule = Constant() if schedule is None else schedule
    k0 = int(schedule.k0)
    q = np.array([delay.probabilities(int(k)) for k in k0 + np.arange(max(K, 1))])
    hist = initial_history(xi, delay.l, problem.d, scale=substeps, step=delta)
    model = _problem_noise(problem, "gaussian" if noise else "none", sigma_at, b, True)
    return em_scheme_moments(
        Q,
        x_star,
        q,
        eta,
        delta,
        lambda t: float(schedule.U(t, delta)),
        K,
        substeps=substeps,
        noise=model,
        x0=x0,
        xi=hist,
        record=record,
        k0=k0,
    )


def sdde_coupling_moments_for(
    problem: Any,
    *,
    eta: float,
    delta: float | None = None,
    K: int,
    substeps: int,
    delay: Any = None,
    schedule: Any = None,
    b: int = 1,
    x0: np.ndarray | None = None,
    xi: Any = None,
    record: Iterable[int] | None = None,
) -> CouplingMoments:
    r"""Exact joint moments of `simulate_sdde(..., substeps=m)`'s `X_fine` and coarse `x_final`.

    Same arguments as `numerics.sdde.simulate_sdde` with `sigma_at="x_star"` (constant
    $\sigma\sigma^\top = \Sigma(x^*)/b$; the only case with exact coupled moments).
    """
    Q, x_star = _problem_quadratic(problem)
    delta = float(eta if delta is None else delta)
    delay = NoDelay() if delay is None else delay
    schedule = Constant() if schedule is None else schedule
    k0 = int(schedule.k0)
    q = np.array([delay.probabilities(int(k)) for k in k0 + np.arange(max(K, 1))])
    hist = initial_history(xi, delay.l, problem.d, scale=substeps, step=delta)
    S = np.atleast_2d(problem.Sigma(problem.x_star)) / b
    return em_coupling_moments(
        Q,
        x_star,
        q,
        eta,
        delta,
        lambda t: float(schedule.U(t, delta)),
        K,
        substeps=substeps,
        noise=S,
        x0=x0,
        xi=hist,
        record=record,
        k0=k0,
    )


def linear_sdde_em_moments(
    A: np.ndarray | float,
    G: np.ndarray | float,
    *,
    tau: float,
    delta: float,
    K: int,
    substeps: int = 1,
    x_star: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    xi: Any = None,
    record: Iterable[int] | None = None,
) -> MomentResult:
    r"""Exact moments of Euler–Maruyama for $dX = -A(X(t-\tau) - x^*)dt + G\,dB$, $\tau = l\delta$.

    The scheme of `numerics.sdde.simulate_linear_sdde` (coarse: `substeps=1`; fine solution:
    `substeps=m`, step $\delta/m$): $X_{j+1} = X_j - hA(X_{j-lm} - x^*) + G\,\Delta B_j$,
    $h = \delta/m$. Written as :func:`em_scheme_moments` with $\eta = \delta$, $U = 1$,
    $\sigma\sigma^\top = GG^\top/\delta$. Default start: constant $x_0 = x^*$ (or 0).
    """
    A = np.atleast_2d(np.asarray(A, dtype=float))
    d = A.shape[0]
    Ga = np.atleast_2d(np.asarray(G, dtype=float))
    if Ga.shape[0] != d:
        raise MomentInputError("G", Ga.shape, f"must have d={d} rows", "pass G of shape (d, r)")
    if not (np.isfinite(delta) and delta > 0):
        raise MomentInputError("delta", delta, "must be > 0", "pass the time step delta > 0")
    l = round(tau / delta)
    if tau < 0 or abs(l * delta - tau) > 1e-9 * max(tau, delta):
        raise MomentInputError(
            "tau", tau, f"must be l * delta (delta={delta})", "pick delta = tau/l"
        )
    xs = np.zeros(d) if x_star is None else np.asarray(x_star, dtype=float).reshape(d)
    x0a = xs if x0 is None else x0
    hist = initial_history(xi, l, d, scale=substeps, step=delta)
    q = constant_delay_probabilities(l)
    return em_scheme_moments(
        A,
        xs,
        q,
        delta,
        delta,
        1.0,
        K,
        substeps=substeps,
        noise=Ga @ Ga.T / delta,
        x0=x0a,
        xi=hist,
        record=record,
    )


def rule_lag_moments(
    problem: Any,
    rule: ASGDRule,
    *,
    K: int,
    lag: int,
    x0: np.ndarray | None = None,
    xi: Any = None,
    delta: float | None = None,
    record: Iterable[int] | None = None,
) -> LagMomentResult:
    r"""Exact $E[e_ke_{k-j}^\top]$ and $E[e_ke_k^\top]$ of an update rule on a quadratic.

    The stacked state $(e_k, \dots, e_{k-L})$ of the companion recursion carries every block
    $E[e_ke_{k-i}^\top]$; the ring is widened to $L \ge j$ when the lag exceeds the delay bound.
    For $k < j$ the lagged iterate is the initial segment (constant $x_0$ without `xi`).
    Arguments as :func:`rule_moments`; `lag` $= j \ge 0$ in steps.
    """
    res, lm, lc = _rule_propagate(problem, rule, K, x0, xi, delta, record, _check_lag(lag))
    return _lag_result(res, lag, lm, lc)


def asgd_lag_moments_for(
    problem: Any,
    *,
    lag: int,
    eta: float,
    K: int,
    delay: Any = None,
    schedule: Any = None,
    b: int = 1,
    replace: bool = True,
    noise: str = "minibatch",
    sigma_at: str = "x_star",
    x0: np.ndarray | None = None,
    xi: Any = None,
    delta: float | None = None,
    record: Iterable[int] | None = None,
) -> LagMomentResult:
    r"""$E[e_ke_{k-j}^\top]$ of what `simulate_asgd` simulates (same arguments as
    :func:`asgd_moments_for`, plus `lag` $= j$). With a constant delay $l$ and `lag=l`, this is
    the cross-moment of the current and the delayed read of Eq. (4)."""
    rule = ASGDRule(
        eta,
        delay=delay,
        schedule=schedule,
        b=b,
        replace=replace,
        noise=noise,
        sigma_at=sigma_at,
    )
    return rule_lag_moments(problem, rule, K=K, lag=lag, x0=x0, xi=xi, delta=delta, record=record)


def linear_sdde_em_lag_moments(
    A: np.ndarray | float,
    G: np.ndarray | float,
    *,
    tau: float,
    delta: float,
    K: int,
    substeps: int = 1,
    lag: float | None = None,
    x_star: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    xi: Any = None,
    record: Iterable[int] | None = None,
) -> LagMomentResult:
    r"""Exact $E[e(t_k)e(t_k - s)^\top]$ of the Euler–Maruyama scheme of
    $dX = -A(X(t-\tau) - x^*)dt + G\,dB$ (as :func:`linear_sdde_em_moments`; step
    $h = \delta/m$), $s$ = `lag` in *time* (default $\tau$), a multiple of $h$.

    The lag in the result is in fine steps, $sm/\delta$. As $m \to \infty$ the moments
    converge to :func:`numerics.linear_sdde.linear_sdde_lag_moments` (weak order 1 for this
    additive-noise linear equation).

    Raises:
        MomentInputError: `tau` or `lag` not a multiple of the step.
    """
    A = np.atleast_2d(np.asarray(A, dtype=float))
    d = A.shape[0]
    Ga = np.atleast_2d(np.asarray(G, dtype=float))
    if Ga.shape[0] != d:
        raise MomentInputError("G", Ga.shape, f"must have d={d} rows", "pass G of shape (d, r)")
    if not (np.isfinite(delta) and delta > 0):
        raise MomentInputError("delta", delta, "must be > 0", "pass the time step delta > 0")
    if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
        raise MomentInputError("substeps", substeps, "must be an integer >= 1", "pass m >= 1")
    l = round(tau / delta)
    if tau < 0 or abs(l * delta - tau) > 1e-9 * max(tau, delta):
        raise MomentInputError(
            "tau", tau, f"must be l * delta (delta={delta})", "pick delta = tau/l"
        )
    s = float(tau if lag is None else lag)
    h = delta / substeps
    j = round(s / h)
    if not np.isfinite(s) or s < 0 or abs(j * h - s) > 1e-9 * max(s, h):
        raise MomentInputError(
            "lag", lag, f"must be a non-negative multiple of the step {h}", "pick lag = j h"
        )
    xs = np.zeros(d) if x_star is None else np.asarray(x_star, dtype=float).reshape(d)
    x0a = xs if x0 is None else x0
    hist = initial_history(xi, l, d, scale=substeps, step=delta)
    res, lm, lc = _em_propagate(
        A,
        xs,
        constant_delay_probabilities(l),
        delta,
        delta,
        1.0,
        K,
        substeps,
        Ga @ Ga.T / delta,
        x0a,
        hist,
        record,
        0,
        lag=j,
    )
    return _lag_result(res, j, lm, lc)


def sdde_em_lag_moments_for(
    problem: Any,
    *,
    eta: float,
    K: int,
    delta: float | None = None,
    lag: float | None = None,
    delay: Any = None,
    schedule: Any = None,
    b: int = 1,
    sigma_at: str = "x_star",
    noise: bool = True,
    substeps: int = 1,
    x0: np.ndarray | None = None,
    xi: Any = None,
    record: Iterable[int] | None = None,
) -> LagMomentResult:
    r"""$E[e(t_k)e(t_k - s)^\top]$ of the Euler–Maruyama scheme of Eq. (6) as `simulate_sdde`
    runs it (arguments as :func:`sdde_em_moments_for`), $s$ = `lag` in *time* (default
    $\tau = l\delta$), a multiple of the step $\delta/m$; the result's `lag` is in fine steps.
    Before the start the lagged value is the initial segment (constant $x_0$ by default).

    Raises:
        MomentInputError: `lag` not a non-negative multiple of $\delta/m$.
    """
    Q, x_star = _problem_quadratic(problem)
    delta = float(eta if delta is None else delta)
    delay = NoDelay() if delay is None else delay
    schedule = Constant() if schedule is None else schedule
    if not (isinstance(substeps, (int, np.integer)) and substeps >= 1):
        raise MomentInputError("substeps", substeps, "must be an integer >= 1", "pass m >= 1")
    h = delta / substeps
    s = float(delay.l * delta if lag is None else lag)
    j = round(s / h) if np.isfinite(s) else -1
    if not np.isfinite(s) or s < 0 or abs(j * h - s) > 1e-9 * max(s, h):
        raise MomentInputError(
            "lag", lag, f"must be a non-negative multiple of the step {h}", "pick lag = j h"
        )
    k0 = int(schedule.k0)
    q = np.array([delay.probabilities(int(k)) for k in k0 + np.arange(max(K, 1))])
    hist = initial_history(xi, delay.l, problem.d, scale=substeps, step=delta)
    model = _problem_noise(problem, "gaussian" if noise else "none", sigma_at, b, True)
    res, lm, lc = _em_propagate(
        Q,
        x_star,
        q,
        eta,
        delta,
        lambda t: float(schedule.U(t, delta)),
        K,
        substeps,
        model,
        x0,
        hist,
        record,
        k0,
        lag=j,
    )
    return _lag_result(res, j, lm, lc)
