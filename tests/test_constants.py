"""Tests for theory.constants against independent references.

References: brute-force maximisation of |Γ(t)|e^{λt} on a fine grid far beyond the proved horizon
with Γ from the mpmath series (theory.fundamental.gamma_scalar / gamma); sup_t max_i = max_i
sup_t for symmetric Ã (rotation invariance of the spectral norm); hand-computed recursions and
formulas (values worked out in the comments).
"""

import math

import mpmath
import numpy as np
import pytest

from theory.constants import (
    c_lambda,
    delay_recursion,
    phi_from_trace,
    thm32_lines,
    thm34_lines,
    thm41_constants,
    thm42_bound,
)
from theory.errors import InputError
from theory.fundamental import gamma, gamma_scalar


def brute_c_lambda_scalar(a, tau, lam, t_max, n):
    ts = np.linspace(0.0, t_max, n)
    with mpmath.workdps(20):
        y = [abs(float(gamma_scalar(a, tau, t))) * math.exp(lam * t) for t in ts]
    return max(y)


@pytest.mark.parametrize(
    "a,tau,frac,t_max",
    [
        (1.0, 1.0, 0.5, None),
        (1.4, 1.0, 0.6, None),
        (0.3, 2.0, 0.8, None),
        # sup attained inside piece 2 (t ≈ 2.68), horizon T = 274: brute force near the max only
        (1.5, 1.0, 0.9, 12.0),
    ],
)
def test_c_lambda_scalar_brute_force(a, tau, frac, t_max):
    # V of the scalar factor from Lambert W (SPEC §4), λ = frac·(−V)
    with mpmath.workdps(30):
        V = float((mpmath.lambertw(-a * tau) / tau).real)
    lam = -V * frac
    res = c_lambda(np.array([[a]]), tau, lam)
    # brute force to 3x the proved horizon (and at least 40): the sup is not beyond T
    t_max = max(3 * res.horizon, 40.0) if t_max is None else t_max
    brute = brute_c_lambda_scalar(a, tau, lam, t_max, 2001)
    assert brute <= res.upper * (1 + 1e-12)
    # grid of spacing ≥ 0.02 under-estimates the max by at most a smooth O(h²) amount
    assert res.value >= brute * (1 - 1e-12)
    assert abs(res.value - brute) < 5e-3 * brute
    # value is attained: recompute at argmax with the mp series
    with mpmath.workdps(30):
        at = abs(float(gamma_scalar(a, tau, res.argmax_t))) * math.exp(lam * res.argmax_t)
    assert abs(at - res.value) < 1e-10


def test_c_lambda_symmetric_is_max_over_eigenvalues():
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lams = np.array([0.4, 1.0, 1.4])
    A = Q @ np.diag(lams) @ Q.T
    A = (A + A.T) / 2
    tau = 1.0
    with mpmath.workdps(30):
        V = max(float((mpmath.lambertw(-x * tau) / tau).real) for x in lams)
    lam = -0.5 * V
    full = c_lambda(A, tau, lam, V=V).value
    per = max(c_lambda(np.array([[x]]), tau, lam, V=V).value for x in lams)
    assert abs(full - per) < 1e-9


def test_c_lambda_nonsymmetric_brute_force():
    A = np.array([[0.6, -0.3], [0.4, 0.5]])
    tau, lam = 1.0, 0.1
    res = c_lambda(A, tau, lam)
    ts = np.linspace(0, 3 * res.horizon, 601)
    with mpmath.workdps(20):
        brute = max(
            np.linalg.norm(np.array(gamma(A.tolist(), tau, t).tolist(), dtype=float), 2)
            * math.exp(lam * t)
            for t in ts
        )
    assert brute <= res.upper * (1 + 1e-12)
    assert abs(res.value - brute) < 5e-3 * brute


def test_lambda_outside_interval_names_it():
    with pytest.raises(InputError) as info:
        c_lambda(np.array([[1.0]]), 1.0, 0.5)  # −V = 0.318...
    assert info.value.parameter == "lam"
    assert "0.318131505" in str(info.value)
    with pytest.raises(InputError) as info:
        c_lambda(np.array([[1.0]]), 1.0, 0.0)
    assert info.value.parameter == "lam"


def test_V_nonnegative_is_rejected():
    with pytest.raises(InputError) as info:
        c_lambda(np.array([[2.0]]), 1.0, 0.1)  # aτ = 2 > π/2: V > 0
    assert info.value.parameter == "A_tilde"


def test_thm41_formulas_by_hand():
    cl = c_lambda(np.array([[1.0]]), 1.0, 0.15)
    c = cl.value
    r = thm41_constants(np.array([[1.0]]), 1.0, 0.15, 0.01, 2.0, 3.0, c_lam=cl)
    # a1 = c‖ξ̃‖(1 + ‖Ã‖(e^{λτ}−1)/λ), a2 = c² η E‖σ‖²/(2λ), η = ε/τ² = 0.01
    assert abs(r.a1 - c * 2.0 * (1 + (math.exp(0.15) - 1) / 0.15)) < 1e-12
    assert abs(r.a2 - c**2 * 0.01 * 3.0 / 0.3) < 1e-14
    assert abs(r.C5 - c**2 / 0.15**2 * (4.0 * 1.15**2 + 0.15 * 0.01 * 3.0)) < 1e-10
    assert abs(r.C6 - c**2 * 1.5) < 1e-12
    ts = np.array([0.5, 2.0, 10.0])
    # the final display is the intermediate display with η = ε/τ² (algebraic identity)
    assert np.allclose(r.final_bound(ts), r.intermediate_bound(ts), rtol=1e-13)
    # the two sketch claims combined are below the printed display (a1 ≤ c‖ξ̃‖(‖Ã‖+λ)e^{λτ}/λ)
    assert np.all(r.combined_bound(ts) <= r.intermediate_bound(ts))
    assert "C_5" in r.latex_section()


