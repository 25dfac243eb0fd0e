"""Unit tests of theory.safe_parse: every allowed construct, every forbidden one, every limit.

References: SymPy expressions built directly (not through the parser) and exact column offsets
counted by hand in the source strings.
"""

from __future__ import annotations

import pytest
import sympy

from theory.errors import InputError
from theory.safe_parse import (
    NONSMOOTH_FUNCTIONS,
    LossSpecError,
    ParseLimits,
    maximum,
    minimum,
    parse_expression,
    sigmoid,
    softplus,
    vector_symbols,
)

D = 3
X = vector_symbols("x", D)
A = vector_symbols("a", D)
B, LAM = sympy.Symbol("b", real=True), sympy.Symbol("lam", real=True)
z = sympy.Symbol("z", real=True)


def parse(src: str, **kw):
    kw.setdefault("scalars", ["b", "lam", "z"])
    kw.setdefault("vectors", {"x": X, "a": A})
    return parse_expression(src, **kw)


def dot(u, v):
    return sum((p * q for p, q in zip(u, v)), sympy.Integer(0))


# ------------------------------------------------------------------------------ allowed
@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("1", sympy.Integer(1)),
        ("0.5", sympy.Rational(1, 2)),  # exact decimal meaning, not binary 0.5 float
        ("0.1", sympy.Rational(1, 10)),
        ("1e-3", sympy.Rational(1, 1000)),
        ("b + lam", B + LAM),
        ("b - lam", B - LAM),
        ("b * lam", B * LAM),
        ("b / lam", B / LAM),
        ("b ** 2", B**2),
        ("b ** -0.5", B ** sympy.Rational(-1, 2)),
        ("-b", -B),
        ("+b", B),
        ("-(b - 1)", 1 - B),
        ("2 ** 10", sympy.Integer(1024)),
        ("exp(b)", sympy.exp(B)),
        ("log(b)", sympy.log(B)),
        ("log1p(b)", sympy.log(1 + B)),
        ("sqrt(b)", sympy.sqrt(B)),
        ("tanh(b)", sympy.tanh(B)),
        ("sin(b) + cos(b)", sympy.sin(B) + sympy.cos(B)),
        ("sigmoid(b)", sigmoid(B)),
        ("softplus(b)", softplus(B)),
        ("abs(b)", sympy.Abs(B)),
        ("maximum(0, 1 - b)", maximum(0, 1 - B)),
        ("minimum(b, lam)", minimum(B, LAM)),
        ("dot(a, x)", dot(A, X)),
        ("norm2(x)", dot(X, X)),
        ("sum(x)", X[0] + X[1] + X[2]),
        ("sum(a * x)", dot(A, X)),  # elementwise product
        ("sum((x - a) ** 2)", dot([p - q for p, q in zip(X, A)], [p - q for p, q in zip(X, A)])),
        ("sum(2 * x / 4)", (X[0] + X[1] + X[2]) / 2),  # scalar broadcasting
        ("sum(exp(x))", sum(sympy.exp(v) for v in X)),  # elementwise function
        ("sum(maximum(0, x))", sum(maximum(0, v) for v in X)),
        ("sum(-x)", -(X[0] + X[1] + X[2])),
        ("sum(x + 1)", X[0] + X[1] + X[2] + 3),
        ("softplus(-b*dot(a, x)) + lam/2*norm2(x)", softplus(-B * dot(A, X)) + LAM * dot(X, X) / 2),
        ("(b\n + 1)", B + 1),  # a newline inside brackets is allowed
    ],
)
def test_allowed_constructs_translate_exactly(src, expected):
    got = parse(src).expr
    assert sympy.simplify(got - expected) == 0


def test_maximum_minimum_values_at_points():
    # reference: Python's max/min at sample points
    p, q = parse("maximum(b, lam)").expr, parse("minimum(b, lam)").expr
    for bv, lv in [(1, 2), (3, -1), (-2, -2), (sympy.Rational(1, 3), sympy.Rational(1, 4))]:
        assert p.subs({B: bv, LAM: lv}) == max(bv, lv)
        assert q.subs({B: bv, LAM: lv}) == min(bv, lv)


def test_nested_maxima_parse_quickly():
    # sympy.Max compares nested arguments pairwise (seconds for ~30 nested maxima) and the
    # (u + v + |u - v|)/2 form doubles per level; the unevaluated function stays linear.
    src = "dot(a, x)"
    for i in range(30):
        src = f"maximum(sum(x*{i}) - b, {src})"
    p = parse(src)
    assert not p.smooth and sympy.count_ops(p.expr) < 2000
    # at x = a = 1, b = 1: max(3, max over i < 30 of 3 i - 1) = 86
    assert p.expr.xreplace(dict.fromkeys((*X, *A, B), sympy.Integer(1))) == 86


