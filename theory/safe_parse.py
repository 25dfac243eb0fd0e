r"""Safe parser for user loss and claim expressions: Python syntax -> SymPy, by whitelist.

A user writes the per-sample loss $f(x; a, b)$ of Eq. (1) (or the right-hand side of a claim)
as a short Python-syntax string, e.g. ``softplus(-b*dot(a, x)) + lam/2*norm2(x)``. The string is
parsed with :func:`ast.parse` (``mode="eval"``) and translated *node by node* to SymPy. Nothing is
ever evaluated by Python: no ``eval``, no ``sympify``/``parse_expr`` on the raw string, no
attribute access, subscripts, lambdas, comprehensions, keywords or starred arguments. Every node
type, operator, function and name must be on a whitelist; anything else raises
:class:`LossSpecError` naming the offending token and its column.

Glossary: ``x`` the parameter vector $x \in \mathbb{R}^d$; ``a`` the features $a_i$; ``b``
the label $b_i$; vectors are represented by explicit real components ``x_1 .. x_d`` so that
$\nabla f$ and $\nabla^2 f$ are ordinary SymPy derivatives for a concrete $d$.

Vector semantics: ``+ - * /`` act elementwise on vectors of equal length and broadcast scalars;
``** c`` with a numeric exponent acts elementwise; the scalar functions act elementwise;
``dot(u, v)`` $= u^\top v$, ``norm2(u)`` $= u^\top u$ (the *squared* norm) and ``sum(u)``
reduce a vector to a scalar. The whole expression must be a scalar.

Limits (all in :class:`ParseLimits`): string length, AST node count, nesting depth, magnitude of
numeric literals, $|c|$ for numeric exponents, only printable ASCII (so no NFKC-changing
unicode, fullwidth letters or confusables, no NUL bytes).
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy

from theory.errors import InputError

__all__ = [
    "FUNCTIONS",
    "NONSMOOTH_FUNCTIONS",
    "LossSpecError",
    "ParseLimits",
    "ParsedExpression",
    "evaluate_float",
    "huber",
    "maximum",
    "minimum",
    "parse_expression",
    "sigmoid",
    "softplus",
    "vector_symbols",
]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class LossSpecError(InputError):
    r"""A loss or claim expression was rejected.

    Attributes (besides those of :class:`~theory.errors.InputError`):
        position: 0-based character offset in the source string of the offending token.
        token: the offending token or construct, as text.
    """

    def __init__(
        self,
        problem: str,
        fix: str,
        *,
        position: int,
        token: str,
        parameter: str = "expression",
    ) -> None:
        self.position = int(position)
        self.token = token
        super().__init__(parameter, token, f"{problem} (at column {self.position + 1})", fix)


# --------------------------------------------------------------------------------------------
# Smooth special functions with stable numerics
# --------------------------------------------------------------------------------------------


class sigmoid(sympy.Function):
    r"""Logistic function $\sigma(z) = 1/(1 + e^{-z})$, with $\sigma' = \sigma(1 - \sigma)$."""

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sympy.Rational(1, 2)
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sympy.exp(-z))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(sympy.Function):
    r"""$\mathrm{softplus}(z) = \log(1 + e^{z})$, with $\mathrm{softplus}' = \sigma$."""

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sympy.log(1 + sympy.exp(z))

    def _eval_rewrite_as_log(self, z, **kwargs):
        return sympy.log(1 + sympy.exp(z))

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


# --------------------------------------------------------------------------------------------
# Whitelists and limits
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Function:
    arity: int  # number of positional arguments; -1 never used
    kind: str  # "elementwise" (scalar function mapped over vectors) or "reduce"
    build: Callable[..., object]
    smooth: bool = True


