"""verify.rates: the LP fit against closed forms and brute-force vertex enumeration; the
held-out test on true and falsified forms; empirical exponents on exact power laws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.checks.base import Check
from verify.context import RunContext
from verify.rates import (
    RateForm,
    RateInputError,
    RatePoint,
    empirical_exponents,
    fit_constants,
    rate_check,
)
from verify.verdict import Verdict


def test_single_term_fit_is_max_ratio():
    # min C s.t. C phi_j >= u_j  =>  C = max_j u_j / phi_j
    phi = np.array([[1.0], [0.5], [0.25]])
    ucb = np.array([0.9, 0.7, 0.2])
    c, ok, _ = fit_constants(phi, ucb)
    assert ok and c[0] == pytest.approx(1.4, rel=1e-9)


def _brute_force_lp(phi, ucb, w):
    """Minimum of w.C over C >= 0, phi C >= ucb (2 unknowns) by enumerating the vertices."""
    lines = [(row, u) for row, u in zip(phi, ucb)] + [
        (np.array([1.0, 0.0]), 0.0),
        (np.array([0.0, 1.0]), 0.0),
    ]
    best = np.inf
    for (a1, b1), (a2, b2) in itertools.combinations(lines, 2):
        m = np.array([a1, a2])
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        c = np.linalg.solve(m, [b1, b2])
        if np.all(c >= -1e-12) and np.all(phi @ c >= ucb - 1e-9):
            best = min(best, float(w @ c))
    return best


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), j=st.integers(1, 8))
def test_two_term_fit_matches_vertex_enumeration(seed, j):
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0.05, 2.0, (j, 2))
    ucb = rng.uniform(-0.5, 2.0, j)
    c, ok, _ = fit_constants(phi, ucb)
    assert ok and np.all(c >= 0)
    assert np.all(phi @ c >= ucb)  # conservative: covers every calibration UCB exactly
    w = phi.sum(axis=0)
    expected = _brute_force_lp(phi, ucb, w) if np.any(ucb > 0) else 0.0
    assert float(w @ c) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_infeasible_and_bad_forms():
    c, ok, _ = fit_constants(np.array([[0.0], [1.0]]), np.array([0.5, 0.1]))
    assert not ok and np.isnan(c).all()
    with pytest.raises(RateInputError, match="terms"):
        RateForm({"C": lambda p: -1.0}).phi([{"K": 1}])
    with pytest.raises(RateInputError, match="grid"):
        rate_check(RateForm({"C": lambda p: 1.0}), [], [RatePoint({}, [1.0, 2.0])])


def test_exponents_of_exact_power_law():
    pts = [{"K": k, "b": b, "l": 2} for k in (10, 100, 1000) for b in (1, 4, 16)]
    y = [3.0 * p["K"] ** -0.5 * p["b"] ** -1.0 for p in pts]
    ex = {e.parameter: e for e in empirical_exponents(pts, y, claimed={"K": -0.5, "b": -0.5})}
    assert set(ex) == {"K", "b"}  # l does not vary: no exponent
    assert ex["K"].slope == pytest.approx(-0.5, abs=1e-12)
    assert ex["b"].slope == pytest.approx(-1.0, abs=1e-12)
    assert ex["K"].consistent is True and ex["b"].consistent is False


def _point(k, b, rng, n=300):
    # E LHS = 1/sqrt(K) + 1/sqrt(b) + 1/K (leading exponents -1/2 in K and in b)
    mean = k**-0.5 + b**-0.5 + 1.0 / k
    return RatePoint({"K": k, "b": b, "l": 0}, mean * rng.gamma(4.0, 0.25, n))


def test_two_parameter_form_true_passes_falsified_fails():
    rng = np.random.default_rng(42)
    cal = [_point(k, b, rng) for k in (10, 30, 100) for b in (1, 4, 16)]
    held = [_point(k, b, rng) for k in (1000, 10000) for b in (64, 256)]
    true_form = RateForm(
        {"C1": lambda p: p["K"] ** -0.5, "C2": lambda p: p["b"] ** -0.5},
        {"K": -0.5, "b": -0.5},
        r"C_1/\sqrt K + C_2/\sqrt b",
    )
    false_form = RateForm(
        {"C1": lambda p: p["K"] ** -0.5, "C2": lambda p: 1.0 / p["b"]}, {"K": -0.5, "b": -1.0}
    )
    ok = rate_check(true_form, cal, held)
    bad = rate_check(false_form, cal, held)
    assert ok.verdict is Verdict.PASS, ok.message
    assert bad.verdict is Verdict.FAIL, bad.message
    assert "Holm" in bad.message and all("fitted_bound" in r for r in bad.heldout)
    exps = {e.parameter: e for e in ok.exponents}
    assert -0.7 < exps["b"].slope < -0.2

    class RateToy(Check):
        id = "RT"
        result = "Thm toy"
        level = "as-applied"
        claim = "E LHS <= C1/sqrt(K) + C2/sqrt(b)"

        def run(self, ctx):
            return self.from_rate(ctx, bad)

    res = RateToy().execute(RunContext("RT"))
    assert res.method == "rate" and res.verdict is Verdict.FAIL
    assert res.details["fitted_constants"].keys() == {"C1", "C2"}
    assert res.confidence_bound > res.rhs  # FAIL: lower bound above the fitted bound
    assert {e["parameter"] for e in res.details["exponents"]} == {"K", "b"}


def _simulate_point(p, seed):
    # E LHS = 1/sqrt(K) + 1/K with relative Gamma noise (a module-level task: picklable)
    mean = p["K"] ** -0.5 + 1.0 / p["K"]
    return mean * np.random.default_rng(seed).gamma(4.0, 0.25, 300)


def test_run_rate_end_to_end_through_a_check():
    class RateCheck(Check):
        id = "RR"
        result = "Thm toy"
        level = "as-applied"
        claim = "E LHS <= C / K^e"

        def run(self, ctx):
            e = ctx.params["e"]
            form = RateForm({"C": lambda p: p["K"] ** -e}, {"K": -e})
            cal = [{"K": k} for k in (10, 30, 100, 300)]
            held = [{"K": k} for k in (3000, 30000)]
            return self.run_rate(ctx, form, _simulate_point, cal, held)

    ok = RateCheck().execute(RunContext("RR"), {"e": 0.5})
    bad = RateCheck().execute(RunContext("RR"), {"e": 1.0})
    assert ok.verdict is Verdict.PASS and bad.verdict is Verdict.FAIL
    assert len(bad.details["calibration_grid"]) == 4 and len(bad.details["grid"]) == 2
    # calibration and held-out samples come from different streams
    cal0 = bad.details["calibration_grid"][0]["estimate"]
    assert ok.details["calibration_grid"][0]["estimate"] == cal0  # same seed, same numbers
