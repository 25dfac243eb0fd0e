"""Property-based tests of theory.safe_parse: arbitrary and adversarial input never executes
code, never hangs, and always ends in a scalar SymPy expression or a LossSpecError with a
position inside the string.

References: (1) random expression trees are rendered to text *and* built directly in SymPy;
the parser's translation must equal the direct construction. (2) Payloads that would write a
file if evaluated must leave no file. (3) An audit hook records code execution (`exec`,
`os.system`, `subprocess.Popen`, `open` for writing) while the parser runs.

CI budget: about 15 s in total (settings below).
"""

from __future__ import annotations

import string
import sys
from pathlib import Path

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory.safe_parse import LossSpecError, ParsedExpression, parse_expression, vector_symbols

D = 2
X = vector_symbols("x", D)
A = vector_symbols("a", D)
NAMES = {"b": sympy.Symbol("b", real=True), "lam": sympy.Symbol("lam", real=True)}

FAST = settings(
    max_examples=1500,
    deadline=2000,  # ms per example: a hang or an exponential blow-up fails the test
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def run(src: str):
    return parse_expression(src, scalars=NAMES, vectors={"x": X, "a": A})


def assert_safe_outcome(src: str) -> None:
    try:
        out = run(src)
    except LossSpecError as err:
        assert isinstance(err.position, int)
        assert 0 <= err.position <= max(len(src), 0), (src, err.position)
        assert "Fix:" in str(err)
    else:
        assert isinstance(out, ParsedExpression)
        assert isinstance(out.expr, sympy.Expr)


# ------------------------------------------------------------------ audit hook
_EVENTS: list[tuple[str, tuple]] = []
_RECORDING = [False]
_WATCHED = ("exec", "os.system", "os.exec", "os.posix_spawn", "subprocess.Popen", "os.remove")


def _hook(event: str, args: tuple) -> None:
    if not _RECORDING[0]:
        return
    if event == "exec":
        # Lazy imports inside SymPy execute module code objects read from installed files;
        # code compiled from a string (what an eval of the user's text would run) has a
        # pseudo file name such as "<string>".
        code = args[0] if args else None
        filename = getattr(code, "co_filename", "<unknown>")
        if not (code is not None and code.co_name == "<module>" and Path(filename).is_file()):
            _EVENTS.append((event, args))
    elif event.startswith(_WATCHED):
        _EVENTS.append((event, args))
    elif event == "open" and len(args) > 1 and isinstance(args[1], str) and "w" in args[1]:
        _EVENTS.append((event, args))


sys.addaudithook(_hook)  # cannot be removed; inert unless _RECORDING is set


class _Recording:
    def __enter__(self):
        _EVENTS.clear()
        _RECORDING[0] = True
        return _EVENTS

    def __exit__(self, *exc):
        _RECORDING[0] = False
        return False


# ------------------------------------------------------------------ strategies
ALPHABET = string.printable + "ｘａ＿ℓ\u200b\u00a0é\x00\x7f𝑥"
FRAGMENTS = [
    "__import__('os')",
    "().__class__.__bases__[0].__subclasses__()",
    "exp.__globals__",
    "lambda: 0",
    "[c for c in ()]",
    "f'{b}'",
    "9**9**9",
    "b**99",
    "x[0]",
    "open('/tmp/pwned', 'w')",
    "eval('1')",
    "b if b else b",
    "(b := 1)",
    "*x",
    "exp(b=1)",
    "1j",
    "'s'",
    "None",
    "...",
    "\x00",
    "ｘ",
    "1e999",
    "10**20",
    "dot(x, a)",
    "norm2(x)",
    "sum(x)",
    "maximum(0, b)",
    "softplus(-b)",
    "lam",
    "b",
    "x",
    "(",
    ")",
    ",",
    "**",
    "-",
    "/0",
]


@FAST
@given(st.text(alphabet=ALPHABET, max_size=200))
def test_random_text_is_safe(src):
    assert_safe_outcome(src)


@FAST
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8), st.sampled_from("+-*/ ,"))
def test_adversarial_fragment_mixtures_are_safe(parts, sep):
    src = sep.join(parts)
    with _Recording() as events:
        assert_safe_outcome(src)
    assert events == [], (src, events)


