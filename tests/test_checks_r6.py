"""Tests of the R6 checks (Theorem 4.1, `verify/checks/r6_thm41.py`).

Structural tests run every check in the quick profile through `Check.execute`; they never
assert that a real claim passes or fails. Falsified claims are built from exact references
(the deterministic start $X(0) = \\xi$, Küchler–Mensch's stationary variance, the exact
equality of the last proof step, the SPEC §4 root $W_0(-1)$) and must come out FAIL.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics.synthetic import SyntheticInputError, spectral_least_squares
from theory.constants import c_lambda, thm41_constants
from theory.roots import characteristic_roots
from verify.checks import r6_thm41 as r6
from verify.context import RunContext
from verify.verdict import METHODS, Verdict

ONE_POINT = dict(kappas=(1.0,), a_taus=(1.0,), lam_fracs=(0.5,), mc_paths=0)


def run(check, **overrides):
    return check.execute(RunContext(check.id), overrides or None)


@pytest.fixture(scope="module")
def quick_results():
    """Every R6 check once in the quick profile (shared: the suite's budget is small)."""
    return {c.id: run(c) for c in r6.CHECKS}


def _t0_row(res):
    """The applicable rows: each is one grid point whose curve starts at t = 0 (where the
    falsified bounds below are false by construction)."""
    rows = [g for g in res.details["grid"] if g["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE")]
    assert rows and all(g["elements"] >= 2 for g in rows)
    return rows


def _final_at_0(c, tau: float) -> float:
    """Thm 4.1's right side at t = 0, recomputed here from the constants (not from the claim):
    C5 e^{2 lambda tau} + C6 epsilon / (lambda tau^2)."""
    return c.C5 * math.exp(2 * c.lam * tau) + c.C6 * c.epsilon / (c.lam * tau**2)


# ------------------------------------------------------------------------ structure


def test_ids_unique_and_levels():
    ids = [c.id for c in r6.CHECKS]
    assert len(ids) == len(set(ids))
    assert {"R6-V", "R6-as-stated", "R6-as-applied"} <= set(ids)
    assert {c.level for c in r6.CHECKS} == {"as-stated", "as-applied", "proof-step"}


def test_quick_results_are_structurally_complete(quick_results):
    for cid, res in quick_results.items():
        assert res.error == "", f"{cid} raised: {res.error}"
        # the verdict follows from the recorded headline (SPEC §5): PASS => bound <= rhs,
        # FAIL => bound > rhs, for every engine-decided check (slack 1e-9: equality steps)
        if res.verdict is Verdict.PASS and "evidence" in res.details:
            assert res.confidence_bound <= res.rhs + 1e-9 * abs(res.rhs), res.id
        if res.verdict is Verdict.FAIL and "evidence" in res.details:
            assert res.confidence_bound > res.rhs, res.id
        assert res.verdict is not Verdict.NOT_APPLICABLE, cid  # quick grids are applicable
        assert res.method in METHODS
        assert res.message
        assert res.confidence_bound is not None  # may be inf: an overflowed exact recursion
        assert res.bound_kind.startswith("exact")
        assert res.details["profile"] == "quick"
        assert res.runtime_s > 0
        if cid != "R6-proof-decomposition" and cid != "R6-V":
            assert res.hypotheses and all(h.holds for h in res.hypotheses)
            grid = res.details["grid"]
            applicable = [g for g in grid if g.get("verdict") in ("PASS", "FAIL")]
            assert applicable
            for g in applicable:
                assert {"estimate", "rhs", "ratio", "verdict"} <= set(g)


def test_quick_grids_report_not_applicable_points(quick_results):
    # L tau = 1.6 > pi/2 is in the quick grids of as-stated and as-applied: V > 0 there
    # (Hayes), so those points must be listed as NOT APPLICABLE with a reason, not dropped.
    for cid in ("R6-as-stated", "R6-as-applied"):
        na = [g for g in quick_results[cid].details["grid"] if g["verdict"] == "NOT_APPLICABLE"]
        assert na and all(g["L_tau"] == 1.6 and "V < 0" in g["reason"] for g in na)


def test_as_applied_rows_carry_the_continuous_reference(quick_results):
    rows = [g for g in quick_results["R6-as-applied"].details["grid"] if "max_gap_to_sdde" in g]
    assert rows
    for g in rows:
        assert {"delayed_gd_stable", "overflow", "eta", "epsilon", "l"} <= set(g)
        # the theorem's coupling of the parameters: tau = l eta, epsilon = eta tau^2, t = k eta
        assert g["tau"] == pytest.approx(g["l"] * g["eta"], rel=1e-12)
        assert g["epsilon"] == pytest.approx(g["eta"] * g["tau"] ** 2, rel=1e-12)
        k = g["x"] / g["eta"]
        assert k == pytest.approx(round(k), abs=1e-9)


def test_mc_sanity_row_recorded(quick_results):
    mc = quick_results["R6-as-stated"].details["mc_sanity"]
    assert mc["paths"] == r6.Thm41AsStated.quick["mc_paths"]
    assert mc["bound_kind"].startswith("Student-t")
    assert {"mc_lcb", "mc_ucb", "em_exact", "continuous_exact", "em_bias"} <= set(mc)


def test_full_profiles_construct():
    for c in r6.CHECKS:
        full, quick = c.params_for("full"), c.params_for("quick")
        assert set(quick) <= set(full)


# ------------------------------------------------------------------------ design


def test_design_has_the_prescribed_spectrum():
    p = spectral_least_squares(100.0, 3, 40, 7)
    eig = np.linalg.eigvalsh(p.A.T @ p.A / p.n)
    np.testing.assert_allclose(eig, np.geomspace(0.01, 1.0, 3), rtol=1e-12)


def test_design_rejects_bad_input():
    with pytest.raises(SyntheticInputError):
        spectral_least_squares(0.5, 3, 40, 7)
    with pytest.raises(SyntheticInputError):
        spectral_least_squares(1.0, 3, 2, 7)


# ------------------------------------------------------------------------ hypotheses


@pytest.mark.parametrize(
    "check", [r6.Thm41AsStated(), r6.Thm41AsApplied(), r6.Thm41ProofMean()], ids=str
)
def test_not_applicable_when_V_nonnegative(check):
    # L tau = 1.6 > pi/2: the rightmost root of beta + e^{-beta tau} L has Re > 0 (Hayes)
    res = run(check, kappas=(1.0,), a_taus=(1.6,), search_budget=0)  # the grid alone
    assert res.verdict is Verdict.NOT_APPLICABLE
    assert "V < 0" in res.message


def test_not_applicable_when_lambda_outside_interval():
    res = run(r6.Thm41AsStated(), **{**ONE_POINT, "lam_fracs": (1.2,)})
    assert res.verdict is Verdict.NOT_APPLICABLE
    assert "lambda" in res.message


def test_rhs_scale_must_be_positive():
    res = run(r6.Thm41AsStated(), **{**ONE_POINT, "rhs_scale": -1.0})
    assert res.verdict is Verdict.INCONCLUSIVE and "rhs_scale" in res.error


# ------------------------------------------------------------------------ falsified claims


def _constants_at(kappa: float, L_tau: float, lam_frac: float, eps: float, b: int = 1):
    """The theorem's right side for one grid point, from theory.constants."""
    p = spectral_least_squares(kappa, 3, 40, r6.Thm41AsStated.quick["data_seed"])
    A = 0.5 * (p.A_tilde + p.A_tilde.T)
    tau = L_tau / float(np.linalg.eigvalsh(A)[-1])
    V = float(characteristic_roots(A, tau).V)
    lam = lam_frac * -V
    x_star = np.asarray(p.x_star)
    sigma_sq = float(np.trace(p.Sigma(x_star))) / b
    c = thm41_constants(A, tau, lam, eps, float(np.linalg.norm(x_star)), sigma_sq, V=V)
    return c, x_star, tau, lam


def test_as_stated_falsified_bound_fails():
    # exact reference: X(0) = xi = 0, so E||X(0) - x*||^2 = ||x*||^2 exactly; scale the
    # bound to half of that at t = 0.
    c, x_star, tau, _ = _constants_at(1.0, 1.0, 0.5, 1e-2)
    scale = 0.5 * float(x_star @ x_star) / _final_at_0(c, tau)
    res = run(r6.Thm41AsStated(), **{**ONE_POINT, "rhs_scale": scale})
    assert res.verdict is Verdict.FAIL
    assert all(g["verdict"] == "FAIL" for g in _t0_row(res))


def test_proof_mean_falsified_bound_fails():
    # ||E X(0) - x*|| = ||xi - x*|| = ||x*|| exactly; bound a1 e^0 scaled to half of it
    c, x_star, _, _ = _constants_at(1.0, 1.0, 0.5, 1e-2)
    scale = 0.5 * float(np.linalg.norm(x_star)) / c.a1
    res = run(r6.Thm41ProofMean(), **{**ONE_POINT, "rhs_scale": scale})
    assert res.verdict is Verdict.FAIL
    assert res.details["evidence"]["failing_rows"] >= 1


def test_proof_variance_falsified_bound_fails():
    # Kuchler-Mensch per eigen-direction: Var_inf = sum_i S_ii (1+sin l_i tau)/(2 l_i cos l_i tau)
    # (exact, independent of Gamma); scale a2 (the bound at t = inf) to half of it.
    c, x_star, tau, _ = _constants_at(1.0, 1.0, 0.5, 1e-2)
    p = spectral_least_squares(1.0, 3, 40, r6.Thm41AsStated.quick["data_seed"])
    w, P = np.linalg.eigh(0.5 * (p.A_tilde + p.A_tilde.T))
    S = P.T @ p.Sigma(x_star) @ P * (1e-2 / tau**2)
    var_inf = sum(
        S[i, i] * (1 + math.sin(w[i] * tau)) / (2 * w[i] * math.cos(w[i] * tau)) for i in range(3)
    )
    res = run(r6.Thm41ProofVariance(), **{**ONE_POINT, "rhs_scale": 0.5 * var_inf / c.a2})
    assert res.verdict is Verdict.FAIL
    assert res.details["evidence"]["failing_rows"] >= 1


def test_proof_combination_falsified_fails():
    # at t = inf both sides equal a2 exactly (e^{-2 lam t} = 0): halving the rhs is false there
    res = run(r6.Thm41ProofCombination(), **{**ONE_POINT, "rhs_scale": 0.5})
    assert res.verdict is Verdict.FAIL


def test_proof_final_falsified_fails():
    # (d) with eta = eps/tau^2 equals the final display identically (SymPy); 0.9 * rhs is false
    res = run(r6.Thm41ProofFinal(), **{**ONE_POINT, "rhs_scale": 0.9})
    assert res.verdict is Verdict.FAIL
    assert res.details["symbolic"]["identically_equal"] is False


def test_proof_final_symbolic_identity_holds():
    # a mathematical certainty (pure algebra of the printed displays with eta = eps/tau^2 and
    # C5, C6 as defined), so asserting it is not hard-coding a verdict about the paper's claim
    res = run(r6.Thm41ProofFinal(), **ONE_POINT)
    assert res.details["symbolic"]["identically_equal"] is True


def test_decomposition_identity_and_falsified():
    # E||X - x*||^2 = tr Cov + ||EX - x*||^2 is Pythagoras in L^2 (certain); a scaled right
    # side is false for every law with E||X - x*||^2 > 0.
    assert run(r6.Thm41ProofDecomposition()).verdict is Verdict.PASS
    res = run(r6.Thm41ProofDecomposition(), rhs_scale=0.75)
    assert res.verdict is Verdict.FAIL


def test_V_reference_and_falsified():
    # SPEC §4: s + e^{-s} = 0 has rightmost root W0(-1) = -0.3181315052047641353 + 1.337...i;
    # halving the reference makes it false by construction
    res = run(r6.Thm41V(), kappas=(1.0,), a_taus=(0.5,))
    ref = res.details["grid"][0]
    assert ref["V_certified"] == pytest.approx(-0.3181315052047641353, abs=1e-15)
    bad = run(r6.Thm41V(), kappas=(1.0,), a_taus=(0.5,), rhs_scale=0.5)
    assert bad.verdict is Verdict.FAIL


def test_V_rows_follow_hayes_criterion_independently():
    # Hayes (1950): x' = -a x(t - tau) is stable iff a tau < pi/2 -- recomputed here from the
    # eigenvalues, not taken from the check
    res = run(r6.Thm41V(), kappas=(1.0, 100.0), a_taus=(1.0, 1.6))
    for g in res.details["grid"][1:]:
        assert g["hayes_V_negative"] is (g["L_tau"] < math.pi / 2)


def test_as_applied_falsified_bound_fails():
    # exact reference: x_0 = 0, so E||x_0 - x*||^2 = ||x*||^2; bound at t = 0 halved
    l, L_tau = 4, 0.5
    p = spectral_least_squares(1.0, 3, 40, r6.Thm41AsApplied.quick["data_seed"])
    A = 0.5 * (p.A_tilde + p.A_tilde.T)
    tau = L_tau / float(np.linalg.eigvalsh(A)[-1])
    V = float(characteristic_roots(A, tau).V)
    lam = 0.5 * -V
    eta = tau / l
    x_star = np.asarray(p.x_star)
    cl = c_lambda(A, tau, lam, V=V)
    c = thm41_constants(
        A,
        tau,
        lam,
        eta * tau**2,
        float(np.linalg.norm(x_star)),
        float(np.trace(p.Sigma(x_star))),
        V=V,
        c_lam=cl,
    )
    scale = 0.5 * float(x_star @ x_star) / _final_at_0(c, tau)
    res = run(
        r6.Thm41AsApplied(),
        kappas=(1.0,),
        a_taus=(L_tau,),
        ls=(l,),
        lam_fracs=(0.5,),
        bs=(1,),
        noises=("gaussian",),
        rhs_scale=scale,
    )
    assert res.verdict is Verdict.FAIL
    assert all(g["verdict"] == "FAIL" for g in _t0_row(res))


def test_discussion_falsified_exponent_fails():
    # claimed O(eps^2) instead of O(eps): the left side is at least its variance part,
    # (eps/tau^2) tr int_0^{t*} Gamma S Gamma^T >= (eps/tau^2) tr int_0^tau S > 0, i.e. of order
    # eps, so the fitted C eps^2 falls below it on the held-out (smaller) eps.
    res = run(r6.Thm41Discussion(), exponent=2.0)
    assert res.verdict is Verdict.FAIL
