"""End-to-end tests of ``sdde-verify check`` (verify.usercheck.run_spec) and user claims.

References (never the simulator against itself):
- exact mean-square error of SGD on least squares from the exact moment recursion with the
  multiplicative minibatch noise (numerics.moments.asgd_moments_for, SPEC §4);
- the spectrum of A^T A/n by numpy.linalg.eigvalsh (L and mu of least squares are its extreme
  eigenvalues); V = max_i Re W_0(-lambda_i tau)/tau by mpmath's Lambert W (SPEC §4);
- the step conditions of Thm 3.2 / Thm 4.1 in closed form (1/(L(l+1)); Hayes pi/(2 l L));
- mathematical facts of the examples (Welsch loss non-convex; hinge loss non-smooth).

Monte Carlo tests state their confidence: every verdict uses one-sided 95% Student-t bounds
(Holm across the grid); the exact-reference claims below sit 25% above / 20% below the exact
value, which at 4000 paths is more than 10 standard errors away (the relative standard error
of the sample mean of ||x_k - x*||^2 is < 2% here), so a wrong verdict has probability far
below 1e-6.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.delays import NoDelay
from numerics.moments import asgd_moments_for
from numerics.problems import LeastSquares
from theory.errors import InputError
from verify import cli
from verify.usercheck import load_spec, run_spec
from verify.usercheck.run import applicability
from verify.usercheck.setting import FastUserProblem, build_setting
from verify.verdict import Verdict

EXAMPLES = Path(__file__).resolve().parent.parent / "verify" / "examples"

LS_SPEC = """
[loss]
expression = "(dot(a, x) - b)**2/2"

[data]
kind = "linear"
n = 50
d = 2
seed = 1
noise = 0.5

[algorithm]
eta = {eta}
batch_size = 1
delay = "{delay}"
l = {l}
K = {K}
paths = {paths}
seed = 5
x0 = [3.0, -3.0]

[checks]
run = {run}
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def ls_spec(tmp_path: Path, claims: str = "", **kw) -> Path:
    args = dict(eta=0.1, delay="none", l=0, K=20, paths=4000, run='["claims"]')
    args.update(kw)
    return write(tmp_path, LS_SPEC.format(**args) + claims)


# ------------------------------------------------------------------ examples, end to end
@pytest.mark.parametrize(
    "name",
    [
        "hinge_example",
        "nonconvex_example",
        "least_squares_diabetes",
        "logistic_breast_cancer",
    ],
)
def test_examples_run_end_to_end(tmp_path, name):
    report = run_spec(EXAMPLES / f"{name}.toml", out=tmp_path, profile="quick")
    folder = report.path
    assert folder is not None and folder.parent == tmp_path
    assert os.readlink(tmp_path / "latest") == folder.name
    for f in ("report.md", "report.html", "results.json", "junit.xml"):
        assert (folder / f).stat().st_size > 0
    md = (folder / "report.md").read_text()
    # the first section: loss, data, derived quantities with labels, applicability
    assert md.startswith("# User loss check")
    first = md.split("# sdde-verify report")[0]
    for needle in ("Per-sample loss", "**Data.**", "n = ", "| L |", "| mu |", "## Applicability"):
        assert needle in first
    doc = json.loads((folder / "results.json").read_text())
    user = doc["run"]["user_spec"]
    assert user["data"]["n"] == load_spec(EXAMPLES / f"{name}.toml").dataset.n
    rows = {r["check"]: r for r in user["applicability"]}
    results = {r["id"]: r for r in doc["results"]}
    assert set(rows) == set(results)  # every result has an applicability row and a verdict
    assert not any(r.error for r in report.results)
    if rows["U-approx"]["applicable"] != "no":
        # phi_i > 0 on the calibration grid, so the LP of the rate check is always feasible:
        # finite fitted constants (the Welsch example has e^{L(l+1)} ~ 1e20 in the paper's form)
        fitted = results["U-approx"]["details"]["fitted_constants"]
        assert fitted and all(math.isfinite(v) for v in fitted.values())
    if name == "nonconvex_example":  # Welsch: phi'' < 0 for |r| > c, certified witness
        assert rows["U-thm42"]["applicable"] == "no"
        assert "convex" in rows["U-thm42"]["reason"]
        assert results["U-thm42"]["verdict"] == Verdict.NOT_APPLICABLE.value
        assert "F convex" in results["U-thm42"]["message"]
    if name == "hinge_example":  # maximum(0, .): no finite L, no Hessian
        for cid in ("U-approx", "U-thm41-local", "U-thm42"):
            assert rows[cid]["applicable"] == "no"
            assert results[cid]["verdict"] == Verdict.NOT_APPLICABLE.value
        assert rows["U-claim-1"]["applicable"] == "no" and "L" in rows["U-claim-1"]["reason"]
    if name in ("least_squares_diabetes", "logistic_breast_cancer"):
        assert user["analysis"]["L"]["kind"] == "certified"
        assert user["analysis"]["mu"]["kind"] == "certified"
        assert len(user["claims"]) >= 1


