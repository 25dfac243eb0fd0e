"""The update rule defined once (numerics/update_rules.py) and a second rule (heavy ball).

References: plain ASGD outputs of `simulate_asgd` / `asgd_moments_for` (the rule must reproduce
them bit for bit / to rounding); an independent dense companion-matrix propagation of the
heavy-ball recursion; Monte Carlo with CLT intervals (z = 4 per entry, a handful of entries).
"""

from __future__ import annotations

import numpy as np
import pytest

from numerics.asgd import simulate_asgd, simulate_rule
from numerics.coupling import simulate_coupled
from numerics.delays import ConstantDelay, CyclicDelay, RandomDelay
from numerics.errors import InputError
from numerics.moments import asgd_moments_for, quadratic_asgd_moments, rule_moments
from numerics.momentum import HeavyBallRule, MomentumError
from numerics.problems import LeastSquares, Quadratic
from numerics.schedules import InverseSqrtK
from numerics.update_rules import ASGDRule

Z = 4.0  # per-entry CLT multiplier (about 6e-5 two-sided per entry)


def _ls(seed: int = 0) -> LeastSquares:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((20, 2))
    return LeastSquares(A, A @ np.ones(2) + 0.5 * rng.standard_normal(20))


CASES = [
    dict(delay=None, b=2),
    dict(delay=ConstantDelay(2), b=1),
    dict(delay=RandomDelay(3), b=3, replace=False),
    dict(delay=CyclicDelay(2), noise="gaussian", schedule=InverseSqrtK()),
    dict(delay=RandomDelay(1), noise="gaussian", sigma_at="state"),
    dict(delay=ConstantDelay(1), noise="none"),
]


@pytest.mark.parametrize("kw", CASES)
def test_rule_object_reproduces_simulate_asgd_bit_for_bit(kw):
    p = _ls()
    a = simulate_asgd(p, eta=0.1, K=25, paths=300, seed=7, chunk_size=128, **kw)
    r = simulate_rule(p, ASGDRule(0.1, **kw), K=25, paths=300, seed=7, chunk_size=128)
    hb = simulate_rule(p, HeavyBallRule(0.1, beta=0.0, **kw), K=25, paths=300, seed=7,
                       chunk_size=128)  # fmt: skip
    assert a.x_final.tobytes() == r.x_final.tobytes()
    assert a.x_final.tobytes() == hb.x_final.tobytes()