class maximum(sympy.Function):
    r"""$\max(u, v)$, kept unevaluated (except for numbers).

    ``sympy.Max`` compares nested arguments pairwise (seconds for a few dozen nested maxima)
    and the identity $(u + v + |u - v|)/2$ doubles the expression at each nesting level; this
    function keeps the expression linear in the source. $\partial_u \max = H(u - v)$
    (Heaviside, $H(0) = 1/2$).
    """

    @classmethod
    def eval(cls, u, v):
        if u.is_number and v.is_number and u.is_extended_real and v.is_extended_real:
            return sympy.Max(u, v)
        return None

    def fdiff(self, argindex=1):
        u, v = self.args
        return sympy.Heaviside(u - v) if argindex == 1 else sympy.Heaviside(v - u)

    def _eval_rewrite_as_Max(self, u, v, **kwargs):
        return sympy.Max(u, v)

    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None


class minimum(sympy.Function):
    r"""$\min(u, v)$, kept unevaluated (except for numbers); see :class:`maximum`."""

    @classmethod
    def eval(cls, u, v):
        if u.is_number and v.is_number and u.is_extended_real and v.is_extended_real:
            return sympy.Min(u, v)
        return None

    def fdiff(self, argindex=1):
        u, v = self.args
        return sympy.Heaviside(v - u) if argindex == 1 else sympy.Heaviside(u - v)

    def _eval_rewrite_as_Min(self, u, v, **kwargs):
        return sympy.Min(u, v)

    def _eval_is_real(self):
        return all(a.is_real for a in self.args) or None


class huber(sympy.Function):
    r"""Huber function $h_c(z) = z^2/2$ for $|z| \le c$, $c(|z| - c/2)$ otherwise ($c > 0$).

    $C^1$ with $h_c'(z) = \operatorname{clip}(z, -c, c)$ and $h_c''(z) = \mathbf 1[|z| < c]
    \in [0, 1]$ almost everywhere: $h_c'$ is 1-Lipschitz, so $h_c$ is convex and 1-smooth
    although not $C^2$. Kept unevaluated; its derivatives are :class:`huber_d1` and
    :class:`huber_d2`. ``c`` must be a positive number (checked by the parser).
    """

    @classmethod
    def eval(cls, z, c):
        if z.is_number and c.is_number:
            az = abs(z)
            return z**2 / 2 if (az <= c) == sympy.true else c * (az - c / 2)
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return huber_d1(*self.args)

    def _eval_is_real(self):
        return self.args[0].is_real


class huber_d1(sympy.Function):
    r"""$h_c'(z) = \max(-c, \min(z, c))$, 1-Lipschitz."""

    @classmethod
    def eval(cls, z, c):
        if z.is_number and c.is_number:
            return sympy.Max(-c, sympy.Min(z, c))
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sympy.ArgumentIndexError(self, argindex)
        return huber_d2(*self.args)

    def _eval_is_real(self):
        return self.args[0].is_real


class huber_d2(sympy.Function):
    r"""$h_c''(z) = \mathbf 1[|z| < c]$ (taken as 1 at $|z| = c$, where $h_c''$ jumps); its
    range is $[0, 1]$, which is what the certified $L$ and $\mu$ of a GLM use."""

    @classmethod
    def eval(cls, z, c):
        if z.is_number and c.is_number:
            return sympy.Integer(1) if (abs(z) <= c) == sympy.true else sympy.Integer(0)
        return None

    def fdiff(self, argindex=1):
        return sympy.Integer(0)

    def _eval_is_real(self):
        return True


FUNCTIONS: dict[str, _Function] = {
    "exp": _Function(1, "elementwise", sympy.exp),
    "log": _Function(1, "elementwise", sympy.log),
    "log1p": _Function(1, "elementwise", lambda z: sympy.log(1 + z)),
    "sqrt": _Function(1, "elementwise", sympy.sqrt),
    "tanh": _Function(1, "elementwise", sympy.tanh),
    "sin": _Function(1, "elementwise", sympy.sin),
    "cos": _Function(1, "elementwise", sympy.cos),
    "sigmoid": _Function(1, "elementwise", sigmoid),
    "softplus": _Function(1, "elementwise", softplus),
    "abs": _Function(1, "elementwise", sympy.Abs, smooth=False),
    "maximum": _Function(2, "elementwise", maximum, smooth=False),
    "minimum": _Function(2, "elementwise", minimum, smooth=False),
    "huber": _Function(2, "elementwise", huber),
    "dot": _Function(2, "reduce", None),  # type: ignore[arg-type]
    "norm2": _Function(1, "reduce", None),  # type: ignore[arg-type]
    "sum": _Function(1, "reduce", None),  # type: ignore[arg-type]
}
r"""Whitelisted functions: name -> arity, kind, SymPy builder, smoothness."""