# ------------------------------------------------------------------ claims vs exact references
def _exact_mse(spec_path: Path, ks: list[int]) -> list[float]:
    """E||x_k - x*||^2 of SGD with minibatch noise, exact (moment recursion, SPEC §4)."""
    spec = load_spec(spec_path)
    prob = LeastSquares(spec.dataset.A, spec.dataset.y)
    mom = asgd_moments_for(
        prob,
        eta=spec.algorithm.eta,
        K=max(ks),
        delay=NoDelay(),
        b=1,
        noise="minibatch",
        x0=np.array([3.0, -3.0]),
        record=ks,
    )
    out = []
    for m, C in zip(mom.mean, mom.cov):
        dm = m - prob.x_star
        out.append(float(dm @ dm + np.trace(C)))
    return out


def test_true_and_falsified_claims_against_the_exact_mse(tmp_path):
    base = ls_spec(tmp_path)
    ks = [2, 5]
    exact = _exact_mse(base, ks)
    claims = ""
    for name, factor in (("true", 1.25), ("falsified", 0.8)):
        for k, v in zip(ks, exact):
            claims += (
                f'\n[[claims]]\nname = "{name} k={k}"\nmetric = "mse"\nprocess = "asgd"\n'
                f'rhs = "{factor * v!r}"\nt = [{k * 0.1!r}]\n'
            )
    spec = ls_spec(tmp_path, claims)
    report = run_spec(spec, out=None, profile="full")  # full: the spec's 4000 paths
    verdicts = {r.result: r.verdict for r in report.results}
    for k in ks:
        assert verdicts[f"claim: true k={k}"] is Verdict.PASS
        assert verdicts[f"claim: falsified k={k}"] is Verdict.FAIL
    assert all(r.paths == 4000 for r in report.results)
    assert all("Holm" in r.bound_kind for r in report.results)


def test_rate_claim_with_a_falsified_exponent_fails(tmp_path):
    # SGD on least squares cannot decay like exp(-20 t): fitted on t <= 0.3, the held-out
    # t = 1, 1.5 points exceed C1 e^{-20 t} by orders of magnitude (exact E||x_k - x*||^2 is
    # bounded below by the noise floor and ||E x_k - x*||^2 > 0).
    exact = _exact_mse(ls_spec(tmp_path), [10, 15])
    assert min(exact) > 1e-3  # the reference: far above any C1 e^{-20} with C1 ~ 20
    claims = (
        '\n[[claims]]\nname = "too fast"\nmetric = "mse"\nprocess = "asgd"\n'
        'rhs = "C1*exp(-20*t)"\nt = [0.1, 0.2, 0.3]\nheldout = [1.0, 1.5]\n'
        '\n[[claims]]\nname = "honest"\nmetric = "mse"\nprocess = "asgd"\n'
        'rhs = "C1*exp(-mu*t) + C2*eta"\nt = [0.1, 0.2, 0.3]\nheldout = [1.0, 1.5]\n'
    )
    report = run_spec(ls_spec(tmp_path, claims, paths=1000), out=None, profile="full")
    too_fast, honest = report.results
    assert too_fast.method == "rate" and too_fast.verdict is Verdict.FAIL
    assert too_fast.details["fitted_constants"]["C1"] > 0
    assert honest.verdict is not Verdict.FAIL  # mu t decay plus an eta floor is not falsified