@pytest.mark.parametrize("kw", CASES[:5])
def test_beta_zero_moments_equal_plain_asgd_to_rounding(kw):
    p = _ls()
    m0 = asgd_moments_for(p, eta=0.1, K=30, **kw)
    m1 = rule_moments(p, HeavyBallRule(0.1, beta=0.0, **kw), K=30)
    np.testing.assert_allclose(m1.mean, m0.mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(m1.cov, m0.cov, rtol=1e-12, atol=1e-15)


def test_beta_changes_the_iterates():
    # the rule is not a no-op: momentum moves the deterministic path
    p = _ls()
    m0 = rule_moments(p, ASGDRule(0.05, noise="none"), K=10, x0=[3.0, -1.0])
    m1 = rule_moments(p, HeavyBallRule(0.05, beta=0.5, noise="none"), K=10, x0=[3.0, -1.0])
    assert np.abs(m0.mean[-1] - m1.mean[-1]).max() > 1e-3


@pytest.mark.parametrize("delay", [None, ConstantDelay(2), CyclicDelay(1)])
def test_heavy_ball_deterministic_path_equals_recursion(delay):
    # noise="none": the simulated path is the mean; no sampling error
    p = _ls()
    rule = HeavyBallRule(0.05, beta=0.6, delay=delay, noise="none")
    s = simulate_rule(p, rule, K=40, paths=3, seed=1, x0=[2.0, 0.0], record_every=1)
    m = rule_moments(p, rule, K=40, x0=[2.0, 0.0])
    np.testing.assert_allclose(s.trajectory[:, 0], m.mean, rtol=1e-12, atol=1e-13)
    assert np.abs(m.cov).max() < 1e-13


def _dense_heavy_ball(Q, S, l, eta, beta, x0, K):
    """Independent reference: stacked state s_k = (e_k, ..., e_{k-L}), L = max(l, 1),
    s_{k+1} = M s_k + E w_k with the companion matrix of
    e_{k+1} = (1+beta) e_k - beta e_{k-1} - eta Q e_{k-l} - eta zeta_k (constant delay, no cap
    needed: the history is constant)."""
    d = Q.shape[0]
    L = max(l, 1)
    D = d * (L + 1)
    M = np.zeros((D, D))
    M[d:, :-d] = np.eye(D - d)
    M[:d, :d] += (1 + beta) * np.eye(d)
    M[:d, d : 2 * d] += -beta * np.eye(d)
    M[:d, l * d : (l + 1) * d] += -eta * Q
    E = np.zeros((D, d))
    E[:d] = np.eye(d)
    m = np.tile(x0, L + 1)
    C = np.zeros((D, D))
    for _ in range(K):
        m = M @ m
        C = M @ C @ M.T + eta**2 * E @ S @ E.T
    return m[:d], C[:d, :d]


@pytest.mark.parametrize("l", [0, 1, 3])
def test_heavy_ball_recursion_against_dense_companion_matrix(l):
    Q = np.array([[1.0, 0.2], [0.2, 0.4]])
    S = np.array([[0.5, 0.1], [0.1, 0.3]])
    x0 = np.array([1.0, -2.0])
    res = quadratic_asgd_moments(
        Q, np.zeros(2), np.eye(l + 1)[l], 0.1, 1.0, 35, noise=S, x0=x0, record=[35],
        combination=((0, 1.7), (1, -0.7)),
    )  # fmt: skip
    m_ref, C_ref = _dense_heavy_ball(Q, S, l, 0.1, 0.7, x0, 35)
    np.testing.assert_allclose(res.mean[0], m_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.cov[0], C_ref, rtol=1e-11, atol=1e-14)


def _mc_agrees(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> None:
    P = X.shape[0]
    se_mean = X.std(axis=0, ddof=1) / np.sqrt(P)
    assert np.all(np.abs(X.mean(axis=0) - mean) <= Z * se_mean), (X.mean(0), mean, se_mean)
    E = X - mean  # centred at the exact mean: E[E_a E_b] = Cov_ab without bias
    prod = E[:, :, None] * E[:, None, :]
    se_cov = prod.std(axis=0, ddof=1) / np.sqrt(P)
    assert np.all(np.abs(prod.mean(axis=0) - cov) <= Z * se_cov), (prod.mean(0), cov, se_cov)


@pytest.mark.parametrize(
    "kw",
    [
        dict(delay=RandomDelay(2), b=2),
        dict(delay=ConstantDelay(3), b=1, replace=False),
        dict(delay=CyclicDelay(2), noise="gaussian", schedule=InverseSqrtK()),
    ],
)
def test_heavy_ball_simulator_matches_exact_moments(kw):
    p = _ls(1)
    rule = HeavyBallRule(0.05, beta=0.6, **kw)
    s = simulate_rule(p, rule, K=40, paths=20_000, seed=11, x0=[2.0, 0.0])
    m = rule_moments(p, rule, K=40, x0=[2.0, 0.0], record=[40])
    _mc_agrees(s.x_final, m.mean[0], m.cov[0])


def test_heavy_ball_with_initial_segment_matches_exact_moments():
    q = Quadratic(np.diag([0.3, 1.0]), [0.5, -0.5], np.eye(2) * 0.5)
    xi = np.array([[2.0, 1.0], [1.5, 0.5], [1.0, 0.0]])  # x_{-2}, x_{-1}, x_0
    rule = HeavyBallRule(0.1, beta=0.5, delay=ConstantDelay(2), noise="gaussian")
    s = simulate_rule(q, rule, K=30, paths=20_000, seed=5, xi=xi)
    m = rule_moments(q, rule, K=30, xi=xi, record=[30])
    _mc_agrees(s.x_final, m.mean[0], m.cov[0])


def test_bad_rule_input_is_named():
    with pytest.raises(MomentumError):
        HeavyBallRule(0.1, beta=1.0)
    with pytest.raises(MomentumError):
        HeavyBallRule(0.1, beta="0.5")
    with pytest.raises(InputError):
        simulate_rule(_ls(), "asgd", K=3, paths=2, seed=0)
    with pytest.raises(InputError):
        ASGDRule(0.1, noise="laplace")
    with pytest.raises(InputError):
        quadratic_asgd_moments(np.eye(1), [0.0], [1.0], 0.1, 1.0, 3, combination=((0, 0.5),))


def test_coupled_simulator_asgd_side_is_the_rule():
    # simulate_coupled's ASGD marginal under independent noise is the plain rule's law: its
    # exact moments (delayed GD here, no noise on the ASGD side -> a deterministic check)
    q = Quadratic(np.diag([0.3, 1.0]), [0.5, -0.5], np.zeros((2, 2)))
    c = simulate_coupled(q, eta=0.1, K=20, paths=4, seed=0, x0=[2.0, 1.0],
                         delay=ConstantDelay(2), coupling="independent")  # fmt: skip
    m = rule_moments(q, ASGDRule(0.1, delay=ConstantDelay(2), noise="none"), K=20,
                     x0=[2.0, 1.0], record=[20])  # fmt: skip
    np.testing.assert_allclose(c.x_asgd, np.broadcast_to(m.mean[0], (4, 2)), rtol=1e-13)


def test_rules_survive_pickling_for_process_executors():
    # process pools and dask pickle the chunk function with its rule
    import pickle

    def via_pickle(fn, cs):
        return [pickle.loads(pickle.dumps(fn))(pickle.loads(pickle.dumps(c))) for c in cs]

    p = _ls()
    for rule in (ASGDRule(0.1, delay=RandomDelay(2), b=2),
                 HeavyBallRule(0.1, beta=0.3, delay=RandomDelay(2), b=2)):  # fmt: skip
        a = simulate_rule(p, rule, K=10, paths=300, seed=2, chunk_size=64)
        b = simulate_rule(p, rule, K=10, paths=300, seed=2, chunk_size=64, map_fn=via_pickle)
        assert a.x_final.tobytes() == b.x_final.tobytes()