NONSMOOTH_FUNCTIONS: frozenset[str] = frozenset(k for k, v in FUNCTIONS.items() if not v.smooth)

_BINOPS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}
_UNARYOPS: dict[type, str] = {ast.USub: "-", ast.UAdd: "+"}


@dataclass(frozen=True)
class ParseLimits:
    r"""Resource limits of :func:`parse_expression`.

    Attributes:
        max_length: maximum number of characters of the source.
        max_nodes: maximum number of AST nodes.
        max_depth: maximum nesting depth (AST depth and bracket depth).
        max_abs_literal: maximum $|c|$ of a numeric literal.
        max_abs_exponent: maximum $|c|$ of a numeric exponent in ``base ** c``.
        max_integer_bits: maximum bit length of an integer produced by constant folding.
    """

    max_length: int = 2000
    max_nodes: int = 400
    max_depth: int = 40
    max_abs_literal: float = 1e15
    max_abs_exponent: float = 64
    max_integer_bits: int = 4096


@dataclass(frozen=True)
class ParsedExpression:
    r"""The result of :func:`parse_expression`.

    Attributes:
        source: the string that was parsed.
        expr: the scalar SymPy expression (vectors expanded to components).
        names: the allowed names that occur in the source.
        functions: the whitelisted functions that occur in the source.
        nonsmooth: the non-smooth functions used (``abs``, ``maximum``, ``minimum``).
    """

    source: str
    expr: sympy.Expr
    names: frozenset[str] = field(default_factory=frozenset)
    functions: frozenset[str] = field(default_factory=frozenset)
    nonsmooth: frozenset[str] = field(default_factory=frozenset)

    @property
    def smooth(self) -> bool:
        r"""True when no non-smooth function is used (the loss is then $C^\infty$ where defined)."""
        return not self.nonsmooth


def vector_symbols(name: str, d: int) -> tuple[sympy.Symbol, ...]:
    r"""Real SymPy symbols ``name_1 .. name_d`` for the components of a $d$-vector."""
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise InputError("d", d, "the dimension must be an integer >= 1", "pass d >= 1")
    return tuple(sympy.Symbol(f"{name}_{j}", real=True) for j in range(1, d + 1))


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


class _Vec(tuple):
    r"""A vector value during translation: a tuple of scalar SymPy expressions."""


