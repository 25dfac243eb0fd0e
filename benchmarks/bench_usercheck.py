"""Benchmark of the user-check front end (owner: verify/usercheck).

1. Full gradient of a smooth GLM user loss for P paths: `FastUserProblem.grad`
   (phi'(X A^T, b) A / n + c X, one matrix product) against the baseline
   `UserLossProblem.grad` (mean of the (P, n, d) per-sample gradients), same run, best of 20,
   both with one BLAS thread (as inside every executor task, `verify.executor`; with the
   default thread pool on a loaded 2-core machine the matrix product is ~100x slower).
2. Wall time of each shipped example through `run_spec` (quick profile, serial, no report).

Run by hand: ``PYTHONPATH=. python benchmarks/bench_usercheck.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from numerics.user_problem import UserLossProblem
from verify.executor import single_threaded_blas
from verify.usercheck import load_spec, run_spec
from verify.usercheck.setting import FastUserProblem

EXAMPLES = Path(__file__).resolve().parent.parent / "verify" / "examples"


def best(fn, repeat: int = 20) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    spec = load_spec(EXAMPLES / "logistic_breast_cancer.toml")
    A, y = spec.dataset.A, spec.dataset.y
    fast = FastUserProblem(spec.loss, A, y)
    base = UserLossProblem(spec.loss, A, y)
    for P in (100, 400):
        X = np.random.default_rng(0).normal(size=(P, spec.dataset.d)) * 0.1
        diff = np.max(np.abs(fast.grad(X) - base.grad(X)))
        with single_threaded_blas():
            tf, tb = best(lambda X=X: fast.grad(X)), best(lambda X=X: base.grad(X))
        print(
            f"grad, logistic 569x30, P={P}: fast {tf * 1e3:.2f} ms, baseline {tb * 1e3:.2f} ms, "
            f"ratio {tb / tf:.1f}x, max |diff| {diff:.1e}"
        )
    for name in ("hinge_example", "nonconvex_example", "least_squares_diabetes",
                 "logistic_breast_cancer"):  # fmt: skip
        t = time.perf_counter()
        run_spec(EXAMPLES / f"{name}.toml", out=None)
        print(f"run_spec {name} (quick): {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
