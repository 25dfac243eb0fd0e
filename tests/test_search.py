"""The domain search (`verify/search.py`) on planted objectives with known maxima."""

from __future__ import annotations

import math

import pytest

from theory.claims.base import Domain, Param
from verify.executor import make_executor
from verify.search import search_domain

BOX = Domain(
    (
        Param("kappa", 1.0, 1e3, log=True),
        Param("L_tau", 0.01, math.pi / 2),
        Param("l", 1, 64, log=True, integer=True),
    )
)


class Planted:
    """lhs/rhs = 0.5 everywhere except a corner (kappa > 300, L_tau > 1.4, l >= 16): 2."""

    def __call__(self, q):
        corner = q["kappa"] > 300 and q["L_tau"] > 1.4 and q["l"] >= 16
        return 2.0 if corner else 0.5 + 0.1 * q["L_tau"] / math.pi


def test_a_claim_false_only_in_a_corner_is_found():
    # the corner is ~ (log10(1000/300)/3) * (0.17/1.56) * (log(4)/log(64)) ~ 1.4 % of the box
    res = search_domain(Planted(), BOX, names=("kappa", "L_tau", "l"), seed=3, budget=300)
    assert res.best_ratio == 2.0
    q = res.best_point
    assert q["kappa"] > 300 and q["L_tau"] > 1.4 and q["l"] >= 16 and isinstance(q["l"], int)
    assert res.evaluations <= 400 and res.top[0]["ratio"] == 2.0


def test_a_true_claim_reports_its_honest_worst_ratio():
    # no corner: the maximum is 0.5 + 0.1 (pi/2)/pi = 0.55 at L_tau = pi/2
    def smooth(q):
        return 0.5 + 0.1 * q["L_tau"] / math.pi

    res = search_domain(smooth, BOX, names=("kappa", "L_tau", "l"), seed=1, budget=200)
    assert res.best_ratio == pytest.approx(0.55, abs=0.01) and res.best_ratio <= 0.55


def test_same_seed_same_worst_point_serially_and_in_parallel():
    kw = dict(names=("kappa", "L_tau", "l"), seed=7, budget=120)
    serial = search_domain(Planted(), BOX, **kw)
    exe = make_executor("process", 2)
    try:
        parallel = search_domain(Planted(), BOX, map_fn=exe.map, **kw)
    finally:
        exe.close()
    assert serial.best_point == parallel.best_point and serial.top == parallel.top
    other = search_domain(Planted(), BOX, **{**kw, "seed": 8})
    assert other.top != serial.top