def parse_expression(
    source: str,
    *,
    scalars: Mapping[str, sympy.Expr] | Iterable[str] = (),
    vectors: Mapping[str, Sequence[sympy.Expr]] | None = None,
    functions: Iterable[str] | None = None,
    limits: ParseLimits | None = None,
    parameter: str = "expression",
) -> ParsedExpression:
    r"""Parse ``source`` into a scalar SymPy expression, by whitelist only.

    Arguments:
        source: the expression, Python syntax, printable ASCII only.
        scalars: allowed scalar names, either a mapping name -> SymPy symbol/expression or an
            iterable of names (each becomes a real ``sympy.Symbol``).
        vectors: allowed vector names -> their components (see :func:`vector_symbols`).
        functions: the allowed subset of :data:`FUNCTIONS` (default: all).
        limits: resource limits (default :class:`ParseLimits()`).
        parameter: the field name used in error messages, e.g. ``"loss.expression"``.

    Returns:
        A :class:`ParsedExpression`.

    Raises:
        LossSpecError: for anything not on the whitelist, over a limit, not a scalar, or
            numerically undefined (e.g. ``1/0``); the message names the token and its column.
    """
    lim = limits or ParseLimits()
    if isinstance(scalars, Mapping):
        scalar_map = {str(k): sympy.sympify(v) for k, v in scalars.items()}
    else:
        scalar_map = {str(k): sympy.Symbol(str(k), real=True) for k in scalars}
    vector_map = {str(k): _Vec(v) for k, v in (vectors or {}).items()}
    clash = set(scalar_map) & set(vector_map)
    if clash:
        raise InputError("vectors", sorted(clash), "names are both scalar and vector", "rename")
    allowed_functions = set(FUNCTIONS) if functions is None else set(functions)
    unknown = allowed_functions - set(FUNCTIONS)
    if unknown:
        raise InputError("functions", sorted(unknown), "not supported", f"use {sorted(FUNCTIONS)}")

    _precheck(source, lim, parameter)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        pos = (
            max(0, (exc.offset or 1) - 1) if exc.lineno in (None, 1) else _line_offset(source, exc)
        )
        raise LossSpecError(
            f"syntax error: {exc.msg}",
            "write a single Python-syntax arithmetic expression",
            position=min(pos, max(len(source) - 1, 0)),
            token=source[pos : pos + 10] if source else "",
            parameter=parameter,
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:  # pragma: no cover - guarded above
        raise LossSpecError(
            f"cannot be parsed ({type(exc).__name__})",
            "simplify the expression",
            position=0,
            token=source[:10],
            parameter=parameter,
        ) from None

    translator = _Translator(source, scalar_map, vector_map, allowed_functions, lim, parameter)
    value = translator.visit(tree, 0)
    if isinstance(value, _Vec):
        raise LossSpecError(
            "the expression is a vector, a scalar is required",
            "reduce it with sum(...), dot(..., ...) or norm2(...)",
            position=0,
            token=source[:20],
            parameter=parameter,
        )
    return ParsedExpression(
        source=source,
        expr=value,
        names=frozenset(translator.names),
        functions=frozenset(translator.functions),
        nonsmooth=frozenset(translator.functions & NONSMOOTH_FUNCTIONS),
    )


def _line_offset(source: str, exc: SyntaxError) -> int:
    lines = source.split("\n")
    line = (exc.lineno or 1) - 1
    return sum(len(s) + 1 for s in lines[:line]) + max(0, (exc.offset or 1) - 1)


def _precheck(source: object, lim: ParseLimits, parameter: str) -> None:
    r"""Checks on the raw string, before Python's parser sees it."""
    if not isinstance(source, str):
        raise LossSpecError(
            f"must be a string, got {type(source).__name__}",
            "quote the expression",
            position=0,
            token=repr(source)[:20],
            parameter=parameter,
        )
    if not source.strip():
        raise LossSpecError(
            "the expression is empty",
            "write an expression",
            position=0,
            token="",
            parameter=parameter,
        )
    if len(source) > lim.max_length:
        raise LossSpecError(
            f"longer than {lim.max_length} characters ({len(source)})",
            "shorten the expression (use named constants)",
            position=lim.max_length,
            token=source[lim.max_length : lim.max_length + 10],
            parameter=parameter,
        )
    for i, ch in enumerate(source):
        if not (" " <= ch <= "~" or ch in "\t\n"):
            raise LossSpecError(
                f"character {ch!r} (U+{ord(ch):04X}) is not printable ASCII",
                "use plain ASCII letters, digits and operators (no unicode look-alikes)",
                position=i,
                token=ch,
                parameter=parameter,
            )
    depth = 0
    for i, ch in enumerate(source):
        if ch in "([{":
            depth += 1
            if depth > lim.max_depth:
                raise LossSpecError(
                    f"brackets nested deeper than {lim.max_depth}",
                    "flatten the expression",
                    position=i,
                    token=ch,
                    parameter=parameter,
                )
        elif ch in ")]}":
            depth -= 1


class _Translator:
    r"""Walks the AST; each visit returns a SymPy scalar or a :class:`_Vec`."""

    def __init__(
        self,
        source: str,
        scalars: dict[str, sympy.Expr],
        vectors: dict[str, _Vec],
        functions: set[str],
        lim: ParseLimits,
        parameter: str,
    ) -> None:
        self.source = source
        self.scalars = scalars
        self.vectors = vectors
        self.allowed_functions = functions
        self.lim = lim
        self.parameter = parameter
        self.nodes = 0
        self.names: set[str] = set()
        self.functions: set[str] = set()

    # -- errors ---------------------------------------------------------------------------
    def _pos(self, node: ast.AST) -> int:
        col = getattr(node, "col_offset", 0) or 0
        line = getattr(node, "lineno", 1) or 1
        if line > 1:
            col += sum(len(s) + 1 for s in self.source.split("\n")[: line - 1])
        return col

    def _token(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.source, node)
        if seg is None:
            seg = type(node).__name__
        return seg if len(seg) <= 40 else seg[:37] + "..."

    def error(self, node: ast.AST, problem: str, fix: str) -> LossSpecError:
        return LossSpecError(
            problem,
            fix,
            position=self._pos(node),
            token=self._token(node),
            parameter=self.parameter,
        )

    # -- dispatch -------------------------------------------------------------------------
    def visit(self, node: ast.AST, depth: int):
        self.nodes += 1
        if self.nodes > self.lim.max_nodes:
            raise self.error(
                node, f"more than {self.lim.max_nodes} syntax nodes", "shorten the expression"
            )
        if depth > self.lim.max_depth:
            raise self.error(
                node, f"nested deeper than {self.lim.max_depth}", "flatten the expression"
            )
        if isinstance(node, ast.Expression):
            return self.visit(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise self.error(
            node,
            f"{_describe(node)} is not allowed",
            "use only numbers, allowed names, + - * / **, and the functions "
            + ", ".join(sorted(self.allowed_functions)),
        )

    # -- leaves ---------------------------------------------------------------------------
    def _constant(self, node: ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(
                node,
                f"literal of type {type(v).__name__} is not allowed",
                "use int or float numbers only",
            )
        if isinstance(v, float) and not (abs(v) <= self.lim.max_abs_literal):
            raise self.error(
                node,
                f"number {v!r} is not finite or exceeds {self.lim.max_abs_literal:g}",
                "rescale",
            )
        if isinstance(v, int) and (v.bit_length() > 64 or abs(v) > self.lim.max_abs_literal):
            raise self.error(node, f"integer exceeds {self.lim.max_abs_literal:g}", "rescale")
        if isinstance(v, int):
            return sympy.Integer(v)
        # exact decimal meaning of the literal (STYLE: exact rationals in symbolic code)
        return sympy.Rational(repr(v))

    def _name(self, node: ast.Name):
        if not isinstance(node.ctx, ast.Load):  # pragma: no cover - eval mode only loads
            raise self.error(node, "assignment is not allowed", "write an expression")
        name = node.id
        if name in self.scalars:
            self.names.add(name)
            return self.scalars[name]
        if name in self.vectors:
            self.names.add(name)
            return self.vectors[name]
        if name in self.allowed_functions:
            raise self.error(node, f"function {name!r} used as a value", f"call it: {name}(...)")
        known = sorted(set(self.scalars) | set(self.vectors))
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise self.error(
            node,
            f"unknown name {name!r}",
            f"{hint}allowed names: {', '.join(known) or '(none)'}; "
            "declare constants in the spec's [loss.constants]",
        )

    # -- operators ------------------------------------------------------------------------
    def _unary(self, node: ast.UnaryOp, depth: int):
        op = _UNARYOPS.get(type(node.op))
        if op is None:
            raise self.error(node, f"operator {_op_text(node.op)} is not allowed", "use + or -")
        v = self.visit(node.operand, depth + 1)
        if op == "+":
            return v
        return _Vec(-e for e in v) if isinstance(v, _Vec) else -v

    def _binop(self, node: ast.BinOp, depth: int):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.error(
                node, f"operator {_op_text(node.op)} is not allowed", "use only + - * / **"
            )
        left = self.visit(node.left, depth + 1)
        right = self.visit(node.right, depth + 1)
        if op == "**":
            if isinstance(right, _Vec):
                raise self.error(node.right, "a vector exponent is not allowed", "use a scalar")
            if right.is_number:
                c = right
                if not c.is_real or abs(float(c)) > self.lim.max_abs_exponent:
                    raise self.error(
                        node.right,
                        f"exponent must be real with |exponent| <= {self.lim.max_abs_exponent:g}",
                        "use a smaller exponent",
                    )
                if isinstance(left, sympy.Expr) and left.is_Rational:
                    bits = _rational_bits(left) * abs(float(c))
                    if bits > self.lim.max_integer_bits:
                        raise self.error(
                            node, "the constant power is too large", "use a smaller power"
                        )
            elif isinstance(left, _Vec):
                raise self.error(
                    node.right, "a vector power needs a numeric exponent", "use a number"
                )
        self._fold_guard(node, op, left, right)
        return self._check(node, _apply2(op, left, right, lambda: self._len_error(node)))

    def _fold_guard(self, node: ast.AST, op: str, *args) -> None:
        r"""Refuse an operation on numbers whose result is not a finite real float64 *before*
        SymPy folds it: SymPy's automatic evaluation of e.g. ``exp(exp(10**15))`` or
        ``sigmoid(exp(1e10))`` runs unbounded arbitrary-precision arithmetic (minutes, GBs).
        Each operand is a number already accepted at its own node, so its float value is
        finite; the result is computed in float64 (:func:`_float_value`)."""
        items = [a for a in args if isinstance(a, _Vec)]
        if len({len(v) for v in items}) > 1:
            return  # a length mismatch: reported by the operation itself
        n = len(items[0]) if items else 1
        for k in range(n):
            vals = [a[k] if isinstance(a, _Vec) else a for a in args]
            if not all(isinstance(v, sympy.Basic) and v.is_number for v in vals):
                continue
            try:
                fv = [_float_value(v) for v in vals]
                out = _FLOAT_OPS[op](*fv)
            except _NotFloat as exc:
                raise self.error(
                    node,
                    f"the constant is {exc.args[0]}",
                    "keep constants finite and real: |value| < 1e300, no division by zero, "
                    "log/sqrt of positive numbers, exp of arguments below 690",
                ) from None
            if not (isinstance(out, float) and math.isfinite(out) and abs(out) < 1e300):
                raise self.error(
                    node,
                    "the constant is not a finite real number of magnitude < 1e300",
                    "rescale: constants (and exp of constants) must stay below 1e300",
                )

    def _len_error(self, node: ast.AST) -> LossSpecError:
        return self.error(node, "vectors of different lengths", "combine vectors of equal length")

    def _check(self, node: ast.AST, value):
        items = value if isinstance(value, _Vec) else (value,)
        for e in items:
            if e.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
                raise self.error(
                    node, "the expression is undefined (division by zero?)", "fix the constant"
                )
            if e.is_number and e.is_extended_real is False:
                raise self.error(
                    node, f"the constant {e} is not real", "keep log/sqrt arguments positive"
                )
            if e.is_Rational and _rational_bits(e) > self.lim.max_integer_bits:
                raise self.error(node, "a constant is too large", "rescale")
        return value

    # -- calls ----------------------------------------------------------------------------
    def _call(self, node: ast.Call, depth: int):
        if not isinstance(node.func, ast.Name):
            raise self.error(
                node.func,
                f"call of {_describe(node.func)} is not allowed",
                "call a whitelisted function by its plain name, e.g. exp(z)",
            )
        name = node.func.id
        if name not in self.allowed_functions:
            close = difflib.get_close_matches(name, sorted(self.allowed_functions), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.error(
                node.func,
                f"function {name!r} is not allowed",
                f"{hint}allowed: {', '.join(sorted(self.allowed_functions))}",
            )
        if node.keywords:
            raise self.error(
                node.keywords[0], "keyword arguments are not allowed", "pass args by position"
            )
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(arg, "starred arguments are not allowed", "pass args explicitly")
        spec = FUNCTIONS[name]
        if len(node.args) != spec.arity:
            raise self.error(
                node,
                f"{name}() takes {spec.arity} argument(s), got {len(node.args)}",
                f"call {name} with {spec.arity} argument(s)",
            )
        self.functions.add(name)
        args = [self.visit(a, depth + 1) for a in node.args]
        if spec.kind == "reduce":
            return self._check(node, self._reduce(node, name, args))
        if name == "huber":
            c = args[1]
            if isinstance(c, _Vec) or not c.is_number or not (_float_value(c) or 0.0) > 0:
                raise self.error(
                    node.args[1],
                    "the Huber threshold c must be a positive number",
                    "write huber(z, c) with a number c > 0 (or a named constant)",
                )
        self._fold_guard(node, name, *args)
        if spec.arity == 1:
            (u,) = args
            if isinstance(u, _Vec):
                return self._check(node, _Vec(spec.build(e) for e in u))
            return self._check(node, spec.build(u))
        u, v = args
        return self._check(node, _broadcast(u, v, spec.build, lambda: self._len_error(node)))

    def _reduce(self, node: ast.Call, name: str, args: list):
        if name == "sum":
            (u,) = args
            return sympy.Add(*u) if isinstance(u, _Vec) else u
        if name == "norm2":
            (u,) = args
            if not isinstance(u, _Vec):
                raise self.error(node, "norm2() needs a vector", "use z**2 for a scalar z")
            return sympy.Add(*(e * e for e in u))
        u, v = args
        if not (isinstance(u, _Vec) and isinstance(v, _Vec)):
            raise self.error(node, "dot() needs two vectors", "use * for scalars")
        if len(u) != len(v):
            raise self._len_error(node)
        return sympy.Add(*(p * q for p, q in zip(u, v)))


class _NotFloat(ArithmeticError):
    """A constant has no finite real float64 value (the message says why)."""


def _fsafe(f: Callable[..., float]) -> Callable[..., float]:
    def g(*xs: float) -> float:
        try:
            out = f(*xs)
        except OverflowError:
            raise _NotFloat("too large (overflow)") from None
        except ZeroDivisionError:
            raise _NotFloat("undefined (division by zero)") from None
        except ValueError:
            raise _NotFloat("undefined or not real (log/sqrt of a negative number?)") from None
        if isinstance(out, complex):
            raise _NotFloat("not real (a fractional power of a negative number?)")
        out = float(out)
        if not math.isfinite(out) or abs(out) >= 1e300:
            raise _NotFloat("too large (overflow)" if not math.isnan(out) else "undefined")
        return out

    return g


def _pow(p: float, q: float) -> float:
    if p < 0 and q != int(q):
        raise ValueError("fractional power of a negative number")
    return math.pow(p, q)


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _sigmoid(z: float) -> float:
    return 0.5 + 0.5 * math.tanh(0.5 * z)


def _huber(z: float, c: float) -> float:
    return 0.5 * z * z if abs(z) <= c else c * (abs(z) - 0.5 * c)


_FLOAT_OPS: dict[str, Callable[..., float]] = {
    k: _fsafe(f)
    for k, f in {
        "+": lambda p, q: p + q,
        "-": lambda p, q: p - q,
        "*": lambda p, q: p * q,
        "/": lambda p, q: p / q,
        "**": _pow,
        "exp": math.exp,
        "log": math.log,
        "log1p": math.log1p,
        "sqrt": math.sqrt,
        "tanh": math.tanh,
        "sin": math.sin,
        "cos": math.cos,
        "sigmoid": _sigmoid,
        "softplus": _softplus,
        "abs": abs,
        "maximum": max,
        "minimum": min,
        "huber": _huber,
    }.items()
}

_FLOAT_FUNCS: dict[type, str] = {}


def evaluate_float(expr: sympy.Basic, values: Mapping[str, float] | None = None) -> float:
    r"""The float64 value of a parsed expression with its symbols set to ``values`` (by name),
    without SymPy's evalf (whose arbitrary precision is unbounded on e.g. ``exp(exp(t))``).

    Returns NaN when the value is not a finite real number of magnitude $< 10^{300}$ there
    (overflow, division by zero, log of a negative number, an unknown symbol). Cost: linear
    in the size of ``expr``."""
    try:
        return _float_value(expr, values or {})
    except (_NotFloat, RecursionError):
        return math.nan


def _float_value(e: sympy.Basic, env: Mapping[str, float] | None = None) -> float:
    r"""The float64 value of a SymPy number built by the parser, without SymPy's evalf.

    Raises :class:`_NotFloat` when it is not a finite real of magnitude $< 10^{300}$. Cost:
    linear in the size of ``e`` (no arbitrary precision)."""
    if e.is_Symbol:
        if env is None or e.name not in env:
            raise _NotFloat(f"has no value for {e.name}")
        return _FLOAT_OPS["+"](float(env[e.name]), 0.0)
    if not _FLOAT_FUNCS:
        _FLOAT_FUNCS.update(
            {
                sympy.exp: "exp",
                sympy.log: "log",
                sympy.tanh: "tanh",
                sympy.sin: "sin",
                sympy.cos: "cos",
                sigmoid: "sigmoid",
                softplus: "softplus",
                sympy.Abs: "abs",
                maximum: "maximum",
                minimum: "minimum",
                sympy.Max: "maximum",
                sympy.Min: "minimum",
                huber: "huber",
            }
        )
    if e.is_Rational:
        try:
            return _FLOAT_OPS["/"](int(e.p), int(e.q))
        except _NotFloat:
            raise
    if e.is_Float:
        return _FLOAT_OPS["+"](float(e), 0.0)
    if e is sympy.pi:
        return math.pi
    if e is sympy.E:
        return math.e
    if e.is_Add:
        out = 0.0
        for a in e.args:
            out = _FLOAT_OPS["+"](out, _float_value(a, env))
        return out
    if e.is_Mul:
        out = 1.0
        for a in e.args:
            out = _FLOAT_OPS["*"](out, _float_value(a, env))
        return out
    if e.is_Pow:
        return _FLOAT_OPS["**"](_float_value(e.args[0], env), _float_value(e.args[1], env))
    name = _FLOAT_FUNCS.get(e.func)
    if name is None:
        raise _NotFloat(f"not a real number ({type(e).__name__})")
    return _FLOAT_OPS[name](*[_float_value(a, env) for a in e.args])


def _rational_bits(r: sympy.Rational) -> int:
    """Bit length of the larger of numerator and denominator."""
    return max(int(abs(r.p)).bit_length(), int(r.q).bit_length())


def _broadcast(u, v, f, on_mismatch):
    if isinstance(u, _Vec) and isinstance(v, _Vec):
        if len(u) != len(v):
            raise on_mismatch()
        return _Vec(f(p, q) for p, q in zip(u, v))
    if isinstance(u, _Vec):
        return _Vec(f(p, v) for p in u)
    if isinstance(v, _Vec):
        return _Vec(f(u, q) for q in v)
    return f(u, v)


_OPS2: dict[str, Callable] = {
    "+": lambda p, q: p + q,
    "-": lambda p, q: p - q,
    "*": lambda p, q: p * q,
    "/": lambda p, q: p / q,
    "**": lambda p, q: p**q,
}


def _apply2(op: str, u, v, on_mismatch):
    return _broadcast(u, v, _OPS2[op], on_mismatch)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Attribute: "attribute access",
        ast.Subscript: "subscript",
        ast.Lambda: "lambda",
        ast.ListComp: "list comprehension",
        ast.SetComp: "set comprehension",
        ast.DictComp: "dict comprehension",
        ast.GeneratorExp: "generator expression",
        ast.JoinedStr: "f-string",
        ast.Compare: "comparison",
        ast.BoolOp: "boolean operator",
        ast.IfExp: "conditional expression",
        ast.NamedExpr: "assignment expression (:=)",
        ast.Tuple: "tuple",
        ast.List: "list",
        ast.Dict: "dict",
        ast.Set: "set",
        ast.Starred: "starred expression",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield from",
        ast.Slice: "slice",
    }
    return names.get(type(node), f"construct {type(node).__name__}")


def _op_text(op: ast.AST) -> str:
    table = {
        ast.Mod: "%",
        ast.FloorDiv: "//",
        ast.MatMult: "@",
        ast.BitAnd: "&",
        ast.BitOr: "|",
        ast.BitXor: "^",
        ast.LShift: "<<",
        ast.RShift: ">>",
        ast.Invert: "~",
        ast.Not: "not",
    }
    return table.get(type(op), type(op).__name__)
