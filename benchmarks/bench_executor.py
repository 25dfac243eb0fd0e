"""Executor overhead and speed-up on a toy Monte Carlo workload (run by hand).

    PYTHONPATH=. python benchmarks/bench_executor.py [--tasks 16] [--n 2000000]

Each task draws `n` normals from its own spawned SeedSequence and returns the mean of a
random walk's absolute value. Reports the wall time of `RunContext.map_seeded` for the serial,
process (2 workers) and dask (LocalCluster, 2 workers) executors, pool start-up separately,
and checks the results are bit-identical. Baseline: the serial executor in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from verify.context import RunContext
from verify.executor import DaskExecutor, ProcessExecutor, SerialExecutor


def task(n: int, seed: np.random.SeedSequence) -> float:
    x = np.random.default_rng(seed).standard_normal(n)
    return float(np.abs(np.cumsum(x)).mean())


def timed(executor, tasks: list[int]) -> tuple[float, list[float]]:
    ctx = RunContext("bench", global_seed=1, executor=executor)
    t0 = time.perf_counter()
    out = ctx.map_seeded(task, tasks)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--n", type=int, default=2_000_000)
    args = ap.parse_args()
    tasks = [args.n] * args.tasks
    base, ref = timed(SerialExecutor(), tasks)
    print(f"serial            {base:7.3f} s   ratio 1.00")
    for name, make in (
        ("process(2)", lambda: ProcessExecutor(2)),
        ("dask LocalCluster(2)", lambda: DaskExecutor(workers=2)),
    ):
        t0 = time.perf_counter()
        ex = make()
        timed(ex, [1000, 1000])  # start workers (and import numpy there)
        start = time.perf_counter() - t0
        t, out = timed(ex, tasks)
        ex.close()
        same = out == ref
        print(
            f"{name:<18}{t:7.3f} s   ratio {t / base:.2f}   start-up {start:.2f} s   "
            f"bit-identical {same}"
        )


if __name__ == "__main__":
    main()
