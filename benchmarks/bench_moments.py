"""Benchmark: exact ASGD moment propagation (ring buffer) vs the naive dense companion update.

Run by hand (not in CI):  python benchmarks/bench_moments.py [--d 50] [--l 10] [--K 10000]

Problem: quadratic, d = 50, Hessian with spectrum in [0.1, 1], i.i.d. uniform delay on {0..l}
(every block row mixes: the worst case for the ring update), additive noise, eta = 0.05.
The ring-buffer recursion (numerics.moments.quadratic_asgd_moments) runs all K steps.
The naive dense update  P <- sum_j q_j M_j P M_j^T + E S E^T  on the stacked state of size
D = d(l+1) is timed for a few steps in the same run (its cost per step is constant), and the
two are checked to agree on those steps.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from numerics.moments import quadratic_asgd_moments


def _problem(d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Q = (V * np.linspace(0.1, 1.0, d)) @ V.T
    B = rng.standard_normal((d, d))
    S = B @ B.T / d
    return Q, S


def naive_dense(Q, S, q, h, x0, steps):
    """Dense companion-matrix propagation of E[s s^T] (footnote-2 cap), returns Cov x_k."""
    d, l = Q.shape[0], len(q) - 1
    D = d * (l + 1)
    shift = np.zeros((D, D))
    shift[d:, :-d] = np.eye(D - d)  # (e_k, ..., e_{k-l+1}) moves down one block
    Ms = []
    for j in range(l + 1):
        M = shift.copy()
        M[:d, :d] = np.eye(d)
        M[:d, j * d : (j + 1) * d] -= h * Q
        Ms.append(M)
    E = np.zeros((D, d))
    E[:d] = np.eye(d)
    m = np.tile(x0, l + 1)
    P = np.outer(m, m)
    for k in range(steps):
        qk = np.asarray(q, float)
        if k < l:  # cap: mass above k moves to k
            qk = np.concatenate([qk[:k], [qk[k:].sum()], np.zeros(l - k)])
        P = sum(w * (M @ P @ M.T) for w, M in zip(qk, Ms) if w > 0) + h * h * (E @ S @ E.T)
        m = sum(w * (M @ m) for w, M in zip(qk, Ms) if w > 0)
    return P[:d, :d] - np.outer(m[:d], m[:d])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=50)
    ap.add_argument("--l", type=int, default=10)
    ap.add_argument("--K", type=int, default=10_000)
    ap.add_argument("--naive-steps", type=int, default=3)
    args = ap.parse_args()
    d, l, K = args.d, args.l, args.K
    Q, S = _problem(d)
    q = np.full(l + 1, 1.0 / (l + 1))
    eta, x0 = 0.05, np.ones(d)

    t0 = time.perf_counter()
    res = quadratic_asgd_moments(Q, np.zeros(d), q, eta, 1.0, K, noise=S, x0=x0, record=[K])
    t_ring = time.perf_counter() - t0

    n = args.naive_steps
    t0 = time.perf_counter()
    cov_naive = naive_dense(Q, S, q, eta, x0, n)
    t_naive_n = time.perf_counter() - t0
    cov_ring = quadratic_asgd_moments(Q, np.zeros(d), q, eta, 1.0, n, noise=S, x0=x0, record=[n])
    err = np.abs(cov_naive - cov_ring.cov[0]).max() / np.abs(cov_naive).max()

    per_ring = t_ring / K
    per_naive = t_naive_n / n
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print(f"d={d} l={l} K={K} D=d(l+1)={d * (l + 1)} uniform q, additive noise")
    print(f"ring buffer : {t_ring:.2f} s total, {1e3 * per_ring:.3f} ms/step")
    print(
        f"naive dense : {t_naive_n:.2f} s for {n} steps, {1e3 * per_naive:.1f} ms/step "
        f"(extrapolated K steps: {per_naive * K:.0f} s)"
    )
    print(f"ratio naive/ring per step: {per_naive / per_ring:.0f}x")
    print(f"agreement after {n} steps (max rel. diff of Cov x_k): {err:.1e}")
    print(f"final E||x_K - x*||^2 = {res.mse[0]:.6g}")


if __name__ == "__main__":
    main()
