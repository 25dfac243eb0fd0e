"""Tests for theory.roots: certified V against Lambert W references and the full determinant.

References: SPEC §4 (W₀(−1) = −0.3181315052047641353 ± 1.3372357014306894089i, roots
W_k(−λτ)/τ); the double root β = −1/τ at λτ = 1/e (f = f' = 0); the crossing λτ = π/2 with
dβ/dλ = −e^{−βτ}/(1 − λτe^{−βτ}) at β = iπ/(2τ) (implicit differentiation of β + λe^{−βτ} = 0);
findroot on det(βI + Ãe^{−βτ}) for non-symmetric Ã; high-precision mp.eigsy for SPD Ã.
"""

import mpmath
import numpy as np
import pytest

from theory.errors import InputError
from theory.roots import _count_zeros, characteristic_roots

# kept as strings: converted inside workdps(30), not at import precision (15 digits)
REF_RE_S = "-0.3181315052047641353"
REF_IM_S = "1.3372357014306894089"


def test_lambert_w_reference_value():
    with mpmath.workdps(30):
        w = mpmath.lambertw(-1)
        REF_RE, REF_IM = mpmath.mpf(REF_RE_S), mpmath.mpf(REF_IM_S)
        assert abs(w - mpmath.mpc(REF_RE, REF_IM)) < 1e-19


def test_s_plus_exp_minus_s():
    # s + e^{−s} = 0  <=>  Ã = [[1]], τ = 1
    with mpmath.workdps(30):
        res = characteristic_roots([[1]], 1)
        REF_RE, REF_IM = mpmath.mpf(REF_RE_S), mpmath.mpf(REF_IM_S)
        assert abs(res.V - REF_RE) < 1e-19
        assert len(res.argmax) == 2
        assert all(abs(abs(b.imag) - REF_IM) < 1e-19 for b in res.argmax)
        assert res.certified and res.is_V_negative is True
        assert res.eigen[0].strip.zeros == 2 and res.eigen[0].above.zeros == 0
        assert res.determinant_check["distance"] < 1e-25
        assert "-0.31813150520476413531" in res.latex_section()


def test_double_root_at_one_over_e():
    # λτ = 1/e: double root β = −1/τ; the rounded input splits it by O(sqrt(10^-dps))
    with mpmath.workdps(30):
        tau = mpmath.mpf(2)
        res = characteristic_roots(mpmath.matrix([[1 / (mpmath.e * tau)]]), tau)
        assert abs(res.V - (-1 / tau)) < 1e-13
        assert res.eigen[0].strip.zeros == 2  # multiplicity two, certified by the contour
        assert res.certified and res.is_V_negative is True


@pytest.mark.parametrize("offset", ["-1e-10", "1e-10"])
def test_crossing_at_pi_over_two(offset):
    with mpmath.workdps(30):
        lam = mpmath.pi / 2 + mpmath.mpf(offset)
        res = characteristic_roots(mpmath.matrix([[lam]]), 1)
        # first-order perturbation of the root iπ/2 of β + (π/2)e^{−β}: Re dβ/dλ = (π/2)/(1+π²/4)
        slope = (mpmath.pi / 2) / (1 + mpmath.pi**2 / 4)
        assert abs(res.V - slope * mpmath.mpf(offset)) < 1e-18
        assert res.is_V_negative is (mpmath.mpf(offset) < 0)
        assert res.certified


def test_exactly_pi_over_two_is_undecidable():
    with mpmath.workdps(30):
        res = characteristic_roots(mpmath.matrix([[mpmath.pi / 2]]), 1)
        assert abs(res.V) < 1e-28
        assert res.is_V_negative is None


def test_negative_eigenvalue_gives_positive_V():
    with mpmath.workdps(30):
        res = characteristic_roots([[-0.5]], 1)
        assert abs(res.V - mpmath.lambertw(0.5)) < 1e-25
        assert res.is_V_negative is False


