"""Wall time of a whole run: serial vs process pool vs dask LocalCluster (run by hand).

    PYTHONPATH=. python benchmarks/bench_full_profile.py [--profile full] [--only R2 R7]
        [--workers 2] [--executors serial process dask] [--seed 12345] [--registry MODULE]

Each executor runs in a fresh Python process (same imports, no warm caches carried over), and
the script measures there:

- `startup_s`: building the executor and a first round trip to every worker (spawning the
  processes and importing the check modules in them);
- `run_s`: `verify.api.run(...)` itself (all checks, report written) — the baseline is the
  serial executor's `run_s` in the same invocation;
- parallel efficiency `T_serial / (workers · T_parallel)`, with and without start-up;
- peak resident memory (VmHWM) of the client and of every worker process.

It then checks that every `results.json` equals the serial one after
`verify.report.strip_timing` (the executors must not change any number) and prints a Markdown
table for `benchmarks/README.md`, with the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _vm_hwm_mib(pid: int) -> float:
    """Peak resident set size of process `pid` (Linux /proc VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _warm(modules: list[str] | None) -> int:
    """Import the check modules in a worker (start-up cost, not run time)."""
    from verify.checks import load_checks

    load_checks(modules)
    time.sleep(0.3)  # so that every process of the pool gets one of the warm-up tasks
    return os.getpid()


def _own_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(args: argparse.Namespace) -> dict:
    """Run the selection once on `args.one` and return the measurements."""
    from verify import api
    from verify.checks import load_checks
    from verify.executor import make_executor

    t0 = time.perf_counter()
    exe = make_executor(args.one, 1 if args.one == "serial" else args.workers)
    if args.one == "process":
        exe.map(_warm, [args.registry] * (2 * exe.workers))  # spawn workers, import checks
    elif args.one == "dask":
        exe.client.run(_warm, args.registry)  # on every worker
    startup = time.perf_counter() - t0
    registry = load_checks(args.registry) if args.registry else None
    tasks: dict[str, int] = {}

    def count_tasks(check):  # progress(done, total) is called once per finished task
        tasks.setdefault(check.id, 0)

        def progress(done: int, total: int) -> None:
            tasks[check.id] += 1

        return progress

    try:
        t1 = time.perf_counter()
        rep = api.run(
            profile=args.profile,
            only=args.only,
            seed=args.seed,
            out=args.out,
            run_name=args.one,
            executor=exe,
            registry=registry,
            progress_factory=count_tasks,
        )
        run_s = time.perf_counter() - t1
        if args.one == "process":
            workers = [_vm_hwm_mib(p) for p in exe.pids()]
        elif args.one == "dask":
            workers = sorted(exe.client.run(_own_peak_mib).values())
        else:
            workers = []
    finally:
        exe.close()
    return {
        "executor": args.one,
        "startup_s": startup,
        "run_s": run_s,
        "client_peak_mib": _own_peak_mib(),
        "worker_peak_mib": workers,
        "verdicts": rep.summary(),
        "checks": [r.id for r in rep.results],
        "check_runtime_s": {r.id: r.runtime_s for r in rep.results},
        "check_tasks": tasks,
        "path": str(rep.path),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="full", choices=("quick", "full"))
    ap.add_argument("--only", nargs="*", default=None, help="check ids or prefixes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", nargs="+", default=["serial", "process", "dask"])
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--registry", nargs="*", default=None, help="check modules (default all)")
    ap.add_argument("--out", default=None, help="report root (default: a temporary folder)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print("BENCH " + json.dumps(one(args)))
        return

    out = args.out or tempfile.mkdtemp(prefix="bench-full-")
    rows = []
    load_before = os.getloadavg()
    for kind in args.executors:
        cmd = [sys.executable, __file__, "--one", kind, "--out", out, "--profile", args.profile]
        cmd += ["--workers", str(args.workers), "--seed", str(args.seed)]
        if args.only:
            cmd += ["--only", *args.only]
        if args.registry:
            cmd += ["--registry", *args.registry]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        lines = [x for x in proc.stdout.splitlines() if x.startswith("BENCH ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"{kind} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        rows.append(json.loads(lines[-1][len("BENCH ") :]))
        print(f"{kind}: {rows[-1]['run_s']:.1f} s", file=sys.stderr)
    load_after = os.getloadavg()

    from verify.report import strip_timing

    docs = {r["executor"]: json.loads(Path(r["path"], "results.json").read_text()) for r in rows}
    ref = strip_timing(docs[rows[0]["executor"]])
    same = {k: strip_timing(d) == ref for k, d in docs.items()}

    base = next((r for r in rows if r["executor"] == "serial"), None)
    print(
        f"\nprofile {args.profile}, only {args.only or 'all'}, seed {args.seed}, "
        f"{len(rows[0]['checks'])} checks; verdicts {rows[0]['verdicts']}"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)\n")
    print(
        "| executor | start-up | run | ratio vs serial | efficiency (run) | efficiency "
        "(start-up + run) | client peak | worker peak (each) | results.json = serial |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        n = 1 if r["executor"] == "serial" else args.workers
        if base is not None:
            ratio = f"{base['run_s'] / r['run_s']:.2f}×"
            eff = f"{base['run_s'] / (n * r['run_s']):.2f}"
            eff2 = f"{base['run_s'] / (n * (r['run_s'] + r['startup_s'])):.2f}"
        else:
            ratio = eff = eff2 = "—"
        workers = ", ".join(f"{m:.0f} MiB" for m in r["worker_peak_mib"]) or "—"
        print(
            f"| {r['executor']}({n}) | {r['startup_s']:.1f} s | {r['run_s']:.1f} s | {ratio} | "
            f"{eff} | {eff2} | {r['client_peak_mib']:.0f} MiB | {workers} | "
            f"{'yes' if same[r['executor']] else 'NO'} |"
        )
    print("\n| check | verdict | tasks | " + " | ".join(r["executor"] for r in rows) + " |")
    print("|---|---|---|" + "---|" * len(rows))
    verdicts = {r["id"]: r["verdict"] for r in docs[rows[0]["executor"]]["results"]}
    for cid in rows[0]["checks"]:
        times = " | ".join(f"{r['check_runtime_s'][cid]:.1f} s" for r in rows)
        print(f"| {cid} | {verdicts[cid]} | {rows[0]['check_tasks'].get(cid, 0)} | {times} |")
    idle = [c for c in rows[0]["checks"] if not rows[0]["check_tasks"].get(c)]
    print(f"\nchecks that sent no task to the executor: {', '.join(idle) or 'none'}")
    if not all(same.values()):
        sys.exit("results.json differs between executors (after strip_timing)")


if __name__ == "__main__":
    main()
