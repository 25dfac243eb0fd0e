"""Losses: gradients, Sigma(x), minibatch covariance — against independent references.

References: central finite differences of F / f_i written out in the test; Sigma by an
explicit loop over samples; minibatch covariances by exact enumeration of all minibatches
(n^b ordered tuples with replacement, C(n, b) subsets without), SPEC §1.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from numerics.problems import LeastSquares, LogisticL2, Problem, Quadratic, TwoPoint


def _data(n=7, d=3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    return A, y


def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _ls_f(A, y, i, x):
    return 0.5 * (A[i] @ x - y[i]) ** 2


def _lg_f(A, y, lam, i, x):
    return np.log1p(np.exp(-y[i] * (A[i] @ x))) + 0.5 * lam * x @ x


def test_least_squares_F_and_gradients_vs_finite_differences():
    A, y = _data()
    p = LeastSquares(A, y)
    X = np.random.default_rng(1).standard_normal((4, 3))
    for x in X:
        F_ref = np.mean([_ls_f(A, y, i, x) for i in range(7)])
        assert p.F(x[None])[0] == pytest.approx(F_ref, rel=1e-13)
        g_fd = _fd_grad(lambda z: np.mean([_ls_f(A, y, i, z) for i in range(7)]), x)
        np.testing.assert_allclose(p.grad(x[None])[0], g_fd, rtol=1e-7, atol=1e-8)
    idx = np.array([[0, 3, 3], [6, 1, 2], [5, 5, 5], [4, 0, 1]])
    G = p.sample_grads(X, idx)
    for q in range(4):
        for j in range(3):
            g_fd = _fd_grad(lambda z, i=idx[q, j]: _ls_f(A, y, i, z), X[q])
            np.testing.assert_allclose(G[q, j], g_fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(p.minibatch_grad(X, idx), G.mean(axis=1), rtol=1e-14)


def test_logistic_gradients_vs_finite_differences_and_x_star():
    A, y = _data()
    yl = np.where(y > 0, 1.0, -1.0)
    lam = 0.1
    p = LogisticL2(A, yl, lam)
    X = np.random.default_rng(2).standard_normal((3, 3))
    for x in X:
        F_ref = np.mean([_lg_f(A, yl, lam, i, x) for i in range(7)])
        assert p.F(x[None])[0] == pytest.approx(F_ref, rel=1e-12)
        g_fd = _fd_grad(lambda z: np.mean([_lg_f(A, yl, lam, i, z) for i in range(7)]), x)
        np.testing.assert_allclose(p.grad(x[None])[0], g_fd, rtol=1e-6, atol=1e-8)
        H_fd = np.array([_fd_grad(lambda z, k=k: p.grad(z[None])[0][k], x) for k in range(3)])
        np.testing.assert_allclose(p.hessian(x), H_fd, rtol=1e-6, atol=1e-8)
        # global L bounds the Hessian everywhere; mu = lam bounds it below
        w = np.linalg.eigvalsh(p.hessian(x))
        assert w[-1] <= p.L + 1e-12 and w[0] >= p.mu - 1e-12
    idx = np.array([[0, 6], [2, 2], [1, 5]])
    G = p.sample_grads(X, idx)
    for q in range(3):
        for j in range(2):
            g_fd = _fd_grad(lambda z, i=idx[q, j]: _lg_f(A, yl, lam, i, z), X[q])
            np.testing.assert_allclose(G[q, j], g_fd, rtol=1e-6, atol=1e-8)
    # x_star to machine precision: gradient ~ eps, and Newton is a fixed point
    assert np.linalg.norm(p.grad(p.x_star[None])[0]) < 1e-14
    assert p.L == pytest.approx(np.linalg.eigvalsh(A.T @ A)[-1] / 28 + lam, rel=1e-14)


def _sigma_loop(per_sample_grads):
    G = np.asarray(per_sample_grads)
    return np.cov(G.T, bias=True).reshape(G.shape[1], G.shape[1])


@pytest.mark.parametrize("kind", ["ls", "logistic"])
def test_Sigma_vs_brute_force(kind):
    A, y = _data()
    if kind == "ls":
        p = LeastSquares(A, y)
    else:
        y = np.where(y > 0, 1.0, -1.0)
        p = LogisticL2(A, y, 0.3)
    X = np.random.default_rng(3).standard_normal((3, 3))
    for x in X:
        if kind == "ls":
            grads = [(A[i] @ x - y[i]) * A[i] for i in range(7)]
        else:
            grads = [-y[i] * A[i] / (1 + np.exp(y[i] * (A[i] @ x))) + 0.3 * x for i in range(7)]
        ref = _sigma_loop(grads)
        np.testing.assert_allclose(p.Sigma(x), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(p.Sigma_batch(X)[1], p.Sigma(X[1]), rtol=1e-12, atol=1e-14)
    s = p.sigma(X[0], b=4)
    np.testing.assert_allclose(s @ s.T, p.Sigma(X[0]) / 4, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("b", [1, 2, 3])
def test_minibatch_covariance_by_exact_enumeration(b):
    """Cov g_M = Sigma/b (with replacement), Sigma/b (n-b)/(n-1) (without), SPEC §1."""
    n = 5
    A, y = _data(n=n, d=2, seed=4)
    p = LeastSquares(A, y)
    x = np.array([0.3, -0.7])
    S = p.Sigma(x)
    # with replacement: all n^b ordered tuples are equally likely
    tuples = np.array(list(itertools.product(range(n), repeat=b)))
    g = p.minibatch_grad(np.repeat(x[None], len(tuples), 0), tuples)
    np.testing.assert_allclose(g.mean(0), p.grad(x[None])[0], atol=1e-14)
    np.testing.assert_allclose(np.cov(g.T, bias=True), S / b, rtol=1e-12, atol=1e-15)
    # without replacement: all C(n, b) subsets equally likely
    subsets = np.array(list(itertools.combinations(range(n), b)))
    g = p.minibatch_grad(np.repeat(x[None], len(subsets), 0), subsets)
    np.testing.assert_allclose(
        np.cov(g.T, bias=True), S / b * (n - b) / (n - 1), rtol=1e-12, atol=1e-15
    )


def test_sample_indices_without_replacement_are_subsets():
    A, y = _data(n=6)
    p = LeastSquares(A, y)
    idx = p.sample_indices(np.random.default_rng(0), 200, 4, replace=False)
    assert idx.shape == (200, 4) and idx.min() >= 0 and idx.max() < 6
    assert all(len(set(row)) == 4 for row in idx.tolist())
    full = p.sample_indices(np.random.default_rng(0), 3, 6, replace=False)
    assert all(sorted(row) == list(range(6)) for row in full.tolist())


def test_two_point_readings():
    """Section 5, SPEC §1: average f_{1,2} = (x±1)^2/2; sum F = x^2 + 1 with f~_i = 2 f_i."""
    X = np.array([[0.5], [-2.0]])
    avg, sm = TwoPoint(), TwoPoint("sum")
    np.testing.assert_allclose(
        avg.F(X), 0.5 * (0.5 * (X[:, 0] + 1) ** 2 + 0.5 * (X[:, 0] - 1) ** 2)
    )
    np.testing.assert_allclose(avg.grad(X), X)
    np.testing.assert_allclose(sm.F(X), X[:, 0] ** 2 + 1)
    np.testing.assert_allclose(sm.grad(X), 2 * X)
    idx = np.array([[0], [1]])
    np.testing.assert_allclose(avg.sample_grads(X, idx)[:, 0], [[1.5], [-3.0]])
    np.testing.assert_allclose(sm.sample_grads(X, idx)[:, 0], [[3.0], [-6.0]])
    both = np.array([[0, 1], [0, 1]])
    np.testing.assert_allclose(sm.minibatch_grad(X, both), 2 * X)
    assert avg.Sigma(X[0])[0, 0] == 1.0 and sm.Sigma(X[0])[0, 0] == 4.0
    assert (avg.F_star, sm.F_star, avg.L, sm.mu) == (0.5, 1.0, 1.0, 2.0)
    # generic enumeration in the base class agrees with the hand-written Sigma
    assert Problem.Sigma(sm, X[0])[0, 0] == pytest.approx(4.0)


class _BareLS(Problem):
    """Minimal user subclass: only F, grad, sample_grads (the abstract surface)."""

    def __init__(self, A, y):
        super().__init__(A.shape[1], A.shape[0])
        self.A, self.y = A, y

    def F(self, X):
        return 0.5 * np.mean((X @ self.A.T - self.y) ** 2, axis=1)

    def grad(self, X):
        return (X @ self.A.T - self.y) @ self.A / self.n

    def sample_grads(self, X, idx):
        a = self.A[idx]
        return (np.einsum("pbd,pd->pb", a, X) - self.y[idx])[..., None] * a


def test_generic_defaults_of_a_minimal_subclass():
    A, y = _data(n=9, d=3, seed=5)
    bare, ref = _BareLS(A, y), LeastSquares(A, y)
    x_ls = np.linalg.solve(A.T @ A, A.T @ y)  # normal equations
    np.testing.assert_allclose(bare.x_star, x_ls, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bare.hessian(x_ls), A.T @ A / 9, rtol=1e-7, atol=1e-9)
    x = np.array([0.1, 0.2, -0.3])
    np.testing.assert_allclose(bare.Sigma(x), ref.Sigma(x), rtol=1e-12, atol=1e-15)
    w = np.linalg.eigvalsh(A.T @ A / 9)
    assert bare.L == pytest.approx(w[-1], rel=1e-7) and bare.mu == pytest.approx(w[0], rel=1e-7)


def test_quadratic_noise_covariance_monte_carlo():
    """Quadratic noise N(0, noise_cov/b): sample covariance within a 99.9% CLT band."""
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    p = Quadratic(np.diag([1.0, 3.0]), [1.0, -1.0], S)
    assert np.allclose(p.Sigma([0, 0]), S) and np.allclose(p.x_star, [1.0, -1.0])
    N, b = 200_000, 4
    X = np.zeros((N, 2))
    E = p.stochastic_grad(X, b, np.random.default_rng(7)) - p.grad(X)
    C = E.T @ E / N  # mean known to be 0
    # Var of the (i,j) product estimator: (S_ii S_jj + S_ij^2)/b^2 / N (Gaussian); z = 3.29
    se = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / b**2 / N)
    assert np.all(np.abs(C - S / b) < 3.29 * se)
