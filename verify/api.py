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

from verify.checks import CheckSelectionError, Registry, load_checks, select
from verify.executor import Executor, make_executor
from verify.report import ReportWriter, RunReport, default_run_name, run_metadata, validate_out_root
from verify.runner import DEFAULT_SEED, ProgressFactory, run_checks
from verify.staging import StagingLock
from verify.verdict import CheckResult

__all__ = ["DEFAULT_SEED", "check", "resolve_only", "run", "run_check", "run_checks"]


def _registry(registry: Registry | Sequence[str] | None) -> Registry:
    if isinstance(registry, Registry):
        return registry
    return load_checks(None if registry is None else list(registry))


def resolve_only(only: Sequence[str] | None, ids: Sequence[str]) -> list[str] | None:
    """Canonical check ids / prefixes for what a user typed in `only`.

    Each name matches, ignoring case: a check id exactly; or every id that starts with it
    followed by a separator (``r6`` selects ``R6-as-stated``, not ``R60``); or, when that
    finds nothing, every id that starts with it (``R6-as-st``).

    Raises:
        CheckSelectionError: a name matches no check; the message suggests the nearest ids
            ("did you mean …?").
    """
    if not only:
        return None
    out: list[str] = []
    for name in only:
        key = name.strip().casefold()
        exact = [i for i in ids if i.casefold() == key]
        sep = [
            i
            for i in ids
            if key and len(i) > len(key) and i.casefold().startswith(key)
            and not i[len(key)].isalnum()
        ]  # fmt: skip
        plain = [i for i in ids if key and i.casefold().startswith(key)]
        hits = exact or sep or plain
        if not hits:
            import difflib

            prefixes = sorted({i.split("-")[0] for i in ids})
            folded = {c.casefold(): c for c in [*ids, *prefixes]}
            near = [folded[m] for m in difflib.get_close_matches(key, list(folded), n=3)]
            fix = (
                f"did you mean {' or '.join(near)}? (`sdde-verify list` shows every id)"
                if near
                else "use an id or prefix from `sdde-verify list`, e.g. " + ", ".join(prefixes)
            )
            raise CheckSelectionError("--only", name, "matches no check", fix)
        out += [h for h in (exact[:1] or ([hits[0][: len(key)]] if sep else plain)) if h not in out]
    return out


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
    pdf: bool = False,
    on_start: Callable[[list[Any]], None] | None = None,
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
        pdf: also write ``report.pdf`` (needs pdflatex, Debian's texlive-latex-base).
        on_start: called once with the selected checks before the first runs (progress).

    Returns:
        `RunReport` (renders as HTML in a notebook; `report.path` is the report folder).

    Raises:
        CheckSelectionError: `only` names no known check (with the nearest ids).
        ContextInputError / ExecutorInputError: bad profile, alpha, seed, workers, executor.
        ReportInputError: `out` is not a writable folder (nothing is run or written).
    """
    reg = _registry(registry)
    checks = select(reg, resolve_only(only, reg.ids()))
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
            if on_start is not None:
                on_start(list(checks))
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
        validate_out_root(out)  # a named error before the lock creates anything
        with StagingLock(out) as lock, ReportWriter(out, name) as writer:
            lock.attach(writer.staging)  # a killed run's staging is removed by a later run
            if on_start is not None:
                on_start(list(checks))
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
            writer.publish(report, pdf=pdf)
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
    spec: str | Path | dict[str, Any],
    *,
    seed: int | None = None,
    out: str | Path | None = "reports",
    profile: str = "quick",
    only: Sequence[str] | None = None,
    workers: int = 1,
    executor: str | Executor | None = None,
    scheduler: str | None = None,
    run_name: str | None = None,
    pdf: bool = False,
    base_dir: str | Path | None = None,
) -> RunReport:
    """Check a user loss (the API of `sdde-verify check`).

    `spec` is a path to a TOML file, a TOML document as a string (anything containing a
    newline or a ``[`` section header), or the same content as a dict (e.g. built in a
    notebook)::

        api.check({"loss": {"expression": "(dot(a, x) - b)**2 / 2"},
                   "data": {"kind": "linear", "n": 200, "d": 3, "seed": 1},
                   "algorithm": {"eta": 0.05, "delay": "constant", "l": 1}}, out=None)

    Relative data paths of a string or dict spec are read against `base_dir` (default: the
    working directory). Same pipeline and report as the command line: see
    `verify.usercheck.run.run_spec` and ``docs/usercheck.md``. `seed` defaults to the spec's
    ``algorithm.seed``; `out=None` writes no report.

    Raises:
        SpecError, DataError, LossSpecError (`theory.errors.InputError`): invalid spec or data
            (nothing is written).
        ReportInputError: `out` is not a writable folder.
    """
    from verify.report import validate_out_root
    from verify.usercheck import run_spec

    if out is not None:
        validate_out_root(out)
    label = spec if isinstance(spec, (str, Path)) and not _is_toml_text(spec) else "<spec>"
    kwargs: dict[str, Any] = dict(
        seed=seed,
        out=out,
        profile=profile,
        only=only,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        run_name=run_name,
        command=f"verify.api.check({str(label)!r})",
        pdf=pdf,
    )
    if isinstance(spec, Path) or (isinstance(spec, str) and not _is_toml_text(spec)):
        return run_spec(spec, **kwargs)
    if isinstance(spec, str):
        from verify.usercheck.spec import SpecError, tomllib

        try:
            spec = tomllib.loads(spec)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(
                "spec", "<string>", f"invalid TOML ({exc})", "fix the TOML syntax"
            ) from None
    if not isinstance(spec, dict):
        from verify.usercheck.spec import SpecError

        raise SpecError("spec", repr(spec)[:60], "is not a path, TOML text or dict", "pass one")
    folder = Path(base_dir).expanduser().absolute() if base_dir is not None else Path.cwd()
    text = _dict_to_toml(_with_absolute_data_path(spec, folder))
    with tempfile.TemporaryDirectory(prefix="sdde-verify-spec-") as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_text(text, encoding="utf-8")
        return run_spec(path, **kwargs)


def _is_toml_text(spec: str | Path) -> bool:
    return isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith("["))


def _with_absolute_data_path(spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A copy of `spec` with a relative ``data.path`` made absolute against `folder`."""
    out = dict(spec)
    data = out.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str):
        path = data["path"]
        if not path.startswith("@") and not Path(path).expanduser().is_absolute():
            out["data"] = {**data, "path": str(folder / path)}
    return out


def _toml_value(value: Any) -> str:
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    from verify.usercheck.spec import SpecError

    raise SpecError("spec", repr(value), "is not a TOML value", "use numbers, strings, lists")


def _toml_key(key: Any) -> str:
    import json
    import re

    key = str(key)
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _dict_to_toml(spec: dict[str, Any], prefix: str = "") -> str:
    """TOML text for a spec dict (tables, arrays of tables such as ``[[claims]]``, scalars)."""
    lines, tables = [], []
    for key, value in spec.items():
        name = f"{prefix}{_toml_key(key)}"
        if isinstance(value, dict):
            tables.append(f"\n[{name}]\n" + _dict_to_toml(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tables.append(f"\n[[{name}]]\n" + _dict_to_toml(item, name + "."))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + ("\n" if lines else "") + "".join(tables)
