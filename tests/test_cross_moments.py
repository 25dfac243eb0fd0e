"""Exact lag cross-moments E[e(t) e(t - s)^T] of the linear SDDE, its Euler–Maruyama scheme and the
ASGD recursion (issue 10 item 2).

References (independent of the code under test):
- stationary autocovariance of dX = -aX(t - tau)dt + s dW on |u| <= tau,
  r(u) = V[cos au - cos(a tau) sin(au)/(1 + sin a tau)], V = s^2(1 + sin a tau)/(2a cos a tau)
  (derived in `kuchler_mensch_autocovariance`; r(tau) = s^2/(2a) from d/dt E X^2 = 0);
- closed form on [tau, 2 tau]: Gamma(u) = 1 on [0, tau], 1 - a(u - tau) on [tau, 2 tau], so
  Cov(X(t), X(t - tau)) = s^2 (w - a w^2/2), w = t - tau;
- Ito's formula d/dt E[e e^T] = -A E[e(t-tau) e(t)^T] - E[e(t) e(t-tau)^T] A^T + G G^T;
- Monte Carlo (coarse EM and ASGD simulators, CLT with z = 4 per entry);
- EM -> SDDE as the step is refined (weak order 1: the error halves when m doubles).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, RandomDelay
from numerics.linear_sdde import (
    LinearSDDEInputError,
    kuchler_mensch_autocovariance,
    kuchler_mensch_variance,
    linear_sdde_covariance,
    linear_sdde_lag_covariance,
    linear_sdde_lag_moments,
)
from numerics.moments import (
    MomentInputError,
    asgd_lag_moments_for,
    asgd_moments_for,
    linear_sdde_em_lag_moments,
    sdde_em_lag_moments_for,
)
from numerics.problems import LeastSquares
from numerics.sdde import simulate_linear_sdde, simulate_sdde

Z = 4.0
A2 = np.array([[1.0, 0.3], [0.3, 0.6]])
G2 = np.array([[0.5, 0.1], [0.0, 0.4]])


@pytest.mark.parametrize("a, s, tau", [(1.0, 0.7, 0.5), (2.0, 1.0, 0.7), (0.5, 0.3, 2.5)])
def test_stationary_autocovariance_closed_form(a, s, tau):
    V = kuchler_mensch_variance(a, s, tau)
    at = a * tau
    assert kuchler_mensch_autocovariance(a, s, tau, 0.0) == pytest.approx(V, rel=1e-15)
    assert kuchler_mensch_autocovariance(a, s, tau, tau) == pytest.approx(s * s / (2 * a), 1e-14)
    # long horizon of the exact finite-t lag covariance = stationary law: the transient decays
    # like exp(2 V t), V = Re W_0(-a tau)/tau the rightmost characteristic root (SPEC §4)
    V_root = float(mpmath.lambertw(-a * tau, 0).real) / tau
    t = 15.0 / abs(V_root)
    for u in (0.0, tau / 3, 0.8 * tau, tau):
        c = linear_sdde_lag_covariance(a, s, tau, [t], u)[0, 0, 0]
        ref = V * (math.cos(a * u) - math.cos(at) * math.sin(a * u) / (1 + math.sin(at)))
        assert c == pytest.approx(ref, rel=1e-9)


def test_lag_covariance_closed_form_on_second_piece():
    a, s, tau = 1.3, 0.6, 0.4
    for t in (tau, 1.25 * tau, 1.9 * tau):
        w = t - tau
        c = linear_sdde_lag_covariance(a, s, tau, [t], tau)[0, 0, 0]
        assert c == pytest.approx(s * s * (w - a * w * w / 2), rel=1e-13, abs=1e-16)
    # before the lag the lagged value is the deterministic segment: no covariance
    assert linear_sdde_lag_covariance(a, s, tau, [0.3 * tau], tau)[0, 0, 0] == 0.0


def test_lag_zero_is_the_covariance():
    t = [0.0, 0.35, 2.7, 5.1]
    np.testing.assert_allclose(
        linear_sdde_lag_covariance(A2, G2, 0.4, t, 0.0),
        linear_sdde_covariance(A2, G2, 0.4, t),
        rtol=1e-12,
        atol=1e-15,
    )


@pytest.mark.parametrize("t", [1.37, 3.05])
def test_ito_identity_links_second_moment_and_lag_moment(t):
    tau, h = 0.4, 1e-4
    xs, xi = np.array([0.5, -0.5]), np.array([1.5, 0.0])
    mid = linear_sdde_lag_moments(A2, G2, tau, [t], x_star=xs, xi=xi)
    lo, hi = (
        linear_sdde_lag_moments(A2, G2, tau, [t + e], x_star=xs, xi=xi).second_moment[0]
        for e in (-h, h)
    )
    lhs = (hi - lo) / (2 * h)
    C = mid.cross_moment[0]  # E[e(t) e(t - tau)^T]
    rhs = -A2 @ C.T - C @ A2.T + G2 @ G2.T
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-6)


def test_em_lag_moments_converge_to_the_sdde_at_order_one():
    a, s, tau, T = 1.0, 0.7, 0.5, 3.0
    ex = linear_sdde_lag_moments(a, s, tau, [T], xi=1.0)
    errs = []
    for m in (2, 4, 8, 16):
        r = linear_sdde_em_lag_moments(
            a, s, tau=tau, delta=0.1, K=30, substeps=m, x0=[1.0], record=[30]
        )
        assert r.lag == 5 * m
        errs.append(abs(r.cross_moment[0, 0, 0] - ex.cross_moment[0, 0, 0]))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), ratios


def test_em_matrix_lag_moments_converge():
    ex = linear_sdde_lag_moments(A2, G2, 0.4, [2.0], x_star=[0.5, -0.5], xi=[1.5, 0.0])
    e = [
        np.abs(
            linear_sdde_em_lag_moments(
                A2, G2, tau=0.4, delta=0.1, K=20, substeps=m, x_star=[0.5, -0.5],
                x0=[1.5, 0.0], record=[20],
            ).cross_moment[0]
            - ex.cross_moment[0]
        ).max()
        for m in (4, 8)
    ]  # fmt: skip
    assert 1.7 < e[0] / e[1] < 2.3


def _mc_cross(X: np.ndarray, Y: np.ndarray, ref: np.ndarray) -> None:
    prod = X[:, :, None] * Y[:, None, :]
    se = prod.std(axis=0, ddof=1) / np.sqrt(X.shape[0])
    assert np.all(np.abs(prod.mean(axis=0) - ref) <= Z * se), (prod.mean(0), ref, se)


def test_em_lag_moments_against_monte_carlo():
    a, s, tau, delta, K = 1.0, 0.7, 0.5, 0.1, 30
    r = linear_sdde_em_lag_moments(a, s, tau=tau, delta=delta, K=K, x0=[1.0], record=[K])
    sim = simulate_linear_sdde(a, s, tau=tau, delta=delta, K=K, paths=40_000, seed=3, x0=[1.0],
                               record_every=1)  # fmt: skip
    traj = sim.trajectory  # (K+1, P, 1)
    _mc_cross(traj[K], traj[K - 5], r.cross_moment[0])
    _mc_cross(traj[K], traj[K], r.second_moment[0])


def _ls() -> LeastSquares:
    rng = np.random.default_rng(2)
    A = rng.standard_normal((20, 2))
    return LeastSquares(A, A @ np.ones(2) + 0.5 * rng.standard_normal(20))


@pytest.mark.parametrize("delay, lag", [(ConstantDelay(2), 2), (ConstantDelay(2), 5),
                                        (RandomDelay(2), 1)])  # fmt: skip
def test_asgd_lag_moments_against_monte_carlo(delay, lag):
    p, K = _ls(), 25
    r = asgd_lag_moments_for(p, lag=lag, eta=0.1, K=K, delay=delay, b=2, x0=[2.0, 0.0],
                             record=[K])  # fmt: skip
    sim = simulate_asgd(p, eta=0.1, K=K, paths=40_000, seed=9, delay=delay, b=2,
                        x0=[2.0, 0.0], record_every=1)  # fmt: skip
    e = sim.trajectory - p.x_star
    _mc_cross(e[K], e[K - lag], r.cross_moment[0])


def test_asgd_lag_moments_consistent_with_moments():
    p = _ls()
    kw = dict(eta=0.1, K=25, delay=ConstantDelay(3), b=2, x0=[2.0, 0.0])
    base = asgd_moments_for(p, **kw)
    for lag in (0, 3, 7):
        r = asgd_lag_moments_for(p, lag=lag, **kw)
        np.testing.assert_array_equal(r.mean, base.mean)
        np.testing.assert_allclose(r.cov, base.cov, rtol=1e-13, atol=1e-16)
        k = np.arange(26)
        lagged = np.where(k - lag >= 0, k - lag, 0)  # before the start: x_0
        np.testing.assert_allclose(r.mean_lagged, base.mean[lagged], rtol=1e-13)
        if lag == 0:
            np.testing.assert_allclose(r.cross_moment, r.second_moment, rtol=1e-13)


def test_bad_lag_is_named():
    with pytest.raises(LinearSDDEInputError):
        linear_sdde_lag_covariance(1.0, 1.0, 0.5, [1.0], -0.1)
    with pytest.raises(LinearSDDEInputError):
        kuchler_mensch_autocovariance(1.0, 1.0, 0.5, 0.6)
    with pytest.raises(MomentInputError):
        asgd_lag_moments_for(_ls(), lag=-1, eta=0.1, K=3)
    with pytest.raises(MomentInputError):
        linear_sdde_em_lag_moments(1.0, 1.0, tau=0.5, delta=0.1, K=3, lag=0.05)


def test_sdde_em_lag_moments_equal_the_gaussian_asgd_recursion():
    # one EM step of Eq. (6) with delta = eta is Eq. (5) (R1), so the coarse scheme's lag moments
    # are those of the Gaussian surrogate; two code paths of numerics.moments
    p, kw = _ls(), dict(eta=0.1, K=20, delay=ConstantDelay(3), b=2, x0=[2.0, 0.0])
    em = sdde_em_lag_moments_for(p, lag=0.3, **kw)
    sg = asgd_lag_moments_for(p, lag=3, noise="gaussian", **kw)
    assert em.lag == sg.lag == 3
    np.testing.assert_allclose(em.cross_moment, sg.cross_moment, rtol=1e-12, atol=1e-15)


def test_sdde_em_fine_lag_moments_against_monte_carlo():
    p, kw = _ls(), dict(eta=0.1, K=20, delay=ConstantDelay(2), b=2, x0=[2.0, 0.0])
    r = sdde_em_lag_moments_for(p, substeps=2, record=[20], **kw)  # lag = tau = 0.2
    assert r.lag == 4
    sim = simulate_sdde(p, paths=40_000, seed=4, substeps=2, record_every=1, **kw)
    e = sim.fine_trajectory - p.x_star  # fine solution at the coarse times
    _mc_cross(e[20], e[18], r.cross_moment[0])
    with pytest.raises(MomentInputError):
        sdde_em_lag_moments_for(p, lag=0.07, substeps=2, **kw)
