"""The command line: ``sdde-verify run | list | derive | check``.

    sdde-verify run [--profile quick|full] [--only ID ...] [--seed N] [--alpha A]
                    [--workers N] [--executor serial|process|dask] [--scheduler ADDR]
                    [--out DIR] [--name RUN_NAME] [--fail-on never|fail|inconclusive]
                    [--no-progress] [--pdf]
    sdde-verify list [--json]
    sdde-verify derive [--out DIR] [--pdf]
    sdde-verify check SPEC.toml [--out DIR] [--seed N] [--profile quick|full] [--only ID ...]
                    [--workers N] [--executor serial|process|dask] [--name RUN_NAME]
                    [--fail-on never|fail|inconclusive] [--no-progress] [--pdf]
    sdde-verify --version

`--only` ignores case and takes ids or prefixes (``r6``, ``R6-as``); a near miss is
answered with "did you mean …". While checks run, progress goes to stderr: bars on a
terminal (the run's k/N with ETA, and the current check), otherwise one line per finished
check with k/N and ETA. The output ends with the verdict table (ratio lhs/rhs and a reason
for every non-PASS) and one summary line, e.g.
``54 checks: 47 passed, 6 failed, 1 inconclusive (52 s) — reports/latest/report.html``.

Exit codes (`run`):

- **0** — the run completed and `--fail-on` was not triggered (the default `--fail-on never`
  means any verdict exits 0: a FAIL is a finding about the paper, not a crash);
- **1** — `--fail-on fail` and some check is FAIL or DIVERGED, or `--fail-on inconclusive`
  and some check is FAIL, DIVERGED or INCONCLUSIVE;
- **2** — bad arguments (the message names the flag and the fix);
- **3** — a check raised an exception or a check module failed to import (see the report);
  for `derive`: pdflatex failed;
- **130** — interrupted (Ctrl-C); earlier reports are untouched.
- **143** — terminated (SIGTERM): handled like Ctrl-C, nothing published, staging removed.

The hidden option ``--registry MODULE`` (repeatable) replaces the default check modules; it
is for tests and plug-ins.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from theory.errors import InputError
from verify.verdict import Verdict

__all__ = ["EXIT_CHECK_ERROR", "EXIT_FAIL_ON", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAIL_ON = 1
EXIT_USAGE = 2
EXIT_CHECK_ERROR = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

_FAIL_ON = {
    "never": set(),
    "fail": {Verdict.FAIL, Verdict.DIVERGED},
    "inconclusive": {Verdict.FAIL, Verdict.DIVERGED, Verdict.INCONCLUSIVE},
}


def _positive_int(flag: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag}={text!r} is not an integer. Fix: pass e.g. {flag} 2"
            ) from None
        if value < (0 if flag == "--seed" else 1):
            raise argparse.ArgumentTypeError(
                f"{flag}={value} must be {'>= 0' if flag == '--seed' else '>= 1'}. "
                f"Fix: pass e.g. {flag} {12345 if flag == '--seed' else 2}"
            )
        return value

    return parse


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 < value < 0.5):
        raise argparse.ArgumentTypeError(
            f"--alpha={text!r} must be a number in (0, 0.5). Fix: pass e.g. --alpha 0.05"
        )
    return value


def _version() -> str:
    import importlib.metadata as md

    try:
        return md.version("sdde-verify")
    except md.PackageNotFoundError:  # running from a checkout without pip install
        import re

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            m = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M)
        except OSError:
            m = None
        return (m.group(1) if m else "unknown") + " (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="sdde-verify",
        description="Check the SDDE theory of asynchronous SGD (He, Meng, Chen, Ma, Liu).",
        epilog="Exit codes of `run`: 0 completed, 1 --fail-on triggered, 2 bad arguments, "
        "3 a check raised or failed to import, 130 interrupted.",
    )
    p.add_argument("--version", action="version", version=f"sdde-verify {_version()}")
    sub = p.add_subparsers(dest="command", metavar="{run,list,derive,check}")
    sub.required = True

    r = sub.add_parser("run", help="run checks and write reports/<run-name>/")
    r.add_argument(
        "--profile",
        choices=("quick", "full"),
        default="quick",
        help="parameter set: quick (CI-sized, default) or full",
    )
    r.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        default=None,
        help="check ids or prefixes, any case (r6 selects every R6 check)",
    )
    r.add_argument(
        "--seed",
        type=_positive_int("--seed"),
        default=12345,
        help="global seed (default 12345); per-check streams derive from it",
    )
    r.add_argument(
        "--alpha", type=_alpha, default=0.05, help="level of each one-sided bound (default 0.05)"
    )
    r.add_argument(
        "--workers", type=_positive_int("--workers"), default=1, help="worker processes (default 1)"
    )
    r.add_argument(
        "--executor",
        choices=("serial", "process", "dask"),
        default=None,
        help="default: serial for 1 worker, process otherwise",
    )
    r.add_argument(
        "--scheduler",
        metavar="ADDR",
        default=None,
        help="dask scheduler address tcp://HOST:PORT (with --executor dask)",
    )
    r.add_argument(
        "--out", metavar="DIR", default="reports", help="report root folder (default reports/)"
    )
    r.add_argument(
        "--name",
        metavar="RUN_NAME",
        default=None,
        help="report folder name (default: UTC time, profile and seed)",
    )
    r.add_argument(
        "--fail-on",
        choices=tuple(_FAIL_ON),
        default="never",
        help="exit 1 on FAIL/DIVERGED (fail) or also INCONCLUSIVE (inconclusive)",
    )
    r.add_argument("--no-progress", action="store_true", help="no progress output")
    r.add_argument("--pdf", action="store_true", help="also write report.pdf (needs pdflatex)")
    r.add_argument("--registry", action="append", default=None, help=argparse.SUPPRESS)

    ls = sub.add_parser("list", help="list every check and its claim")
    ls.add_argument("--json", action="store_true", help="as a JSON array (id, result, ...)")
    ls.add_argument("--registry", action="append", default=None, help=argparse.SUPPRESS)

    d = sub.add_parser("derive", help="write the symbolic derivations as LaTeX (and PDF)")
    d.add_argument("--out", metavar="DIR", default="reports/derivations")
    d.add_argument("--pdf", action="store_true", help="also run pdflatex")

    c = sub.add_parser(
        "check",
        help="check a user loss given in a TOML spec (format: docs/usercheck.md)",
        description="Load and validate SPEC.toml, analyse the loss (x*, L, mu, convexity, V), "
        "decide which results apply, run every applicable check and the claims, and write "
        "DIR/<run>/ atomically (nothing is written if the spec or data are invalid).",
    )
    c.add_argument("spec", metavar="SPEC.toml")
    c.add_argument(
        "--seed",
        type=_positive_int("--seed"),
        default=None,
        help="global seed (default: algorithm.seed of the spec)",
    )
    c.add_argument("--out", metavar="DIR", default="reports", help="report root (default reports/)")
    c.add_argument(
        "--profile",
        choices=("quick", "full"),
        default="quick",
        help="quick (capped paths and horizons, default) or full (the spec's paths and K)",
    )
    c.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        default=None,
        help="checks to run: all, claims, U-approx, U-thm41-local, U-thm42, U-claim-<i>, "
        "or R2..R8 (overrides checks.run)",
    )
    c.add_argument(
        "--workers", type=_positive_int("--workers"), default=1, help="worker processes (default 1)"
    )
    c.add_argument(
        "--executor",
        choices=("serial", "process", "dask"),
        default=None,
        help="default: serial for 1 worker, process otherwise",
    )
    c.add_argument("--scheduler", metavar="ADDR", default=None, help="dask scheduler address")
    c.add_argument("--name", metavar="RUN_NAME", default=None, help="report folder name")
    c.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="S",
        help="time budget (default 120 s quick, 4 h full); larger runs are refused",
    )
    c.add_argument("--max-memory-gb", type=float, default=None, metavar="G",
                   help="memory budget in GB (default 12); larger runs are refused")  # fmt: skip
    c.add_argument(
        "--fail-on",
        choices=tuple(_FAIL_ON),
        default="never",
        help="exit 1 on FAIL/DIVERGED (fail) or also INCONCLUSIVE (inconclusive)",
    )
    c.add_argument("--no-progress", action="store_true", help="no progress output")
    c.add_argument("--pdf", action="store_true", help="also write report.pdf (needs pdflatex)")
    return p


class _Progress:
    """Progress on stderr for a run: on a terminal an overall bar (k/N checks, ETA) above a
    bar for the current check; otherwise one line per finished check with k/N and ETA;
    nothing when disabled. Also the hooks `verify.usercheck.run_spec` calls (`stage`,
    `start`, `factory`, `result`)."""

    def __init__(self, enabled: bool, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.monotonic()
        self.total = 0
        self.done = 0
        self.overall: Any = None
        self.current: Any = None

    def stage(self, text: str) -> None:
        if self.enabled:
            print(f"... {text}", file=self.stream, flush=True)

    def start(self, checks: Sequence[Any]) -> None:
        self.total = len(checks)
        if self.tty:
            from tqdm import tqdm

            self.overall = tqdm(total=self.total, desc="checks", unit="check", position=0,
                                leave=False, file=self.stream, dynamic_ncols=True)  # fmt: skip

    def factory(self, check: Any) -> Callable[[int, int], None]:
        if not self.tty:
            return _no_progress
        from tqdm import tqdm

        bar = tqdm(total=1, desc=check.id, position=1, leave=False, file=self.stream,
                   dynamic_ncols=True)  # fmt: skip

        def update(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        update.close = bar.close  # type: ignore[attr-defined]
        return update

    def result(self, res: Any) -> None:
        self.done += 1
        if self.overall is not None:
            self.overall.set_postfix_str(f"{res.id} {res.verdict.value}", refresh=False)
            self.overall.update(1)
        elif self.enabled:
            elapsed = time.monotonic() - self.t0
            left = self.total - self.done
            eta = f", ETA {elapsed / self.done * left:.0f} s" if left and self.done else ""
            width = len(str(self.total))
            print(
                f"[{self.done:>{width}}/{self.total}] {res.verdict.value:<14} {res.id} "
                f"({res.runtime_s:.1f} s{eta})",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.overall is not None:
            self.overall.close()
            self.overall = None

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def _no_progress(done: int, total: int) -> None:
    return None


def _finish(report: Any, progress: _Progress, fail_on: str, load_errors: bool = False) -> int:
    """Print the verdict table and the summary line; return the exit code (naming the checks
    that triggered `--fail-on`)."""
    import shutil as _shutil

    from verify.report import summary_line, verdict_table_text

    progress.close()
    results = list(getattr(report, "results", []))
    pdf_error = getattr(report, "pdf_error", "")
    width = _shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else None
    if results:
        print(verdict_table_text(results, width=width))
    where = None
    if getattr(report, "path", None) is not None:
        print(f"report: {_shown(Path(report.path))}")
        where = str(_shown(Path(report.path)) / "report.html")
        latest = Path(report.path).parent / "latest"
        if latest.is_symlink() and latest.resolve() == Path(report.path).resolve():
            where = str(_shown(latest) / "report.html")
    print(summary_line(results, progress.elapsed(), where))
    if pdf_error:
        print(f"report.pdf not written: {pdf_error}", file=sys.stderr)
    if load_errors or pdf_error or any(r.error for r in results):
        bad = [r.id for r in results if r.error]
        if bad:
            print(
                f"exit {EXIT_CHECK_ERROR}: these checks raised: {', '.join(bad)}", file=sys.stderr
            )
        return EXIT_CHECK_ERROR
    triggered = [r.id for r in results if r.verdict in _FAIL_ON[fail_on]]
    if triggered:
        print(
            f"exit {EXIT_FAIL_ON} (--fail-on {fail_on}): {len(triggered)} check"
            f"{'s' if len(triggered) > 1 else ''} "
            + ", ".join(f"{i} ({_verdict_of(results, i)})" for i in triggered),
            file=sys.stderr,
        )
        return EXIT_FAIL_ON
    return EXIT_OK


def _verdict_of(results: Sequence[Any], check_id: str) -> str:
    return next(r.verdict.value for r in results if r.id == check_id)


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it lies below it (shorter to read)."""
    try:
        return path.absolute().relative_to(Path.cwd())
    except ValueError:
        return path


