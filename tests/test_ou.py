"""Tests for theory.ou: OU moments (R5) against SymPy closed forms, the Lyapunov form, the exact
discrete SGD recursion (small-η limit, O(η) gap) and closed forms of the printed bound.
"""

import math

import numpy as np
import pytest
import sympy

from theory.errors import InputError
from theory.ou import OUProcess, ou_from_regression, ou_moments_symbolic

A2 = np.array([[2.0, 0.5], [0.5, 2.0]])  # eigenvalues 5/2, 3/2: fast exact SymPy
S2 = np.array([[1.0, 0.3], [0.3, 0.5]])


def test_symbolic_vs_numeric():
    R = sympy.Rational
    A = sympy.Matrix([[2, R(1, 2)], [R(1, 2), 2]])
    S = sympy.Matrix([[1, R(3, 10)], [R(3, 10), R(1, 2)]])
    eta = R(1, 10)
    x0, xs = sympy.Matrix([1, -2]), sympy.Matrix([R(1, 2), R(1, 4)])
    sym = ou_moments_symbolic(A, S, eta, x0, xs)
    t = sym["t"]
    # the symbolic solution solves the moment ODEs exactly: m' = −Ã(m − x*), C' = −ÃC − CÃ + ηS
    # (evaluated at exact t with 40 digits: the closed forms cancel badly in double precision)
    mode = sym["mean"].diff(t) + A * (sym["mean"] - xs)
    ode = sym["cov"].diff(t) + A * sym["cov"] + sym["cov"] * A - eta * S
    for tv in (R(3, 10), R(2)):
        assert all(abs(v.subs(t, tv).evalf(40)) < 1e-30 for v in list(mode) + list(ode))
    assert all(abs(v.subs(t, 0).evalf(40)) < 1e-30 for v in sym["cov"])
    ou = OUProcess(A2, [0.5, 0.25], 0.1, S2, [1.0, -2.0])
    ts = [R(0), R(7, 10), R(3)]
    tf = [float(v) for v in ts]
    for k, tv in enumerate(ts):
        m = np.array(sym["mean"].subs(t, tv).evalf(30), dtype=float).reshape(-1)
        C = np.array(sym["cov"].subs(t, tv).evalf(30), dtype=float)
        # float evaluation of expm-type closed forms: a few ulps of the O(1) entries
        assert np.allclose(ou.mean(tf)[k], m, rtol=0, atol=1e-14)
        assert np.allclose(ou.covariance(tf)[k], C, rtol=0, atol=1e-15)
        assert abs(ou.mean_square_error(tf)[k] - float(sym["mse"].subs(t, tv).evalf(30))) < 1e-14


def test_eigen_vs_lyapunov_and_stationary():
    ou = OUProcess(A2, [0.0, 0.0], 0.05, S2, [1.0, 1.0])
    ts = [0.1, 1.0, 10.0, 200.0]
    assert np.allclose(ou.covariance(ts), ou.covariance(ts, method="lyapunov"), atol=1e-15)
    S_inf = ou.stationary_covariance()
    assert np.allclose(A2 @ S_inf + S_inf @ A2, 0.05 * S2, atol=1e-15)
    assert np.allclose(ou.covariance([200.0])[0], S_inf, atol=1e-15)


def test_singular_A_tilde_variance_grows_linearly():
    # direction with λ = 0: Cov = η S t exactly (Brownian motion)
    ou = OUProcess(np.diag([1.0, 0.0]), [0.0, 0.0], 0.2, np.eye(2), [0.0, 0.0])
    C = ou.covariance([5.0])[0]
    assert abs(C[1, 1] - 0.2 * 5.0) < 1e-14
    assert abs(C[0, 0] - 0.2 * (1 - np.exp(-10.0)) / 2) < 1e-15
    with pytest.raises(InputError):
        ou.stationary_covariance()


def _sgd_moments(A, S, eta, x0, xs, k):
    """Exact discrete SGD moments: m ← (I−ηÃ)m, C ← (I−ηÃ)C(I−ηÃ) + η²S (additive noise)."""
    M = np.eye(len(x0)) - eta * A
    m, C = np.asarray(x0, float) - xs, np.zeros_like(A)
    for _ in range(k):
        m, C = M @ m, M @ C @ M.T + eta**2 * S
    return m + xs, C