def test_result_metadata_names_functions_and_nonsmooth():
    p = parse("maximum(0, 1 - b*dot(a, x)) + lam*norm2(x)")
    assert p.names == {"a", "b", "lam", "x"}
    assert p.functions == {"maximum", "dot", "norm2"}
    assert p.nonsmooth == {"maximum"} and not p.smooth
    assert parse("softplus(b) + abs(b) + minimum(b, 1)").nonsmooth == {"abs", "minimum"}
    assert parse("exp(b)").smooth
    assert {"abs", "maximum", "minimum"} == NONSMOOTH_FUNCTIONS


def test_scalars_mapping_substitutes_given_expressions():
    p = parse_expression("c * t", scalars={"c": sympy.Rational(3, 2), "t": sympy.Symbol("t")})
    assert p.expr == sympy.Rational(3, 2) * sympy.Symbol("t")


def test_functions_subset_restricts_calls():
    with pytest.raises(LossSpecError, match="'exp' is not allowed"):
        parse_expression("exp(t)", scalars=["t"], functions={"log"})


def test_sigmoid_softplus_derivatives_and_values():
    assert sympy.simplify(sympy.diff(softplus(z), z) - sigmoid(z)) == 0
    assert sympy.simplify(sympy.diff(sigmoid(z), z) - sigmoid(z) * (1 - sigmoid(z))) == 0
    assert sigmoid(0) == sympy.Rational(1, 2)
    assert abs(float(softplus(sympy.Integer(2)).evalf()) - 2.1269280110429727) < 1e-15
    assert abs(float(sigmoid(sympy.Integer(1)).evalf()) - 0.7310585786300049) < 1e-15


# ------------------------------------------------------------------------------ forbidden
# (source, 0-based column of the offending node, fragment of the message)
FORBIDDEN = [
    ("().__class__", 0, "attribute access"),
    ("b.real", 0, "attribute access"),
    ("exp.__globals__", 0, "attribute access"),
    ("__import__('os')", 0, "'__import__' is not allowed"),
    ("eval('1')", 0, "'eval' is not allowed"),
    ("open('/tmp/x', 'w')", 0, "'open' is not allowed"),
    ("b + x[0]", 4, "subscript"),
    ("lambda: 1", 0, "lambda"),
    ("[b for b in x]", 0, "list comprehension"),
    ("{b for b in x}", 0, "set comprehension"),
    ("(b for b in x)", 0, "generator expression"),  # the genexp node includes its brackets
    ("{b: b for b in x}", 0, "dict comprehension"),
    ("f'{b}'", 0, "f-string"),
    ("'abc'", 0, "literal of type str"),
    ("b'abc'", 0, "literal of type bytes"),
    ("1j", 0, "literal of type complex"),
    ("None", 0, "literal of type NoneType"),
    ("True", 0, "literal of type bool"),
    ("...", 0, "literal of type ellipsis"),
    ("b < 1", 0, "comparison"),
    ("b and lam", 0, "boolean operator"),
    ("not b", 0, "operator not"),
    ("~b", 0, "operator ~"),
    ("b if lam else 1", 0, "conditional expression"),
    ("(y := 1)", 1, "assignment expression"),
    ("b % 2", 0, "operator %"),
    ("b // 2", 0, "operator //"),
    ("b @ lam", 0, "operator @"),
    ("b << 2", 0, "operator <<"),
    ("b ^ 2", 0, "operator ^"),
    ("(b, lam)", 0, "tuple"),  # a parenthesised tuple's node starts at its bracket
    ("[b]", 0, "list"),
    ("exp(b=1)", 4, "keyword arguments"),
    ("exp(*x)", 4, "starred"),
    ("exp(b, b)", 0, "takes 1 argument"),
    ("dot(a)", 0, "takes 2 argument"),
    ("foo(b)", 0, "'foo' is not allowed"),
    ("lam + exq(b)", 6, "did you mean 'exp'"),
    ("1 + lan", 4, "did you mean 'lam'"),
    ("exp", 0, "used as a value"),
    ("exp(b)(lam)", 0, "call of"),
    ("x", 0, "is a vector"),
    ("x + a", 0, "is a vector"),
    ("dot(b, x)", 0, "needs two vectors"),
    ("norm2(b)", 0, "needs a vector"),
    ("b ** x", 5, "vector exponent"),
    ("sum(x ** b)", 9, "numeric exponent"),  # points at the exponent
    ("1/0", 0, "undefined"),
    ("log(0)", 0, "undefined"),
    ("sqrt(-1)", 0, "not real"),
    ("b + (-2) ** 0.5", 4, "not real"),
    ("log(-1)", 0, "not real"),
    ("b +", 0, "syntax error"),  # CPython reports offset 1 for this "invalid syntax"
    ("abs(b", 3, "syntax error"),
    ("", 0, "empty"),
    ("   ", 0, "empty"),
    ("b +\x00 1", 3, "not printable ASCII"),
    ("b + ｘ", 4, "not printable ASCII"),  # fullwidth x: NFKC would turn it into "x"
    ("ℓ + 1", 0, "not printable ASCII"),
    ("b + \u200b1", 4, "not printable ASCII"),  # zero-width space
    ("1e400", 0, "not finite"),
    ("10000000000000000000000", 0, "integer exceeds"),
    ("9**9**9", 3, "exponent"),
    ("2 ** 1000", 5, "exponent"),
    ("b ** 65", 5, "exponent"),
]


