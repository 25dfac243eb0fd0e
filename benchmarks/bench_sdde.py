"""Benchmark (i): scalar SDDE dX = -2 X(t - 0.05) dt + dW, delta = 0.005 (l = 10), 2000 steps.

Reports path-steps/s of `simulate_linear_sdde` and its ratio to just drawing the same number of
standard normals with the same bit generator (PCG64, same chunking, same block layout), measured
in the same run. Run by hand:  python benchmarks/bench_sdde.py [paths]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from numerics.rng import DEFAULT_CHUNK_SIZE, chunks
from numerics.sdde import simulate_linear_sdde


def draw_only(paths: int, K: int, seed: int, chunk_size: int) -> float:
    """Baseline: the same normals (K per path), same generator and block size, nothing else."""
    t0 = time.perf_counter()
    for c in chunks(seed, paths, chunk_size):
        rng = c.generator()
        nb = max(1, min(K, (1 << 20) // c.size))
        Z = np.empty((nb, 1, c.size, 1))
        for j in range(0, K, nb):
            rng.standard_normal(out=Z[: min(nb, K - j)])
    return time.perf_counter() - t0


def main() -> None:
    paths = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    K, delta, tau, seed = 2000, 0.005, 0.05, 0
    cs = DEFAULT_CHUNK_SIZE
    simulate_linear_sdde(2.0, 1.0, tau=tau, delta=delta, K=10, paths=1000, seed=seed)  # warm-up
    t_base, t_sim = [], []
    for _ in range(3):
        t_base.append(draw_only(paths, K, seed, cs))
        t0 = time.perf_counter()
        r = simulate_linear_sdde(
            2.0, 1.0, tau=tau, delta=delta, K=K, paths=paths, seed=seed, chunk_size=cs
        )
        t_sim.append(time.perf_counter() - t0)
    tb, ts = min(t_base), min(t_sim)
    ps = paths * K
    print(f"paths={paths} K={K} chunk_size={cs}  (best of 3)")
    print(f"normals only : {tb:.3f} s  {ps / tb:.3e} path-steps/s")
    print(f"SDDE EM      : {ts:.3f} s  {ps / ts:.3e} path-steps/s")
    print(f"ratio (normals time / SDDE time) = {tb / ts:.3f}   (target >= 0.7)")
    print(f"sanity: Var X(T) = {r.x_final.var():.4f}")


if __name__ == "__main__":
    main()