def test_small_eta_limit_of_sgd_recursion():
    xs, x0, T = np.array([0.5, 0.25]), np.array([1.0, -2.0]), 2.0
    gaps_m, gaps_c = [], []
    for eta in (1e-2, 1e-3):
        k = round(T / eta)
        m, C = _sgd_moments(A2, S2, eta, x0, xs, k)
        ou = OUProcess(A2, xs, eta, S2, x0)
        gaps_m.append(np.linalg.norm(m - ou.mean([T])[0]))
        C_ou = ou.covariance([T])[0]
        gaps_c.append(np.linalg.norm(C - C_ou) / np.linalg.norm(C_ou))
    # first-order weak error: gap(η) = cη + O(η²), so η → η/10 divides it by 10 ± 20 %
    assert 8 < gaps_m[0] / gaps_m[1] < 12
    assert 8 < gaps_c[0] / gaps_c[1] < 12
    assert gaps_c[1] < 1e-2


def test_printed_bound_norms():
    # Ã = diag(1, 3), GGᵀ = I, η = 0.1: Frobenius RHS = tr Cov (equality); spectral RHS =
    # η(1 − e^{−2t})/2 (λ_max of diag(e^{−2u}, e^{−6u})) < tr Cov: printed "≤" fails.
    ou = OUProcess(np.diag([1.0, 3.0]), [0.0, 0.0], 0.1, np.eye(2), [0.0, 0.0])
    t = 1.5
    tr = 0.1 * ((1 - np.exp(-2 * t)) / 2 + (1 - np.exp(-6 * t)) / 6)
    assert abs(ou.variance([t])[0] - tr) < 1e-16
    assert abs(ou.printed_variance_bound([t], "fro")[0] - tr) < 1e-16
    spec = ou.printed_variance_bound([t], "spectral")[0]
    assert abs(spec - 0.1 * (1 - np.exp(-2 * t)) / 2) < 1e-13
    assert spec < ou.variance([t])[0]


def test_regression_noise_covariance_by_enumeration():
    rng = np.random.default_rng(7)
    A = rng.standard_normal((9, 2))
    B = rng.standard_normal(9)
    ou = ou_from_regression(A, B, b=3, eta=0.1, x0=[0.0, 0.0], sampling="without")
    xs = np.linalg.solve(A.T @ A, A.T @ B)
    grads = np.array([a * (a @ xs - bi) for a, bi in zip(A, B)])
    assert np.allclose(grads.mean(0), 0, atol=1e-14)
    # brute force: covariance of the minibatch mean over all C(9,3) subsets without replacement
    from itertools import combinations

    means = np.array([grads[list(c)].mean(0) for c in combinations(range(9), 3)])
    assert np.allclose(ou.GGt, np.cov(means.T, bias=True), atol=1e-14)
    assert np.allclose(ou.x_star, xs) and np.allclose(ou.A_tilde, A.T @ A / 9)


@pytest.mark.parametrize(
    "kwargs,param",
    [
        ({"eta": 0.0}, "eta"),
        ({"A_tilde": np.array([[1.0, 2.0], [0.0, 1.0]])}, "A_tilde"),
        ({"GGt": -np.eye(2)}, "GGt"),
        ({"x0": [1.0]}, "x0"),
    ],
)
def test_bad_input(kwargs, param):
    args = {"A_tilde": A2, "x_star": [0.0, 0.0], "eta": 0.1, "GGt": S2, "x0": [0.0, 0.0]}
    args.update(kwargs)
    with pytest.raises(InputError) as info:
        OUProcess(**args)
    assert info.value.parameter == param


def test_latex_section_has_values():
    ou = OUProcess(np.diag([1.0, 3.0]), [0.0, 0.0], 0.1, np.eye(2), [1.0, 1.0])
    text = ou.latex_section([1.0])
    # E‖X(1)−x*‖² = e^{−2} + e^{−6} + 0.1((1−e^{−2})/2 + (1−e^{−6})/6)
    ref = math.exp(-2) + math.exp(-6) + 0.1 * ((1 - math.exp(-2)) / 2 + (1 - math.exp(-6)) / 6)
    assert f"{ref:.6g}" in text
