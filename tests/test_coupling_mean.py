"""The fifth coupling: the minibatch mean paired with its Gaussian (quantile coupling of the
minibatch sum), `simulate_coupled(..., coupling="quantile-mean")` (issue 10 item 7).

References:
- two-point problem (Section 5, average reading): after one step from x* with delta = eta,
  x_1 - x* = eta S/b with S a sum of b Rademacher signs and x~_1 - x* = eta z/sqrt(b); the
  comonotone (quantile) coupling realises W1, so E|x_1 - x~_1| sqrt(b)/eta must equal
  W1(law(S/sqrt b), N(0, 1)) = int |F_S - Phi| dx, computed here by scipy quadrature;
- exact marginals: ASGD and the EM scheme keep their laws (exact moments of numerics.moments);
- the lattice-sum law against brute-force enumeration of all n^b minibatches.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate, stats

from numerics.coupling import COUPLINGS, minibatch_sum_law, simulate_coupled
from numerics.delays import RandomDelay
from numerics.errors import CouplingError
from numerics.moments import asgd_moments_for, sdde_em_moments_for
from numerics.problems import LeastSquares, TwoPoint

Z = 4.0


def _w1_rademacher_sum(b: int) -> float:
    """W1 between (sum of b Rademacher signs)/sqrt(b) and N(0, 1), by quadrature."""
    atoms = (2 * np.arange(b + 1) - b) / np.sqrt(b)
    cdf = np.cumsum(stats.binom.pmf(np.arange(b + 1), b, 0.5))
    total = integrate.quad(lambda x: stats.norm.cdf(x), -np.inf, atoms[0])[0]
    for i in range(b):
        total += integrate.quad(
            lambda x, c=cdf[i]: abs(c - stats.norm.cdf(x)), atoms[i], atoms[i + 1], limit=200
        )[0]
    total += integrate.quad(lambda x: stats.norm.sf(x), atoms[-1], np.inf)[0]
    return total


@pytest.mark.parametrize("b", [1, 4, 16])
def test_two_point_coupled_distance_is_the_wasserstein_distance(b):
    p, eta = TwoPoint("average"), 0.1
    r = simulate_coupled(
        p, eta=eta, K=1, paths=20_000, seed=b, b=b, coupling="quantile-mean", x0=p.x_star
    )
    dist = np.abs(r.x_asgd - r.x_scheme)[:, 0] * np.sqrt(b) / eta
    se = dist.std(ddof=1) / np.sqrt(dist.size)
    assert abs(dist.mean() - _w1_rademacher_sum(b)) <= Z * se


def test_mean_coupling_shrinks_with_b_where_the_per_sample_one_does_not():
    p, eta = TwoPoint("average"), 0.1
    out = {}
    for c in ("quantile", "quantile-mean"):
        for b in (1, 16):
            r = simulate_coupled(p, eta=eta, K=1, paths=8000, seed=3, b=b, coupling=c,
                                 x0=p.x_star)  # fmt: skip
            out[c, b] = float(np.mean(np.abs(r.x_asgd - r.x_scheme)) * np.sqrt(b) / eta)
    # W1 decays like 1/sqrt(b) (0.54 -> 0.13); the per-sample coupling stays near 0.5
    assert out["quantile-mean", 16] < 0.5 * out["quantile-mean", 1]
    assert out["quantile-mean", 16] < 0.5 * out["quantile", 16]
    assert out["quantile", 16] > 0.4


def _ls() -> LeastSquares:
    rng = np.random.default_rng(4)
    A = rng.standard_normal((15, 2))
    return LeastSquares(A, A @ np.ones(2) + 0.7 * rng.standard_normal(15))


def _agrees(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> None:
    P = X.shape[0]
    assert np.all(np.abs(X.mean(0) - mean) <= Z * X.std(0, ddof=1) / np.sqrt(P))
    E = X - mean
    prod = E[:, :, None] * E[:, None, :]
    assert np.all(np.abs(prod.mean(0) - cov) <= Z * prod.std(0, ddof=1) / np.sqrt(P))


def test_marginals_are_exact_on_non_lattice_data():
    p, kw = _ls(), dict(eta=0.1, K=12, delay=RandomDelay(2), b=3, x0=[2.0, 0.0])
    r = simulate_coupled(p, paths=20_000, seed=8, coupling="quantile-mean", **kw)
    m_asgd = asgd_moments_for(p, record=[12], **kw)
    m_em = sdde_em_moments_for(p, record=[12], **kw)
    _agrees(r.x_asgd, m_asgd.mean[0], m_asgd.cov[0])
    _agrees(r.x_scheme, m_em.mean[0], m_em.cov[0])
    assert r.meta["coupling"] == "quantile-mean" and r.meta["sum_lattice_step"] > 0


def test_lattice_sum_law_against_enumeration():
    D = np.array([-1.3, 0.2, 0.25, 0.9, 2.0])
    law = minibatch_sum_law(D, 3, grid=50)
    counts = np.zeros(law.upto.size)
    for idx in itertools.product(range(5), repeat=3):
        counts[law.k[list(idx)].sum()] += 1
    pmf = counts / 5**3
    np.testing.assert_allclose(law.upto, np.cumsum(pmf), atol=1e-14)
    np.testing.assert_allclose(law.below, np.cumsum(pmf) - pmf, atol=1e-14)
    np.testing.assert_allclose(D.min() + law.h * law.k, D, atol=law.h / 2 + 1e-15)
    # Rademacher values sit on the lattice: the law is the binomial one
    rad = minibatch_sum_law(np.array([-1.0, 1.0]), 10)
    atoms = rad.k[1] * np.arange(11)
    pm = rad.upto[atoms] - rad.below[atoms]
    np.testing.assert_allclose(pm, stats.binom.pmf(np.arange(11), 10, 0.5), atol=1e-13)


def test_randomised_rank_is_uniform():
    rng = np.random.default_rng(0)
    D = np.array([-1.3, 0.2, 0.25, 0.9, 2.0])
    law = minibatch_sum_law(D, 2)
    s = law.k[rng.integers(0, 5, size=(50_000, 2))].sum(axis=1)
    R = law.rank(s, rng.random(50_000))
    assert stats.kstest(R, "uniform").pvalue > 1e-4


def test_bad_input_is_named():
    assert "quantile-mean" in COUPLINGS
    with pytest.raises(CouplingError):
        simulate_coupled(_ls(), eta=0.1, K=2, paths=2, seed=0, b=2, replace=False,
                         coupling="quantile-mean")  # fmt: skip
