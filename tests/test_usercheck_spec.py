"""Tests of verify.usercheck (TOML spec and data loading) and the shipped datasets.

References: the published facts about the shipped datasets (UCI breast cancer: 569 rows, 30
features, 212 malignant / 357 benign; diabetes: 442 rows, 10 features — verify/data/SOURCES.md),
hand-written files in tmp_path with known contents, and SymPy expressions built directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy

from theory.errors import InputError
from theory.safe_parse import LossSpecError
from verify.usercheck import DataError, DataSpec, SpecError, load_dataset, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "verify" / "examples"
DATA = Path(__file__).resolve().parent.parent / "verify" / "data"


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


MIN_DATA = '[data]\nkind = "linear"\nn = 30\nd = 2\nseed = 1\n'
MIN_LOSS = '[loss]\nexpression = "(dot(a, x) - b)**2/2"\n'


# ------------------------------------------------------------------ shipped data and examples
def test_shipped_datasets_match_their_documented_sources():
    bc = load_dataset(DataSpec(path="@breast_cancer", label="target"))
    assert bc.A.shape == (569, 30)
    assert sorted(np.unique(bc.y).tolist()) == [0.0, 1.0]
    assert int((bc.y == 0).sum()) == 212 and int((bc.y == 1).sum()) == 357
    assert bc.feature_names[0] == "mean_radius"
    db = load_dataset(DataSpec(path="@diabetes", label="target"))
    assert db.A.shape == (442, 10)
    assert db.feature_names == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    assert (DATA / "SOURCES.md").is_file()
    for f in ("breast_cancer.csv", "diabetes.csv"):
        assert (DATA / f).stat().st_size < 200_000


@pytest.mark.parametrize(
    ("name", "shape", "smooth", "glm"),
    [
        ("logistic_breast_cancer.toml", (569, 30), True, True),
        ("least_squares_diabetes.toml", (442, 10), True, True),
        ("nonconvex_example.toml", (442, 10), True, True),
        ("hinge_example.toml", (569, 30), False, True),
    ],
)
def test_example_specs_load(name, shape, smooth, glm):
    spec = load_spec(EXAMPLES / name)
    assert spec.dataset.A.shape == shape
    assert spec.loss.smooth is smooth
    assert (spec.loss.glm is not None) is glm
    assert spec.loss.d == shape[1]
    if spec.data_spec.standardize:
        np.testing.assert_allclose(spec.dataset.A.mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(spec.dataset.A.std(axis=0), 1, rtol=1e-12)
    if spec.data_spec.label_values is not None:
        assert set(np.unique(spec.dataset.y)) <= set(spec.data_spec.label_values)


def test_logistic_example_fields_and_claim():
    spec = load_spec(EXAMPLES / "logistic_breast_cancer.toml")
    alg = spec.algorithm
    assert (alg.eta, alg.schedule, alg.batch_size, alg.delay, alg.l) == (0.05, "1", 8, "iid", 3)
    assert spec.loss_spec.constants == {"lam": 0.05}
    ou, rate = spec.claims
    s = {n: sympy.Symbol(n, positive=True) for n in ("R0", "mu", "t", "eta", "sigma2", "b")}
    ref = s["R0"] ** 2 * sympy.exp(-2 * s["mu"] * s["t"]) + s["eta"] * s["sigma2"] / (
        2 * s["mu"] * s["b"]
    )
    assert sympy.simplify(ou.rhs_expr - ref) == 0
    assert ou.metric == "mean_sq_dist" and ou.process == "sdde" and ou.alpha == 0.05  # "mse"
    assert ou.free_constants == ()
    assert rate.metric == "excess_loss" and rate.process == "asgd"
    assert rate.free_constants == ("C1", "C2")
    # labels 0/1 were mapped to -1/+1: 212 malignant -> -1
    assert int((spec.dataset.y == -1).sum()) == 212


# ------------------------------------------------------------------ spec validation
@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        (MIN_LOSS + MIN_DATA + "[algorithm]\netaa = 0.1\n", "algorithm.etaa", "did you mean 'eta'"),
        (MIN_LOSS + MIN_DATA + "[algoritm]\neta = 0.1\n", "algoritm", "did you mean 'algorithm'"),
        (MIN_LOSS + MIN_DATA + "[algorithm]\neta = -1\n", "algorithm.eta", "must be > 0"),
        (MIN_LOSS + MIN_DATA + '[algorithm]\neta = "big"\n', "algorithm.eta", "finite number"),
        (MIN_LOSS + MIN_DATA + "[algorithm]\nbatch_size = 0\n", "algorithm.batch_size", ">= 1"),
        (
            MIN_LOSS + MIN_DATA + "[algorithm]\nbatch_size = 2.5\n",
            "algorithm.batch_size",
            "integer",
        ),
        (MIN_LOSS + MIN_DATA + '[algorithm]\ndelay = "iid"\n', "algorithm.l", "needs l >= 1"),
        (MIN_LOSS + MIN_DATA + "[algorithm]\nl = 2\n", "algorithm.l", "needs l = 0"),
        (
            MIN_LOSS + MIN_DATA + '[algorithm]\ndelay = "iid"\nl = 1\nq = [0.5, 0.6]\n',
            "algorithm.q",
            "sum to 1",
        ),
        (
            MIN_LOSS + MIN_DATA + '[algorithm]\ndelay = "constant"\nl = 1\nq = [0.5, 0.5]\n',
            "algorithm.q",
            "only for delay = 'iid'",
        ),
        (MIN_LOSS + MIN_DATA + '[algorithm]\ndelay = "cyclc"\n', "algorithm.delay", "did you mean"),
        (MIN_LOSS + MIN_DATA + '[algorithm]\nschedule = "1/k2"\n', "algorithm.schedule", "one of"),
        (MIN_LOSS + MIN_DATA + "[algorithm]\nreplace = 1\n", "algorithm.replace", "true or false"),
        (
            MIN_LOSS + MIN_DATA + "[algorithm]\nreplace = false\nbatch_size = 31\n",
            "algorithm.batch_size",
            "exceeds n = 30",
        ),
        (MIN_LOSS + MIN_DATA + "[checks]\nalpha = 1.5\n", "checks.alpha", "(0, 1)"),
        (MIN_LOSS + MIN_DATA + "[checks]\nrun = [1]\n", "checks.run", "list of check ids"),
        (MIN_DATA, "loss", "missing [loss]"),
        (MIN_LOSS, "data", "missing [data]"),
        ('[loss]\nexpresion = "b"\n' + MIN_DATA, "loss.expresion", "did you mean 'expression'"),
        ("[loss]\nexpression = 3\n" + MIN_DATA, "loss.expression", "not a string"),
        (
            MIN_LOSS + "constants = { b = 1 }\n" + MIN_DATA,
            "loss.constants.b",
            "reserved",
        ),
        (MIN_LOSS + '[data]\nkind = "linear"\npath = "x.csv"\n', "data.path", "exactly one"),
        (MIN_LOSS + '[data]\nkind = "poisson"\n', "data.kind", "one of"),
        (MIN_LOSS + '[data]\nkind = "linear"\nn = 0\n', "data.n", ">= 1"),
        (MIN_LOSS + '[data]\nkind = "linear"\nlabel = "y"\n', "data.label", "only for data.path"),
        (MIN_LOSS + MIN_DATA + '[[claims]]\nrhs = "C1/K"\n', "claims[0].metric", "missing"),
        (
            MIN_LOSS + MIN_DATA + '[[claims]]\nmetric = "approx_error"\nrhs = "C1/K"\n',
            "claims[0].coupling",
            "needs a coupling",
        ),
        (
            MIN_LOSS + MIN_DATA + '[[claims]]\nmetric = "mean_dist"\nrhs = "C1/K"\nalfa = 0.1\n',
            "claims[0].alfa",
            "did you mean 'alpha'",
        ),
        ("claims = 3\n" + MIN_LOSS + MIN_DATA, "claims", "array of tables"),
        ("[loss\n", "spec", "invalid TOML"),
    ],
)
def test_spec_errors_name_field_value_and_fix(tmp_path, text, field, fragment):
    with pytest.raises(InputError) as info:
        load_spec(write(tmp_path, text))
    err = info.value
    assert err.parameter == field, str(err)
    assert fragment in str(err), str(err)
    assert "Fix:" in str(err)


def test_claim_rhs_goes_through_the_safe_parser(tmp_path):
    bad = MIN_LOSS + MIN_DATA + '[[claims]]\nmetric = "mean_dist"\nrhs = "C1*__import__(\'os\')"\n'
    with pytest.raises(LossSpecError) as info:
        load_spec(write(tmp_path, bad))
    assert info.value.parameter == "claims[0].rhs" and info.value.position == 3
    unknown = MIN_LOSS + MIN_DATA + '[[claims]]\nmetric = "mean_dist"\nrhs = "C1/tauu"\n'
    with pytest.raises(LossSpecError, match="did you mean 'tau'"):
        load_spec(write(tmp_path, unknown))


def test_loss_errors_surface_at_load_time(tmp_path):
    with pytest.raises(LossSpecError) as info:
        load_spec(write(tmp_path, '[loss]\nexpression = "dot(a, x).real"\n' + MIN_DATA))
    assert info.value.parameter == "loss.expression"
    # log(b) is not finite for negative labels: caught before any run
    text = '[loss]\nexpression = "log(b) * dot(a, x)"\n' + MIN_DATA
    with pytest.raises(SpecError, match="not finite at x = 0"):
        load_spec(write(tmp_path, text))


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")


def test_parse_spec_from_mapping_with_defaults():
    spec = parse_spec(
        {"loss": {"expression": "(dot(a, x) - b)**2/2"}, "data": {"kind": "linear", "d": 3}}
    )
    assert spec.algorithm.delay == "none" and spec.algorithm.l == 0
    assert spec.checks.run == ("all",) and spec.claims == ()
    assert spec.dataset.A.shape == (200, 3)


# ------------------------------------------------------------------ data files
def test_csv_with_header_columns_and_relative_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("u,v,w,y\n1,2,3,1\n4,5,6,-1\n7,8,10,1\n")
    text = MIN_LOSS + '[data]\npath = "sub/d.csv"\nfeatures = ["w", "u"]\nlabel = "y"\n'
    spec = load_spec(write(tmp_path, text))
    np.testing.assert_array_equal(spec.dataset.A, [[3, 1], [6, 4], [10, 7]])
    np.testing.assert_array_equal(spec.dataset.y, [1, -1, 1])
    assert spec.dataset.feature_names == ("w", "u")


def test_csv_without_header_uses_last_column_as_label(tmp_path):
    (tmp_path / "d.csv").write_text("1,2,0\n3,4,1\n")
    ds = load_dataset(DataSpec(path="d.csv"), tmp_path)
    np.testing.assert_array_equal(ds.A, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(ds.y, [0, 1])


def test_standardize_and_intercept(tmp_path):
    (tmp_path / "d.csv").write_text("p,q,y\n1,10,0\n2,20,1\n3,60,1\n")
    ds = load_dataset(DataSpec(path="d.csv", standardize=True, intercept=True), tmp_path)
    p = np.array([1.0, 2, 3])
    q = np.array([10.0, 20, 60])
    np.testing.assert_allclose(ds.A[:, 0], (p - 2) / np.sqrt(2 / 3))
    np.testing.assert_allclose(ds.A[:, 1], (q - 30) / np.sqrt(((q - 30) ** 2).mean()))
    np.testing.assert_array_equal(ds.A[:, 2], 1.0)
    assert ds.feature_names[-1] == "intercept" and len(ds.transforms) == 2


@pytest.mark.parametrize(
    ("content", "spec_kw", "field", "fragment"),
    [
        ("", {}, "data.path", "empty"),
        ("a,b,y\n", {}, "data.path", "header but no rows"),
        ("a,b,y\n1,2,3\n4,5\n", {}, "data.path", "line 3 has 2 fields"),
        ("a,b,y\n1,x,3\n", {}, "data.path", "'x' is not a number"),
        ("a,b,y\n1,nan,3\n", {}, "data.features", "NaN or inf"),
        ("a,b,y\n1,2,inf\n", {}, "data.label", "NaN or inf"),
        ("a,b,y\n1,2,0\n3,4,1\n", {"label_values": (-1.0, 1.0)}, "data.label_values", "line 2"),
        ("a,b,y\n1,2,0\n3,4,2\n", {"label_map": {0.0: -1.0, 1.0: 1.0}}, "data.label_map", "line 3"),
        ("a,b,y\n1,2,0\n1,4,1\n", {"standardize": True}, "data.standardize", "'a' is constant"),
        ("a,b,y\n1,2,0\n", {"label": "z"}, "data.label", "no such column"),
        ("a,b,y\n1,2,0\n", {"label": "yy"}, "data.label", "did you mean 'y'"),
        ("a,b,y\n1,2,0\n", {"features": ("a", "y"), "label": "y"}, "data.features", "label"),
        ("a,b,y\n1,2,0\n", {"label": 7}, "data.label", "out of range"),
        ("1\n2\n", {}, "data.path", "at least 2 columns"),
    ],
)
def test_data_errors(tmp_path, content, spec_kw, field, fragment):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path="d.csv", **spec_kw), tmp_path)
    assert info.value.parameter == field, str(info.value)
    assert fragment in str(info.value), str(info.value)


def test_missing_file_unknown_format_and_unknown_shipped(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(DataSpec(path="none.csv"), tmp_path)
    (tmp_path / "d.txt").write_text("1,2\n")
    with pytest.raises(DataError, match="unsupported format"):
        load_dataset(DataSpec(path="d.txt"), tmp_path)
    with pytest.raises(DataError, match="did you mean '@diabetes'"):
        load_dataset(DataSpec(path="@diabetis"), tmp_path)


def test_npy_and_npz(tmp_path):
    M = np.array([[1.0, 2.0, 1.0], [3.0, 4.0, -1.0]])
    np.save(tmp_path / "d.npy", M)
    ds = load_dataset(DataSpec(path="d.npy"), tmp_path)
    np.testing.assert_array_equal(ds.A, M[:, :2])
    np.testing.assert_array_equal(ds.y, M[:, 2])
    np.savez(tmp_path / "d.npz", A=M[:, :2], y=M[:, 2])
    ds2 = load_dataset(DataSpec(path="d.npz"), tmp_path)
    np.testing.assert_array_equal(ds2.A, ds.A)
    np.testing.assert_array_equal(ds2.y, ds.y)
    np.savez(tmp_path / "e.npz", X=M[:, :2], y=M[:, 2])
    with pytest.raises(DataError, match="no such array"):
        load_dataset(DataSpec(path="e.npz"), tmp_path)
    np.savez(tmp_path / "f.npz", A=M[:, :2], y=np.ones(3))
    with pytest.raises(DataError, match="one label per feature row"):
        load_dataset(DataSpec(path="f.npz"), tmp_path)
    np.save(tmp_path / "g.npy", np.array(["a", "b"]))
    with pytest.raises(DataError, match="not numeric"):
        load_dataset(DataSpec(path="g.npy"), tmp_path)


def test_synthetic_generators_are_seeded():
    a = load_dataset(DataSpec(kind="logistic", n=50, d=3, seed=5))
    b = load_dataset(DataSpec(kind="logistic", n=50, d=3, seed=5))
    c = load_dataset(DataSpec(kind="logistic", n=50, d=3, seed=6))
    np.testing.assert_array_equal(a.A, b.A)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.A, c.A)
    assert set(np.unique(a.y)) <= {-1.0, 1.0}
    lin = load_dataset(DataSpec(kind="linear", n=400, d=2, seed=1, noise=0.0))
    # noise-free linear data: y is exactly in the column space of A
    coef = np.linalg.lstsq(lin.A, lin.y, rcond=None)[0]
    np.testing.assert_allclose(lin.A @ coef, lin.y, atol=1e-10)
    assert "seed=1" in lin.source
    assert not lin.A.flags.writeable


# ------------------------------------------------------------------ hypotheses for the checks
@pytest.mark.parametrize(
    ("expr", "labels", "on_ball", "expected"),
    [
        # smooth, L-Lipschitz, convex, strongly convex, quadratic
        ("(dot(a, x) - b)**2/2", "linear", False, (True, True, True, True, True)),
        ("softplus(-b*dot(a, x)) + 0.1/2*norm2(x)", "logistic", False, (True,) * 4 + (False,)),
        ("softplus(-b*dot(a, x))", "logistic", False, (True, True, True, False, False)),
        ("1 - exp(-(dot(a, x) - 3*b)**2/(2*0.25))", "linear", False, (True, True) + (False,) * 3),
        ("1 - exp(-(dot(a, x) - 3*b)**2/(2*0.25))", "linear", True, (True, True) + (False,) * 3),
        (
            "maximum(0, 1 - b*dot(a, x)) + norm2(x)",
            "logistic",
            False,
            (False, False, True) + (False,) * 2,
        ),
    ],
)
def test_loss_hypotheses(expr, labels, on_ball, expected):
    from theory.user_loss import UserLoss, analyse_loss
    from verify.usercheck import loss_hypotheses

    ds = load_dataset(DataSpec(kind=labels, n=80, d=3, seed=2))
    an = analyse_loss(UserLoss(expr, 3), ds.A, ds.y, D=1.0)
    hyps = loss_hypotheses(an, on_ball=on_ball)
    assert [h.name for h in hyps] == [
        "F smooth (C^2)",
        "grad F L-Lipschitz",
        "F convex",
        "F strongly convex (mu > 0)",
        "F quadratic",
    ]
    assert tuple(h.holds for h in hyps) == expected, [(h.name, h.holds, h.detail) for h in hyps]


def test_spec_problem_for_the_simulators():
    spec = load_spec(EXAMPLES / "least_squares_diabetes.toml")
    prob = spec.problem()
    A, y = spec.dataset.A, spec.dataset.y
    np.testing.assert_allclose(prob.x_star, np.linalg.lstsq(A, y, rcond=None)[0], atol=1e-10)
    assert prob.analysis.L.kind == "certified"
    assert prob.L == pytest.approx(np.linalg.eigvalsh(A.T @ A / len(y))[-1], rel=1e-10)
    idx = np.zeros((2, 3), dtype=int)
    assert prob.sample_grads(np.zeros((2, 10)), idx).shape == (2, 3, 10)


def test_margin_loss_requires_sign_labels(tmp_path):
    (tmp_path / "d.csv").write_text("u,v,y\n1,2,0\n3,4,1\n5,7,1\n")
    loss = '[loss]\nexpression = "softplus(-b*dot(a, x))"\n'
    with pytest.raises(DataError, match="needs labels in") as info:
        load_spec(write(tmp_path, loss + '[data]\npath = "d.csv"\n'))
    assert info.value.parameter == "data.label" and "line 2" in str(info.value)
    mapped = '[data]\npath = "d.csv"\nlabel_map = { "0" = -1, "1" = 1 }\n'
    assert set(load_spec(write(tmp_path, loss + mapped)).dataset.y) == {-1.0, 1.0}
    # not a margin loss: 0/1 labels are fine for least squares
    lsq = '[loss]\nexpression = "(dot(a, x) - b)**2"\n[data]\npath = "d.csv"\n'
    assert load_spec(write(tmp_path, lsq)).dataset.n == 3
