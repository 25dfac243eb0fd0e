"""Exact linear-SDDE moments (numerics/linear_sdde.py) against independent references.

References: Küchler & Mensch (1992) stationary variance; the method of steps done in exact
rational arithmetic (sympy) for the mean; theory.fundamental's mpmath product integrals;
companion-polynomial roots for the delayed-GD threshold; the exact law of the Euler–Maruyama
scheme (numerics/moments.py) converging at order 1 in the step.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from numerics.linear_sdde import (
    LinearSDDEInputError,
    delayed_gd_stability_threshold,
    kuchler_mensch_variance,
    linear_sdde_covariance,
    linear_sdde_mean,
    linear_sdde_moments,
)
from numerics.moments import constant_delay_probabilities, em_scheme_moments


@pytest.mark.parametrize("a_tau", [0.1, 0.8, 1.4])
@pytest.mark.parametrize("a", [1.0, 2.5])
def test_variance_integral_reaches_kuchler_mensch(a_tau, a):
    # Var X(t) = s^2 int_0^t Gamma^2 -> s^2 (1 + sin a tau) / (2 a cos a tau) (Küchler–Mensch).
    # Tail int_t^inf Gamma^2 = O(e^{2 V t}), V = Re W_0(-a tau)/tau; t chosen so e^{2Vt} < e^{-30}.
    tau, s = a_tau / a, 0.7
    V = float(mpmath.re(mpmath.lambertw(-a_tau))) / tau
    t = 30.0 / (2 * abs(V))
    got = linear_sdde_covariance(a, s, tau, [t])[0, 0, 0]
    assert got == pytest.approx(kuchler_mensch_variance(a, s, tau), rel=1e-10)


def test_float_covariance_matches_mpmath_product_integral():
    # 2x2 symmetric A_tilde, full G: float exact-polynomial integration vs mpmath (theory).
    rng = np.random.default_rng(0)
    B = rng.standard_normal((2, 2))
    A = B @ B.T + 0.3 * np.eye(2)
    G = rng.standard_normal((2, 2))
    ts = [0.0, 0.37, 1.0, 2.9]
    got = linear_sdde_covariance(A, G, 0.5, ts)
    with mpmath.workdps(30):
        ref = linear_sdde_covariance(A, G, 0.5, ts, exact=True)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def _method_of_steps_scalar(a, tau, xi, n_pieces):
    """Exact DDE solution y' = -a y(t - tau), y = xi on [-tau, 0], piecewise in sympy."""
    t = sp.Symbol("t")
    pieces = [sp.sympify(xi)]  # on [-tau, 0]
    for k in range(n_pieces):
        prev = pieces[-1]
        start = k * tau
        y0 = prev.subs(t, start) if k > 0 else sp.sympify(xi)
        # y(t) = y(start) - a int_start^t y(s - tau) ds, with y(s - tau) = previous piece
        s = sp.Symbol("s")
        new = y0 - a * sp.integrate(prev.subs(t, s - tau), (s, start, t))
        pieces.append(sp.expand(new))
    return t, pieces


def test_mean_matches_exact_method_of_steps():
    a, tau, xi, x_star = sp.Rational(3, 2), sp.Rational(2, 5), 3, 0.5
    t, pieces = _method_of_steps_scalar(a, tau, xi - sp.Rational(1, 2), 8)
    times = np.array([0.0, 0.1, 0.4, 0.55, 1.2, 2.0, 3.15])
    ref = []
    for tt in times:
        k = min(math.floor(tt / float(tau)), 7)
        ref.append(float(pieces[k + 1].subs(t, sp.Rational(str(tt)))) + x_star)
    got = linear_sdde_mean(1.5, 0.4, times, x_star=[x_star], xi=xi)[:, 0]
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)


def test_matrix_mean_decouples_in_eigenbasis():
    # Reference: scalar exact method of steps along each eigenvector of a symmetric A_tilde.
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    lams, P = np.linalg.eigh(A)
    xi, x_star, tau = np.array([1.0, -2.0]), np.array([0.3, 0.1]), 0.3
    z = P.T @ (xi - x_star)
    times = np.array([0.2, 0.7, 1.9])
    ref = np.zeros((times.size, 2))
    for i, lam in enumerate(lams):
        # Gamma_lam(t + tau) = sum_k (-lam)^k (t + tau - k tau)_+^k / k!  (SPEC §4 series)
        g = [
            sum(
                (-lam) ** k * (tt + tau - k * tau) ** k / math.factorial(k)
                for k in range(int((tt + tau) / tau) + 1)
            )
            for tt in times
        ]
        ref += np.outer(g, P[:, i] * z[i])
    got = linear_sdde_mean(A, tau, times, x_star=x_star, xi=xi)
    np.testing.assert_allclose(got, ref + x_star, rtol=1e-12)


