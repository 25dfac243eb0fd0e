"""Python API (for notebooks and scripts): `run` a selection of checks, or `run_check` one.

    >>> from verify import api
    >>> report = api.run(profile="quick", only=["R6"], seed=1)   # doctest: +SKIP
    >>> report                       # renders as HTML in a notebook   # doctest: +SKIP
    >>> api.run_check("R5-as-stated", seed=1).verdict                 # doctest: +SKIP

Both use exactly the machinery of the command line (`sdde-verify run`): the same seeds
(derived from the global seed and the check id, so `only` does not change any number), the
same executors, the same verdict protocol and the same atomic report folder.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from verify.checks import Registry, load_checks, select
from verify.executor import Executor, make_executor
from verify.report import ReportWriter, RunReport, default_run_name, run_metadata
from verify.runner import DEFAULT_SEED, ProgressFactory, run_checks
from verify.staging import StagingLock
from verify.verdict import CheckResult

__all__ = ["DEFAULT_SEED", "check", "run", "run_check", "run_checks"]


def _registry(registry: Registry | Sequence[str] | None) -> Registry:
    if isinstance(registry, Registry):
        return registry
    return load_checks(None if registry is None else list(registry))


def run(
    profile: str = "quick",
    only: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    out: str | Path | None = "reports",
    *,
    executor: str | Executor | None = None,
    scheduler: str | None = None,
    alpha: float = 0.05,
    run_name: str | None = None,
    registry: Registry | Sequence[str] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    progress_factory: ProgressFactory | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
    command: str = "verify.api.run",
) -> RunReport:
    """Run the selected checks and (unless `out=None`) write `out/<run-name>/` atomically.

    Arguments:
        profile: ``"quick"`` or ``"full"``.
        only: check ids or id prefixes (``"R6"`` selects every R6 check); all when empty.
        seed: global seed; each check's stream depends only on it and the check id.
        workers: worker processes for the process/dask executors.
        out: report root folder; `None` writes no report (plots go to a kept temp folder).
        executor: ``"serial"`` | ``"process"`` | ``"dask"`` or an `Executor`; default serial
            for `workers == 1`, else process.
        scheduler: ``tcp://HOST:PORT`` of a dask scheduler (with ``executor="dask"``).
        registry: a `Registry` or module names (for tests and plug-ins); default all checks.
        overrides: per-check parameter overrides, ``{check_id: {name: value}}``.

    Returns:
        `RunReport` (renders as HTML in a notebook; `report.path` is the report folder).

    Raises:
        CheckSelectionError: `only` names no known check.
        ContextInputError / ExecutorInputError: bad profile, alpha, seed, workers, executor.
    """
    reg = _registry(registry)
    checks = select(reg, only)
    own_executor = not hasattr(executor, "map")
    if own_executor:
        kind = executor or ("serial" if workers == 1 else "process")
        exe = make_executor(kind, workers, scheduler)
    else:
        exe = executor  # type: ignore[assignment]
    meta = run_metadata(
        seed=seed,
        profile=profile,
        alpha=alpha,
        command=command,
        executor=repr(exe),
        workers=getattr(exe, "workers", 1),  # the real count (an attached cluster's, too)
        checks=[c.id for c in checks],
    )
    try:
        if out is None:
            plots = Path(tempfile.mkdtemp(prefix="sdde-verify-"))
            results = run_checks(
                checks,
                profile=profile,
                seed=seed,
                alpha=alpha,
                executor=exe,
                plots_dir=plots,
                progress_factory=progress_factory,
                overrides=overrides,
                on_result=on_result,
            )
            meta["finished"] = run_metadata()["started"]
            return RunReport(results, meta, None, dict(reg.errors))
        name = run_name or default_run_name(profile, seed)
        with StagingLock(out) as lock, ReportWriter(out, name) as writer:
            lock.attach(writer.staging)  # a killed run's staging is removed by a later run
            results = run_checks(
                checks,
                profile=profile,
                seed=seed,
                alpha=alpha,
                executor=exe,
                plots_dir=writer.plots_dir,
                progress_factory=progress_factory,
                overrides=overrides,
                on_result=on_result,
            )
            report = RunReport(results, meta, None, dict(reg.errors))
            writer.publish(report)
        return report
    finally:
        if own_executor:
            exe.close()


def run_check(
    check_id: str,
    profile: str = "quick",
    seed: int = DEFAULT_SEED,
    *,
    alpha: float = 0.05,
    workers: int = 1,
    executor: str | Executor | None = None,
    scheduler: str | None = None,
    out_dir: str | Path | None = None,
    registry: Registry | Sequence[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> CheckResult:
    """Run one check by exact id and return its `CheckResult` (renders as HTML).

    Same numbers as the same check inside `run(seed=seed)`. Plots go to `out_dir` (default: a
    fresh temporary folder that is kept, so the notebook can show them).
    """
    reg = _registry(registry)
    check = reg.get(check_id)
    own_executor = not hasattr(executor, "map")
    exe = (
        make_executor(executor or ("serial" if workers == 1 else "process"), workers, scheduler)
        if own_executor
        else executor
    )
    plots = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="sdde-verify-"))
    try:
        return run_checks(
            [check],
            profile=profile,
            seed=seed,
            alpha=alpha,
            executor=exe,
            plots_dir=plots,
            overrides={check.id: overrides or {}},
        )[0]
    finally:
        if own_executor:
            exe.close()


def check(
    spec_path: str | Path,
    *,
    seed: int | None = None,
    out: str | Path | None = "reports",
    profile: str = "quick",
    only: Sequence[str] | None = None,
    workers: int = 1,
    executor: str | Executor | None = None,
    scheduler: str | None = None,
    run_name: str | None = None,
) -> RunReport:
    """Check a user loss given in a TOML spec (the API of `sdde-verify check`).

    Same pipeline and report as the command line: see `verify.usercheck.run.run_spec` and
    ``docs/usercheck.md``. `seed` defaults to the spec's ``algorithm.seed``; `out=None`
    writes no report.

    Raises:
        SpecError, DataError, LossSpecError (`theory.errors.InputError`): invalid spec or data
            (nothing is written).
    """
    from verify.usercheck import run_spec

    return run_spec(
        spec_path,
        seed=seed,
        out=out,
        profile=profile,
        only=only,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        run_name=run_name,
        command=f"verify.api.check({str(spec_path)!r})",
    )
