"""The core loop that executes checks (shared by the API, the user-loss runner and
`run_alone`): each check with its own `RunContext`, seeds from the global seed and the check id.

It sits below `verify.api` and `verify.usercheck` in the import graph (neither is imported
here), so that check modules can offer `run_alone` without an import cycle.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from verify.checks.base import Check
from verify.context import RunContext
from verify.executor import Executor, make_executor
from verify.verdict import CheckResult

__all__ = ["DEFAULT_SEED", "run_alone", "run_checks"]

DEFAULT_SEED = 12345

#: progress_factory(check) -> progress(done, total); `close()` is called if present.
ProgressFactory = Callable[[Check], Callable[[int, int], None]]


def run_checks(
    checks: Sequence[Check],
    *,
    profile: str = "quick",
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
    executor: Executor | None = None,
    plots_dir: Path | None = None,
    progress_factory: ProgressFactory | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Execute `checks` in order, each with its own `RunContext`; return their results.

    `overrides` maps a check id to parameter overrides on top of its profile.
    """
    executor = executor if executor is not None else make_executor("serial")
    results = []
    for check in checks:
        progress = progress_factory(check) if progress_factory else None
        ctx_kwargs: dict[str, Any] = {}
        if progress is not None:
            ctx_kwargs["progress"] = progress
        ctx = RunContext(
            check_id=check.id,
            profile=profile,
            alpha=alpha,
            global_seed=seed,
            executor=executor,
            out_dir=plots_dir,
            **ctx_kwargs,
        )
        try:
            res = check.execute(ctx, (overrides or {}).get(check.id))
        finally:
            close = getattr(progress, "close", None)
            if close is not None:
                close()
        results.append(res)
        if on_result is not None:
            on_result(res)
    return results


def run_alone(checks: Sequence[Check], argv: Sequence[str] | None = None) -> int:
    """Run a check module's `CHECKS` on their own and print each result (no report folder).

    Arguments: ``[--profile quick|full] [--seed N] [--alpha A] [--only ID ...]``. The numbers
    equal those of `sdde-verify run` with the same seed. Returns 0.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Run these checks alone.")
    ap.add_argument("--profile", choices=("quick", "full"), default="quick")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--only", nargs="+", default=None)
    args = ap.parse_args(argv)
    chosen = [c for c in checks if not args.only or c.id in args.only]
    folder = Path(tempfile.mkdtemp(prefix="sdde-verify-"))
    for res in run_checks(
        chosen,
        profile=args.profile,
        seed=args.seed,
        alpha=args.alpha,
        executor=make_executor("serial"),
        plots_dir=folder,
    ):
        print(res)
        for path in res.plots:
            print(f"    plot: {path}")
    return 0
