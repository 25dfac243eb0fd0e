"""What a researcher meets (issue 11): reports with their plots wherever --out is, named
file-system errors, a terminal that explains, CLI manners, the sidecar, the PDF, the notebook
API, and the HTML page rendered in a real headless browser.

This module is also a toy registry (``--registry tests.test_researcher``): a grid check that
fails at one point and draws its plot, and a passing Monte Carlo check with a band plot.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from verify import api, cli, report
from verify.checks import Registry
from verify.checks.base import Check, profile
from verify.verdict import Verdict

ROOT = Path(__file__).resolve().parents[1]


class GridFails(Check):
    id = "T1-grid-K"
    result = "Toy grid"
    level = "as-applied"
    claim = "E N(m_K, 1) <= 1 at every K"
    claim_latex = r"\mathbb E\|X_K\| \le \tfrac{1}{\sqrt{K}}\cdot\sqrt{K}"
    quick = profile(paths=400)

    def run(self, ctx):
        rng = np.random.default_rng(ctx.seed("grid"))
        ks = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]  # > INLINE_ROWS
        means = [0.0] * 13 + [3.0]  # the last point violates the claim
        samples = [rng.normal(m, 1.0, ctx.params["paths"]) for m in means]
        points = [{"b": 1, "K": k} for k in ks]
        return self.from_grid(ctx, samples, [1.0] * len(ks), points)


class BandPasses(Check):
    id = "T2-band"
    result = "Toy band"
    level = "as-stated"
    claim = "E N(0,1) <= 1 over t"

    def run(self, ctx):
        x = ctx.rng().standard_normal(300)
        t = np.linspace(0, 1, 5)
        plot = self.plot_band(ctx, "band", t, t * 0, t * 0 - 0.1, t * 0 + 0.1, t * 0 + 1)
        return self.from_samples(ctx, x, 1.0, plots=[plot])


CHECKS = [GridFails(), BandPasses()]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "verify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _images_resolve(folder: Path) -> None:
    """Every plot of results.json and every image link of report.md is a file in `folder`;
    report.html embeds one image per plot."""
    doc = json.loads((folder / "results.json").read_text())
    plots = [p for r in doc["results"] for p in r["plots"]]
    assert plots, "the toy checks draw plots"
    for p in plots:
        assert not Path(p).is_absolute() and ".staging" not in p, p
        assert (folder / p).is_file(), p
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (folder / "report.md").read_text())
    assert sorted(links) == sorted(plots)
    page = (folder / "report.html").read_text()
    assert page.count("<img ") == len(plots) == page.count('src="plots/')


# --------------------------------------------------------------------------- item 1
@pytest.mark.parametrize("out", ["reports", "rel/deeper", "~/sdde-out"])
def test_relative_home_and_default_out_keep_their_plots(tmp_path, out):
    """Run from a temporary working directory with a relative (or ~) --out through the
    CLI: the images are inside the published folder (regression: they pointed into the
    renamed reports/.staging-*/plots/)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env_home = tmp_path / "home"
    env_home.mkdir()
    args = ["run", "--registry", "tests.test_researcher", "--name", "r", "--out", out]
    env = {**os.environ, "HOME": str(env_home)}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    p = subprocess.run(
        [sys.executable, "-m", "verify", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    root = env_home / out[2:] if out.startswith("~/") else cwd / out
    _images_resolve(root / "r")
    assert not list(root.glob(".staging-*"))


def test_default_out_of_the_api_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rep = api.run(registry=Registry(CHECKS), run_name="api")  # out="reports", relative
    assert rep.path == tmp_path / "reports" / "api"
    _images_resolve(rep.path)


# --------------------------------------------------------------------------- item 2
@pytest.mark.parametrize("kind", ["file", "below-a-file", "read-only"])
def test_unusable_out_is_a_named_error_exit_2_nothing_written(tmp_path, kind, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    if kind == "file":
        out = blocker
    elif kind == "below-a-file":
        out = blocker / "sub"
    else:
        if os.geteuid() == 0:
            out = Path("/proc/sdde-verify-cannot-write-here")  # root ignores file modes
        else:
            ro = tmp_path / "ro"
            ro.mkdir()
            ro.chmod(0o500)
            out = ro / "sub"
    before = sorted(tmp_path.rglob("*"))
    code = cli.main(["run", "--registry", "tests.test_researcher", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--out" in err and "Fix:" in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


def test_check_with_unusable_out_fails_before_the_loss_analysis(tmp_path, capsys):
    blocker = tmp_path / "f"
    blocker.write_text("x")
    spec = ROOT / "verify" / "examples" / "least_squares_diabetes.toml"
    assert cli.main(["check", str(spec), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "is a file" in err


# --------------------------------------------------------------------------- item 4
def test_terminal_table_ratio_reason_summary_and_fail_on(tmp_path):
    p = _cli(
        "run", "--registry", "tests.test_researcher", "--out", str(tmp_path), "--name", "t",
        "--fail-on", "fail", cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    lines = p.stdout.strip().splitlines()
    header = lines[0].split()
    assert header[:7] == ["id", "verdict", "method", "estimate", "rhs", "lhs/rhs", "time"]
    fail_row = next(line for line in lines if line.startswith("T1-grid-K"))
    assert "FAIL" in fail_row and "Holm" in fail_row  # the one-line reason
    assert re.fullmatch(
        r"2 checks: 1 passed, 1 failed \([\d.]+ s\) — .*t/report\.html", lines[-1]
    ), lines[-1]
    assert "--fail-on fail" in p.stderr and "T1-grid-K (FAIL)" in p.stderr
    # progress (no terminal): one line per check with k/N
    assert "[1/2]" in p.stderr and "[2/2]" in p.stderr
    assert p.stdout.count("T1-grid-K") == 1  # the table does not repeat progress lines


def test_summary_line_counts_and_reason_texts():
    rep = api.run(out=None, registry=Registry(CHECKS))
    assert report.summary_line(rep.results, 52.4, "x/report.html") == (
        "2 checks: 1 passed, 1 failed (52 s) — x/report.html"
    )
    assert report.reason(rep["T2-band"]) == ""
    assert report.reason(rep["T1-grid-K"])
    ratio = report.lhs_rhs_ratio(rep["T2-band"])
    assert ratio is not None and ratio == rep["T2-band"].estimate / rep["T2-band"].rhs


# --------------------------------------------------------------------------- item 6
def test_grid_rows_go_to_the_sidecar_and_come_back(tmp_path):
    rep = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="s")
    folder = rep.path
    doc = json.loads((folder / "results.json").read_text())
    assert doc["grids"] == "grids.json.gz"
    grid = doc["results"][0]["details"]["grid"]
    assert grid == {"sidecar": "grids.json.gz", "rows": 14, "against": 1}
    with gzip.open(folder / "grids.json.gz", "rt") as fh:
        side = json.load(fh)
    assert len(side["grids"]["T1-grid-K"]["grid"]) == 14
    back = report.read_report(folder)
    assert back["T1-grid-K"].details["grid"] == json.loads(
        json.dumps(rep["T1-grid-K"].details["grid"])
    )
    page = (folder / "report.html").read_text()
    assert "1 of 14 rows speak against the claim" in page  # the report read the rows back


def test_sidecar_bytes_do_not_depend_on_the_clock(tmp_path):
    a = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="a", seed=3)
    b = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="b", seed=3)
    assert (a.path / "grids.json.gz").read_bytes() == (b.path / "grids.json.gz").read_bytes()


# --------------------------------------------------------------------------- item 7
def test_version_list_json_and_only_manners(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.build_parser().parse_args(["--version"])
    assert exc.value.code == 0
    assert re.match(r"sdde-verify \d+\.\d+", capsys.readouterr().out)
    assert cli.main(["list", "--json", "--registry", "tests.test_researcher"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == ["T1-grid-K", "T2-band"]
    assert {"id", "result", "level", "claim", "claim_latex"} <= set(rows[0])
    ids = ["R6-as-stated", "R6-as-applied", "R60-x", "R4-discussion-l"]
    assert api.resolve_only(["r6"], ids) == ["R6"]
    assert api.resolve_only(["r6-AS-STATED"], ids) == ["R6-as-stated"]
    assert api.resolve_only(["R6-as-st"], ids) == ["R6-as-stated"]
    code = cli.main(["run", "--registry", "tests.test_researcher", "--only", "T1-gird-K"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean T1-grid-K" in err and "T2-band" not in err


def test_lower_case_prefix_selects_through_the_api():
    rep = api.run(out=None, registry=Registry(CHECKS), only=["t2"])
    assert [r.id for r in rep.results] == ["T2-band"]


# --------------------------------------------------------------------------- item 5
def test_html_failures_first_full_message_mathml_and_scrolling_grid(tmp_path):
    rep = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="h")
    page = (rep.path / "report.html").read_text()
    assert page.index('id="t1-grid-k"') < page.index('id="t2-band"')  # FAIL before PASS
    table = page[page.index("<table><tr><th>id</th>") :]
    assert table.index("T1-grid-K") < table.index("T2-band")
    assert html_escape(rep["T1-grid-K"].message) in page  # not cut
    assert "<math" in page and "\\frac" not in page and "\\mathbb" not in page
    assert '<div class="scroll"><table>' in page
    assert 'id="f-FAIL"' in page and 'id="f-PASS"' in page  # the verdict filter
    assert "<script" not in page and 'src="http' not in page


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_grid_plot_is_against_the_claims_variable_with_violations_marked():
    from verify.plots import choose_x_key, claim_variable, row_speaks_against

    rows = [{"K": 10, "l": 1, "estimate": 1.0, "rhs": 2.0}, {"K": 20, "l": 2, "estimate": 3.0,
            "lcb": 2.5, "rhs": 2.0}]  # fmt: skip
    assert choose_x_key(rows) == "K"
    assert claim_variable(type("R", (), {"id": "R4-discussion-l", "details": {}})(), rows) == "l"
    assert choose_x_key(rows, "l") == "l"
    assert [row_speaks_against(r) for r in rows] == [False, True]


chromium = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    chromium is None, reason="Debian's chromium not installed (.ci/run installs it)"
)
def test_page_renders_in_headless_chromium_offline_with_images_and_mathml(tmp_path):
    """Open report.html from disk in a real browser with networking disabled; the DOM after
    rendering has every image decoded (naturalWidth > 0), MathML elements, no raw \\frac."""
    rep = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="b")
    page = rep.path / "report.html"
    probe = rep.path / "probe.html"  # beside the page, so plots/ resolves the same way
    src = page.read_text()
    script = (
        "<script>window.addEventListener('load',function(){var i=[].slice.call("
        "document.images);var ok=i.filter(function(x){return x.complete&&x.naturalWidth>0;});"
        "var m=document.getElementsByTagName('math');var w=m.length?m[0].getBoundingClientRect()"
        ".width:0;document.title='IMAGES '+i.length+' LOADED '+ok.length+' MATH '+m.length+"
        "' MATHW '+Math.round(w)+' RAWFRAC '+(document.body.innerText.indexOf('\\\\frac')>=0);"
        "document.body.setAttribute('data-probe',document.title);});</script>"
    )
    probe.write_text(src.replace("</body>", script + "</body>"))
    profile_dir = tmp_path / "chrome-profile"
    proc = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile_dir}", "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=5000", "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    m = re.search(r'data-probe="([^"]+)"', proc.stdout)
    assert m, proc.stderr[-2000:]
    fields = m.group(1).split()
    stats = dict(zip(fields[::2], fields[1::2]))
    assert int(stats["IMAGES"]) == 2 and stats["LOADED"] == stats["IMAGES"]
    assert int(stats["MATH"]) >= 1 and int(stats["MATHW"]) > 0  # laid out, not ignored
    assert stats["RAWFRAC"] == "false"


# --------------------------------------------------------------------------- item 9
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_run_pdf_writes_report_pdf_with_every_check(tmp_path):
    rep = api.run(out=tmp_path, registry=Registry(CHECKS), run_name="p", pdf=True)
    pdf = rep.path / "report.pdf"
    assert not rep.pdf_error and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for needle in ("T1-grid-K", "T2-band", "Statement.", "Evidence.", "Reproduce.",
                       "sdde-verify run --only T1-grid-K"):  # fmt: skip
            assert needle in text, needle
    from verify.report_pdf import build_latex

    src = build_latex(
        report.read_report(rep.path), {p: "x.png" for r in rep.results for p in r.plots}
    )
    assert src.count("\\includegraphics") == 2


def test_latex_text_maps_unicode_and_escapes():
    from verify.report_pdf import latex_text

    out = latex_text("η ≤ 1_0 & 50% ‖x‖ Ã")
    assert out.isascii()
    assert "\\eta" in out and "\\le" in out and "\\_" in out and "\\&" in out and "\\%" in out


# --------------------------------------------------------------------------- item 11
_SPEC = {
    "loss": {"expression": "(dot(a, x) - b)**2/2"},
    "data": {"kind": "linear", "n": 60, "d": 2, "seed": 1},
    "algorithm": {"eta": 0.05, "delay": "constant", "l": 1, "K": 5, "paths": 20, "seed": 3},
    "checks": {"run": ["U-thm42"]},
}


def test_api_check_accepts_a_dict_and_toml_text(tmp_path):
    from verify.api import _dict_to_toml

    text = _dict_to_toml(_SPEC)
    a = api.check(_SPEC, out=None)
    b = api.check(text, out=None)
    assert [r.id for r in a.results] == [r.id for r in b.results]
    assert [r.estimate for r in a.results] == [r.estimate for r in b.results]
    from verify.usercheck.spec import SpecError

    with pytest.raises(SpecError):
        api.check("[loss]\nexpression = ", out=None)


def test_toml_writer_round_trips_tables_arrays_and_arrays_of_tables():
    from verify.api import _dict_to_toml
    from verify.usercheck.spec import tomllib

    spec = {
        "a": {"x": 1, "y": [1.5, "s"], "z": True, "w": {"q": 'é"\\'}},
        "claims": [{"name": "c", "grid": [{"K": 1}, {"K": 2}]}, {"name": "d"}],
    }
    assert tomllib.loads(_dict_to_toml(spec)) == spec


def test_run_report_as_dataframe():
    pd = pytest.importorskip("pandas")
    rep = api.run(out=None, registry=Registry(CHECKS))
    df = rep.to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df.index) == ["T1-grid-K", "T2-band"]
    assert df.loc["T1-grid-K", "verdict"] == Verdict.FAIL.value
    assert df.loc["T2-band", "ratio"] == pytest.approx(report.lhs_rhs_ratio(rep["T2-band"]))