def test_moments_mse_is_trace_plus_bias():
    m = linear_sdde_moments(1.0, 0.5, 0.8, [0.0, 1.0, 5.0], x_star=[1.0], xi=3.0)
    assert m.mse[0] == pytest.approx(4.0)  # Var X(0) = 0, (xi - x*)^2 = 4
    np.testing.assert_allclose(m.mse, m.cov[:, 0, 0] + (m.mean[:, 0] - 1.0) ** 2)


def test_em_scheme_variance_converges_at_order_one():
    # EM of dX = -a X(t - tau) dt + s dW with step h = tau / l: exact Var of the scheme
    # (moments.py) minus the exact SDDE variance is O(h): successive error ratios -> 2.
    a, s, tau, T = 1.0, 1.0, 0.8, 4.0
    ref = linear_sdde_covariance(a, s, tau, [T])[0, 0, 0]
    errs = []
    for l in (8, 16, 32, 64):
        h = tau / l
        K = round(T / h)
        # Eq. (6) form with eta = delta = h, U = 1: drift -a X, diffusion sqrt(h) sigma, and
        # sigma^2 = s^2 / h gives diffusion s.
        res = em_scheme_moments(
            np.array([[a]]),
            np.zeros(1),
            constant_delay_probabilities(l),
            h,
            h,
            1.0,
            K,
            noise=np.array([[s * s / h]]),
            record=[K],
        )
        errs.append(res.cov[0, 0, 0] - ref)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(np.abs(ratios - 2.0) < 0.15), ratios
    assert abs(errs[-1]) < 0.02 * ref


def test_em_substeps_converge_to_sdde_variance():
    # Same, refining with substeps m at fixed delta (the scheme the simulators' fine grid uses).
    a, s, tau, l = 1.0, 1.0, 1.4, 4
    delta = tau / l
    K = 20
    ref = linear_sdde_covariance(a, s, tau, [K * delta])[0, 0, 0]
    errs = []
    for m in (4, 8, 16):
        res = em_scheme_moments(
            np.array([[a]]),
            np.zeros(1),
            constant_delay_probabilities(l),
            delta,
            delta,
            1.0,
            K,
            substeps=m,
            noise=np.array([[s * s / delta]]),
            record=[K],
        )
        errs.append(res.cov[0, 0, 0] - ref)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all(np.abs(ratios - 2.0) < 0.2), ratios


@pytest.mark.parametrize("l", [0, 1, 2, 5, 10])
def test_stability_threshold_matches_companion_roots(l):
    # x_{k+1} = x_k - c x_{k-l}: characteristic polynomial z^{l+1} - z^l + c.
    crit = delayed_gd_stability_threshold(l)

    def radius(c):
        coeffs = np.zeros(l + 2)
        coeffs[0], coeffs[1], coeffs[-1] = 1.0, -1.0, c
        if l == 0:
            coeffs = np.array([1.0, -1.0 + c])
        return np.max(np.abs(np.roots(coeffs)))

    assert radius(crit * (1 - 1e-6)) < 1.0
    assert radius(crit * (1 + 1e-6)) > 1.0
    assert radius(crit) == pytest.approx(1.0, abs=1e-9)


def test_inputs_outside_hypotheses_raise():
    with pytest.raises(LinearSDDEInputError, match="a\\*tau"):
        kuchler_mensch_variance(1.0, 1.0, 1.6)
    with pytest.raises(LinearSDDEInputError, match="tau="):
        linear_sdde_covariance(1.0, 1.0, 0.0, [1.0])
    with pytest.raises(LinearSDDEInputError, match="A_tilde="):
        linear_sdde_covariance(np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0, 0.5, [1.0])
    with pytest.raises(LinearSDDEInputError, match="l="):
        delayed_gd_stability_threshold(-1)
