"""The evidence engine (`verify/evidence.py`) on hand-made evidence with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from verify.checks.base import Check
from verify.context import RunContext
from verify.evidence import ExactCurve, Row, Samples, Tolerance, decide_rows
from verify.verdict import Verdict

TOL = Tolerance(1e-12, floor=1e-300, label="test")


class _Toy(Check):
    id = "T-toy"
    result = "Toy"
    claim = "lhs <= rhs"


def _decide(*rows, **kw):
    return decide_rows(_Toy(), RunContext("T-toy"), list(rows), **kw)


def _exact(lhs, rhs, **kw):
    return ExactCurve(np.asarray(lhs, float), np.asarray(rhs, float), kw.pop("tol", TOL), **kw)


def test_exact_tolerance_is_relative_and_per_element():
    # 0.5 tolerance units above the bound: holds; 2 units above: fails
    rhs = np.array([1.0, 1e6])
    assert _decide(Row({"p": 1}, _exact(rhs * (1 + 0.5e-12), rhs))).verdict is Verdict.PASS
    res = _decide(Row({"p": 1}, _exact([1.0, 1e6 * (1 + 2e-12)], rhs)))
    assert res.verdict is Verdict.FAIL
    g = res.details["grid"][0]
    assert g["failing_elements"] == 1 and g["x"] == 1.0  # the second element (x = index 1)


def test_exact_floor_makes_tiny_values_absolute():
    # lhs - rhs = 5e-15 on values of order 1e-10: fails relative, holds with floor 1 (64 ulp)
    tol = Tolerance(64 * 2.0**-53, floor=1.0)
    assert _decide(Row({}, _exact([1e-10 + 5e-15], [1e-10], tol=tol))).verdict is Verdict.PASS
    assert _decide(Row({}, _exact([1e-10 + 5e-15], [1e-10]))).verdict is Verdict.FAIL


def test_bracket_gives_pass_fail_inconclusive():
    rhs = np.ones(2)
    br = np.array([0.05, 0.05])
    assert _decide(Row({}, _exact([0.5, 0.9], rhs, bracket=br))).verdict is Verdict.PASS
    assert _decide(Row({}, _exact([0.5, 1.2], rhs, bracket=br))).verdict is Verdict.FAIL
    res = _decide(Row({}, _exact([0.5, 0.98], rhs, bracket=br)))
    assert res.verdict is Verdict.INCONCLUSIVE
    assert res.confidence_bound == pytest.approx(1.03)  # the upper end of the bracket


def test_non_finite_lhs_violates_any_finite_bound():
    res = _decide(Row({}, _exact([1.0, math.inf], [2.0, 2.0])))
    assert res.verdict is Verdict.FAIL
    res = _decide(Row({}, _exact([1.0, math.nan], [2.0, 2.0])))
    assert res.verdict is Verdict.FAIL


def test_equality_relation():
    assert _decide(Row({}, _exact([1.0], [1.0], relation="eq"))).verdict is Verdict.PASS
    assert _decide(Row({}, _exact([1.0], [1.1], relation="eq"))).verdict is Verdict.FAIL
    assert _decide(Row({}, _exact([1.1], [1.0], relation="eq"))).verdict is Verdict.FAIL


def test_worst_row_is_the_failing_row_with_the_largest_ratio():
    rows = [
        Row({"p": 1}, _exact([0.5], [1.0])),
        Row({"p": 2}, _exact([3.0], [1.0])),
        Row({"p": 3}, _exact([1.5], [1.0])),
    ]
    res = _decide(*rows)
    assert res.verdict is Verdict.FAIL
    assert res.estimate == 3.0 and res.rhs == 1.0
    ev = res.details["evidence"]
    assert ev["failing_rows"] == 2 and ev["applicable_rows"] == 3 and ev["max_ratio"] == 3.0
    assert [g["verdict"] for g in res.details["grid"]] == ["PASS", "FAIL", "FAIL"]
    assert all(g["reason"] for g in res.details["grid"] if g["verdict"] == "FAIL")


def test_pass_headline_is_the_tightest_element():
    res = _decide(Row({"p": 1}, _exact([0.1, 0.8, 0.2], [1.0, 1.0, 1.0], x=[1, 2, 3])))
    assert res.verdict is Verdict.PASS
    assert res.estimate == 0.8 and res.details["grid"][0]["x"] == 2


def test_not_applicable_and_unevaluated_rows():
    na = Row({"p": 1}, None, reason="V < 0 fails")
    res = _decide(na)
    assert res.verdict is Verdict.NOT_APPLICABLE and "V < 0 fails" in res.message
    unev = Row({"p": 2}, None, reason="c_lambda not computable", unevaluated=True)
    res = _decide(Row({"p": 0}, _exact([0.5], [1.0])), unev, na)
    assert res.verdict is Verdict.INCONCLUSIVE
    verdicts = [g["verdict"] for g in res.details["grid"]]
    assert verdicts == ["PASS", "INCONCLUSIVE", "NOT_APPLICABLE"]
    assert res.details["evidence"]["not_applicable_rows"] == 1


def test_samples_holm_over_every_element_of_every_row():
    rng = np.random.default_rng(1)
    good = rng.normal(0.0, 1.0, (400, 3))  # mean 0 << rhs 1 at each of 3 times
    bad = rng.normal(2.0, 1.0, (400, 3))  # mean 2 > rhs 1: rejected with p ~ 1e-100
    res = _decide(Row({"r": 0}, Samples(good, np.ones(3))), Row({"r": 1}, Samples(bad, 1.0)))
    assert res.verdict is Verdict.FAIL and res.method == "monte-carlo"
    assert res.paths == 400 and res.alpha == 0.05
    assert "Holm" in res.details["evidence"]["multiple_testing"]
    assert [g["verdict"] for g in res.details["grid"]] == ["PASS", "FAIL"]
    assert res.confidence_bound > 1.0  # the lower bound that decided
    res = _decide(Row({"r": 0}, Samples(good, np.ones(3))))
    assert res.verdict is Verdict.PASS and res.confidence_bound < 1.0


def test_one_evidence_kind_per_check():
    with pytest.raises(TypeError):
        _decide(Row({}, _exact([0.5], [1.0])), Row({}, Samples(np.zeros((10, 1)), 1.0)))


def test_figures_are_recorded_not_drawn():
    res = _decide(
        Row({"p": 1}, _exact([0.1, 0.8], [1.0, 1.0], x=[1, 2])),
        Row({"p": 2}, _exact([0.3, 0.2], [1.0, 1.0], x=[1, 2])),
    )
    kinds = [f["kind"] for f in res.details["figures"]]
    assert kinds == ["curve", "ratio"] and res.plots == []
    assert res.details["figures"][0]["lhs"] == [0.1, 0.8]


def test_tightness_and_vacuous_pass():
    # SPEC §6: every PASS reports its worst lhs/rhs and where; below 1e-2 it is vacuous
    tight = _decide(
        Row({"p": 1}, _exact([0.1, 0.8], [1.0, 1.0], x=[1, 2])),
        Row({"p": 2}, _exact([0.3, 0.2], [1.0, 1.0], x=[1, 2])),
    )
    assert tight.tightness == pytest.approx(0.8) and tight.worst_point == {"p": 1, "x": 2.0}
    assert not tight.vacuous and tight.to_dict()["vacuous"] is False
    loose = _decide(Row({"p": 1}, _exact([0.001, 0.005], [1.0, 1.0])))
    assert loose.verdict is Verdict.PASS and loose.tightness == pytest.approx(0.005)
    assert loose.vacuous and loose.to_dict()["vacuous"] is True
    failing = _decide(Row({"p": 1}, _exact([0.001, 5.0], [1.0, 1.0])))
    assert failing.tightness == pytest.approx(5.0) and not failing.vacuous
