"""Benchmark: certified V for a 50x50 SPD Ã at mp.dps = 30 (target < 2 s).

Run by hand: `python benchmarks/bench_roots.py`. Baseline measured in the same run: the
eigenvalues alone by `mpmath.eigsy(..., eigvals_only=True)` (no vectors, no certificate), and
the full `mpmath.eigsy` with vectors (what a naive enclosure would need).
"""

from __future__ import annotations

import time

import mpmath
import numpy as np

from theory.roots import characteristic_roots


def main(d: int = 50, tau: float = 0.3, seed: int = 0, repeats: int = 3) -> None:
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((d, d))
    A = B @ B.T / d
    mpmath.mp.dps = 30
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = characteristic_roots(A, tau)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    mpmath.eigsy(mpmath.matrix(A.tolist()), eigvals_only=True)
    base_vals = time.perf_counter() - t0
    t0 = time.perf_counter()
    mpmath.eigsy(mpmath.matrix(A.tolist()))
    base_full = time.perf_counter() - t0
    best = min(times)
    print(f"d={d} tau={tau} dps=30: V = {mpmath.nstr(res.V, 25)}")
    print(
        f"certified={res.certified} is_V_negative={res.is_V_negative} "
        f"evaluations={res.evaluations} enclosure r={mpmath.nstr(res.enclosure_radius, 3)}"
    )
    print(f"characteristic_roots: best of {repeats} = {best:.3f} s (all: {times})")
    print(f"baseline mp.eigsy values only = {base_vals:.3f} s  ratio {best / base_vals:.2f}")
    print(f"baseline mp.eigsy with vectors = {base_full:.3f} s  ratio {best / base_full:.2f}")


if __name__ == "__main__":
    main()
