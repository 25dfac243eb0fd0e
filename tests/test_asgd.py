"""ASGD Eq. (4): metamorphic tests and exact references (plain loops, closed forms, SPEC §4)."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, CyclicDelay, NoDelay, RandomDelay
from numerics.problems import LeastSquares, Quadratic, TwoPoint
from numerics.rng import chunks
from numerics.schedules import InverseK, InverseSqrtK


def _ls(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return LeastSquares(rng.standard_normal((n, d)), rng.standard_normal(n))


@pytest.mark.parametrize("zero", [ConstantDelay(0), RandomDelay(0), CyclicDelay(0)])
def test_zero_delay_models_equal_sgd_bit_for_bit(zero):
    p = _ls()
    kw = dict(eta=0.05, K=60, paths=50, seed=3, b=2, chunk_size=16, x0=[1.0, 0.0, -1.0])
    a = simulate_asgd(p, delay=NoDelay(), **kw)
    c = simulate_asgd(p, delay=zero, **kw)
    assert np.array_equal(a.x_final, c.x_final)


def test_sgd_equals_plain_loop():
    """l = 0 ASGD vs a plain per-path SGD loop drawing the same minibatch indices."""
    p = _ls()
    eta, K, P, b = 0.05, 40, 10, 3
    res = simulate_asgd(p, eta=eta, K=K, paths=P, seed=11, b=b, chunk_size=4)
    out = []
    for c in chunks(11, P, 4):
        rng = c.generator()
        xs = [np.zeros(3) for _ in range(c.size)]
        for _ in range(K):
            idx = rng.integers(0, p.n, size=(c.size, b), dtype=np.int64)
            for q in range(c.size):
                g = sum((p.A[i] @ xs[q] - p.y[i]) * p.A[i] for i in idx[q]) / b
                xs[q] = xs[q] - eta * g
        out.extend(xs)
    np.testing.assert_allclose(res.x_final, np.array(out), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("model", [ConstantDelay(3), CyclicDelay(2)])
@pytest.mark.parametrize("with_xi", [False, True])
def test_zero_noise_equals_delayed_gradient_descent_loop(model, with_xi):
    p = _ls()
    eta, K, l = 0.1, 30, model.l
    x0 = np.array([1.0, -2.0, 0.5])
    xi = np.linspace(-1, 1, l + 1)[:, None] * np.ones(3) + x0 if with_xi else None
    res = simulate_asgd(
        p,
        eta=eta,
        K=K,
        paths=2,
        seed=0,
        x0=x0,
        xi=xi,
        delay=model,
        noise="none",
        return_delays=True,
    )
    hist = [xi[i] for i in range(l + 1)] if with_xi else [x0]
    for k in range(K):
        lk = l if isinstance(model, ConstantDelay) else k % (l + 1)
        if not with_xi:
            lk = min(lk, k)  # footnote 2
        xd = hist[-1 - lk]
        hist.append(hist[-1] - eta * (p.A.T @ (p.A @ xd - p.y)) / p.n)
        assert np.all(res.delays[k] == lk)
    np.testing.assert_allclose(res.x_final, np.array([hist[-1]] * 2), rtol=1e-12, atol=1e-14)


def test_decreasing_schedule_starts_at_k1_and_matches_loop():
    p = Quadratic([[2.0]], [1.0])
    for sched, u in ((InverseK(), lambda k: 1 / k), (InverseSqrtK(), lambda k: k**-0.5)):
        res = simulate_asgd(
            p,
            eta=0.3,
            K=25,
            paths=1,
            seed=0,
            x0=[3.0],
            schedule=sched,
            noise="none",
            record_every=5,
        )
        x = 3.0
        for k in range(1, 26):
            x = x - 0.3 * u(k) * 2.0 * (x - 1.0)
        assert res.x_final[0, 0] == pytest.approx(x, rel=1e-13)
        assert res.steps[0] == 1 and res.steps[-1] == 26
        np.testing.assert_allclose(res.times, res.steps * 0.3)


def test_without_replacement_full_batch_is_gradient_descent():
    p = _ls(n=6)
    kw = dict(eta=0.1, K=20, paths=5, seed=1, x0=[1.0, 1.0, 1.0])
    gd = simulate_asgd(p, noise="none", **kw)
    sgd = simulate_asgd(p, b=6, replace=False, **kw)
    np.testing.assert_allclose(sgd.x_final, gd.x_final, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("l", [1, 2, 5])
def test_delayed_gd_stability_threshold(l):
    """½ a x² with constant delay l: stable iff eta a < 2 sin(pi / (2 (2 l + 1))) (SPEC §4)."""
    a = 1.0
    thr = 2 * np.sin(np.pi / (2 * (2 * l + 1)))
    p = Quadratic([[a]])
    for factor, stable in ((0.9, True), (1.1, False)):
        eta = factor * thr / a
        # independent check of the regime: spectral radius of the companion matrix
        C = np.zeros((l + 1, l + 1))
        C[0, 0], C[0, l] = 1.0, -eta * a
        C[1:, :-1] += np.eye(l)
        rho = max(abs(np.linalg.eigvals(C)))
        assert (rho < 1) == stable
        K = int(np.ceil(30 / abs(np.log(rho))))  # |x_K| ~ rho^K = e^{±30}
        res = simulate_asgd(
            p, eta=eta, K=K, paths=1, seed=0, x0=[1.0], delay=ConstantDelay(l), noise="none"
        )
        x = abs(res.x_final[0, 0])
        assert (x < 1e-6) if stable else (x > 1e6)


def test_divergence_is_reported_with_paths_and_step():
    """x_{k+1} = x_k - 3 x_k = -2 x_k exactly: |x_k| = 2^k |x_0| overflows at 2^1024."""
    p = Quadratic([[3.0]])
    x0 = np.array([[0.0], [1.0], [2.0**-10], [0.0]])
    res = simulate_asgd(p, eta=1.0, K=1100, paths=4, seed=0, x0=x0, noise="none", record_every=100)
    assert res.diverged_paths.tolist() == [1, 2]
    assert res.diverged_from_step.tolist() == [-1, 1024, 1034, -1]
    assert np.all(res.x_final[[0, 3]] == 0.0) and np.all(np.isnan(res.x_final[[1, 2]]))
    assert np.isfinite(res.trajectory[10, 2, 0]) and np.isnan(res.trajectory[11, 2, 0])


def test_recording_matches_shorter_runs():
    p = _ls()
    kw = dict(eta=0.05, paths=20, seed=5, b=2, delay=RandomDelay(2), chunk_size=7)
    long = simulate_asgd(p, K=30, record_every=10, **kw)
    for r, K in enumerate([10, 20, 30], start=1):
        short = simulate_asgd(p, K=K, **kw)
        assert np.array_equal(long.trajectory[r], short.x_final)
    assert long.steps.tolist() == [0, 10, 20, 30]


def test_random_delays_law_and_cap():
    """Uniform q on {0..3}: frequencies within a 99.9% band; footnote-2 cap min(l_k, k)."""
    q = np.array([0.1, 0.2, 0.3, 0.4])
    res = simulate_asgd(
        TwoPoint(), eta=0.01, K=400, paths=500, seed=2, delay=RandomDelay(3, q), return_delays=True
    )
    D = res.delays
    for k in range(3):
        assert D[k].max() <= k
    tail = D[3:].ravel()
    N = tail.size
    freq = np.bincount(tail, minlength=4) / N
    assert np.all(np.abs(freq - q) < 3.29 * np.sqrt(q * (1 - q) / N))


def test_gaussian_surrogate_two_point_variance():
    """Eq. (5) on TwoPoint (sigma = 1, l = 0): x_{k+1} = (1-eta) x_k + eta z_k, so
    Var x_K = eta^2 (1 - (1-eta)^{2K}) / (1 - (1-eta)^2) exactly; the estimate is exactly
    chi-square distributed (Gaussian, known mean 0): 99.9% two-sided interval."""
    from scipy import stats

    eta, K, P = 0.1, 200, 20000
    res = simulate_asgd(TwoPoint(), eta=eta, K=K, paths=P, seed=9, noise="gaussian")
    v = eta**2 * (1 - (1 - eta) ** (2 * K)) / (1 - (1 - eta) ** 2)
    ss = np.sum(res.x_final[:, 0] ** 2)
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], P)
    assert lo <= ss / v <= hi
    st = simulate_asgd(
        TwoPoint(), eta=eta, K=5, paths=3, seed=9, noise="gaussian", sigma_at="state"
    )
    ref = simulate_asgd(TwoPoint(), eta=eta, K=5, paths=3, seed=9, noise="gaussian")
    np.testing.assert_allclose(st.x_final, ref.x_final, rtol=1e-12)  # Sigma constant here


def test_random_delays_follow_the_returned_delays_exactly():
    """Noise-free ASGD with i.i.d. delays vs a per-path loop reading the reported l_k."""
    p = _ls()
    eta, K, l = 0.1, 25, 3
    res = simulate_asgd(
        p,
        eta=eta,
        K=K,
        paths=6,
        seed=4,
        x0=[1.0, 0.0, 2.0],
        noise="none",
        delay=RandomDelay(l),
        return_delays=True,
    )
    for q in range(6):
        hist = [np.array([1.0, 0.0, 2.0])]
        for k in range(K):
            lk = res.delays[k, q]
            assert 0 <= lk <= min(l, k)
            hist.append(hist[-1] - eta * (p.A.T @ (p.A @ hist[-1 - lk] - p.y)) / p.n)
        np.testing.assert_allclose(res.x_final[q], hist[-1], rtol=1e-12, atol=1e-14)
