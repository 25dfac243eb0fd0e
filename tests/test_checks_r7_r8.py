"""Tests of the R7 (Thm 4.2) and R8 (Cor 4.3) checks.

Structural tests run every check in a reduced quick profile through `Check.execute`; they never
assert that a real claim PASSes or FAILs, except where the comparison is a mathematical
certainty (said in a comment). Falsified claims are scaled below an exact left side so that
they are false by construction, and must come out FAIL. Helpers are tested against exact
references (Clopper–Pearson closed form, the τ = 0 closed form vs exact Euler–Maruyama moments
with Richardson extrapolation).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from numerics.moments import em_scheme_moments
from theory.errors import InputError
from verify.checks import _r7
from verify.checks import r7_thm42 as r7
from verify.checks import r8_cor43 as r8
from verify.context import RunContext
from verify.evidence import ExactCurve, decide_rows
from verify.evidence import Row as EvidenceRow
from verify.verdict import Verdict

ALL = r7.CHECKS + r8.CHECKS
BY_ID = {c.id: c for c in ALL}

#: A small, fast setting: one benign quadratic row (x0_dist = 1 so E||X(1)-x*||^2 = 1).
SMALL_SDDE = dict(
    rows=(dict(kappa=2, noise=1.0, delta=1.0, tau=0.2),),
    T=4.0,
    n_t=6,
    h_kappa=0.5,
    paths=300,
    ball_paths=1000,
    T_ball=4.0,
)
SMALL_LOGISTIC = {**SMALL_SDDE, "rows": (dict(problem="logistic", kappa=3, delta=1.0, tau=0.2),)}
SMALL_ASGD = dict(
    rows=(dict(kappa=2, noise=1.0, l=1),), deltas=(1.0,), K=50, K_ball=50, ball_paths=1000
)


def small(check) -> dict:
    if check.id.endswith("-ito"):
        return {}
    if "as-applied" in check.id:
        return dict(SMALL_ASGD)
    if check.id.endswith("-mc"):
        return dict(SMALL_LOGISTIC)
    return dict(SMALL_SDDE)


def run(check, **overrides):
    ctx = RunContext(check_id=check.id, profile="quick")
    return check.execute(ctx, {**small(check), **overrides})


# ------------------------------------------------------------------------------ structure


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.id)
def test_structure_and_evidence(check):
    res = run(check)
    assert res.error == "", res.error
    # the verdict follows from the recorded headline (SPEC §5): PASS => bound <= rhs,
    # FAIL => bound > rhs, for every engine-decided check (slack 1e-9: equality steps)
    if res.verdict is Verdict.PASS and "evidence" in res.details:
        assert res.confidence_bound <= res.rhs + 1e-9 * abs(res.rhs), res.id
    if res.verdict is Verdict.FAIL and "evidence" in res.details:
        assert res.confidence_bound > res.rhs, res.id
    assert res.id == check.id and res.level == check.level
    assert res.claim and res.message and res.conventions
    assert res.runtime_s > 0
    if check.id.endswith("-ito"):
        assert res.method == "symbolic"
        assert res.details["identities"]
        return
    grid = res.details["grid"]
    assert grid, "every applicable grid row carries its evidence"
    for row in grid:
        assert {"estimate", "lcb", "ucb", "rhs", "verdict"} <= set(row)
        assert row["lcb"] <= row["estimate"] <= row["ucb"]
    if res.method == "monte-carlo":
        assert res.bound_kind.startswith("Student-t (asymptotic)")
        assert res.alpha == 0.05 and res.paths == 300
        assert "Holm" in res.details["evidence"]["multiple_testing"]
        assert all("D" in r and "exit_fraction" in r for r in grid)
    else:
        assert res.method == "exact"
        assert res.bound_kind.startswith("exact")
        assert all("D" in r and "exit_fraction" in r and "H" in r for r in grid)
    if res.method in ("exact", "monte-carlo"):
        assert res.details["evidence"]["applicable_rows"] >= 1


@pytest.mark.parametrize("check", ALL, ids=lambda c: c.id)
def test_full_profile_constructs(check):
    p = check.params_for("full")
    if check.id.endswith("-ito"):
        assert p["d"] >= 2
        return
    rows = _r7._rows(p["rows"])
    assert len(rows) >= len(_r7._rows(check.params_for("quick")["rows"]))
    seen = set()
    for row in rows:
        key = (row.problem, row.kappa, row.noise)
        if key not in seen:
            seen.add(key)
            problem, x0, mu, L = _r7.build_problem(row)
            assert L / mu == pytest.approx(row.kappa, rel=1e-9)
            assert np.linalg.norm(x0 - problem.x_star) == pytest.approx(row.x0_dist)


def test_checks_draw_nothing_figures_are_drawn_at_report_time(tmp_path, monkeypatch):
    # ISSUE 9 item 4: a check records the data of its figures; the report draws them, and a
    # plotting failure is a warning, never a verdict change.
    from verify import figures

    check = BY_ID["R8-as-stated"]
    ctx = RunContext(check_id=check.id, out_dir=tmp_path / "run")
    res = check.execute(ctx, small(check))
    assert res.plots == [] and not (tmp_path / "run").exists()
    assert {f["kind"] for f in res.details["figures"]} >= {"curve"}
    assert figures.draw_figures([res], tmp_path / "plots") == []
    assert res.plots and all(Path(p).is_file() for p in res.plots)
    verdict = res.verdict

    def broken(ax, fig):
        raise RuntimeError("backend gone")

    monkeypatch.setitem(figures._DRAW, "curve", broken)
    res.plots = []
    warnings = figures.draw_figures([res], tmp_path / "plots2")
    assert warnings and "backend gone" in warnings[0]
    assert res.verdict is verdict


# ------------------------------------------------------------------------------ exact identities


@pytest.mark.parametrize("cid", ["R7-proof-ito", "R8-proof-ito"])
def test_ito_identity_pass_and_falsified(cid):
    check = BY_ID[cid]
    # Mathematically certain: Itô's formula for E = (t-1)/2 r2 - K ln t/(2 mu^2) gives exactly
    # the printed expression (hand derivation: d r2 = 2<X-x*, dX> + tr(beta^2 sigma sigma^T)dt).
    assert run(check).verdict is Verdict.PASS
    # Twice a non-zero expression is not the expression: false by construction.
    assert run(check, rhs_scale=2.0).verdict is Verdict.FAIL


@pytest.mark.parametrize("cid", ["R7-proof-nonpositive", "R8-proof-nonpositive"])
def test_nonpositive_certain_and_falsified(cid):
    check = BY_ID[cid]
    # Mathematically certain with H = E tr + 2 mu L D^2 and theta = tau: 2t mu^2 (rhs - lhs) =
    # (delta+1)(H + 2L^2D^2tau) - 2 mu L D^2 - 2L^2D^2 theta - delta tr
    # = tr + delta(2 mu L D^2 + 2 L^2 D^2 tau) >= 0 (theory.energy.nonpositive_certificate).
    assert run(check).verdict is Verdict.PASS
    # With rhs_scale = 0.1 and delta = 1 the right side 0.2 (tr + 2 mu L D^2 + 2 L^2 D^2 tau)
    # is below the left side (2 mu L D^2 + 2 L^2 D^2 tau + tr) whenever D > 0: false.
    assert run(check, rhs_scale=0.1).verdict is Verdict.FAIL


# ------------------------------------------------------------------------------ falsified claims


def test_r8_as_stated_falsified_below_exact_lhs():
    check = BY_ID["R8-as-stated"]
    res = run(check)
    row = res.details["grid"][0]
    H, mu, delta = row["H"], row["mu"], 1.0
    # Exact reference: E||X(1) - x*||^2 = ||x0 - x*||^2 = 1 and E||X(t)-x*||^2 is continuous;
    # the bound at t -> 1+ tends to (delta+1) H / mu^2 and ln t/(t-1) <= 1. Scaling the bound by
    # 0.5 / ((delta+1) H / mu^2) puts it below 0.5 < E||X(t)-x*||^2 near t = 1: false.
    scale = 0.5 / ((delta + 1) * H / mu**2)
    res_f = run(check, rhs_scale=scale)
    assert res_f.verdict is Verdict.FAIL
    assert res_f.details["grid"][0]["D"] == row["D"]  # same measured ball


@pytest.mark.parametrize(
    "cid",
    [
        "R7-as-stated",
        "R7-as-stated-mc",
        "R8-as-stated-mc",
        "R7-proof-first-inequality",
        "R7-proof-decreasing",
        "R8-proof-first-inequality",
        "R8-proof-decreasing",
    ],
)
def test_falsified_claims_fail(cid):
    # Near t = 1 the left sides are E||X-x*||^2 ~ 1 (as stated) or E[printed equality] + c ~
    # 1/2 ||x0-x*||^2 = 1/2 (proof steps), while every right side is a finite positive number
    # of order (delta+1)(H + 2L^2D^2tau)/mu^2 ~ 1e2 for this small row; scaled by 1e-9 it is
    # far below: false by construction. Monte Carlo size: at the first grid point (t - 1 ~
    # 0.05) the per-path values have standard deviation ~ 0.3, so the one-sided Student-t
    # lower bound (alpha = 0.05, n = 300, Holm over <= 12 points) is within ~0.1 of the mean,
    # far above 1e-7: a FAIL is certain up to a probability far below 1e-6.
    res = run(BY_ID[cid], rhs_scale=1e-9)
    assert res.verdict is Verdict.FAIL, res.message


@pytest.mark.parametrize("cid", ["R7-as-applied", "R8-as-applied"])
def test_as_applied_falsified_below_exact_lhs(cid):
    check = BY_ID[cid]
    res = run(check, rhs_scale=1e-9)
    # Exact reference: one SGD step from x0 with step 1/mu on Q = diag(mu, L), kappa = 2:
    # e_2 = (I - Q/mu) e_1 - zeta/mu, so E||x_2 - x*||^2 >= ||(I - Q/mu) e_1||^2
    # = (1 - 2)^2 * 1/2 = 1/2 (the L-mode), while the bound at t = 2 is finite: scaled by
    # 1e-9 it is below 1/2.
    assert res.verdict is Verdict.FAIL, res.message


# ------------------------------------------------------------------------------ hypotheses


@pytest.mark.parametrize("check", [c for c in ALL if not c.id.endswith("-ito")], ids=lambda c: c.id)
def test_not_applicable_when_not_strongly_convex_with_mu(check):
    res = run(check, mu_factor=2.0)
    assert res.verdict is Verdict.NOT_APPLICABLE
    assert "strongly convex" in res.message


@pytest.mark.parametrize("cid", ["R8-as-stated", "R7-proof-first-inequality", "R8-as-applied"])
def test_not_applicable_when_paths_leave_the_ball(cid):
    # D = 1e-3 while ||x* - x0|| = 1: every path leaves d(x0, D).
    res = run(BY_ID[cid], D=1e-3)
    assert res.verdict is Verdict.NOT_APPLICABLE
    na = [r for r in res.details["grid"] if r["verdict"] == "NOT_APPLICABLE"]
    assert na and all(r["exit_fraction"] == 1.0 and "d(x0, D)" in r["reason"] for r in na)


def test_diverged_when_iterates_overflow():
    # kappa = 1e4: the step 1/(mu k) = 1e4/k on the L-mode multiplies the error by
    # |1 - 1e4/k| for k < 5e3; the product exceeds the float range (C(9999, 4999) ~ 1e3008).
    check = BY_ID["R8-as-applied"]
    res = run(check, rows=(dict(kappa=1e4, noise=1.0),), ball_paths=20)
    assert res.verdict is Verdict.DIVERGED
    assert "non-finite" in res.message


# ------------------------------------------------------------------------------ helpers


def test_measure_ball_clopper_pearson_closed_form():
    # Two halves: pilot 0..99 (quantile 0.99 "higher" = 99), test all below -> 0 exits:
    # the one-sided Clopper-Pearson bound is 1 - alpha^(1/n) exactly.
    sup = np.concatenate([np.arange(100.0), np.linspace(0, 50, 100)])
    ball = _r7.measure_ball(sup, {"eps_D": 0.01, "eps_max": 0.05}, 0.05, 10.0)
    assert ball.D == 99.0 and ball.exits == 0
    assert ball.exit_ucb == pytest.approx(1 - 0.05 ** (1 / 100), rel=1e-10)
    assert ball.holds
    ball2 = _r7.measure_ball(sup, {"D": 10.0, "eps_max": 0.05}, 0.05, 10.0)
    assert ball2.exits == int(np.count_nonzero(np.linspace(0, 50, 100) > 10.0))
    assert not ball2.holds


def test_tau0_moments_match_richardson_of_exact_em_moments():
    # Independent reference: exact moments of Euler-Maruyama at steps h, h/2, extrapolated
    # (weak order 1: error of 2 M_{h/2} - M_h is O(h^2)).
    row = _r7.Row(kappa=4.0, noise=2.0, delta=0.5)
    problem, x0, mu, _L = _r7.build_problem(row)
    Q = problem.hessian(problem.x_star)
    S = problem.Sigma(problem.x_star)
    t_check = np.array([1.5, 2.0, 4.0])
    ests = []
    for m0 in (200, 400):
        h = 1.0 / m0
        res = em_scheme_moments(
            Q,
            problem.x_star,
            np.ones(1),
            1.0,
            h,
            lambda t, h=h: h / (mu * t),
            3 * m0,
            noise=S * row.delta / h,
            x0=x0,
            record=np.rint((t_check - 1) * m0).astype(int),
            k0=m0,
        )
        ip = np.einsum("ij,rji->r", Q, res.second_moment)
        ests.append((res.mse, ip))
    rich_m = 2 * ests[1][0] - ests[0][0]
    rich_ip = 2 * ests[1][1] - ests[0][1]
    m, ip = _r7.tau0_moments(t_check, problem, x0, mu, row.delta, row.b)
    # h = 1/400, kappa = 4: O(h^2) error ~ 1e-4 relative; the first-order gap is ~1e-2.
    assert np.max(np.abs(m - rich_m) / m) < 2e-3
    assert np.max(np.abs(ip - rich_ip) / ip) < 2e-3
    assert np.max(np.abs(m - ests[1][0]) / m) > 1e-4  # the raw scheme is measurably biased


def test_horizons_cover_the_unstable_window():
    row = _r7.Row(kappa=10.0, tau=3.0)
    assert _r7.sdde_horizon(5.0, row, 3.0) == pytest.approx(120 / math.pi)
    assert _r7.sdde_horizon(50.0, row, 3.0) == 50.0
    # l = 0: delayed GD threshold 2 sin(pi/2) = 2, unstable for k < kappa/2 = 5.
    assert _r7.asgd_horizon(3, row, 0) == 10
    assert _r7.asgd_horizon(1000, row, 0) == 1000


def test_bad_rows_raise_input_errors():
    with pytest.raises(InputError):
        _r7._rows([dict(kapa=3)])
    with pytest.raises(InputError):
        _r7.build_problem(_r7.Row(problem="hinge"))
    with pytest.raises(InputError):
        _r7.steps_per_unit(_r7.Row(kappa=2.0), 0.123, 0.5)


def test_exact_rows_result_bracket_logic():
    check = BY_ID["R7-as-stated"]
    ctx = RunContext(check_id=check.id)
    t = np.array([1.5, 2.0])

    def verdict(lhs, bias):
        ev = ExactCurve(np.array(lhs), np.ones(2), r7.TOLERANCE, x=t, bracket=np.array(bias))
        return decide_rows(check, ctx, [EvidenceRow({"r": 0}, ev)]).verdict

    assert verdict([0.5, 0.9], [0.05, 0.05]) is Verdict.PASS
    assert verdict([0.5, 1.2], [0.05, 0.1]) is Verdict.FAIL
    assert verdict([0.5, 0.98], [0.05, 0.05]) is Verdict.INCONCLUSIVE


def test_em_bracket_contains_the_exact_value_at_tau_zero():
    # The R7-as-stated bracket M_{h/2} +- |M_h - M_{h/2}| must contain the exact second moment
    # of the SDE (tau = 0, closed form of theory.energy via r8.tau0_moments).
    row = _r7.Row(kappa=5.0, noise=1.0, delta=1.0, tau=0.0)
    problem, x0, mu, _L = _r7.build_problem(row)
    m0 = _r7.steps_per_unit(row, 0.0, 0.5)
    t, lhs, bias = _r7.em_exact_curve(row, problem, x0, mu, m0, 6.0, 12)
    exact, _ = _r7.tau0_moments(t, problem, x0, mu, row.delta, row.b)
    assert np.all(np.abs(lhs - exact) <= np.abs(bias))
    assert np.max(np.abs(bias)) > 0


def test_given_H_scales_the_cor43_bound_exactly():
    # Metamorphic: for tau = 0 the bound is proportional to H, so with H = 3 H_min every
    # lhs/rhs ratio is divided by exactly 3 (same exact lhs, same measured D).
    check = BY_ID["R8-as-stated"]
    res = run(check)
    row = res.details["grid"][0]
    res3 = run(check, H=3 * row["H"])
    row3 = res3.details["grid"][0]
    assert row3["H"] == pytest.approx(3 * row["H"], rel=1e-15)
    assert row3["max_ratio"] == pytest.approx(row["max_ratio"] / 3, rel=1e-12)


def test_H_below_H_min_is_not_applicable():
    # the hypothesis H >= E tr(sigma sigma^T) + 2 mu L D^2 of the statement fails at every row
    res = run(BY_ID["R8-as-stated"], H=1e-12)
    assert res.verdict is Verdict.NOT_APPLICABLE
    assert "H >= E tr(sigma sigma^T) + 2 mu L D^2" in res.message


def test_random_delay_exact_moments_match_simulation():
    # Two independent ways for random theta(t) = l_k delta: the exact moments of the EM scheme
    # (numerics.moments, delay law mixed exactly) and Monte Carlo of the same scheme
    # (numerics.sdde.euler_maruyama with RandomDelay). 4000 paths; |difference| <= 4.5 standard
    # errors at each of 3 times (two-sided, family-wise confidence > 99.99 %, Bonferroni).
    row = _r7.Row(kappa=4.0, noise=1.0, delta=0.5, tau=1.0, delay="random")
    problem, x0, mu, _L = _r7.build_problem(row)
    m0 = 10  # fine step h = 1/10, m = 5 substeps per delta
    k0, l, m = _r7.random_delay_grid(row, m0)
    assert (k0, l, m) == (2, 2, 5)
    T = 4.0
    sim = _r7.sdde_random_from_one(
        problem,
        x0,
        mu=mu,
        delta=row.delta,
        tau=row.tau,
        b=1,
        T=T,
        m0=k0,
        paths=4000,
        seed=np.random.SeedSequence(2024),
        record_every=1,
        row=row,
        h_m0=m0,
    )
    Q = problem.hessian(problem.x_star)
    S = problem.Sigma(problem.x_star)
    res = em_scheme_moments(
        Q,
        problem.x_star,
        np.full(l + 1, 1 / (l + 1)),
        1.0,
        row.delta,
        lambda t: row.delta / (mu * t),
        6,
        substeps=m,
        noise=S,
        x0=x0,
        record=[1, 3, 6],
        k0=k0,
    )
    r2 = np.sum((sim.fine_trajectory[[1, 3, 6]] - problem.x_star) ** 2, axis=-1)
    se = r2.std(axis=1, ddof=1) / np.sqrt(r2.shape[1])
    assert np.allclose(sim.times[[1, 3, 6]], res.times)
    assert np.all(np.abs(r2.mean(axis=1) - res.mse) <= 4.5 * se)


def test_random_delay_rows_rejected_by_the_monte_carlo_checks():
    rows = (dict(kappa=2, noise=1.0, delta=0.5, tau=1.0, delay="random"),)
    res = run(BY_ID["R7-proof-first-inequality"], rows=rows)
    assert res.verdict is Verdict.INCONCLUSIVE and "R7-as-stated only" in res.error


def test_constant_delay_simulation_matches_exact_em_moments():
    # The fine paths of sdde_from_one (step 1/(2 m0), xi = x0 on [1 - tau, 1]) against the exact
    # moments of the same scheme. 4000 paths, 3 times, |diff| <= 4.5 SE (two-sided,
    # family-wise confidence > 99.99 %). Without the explicit constant segment the fine
    # solution would read X(ih) instead of x0 inside the first tau and differ by ~50 %.
    row = _r7.Row(kappa=4.0, noise=1.0, delta=1.0, tau=1.0)
    problem, x0, mu, _L = _r7.build_problem(row)
    m0 = 10
    sim = _r7.sdde_from_one(
        problem,
        x0,
        mu=mu,
        delta=row.delta,
        tau=row.tau,
        b=1,
        T=4.0,
        m0=m0,
        paths=4000,
        seed=np.random.SeedSequence(7),
        record_every=5,
    )
    rec = np.array([1, 3, 6])  # recorded indices: t = 1 + 0.5 * rec
    h = 1.0 / (2 * m0)
    q = np.zeros(2 * m0 + 1)
    q[-1] = 1.0
    res = em_scheme_moments(
        problem.hessian(problem.x_star),
        problem.x_star,
        q,
        1.0,
        h,
        lambda t: h / (mu * t),
        6 * 2 * m0 // 2,
        noise=problem.Sigma(problem.x_star) * row.delta / h,
        x0=x0,
        record=rec * 10,
        k0=2 * m0,
    )
    assert np.allclose(sim.times[rec], res.times)
    r2 = np.sum((sim.fine_trajectory[rec] - problem.x_star) ** 2, axis=-1)
    se = r2.std(axis=1, ddof=1) / np.sqrt(r2.shape[1])
    assert np.all(np.abs(r2.mean(axis=1) - res.mse) <= 4.5 * se)
