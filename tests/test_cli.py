"""The command line, run as `python -m verify` in a subprocess with a toy registry.

This module is itself the toy registry (`--registry tests.test_cli`): it defines `CHECKS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

from verify import cli
from verify.checks.base import Check, profile

ROOT = Path(__file__).resolve().parents[1]


class TrueMean(Check):
    id = "C1"
    result = "Toy 1"
    level = "as-stated"
    claim = "E N(0,1) <= 1"
    quick = profile(paths=200)
    full = profile(paths=2000)

    def run(self, ctx):
        return self.from_samples(ctx, ctx.rng().standard_normal(ctx.params["paths"]), 1.0)


class FalseMean(Check):
    id = "C2"
    result = "Toy 2"
    level = "as-applied"
    claim = "E N(2,1) <= 1"

    def run(self, ctx):
        return self.from_samples(ctx, ctx.rng().normal(2.0, 1.0, 200), 1.0)


class Crashes(Check):
    id = "C3"
    result = "Toy 3"
    level = "proof-step"
    claim = "a check with a bug"

    def run(self, ctx):
        raise ZeroDivisionError("bug in the check")


CHECKS = [TrueMean(), FalseMean(), Crashes()]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "verify", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_shows_every_check_and_claim():
    p = _cli("list", "--registry", "tests.test_cli")
    assert p.returncode == 0, p.stderr
    for c in CHECKS:
        assert c.id in p.stdout and c.claim in p.stdout


def test_list_default_registry_runs():
    p = _cli("list")
    assert p.returncode in (0, 3), p.stderr  # 3: some check module failed to import
    assert "Traceback" not in p.stdout


def test_run_exit_codes_table_and_report(tmp_path):
    out = str(tmp_path)
    p = _cli(
        "run",
        "--registry",
        "tests.test_cli",
        "--only",
        "C1",
        "C2",
        "--seed",
        "3",
        "--out",
        out,
        "--name",
        "a",
        "--fail-on",
        "fail",
    )
    assert p.returncode == 1, p.stderr  # C2 is FAIL
    assert "C1" in p.stdout and "PASS" in p.stdout and "FAIL" in p.stdout
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    assert data["run"]["seed"] == 3 and "--fail-on fail" in data["run"]["command"]
    assert [r["verdict"] for r in data["results"]] == ["PASS", "FAIL"]

    p = _cli(
        "run",
        "--registry",
        "tests.test_cli",
        "--only",
        "C1",
        "--seed",
        "3",
        "--out",
        out,
        "--name",
        "b",
        "--fail-on",
        "inconclusive",
    )
    assert p.returncode == 0, p.stderr
    only = json.loads((tmp_path / "b" / "results.json").read_text())["results"][0]
    assert only["estimate"] == data["results"][0]["estimate"]  # --only changes no number
    assert (tmp_path / "latest").resolve() == tmp_path / "b"

    p = _cli("run", "--registry", "tests.test_cli", "--out", out, "--name", "c")
    assert p.returncode == 3, p.stderr  # C3 raised; recorded, the run still completed
    crashed = json.loads((tmp_path / "c" / "results.json").read_text())["results"][2]
    assert crashed["verdict"] == "INCONCLUSIVE" and "ZeroDivisionError" in crashed["error"]


def test_bad_arguments_name_the_flag_and_fix(tmp_path, capsys):
    assert cli.main(["run", "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "Fix" in err
    assert cli.main(["run", "--alpha", "0.7"]) == 2
    assert "--alpha" in capsys.readouterr().err
    reg = ["--registry", "tests.test_cli", "--out", str(tmp_path)]
    assert cli.main(["run", *reg, "--only", "R99"]) == 2
    err = capsys.readouterr().err
    assert "--only" in err and "C1" in err  # names the known ids
    assert cli.main(["run", *reg, "--executor", "process", "--scheduler", "tcp://x:1"]) == 2
    assert "--scheduler" in capsys.readouterr().err
    assert cli.main(["frobnicate"]) == 2
    assert not list(tmp_path.iterdir())  # nothing written


def test_derive_and_check_call_their_modules_lazily(monkeypatch, tmp_path, capsys):
    calls = []
    latex = types.ModuleType("theory.latex")
    latex.write_document = lambda out, pdf: calls.append(("derive", out, pdf)) or Path(out)
    user = types.ModuleType("verify.usercheck")
    user.run_spec = lambda path, **kw: calls.append(("check", path, kw)) or "ok"
    monkeypatch.setitem(sys.modules, "theory.latex", latex)
    monkeypatch.setitem(sys.modules, "verify.usercheck", user)
    assert cli.main(["derive", "--out", str(tmp_path), "--pdf"]) == 0
    assert cli.main(["check", "spec.toml", "--seed", "4"]) == 0
    assert calls[0] == ("derive", tmp_path, True)
    assert calls[1][:2] == ("check", "spec.toml") and calls[1][2]["seed"] == 4

    def broken(out, pdf):
        raise RuntimeError("pdflatex: ! Undefined control sequence")

    latex.write_document = broken
    assert cli.main(["derive", "--out", str(tmp_path)]) == 3
    assert "Undefined control sequence" in capsys.readouterr().err


def test_progress_callback_reaches_the_check(tmp_path):
    seen = []

    class Progress(Check):
        id = "C9"
        result = "Toy"
        level = "as-stated"
        claim = "progress"

        def run(self, ctx):
            ctx.map(np.sqrt, [1.0, 4.0])
            return self.from_exact(ctx, 1.0, 1.0)

    from verify import api
    from verify.checks import Registry

    def factory(check):
        return lambda done, total: seen.append((check.id, done, total))

    api.run(out=None, registry=Registry([Progress()]), progress_factory=factory)
    assert seen == [("C9", 1, 2), ("C9", 2, 2)]


def test_run_alone_prints_each_result(capsys):
    from verify.runner import run_alone

    assert run_alone(CHECKS, ["--seed", "3", "--only", "C1", "C2"]) == 0
    out = capsys.readouterr().out
    assert "[PASS] C1" in out and "[FAIL] C2" in out and "C3" not in out


def test_full_profile_uses_full_parameters():
    from verify import api
    from verify.checks import Registry

    reg = Registry([TrueMean()])
    assert api.run(out=None, registry=reg)["C1"].paths == 200
    assert api.run(out=None, registry=reg, profile="full")["C1"].paths == 2000


def test_registry_loading_selection_and_errors():
    import pytest

    from verify.checks import CheckSelectionError, Registry, load_checks, select

    reg = load_checks(["tests.test_cli", "tests.no_such_module"])
    assert reg.ids() == ["C1", "C2", "C3"] and list(reg.errors) == ["tests.no_such_module"]

    class Named(TrueMean):
        def __init__(self, check_id):
            self.id = check_id

    reg = Registry([Named(i) for i in ("R6-as-stated", "R10", "R6.2", "R60", "R2")])
    assert [c.id for c in select(reg, ["R6"])] == ["R6-as-stated", "R6.2"]  # not R60
    assert [c.id for c in select(reg, ["R60", "R2"])] == ["R2", "R60"]
    assert [c.id for c in select(reg, None)] == ["R2", "R6-as-stated", "R6.2", "R10", "R60"]
    with pytest.raises(CheckSelectionError, match="--only"):
        select(reg, ["R7"])
    with pytest.raises(CheckSelectionError, match="twice"):
        load_checks(["tests.test_cli", "tests.test_cli"])
