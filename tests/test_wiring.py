"""Tests that pin the wiring between the claim statements, the checks and the evidence engine.

- Every grid check reads the statement of the result it is named after (a check of Thm 4.2
  fed Cor 4.3's statement must fail here).
- Every row's right side is re-derived from the statement in the paper's symbols (SymPy
  substitution at 30 digits, `Claim.rhs_exact`) from the symbols the row records.
- The exact tolerance is tied to the working precision: a bound exceeded by a relative 1e-8
  at a point where the left side is known exactly must FAIL.
- A snapshot of the headline numbers and every grid row of a few quick checks
  (`tests/snapshots/quick_results.json`; regenerate deliberately with
  ``SDDE_UPDATE_SNAPSHOT=1 python -m pytest tests/test_wiring.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from verify.checks import load_checks
from verify.checks.base import GridCheck
from verify.context import RunContext
from verify.verdict import Verdict

SNAPSHOT = Path(__file__).parent / "snapshots" / "quick_results.json"
REGISTRY = load_checks()
BY_ID = {c.id: c for c in REGISTRY.checks}

#: which statement each grid check must read (result family -> claim id prefix)
STATEMENTS = {
    "R6-as-stated": "thm4.1",
    "R6-as-applied": "thm4.1",
    "R6-discussion": "thm4.1/discussion",
    "R6-proof-mean": "thm4.1/mean",
    "R6-proof-variance": "thm4.1/variance",
    "R6-proof-combination": "thm4.1/intermediate",
    "R6-proof-final": "thm4.1",
    "R7-as-stated": "thm4.2",
    "R7-as-stated-mc": "thm4.2",
    "R7-as-applied": "thm4.2",
    "R7-proof-first-inequality": "thm4.2",
    "R7-proof-nonpositive": "thm4.2",
    "R7-proof-decreasing": "thm4.2",
    "R8-as-stated": "cor4.3",
    "R8-as-stated-mc": "cor4.3",
    "R8-as-applied": "cor4.3",
    "R8-proof-first-inequality": "cor4.3",
    "R8-proof-nonpositive": "cor4.3",
    "R8-proof-decreasing": "cor4.3",
}
#: checks whose compared right side is the statement's own (the proof steps of Thm 4.2
#: compare the sides of `theory.energy.proof_steps` instead)
RHS_FROM_STATEMENT = [k for k in STATEMENTS if "proof-" not in k or k.startswith("R6")]
#: checks in the snapshot (fast, exact and Monte Carlo)
SNAPSHOT_IDS = [
    "R6-as-stated",
    "R6-as-applied",
    "R6-discussion",
    "R7-as-stated",
    "R7-as-stated-mc",
    "R7-proof-nonpositive",
    "R8-as-stated",
    "R8-as-applied",
]


def run(check, **overrides):
    return check.execute(RunContext(check.id, profile="quick"), overrides or None)


@pytest.fixture(scope="module")
def results():
    ids = sorted(set(RHS_FROM_STATEMENT) | set(SNAPSHOT_IDS))
    return {cid: run(BY_ID[cid]) for cid in ids}


def test_every_grid_check_reads_the_statement_of_its_result():
    grid_checks = {c.id for c in REGISTRY.checks if isinstance(c, GridCheck)}
    assert set(STATEMENTS) <= grid_checks
    for cid, claim_id in STATEMENTS.items():
        assert BY_ID[cid].statement.id == claim_id, cid
        assert BY_ID[cid].result == BY_ID[cid].statement.result, cid


@pytest.mark.parametrize("cid", RHS_FROM_STATEMENT)
def test_each_rows_rhs_re_derives_from_the_statement(results, cid):
    res, check = results[cid], BY_ID[cid]
    x_name = {"R6-discussion": "epsilon"}.get(cid, "t")
    scale = float(check.params_for("quick").get("rhs_scale", 1.0))
    rows = [g for g in res.details["grid"] if "symbols" in g]
    assert rows, f"{cid}: no row records its symbols"
    for g in rows[:: max(1, len(rows) // 7)]:
        want = scale * float(check.statement.rhs_exact({**g["symbols"], x_name: g["x"]}))
        assert g["rhs"] == pytest.approx(want, rel=1e-12), (cid, g)


def test_r6_tolerance_is_tied_to_working_precision():
    # X(0) = xi = 0 exactly, so E||X(0) - x*||^2 = ||x*||^2; scale the bound so that it is
    # exceeded there by a relative 1e-8 (the float error of the exact moments is ~1e-12): FAIL.
    # A tolerance widened to 1e-7 would pass it.
    check = BY_ID["R6-as-stated"]
    one = dict(kappas=(1.0,), a_taus=(1.0,), lam_fracs=(0.5,), epsilons=(1e-2,), mc_paths=0)
    res = run(check, **one)
    g = next(r for r in res.details["grid"] if r["verdict"] == "PASS")
    x_star_sq = next(
        c for c in res.details["figures"] if c["kind"] == "curve"
    )  # the single row's curve: t = 0 is its first element
    t0 = int(np.argmin(x_star_sq["x"]))
    lhs0 = x_star_sq["lhs"][t0]
    rhs0 = float(check.statement.rhs_exact({**g["symbols"], "t": 0.0}))
    below = run(check, **one, rhs_scale=lhs0 / rhs0 * (1 - 1e-8))
    above = run(check, **one, rhs_scale=lhs0 / rhs0 * (1 + 1e-8))
    assert below.verdict is Verdict.FAIL
    n_below, n_above = (r.details["evidence"]["failing_elements"] for r in (below, above))
    assert n_below == n_above + 1  # exactly the t = 0 element flips


def _summary(res) -> dict:
    rows = [
        [g.get("verdict"), g.get("estimate"), g.get("rhs")]
        for g in res.details["grid"]
        if g.get("verdict") in ("PASS", "FAIL", "INCONCLUSIVE")
    ]
    return {
        "verdict": res.verdict.value,
        "estimate": res.estimate,
        "rhs": res.rhs,
        "confidence_bound": res.confidence_bound,
        "paths": res.paths,
        "rows": rows,
    }


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return a == b


def test_snapshot_of_quick_results(results):
    now = {cid: _summary(results[cid]) for cid in SNAPSHOT_IDS}
    now = json.loads(json.dumps(now))  # the JSON types the snapshot has
    if os.environ.get("SDDE_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(now, indent=1) + "\n")
    want = json.loads(SNAPSHOT.read_text())
    for cid in SNAPSHOT_IDS:
        assert _close(now[cid], want[cid]), f"{cid} differs from the snapshot"


def test_a_new_r7_shaped_claim_is_one_statement_and_one_declaration():
    # the example of docs/ARCHITECTURE.md ("Add a theorem"), run on one small row
    import sympy as sp

    from theory.claims.base import Claim
    from theory.claims.thm42 import THM42, delta, mu, t
    from verify.checks.base import declare
    from verify.checks.r7_thm42 import EnergyAsStated

    mine = Claim(
        id="mine",
        result="My Thm",
        where="my note, Thm 1",
        statement="E||X(t)-x*||^2 <= 4 (delta+1) H / (mu^2 t)",
        latex=r"\le 4(\delta+1)H/(\mu^2t)",
        lhs=THM42.lhs,
        lhs_latex=THM42.lhs_latex,
        rhs_expr=4 * (delta + 1) * sp.Symbol("H", positive=True) / (mu**2 * t),
        hypotheses=THM42.hypotheses,
        domain=THM42.domain,
        derived=THM42.derived,
    )
    check = declare(EnergyAsStated, "MineAsStated", id="RX-as-stated", statement=mine)
    assert check.result == "My Thm" and check.claim == mine.statement
    rows = (dict(kappa=2, noise=1.0, delta=1.0, tau=0.5),)
    res = run(check, rows=rows, ball_paths=200, T=4.0, n_t=8)
    g = res.details["grid"][0]
    assert res.id == "RX-as-stated" and res.verdict.value == g["verdict"] != "NOT_APPLICABLE"
    assert g["rhs"] == pytest.approx(4 * 2 * g["symbols"]["H"] / (g["symbols"]["mu"] ** 2 * g["x"]))