@pytest.mark.parametrize(
    ("rhs", "fragment"),
    [
        ("C1*C2/t", "not linear in C1, C2"),
        ("exp(C1*t)", "not linear in C1"),
        ("C1/t + 1", "term without a free constant"),
    ],
)
def test_nonlinear_forms_in_free_constants_are_rejected_at_load(tmp_path, rhs, fragment):
    claims = f'\n[[claims]]\nmetric = "mse"\nrhs = "{rhs}"\n'
    with pytest.raises(InputError) as info:
        load_spec(ls_spec(tmp_path, claims))
    assert info.value.parameter == "claims[0].rhs"
    assert fragment in str(info.value) and "Fix:" in str(info.value)


@pytest.mark.parametrize(
    "rhs",
    [
        "__import__('os').system('true')",
        "t.__class__",
        "(lambda: 1)()",
        "open('x')",
        "1/0",
        "t" + "+t" * 5000,
        "C1**C1",
        "eval('1')",
        "x",  # the loss's parameter is not a claim symbol
    ],
)
def test_adversarial_rhs_strings_are_rejected_with_a_position(tmp_path, rhs):
    claims = f'\n[[claims]]\nmetric = "mse"\nrhs = {json.dumps(rhs)}\n'
    with pytest.raises(InputError) as info:
        load_spec(ls_spec(tmp_path, claims))
    assert info.value.parameter == "claims[0].rhs"


# ------------------------------------------------------------------ robustness
def test_bad_spec_or_data_writes_nothing_and_keeps_latest(tmp_path):
    out = tmp_path / "reports"
    good = ls_spec(tmp_path, run='["U-thm42"]', paths=20, K=5)
    first = run_spec(good, out=out, run_name="first")
    assert os.readlink(out / "latest") == "first"
    (tmp_path / "nan.csv").write_text("x1,x2,y\n1,2,3\nnan,1,2\n")
    (tmp_path / "short.csv").write_text("x1,x2,y\n1,2,3\n4,5\n")
    bad = {
        "malformed TOML": "[loss\nexpression = 1",
        "missing data file": '[loss]\nexpression = "(dot(a,x)-b)**2"\n[data]\npath = "no.csv"\n',
        "NaN in data": '[loss]\nexpression = "(dot(a,x)-b)**2"\n[data]\npath = "nan.csv"\n',
        "ragged CSV": '[loss]\nexpression = "(dot(a,x)-b)**2"\n[data]\npath = "short.csv"\n',
        "unknown check": LS_SPEC.format(eta=0.1, delay="none", l=0, K=5, paths=20, run='["R9"]'),
        "x0 of wrong length": LS_SPEC.format(
            eta=0.1, delay="none", l=0, K=5, paths=20, run='["all"]'
        ).replace("x0 = [3.0, -3.0]", "x0 = [1.0, 2.0, 3.0]"),
    }
    before = sorted(p.name for p in out.iterdir())
    for label, text in bad.items():
        with pytest.raises(InputError) as info:
            run_spec(write(tmp_path, text, "bad.toml"), out=out, run_name=f"bad-{label[:3]}")
        assert "Fix:" in str(info.value), label
        assert sorted(p.name for p in out.iterdir()) == before, label
        assert os.readlink(out / "latest") == "first"
    assert first.path == out / "first"


def test_diverging_simulation_is_reported_as_diverged(tmp_path):
    # eta = 5 on least squares with lambda_max(A^T A/n) ~ 1: |1 - eta lambda| > 1, blows up.
    claims = '\n[[claims]]\nmetric = "mse"\nprocess = "asgd"\nrhs = "1 + t"\n'
    report = run_spec(ls_spec(tmp_path, claims, eta=5.0, K=2000, paths=50), out=tmp_path)
    (res,) = report.results
    assert res.verdict is Verdict.DIVERGED
    assert "non-finite" in res.message and "earliest from step" in res.message
    assert not res.error  # reported, not crashed
    assert (report.path / "report.md").exists()


