"""Issue 4 item 6: the verdict machinery has the error rates it claims.

- a deliberately falsified claim (a true bound scaled by 0.5; a wrong exponent) comes out
  FAIL through the same `Check` machinery the real checks use;
- exact identities come out PASS, perturbed ones FAIL;
- a true claim with rhs exactly at the true mean (the hardest true case) comes out FAIL at
  a rate <= alpha: measured over 400 repetitions and compared with a binomial bound.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from verify.checks.base import Check, profile
from verify.context import RunContext
from verify.rates import RateForm, RatePoint, rate_check
from verify.verdict import Verdict


def _abs_normal(n: int, seed) -> np.ndarray:
    return np.abs(np.random.default_rng(seed).standard_normal(n))


class AbsNormalBound(Check):
    """E|Z| <= scale * 1 (true for scale = 1 since E|Z| <= sqrt(E Z^2) = 1; E|Z| = sqrt(2/pi))."""

    id = "P1"
    result = "toy"
    level = "as-stated"
    claim = "E|Z| <= scale"
    quick = profile(paths=4000, scale=1.0)

    def run(self, ctx):
        x = np.concatenate(ctx.map_seeded(_abs_normal, [ctx.params["paths"] // 4] * 4))
        return self.from_samples(ctx, x, ctx.params["scale"])


class GaussianMeanAtBoundary(Check):
    """E N(mu, 1) <= mu: true, with rhs exactly at the true mean."""

    id = "P2"
    result = "toy"
    level = "as-stated"
    claim = "E X <= mu"
    quick = profile(paths=30, mu=0.7, grid=1)

    def run(self, ctx):
        p = ctx.params
        rng = ctx.rng()
        if p["grid"] == 1:
            return self.from_samples(ctx, rng.normal(p["mu"], 1.0, p["paths"]), p["mu"])
        samples = [rng.normal(p["mu"] * j, 1.0, p["paths"]) for j in range(p["grid"])]
        return self.from_grid(ctx, samples, [p["mu"] * j for j in range(p["grid"])])


class BernoulliAtBoundary(Check):
    """E Bernoulli(q) <= q with an exact (empirical Bernstein / Hoeffding) bound."""

    id = "P3"
    result = "toy"
    level = "as-stated"
    claim = "E B <= q"
    quick = profile(paths=60, q=0.3, bound="bernstein")

    def run(self, ctx):
        p = ctx.params
        x = (ctx.rng().random(p["paths"]) < p["q"]).astype(float)
        return self.from_samples(ctx, x, p["q"], bound=p["bound"], value_range=(0.0, 1.0))


class ExactIdentity(Check):
    id = "P4"
    result = "toy"
    level = "proof-step"
    claim = "sum_{k=1}^n k = n(n+1)/2 (floating point) and 1/3 * 3 = 1"
    method = "exact"
    quick = profile(perturb=0.0)

    def run(self, ctx):
        n = np.arange(1, 2001, dtype=float)
        lhs = np.cumsum(n) + ctx.params["perturb"]
        return self.from_exact(ctx, lhs, n * (n + 1) / 2)


def test_falsified_bound_scaled_by_half_fails():
    # E|Z| = sqrt(2/pi) = 0.798 > 0.5; with 4000 paths the standard error is 0.0095, so the
    # lower bound exceeds 0.5 unless the sample mean is 31 standard errors low: power ~ 1.
    true = AbsNormalBound().execute(RunContext("P1", global_seed=1))
    false = AbsNormalBound().execute(RunContext("P1", global_seed=1), {"scale": 0.5})
    assert true.verdict is Verdict.PASS
    assert false.verdict is Verdict.FAIL
    assert false.estimate == _approx(math.sqrt(2 / math.pi), 0.04)


def _approx(x, tol):
    import pytest

    return pytest.approx(x, abs=tol)


def test_exact_identity_passes_and_perturbed_fails():
    ok = ExactIdentity().execute(RunContext("P4"))
    bad = ExactIdentity().execute(RunContext("P4"), {"perturb": 1e-6})
    assert ok.verdict is Verdict.PASS and ok.bound_kind.startswith("exact, tolerance")
    assert bad.verdict is Verdict.FAIL


def _fail_rate(check: Check, reps: int, overrides=None) -> int:
    fails = 0
    for seed in range(reps):
        r = check.execute(RunContext(check.id, global_seed=seed), overrides)
        fails += r.verdict is Verdict.FAIL
    return fails


# Acceptance limit: the 0.999 quantile of Bin(400, alpha). If the true FAIL rate were exactly
# alpha the test would fail with probability <= 0.001 (and less for conservative bounds).
REPS = 400
LIMIT = int(binom.ppf(0.999, REPS, 0.05))


def test_type_one_error_student_t_at_boundary():
    # Gaussian data: the Student-t bound is exact, so P(FAIL) = alpha exactly.
    fails = _fail_rate(GaussianMeanAtBoundary(), REPS)
    assert fails <= LIMIT, (fails, LIMIT)
    # it is not vacuous either: at the boundary the FAIL rate is alpha, so some FAILs occur
    # (P(0 fails) = 0.95**400 < 1e-8).
    assert fails > 0


def test_type_one_error_holm_grid_at_boundary():
    # 5 grid points all exactly at their rhs: Holm keeps the family-wise FAIL rate <= alpha.
    fails = _fail_rate(GaussianMeanAtBoundary(), REPS, {"grid": 5})
    assert fails <= LIMIT, (fails, LIMIT)


def test_type_one_error_exact_bounds_bernoulli():
    for bound in ("bernstein", "hoeffding"):
        fails = _fail_rate(BernoulliAtBoundary(), REPS, {"bound": bound})
        assert fails <= LIMIT, (bound, fails, LIMIT)


def _rate_points(ks, seed, n=400):
    # E LHS(K) = 1/sqrt(K) + 2/K: leading exponent -1/2; relative noise Exp(1).
    rng = np.random.default_rng(seed)
    return [RatePoint({"K": k}, (k**-0.5 + 2.0 / k) * rng.exponential(1.0, n)) for k in ks]


def test_wrong_exponent_fails_and_true_exponent_passes():
    cal = _rate_points([10, 20, 40, 80, 160], 1)
    held = _rate_points([1000, 4000, 16000], 2)
    right = rate_check(RateForm({"C": lambda p: p["K"] ** -0.5}, {"K": -0.5}), cal, held)
    wrong = rate_check(RateForm({"C": lambda p: p["K"] ** -1.0}, {"K": -1.0}), cal, held)
    assert right.verdict is Verdict.PASS
    assert wrong.verdict is Verdict.FAIL
    (e,) = wrong.exponents
    assert e.consistent is False and -0.75 < e.slope < -0.45


class SequentialBernoulli(Check):
    """E Bernoulli(q) <= rhs, sampled in batches until the confidence sequence decides."""

    id = "P5"
    result = "toy"
    level = "as-stated"
    claim = "E B <= rhs"
    quick = profile(q=0.3, rhs=0.3, batch=50, max_batches=8)

    def run(self, ctx):
        p = ctx.params

        def draw(seed):
            return (np.random.default_rng(seed).random(p["batch"]) < p["q"]).astype(float)

        return self.from_sequential(ctx, draw, p["rhs"], (0.0, 1.0), p["max_batches"])


def test_sequential_decides_early_and_falsified_fails():
    ok = SequentialBernoulli().execute(RunContext("P5"), {"rhs": 0.6, "max_batches": 40})
    assert ok.verdict is Verdict.PASS and ok.details["batches"] < 40
    assert ok.bound_kind.startswith("confidence sequence")
    bad = SequentialBernoulli().execute(RunContext("P5"), {"rhs": 0.15, "max_batches": 40})
    assert bad.verdict is Verdict.FAIL and bad.paths == 50 * bad.details["batches"]


def test_type_one_error_sequential_at_boundary():
    # Checking after every batch is allowed: the FAIL rate stays <= alpha (anytime validity).
    fails = _fail_rate(SequentialBernoulli(), REPS)
    assert fails <= LIMIT, (fails, LIMIT)
