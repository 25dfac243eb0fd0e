"""Tests for theory.fundamental: Γ of x' = −Ã x(t−τ) against independent references.

References: the method of steps done by exact polynomial integration in mpmath (written here,
independent of the series in the module); the Küchler & Mensch (1992) stationary variance
s²(1 + sin aτ)/(2a cos aτ) of dX = −aX(t−τ)dt + s dW (SPEC §4); hand values of the series.
"""

import mpmath
import numpy as np
import pytest

from theory.errors import InputError
from theory.fundamental import (
    gamma,
    gamma_covariance_integral,
    gamma_grid,
    gamma_pieces,
    gamma_product_integral,
    gamma_scalar,
    gamma_scalar_grid,
)


def steps_matrix(A, tau, n_pieces):
    """Method of steps: piece k+1 is X((k+1)τ) − A ∫_0^s X_k(u) du, exact polynomials (mp matrices).

    Returns list of pieces, each a list of mp matrices (coefficient of s^m).
    """
    d = A.rows
    pieces = [[mpmath.eye(d)]]  # Γ = I on [0, τ]
    for _ in range(n_pieces - 1):
        prev = pieces[-1]
        end = mpmath.zeros(d, d)
        for m, c in enumerate(prev):
            end += c * tau**m
        new = [end] + [-(A * c) / (m + 1) for m, c in enumerate(prev)]
        pieces.append(new)
    return pieces


def eval_pieces(pieces, tau, t):
    tau, t = mpmath.mpf(tau), mpmath.mpf(t)
    k = int(mpmath.floor(t / tau))
    s = t - k * tau
    out = pieces[k][0] * 0
    for m, c in enumerate(pieces[k]):
        out += c * s**m
    return out


def test_scalar_hand_values():
    # Γ on [0,τ] = 1; on [τ,2τ] = 1 − a(t−τ); on [2τ,3τ] add a²(t−2τ)²/2
    with mpmath.workdps(30):
        assert gamma_scalar(2, 1, 0) == 1
        assert gamma_scalar(2, 1, -0.5) == 0
        assert gamma_scalar(2, 1, 0.9) == 1
        assert mpmath.almosteq(gamma_scalar(2, 1, 1.5), 1 - 2 * 0.5, 1e-28)
        assert mpmath.almosteq(gamma_scalar(2, 1, 2.5), 1 - 2 * 1.5 + 4 * 0.25 / 2, 1e-28)


@pytest.mark.parametrize("a,tau,t", [(0.5, 1.0, 7.3), (3.0, 0.5, 20.25), (-0.4, 2.0, 9.0)])
def test_scalar_series_vs_method_of_steps(a, tau, t):
    with mpmath.workdps(60):
        ref_pieces = steps_matrix(mpmath.matrix([[a]]), mpmath.mpf(tau), int(t / tau) + 2)
        ref = eval_pieces(ref_pieces, mpmath.mpf(tau), mpmath.mpf(t))[0, 0]
    with mpmath.workdps(30):
        val = gamma_scalar(a, tau, t)
        # absolute accuracy 10^-30 promised; allow 10^-27 (three guard digits)
        assert abs(val - ref) < mpmath.mpf(10) ** -27
        pieces = gamma_pieces(a, tau, int(t / tau) + 1)
        assert abs(pieces(t) - ref) < mpmath.mpf(10) ** -27


def test_cancellation_is_beaten():
    # a τ = 1, t = 60: terms reach e^60 ~ 1e26 while Γ is O(e^{Vt}) ~ 1e-8; a plain
    # double-precision sum would be wrong in every digit.
    with mpmath.workdps(80):
        ref = eval_pieces(steps_matrix(mpmath.matrix([[1]]), mpmath.mpf(1), 62), 1, 60)[0, 0]
    with mpmath.workdps(20):
        val = gamma_scalar(1, 1, 60)
    assert abs(val - ref) < 1e-18
    assert abs(ref) < 1e-3


def test_matrix_series_vs_method_of_steps_nonsymmetric():
    A = [[1.5, -0.8, 0.0], [0.9, 0.7, 0.2], [0.0, -0.3, 1.1]]
    with mpmath.workdps(50):
        ref = eval_pieces(steps_matrix(mpmath.matrix(A), mpmath.mpf("0.5"), 25), 0.5, 11.2)
    with mpmath.workdps(30):
        val = gamma(A, 0.5, 11.2)
        assert mpmath.mnorm(val - ref, 1) < 1e-26
    # float grid (per eigenvalue, complex eigenvalues here) vs the exact reference
    grid = gamma_grid(np.array(A), 0.5, [0.0, 3.7, 11.2])
    assert np.max(np.abs(grid[2] - np.array(ref.tolist(), dtype=float))) < 1e-11
    assert np.allclose(grid[0], np.eye(3), atol=1e-15)


