"""R7/R8 tests: energy functions of Thm 4.2 / Cor 4.3 against hand derivations and exact ODEs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

from theory import energy as E
from theory.errors import InputError
from theory.ito import IP, R2, SDDE, TR, generator, state_symbols
from theory.schemes import check_identity

t, theta, tau, delta, mu, L, D, H = E.t, E.theta, E.tau, E.delta, E.mu, E.L, E.D, E.H


def test_thm42_sdde_from_eq6():
    assert all(c.holds for c in E.thm42_sdde_checks())


def _paper_first_equality(K):
    # Typed from the paper (proof of Thm 4.2), integrand of dt.
    return (
        R2 / 2
        - IP / mu
        + IP / (t * mu)
        + (t - 1) * delta / (2 * mu**2 * t**2) * TR
        - K / (2 * t * mu**2)
    )


@pytest.mark.parametrize("corollary", [False, True])
def test_ito_derivation_equals_printed_first_equality(corollary):
    K = (delta + 1) * H if corollary else (delta + 1) * (H + 2 * L**2 * D**2 * tau)
    assert sp.simplify(E.energy_rate_vector_form(corollary) - _paper_first_equality(K)) == 0
    assert all(c.holds for c in E.ito_equality_checks(corollary))


def test_energy_generator_by_hand_d2():
    # Hand: E(t) = (t-1)/2 ((x1-a1)^2 + (x2-a2)^2) - K ln t/(2 mu^2) on the Thm 4.2 SDDE with
    # drift -(1/(mu t)) G(y) and diffusion sqrt(delta)/(mu t) sigma:
    # L E = 1/2 r2 - (t-1)/(mu t) <G, x-a>
    #       + (t-1)/2 * delta/(mu^2 t^2) sum sigma_ij^2 - K/(2 mu^2 t).
    x = state_symbols(2, "x")
    y = state_symbols(2, "y")
    a1, a2, K = sp.symbols("a1 a2 K")
    G = [sp.Function(f"G{i}")(*y) for i in (1, 2)]
    s = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"s{i}{j}"))
    sdde = SDDE(
        t=t, x=x, y=y, drift=-1 / (mu * t) * sp.Matrix(G), diffusion=sp.sqrt(delta) / (mu * t) * s
    )
    r2 = (x[0] - a1) ** 2 + (x[1] - a2) ** 2
    f = (t - 1) / 2 * r2 - K * sp.log(t) / (2 * mu**2)
    hand = (
        r2 / 2
        - (t - 1) / (mu * t) * (G[0] * (x[0] - a1) + G[1] * (x[1] - a2))
        + (t - 1) / 2 * delta / (mu**2 * t**2) * sum(v**2 for v in s)
        - K / (2 * mu**2 * t)
    )
    assert sp.simplify(generator(f, sdde) - hand) == 0


def test_perturbed_equality_is_reported_false():
    # The paper's coefficient (t-1) delta/(2 mu^2 t^2) replaced by delta/(2 mu^2 t): must fail.
    K = (delta + 1) * (H + 2 * L**2 * D**2 * tau)
    wrong = _paper_first_equality(K) + (delta / (2 * mu**2 * t**2)) * TR
    c = check_identity("perturbed", E.energy_rate_vector_form(), wrong)
    assert not c.holds_symbolically and not c.holds_numerically


POINT = dict(
    r2=np.array([2.0, 0.5]),
    ip=np.array([3.0, -1.0]),
    tr_sigma=np.array([1.0, 1.0]),
    t=2.0,
    theta=0.5,
    delta=0.25,
    mu=1.0,
    L=2.0,
    D=1.0,
    H=5.0,
    tau=1.0,
)


def test_proof_steps_numeric_by_hand():
    steps = {s.name: s for s in E.proof_steps()}
    assert list(steps) == [
        "ito",
        "first_inequality",
        "nonpositive",
        "energy_decreases",
        "final_bound",
    ]
    # K = (1 + 1/4)(5 + 2*4*1*1) = 16.25.
    K = 16.25
    # Path 1: 1 - 3 + 3/2 + (1)(1/4)/(2*4) - K/4 = -4.53125; path 2: 1/4 + 1 - 1/2 + 1/32 - K/4.
    eq = steps["first_inequality"].left_value(**POINT)
    np.testing.assert_allclose(eq, [-4.53125, 0.25 + 1 - 0.5 + 1 / 32 - K / 4], rtol=1e-14)
    np.testing.assert_allclose(steps["ito"].left_value(**POINT), eq, rtol=1e-14)
    # Right: 4*0.5/2 + 2/2 + 0.25/4 - K/4 = -2.0 on both paths.
    np.testing.assert_allclose(steps["first_inequality"].right_value(**POINT), [-2.0, -2.0])
    np.testing.assert_allclose(steps["nonpositive"].right_value(**POINT), [0.0, 0.0])
    np.testing.assert_allclose(
        steps["energy_decreases"].left_value(**POINT),
        [1.0 - K * math.log(2) / 2, 0.25 - K * math.log(2) / 2],
    )
    np.testing.assert_allclose(steps["final_bound"].right_value(**POINT), [K * math.log(2)] * 2)
    np.testing.assert_allclose(steps["final_bound"].left_value(**POINT), POINT["r2"])
    with pytest.raises(InputError):
        steps["final_bound"].left_value(r2=1.0)


def test_corollary_steps_have_no_delay():
    steps = E.proof_steps(corollary=True)
    for s in steps:
        assert "theta" not in s.arguments and "tau" not in s.arguments
    # Cor 4.3 final bound: (delta+1) H ln t / ((t-1) mu^2) at delta=1, H=3, t=e, mu=2.
    val = steps[-1].right_value(r2=0.0, t=math.e, delta=1.0, mu=2.0, H=3.0, L=1.0, D=1.0)
    assert val == pytest.approx(2 * 3 / ((math.e - 1) * 4), rel=1e-14)


def test_nonpositive_certificate_has_nonnegative_coefficients():
    for cor in (False, True):
        cert = E.nonpositive_certificate(cor)
        assert all(s.is_nonnegative for s in cert.free_symbols)
        poly = sp.Poly(cert, *sorted(cert.free_symbols, key=str))
        assert all(c > 0 for c in poly.coeffs())


def test_quadratic_moment_ode_by_hand_and_at_d2():
    derived, _, check = E.quadratic_moment_ode(d=2)
    assert check.holds
    # Hand, d = 2, entry (1,2): -(Q11 P12 + Q12 P22 + P11 Q12 + P12 Q22)/(mu t)
    #                            + delta (s11 s21 + s12 s22)/(mu^2 t^2).
    Q11, Q12, Q22, P11, P12, P22, s11, s12, s21, s22 = (
        sp.Symbol(n, real=True)
        for n in "Q_11 Q_12 Q_22 P_11 P_12 P_22 sigma_11 sigma_12 sigma_21 sigma_22".split()
    )
    hand12 = -(Q11 * P12 + Q12 * P22 + P11 * Q12 + P12 * Q22) / (mu * t) + delta * (
        s11 * s21 + s12 * s22
    ) / (mu**2 * t**2)
    assert sp.simplify(derived[0, 1] - hand12) == 0
    assert sp.simplify(derived[1, 0] - hand12) == 0
    # Hand, d = 1: P' = -2 Q P/(mu t) + delta sigma^2/(mu^2 t^2).
    d1, _, _ = E.quadratic_moment_ode(d=1)
    Q, P, s = (
        sp.Symbol("Q_11", real=True),
        sp.Symbol("P_11", real=True),
        sp.Symbol("sigma_11", real=True),
    )
    assert sp.simplify(d1[0, 0] - (-2 * Q * P / (mu * t) + delta * s**2 / (mu**2 * t**2))) == 0


def test_quadratic_closed_form_checks():
    assert all(c.holds for c in E.quadratic_msd_checks())


def test_quadratic_msd_vs_ode_integration():
    # Independent reference: integrate the matrix ODE P' = -(QP+PQ)/(mu t) + delta S/(mu^2 t^2)
    # with an adaptive RK method at rtol 1e-11 (no eigen-decomposition involved).
    Q = np.array([[2.0, 0.7, 0.0], [0.7, 1.5, 0.3], [0.0, 0.3, 0.6]])
    sigma = np.array([[0.3, 0.1], [0.0, 0.5], [0.2, -0.4]])
    mu_, delta_ = float(np.linalg.eigvalsh(Q).min()), 0.3
    y0 = np.array([1.0, -2.0, 0.5])
    P1 = np.outer(y0, y0)
    S = sigma @ sigma.T

    def rhs(tt, p):
        P = p.reshape(3, 3)
        return (-(Q @ P + P @ Q) / (mu_ * tt) + delta_ * S / (mu_**2 * tt**2)).ravel()

    ts = np.array([1.0, 1.5, 3.0, 10.0, 50.0])
    sol = solve_ivp(
        rhs, (1.0, 50.0), P1.ravel(), t_eval=ts, rtol=1e-11, atol=1e-14, method="DOP853"
    )
    ref = np.trace(sol.y.reshape(3, 3, -1))
    np.testing.assert_allclose(E.quadratic_msd(ts, Q, sigma, mu_, delta_, P1), ref, rtol=1e-8)


def test_quadratic_msd_scalar_by_hand_and_resonance():
    # Scalar: a = 2q/mu = 3, c = delta s^2/mu^2: p = p1 t^-3 + c/2 (1/t - t^-3).
    q_, mu_, delta_, s_, p1_ = 1.5, 1.0, 0.5, 2.0, 0.7
    c = delta_ * s_**2 / mu_**2
    for tt in (1.0, 2.0, 7.5):
        hand = p1_ * tt**-3 + c / 2 * (1 / tt - tt**-3)
        got = E.quadratic_msd(np.array([tt]), [[q_]], [[s_]], mu_, delta_, [[p1_]])[0]
        assert got == pytest.approx(hand, rel=1e-13)
    # a = 1 exactly (q = mu/2): p = (p1 + c ln t)/t; and continuity just next to it.
    got = E.quadratic_msd(np.array([4.0]), [[0.5]], [[s_]], 1.0, delta_, [[p1_]])[0]
    assert got == pytest.approx((p1_ + c * math.log(4.0)) / 4.0, rel=1e-13)
    near = E.quadratic_msd(np.array([4.0]), [[0.5 + 1e-9]], [[s_]], 1.0, delta_, [[p1_]])[0]
    assert near == pytest.approx(got, rel=1e-7)


def test_quadratic_msd_bad_input():
    with pytest.raises(InputError):
        E.quadratic_msd(np.array([0.5]), [[1.0]], [[1.0]], 1.0, 1.0, [[1.0]])
    with pytest.raises(InputError):
        E.quadratic_msd(np.array([2.0]), [[-1.0]], [[1.0]], 1.0, 1.0, [[1.0]])
    with pytest.raises(InputError):
        E.quadratic_msd(
            np.array([2.0]), [[1.0, 2.0], [0.0, 1.0]], [[1.0], [1.0]], 1.0, 1.0, np.eye(2)
        )
