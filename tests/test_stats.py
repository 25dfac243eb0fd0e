"""verify.stats against hand-computed formulas, textbook examples and exact guarantees."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom, wasserstein_distance

from verify import stats
from verify.verdict import Verdict

X10 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])


def test_student_t_matches_table():
    # mean 5.5, s = sqrt(55/6) = 3.0276503540974917, t_{0.95, 9} = 1.8331129326536335
    # (Student-t table, one-sided 5 %, 9 dof).
    b = stats.student_t_bounds(X10, 0.05)
    half = 1.8331129326536335 * math.sqrt(55 / 6) / math.sqrt(10)
    assert b.estimate == pytest.approx(5.5, rel=1e-15)
    assert b.ucb == pytest.approx(5.5 + half, rel=1e-12)
    assert b.lcb == pytest.approx(5.5 - half, rel=1e-12)
    assert b.label == "Student-t (asymptotic)"


def test_hoeffding_formula():
    y = X10 / 10.0  # in [0, 1]
    b = stats.hoeffding_bounds(y, 0.0, 1.0, 0.05)
    r = math.sqrt(math.log(20.0) / 20.0)  # sqrt(ln(1/alpha) / (2n))
    assert b.ucb == pytest.approx(0.55 + r, rel=1e-14)
    assert b.lcb == pytest.approx(0.55 - r, rel=1e-14)
    assert "exact" in b.label


def test_bernstein_formula_maurer_pontil():
    y = X10 / 10.0
    b = stats.bernstein_bounds(y, 0.0, 1.0, 0.05)
    v = (55 / 6) / 100.0  # unbiased sample variance of y
    lg = math.log(2 / 0.05)
    r = math.sqrt(2 * v * lg / 10) + 7 * lg / (3 * 9)
    assert b.ucb == pytest.approx(0.55 + r, rel=1e-14)
    # scaling the range scales the radius: data in [0, 10]
    b10 = stats.bernstein_bounds(X10, 0.0, 10.0, 0.05)
    assert b10.ucb - 5.5 == pytest.approx(10 * r, rel=1e-13)


def test_range_violation_is_input_error():
    with pytest.raises(stats.StatsInputError, match="range"):
        stats.hoeffding_bounds(X10, 0.0, 1.0)
    with pytest.raises(stats.StatsInputError, match="value_range"):
        stats.mean_bounds(X10, bound="bernstein")
    with pytest.raises(stats.StatsInputError, match="DIVERGED"):
        stats.student_t_bounds([1.0, np.nan, 2.0])


def test_decide_truth_table():
    assert stats.decide(0.0, 1.0, 1.0) is Verdict.PASS
    assert stats.decide(1.0 + 1e-12, 2.0, 1.0) is Verdict.FAIL
    assert stats.decide(0.5, 1.5, 1.0) is Verdict.INCONCLUSIVE
    assert stats.decide(1.0, 1.5, 1.0) is Verdict.INCONCLUSIVE  # lcb == rhs is not FAIL


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 60),
    rhs=st.floats(0.05, 0.95),
    kind=st.sampled_from(["student-t", "hoeffding", "bernstein"]),
)
def test_p_value_consistent_with_lower_bound(seed, n, rhs, kind):
    # p <= alpha  <=>  lcb(alpha) > rhs, for each bound (the p-value inverts the bound).
    x = np.random.default_rng(seed).uniform(0, 1, n) ** 2
    rng = None if kind == "student-t" else (0.0, 1.0)
    p = float(stats.p_value_le(x, rhs, kind, rng))
    for alpha in (0.01, 0.05, 0.2):
        lcb = float(stats.mean_bounds(x, alpha, kind, rng).lcb)
        if abs(lcb - rhs) > 1e-9:
            assert (p <= alpha) == (lcb > rhs), (p, alpha, lcb, rhs)


def test_constant_samples():
    x = np.full(10, 2.0)
    assert float(stats.p_value_le(x, 1.0)) == 0.0 and float(stats.p_value_le(x, 2.0)) == 1.0
    g = stats.grid_decide([x, x], [1.0, 3.0])
    assert g.verdict is Verdict.FAIL and g.rejected.tolist() == [True, False]


def test_holm_textbook_example():
    # p = (0.01, 0.04, 0.03, 0.005), alpha 0.05: thresholds 0.0125, 0.0167, 0.025, 0.05 on
    # the sorted p (0.005, 0.01, 0.03, 0.04): reject the first two, stop at 0.03 > 0.025.
    assert stats.holm([0.01, 0.04, 0.03, 0.005], 0.05).tolist() == [True, False, False, True]
    assert stats.holm([0.001, 0.001], 0.05).tolist() == [True, True]
    assert stats.holm([0.5], 0.05).tolist() == [False]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_between_bonferroni_and_unadjusted_and_brute_force(p):
    p = np.array(p)
    rej = stats.holm(p, 0.05)
    assert np.all(rej[p <= 0.05 / p.size])  # Bonferroni rejections are Holm rejections
    assert not np.any(rej[p > 0.05])  # never more than unadjusted
    # brute force of the step-down definition
    order = np.argsort(p, kind="stable")
    ref = np.zeros(p.size, bool)
    for i, j in enumerate(order):
        if p[j] > 0.05 / (p.size - i):
            break
        ref[j] = True
    assert rej.tolist() == ref.tolist()


def test_grid_decide_pass_fail_inconclusive():
    rng = np.random.default_rng(1)
    s = [rng.normal(m, 0.1, 200) for m in (0.0, 1.0, 2.0)]
    g = stats.grid_decide(s, [0.5, 1.5, 2.5])
    assert g.verdict is Verdict.PASS
    g = stats.grid_decide(s, [0.5, 0.5, 2.5])  # point 1 violates by 5 standard errors x 14
    assert g.verdict is Verdict.FAIL and g.rejected.tolist() == [False, True, False]
    assert g.worst == 1 and "Holm" in g.correction
    g = stats.grid_decide(s, [0.5, 1.0 + 1e-9, 2.5])  # true mean on the boundary
    assert g.verdict in (Verdict.INCONCLUSIVE, Verdict.FAIL)
    rows = g.rows([{"K": 1}, {"K": 2}, {"K": 3}])
    assert rows[1]["K"] == 2 and set(rows[1]) >= {"lcb", "ucb", "p_value", "holm_reject"}


def test_decide_exact_tolerance_tied_to_precision():
    d = stats.decide_exact(0.1 + 0.2, 0.3)
    assert d.verdict is Verdict.PASS and d.tol == pytest.approx(64 * 2.0**-53)
    assert stats.decide_exact(0.3 + 1e-12, 0.3).verdict is Verdict.FAIL
    assert stats.decide_exact([1.0, 2.0], [1.0, 2.5], relation="le").verdict is Verdict.PASS
    assert stats.decide_exact([1.0, 2.6], [1.0, 2.5], relation="le").verdict is Verdict.FAIL
    import mpmath

    with mpmath.workdps(60):
        third = mpmath.mpf(1) / 3
        ok = stats.decide_exact(third * 3, 1, precision_bits=mpmath.mp.prec)
        bad = stats.decide_exact(third + mpmath.mpf("1e-40"), third, precision_bits=mpmath.mp.prec)
    assert ok.verdict is Verdict.PASS and ok.tol < 1e-55
    assert bad.verdict is Verdict.FAIL  # 1e-40 is far above 60-digit precision
    assert ok.label.startswith("exact, tolerance")


def test_confidence_sequence_is_anytime_valid():
    # Bernoulli(0.3) streams of length 600. Anytime validity: P(exists t: U_t < mu) <= alpha.
    # 300 streams; if the miscoverage rate were alpha = 0.05 exactly, the count exceeds the
    # Bin(300, 0.05) 0.999-quantile with probability <= 0.001. (PrPl-EB is conservative, so
    # the observed count is usually far lower.)
    rng = np.random.default_rng(20261124)
    mu, misses_u, misses_l, widths = 0.3, 0, 0, []
    for _ in range(300):
        x = (rng.random(600) < mu).astype(float)
        lo, up = stats.confidence_sequence(x, 0.0, 1.0, 0.05)
        misses_u += bool(np.any(up < mu))
        misses_l += bool(np.any(lo > mu))
        widths.append(up[-1] - lo[-1])
        assert np.all(np.diff(up) <= 0) and np.all(np.diff(lo) >= 0)  # running intersection
    limit = binom.ppf(0.999, 300, 0.05)
    assert misses_u <= limit and misses_l <= limit
    assert np.mean(widths) < 0.2  # it does shrink (about 2 x 0.07 at t = 600)


def test_sequential_test_decides_and_stops():
    rng = np.random.default_rng(3)
    t = stats.SequentialMeanTest(rhs=0.5, lo=0.0, hi=1.0)
    verdict = None
    for _ in range(50):
        verdict = t.update(rng.random(100) < 0.2)
        if verdict is not None:
            break
    assert verdict is Verdict.PASS and t.ucb <= 0.5 and t.n < 5000
    t2 = stats.SequentialMeanTest(rhs=0.1, lo=0.0, hi=1.0)
    for _ in range(50):
        if t2.update(rng.random(100) < 0.2) is not None:
            break
    assert t2.verdict is Verdict.FAIL


def test_wasserstein1_against_scipy_and_hand_values():
    assert stats.wasserstein1([0.0, 1.0], [1.0, 2.0]) == pytest.approx(1.0)
    # point mass at 0 vs {0, 2}: |F - G| = 1/2 on [0, 2) -> 1
    assert stats.wasserstein1([0.0], [0.0, 2.0]) == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=301), rng.exponential(size=157)
    assert stats.wasserstein1(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-12)


def test_wasserstein_null_floor():
    rng = np.random.default_rng(7)
    same = stats.wasserstein1_test(rng.normal(size=300), rng.normal(size=300), seed=1, n_perm=99)
    shifted = stats.wasserstein1_test(
        rng.normal(size=300), rng.normal(1, 1, 300), seed=1, n_perm=99
    )
    assert shifted.p_value == pytest.approx(0.01)  # smallest possible: 1/(1+99)
    assert shifted.w1 > shifted.noise_floor and shifted.distinguishable
    assert 0 < same.noise_floor < 0.3
    assert shifted.w1 == pytest.approx(1.0, abs=0.2)  # W1 of a unit shift is 1


@pytest.mark.parametrize("bits", [53, 120])
def test_decide_exact_tolerance_is_per_row_not_scaled_by_the_largest_row(bits):
    """A row of size 1e22 that holds must not hide a small row that fails by 1e-6: the default
    tolerance scales with each row's own magnitude (audit finding)."""
    from verify.stats import decide_exact

    lhs = [1e22, 1.0 + 1e-6]
    rhs = [1e22, 1.0]
    dec = decide_exact(lhs, rhs, relation="le", precision_bits=bits)
    assert dec.verdict is Verdict.FAIL
    assert dec.max_violation == pytest.approx(1e-6, rel=1e-4)
    assert decide_exact([1e22, 1.0], [1e22, 1.0], relation="le", precision_bits=bits).verdict is (
        Verdict.PASS
    )