def test_scalar_grid_float_vs_mp():
    ts = np.linspace(-1, 40, 203)
    vals = gamma_scalar_grid(1.2, 1.0, ts)
    with mpmath.workdps(30):
        ref = np.array([float(gamma_scalar(1.2, 1.0, t)) for t in ts])
    # float error bound 1e-16 e^{|λ|τ} max|Γ| ≲ 1e-15; allow 1e-13
    assert np.max(np.abs(vals.real - ref)) < 1e-13


def test_product_integral_kuchler_mensch():
    # Var X(∞) = s² ∫_0^∞ Γ² = s²(1 + sin aτ)/(2a cos aτ), 0 < aτ < π/2 (Küchler & Mensch 1992)
    a, tau = 0.5, 1.0
    with mpmath.workdps(30):
        ref = (1 + mpmath.sin(a * tau)) / (2 * a * mpmath.cos(a * tau))
        val = gamma_product_integral(a, a, tau, 45.0)
    # tail ∫_45^∞ Γ² ≤ C e^{2V·45}, V = Re W₀(−0.5) ≈ −0.794: ~1e-31 C
    assert abs(val - ref) < 1e-25


def test_covariance_integral_vs_scalar_in_eigenbasis():
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lam = np.array([0.3, 0.7, 1.2])
    A = Q @ np.diag(lam) @ Q.T
    A = (A + A.T) / 2
    with mpmath.workdps(30):
        cov = gamma_covariance_integral(A, 0.6, 4.0, np.eye(3))
        # trace ∫ Γ Γᵀ = Σ_i ∫ Γ_{λ_i}² (orthogonal eigenbasis)
        tr = sum(cov[i, i] for i in range(3))
        ref = sum(gamma_product_integral(lam_i, lam_i, 0.6, 4.0) for lam_i in lam)
    assert abs(tr - ref) < 1e-12  # eigenvalues of A equal lam only to float accuracy


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_tau(bad):
    with pytest.raises(InputError) as info:
        gamma_scalar(1.0, bad, 1.0)
    assert info.value.parameter == "tau"


def test_bad_matrix():
    with pytest.raises(InputError):
        gamma([[1.0, 2.0, 3.0]], 1.0, 1.0)
    with pytest.raises(InputError):
        gamma_grid(np.array([[1.0, np.nan], [0.0, 1.0]]), 1.0, [1.0])
    with pytest.raises(InputError):
        gamma_covariance_integral(np.array([[1.0, 2.0], [0.0, 1.0]]), 1.0, 1.0, np.eye(2))


def test_float_method_of_steps_long_horizon():
    from theory.fundamental import iter_gamma_pieces_float

    # 150 pieces: stable (a τ = 1.2) and unstable-oscillatory (complex λ) factors, vs the
    # exact mp method of steps of this file at 60 digits
    lams, tau, K, s = [1.2, 2.0 + 1.5j], 1.0, 150, 0.37
    it = iter_gamma_pieces_float(lams, tau)
    for _ in range(K):
        c = next(it)
    vals = (c * s ** np.arange(c.shape[1])).sum(axis=1)
    with mpmath.workdps(60):
        for lam, val in zip(lams, vals):
            pieces = steps_matrix(mpmath.matrix([[mpmath.mpc(lam)]]), 1, K)
            ref = complex(eval_pieces(pieces, 1, (K - 1) + s)[0, 0])
            # relative to max|Γ| on [0, t]: 1e-16 e^{|λ|τ} per piece, decaying propagation
            scale = max(abs(ref), 1.0)
            assert abs(val - ref) < 1e-11 * scale


def test_symbolic_method_of_steps_matches_series_and_numeric_gamma():
    """The SymPy method of steps (integration piece by piece) equals the scalar series and, at
    a numeric point, gamma_scalar."""
    import sympy as sp

    from theory.fundamental import gamma_scalar, latex_section, method_of_steps_symbolic

    lam, tau, t = sp.symbols("lambda tau t", positive=True)
    pieces = method_of_steps_symbolic(5)
    for k, piece in enumerate(pieces):
        series = sum((-lam) ** j * (t - j * tau) ** j / sp.factorial(j) for j in range(k + 1))
        assert sp.expand(piece - series) == 0
    value = pieces[4].subs({lam: sp.Rational(3, 2), tau: sp.Rational(1, 3), t: sp.Rational(3, 2)})
    assert abs(float(value) - float(gamma_scalar(1.5, 1 / 3, 1.5))) < 1e-14
    assert "equals the series" in latex_section()
