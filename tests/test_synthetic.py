"""The synthetic problem factories (numerics/synthetic.py): closed-form properties and pins.

Pinned entries: values printed by the factories of verify/checks at commit 7e17870
(`_approx.build_problem`, `r7_thm42.build_problem`, `r6_thm41.least_squares_design`,
`r5_ou.regression_data`, the inline data of `r1_scheme`), which numerics.synthetic reproduces
byte for byte (checked once over 84 calls when the module was written). The first draws of
`default_rng(0)` (0.1257302210933933, -0.1321048632913019) are numpy's documented PCG64 stream.
The closed-form properties (spectra, x*, tr Sigma(x*), L/mu, |x0 - x*|) are independent of the
pins: they follow from how each design is built.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from numerics.problems import LeastSquares, LogisticL2, Quadratic, TwoPoint
from numerics.synthetic import (
    APPROXIMATION_PROBLEMS,
    SyntheticInputError,
    approximation_problem,
    conditioned_problem,
    scheme_problems,
    spectral_least_squares,
    spectral_regression_data,
)

R = dict(rtol=0, atol=2e-16)  # pins are printed with 17 significant digits


def test_approximation_least_squares():
    p = approximation_problem("least-squares", 0)
    assert isinstance(p, LeastSquares) and p.A.shape == (40, 2)
    np.testing.assert_allclose(p.A[0], [0.1257302210933933, -0.1321048632913019], **R)
    np.testing.assert_allclose(p.y[:2], [0.0878849540583242, 0.4287257225002084], **R)
    np.testing.assert_allclose(p.x_star, [0.945705325555037, 1.0124402128285692], rtol=1e-14)
    assert p.L == pytest.approx(1.115109188723458, rel=1e-14)
    assert p.mu == pytest.approx(0.7709840166228528, rel=1e-14)
    # closed form: x* solves the normal equations
    np.testing.assert_allclose(p.A.T @ (p.A @ p.x_star - p.y), 0, atol=1e-12)


def test_approximation_two_point_and_logistic():
    tp = approximation_problem("two-point", 3)
    assert isinstance(tp, TwoPoint) and tp.L == 1.0 and tp.mu == 1.0
    lg = approximation_problem("logistic", 0)
    assert isinstance(lg, LogisticL2) and lg.lam == 0.1 and lg.mu == pytest.approx(0.1)
    np.testing.assert_allclose(lg.A[0], [0.18859533164008996, -0.19815729493695283], **R)
    np.testing.assert_array_equal(lg.y[:6], [1.0, 1.0, -1.0, 1.0, -1.0, -1.0])
    assert set(np.unique(lg.y)) == {-1.0, 1.0}
    # the features are 1.5 x the standard normal draws of the same seed
    np.testing.assert_allclose(lg.A[0] / 1.5, [0.1257302210933933, -0.1321048632913019], **R)
    assert lg.L == pytest.approx(np.linalg.eigvalsh(lg.A.T @ lg.A)[-1] / 160 + 0.1, rel=1e-12)
    np.testing.assert_allclose(lg.grad(lg.x_star), 0, atol=1e-10)


def test_approximation_seed_changes_data_and_bad_name():
    a, b = approximation_problem("least-squares", 0), approximation_problem("least-squares", 1)
    assert not np.array_equal(a.A, b.A)
    with pytest.raises(SyntheticInputError):
        approximation_problem("nope")
    assert APPROXIMATION_PROBLEMS == ("least-squares", "two-point", "logistic")


@pytest.mark.parametrize("kappa", [1.0, 10.0, 1000.0])
def test_conditioned_quadratic(kappa):
    c = conditioned_problem("quadratic", kappa, noise=0.4, x0_dist=2.0)
    assert isinstance(c.problem, Quadratic)
    assert c.mu == 1.0 / kappa and c.L == 1.0
    np.testing.assert_array_equal(c.problem.x_star, [0.5, -0.5])
    assert np.trace(c.problem.Sigma(c.problem.x_star)) == pytest.approx(0.4, rel=1e-15)
    assert np.linalg.norm(c.x0 - c.problem.x_star) == pytest.approx(2.0, rel=1e-15)


@pytest.mark.parametrize("kappa, noise", [(10.0, 1.0), (1000.0, 0.01)])
def test_conditioned_least_squares(kappa, noise):
    c = conditioned_problem("least-squares", kappa, noise=noise, x0_dist=1.0, data_seed=0)
    p = c.problem
    # spectrum geomspace(1/kappa, 1, 3), x* = 1/2, tr Sigma(x*) = noise, by construction
    np.testing.assert_allclose(
        np.linalg.eigvalsh(p.A_tilde), np.geomspace(1 / kappa, 1, 3), rtol=1e-12
    )
    np.testing.assert_allclose(p.x_star, 0.5, rtol=1e-10)
    assert np.trace(p.Sigma(p.x_star)) == pytest.approx(noise, rel=1e-10)
    assert c.L / c.mu == pytest.approx(kappa, rel=1e-10)
    np.testing.assert_allclose(c.x0, p.x_star + 1 / math.sqrt(3), rtol=1e-15)
    if kappa == 10.0:
        np.testing.assert_allclose(
            p.A[0], [-0.584528897563178, 0.261888712596743, 0.7341101482407089], atol=1e-15
        )


def test_conditioned_logistic():
    c = conditioned_problem("logistic", 10.0, data_seed=0)
    p = c.problem
    assert isinstance(p, LogisticL2)
    np.testing.assert_allclose(p.A[0], [0.1257302210933933, -0.1321048632913019], **R)
    s = np.linalg.eigvalsh(p.A.T @ p.A)[-1] / 160
    assert p.lam == pytest.approx(s / 9, rel=1e-14)
    assert c.L / c.mu == pytest.approx(10.0, rel=1e-12)
    assert c.mu == pytest.approx(0.03097525524231828, rel=1e-13)
    np.testing.assert_allclose(p.x_star, [0.7355296476121169, -0.8249539503742057], rtol=1e-9)
    with pytest.raises(SyntheticInputError):
        conditioned_problem("logistic", 1.0)
    with pytest.raises(SyntheticInputError):
        conditioned_problem("quadratic", 0.5)
    with pytest.raises(SyntheticInputError):
        conditioned_problem("cubic", 2.0)


def test_conditioned_problem_unpacks_like_the_old_tuple():
    problem, x0, mu, L = conditioned_problem("quadratic", 4.0)
    assert (mu, L) == (0.25, 1.0) and x0.shape == (2,) and problem.d == 2


def test_spectral_least_squares():
    p = spectral_least_squares(100.0, 3, 40, 7)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(p.A_tilde), np.geomspace(0.01, 1.0, 3), rtol=1e-12
    )
    np.testing.assert_allclose(
        p.A[0], [-0.9847829223391262, 0.702550022376464, 0.6856287772984518], atol=1e-15
    )
    np.testing.assert_allclose(p.y[:2], [1.9567988761041866, 1.2582435583672604], atol=1e-14)
    np.testing.assert_allclose(
        p.x_star, [-1.319459866631934, -1.0861648729992623, 1.9696447148109548], rtol=1e-12
    )
    q = spectral_least_squares(4.0, 2, 10, 1, L=3.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(q.A_tilde), [0.75, 3.0], rtol=1e-12)
    for bad in (dict(kappa=0.5), dict(n=2), dict(L=0.0)):
        kw = dict(kappa=2.0, d=3, n=10, data_seed=0) | bad
        with pytest.raises(SyntheticInputError):
            spectral_least_squares(**kw)


def test_spectral_regression_data_uses_the_callers_stream():
    rng = np.random.default_rng(5)
    A, y = spectral_regression_data(3, 10.0, 20, rng)
    np.testing.assert_allclose(
        A[0], [1.586560730715244, -0.49956026796577907, 0.5951551458678213], atol=1e-15
    )
    np.testing.assert_allclose(y[:2], [-0.2555582412694283, -0.8095454062178105], atol=1e-15)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(A.T @ A / 20), np.geomspace(0.1, 1.0, 3), rtol=1e-12
    )
    # the stream moved on: d*d + n*d + d + n normals were drawn
    ref = np.random.default_rng(5)
    ref.standard_normal(9 + 60 + 3 + 20)
    assert rng.standard_normal() == ref.standard_normal()


def test_scheme_problems():
    rng = np.random.default_rng(0)
    quad, ls = scheme_problems(rng)
    np.testing.assert_allclose(quad.x_star, [0.5, -0.25])
    np.testing.assert_allclose(quad.Sigma(quad.x_star), [[1.0, 0.3], [0.3, 0.5]])
    np.testing.assert_allclose(ls.A[0], [0.1257302210933933, -0.1321048632913019], **R)
    np.testing.assert_allclose(ls.y[:2], [0.5819275614578336, 0.1657028620062941], atol=1e-15)
    ref = np.random.default_rng(0)
    ref.standard_normal(24 + 12)
    assert rng.integers(0, 1000) == ref.integers(0, 1000)
