"""Benchmark (ii): ASGD Eq. (4) on least squares, d = 50, n = 1000, b = 8, uniform random
delay l = 10, 10^4 paths. Reports path-steps/s and peak traced memory (tracemalloc, separate
run) for two horizons K to show memory is independent of K (ring buffer of l+1 iterates).
Baseline in the same run: one vectorised full-gradient step (X @ A^T, @ A) per step for the
same paths, i.e. plain delay-free gradient descent. Run by hand:
    PYTHONPATH=. python benchmarks/bench_asgd.py [paths]
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

from numerics.asgd import simulate_asgd
from numerics.delays import RandomDelay
from numerics.problems import LeastSquares


def main() -> None:
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = np.random.default_rng(0)
    n, d, b, l = 1000, 50, 8, 10
    A = rng.standard_normal((n, d))
    p = LeastSquares(A, A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n))
    eta = 0.5 / p.L / (l + 1)
    kw = dict(eta=eta, paths=paths, seed=0, b=b, delay=RandomDelay(l))
    for K in (100, 400):
        t0 = time.perf_counter()
        r = simulate_asgd(p, K=K, **kw)
        t = time.perf_counter() - t0
        print(f"K={K:4d}: {t:.2f} s  {paths * K / t:.3e} path-steps/s  diverged={r.n_diverged}")
    # baseline: delay-free full-batch GD with the same number of path-steps
    K = 100
    X = np.zeros((paths, d))
    t0 = time.perf_counter()
    for _ in range(K):
        X -= eta * ((X @ A.T - p.y) @ A) / n
    tb = time.perf_counter() - t0
    print(f"baseline full-gradient GD (n={n}): {paths * K / tb:.3e} path-steps/s")
    for K in (50, 200):
        tracemalloc.start()
        simulate_asgd(p, K=K, **kw)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"peak traced memory K={K}: {peak / 2**20:.1f} MiB "
            f"(ring buffer (l+1) P d 8 B = {(l + 1) * paths * d * 8 / 2**20:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