def _cmd_run(args: argparse.Namespace) -> int:
    from verify import api
    from verify.checks import load_checks

    if args.scheduler is not None and args.executor not in (None, "dask"):
        return _usage(
            f"--scheduler={args.scheduler!r} needs the dask executor. "
            "Fix: add --executor dask or drop --scheduler"
        )
    executor = args.executor or ("dask" if args.scheduler else None)
    registry = load_checks(args.registry)
    for name, tb in registry.errors.items():
        print(f"warning: check module {name} failed to import:\n{tb}", file=sys.stderr)
    if args.pdf:
        _need_pdflatex()
    progress = _Progress(not args.no_progress)
    try:
        report = api.run(
            profile=args.profile,
            only=args.only,
            seed=args.seed,
            workers=args.workers,
            out=args.out,
            executor=executor,
            scheduler=args.scheduler,
            alpha=args.alpha,
            run_name=args.name,
            registry=registry,
            progress_factory=progress.factory,
            on_result=progress.result,
            on_start=progress.start,
            command="sdde-verify " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            pdf=args.pdf,
        )
    finally:
        progress.close()
    return _finish(report, progress, args.fail_on, bool(registry.errors))


def _cmd_list(args: argparse.Namespace) -> int:
    from verify.checks import load_checks

    registry = load_checks(args.registry)
    if args.json:
        rows = [
            {
                "id": c.id,
                "result": c.result,
                "result_name": getattr(c, "result_name", c.result),
                "level": c.level,
                "claim": c.claim,
                "claim_latex": getattr(c, "claim_latex", ""),
            }
            for c in registry.checks
        ]
        print(json.dumps(rows, indent=1))
        return EXIT_CHECK_ERROR if registry.errors else EXIT_OK
    for c in registry.checks:
        print(f"{c.id:<20} {c.result:<10} {c.level:<11} {c.claim}")
    if not registry.checks:
        print("(no checks registered)")
    for name, tb in registry.errors.items():
        print(
            f"warning: check module {name} failed to import: {tb.strip().splitlines()[-1]}",
            file=sys.stderr,
        )
    return EXIT_CHECK_ERROR if registry.errors else EXIT_OK