@pytest.mark.parametrize(
    "A,tau",
    [
        ([[1.5, -0.8], [0.9, 0.7]], 1.0),  # complex pair, V > 0
        ([[0.3, -2.5, 0.0], [2.5, 0.3, 0.1], [0.0, 0.0, 0.4]], 0.4),  # large imaginary parts
    ],
)
def test_nonsymmetric_against_full_determinant(A, tau):
    with mpmath.workdps(30):
        res = characteristic_roots(A, tau)
        M = mpmath.matrix(A)
        d = M.rows

        def det(x):
            return mpmath.det(x * mpmath.eye(d) + M * mpmath.exp(-x * tau))

        # every root findroot reaches from a grid of starts lies at Re ≤ V (+ tolerance), and
        # the argmax is a root of the full determinant
        found = []
        for re0 in (-1, 0, 1):
            for im0 in (-4, -2, -0.5, 0.5, 2, 4):
                try:
                    found.append(mpmath.findroot(det, mpmath.mpc(re0, im0), solver="secant"))
                except (ValueError, ZeroDivisionError, TypeError):
                    pass  # no convergence from this start (TypeError: mpmath LU on nan)
        found = [b for b in found if abs(det(b)) < 1e-20]
        assert found
        assert max(b.real for b in found) <= res.V + 1e-20
        assert any(abs(b - res.argmax[0]) < 1e-20 for b in found) or abs(det(res.argmax[0])) < 1e-25
        # and V is the max over many Lambert-W branches of the exact eigenvalues
        lams = mpmath.eig(M, left=False, right=False)
        ref = max((mpmath.lambertw(-lam * tau, k) / tau).real for lam in lams for k in range(-6, 7))
        assert abs(res.V - ref) < 1e-25
        assert res.certified


@pytest.mark.parametrize("d,seed", [(20, 3), (30, 4)])
def test_random_spd_against_lambert_w(d, seed):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    A = B @ B.T / d
    tau = 0.7
    with mpmath.workdps(60):
        lams = mpmath.eigsy(mpmath.matrix(A.tolist()), eigvals_only=True)
        ref = max((mpmath.lambertw(-lam * tau) / tau).real for lam in lams)
    with mpmath.workdps(30):
        res = characteristic_roots(A, tau)
        assert abs(res.V - ref) < 1e-25
        assert res.certified
        assert res.is_V_negative is (ref < 0)


@pytest.mark.parametrize("lam,tau,c", [(1, 1, -2), (3, 0.5, -4), (0.2, 2.0, -1.5)])
def test_contour_count_equals_branch_count(lam, tau, c):
    # argument principle vs brute-force enumeration of the branches k = −30..30
    with mpmath.workdps(30):
        lam_m, tau_m, c_m = mpmath.mpc(lam), mpmath.mpf(tau), mpmath.mpf(c)
        cnt = _count_zeros(lam_m, mpmath.mpf(0), tau_m, c_m, 200_000)
        brute = sum(
            1 for k in range(-30, 31) if (mpmath.lambertw(-lam_m * tau_m, k) / tau_m).real >= c_m
        )
        assert cnt.zeros == brute


@pytest.mark.parametrize(
    "A,tau,param",
    [
        ([[1.0]], 0.0, "tau"),
        ([[1.0]], -1.0, "tau"),
        ([[1.0]], float("nan"), "tau"),
        ([[1.0, 2.0]], 1.0, "A_tilde"),
        ([[float("inf")]], 1.0, "A_tilde"),
        ([[1j]], 1.0, "A_tilde"),
    ],
)
def test_bad_input(A, tau, param):
    with pytest.raises(InputError) as info:
        characteristic_roots(A, tau)
    assert info.value.parameter == param


def test_certificate_detects_a_missed_root(monkeypatch):
    # falsified candidate set: only W_0, so the conjugate root W_{-1}(−1) is missing; the strip
    # count (2) must then disagree with the candidates (1) and the result must not be certified
    import theory.roots as roots

    monkeypatch.setattr(roots, "_BRANCHES", (0,))
    with mpmath.workdps(30):
        res = roots.characteristic_roots([[1]], 1)
    assert res.eigen[0].strip.zeros == 2
    assert res.eigen[0].expected_in_strip == 1
    assert res.certified is False