@settings(max_examples=60, deadline=5000, derandomize=True)
@given(
    st.integers(min_value=1, max_value=5000), st.sampled_from(["(", "-", "exp(", "+", "[", "not "])
)
def test_deep_nesting_never_hangs_or_crashes(depth, opener):
    closer = {"(": ")", "exp(": ")", "[": "]"}.get(opener, "")
    src = opener * depth + "b" + closer * depth
    assert_safe_outcome(src)


@settings(max_examples=20, deadline=5000, derandomize=True)
@given(st.integers(min_value=2001, max_value=200_000))
def test_very_long_strings_rejected_quickly(n):
    with pytest.raises(LossSpecError, match="longer than 2000"):
        run("b" * n)


# ------------------------------------------------------------------ grammar round trip
_LEAVES = st.one_of(
    st.sampled_from(["b", "lam"]).map(lambda s: (s, NAMES[s])),
    st.integers(min_value=0, max_value=50).map(lambda v: (str(v), sympy.Integer(v))),
    st.sampled_from(["0.25", "1.5", "2.0"]).map(lambda s: (s, sympy.Rational(s))),
    st.just(("dot(a, x)", sum(p * q for p, q in zip(A, X)))),
    st.just(("norm2(x)", sum(p * p for p in X))),
)


def _extend(children):
    binop = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
        lambda t: (
            f"({t[0][0]} {t[1]} {t[2][0]})",
            {"+": t[0][1] + t[2][1], "-": t[0][1] - t[2][1], "*": t[0][1] * t[2][1]}[t[1]],
        )
    )
    power = st.tuples(children, st.integers(min_value=0, max_value=3)).map(
        lambda t: (f"({t[0][0]})**{t[1]}", t[0][1] ** t[1])
    )
    funcs = st.tuples(st.sampled_from(["exp", "tanh", "sigmoid", "softplus", "abs"]), children)

    def call(t):
        from theory.safe_parse import FUNCTIONS

        name, (text, expr) = t
        return f"{name}({text})", FUNCTIONS[name].build(expr)

    neg = children.map(lambda c: (f"-({c[0]})", -c[1]))
    return st.one_of(binop, power, funcs.map(call), neg)


EXPRESSIONS = st.recursive(_LEAVES, _extend, max_leaves=12)


@settings(max_examples=300, deadline=3000, derandomize=True)
@given(EXPRESSIONS)
def test_translation_equals_direct_sympy_construction(pair):
    text, expected = pair
    got = run(text).expr
    assert sympy.expand(got - expected) == 0, (text, got, expected)


# ------------------------------------------------------------------ payloads leave no file
PAYLOADS = [
    "open('{p}', 'w').write('x')",
    "__import__('pathlib').Path('{p}').touch()",
    "__import__('os').system('touch {p}')",
    "[open('{p}', 'w') for _ in (1,)]",
    "(lambda: open('{p}', 'w'))()",
    "exp.__globals__['__builtins__']['open']('{p}', 'w')",
    "().__class__.__base__.__subclasses__()",
    "eval(\"open('{p}', 'w')\")",
    "b if open('{p}', 'w') else b",
    "f\"{{open('{p}', 'w')}}\"",
    "sum(open('{p}', 'w') for _ in x)",
    "exp(*[open('{p}', 'w')])",
    "exp(b=open('{p}', 'w'))",
]


@pytest.mark.parametrize("template", PAYLOADS)
def test_file_writing_payloads_leave_no_file(template, tmp_path: Path):
    target = tmp_path / "pwned"
    src = template.format(p=target)
    with _Recording() as events, pytest.raises(LossSpecError) as info:
        run(src)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    assert events == [], events
    assert 0 <= info.value.position < len(src)


def test_audit_hook_is_live():
    # guards the guard: the hook must see an exec when one really happens
    with _Recording() as events:
        exec("1")  # deliberate, to prove the hook records
    assert any(e[0] == "exec" for e in events)