# ------------------------------------------------------------------ certified constants
def test_certified_L_mu_V_and_step_limits_match_independent_computations(tmp_path):
    spec = load_spec(ls_spec(tmp_path, eta=0.4, delay="constant", l=3))
    s = build_setting(spec)
    A = spec.dataset.A
    lam = np.linalg.eigvalsh(A.T @ A / A.shape[0])  # exact spectrum of the Hessian
    a = s.analysis
    assert a.L.kind == "certified" and a.mu.kind == "certified"
    assert lam[-1] <= a.L.value <= lam[-1] * (1 + 1e-9)  # an upper bound, tight
    assert lam[0] * (1 - 1e-9) <= a.mu.value <= lam[0]  # a lower bound, tight
    tau = 3 * 0.4
    with mpmath.workdps(30):
        V_ref = max(float(mpmath.re(mpmath.lambertw(-mpmath.mpf(v) * tau, 0))) / tau for v in lam)
    assert abs(float(s.roots.V) - V_ref) <= 1e-9 * max(1.0, abs(V_ref))
    rows = {r["check"]: r for r in applicability(s)}
    # Thm 3.4: eta L l <= 1 fails at eta = 0.4 iff 1.2 lambda_max > 1; largest eta = 1/(3 L)
    assert 0.4 * 3 * lam[-1] > 1  # the data make the condition fail at eta = 0.4
    assert rows["U-approx"]["applicable"] == "partly"
    assert f"largest admissible eta = {1 / (3 * a.L.value):.6g}" in rows["U-approx"]["reason"]
    # Thm 4.1: Hayes pi/(2 l lambda_max)
    assert f"{math.pi / (2 * 3 * lam[-1]):.6g}" in rows["U-thm41-local"]["reason"]
    assert (V_ref < 0) == (rows["U-thm41-local"]["applicable"] == "yes")


def test_step_condition_violation_names_the_largest_admissible_eta(tmp_path):
    spec = load_spec(ls_spec(tmp_path, eta=2.0, delay="iid", l=2))
    s = build_setting(spec)
    row = {r["check"]: r for r in applicability(s)}["U-approx"]
    L = s.analysis.L.value
    assert row["result"] == "Thm 3.2" and row["applicable"] == "partly"
    assert "violated" in row["reason"]
    assert f"largest admissible eta = {1 / (3 * L):.6g}" in row["reason"]


def test_fast_glm_gradient_equals_the_per_sample_route():
    # independent route: the mean of per-sample gradients phi'(a_i^T x, b_i) a_i + c x
    spec = load_spec(EXAMPLES / "logistic_breast_cancer.toml")
    fast = FastUserProblem(spec.loss, spec.dataset.A, spec.dataset.y)
    X = np.random.default_rng(0).normal(size=(7, spec.dataset.d))
    ref = spec.loss.grad_F(X, spec.dataset.A, spec.dataset.y)
    np.testing.assert_allclose(fast.grad(X), ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fast.grad(X[0]), ref[0], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ command line
def test_cli_check_writes_a_report_and_rejects_bad_specs(tmp_path, capsys):
    spec = ls_spec(tmp_path, run='["all"]', paths=20, K=5)
    out = tmp_path / "out"
    assert cli.main(["check", str(spec), "--out", str(out), "--only", "U-thm42"]) == 0
    text = capsys.readouterr().out
    assert "U-thm42" in text and "report:" in text
    assert (out / "latest" / "report.md").exists()
    assert cli.main(["check", str(spec), "--out", str(out), "--only", "R9"]) == 2
    assert "only='R9'" in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "missing.toml"), "--out", str(out)]) == 2


