r"""Exact mean and covariance of the linear SDDE of moment estimation (paper Eq. 7, Theorem 4.1).

Glossary: `A_tilde` $\tilde A$ (symmetric PSD) · `tau` $\tau$ · `G` diffusion matrix ·
`x_star` $x^*$ · `xi` initial segment $\xi$ on $[-\tau, 0]$ (constant) · `Gamma` $\Gamma$
fundamental solution (imported from :mod:`theory.fundamental`, never re-implemented here) ·
`l` delay in steps.

The process: $dX = -\tilde A\,(X(t-\tau) - x^*)\,dt + G\,dB$, $X = \xi$ on $[-\tau, 0]$. For Eq. (7)
with constant $\sigma$ take $G = \sqrt\eta\,\sigma$ (SPEC §1: $GG^\top = \eta\Sigma(x^*)/b$).

**Mean.** $y = E X - x^*$ solves $y'(t) = -\tilde A y(t-\tau)$. For a general segment,
$y(t) = \Gamma(t)\tilde\xi(0) - \tilde A\int_{-\tau}^0\Gamma(t-\tau-s)\tilde\xi(s)\,ds$; for a
constant $\tilde\xi = \xi - x^*$ this collapses (using
$\Gamma(t) = I - \tilde A\int_0^{t-\tau}\Gamma$) to

$$E X(t) = x^* + \Gamma(t+\tau)\,\tilde\xi .$$

**Covariance** (variation of constants):
$\operatorname{Cov}X(t) = \int_0^t\Gamma(u)GG^\top\Gamma(u)^\top du$; scalar:
$\operatorname{Var}X(t) = s^2\int_0^t\Gamma(u)^2du$ (SPEC §4). $\Gamma$ is a polynomial of
degree $k$ on $[k\tau,(k+1)\tau]$, so the integral is computed *exactly* from the local Taylor
coefficients of :func:`theory.fundamental.gamma_pieces` (float: error about
$10^{-16}e^{2\rho\tau}\max\|\Gamma\|^2 t$; or `exact=True`: mpmath, ≈ `mp.dps` digits, slower).

**References.** Küchler–Mensch (1992) stationary variance of $dX = -aX(t-\tau)dt + s\,dW$:
$s^2(1+\sin a\tau)/(2a\cos a\tau)$ for $0 < a\tau < \pi/2$; delayed gradient descent
$x_{k+1} = x_k - \eta a x_{k-l}$ is stable iff $\eta a < 2\sin(\pi/(2(2l+1)))$ (SPEC §4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
import numpy as np

from theory.errors import InputError
from theory.fundamental import (
    gamma_covariance_integral,
    gamma_grid,
    gamma_pieces,
    gamma_scalar_grid,
)

__all__ = [
    "LinearSDDEInputError",
    "LinearSDDELagMoments",
    "LinearSDDEMoments",
    "delayed_gd_stability_threshold",
    "kuchler_mensch_autocovariance",
    "kuchler_mensch_variance",
    "linear_sdde_covariance",
    "linear_sdde_lag_covariance",
    "linear_sdde_lag_moments",
    "linear_sdde_mean",
    "linear_sdde_moments",
]


class LinearSDDEInputError(InputError):
    """Bad input to the linear-SDDE moment functions (A_tilde, G, tau, t, a tau range)."""


@dataclass(frozen=True)
class LinearSDDEMoments:
    r"""Exact moments of the linear SDDE at times `t`.

    Attributes:
        t: times, `(r,)`.
        mean: $E X(t)$, `(r, d)`.
        cov: $\operatorname{Cov}X(t)$, `(r, d, d)`.
        x_star: $x^*$.
    """

    t: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    x_star: np.ndarray

    @property
    def mse(self) -> np.ndarray:
        r"""$E\|X(t) - x^*\|^2 = \operatorname{tr}\operatorname{Cov} + \|EX(t) - x^*\|^2$.

        The decomposition used in the proof of Theorem 4.1.
        """
        e = self.mean - self.x_star
        return np.trace(self.cov, axis1=1, axis2=2) + np.sum(e * e, axis=1)

    @property
    def variance(self) -> np.ndarray:
        r"""$E\|X(t) - EX(t)\|^2$."""
        return np.trace(self.cov, axis1=1, axis2=2)


def _matrix(A_tilde: object) -> np.ndarray:
    A = np.atleast_2d(np.asarray(A_tilde, dtype=float))
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
        raise LinearSDDEInputError(
            "A_tilde", A_tilde, "must be a finite square matrix", "pass a (d, d) array or a scalar"
        )
    if not np.allclose(A, A.T, rtol=1e-13, atol=0):
        raise LinearSDDEInputError(
            "A_tilde",
            A_tilde,
            "must be symmetric",
            "pass (A + A.T)/2 (A_tilde = A^T A / n is symmetric)",
        )
    return 0.5 * (A + A.T)


def _check_tau(tau: float) -> float:
    if not (np.isfinite(tau) and tau > 0):
        raise LinearSDDEInputError(
            "tau",
            tau,
            "must be finite and > 0",
            "pass tau > 0 (tau = 0 is the OU process of Section 4)",
        )
    return float(tau)


def _times(t: object) -> np.ndarray:
    ta = np.atleast_1d(np.asarray(t, dtype=float))
    if ta.ndim != 1 or not np.all(np.isfinite(ta)) or np.any(ta < 0):
        raise LinearSDDEInputError("t", t, "must be finite times >= 0", "pass t >= 0")
    return ta


def linear_sdde_mean(
    A_tilde: np.ndarray | float,
    tau: float,
    t: np.ndarray | float,
    *,
    x_star: np.ndarray | None = None,
    xi: np.ndarray | float | None = None,
) -> np.ndarray:
    r"""$E X(t) = x^* + \Gamma(t+\tau)(\xi - x^*)$ for a constant initial segment $\xi$.

    Arguments:
        A_tilde: $\tilde A$, `(d, d)` symmetric, or a scalar $a$.
        tau: delay $\tau > 0$.
        t: times $\ge 0$.
        x_star: $x^*$ (default $0$).
        xi: the constant segment value (default $x^*$, i.e. mean $\equiv x^*$).

    Returns:
        `(len(t), d)` array. Float error about
        $10^{-16}e^{\rho(\tilde A)\tau}\max\|\Gamma\|\,\|\tilde\xi\|$.
    """
    A = _matrix(A_tilde)
    d = A.shape[0]
    tau = _check_tau(tau)
    ta = _times(t)
    xs = np.zeros(d) if x_star is None else np.asarray(x_star, dtype=float).reshape(d)
    xi_a = xs if xi is None else np.asarray(xi, dtype=float)
    if xi_a.size not in (1, d) or not np.all(np.isfinite(xi_a)):
        raise LinearSDDEInputError(
            "xi",
            xi,
            f"must be one constant value of {d} finite entries (constant segment)",
            "pass the constant initial value; non-constant segments are not supported here",
        )
    xi_a = np.broadcast_to(xi_a.reshape(-1), (d,))
    G = gamma_grid(A, tau, ta + tau)  # (r, d, d)
    return xs + G @ (xi_a - xs)


def _pair_integrals(lams: np.ndarray, tau: float, ta: np.ndarray) -> np.ndarray:
    r"""$I_{ij}(t) = \int_0^t\Gamma_{\lambda_i}\Gamma_{\lambda_j}$, exact piecewise-polynomial.


    On piece $k$, $\Gamma_\lambda(k\tau + \tau\sigma) = \sum_m \tilde c_{k,m}\sigma^m$ with
    $\tilde c_{k,m} = c_{k,m}\tau^m$, and $\int_0^{f\tau}\Gamma_i\Gamma_j =
    \tau\sum_{m,n}\tilde c^i_{k,m}\tilde c^j_{k,n} f^{m+n+1}/(m+n+1)$.
    """
    d = lams.size
    K = math.floor(float(ta.max(initial=0.0)) / tau) + 1
    scale = tau ** np.arange(K)
    tabs = np.stack(
        [gamma_pieces(float(lam), tau, K, dps=20).as_float_table().real * scale for lam in lams]
    )  # (d, K, K)
    mn = np.arange(K)[:, None] + np.arange(K)[None, :] + 1.0
    T = tabs.transpose(1, 0, 2)  # (K, d, K): piece, eigenvalue, power
    full = (T @ (1.0 / mn)) @ T.transpose(0, 2, 1) * tau  # (K, d, d) per full piece
    cum = np.concatenate([np.zeros((1, d, d)), np.cumsum(full, axis=0)])  # (K+1, d, d)
    out = np.empty((ta.size, d, d))
    for r, t in enumerate(ta):
        k = min(math.floor(t / tau), K - 1)
        f = t / tau - k
        H = f**mn / mn
        part = T[k] @ H @ T[k].T * tau
        out[r] = cum[k] + part
    return out


def linear_sdde_covariance(
    A_tilde: np.ndarray | float,
    G: np.ndarray | float,
    tau: float,
    t: np.ndarray | float,
    *,
    exact: bool = False,
) -> np.ndarray:
    r"""$\operatorname{Cov}X(t) = \int_0^t\Gamma(u)GG^\top\Gamma(u)^\top du$, `(len(t), d, d)`.

    In the eigenbasis $\tilde A = P\Lambda P^\top$, $\hat S = P^\top GG^\top P$:
    $\operatorname{Cov} = P[\hat S_{ij}\int_0^t\Gamma_{\lambda_i}\Gamma_{\lambda_j}]P^\top$.

    Arguments:
        A_tilde: $\tilde A$ symmetric `(d, d)` or scalar $a$.
        G: diffusion `(d, r)` or scalar $s$ (then $GG^\top = s^2 I$).
        tau: delay $\tau > 0$.
        t: times $\ge 0$.
        exact: `False` (default): float, exact polynomial integration of the mp-computed
            coefficients (error about $10^{-16}\,t\,e^{2\rho\tau}\max\Gamma^2\|GG^\top\|$);
            `True`: :func:`theory.fundamental.gamma_covariance_integral` in mpmath
            (`mp.dps` digits; $O((t/\tau)^3)$ mp operations per pair).

    Cost (float path): $d$ calls of `gamma_pieces` ($O((t/\tau)^2)$ mp operations each, with
    $\rho t/\ln 10$ extra digits) plus $O(d(t/\tau)^3 + d^2(t/\tau)^2)$ flops: about 0.5 s at
    $t/\tau = 200$ and 3 s at $t/\tau = 500$ (scalar, 2-core machine). Past the stationary regime
    use :func:`kuchler_mensch_variance` (scalar) instead of very long horizons.
    """
    A = _matrix(A_tilde)
    d = A.shape[0]
    tau = _check_tau(tau)
    ta = _times(t)
    Ga = np.asarray(G, dtype=float)
    S = Ga * Ga * np.eye(d) if Ga.ndim == 0 else np.atleast_2d(Ga) @ np.atleast_2d(Ga).T
    if S.shape != (d, d):
        raise LinearSDDEInputError(
            "G", np.shape(G), f"must have {d} rows", "pass G of shape (d, r)"
        )
    if exact:
        return np.array(
            [
                np.array(gamma_covariance_integral(A, tau, float(t), S).tolist(), dtype=float)
                for t in ta
            ]
        ).reshape(ta.size, d, d)
    lams, P = np.linalg.eigh(A)
    S_hat = P.T @ S @ P
    inner = _pair_integrals(lams, tau, ta) * S_hat
    return P @ inner @ P.T


def linear_sdde_moments(
    A_tilde: np.ndarray | float,
    G: np.ndarray | float,
    tau: float,
    t: np.ndarray | float,
    *,
    x_star: np.ndarray | None = None,
    xi: np.ndarray | float | None = None,
    exact: bool = False,
) -> LinearSDDEMoments:
    r"""Mean, covariance and $E\|X(t) - x^*\|^2$ of $dX = -\tilde A(X(t-\tau) - x^*)dt + G\,dB$.

    Constant initial segment $\xi$ (default $x^*$). See :func:`linear_sdde_mean`,
    :func:`linear_sdde_covariance`.
    """
    A = _matrix(A_tilde)
    d = A.shape[0]
    ta = _times(t)
    xs = np.zeros(d) if x_star is None else np.asarray(x_star, dtype=float).reshape(d)
    return LinearSDDEMoments(
        t=ta,
        mean=linear_sdde_mean(A, tau, ta, x_star=xs, xi=xi),
        cov=linear_sdde_covariance(A, G, tau, ta, exact=exact),
        x_star=xs,
    )


def kuchler_mensch_variance(a: float, s: float, tau: float) -> float:
    r"""Stationary variance $s^2(1+\sin a\tau)/(2a\cos a\tau)$ of $dX = -aX(t-\tau)dt + s\,dW$.

    Küchler & Mensch (1992); valid for $0 < a\tau < \pi/2$ (the stationary regime, $a > 0$).

    Raises:
        LinearSDDEInputError: $a \le 0$, $\tau < 0$, or $a\tau \ge \pi/2$ (no stationary law).
    """
    if not (np.isfinite(a) and a > 0):
        raise LinearSDDEInputError("a", a, "must be > 0", "pass the positive drift coefficient")
    if not (np.isfinite(tau) and tau >= 0):
        raise LinearSDDEInputError("tau", tau, "must be >= 0", "pass tau >= 0")
    at = a * tau
    if at >= math.pi / 2:
        raise LinearSDDEInputError(
            "a*tau",
            at,
            "must be < pi/2: the SDDE has no stationary law (V >= 0)",
            "reduce a or tau; use linear_sdde_covariance for finite t",
        )
    return float(s * s * (1 + mpmath.sin(at)) / (2 * a * mpmath.cos(at)))


def delayed_gd_stability_threshold(l: int) -> float:
    r"""Critical $\eta a$ of delayed GD: stable iff $\eta a < 2\sin\frac{\pi}{2(2l+1)}$.

    Delayed gradient descent $x_{k+1} = x_k - \eta a x_{k-l}$ on $\frac12 ax^2$ (SPEC §4).

    $l = 0$ gives 2 (plain GD).

    Raises:
        LinearSDDEInputError: $l$ not a non-negative integer.
    """
    if isinstance(l, bool) or not isinstance(l, (int, np.integer)) or l < 0:
        raise LinearSDDEInputError("l", l, "must be an integer >= 0", "pass the delay in steps")
    return 2.0 * math.sin(math.pi / (2 * (2 * int(l) + 1)))


# --------------------------------------------------------------------------------------------
# Lag cross-moments E[e(t) e(t - lag)^T] (issue 10 item 2: the proof steps of Thm 4.2 / Cor 4.3)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearSDDELagMoments:
    r"""Exact lag moments of the linear SDDE at times `t` and `t - lag`, $e = X - x^*$.

    Attributes:
        t: times, `(r,)`; `lag`: the lag $s \ge 0$.
        mean, mean_lagged: $E X(t)$ and $E X(t-s)$, `(r, d)` ($X = \xi$ before 0).
        cov: $\operatorname{Cov}X(t)$, `(r, d, d)`.
        cross_cov: $\operatorname{Cov}(X(t), X(t-s)) = E[(X(t) - EX(t))(X(t-s) - EX(t-s))^\top]$.
        x_star: $x^*$.
    """

    t: np.ndarray
    lag: float
    mean: np.ndarray
    mean_lagged: np.ndarray
    cov: np.ndarray
    cross_cov: np.ndarray
    x_star: np.ndarray

    @property
    def second_moment(self) -> np.ndarray:
        r"""$E[e(t)e(t)^\top]$, `(r, d, d)`."""
        e = self.mean - self.x_star
        return self.cov + e[:, :, None] * e[:, None, :]

    @property
    def cross_moment(self) -> np.ndarray:
        r"""$E[e(t)e(t-s)^\top] = \operatorname{Cov}(X(t), X(t-s)) + E e(t)\,E e(t-s)^\top$."""
        e = self.mean - self.x_star
        el = self.mean_lagged - self.x_star
        return self.cross_cov + e[:, :, None] * el[:, None, :]


def _check_lag_time(lag: float) -> float:
    if isinstance(lag, bool) or not (np.isfinite(lag) and lag >= 0):
        raise LinearSDDEInputError("lag", lag, "must be finite and >= 0", "pass lag >= 0")
    return float(lag)


def _lag_pair_integrals(lams: np.ndarray, tau: float, tp: float, lag: float) -> np.ndarray:
    r"""$J_{ij} = \int_0^{t'}\Gamma_{\lambda_i}(v + s)\Gamma_{\lambda_j}(v)\,dv$, exact.

    Both factors are polynomials between consecutive points of $\{k\tau\} \cup \{k\tau - s\}$
    (degree $< K = \lfloor (t'+s)/\tau\rfloor + 1$), so Gauss–Legendre with $K$ nodes per
    sub-interval integrates the product exactly (degree $\le 2K - 2$); the factors are evaluated
    by Horner from the mp-computed local Taylor coefficients (`theory.fundamental`).
    """
    d = lams.size
    if tp <= 0:
        return np.zeros((d, d))
    K = math.floor((tp + lag) / tau) + 1
    ks = np.arange(K + 2) * tau
    brk = np.unique(np.concatenate([[0.0, tp], ks, ks - lag]))
    brk = brk[(brk >= 0) & (brk <= tp)]
    x, w = np.polynomial.legendre.leggauss(K)
    a, b = brk[:-1], brk[1:]
    keep = b > a
    a, b = a[keep], b[keep]
    v = ((b - a)[:, None] * (x[None, :] + 1) / 2 + a[:, None]).ravel()
    wv = ((b - a)[:, None] * w[None, :] / 2).ravel()
    g0 = np.stack([gamma_scalar_grid(float(lam), tau, v).real for lam in lams])  # (d, N)
    gs = np.stack([gamma_scalar_grid(float(lam), tau, v + lag).real for lam in lams])
    return (gs * wv) @ g0.T


def linear_sdde_lag_covariance(
    A_tilde: np.ndarray | float,
    G: np.ndarray | float,
    tau: float,
    t: np.ndarray | float,
    lag: float,
) -> np.ndarray:
    r"""$\operatorname{Cov}(X(t), X(t-s)) = \int_0^{t-s}\Gamma(u+s)\,GG^\top\,\Gamma(u)^\top du$.

    For $dX = -\tilde A(X(t-\tau) - x^*)dt + G\,dB$ with a deterministic initial segment,
    $X(t) = EX(t) + \int_0^t\Gamma(t-r)G\,dB(r)$, so the Itô isometry gives the integral
    above for $t \ge s$ and $0$ for $t < s$ ($X(t-s)$ is then the deterministic segment). In the
    eigenbasis $\tilde A = P\Lambda P^\top$: $P[\hat S_{ij}\int_0^{t-s}\Gamma_{\lambda_i}(u+s)
    \Gamma_{\lambda_j}(u)du]P^\top$, integrated exactly (:func:`_lag_pair_integrals`). `lag = 0`
    is :func:`linear_sdde_covariance`.

    Arguments:
        A_tilde: $\tilde A$ symmetric `(d, d)` or scalar $a$.
        G: `(d, r)` or scalar $s$ ($GG^\top = s^2I$).
        tau: delay $\tau > 0$.
        t: times $\ge 0$.
        lag: $s \ge 0$ (e.g. $s = \tau$ for the proof of Theorem 4.2).

    Returns:
        `(len(t), d, d)`; float error about $10^{-16}\,t\,e^{2\rho\tau}\max\Gamma^2\|GG^\top\|$.
    """
    A = _matrix(A_tilde)
    d = A.shape[0]
    tau = _check_tau(tau)
    ta = _times(t)
    s = _check_lag_time(lag)
    Ga = np.asarray(G, dtype=float)
    S = Ga * Ga * np.eye(d) if Ga.ndim == 0 else np.atleast_2d(Ga) @ np.atleast_2d(Ga).T
    if S.shape != (d, d):
        raise LinearSDDEInputError(
            "G", np.shape(G), f"must have {d} rows", "pass G of shape (d, r)"
        )
    lams, P = np.linalg.eigh(A)
    S_hat = P.T @ S @ P
    out = np.empty((ta.size, d, d))
    for r, tt in enumerate(ta):
        out[r] = P @ (_lag_pair_integrals(lams, tau, float(tt) - s, s) * S_hat) @ P.T
    return out


def linear_sdde_lag_moments(
    A_tilde: np.ndarray | float,
    G: np.ndarray | float,
    tau: float,
    t: np.ndarray | float,
    lag: float | None = None,
    *,
    x_star: np.ndarray | None = None,
    xi: np.ndarray | float | None = None,
) -> LinearSDDELagMoments:
    r"""$E[e(t)e(t)^\top]$ and $E[e(t)e(t-s)^\top]$ of the linear SDDE, $e = X - x^*$, exactly.

    Means from :func:`linear_sdde_mean` (constant segment $\xi$, default $x^*$; before 0,
    $X = \xi$), covariances from :func:`linear_sdde_covariance` and
    :func:`linear_sdde_lag_covariance`. `lag` defaults to $\tau$.
    """
    A = _matrix(A_tilde)
    d = A.shape[0]
    tau = _check_tau(tau)
    ta = _times(t)
    s = tau if lag is None else _check_lag_time(lag)
    xs = np.zeros(d) if x_star is None else np.asarray(x_star, dtype=float).reshape(d)
    mean = linear_sdde_mean(A, tau, ta, x_star=xs, xi=xi)
    tl = ta - s
    mean_l = np.empty_like(mean)
    pos = tl >= 0
    if pos.any():
        mean_l[pos] = linear_sdde_mean(A, tau, tl[pos], x_star=xs, xi=xi)
    if (~pos).any():
        xi_a = xs if xi is None else np.broadcast_to(np.asarray(xi, float).reshape(-1), (d,))
        mean_l[~pos] = xi_a
    return LinearSDDELagMoments(
        t=ta,
        lag=s,
        mean=mean,
        mean_lagged=mean_l,
        cov=linear_sdde_covariance(A, G, tau, ta),
        cross_cov=linear_sdde_lag_covariance(A, G, tau, ta, s),
        x_star=xs,
    )


def kuchler_mensch_autocovariance(a: float, s: float, tau: float, lag: float) -> float:
    r"""Stationary autocovariance $r(u) = \operatorname{Cov}(X(t+u), X(t))$ of
    $dX = -aX(t-\tau)dt + s\,dW$ for $|u| \le \tau$, $0 < a\tau < \pi/2$.

    Derivation: for $u > 0$, $r'(u) = -a\,r(u-\tau)$ (the noise after $t$ is independent of
    $X(t)$) and $r$ is even, so on $[0, \tau]$, $r'(u) = -a\,r(\tau-u)$ and
    $r'' = -a^2 r$: $r(u) = V[\cos au - c\sin au]$ with $V = r(0)$. From
    $r'(0^+) = -a\,r(\tau)$: $c = \cos a\tau/(1 + \sin a\tau)$; the variance identity
    $0 = \frac{d}{dt}EX^2 = -2a\,r(\tau) + s^2$ gives $r(\tau) = s^2/(2a)$ and hence
    $V = s^2(1+\sin a\tau)/(2a\cos a\tau)$ (Küchler & Mensch 1992).

    Raises:
        LinearSDDEInputError: as :func:`kuchler_mensch_variance`, or $|u| > \tau$.
    """
    V = kuchler_mensch_variance(a, s, tau)
    u = abs(float(lag))
    if not np.isfinite(u) or u > tau * (1 + 1e-12):
        raise LinearSDDEInputError(
            "lag",
            lag,
            f"closed form implemented for |lag| <= tau = {tau}",
            "use linear_sdde_lag_covariance at a large t for longer lags",
        )
    at = a * tau
    c = mpmath.cos(at) / (1 + mpmath.sin(at))
    return float(V * (mpmath.cos(a * u) - c * mpmath.sin(a * u)))