def _cmd_derive(args: argparse.Namespace) -> int:
    from theory.latex import write_document  # lazy: written by the theory engineer
    from verify.report import validate_out_root

    validate_out_root(args.out)
    try:
        path = write_document(Path(args.out), args.pdf)
    except InputError:
        raise
    except Exception as exc:  # e.g. theory.latex.LatexBuildError: pdflatex failed
        print(f"sdde-verify derive: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CHECK_ERROR
    print(f"derivations: {path}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    """``sdde-verify check``: exit codes as for ``run`` (2 also for an invalid spec or data)."""
    from verify.budget import Budget
    from verify.report import validate_out_root
    from verify.usercheck import run_spec  # lazy: the checks import the simulators

    validate_out_root(args.out)  # before the loss analysis, which can take minutes
    if args.pdf:
        _need_pdflatex()
    progress = _Progress(not args.no_progress)
    try:
        report = run_spec(
            args.spec,
            budget=Budget.validated(args.max_memory_gb, args.max_seconds),
            seed=args.seed,
            out=args.out,
            profile=args.profile,
            only=args.only,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            run_name=args.name,
            command="sdde-verify " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            pdf=args.pdf,
            hooks=progress,
        )
    finally:
        progress.close()
    return _finish(report, progress, args.fail_on)


def _need_pdflatex() -> None:
    import shutil as _shutil

    if _shutil.which("pdflatex") is None:
        raise InputError(
            "--pdf",
            True,
            "needs pdflatex, which is not installed",
            "apt-get install texlive-latex-base, or drop --pdf",
        )


def _usage(message: str) -> int:
    print(f"sdde-verify: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sdde-verify` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the message
        return int(exc.code or 0)
    handler = {"run": _cmd_run, "list": _cmd_list, "derive": _cmd_derive, "check": _cmd_check}
    from verify.staging import Terminated, terminate_like_interrupt

    try:
        with terminate_like_interrupt():
            return handler[args.command](args)
    except InputError as exc:
        return _usage(str(exc))
    except Terminated:
        print("\nterminated (SIGTERM); earlier reports are untouched", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\ninterrupted; earlier reports are untouched", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
