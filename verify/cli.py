"""The command line: ``sdde-verify run | list | derive | check``.

    sdde-verify run [--profile quick|full] [--only ID ...] [--seed N] [--alpha A]
                    [--workers N] [--executor serial|process|dask] [--scheduler ADDR]
                    [--out DIR] [--name RUN_NAME] [--fail-on never|fail|inconclusive]
                    [--no-progress]
    sdde-verify list
    sdde-verify derive [--out DIR] [--pdf]
    sdde-verify check SPEC.toml [--out DIR] [--seed N] [--profile quick|full] [--only ID ...]
                    [--workers N] [--executor serial|process|dask] [--name RUN_NAME]
                    [--fail-on never|fail|inconclusive]

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
import shlex
import sys
from collections.abc import Sequence
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


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (exposed for documentation and tests)."""
    p = argparse.ArgumentParser(
        prog="sdde-verify",
        description="Check the SDDE theory of asynchronous SGD (He, Meng, Chen, Ma, Liu).",
        epilog="Exit codes of `run`: 0 completed, 1 --fail-on triggered, 2 bad arguments, "
        "3 a check raised or failed to import, 130 interrupted.",
    )
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
        help="check ids or prefixes (R6 selects every R6 check)",
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
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--registry", action="append", default=None, help=argparse.SUPPRESS)

    ls = sub.add_parser("list", help="list every check and its claim")
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
    return p


class _Bar:
    """tqdm bar per check driven by progress(done, total)."""

    def __init__(self, desc: str, enabled: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=1,
            desc=desc,
            leave=False,
            disable=not enabled,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def __call__(self, done: int, total: int) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _cmd_run(args: argparse.Namespace) -> int:
    from verify import api
    from verify.checks import load_checks
    from verify.report import verdict_table_text

    if args.scheduler is not None and args.executor not in (None, "dask"):
        return _usage(
            f"--scheduler={args.scheduler!r} needs the dask executor. "
            "Fix: add --executor dask or drop --scheduler"
        )
    executor = args.executor or ("dask" if args.scheduler else None)
    registry = load_checks(args.registry)
    for name, tb in registry.errors.items():
        print(f"warning: check module {name} failed to import:\n{tb}", file=sys.stderr)
    show = not args.no_progress and sys.stderr.isatty()

    def on_result(res: Any) -> None:
        print(f"{res.verdict.value:<14} {res.id}  ({res.runtime_s:.1f}s)", file=sys.stderr)

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
        progress_factory=lambda check: _Bar(check.id, show),
        on_result=on_result,
        command="sdde-verify " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )
    print(verdict_table_text(report.results))
    print(f"\nreport: {report.path}")
    if registry.errors or any(r.error for r in report.results):
        return EXIT_CHECK_ERROR
    if any(r.verdict in _FAIL_ON[args.fail_on] for r in report.results):
        return EXIT_FAIL_ON
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    from verify.checks import load_checks

    registry = load_checks(args.registry)
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
    from verify.usercheck import run_spec  # lazy: the checks import the simulators

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
    )
    print(report)
    results = getattr(report, "results", [])
    if getattr(report, "path", None) is not None:
        print(f"\nreport: {report.path}")
    if any(r.error for r in results):
        return EXIT_CHECK_ERROR
    if any(r.verdict in _FAIL_ON[args.fail_on] for r in results):
        return EXIT_FAIL_ON
    return EXIT_OK


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