def test_the_complete_example_of_the_docs_is_a_valid_spec(tmp_path):
    doc = (EXAMPLES.parent.parent / "docs" / "usercheck.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    data = EXAMPLES.parent / "data" / "breast_cancer.csv"
    assert '"../data/breast_cancer.csv"' in block
    block = block.replace('"../data/breast_cancer.csv"', json.dumps(str(data)))
    spec = load_spec(write(tmp_path, block))
    assert spec.dataset.d == 2 and spec.algorithm.q == (0.4, 0.3, 0.2, 0.1)
    ou, approx = spec.claims
    assert ou.metric == "mean_sq_dist" and ou.t == (1.0, 5.0, 25.0) and ou.paths == 400
    assert approx.free_constants == ("C1",) and approx.heldout == ({"K": 800, "eta": 0.0125},)


def test_undefined_rhs_and_unaffordable_step_conditions_are_inconclusive_not_crashes(tmp_path):
    # 1/(t - 1) is complex infinity at t = 1: the claim says so instead of raising
    claims = '\n[[claims]]\nmetric = "mse"\nprocess = "asgd"\nrhs = "1/(t - 1)"\nt = [0.5, 1.0]\n'
    report = run_spec(ls_spec(tmp_path, claims, paths=20), out=None)
    (res,) = report.results
    assert res.verdict is Verdict.INCONCLUSIVE and not res.error
    assert "not a finite real number at t = 1" in res.message
    # L = 2e10 (a ridge of 1e10): eta = 1/K <= 1/L needs K ~ 2^35; the quick budget says so
    text = LS_SPEC.format(eta=0.1, delay="none", l=0, K=5, paths=20, run='["U-approx"]')
    text = text.replace('"(dot(a, x) - b)**2/2"', '"(dot(a, x) - b)**2/2 + 1e10*norm2(x)"')
    (res,) = run_spec(write(tmp_path, text, "stiff.toml"), out=None).results
    assert res.verdict is Verdict.INCONCLUSIVE and not res.error
    assert "beyond this profile's budget" in res.message


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [("-norm2(x)", "saddle or a maximum"), ("dot(a, x)", "may have no minimiser")],
)
def test_losses_without_a_minimiser_make_x_star_results_not_applicable(
    tmp_path, expression, fragment
):
    # -||x||^2 has only a maximum (Hessian -2I); a^T x averaged is linear, unbounded below
    claims = '\n[[claims]]\nmetric = "mse"\nprocess = "asgd"\nrhs = "1"\n'
    text = LS_SPEC.format(eta=0.1, delay="constant", l=1, K=5, paths=20, run='["all"]')
    text = text.replace('"(dot(a, x) - b)**2/2"', json.dumps(expression)) + claims
    s = build_setting(load_spec(write(tmp_path, text)))
    rows = {r["check"]: r for r in applicability(s)}
    for cid in ("U-thm41-local", "U-thm42", "U-claim-1"):
        assert rows[cid]["applicable"] == "no" and rows[cid]["failed"] == "x* exists"
        assert fragment in rows[cid]["reason"]


def test_brownian_coupling_claim_against_the_exact_em_error(tmp_path):
    # Reference: the exact joint Gaussian law of the fine SDDE solution X_m (m = 4 substeps)
    # and its Euler-Maruyama scheme on the same Brownian path (coupling (a)), least squares,
    # sigma at x*, x0 = x* + 1 (verify.checks._approx.em_error_exact): a bracket [lo, hi] of
    # E||X_m(t_K) - x~_K||. rhs = 1.25 hi must PASS, rhs = 0.75 lo must FAIL (95% bounds,
    # 2000 paths: relative standard error ~1.5%, both margins > 15 standard errors).
    from verify.checks._approx import em_error_exact

    spec0 = load_spec(ls_spec(tmp_path))
    prob = LeastSquares(spec0.dataset.A, spec0.dataset.y)
    x0 = prob.x_star + 1.0
    K = 16
    lo, hi = em_error_exact(prob, kind="none", K=K, l=0, b=1, substeps=4)
    claims = ""
    for name, v in (("true", 1.25 * hi), ("falsified", 0.75 * lo)):
        claims += (
            f'\n[[claims]]\nname = "{name}"\nmetric = "approx_error"\ncoupling = "brownian"\n'
            f'rhs = "{float(v)!r}"\ngrid = [{{ K = {K}, eta = {1 / K!r} }}]\n'
        )
    text = LS_SPEC.format(eta=0.1, delay="none", l=0, K=K, paths=2000, run='["claims"]')
    text = text.replace("x0 = [3.0, -3.0]", f"x0 = [{float(x0[0])!r}, {float(x0[1])!r}]") + claims
    true, falsified = run_spec(write(tmp_path, text, "em.toml"), out=None, profile="full").results
    assert true.verdict is Verdict.PASS, true.message
    assert falsified.verdict is Verdict.FAIL, falsified.message


PHI = ["1/t", "sqrt(eta)", "exp(-mu*t)", "log(1 + t)/t", "L*D**2/(k + 1)", "1"]