def test_delay_recursion_by_hand():
    # K=3, l=1, q=(1/2,1/2), ηL=0.1, P=1: A1 = 1, A2 = 1 + 0.1·(0.5·1) + 1 = 2.05,
    # A3 = 2.05 + 0.1·(0.5·2.05 + 0.5·1) + 1 = 3.2025
    A = delay_recursion(3, 0.1, 1.0, 1.0, [0.5, 0.5])
    assert np.allclose(A, [0, 1, 2.05, 3.2025], rtol=0, atol=1e-15)


def test_thm32_lines():
    # closed form vs sum recursion, K=3, g=0.2, P=1: B = 1, 2.2, 3.64 and 3 + 0.2(2 + 1.2) = 3.64
    r = thm32_lines(3, 0.1, 1.0, 1, 1.0)
    assert abs(r.lines["sum_recursion"] - 3.64) < 1e-14
    assert abs(r.lines["closed_form"] - 3.64) < 1e-14
    r = thm32_lines(200, 1 / 200, 1.5, 4, 0.01, Phi=2.0)
    v = r.lines
    assert abs(v["closed_form"] - v["sum_recursion"]) < 1e-12 * v["closed_form"]
    # valid steps when g ≤ 1: (1+g)^K ≤ e^{gK}; g/ln²(1+g) ≤ 4/g
    assert r.hypothesis
    assert v["closed_form"] <= v["log_bound"] <= v["exp_bound"] <= v["final"]
    assert v["exact_q"] <= v["q_le_1"] <= v["sum_recursion"]
    assert abs(r.C2 - (4 * 2.0 / 1.5 + 2.0 * 5 * math.exp(-7.5))) < 1e-14


def test_thm34_lines_by_hand():
    # l=1, K=2, η=0.1, L=1, Φ=1, b=1 (P = 0.1): A1 = 0.1, A2 = 0.1 + 0.1·A0 + 0.1 = 0.2;
    # first line: ηL·A1 + P·kl = 0.01 + 0.2 = 0.21
    r = thm34_lines(2, 0.1, 1.0, 1, 1.0, 1.0)
    assert abs(r.lines["exact"] - 0.2) < 1e-15
    assert abs(r.lines["first"] - 0.21) < 1e-15
    # line c: 0.1·1.1·2·1.1/ln 1.1 · P + 0.01·Σ_{i<2}1.1^i(1−i) = 0.242/ln1.1·0.1 + 0.01
    assert abs(r.lines["line_c"] - (0.242 / math.log(1.1) * 0.1 + 0.01)) < 1e-14
    # with Φ ≠ 1 the printed first term (η/√b, no Φ) differs from the P version by the factor Φ
    r2 = thm34_lines(2, 0.1, 1.0, 1, 3.0, 1.0)
    first_printed = r2.lines["line_c_as_printed"] - 0.03
    first_p = r2.lines["line_c"] - 0.03
    assert abs(first_p / first_printed - 3.0) < 1e-12
    with pytest.raises(InputError):
        thm34_lines(5, 0.1, 1.0, 2, 1.0, 1.0)  # 2 does not divide 5


def test_phi_and_thm42():
    assert phi_from_trace(4.0) == 4.0  # 2·sqrt(4)
    r = thm42_bound(delta=0.5, L=2.0, mu=0.5, D=1.0, tau=0.2, trace_sigma=3.0)
    assert r.H_min == 3.0 + 2 * 0.5 * 2.0 * 1.0
    # (δ+1)(H + 2L²D²τ) ln t/((t−1)μ²) at t = e: 1.5·(5 + 1.6)·1/((e−1)·0.25)
    assert abs(r.rhs(math.e) - 1.5 * 6.6 / ((math.e - 1) * 0.25)) < 1e-12
    with pytest.raises(InputError) as info:
        thm42_bound(0.5, 2.0, 0.5, 1.0, 0.2, 3.0, H=4.0)
    assert info.value.parameter == "H"
    with pytest.raises(InputError):
        r.rhs(1.0)
    assert "H_{\\min}" in r.latex_section()


def test_c_lambda_close_to_minus_V_does_not_overflow():
    """lambda = 0.999(-V): the horizon is ~2000 pieces, where e^{lambda t} alone overflows
    and Gamma(t) alone underflows; the weighted method of steps must still give a finite
    c_lambda at least the value at the sampled maximum of the lambda = 0.99(-V) case
    (c_lambda is non-decreasing in lambda: ||Gamma(t)|| e^{lambda t} grows with lambda)."""
    import numpy as np

    from theory.constants import c_lambda
    from theory.roots import characteristic_roots

    A, tau = np.array([[1.0]]), 0.3
    V = float(characteristic_roots(A, tau).V)
    near = c_lambda(A, tau, 0.999 * -V, V=V)
    less = c_lambda(A, tau, 0.99 * -V, V=V)
    assert np.isfinite(near.value) and near.theta < 1
    assert near.value >= less.value
