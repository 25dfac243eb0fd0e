"""Reports: files, schema, JUnit mapping, self-contained HTML, atomic publication; and the
verdict protocol around `Check.run` (NOT_APPLICABLE runs nothing, DIVERGED says where)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from verify import api, report
from verify.checks import Registry
from verify.checks.base import Check, Diverged, profile
from verify.context import RunContext
from verify.verdict import CheckResult, Hypothesis, ResultFieldError, Verdict


class Passing(Check):
    id = "A1"
    result = "Thm toy"
    level = "as-stated"
    claim = "E N(0,1) <= 0.5"
    claim_latex = r"\mathbb{E} Z \le 0.5"
    conventions = ("toy convention",)
    quick = profile(paths=400)

    def run(self, ctx):
        x = ctx.rng().standard_normal(ctx.params["paths"])
        p = self.plot_band(
            ctx, "band", [1, 2, 3], [0.1, 0.2, 0.3], [0, 0.1, 0.2], [0.2, 0.3, 0.4], 0.5
        )
        return self.from_samples(ctx, x, 0.5, plots=[p])


class Failing(Check):
    id = "A2"
    result = "Thm toy"
    level = "as-applied"
    claim = "E N(1,1) <= 0"

    def run(self, ctx):
        return self.from_samples(ctx, ctx.rng().normal(1.0, 1.0, 400), 0.0)


class Undecided(Check):
    id = "A3"
    result = "Thm toy"
    level = "proof-step"
    claim = "E N(0,1) <= 0.01 (too few paths to tell)"

    def run(self, ctx):
        return self.from_samples(ctx, ctx.rng().normal(0.0, 1.0, 20), 0.01)


class NotApplicable(Check):
    id = "A4"
    result = "Thm toy"
    level = "as-stated"
    claim = "needs eta L (l+1) <= 1"
    ran = False

    def hypotheses(self, ctx):
        return [
            Hypothesis("eta L (l+1) <= 1", False, "eta L (l+1) = 1.6"),
            Hypothesis("L-smooth", True),
        ]

    def run(self, ctx):  # must never be called
        NotApplicable.ran = True
        raise AssertionError("ran despite a failed hypothesis")


class Blowup(Check):
    id = "A5"
    result = "Thm toy"
    level = "as-applied"
    claim = "diverges"

    def run(self, ctx):
        raise Diverged("path 3 non-finite from step 17")


class NanSamples(Check):
    id = "A6"
    result = "Thm toy"
    level = "as-applied"
    claim = "nan"

    def run(self, ctx):
        return self.from_samples(ctx, [1.0, np.inf, 2.0], 1.0)


class Interrupt(Check):
    id = "A9"
    result = "Thm toy"
    level = "as-stated"
    claim = "Ctrl-C"

    def run(self, ctx):
        raise KeyboardInterrupt


TOYS = [Passing(), Failing(), Undecided(), NotApplicable(), Blowup(), NanSamples()]


def _registry(*extra):
    return Registry(checks=[*TOYS, *extra])


def test_verdict_protocol_around_run():
    r = {c.id: c.execute(RunContext(c.id, global_seed=1)) for c in TOYS}
    assert [r[k].verdict for k in ("A1", "A2", "A3", "A4", "A5", "A6")] == [
        Verdict.PASS,
        Verdict.FAIL,
        Verdict.INCONCLUSIVE,
        Verdict.NOT_APPLICABLE,
        Verdict.DIVERGED,
        Verdict.DIVERGED,
    ]
    assert not NotApplicable.ran and "eta L (l+1) <= 1" in r["A4"].message
    assert "L-smooth" not in r["A4"].message  # only the failed hypothesis is named
    assert "path 3" in r["A5"].message and r["A5"].details["diverged_where"].startswith("path 3")
    assert "non-finite" in r["A6"].message
    a1 = r["A1"]
    assert a1.alpha == 0.05 and a1.paths == 400 and a1.seed == 1 and a1.runtime_s > 0
    assert a1.bound_kind == "Student-t (asymptotic)" and a1.conventions == ["toy convention"]


def test_result_serialisation_round_trip():
    res = Failing().execute(RunContext("A2", global_seed=2))
    res.details.update(arr=np.arange(3), nan=math.nan, nested={"x": np.float64(1.5)})
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # strictly JSON
    back = CheckResult.from_dict(json.loads(text))
    assert back.verdict is Verdict.FAIL and back.details["arr"] == [0, 1, 2]
    assert back.details["nan"] == "nan" and back.estimate == res.estimate
    assert "FAIL" in str(res) and "FAIL" in res._repr_html_()
    with pytest.raises(ResultFieldError, match="level"):
        CheckResult("x", "r", "as-claimed", "c", Verdict.PASS, "exact")
    with pytest.raises(ResultFieldError, match="verdict"):
        CheckResult("x", "r", "as-stated", "c", "MAYBE", "exact")


def test_report_files_schema_junit_html(tmp_path):
    rep = api.run(out=tmp_path, seed=7, run_name="r1", registry=_registry(), command="test")
    folder = tmp_path / "r1"
    assert rep.path == folder
    assert sorted(p.name for p in folder.iterdir()) == [
        "junit.xml",
        "plots",
        "report.html",
        "report.md",
        "results.json",
    ]
    assert (tmp_path / "latest").is_symlink() and (tmp_path / "latest").resolve() == folder
    data = json.loads((folder / "results.json").read_text())
    assert data["schema_version"] == report.SCHEMA_VERSION
    run = data["run"]
    assert run["seed"] == 7 and run["profile"] == "quick" and run["command"] == "test"
    assert {"numpy", "scipy", "python"} <= set(run["versions"]) and run["machine"]["cpu_count"]
    assert [r["id"] for r in data["results"]] == ["A1", "A2", "A3", "A4", "A5", "A6"]
    assert data["summary"]["DIVERGED"] == 2
    plot = data["results"][0]["plots"][0]
    assert not Path(plot).is_absolute() and (folder / plot).is_file()

    suite = ET.parse(folder / "junit.xml").getroot()
    kinds = {c.get("name"): [e.tag for e in c if e.tag != "system-out"] for c in suite}
    assert kinds == {
        "A1": [],
        "A2": ["failure"],
        "A3": ["skipped"],
        "A4": ["skipped"],
        "A5": ["error"],
        "A6": ["error"],
    }
    a4 = next(c for c in suite if c.get("name") == "A4")
    assert "eta L (l+1) <= 1" in a4.find("skipped").get("message")
    assert suite.get("failures") == "1" and suite.get("errors") == "2"

    page = (folder / "report.html").read_text()
    assert page.count("<img ") == 1 and page.count('src="plots/') == 1  # beside the page
    assert 'src="http' not in page and "<script" not in page  # self-contained, opens from disk
    assert page.index("<table>") < page.index("<section")  # verdict table first
    assert Verdict.FAIL.colour in page and Verdict.PASS.colour in page
    md = (folder / "report.md").read_text()
    assert "| A2 |" in md.replace("[A2](#a2)", "A2") and "plots/" in md


def test_latest_moves_and_names_do_not_collide(tmp_path):
    api.run(out=tmp_path, run_name="same", registry=_registry(), only=["A1"])
    second = api.run(out=tmp_path, run_name="same", registry=_registry(), only=["A2"])
    assert second.path.name == "same-2"
    assert (tmp_path / "latest").resolve() == second.path
    assert not list(tmp_path.glob(".staging-*")) and not list(tmp_path.glob(".latest-*"))


def _snapshot(root: Path) -> dict[str, bytes | str]:
    snap: dict[str, bytes | str] = {"latest": str(Path(root, "latest").readlink())}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            snap[str(p.relative_to(root))] = p.read_bytes()
    return snap


def test_interrupted_write_leaves_previous_report(tmp_path, monkeypatch):
    api.run(out=tmp_path, run_name="good", registry=_registry(), only=["A1", "A2"])
    before = _snapshot(tmp_path)

    def broken(*a, **k):
        raise OSError("disk full while writing junit.xml")

    monkeypatch.setattr(report, "_junit", broken)
    with pytest.raises(OSError, match="disk full"):
        api.run(out=tmp_path, run_name="bad", registry=_registry(), only=["A1"])
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "bad").exists() and not list(tmp_path.glob(".staging-*"))


def test_ctrl_c_mid_run_leaves_previous_report(tmp_path):
    api.run(out=tmp_path, run_name="good", registry=_registry(), only=["A1"])
    before = _snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        api.run(out=tmp_path, run_name="bad", registry=_registry(Interrupt()), only=["A1", "A9"])
    assert _snapshot(tmp_path) == before and not list(tmp_path.glob(".staging-*"))


def test_run_check_matches_run_and_only_does_not_change_numbers(tmp_path):
    full = api.run(out=None, seed=11, registry=_registry())
    only = api.run(out=None, seed=11, registry=_registry(), only=["A3"])
    single = api.run_check("A3", seed=11, registry=_registry())
    assert full["A3"].estimate == only["A3"].estimate == single.estimate
    assert api.run(out=None, seed=12, registry=_registry(), only=["A3"])["A3"].estimate != (
        single.estimate
    )
    assert "A3" in full._repr_html_() and "A3" in str(full)


def test_bad_run_name(tmp_path):
    with pytest.raises(report.ReportInputError, match="run_name"):
        report.ReportWriter(tmp_path, "../escape")


class GridToy(Check):
    id = "G1"
    result = "Thm toy"
    level = "as-applied"
    claim = "E N(K^-1/2, 1/K) <= 2 K^-1/2 on a grid"

    def run(self, ctx):
        rng = np.random.default_rng(ctx.seed("grid"))
        ks = [10, 100, 1000]
        samples = [rng.normal(k**-0.5, k**-0.5, 200) for k in ks]
        return self.from_grid(ctx, samples, [2 * k**-0.5 for k in ks], [{"K": k} for k in ks])


def test_grid_check_draws_its_plot_and_says_holm(tmp_path):
    rep = api.run(out=tmp_path, run_name="g", registry=Registry([GridToy()]))
    res = rep["G1"]
    assert res.verdict is Verdict.PASS and "Holm" in res.message
    assert res.plots == ["plots/G1_grid.png"] and (tmp_path / "g" / res.plots[0]).is_file()
    page = (tmp_path / "g" / "report.html").read_text()
    assert 'src="plots/G1_grid.png"' in page and "Holm" in page and "<h3>Grid</h3>" in page
    # without a run folder (notebook/tests) no automatic plot is drawn
    assert GridToy().execute(RunContext("G1")).plots == []


def test_raise_if_diverged_reports_where():
    from types import SimpleNamespace

    from verify.checks.base import raise_if_diverged

    raise_if_diverged(SimpleNamespace(diverged_from_step=np.array([-1, -1])))  # finite: no-op

    class Sim(Check):
        id = "D1"
        result = "toy"
        level = "as-applied"
        claim = "ASGD at eta L = 2.1 stays finite"

        def run(self, ctx):
            sim = SimpleNamespace(diverged_from_step=np.array([-1, 40, 12, -1]))
            raise_if_diverged(sim, "eta L = 2.1")
            raise AssertionError("unreachable")

    r = Sim().execute(RunContext("D1"))
    assert r.verdict is Verdict.DIVERGED
    assert r.message == (
        "simulation diverged: 2 of 4 paths non-finite (eta L = 2.1); earliest at step 12 (path 2)"
    )
    assert r.details["first_step"] == 12


def test_run_returning_nothing_is_reported_as_an_error():
    class Forgot(Check):
        id = "F1"
        result = "toy"
        level = "as-stated"
        claim = "forgot to return"

        def run(self, ctx):
            self.from_exact(ctx, 1.0, 1.0)

    r = Forgot().execute(RunContext("F1"))
    assert r.verdict is Verdict.INCONCLUSIVE and "returned NoneType" in r.message and r.error


def _grid_point(p, seed):
    return np.random.default_rng(seed).normal(p["K"] ** -0.5, 0.01, 100)


def test_run_grid_seeds_points_independently_of_the_grid():
    class G(Check):
        id = "G2"
        result = "toy"
        level = "as-applied"
        claim = "E N(K^-1/2, 0.01^2) <= 1.1 K^-1/2"

        def run(self, ctx):
            pts = [{"K": k} for k in ctx.params["Ks"]]
            return self.run_grid(ctx, _grid_point, pts, lambda p: 1.1 * p["K"] ** -0.5)

    small = G().execute(RunContext("G2"), {"Ks": [1, 4]})
    large = G().execute(RunContext("G2"), {"Ks": [1, 4, 16]})
    assert small.verdict is Verdict.PASS and large.verdict is Verdict.PASS
    assert [r["estimate"] for r in small.details["grid"]] == [
        r["estimate"] for r in large.details["grid"][:2]
    ]  # adding a point does not move the others


def test_markdown_grid_lists_failing_rows_first_even_when_truncated():
    """A long grid keeps its failing rows in the (truncated) Markdown table."""
    rows = [{"K": k, "estimate": 0.1, "rhs": 1.0, "holds": True} for k in range(60)]
    rows[55] = {"K": 55, "estimate": 2.0, "rhs": 1.0, "holds": False}
    table = report._md_table(rows)
    assert "1 of 60 rows speak against the claim" in table[0]
    assert table[4].startswith("| 55 |")  # message, blank, header, rule, then the failing row
    assert table[-1].startswith("… 48 more rows")  # 12 shown; the rest in the sidecar


def test_html_grid_lists_failing_rows_first_and_shades_them():
    rows = [{"K": k, "holds": True} for k in range(300)]
    rows[250] = {"K": 250, "holds": False}
    table = report._table(rows)
    assert table.startswith("<p>1 of 300 rows speak against the claim")
    first_row = table.split("</th></tr>", 1)[1]
    assert first_row.startswith('<tr style="background:#fde2e2"><td>250</td>')