@given(
    terms=st.lists(st.sampled_from(PHI), min_size=1, max_size=4),
    breaker=st.sampled_from(["", "C1*C2", "exp(C1)", "t", "C1**2", "sqrt(C2)"]),
)
@settings(max_examples=40, deadline=None)
def test_linearity_in_free_constants_property(terms, breaker):
    # sum_i C_i phi_i is accepted; adding a term that is nonlinear in the C's or free of them
    # is rejected with the field and a fix (the reference: the form's definition, SPEC §2)
    from verify.usercheck.spec import parse_spec

    rhs = " + ".join(f"C{i + 1}*({phi})" for i, phi in enumerate(terms))
    if breaker:
        rhs += f" + {breaker}"
    raw = {
        "loss": {"expression": "(dot(a, x) - b)**2/2"},
        "data": {"kind": "linear", "n": 20, "d": 2, "seed": 1},
        "claims": [{"metric": "mse", "rhs": rhs}],
    }
    if breaker:
        with pytest.raises(InputError) as info:
            parse_spec(raw)
        assert info.value.parameter == "claims[0].rhs" and "C1*phi1 + C2*phi2" in str(info.value)
    else:
        (claim,) = parse_spec(raw).claims
        assert claim.free_constants == tuple(f"C{i + 1}" for i in range(len(terms)))


def test_pseudo_huber_loss_gets_its_x_star_certificate(tmp_path):
    # phi(z, b) = sqrt(1 + (z - b)^2) - 1: phi'' = (1 + r^2)^(-3/2) in (0, 1], so with a ridge
    # lam the loss is certified lam-strongly convex and ||x_hat - x*|| <= ||grad F|| / mu.
    # Regression: the 50-digit residual used to turn b**2 into exp(2 log b) (complex for b < 0).
    text = LS_SPEC.format(eta=0.1, delay="none", l=0, K=5, paths=20, run='["all"]')
    text = text.replace(
        '"(dot(a, x) - b)**2/2"', '"sqrt(1 + (dot(a, x) - b)**2) - 1 + lam/2*norm2(x)"'
    ).replace("[data]", "constants = { lam = 0.1 }\n\n[data]")
    spec = load_spec(write(tmp_path, text))
    assert (spec.dataset.y < 0).any()
    a = build_setting(spec).analysis
    assert a.mu.kind == "certified" and a.mu.value >= 0.1 * (1 - 1e-9)
    assert a.x_star_error is not None and a.x_star_error <= 1e-8
    # independent: the float64 gradient at x_hat is tiny relative to the data scale
    g = spec.loss.grad_F(a.x_star, spec.dataset.A, spec.dataset.y)
    assert np.linalg.norm(g) <= 1e-9


def test_unavailable_interval_bound_falls_back_to_a_labelled_estimate_not_na(tmp_path):
    # log1p(exp(-b z)) is the logistic loss, L <= lambda_max/4 + 2*0.05 in truth; the interval
    # enclosure of phi'' gives up ([-inf, inf]), which is no certificate of non-smoothness, so
    # the L-smooth results must run with a sampled estimate (labelled), not be NOT APPLICABLE.
    text = LS_SPEC.format(eta=0.05, delay="iid", l=2, K=5, paths=20, run='["all"]')
    text = text.replace('"(dot(a, x) - b)**2/2"', '"log1p(exp(-b*dot(a, x))) + 0.05*norm2(x)"')
    text = text.replace('kind = "linear"', 'kind = "logistic"')
    spec = load_spec(write(tmp_path, text))
    s = build_setting(spec)
    assert s.analysis.L.kind == "unavailable"  # the premise of this test
    assert s.L_const.kind == "estimate" and s.problem.L == s.L_const.value
    A = spec.dataset.A
    L_true = np.linalg.eigvalsh(A.T @ A / A.shape[0])[-1] / 4 + 0.1  # sup phi'' = 1/4
    assert 0.1 <= s.L_const.value <= L_true  # an estimate from inside the true range
    rows = {r["check"]: r for r in applicability(s)}
    assert rows["U-approx"]["applicable"] in ("yes", "partly")
    assert rows["U-thm42"]["applicable"] == "yes" and "estimate" in rows["U-thm42"]["reason"]