@pytest.mark.parametrize(("src", "col", "fragment"), FORBIDDEN)
def test_forbidden_constructs_raise_with_position(src, col, fragment):
    with pytest.raises(LossSpecError) as info:
        parse(src)
    err = info.value
    assert isinstance(err, InputError)
    assert err.position == col, (src, err.position, str(err))
    assert fragment in str(err), str(err)
    assert f"(at column {col + 1})" in str(err)
    assert "Fix:" in str(err)


def test_error_names_the_field_and_token():
    with pytest.raises(LossSpecError) as info:
        parse("b + os.system", parameter="loss.expression")
    assert str(info.value).startswith("loss.expression='os.system'")
    assert info.value.token == "os.system" and info.value.position == 4


def test_position_on_later_lines_counts_characters():
    with pytest.raises(LossSpecError) as info:
        parse("(b +\n x.y)")
    assert info.value.position == 6  # "(b +\n" is 5 characters, then " " -> x at offset 6


def test_not_a_string():
    with pytest.raises(LossSpecError, match="must be a string"):
        parse(3)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ limits
def test_length_limit():
    src = "+".join(["b"] * 1001)  # 2001 characters
    with pytest.raises(LossSpecError, match="longer than 2000") as info:
        parse(src)
    assert info.value.position == 2000


def _balanced(leaves: int) -> str:
    return "b" if leaves == 1 else f"({_balanced(leaves // 2)}+{_balanced(leaves - leaves // 2)})"


def test_node_limit():
    src = _balanced(256)  # 511 nodes + Expression, depth 9
    with pytest.raises(LossSpecError, match="more than 400 syntax nodes"):
        parse(src)
    assert parse(src, limits=ParseLimits(max_nodes=512)).expr == 256 * B
    assert parse(_balanced(200)).expr == 200 * B  # 399 nodes + 1: at the limit


def test_bracket_depth_limit_before_python_parser():
    src = "(" * 41 + "b" + ")" * 41
    with pytest.raises(LossSpecError, match="brackets nested deeper than 40") as info:
        parse(src)
    assert info.value.position == 40
    assert parse("(" * 30 + "b" + ")" * 30).expr == B


def test_ast_depth_limit():
    with pytest.raises(LossSpecError, match="nested deeper"):
        parse("-" * 60 + "b")
    assert parse("-" * 20 + "b").expr == B


def test_constant_folding_is_bounded():
    # every exponent <= 64, but the folded integer would have 64**3 * log2(64) bits
    with pytest.raises(LossSpecError, match="too large"):
        parse("((64 ** 64) ** 64) ** 64")
    with pytest.raises(LossSpecError, match="too large"):
        parse("(((0.3 ** 64) ** 64) ** 64) ** 64")  # denominators grow like 10^(64^k)


def test_vector_length_mismatch():
    y = vector_symbols("y", 2)
    with pytest.raises(LossSpecError, match="different lengths"):
        parse_expression("dot(x, y)", vectors={"x": X, "y": y})
    with pytest.raises(LossSpecError, match="different lengths"):
        parse_expression("sum(x + y)", vectors={"x": X, "y": y})


def test_bad_setup_arguments():
    with pytest.raises(InputError):
        vector_symbols("x", 0)
    with pytest.raises(InputError, match="both scalar and vector"):
        parse_expression("b", scalars=["x"], vectors={"x": X})
    with pytest.raises(InputError, match="not supported"):
        parse_expression("b", scalars=["b"], functions={"eval"})
