"""One grid check on the serial executor vs a process pool, in one process (run by hand).

    PYTHONPATH=. python benchmarks/bench_parallel_checks.py [--paths 4000] [--workers 2]

Runs `R2-proof-AK` with its **full-profile** grid (27 points (K, b, l)) and `paths` paths per
point (the full profile has 20 000; 4 000 keeps one run at ~30 s here) on `SerialExecutor` (the
baseline) and `ProcessExecutor(workers)` (pool started before timing), prints both wall
times, their ratio, and whether the two `CheckResult.to_dict()` are identical apart from
`runtime_s`. Since the grid points are one `ctx.map` (one task per point, largest first), the
ratio approaches `workers` when there are many points of similar cost.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    from verify.checks.r2_thm32 import Thm32MeasuredAK
    from verify.context import RunContext
    from verify.executor import ProcessExecutor, SerialExecutor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    check = Thm32MeasuredAK()
    overrides = {**dict(check.full), "paths": args.paths}
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    out = {}
    for name, ex in (("serial", SerialExecutor()), ("process", ProcessExecutor(args.workers))):
        ex.map(abs, list(range(2 * args.workers)))  # start the pool (not timed)
        ctx = RunContext(check.id, profile="full", executor=ex)
        start = time.perf_counter()
        res = check.execute(ctx, overrides=overrides)
        wall = time.perf_counter() - start
        ex.close()
        d = res.to_dict()
        d.pop("runtime_s")
        out[name] = (wall, d)
        print(f"{name}: {wall:.1f} s ({res.verdict.name})", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"ratio serial/process: {out['serial'][0] / out['process'][0]:.2f}")
    print(f"identical to_dict (apart from runtime_s): {out['serial'][1] == out['process'][1]}")


if __name__ == "__main__":
    main()
