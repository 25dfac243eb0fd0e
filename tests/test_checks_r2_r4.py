"""Checks R2 (Thm 3.2), R3 (Cor 3.3), R4 (Thm 3.4): structure, hypotheses, divergence and
falsified claims through the same `Check.execute` machinery.

No test asserts the verdict of a real claim of the paper, except the exact identity
E||g_M - grad F||^2 = tr Sigma / b (mathematically certain; see the test).
Falsified claims are false *by construction*, argued from exact references:
- rhs_scale = 0: E||X(1) - x_K|| > 0 and E||x_K - x~_K|| > 0 because the minibatch noise is
  discrete and the Gaussian noise is continuous, so x_K differs from X(1) and x~_K a.s.;
- the recursion lines at l = 0 contain an exact equality (exact_q = q_le_1), and the Thm 3.4
  lines at k = 1 another (A_l = lP = first), so any scale < 1 falsifies them;
- a falsified exponent: the fitted bound at the held-out points is compared with the exact
  lower bound ||E X_m(1) - E x_K|| (Jensen) of the left side, from exact moments.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as sst

from numerics.moments import asgd_moments_for, sdde_em_moments_for
from numerics.problems import LeastSquares
from verify.checks import r2_thm32, r3_cor33, r4_thm34
from verify.checks._approx import (
    ApproxRateCheck,
    build_problem,
    delay_model,
    expected_trace_sigma,
    gaussian_norm_bracket,
    start_point,
    step_hypothesis,
)
from verify.context import RunContext
from verify.verdict import METHODS, CheckResult, Verdict

ALL = [c for m in (r2_thm32, r3_cor33, r4_thm34) for c in m.CHECKS]
BY_ID = {c.id: c for c in ALL}
RATE_IDS = [c.id for c in ALL if isinstance(c, ApproxRateCheck)]

#: a small grid every delay kind accepts (l = 0 satisfies all step hypotheses for K >= 2).
SMALL = dict(
    calibration=[(16, 1, 0), (16, 4, 0), (32, 1, 0)],
    heldout=[(128, 16, 0), (256, 16, 0)],
    paths=200,
    substeps=2,
    w1=False,
    em_bias=False,
)


def _run(check, overrides=None, out_dir=None) -> CheckResult:
    return check.execute(RunContext(check.id, out_dir=out_dir), overrides)


@pytest.fixture(scope="module")
def quick_results() -> dict[str, CheckResult]:
    return {c.id: _run(c) for c in ALL}


# ----------------------------------------------------------------------------- structure
def test_ids_unique_and_named_after_results():
    ids = [c.id for c in ALL]
    assert len(ids) == len(set(ids))
    for c in ALL:
        assert c.id.split("-")[0] in ("R2", "R3", "R4")
        assert c.result in ("Thm 3.2", "Cor 3.3", "Thm 3.4")
        assert c.claim and c.claim_latex


@pytest.mark.parametrize("check_id", [c.id for c in ALL])
def test_quick_profile_gives_structured_result(quick_results, check_id):
    res = quick_results[check_id]
    assert res.verdict in tuple(Verdict)
    assert not res.error, res.error
    assert res.method in METHODS
    assert res.message
    assert res.runtime_s > 0
    assert res.seed == 12345
    assert res.details.get("profile") == "quick"
    json.dumps(res.to_dict())  # JSON-safe evidence
    if res.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE):
        assert res.hypotheses or check_id.startswith("R2-proof-phi")
        assert "grid" in res.details  # every check carries its grid rows
        assert res.details["grid"]
    if res.method == "monte-carlo":
        assert res.alpha == 0.05 and res.paths and res.bound_kind


@pytest.mark.parametrize("check_id", RATE_IDS)
def test_rate_checks_report_constants_exponents_and_na_points(quick_results, check_id):
    res = quick_results[check_id]
    d = res.details
    # The quick grids are chosen inside the step-size hypotheses, so a rate check that comes
    # out NOT APPLICABLE means the grid or the hypothesis code changed: fail, do not skip.
    assert res.verdict is not Verdict.NOT_APPLICABLE, res.message
    assert set(d["fitted_constants"]) == set(BY_ID[check_id].terms)
    assert all(c >= 0 for c in d["fitted_constants"].values())
    assert d["calibration_grid"] and d["grid"]
    exps = {e["parameter"]: e for e in d["exponents"]}
    assert "K" in exps
    if "b" in exps and check_id != "R4-discussion-l":
        assert exps["b"]["claimed"] == -0.5
    # every grid point is accounted for: measured or reported as not applicable
    p = BY_ID[check_id].params_for("quick")
    n_points = len(p["calibration"]) + len(p["heldout"])
    assert len(d["per_point"]) + len(d["not_applicable"]) == n_points
    assert d["paths_per_point"] == p["paths"]


def test_na_points_are_listed_not_dropped(quick_results):
    # (16, 4, 15): eta L (l+1) = 16 L / 16 = L > 1 for least squares (L ~ 1.12)
    na = quick_results["R2-as-stated"].details["not_applicable"]
    assert [(r["K"], r["b"], r["l"]) for r in na] == [(16, 4, 15)]
    # R3 least squares: K = 1 has eta L = L > 1
    na3 = quick_results["R3-as-stated-ls"].details["not_applicable"]
    assert [(r["K"], r["l"]) for r in na3] == [(1, 0)]


def test_plots_are_written_to_the_run_folder(tmp_path):
    for cid in ("R2-proof-recursion", "R4-proof-lines", "R2-proof-phi-identity", "R3-proof-em"):
        res = _run(BY_ID[cid], out_dir=tmp_path)
        assert res.plots, cid
        for path in res.plots:
            assert str(path).startswith(str(tmp_path)) and (tmp_path / path).exists()
    res = _run(BY_ID["R3-as-stated"], SMALL, out_dir=tmp_path)
    assert res.plots and all(str(p).startswith(str(tmp_path)) for p in res.plots)


def test_full_profiles_construct_and_hypotheses_evaluate():
    for c in ALL:
        params = c.params_for("full")
        assert params
        ctx = RunContext(c.id, profile="full")
        ctx.params = params
        hyps = c.hypotheses(ctx)
        assert all(h.holds in (True, False) for h in hyps)


# ----------------------------------------------------------------------------- hypotheses
def test_step_hypothesis_edges():
    # eta L (l+1) = 1 exactly is allowed (<= 1); one more delay step is not.
    assert step_hypothesis("random", 4, 1.0, 3)[0]
    assert not step_hypothesis("random", 4, 1.0, 4)[0]
    assert step_hypothesis("none", 2, 2.0, 0)[0] and not step_hypothesis("none", 1, 2.0, 0)[0]
    assert step_hypothesis("constant", 8, 1.0, 8)[0]
    assert not step_hypothesis("constant", 8, 1.0, 9)[0]


@pytest.mark.parametrize(
    ("check_id", "overrides"),
    [
        # every point violates eta L (l+1) <= 1 (least squares, L ~ 1.12)
        ("R2-as-stated", {"calibration": [(4, 1, 3)], "heldout": [(8, 1, 7)]}),
        # K = 1 < L: eta L > 1
        ("R3-as-stated-ls", {"calibration": [(1, 1, 0)], "heldout": [(1, 4, 0)]}),
        # eta L l = l L / K > 1
        ("R4-as-stated", {"calibration": [(8, 1, 8)], "heldout": [(16, 1, 16)]}),
        ("R4-discussion-l", {"calibration": [(8, 1, 8)], "heldout": [(16, 1, 16)]}),
        # exact coupled moments need a quadratic loss
        ("R2-proof-em", {"problem": "logistic"}),
        ("R2-proof-recursion", {"K": (2,), "L": (4.0,), "l": (0, 1)}),
        ("R4-proof-lines", {"k": (1,), "L": (2.0,), "l": (1, 4)}),
        ("R2-proof-AK", {"grid": [(4, 1, 7)]}),
        ("R4-proof-step", {"grid": [(4, 1, 4)]}),
    ],
)
def test_violated_hypothesis_gives_not_applicable(check_id, overrides):
    res = _run(BY_ID[check_id], overrides)
    assert res.verdict is Verdict.NOT_APPLICABLE
    assert "hypothesis fails" in res.message
    assert any(not h.holds for h in res.hypotheses)


# ----------------------------------------------------------------------------- divergence
class _BlowUp(r2_thm32.Thm32AsStated):
    """Test-only: a least-squares problem with true L ~ 1e16 that misreports L = 0.5, so the
    step hypothesis is (wrongly) satisfied and ASGD with eta = 1/K overflows."""

    id = "R2-test-blowup"

    def _problem(self, ctx):
        ls = build_problem("least-squares")
        liar = LeastSquares(ls.A * 1e8, ls.y)
        liar.__dict__["L"] = 0.5  # overrides the cached_property
        return liar


def test_overflowing_simulation_gives_diverged():
    res = _run(_BlowUp(), {**SMALL, "calibration": [(64, 1, 0)], "heldout": [(64, 4, 0)]})
    assert res.verdict is Verdict.DIVERGED
    assert "non-finite" in res.message and "K=64" in res.message


# ----------------------------------------------------------------------------- falsified
@pytest.mark.parametrize(
    "check_id",
    ["R2-as-stated", "R2-as-stated-indep", "R3-as-stated", "R4-as-stated", "R4-discussion-l"],
)
def test_zero_rhs_is_falsified_claim_and_fails(check_id):
    # E||.|| > 0 strictly (module docstring), so "LHS <= 0" is false by construction.
    res = _run(BY_ID[check_id], {**SMALL, "rhs_scale": 0.0})
    assert res.verdict is Verdict.FAIL
    assert res.details["rhs_scale"] == 0.0


@pytest.mark.parametrize(
    "check_id",
    [
        "R2-proof-AK",
        "R3-proof-AK",
        "R4-proof-AK",
        "R2-proof-step",
        "R3-proof-step",
        "R4-proof-step",
    ],
)
def test_zero_rhs_fails_for_measured_AK(check_id):
    # A_K > 0, and at k = 1 the recursion's left side is A_1 - A_0 = E||x_1 - x~_1|| > 0 (e_0 = 0)
    res = _run(BY_ID[check_id], {"rhs_scale": 0.0, "paths": 200})
    assert res.verdict is Verdict.FAIL


def test_falsified_exponents_fail_and_are_false_by_construction():
    check = BY_ID["R3-as-stated-ls"]
    res = _run(check, {**SMALL, "exponent_K": -3.0, "exponent_b": -3.0})
    problem = build_problem("least-squares")
    x0 = start_point(problem)
    false_somewhere = False
    for row in res.details["grid"]:
        K = row["K"]
        # exact lower bound: E||X_m(1) - x_K|| >= ||E X_m(1) - E x_K|| (Jensen)
        mx = sdde_em_moments_for(problem, eta=1 / K, K=K, substeps=2, x0=x0, record=[K]).mean
        ma = asgd_moments_for(problem, eta=1 / K, K=K, noise="none", x0=x0, record=[K]).mean
        lower = float(np.linalg.norm(mx[-1] - ma[-1]))
        false_somewhere |= lower > row["fitted_bound"]
    assert false_somewhere
    assert res.verdict is Verdict.FAIL


def test_falsified_recursion_scale_fails():
    res = _run(BY_ID["R2-proof-recursion"], {"l": (0,), "rhs_scale": 0.5})
    assert res.verdict is Verdict.FAIL
    res3 = _run(BY_ID["R3-proof-recursion"], {"rhs_scale": 0.5})
    assert res3.verdict is Verdict.FAIL


def test_falsified_thm34_lines_fail():
    res = _run(BY_ID["R4-proof-lines"], {"k": (1,), "L": (0.5,), "l": (1, 2), "rhs_scale": 0.5})
    assert res.verdict is Verdict.FAIL
    assert "exact <= first" in res.details["failed_relations"]


def test_falsified_em_constant_fails():
    res = _run(BY_ID["R3-proof-em"], {"rhs_scale": 1e-3})
    # the exact bracket's lower end is > 0 at every held-out point, and 1e-3 of the fitted
    # bound lies below it:
    ho = [r for r in res.details["grid"] if r["split"] == "held-out"]
    assert any(r["lower"] > r["rhs"] for r in ho)
    assert res.verdict is Verdict.FAIL


def test_phi_identity_is_exact_and_falsified_version_fails():
    # E||g_M(b, x) - grad F(x)||^2 = tr Sigma(x)/b holds exactly for i.i.d. (with replacement)
    # minibatches: g_M - grad F is the mean of b i.i.d. zero-mean vectors with covariance Sigma.
    # Mathematically certain, hence the only asserted PASS.
    assert _run(BY_ID["R2-proof-phi-identity"]).verdict is Verdict.PASS
    res = _run(BY_ID["R2-proof-phi-identity"], {"rhs_scale": 0.5})
    assert res.verdict is Verdict.FAIL


# ----------------------------------------------------------------------------- helpers
@pytest.mark.parametrize(("m", "s"), [(0.0, 1.0), (0.3, 0.2), (-2.0, 0.5), (1.0, 0.0)])
def test_gaussian_norm_bracket_1d_is_folded_normal(m, s):
    lo, hi = gaussian_norm_bracket([m], [[s * s]])
    ref = abs(m) if s == 0 else sst.foldnorm(abs(m) / s, scale=s).mean()  # scipy closed form
    assert lo == hi
    assert lo == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_gaussian_norm_bracket_2d_contains_quadrature():
    mu = np.array([0.4, -0.2])
    C = np.array([[0.3, 0.1], [0.1, 0.2]])
    dist = sst.multivariate_normal(mu, C)
    val, _err = integrate.dblquad(
        lambda y, x: math.hypot(x, y) * dist.pdf([x, y]), -5, 5, -5, 5, epsabs=1e-7
    )  # the mass outside the box is < 1e-12
    lo, hi = gaussian_norm_bracket(mu, C)
    assert lo <= val + 1e-6 and val <= hi + 1e-6
    assert hi == pytest.approx(math.sqrt(mu @ mu + np.trace(C)))


def test_expected_trace_sigma_matches_enumeration():
    # K = 2 SGD steps with b = 1 on least squares: all n^2 equally likely index sequences.
    problem = build_problem("least-squares")
    K, n = 2, problem.n
    x0 = start_point(problem)
    eta = 1 / K
    best = float(np.trace(problem.Sigma(x0)))
    traces = np.zeros(K)
    for seq in itertools.product(range(n), repeat=K):
        x = x0.copy()
        for k, i in enumerate(seq):
            x = x - eta * problem.sample_grads(x[None, :], np.array([[i]]))[0, 0]
            traces[k] += np.trace(problem.Sigma(x)) / n**K
    best = max(best, float(traces.max()))
    got = expected_trace_sigma(problem, kind="none", K=K, l=0, b=1)
    assert got == pytest.approx(best, rel=1e-10)


def test_delay_model_kinds():
    assert delay_model("none", 0).l == 0
    assert delay_model("constant", 3).probabilities(5)[3] == 1.0
    assert np.allclose(delay_model("random", 3).probabilities(0), 0.25)
    from verify.checks._approx import ApproxInputError

    with pytest.raises(ApproxInputError):
        delay_model("none", 2)
    with pytest.raises(ApproxInputError):
        build_problem("nope")
