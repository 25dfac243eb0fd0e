r"""A user-supplied per-sample loss: derivatives, structure, certified constants, $x^*$, $\Sigma$.

The user writes the per-sample loss $f_i(x) = \ell(x; a_i, b_i)$ of Eq. (1) as a string (see
:mod:`theory.safe_parse`). This module derives, for a concrete dimension $d$ and data
$(A, y)$ with rows $a_i^\top$ and labels $b_i$ (SPEC §1: $F = \frac1n\sum_i f_i$):

* $\nabla f$ and $\nabla^2 f$ symbolically, evaluated vectorised (``sympy.lambdify`` to NumPy)
  over any batch shape, e.g. $P$ paths $\times$ $b$ samples;
* generalised-linear structure $f = \varphi(a^\top x, b) + \frac{c}{2}\lVert x\rVert^2$ when it
  holds, verified symbolically; then the constants of Thms 4.1/4.2 are *certified*:
  $\nabla^2 F(x) = \frac1n\sum_i \varphi''(a_i^\top x, b_i) a_i a_i^\top + cI$, so with
  $s = \sup\varphi''$, $\iota = \inf\varphi''$ (bounded rigorously with ``mpmath.iv`` interval
  arithmetic, branch and bound) and $\lambda_{\min}, \lambda_{\max}$ of $\tilde A = A^\top A/n$:
  $L \le \max(|s\,\lambda_{s}|, |\iota\,\lambda_{\iota}|) + c$ and
  $\mu \ge \iota\,\lambda_{\iota} + c$ (where $\lambda_{s}=\lambda_{\max}$ if $s \ge 0$ else
  $\lambda_{\min}$, and $\lambda_{\iota}=\lambda_{\min}$ if $\iota\ge0$ else $\lambda_{\max}$),
  over $\mathbb{R}^d$ and over the ball $B(x^*, D)$ of Thm 4.2;
* otherwise $L$ and $\mu$ are *estimates*: extreme Hessian eigenvalues at sample points of the ball;
* convexity (certified for GLMs with $\inf\varphi'' \ge 0$; a negative Hessian eigenvalue at a
  point is a certificate of non-convexity), smoothness (no ``abs``/``maximum``/``minimum``);
* $x^*$ by damped Newton with the certificate $\lVert\nabla F(\hat x)\rVert$ and, when $\mu > 0$ is
  certified on $\mathbb{R}^d$, $\lVert\hat x - x^*\rVert \le \lVert\nabla F(\hat x)\rVert/\mu$;
* $\Sigma(x^*)$, the covariance of one sample's gradient under uniform $i$ (SPEC §1), and
  $\tilde A = \nabla^2 F(x^*)$.

Glossary: ``x_star`` $x^*$, ``Sigma`` $\Sigma$, ``A_tilde`` $\tilde A$, ``L``, ``mu``, ``D``
(radius of the ball in Thm 4.2), ``lam``/``c`` ridge weight, ``phi`` $\varphi$.

Layering note: this module uses SymPy, mpmath and (for the vectorised evaluation the brief
requires) NumPy; it does not import ``numerics`` or ``verify``.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy
from mpmath import iv

from theory.errors import InputError
from theory.safe_parse import (
    LossSpecError,
    ParsedExpression,
    huber,
    huber_d1,
    huber_d2,
    parse_expression,
    sigmoid,
    softplus,
    vector_symbols,
)
from theory.work_limit import WorkLimitExceeded, expansion_terms, time_limit

__all__ = [
    "Constant",
    "Convexity",
    "GLMStructure",
    "LossAnalysis",
    "UserLoss",
    "analyse_loss",
    "bound_on_interval",
    "glm_phi",
    "minimise",
    "mp_grad_norm",
]

RESERVED = ("x", "a", "b")
r"""Names the loss expression may use besides the constants: parameter, features, label."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant:
    r"""A derived constant with its provenance.

    Attributes:
        value: the number (``math.inf`` when no finite bound exists).
        kind: ``"certified"`` (a rigorous bound: upper for $L$, lower for $\mu$), ``"estimate"``
            (sampled; not a bound) or ``"unavailable"``.
        detail: how it was obtained.
    """

    value: float
    kind: str
    detail: str


@dataclass(frozen=True)
class Convexity:
    r"""Convexity of $F$: ``status`` is ``"certified-convex"``, ``"certified-nonconvex"``
    (a point with a negative Hessian eigenvalue is given), ``"convex-at-samples"`` (no negative
    eigenvalue found; not a proof) or ``"unknown"`` (non-smooth losses without GLM structure)."""

    status: str
    detail: str
    witness: tuple[float, ...] | None = None

    @property
    def convex(self) -> bool | None:
        r"""True / False when certified, None otherwise."""
        return {"certified-convex": True, "certified-nonconvex": False}.get(self.status)


@dataclass(frozen=True)
class GLMStructure:
    r"""$f(x; a, b) = \varphi(a^\top x, b) + \frac{c}{2}\lVert x\rVert^2$, verified symbolically.

    Attributes:
        phi: $\varphi(z, b)$ in the symbols ``z`` and ``b``.
        z: the symbol for $a^\top x$.
        b: the label symbol.
        c: the ridge weight $c$ (exact SymPy number).
        phi1, phi2: $\partial_z\varphi$, $\partial_z^2\varphi$.
        margin: $\varphi(z, b) = \psi(b z)$ for some $\psi$ (a margin loss).
    """

    phi: sympy.Expr
    z: sympy.Symbol
    b: sympy.Symbol
    c: sympy.Expr
    phi1: sympy.Expr
    phi2: sympy.Expr
    margin: bool = False

    @property
    def labels_must_be_signs(self) -> bool:
        r"""A margin loss $\varphi(z, b) = \psi(b z)$ (logistic, hinge, ...) models labels in
        $\{-1, +1\}$; other label codings (e.g. 0/1) silently change the model."""
        return self.margin


@dataclass(frozen=True)
class LossAnalysis:
    r"""Everything the checks need about a user loss on given data.

    Attributes:
        x_star: the numerical minimiser $\hat x$ (a local one if $F$ is non-convex).
        grad_norm: $\lVert\nabla F(\hat x)\rVert$ (float64 evaluation).
        x_star_error: a bound on $\lVert\hat x - x^*\rVert$ (``grad_norm / mu`` when $\mu > 0$ is
            certified on $\mathbb{R}^d$), else None.
        L, mu: smoothness and strong convexity on $\mathbb{R}^d$.
        L_ball, mu_ball: the same on the ball $B(x^*, D)$ (Thm 4.2 hypothesis).
        D: the ball radius used.
        convexity: see :class:`Convexity`.
        smooth: False if a non-smooth function (abs, maximum, minimum) occurs.
        glm: True when the generalised-linear structure was verified.
        Sigma: $\Sigma(x^*)$, $d\times d$.
        A_tilde: $\nabla^2 F(x^*)$, $d\times d$ (None for non-smooth losses).
        notes: conventions and caveats, for reports.
        phi2_range, phi2_range_ball: certified enclosure of $\inf, \sup \varphi''$ on
            $\mathbb{R}$ and on the ball's range of $a_i^\top x$ (GLMs only).
    """

    x_star: np.ndarray
    grad_norm: float
    x_star_error: float | None
    L: Constant
    mu: Constant
    L_ball: Constant
    mu_ball: Constant
    D: float
    convexity: Convexity
    smooth: bool
    glm: bool
    Sigma: np.ndarray
    A_tilde: np.ndarray | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    phi2_range: tuple[float, float] | None = None
    phi2_range_ball: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        """JSON-able summary for reports (arrays as nested lists)."""

        def const(c: Constant) -> dict:
            return {"value": c.value, "kind": c.kind, "detail": c.detail}

        return {
            "x_star": self.x_star.tolist(),
            "grad_norm": self.grad_norm,
            "x_star_error": self.x_star_error,
            "L": const(self.L),
            "mu": const(self.mu),
            "L_ball": const(self.L_ball),
            "mu_ball": const(self.mu_ball),
            "D": self.D,
            "convexity": {"status": self.convexity.status, "detail": self.convexity.detail},
            "smooth": self.smooth,
            "glm": self.glm,
            "quadratic": self.quadratic,
            "Sigma": self.Sigma.tolist(),
            "A_tilde": None if self.A_tilde is None else self.A_tilde.tolist(),
            "notes": list(self.notes),
        }

    @property
    def quadratic(self) -> bool:
        r"""True when $F$ is quadratic: a GLM with constant $\varphi''$ (certified)."""
        r = self.phi2_range
        return r is not None and r[0] == r[1]


# --------------------------------------------------------------------------------------------
# Numeric back ends
# --------------------------------------------------------------------------------------------


def _np_sigmoid(z):
    # 1/(1 + e^{-z}) = (1 + tanh(z/2))/2: one transcendental, no overflow, absolute error ~eps
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(z, dtype=float))


def _np_softplus(z):
    return np.logaddexp(0.0, z)


def _np_huber(z, c):
    z = np.asarray(z, dtype=float)
    az = np.abs(z)
    return np.where(az <= c, 0.5 * z * z, c * (az - 0.5 * c))


def _np_huber_d1(z, c):
    return np.clip(np.asarray(z, dtype=float), -c, c)


def _np_huber_d2(z, c):
    return np.where(np.abs(np.asarray(z, dtype=float)) <= c, 1.0, 0.0)


_NUMPY_MODULES = [
    {
        "sigmoid": _np_sigmoid,
        "softplus": _np_softplus,
        "maximum": np.maximum,
        "minimum": np.minimum,
        "huber": _np_huber,
        "huber_d1": _np_huber_d1,
        "huber_d2": _np_huber_d2,
    },
    "numpy",
]

_MP_MODULES = [
    {
        "huber": lambda z, c: z * z / 2 if abs(z) <= c else c * (abs(z) - c / 2),
        "huber_d1": lambda z, c: max(-c, min(z, c)),
        "huber_d2": lambda z, c: mpmath.mpf(1) if abs(z) <= c else mpmath.mpf(0),
    },
    "mpmath",
]

#: wall-clock limits (s) of the symbolic preparation of a loss and of its analysis on data
SYMBOLIC_SECONDS = 30.0
ANALYSIS_SECONDS = 45.0
#: largest d for a loss without the generalised-linear structure (its symbolic Hessian has
#: d(d+1)/2 entries, each differentiated and compiled)
MAX_D_NON_GLM = 60


def _lambdify(args: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr]) -> Callable:
    return sympy.lambdify(list(args), list(exprs), modules=_NUMPY_MODULES, cse=True)


# --------------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------------


class UserLoss:
    r"""A parsed per-sample loss $f(x; a, b)$ for dimension $d$, with its derivatives.

    Arguments:
        expression: the loss, e.g. ``"softplus(-b*dot(a, x)) + lam/2*norm2(x)"``; may use the
            vector ``x`` (parameter), the vector ``a`` (features), the scalar ``b`` (label) and
            the names in ``constants``.
        d: the dimension.
        constants: named numeric constants, substituted exactly (a float ``v`` becomes the
            rational with decimal expansion ``repr(v)``).

    Raises:
        LossSpecError: if the expression is rejected by the safe parser.
        InputError: for a bad ``d`` or constant.
    """

    def __init__(
        self,
        expression: str,
        d: int,
        constants: Mapping[str, float] | None = None,
        *,
        parameter: str = "loss.expression",
    ) -> None:
        constants = dict(constants or {})
        for name, value in constants.items():
            if name in RESERVED:
                raise InputError(
                    f"loss.constants.{name}", value, "reserved name", "rename the constant"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(
                    f"loss.constants.{name}", value, "must be a number", "use a number"
                )
            if not math.isfinite(value):
                raise InputError(f"loss.constants.{name}", value, "must be finite", "fix it")
        self.d = d
        self.x = vector_symbols("x", d)
        self.a = vector_symbols("a", d)
        self.b = sympy.Symbol("b", real=True)
        scalars: dict[str, sympy.Expr] = {"b": self.b}
        for name, value in constants.items():
            scalars[name] = (
                sympy.Integer(value) if isinstance(value, int) else sympy.Rational(repr(value))
            )
        self.constants = constants
        self.parsed: ParsedExpression = parse_expression(
            expression,
            scalars=scalars,
            vectors={"x": self.x, "a": self.a},
            parameter=parameter,
        )
        self.expression = expression
        self.parameter = parameter
        self.f: sympy.Expr = self.parsed.expr
        self.smooth = self.parsed.smooth
        self._args = (*self.x, *self.a, self.b)
        self._hess_num: Callable | None = None
        self._grad: tuple[sympy.Expr, ...] | None = None
        self._f_num_c: Callable | None = None
        self._grad_num_c: Callable | None = None
        with self.bounded("the symbolic preparation of the loss", SYMBOLIC_SECONDS):
            self.glm: GLMStructure | None = _detect_glm(self)
            if self.glm is not None:
                zb = (self.glm.z, self.glm.b)
                self._phi_num = [_lambdify(zb, [e]) for e in (glm_phi(self.glm))]
                self._c = float(self.glm.c)
            else:
                if d > MAX_D_NON_GLM:
                    raise LossSpecError(
                        f"the loss is not of the form phi(dot(a, x), b) + c/2*norm2(x), and "
                        f"without that structure the symbolic Hessian has d(d+1)/2 = "
                        f"{d * (d + 1) // 2} entries (d = {d} > {MAX_D_NON_GLM})",
                        "write the loss through dot(a, x) (a generalised linear model), or "
                        f"use data with at most {MAX_D_NON_GLM} features",
                        position=0,
                        token=expression[:40],
                        parameter=parameter,
                    )
                _ = self._f_num, self._grad_num  # compile now, inside the time limit

    # -- bounded work -------------------------------------------------------------------
    @contextmanager
    def bounded(self, what: str, seconds: float) -> Iterator[None]:
        r"""Run a block on this loss with a wall-clock limit; a time-out, an overflow or an
        internal failure of SymPy on this expression becomes a :class:`LossSpecError` that
        names the step and the fix (never a hang or a raw traceback)."""
        fix = (
            "simplify the loss (lower degree, fewer nested functions, smaller constants), or "
            "write it as phi(dot(a, x), b) + lam/2*norm2(x)"
        )
        try:
            with time_limit(seconds, what):
                yield
        except InputError:
            raise
        except WorkLimitExceeded as exc:
            raise LossSpecError(
                f"{what} did not finish within {exc.seconds:g} s",
                fix,
                position=0,
                token=self.expression[:40],
                parameter=self.parameter,
            ) from None
        except (OverflowError, FloatingPointError) as exc:
            raise LossSpecError(
                f"{what}: the loss overflows ({exc})",
                "rescale the loss or the data",
                position=0,
                token=self.expression[:40],
                parameter=self.parameter,
            ) from None
        except (
            ArithmeticError, KeyError, TypeError, ValueError, AttributeError,
            NotImplementedError, RecursionError, MemoryError, np.linalg.LinAlgError,
        ) as exc:  # fmt: skip
            raise LossSpecError(
                f"{what} failed on this expression ({type(exc).__name__}: {str(exc)[:80]})",
                fix,
                position=0,
                token=self.expression[:40],
                parameter=self.parameter,
            ) from None

    # -- lazily derived -----------------------------------------------------------------
    @property
    def grad(self) -> tuple[sympy.Expr, ...]:
        r"""$\nabla f$ symbolically (computed on first use)."""
        if self._grad is None:
            self._grad = tuple(sympy.diff(self.f, xj) for xj in self.x)
        return self._grad

    @property
    def _f_num(self) -> Callable:
        if self._f_num_c is None:
            self._f_num_c = _lambdify(self._args, [self.f])
        return self._f_num_c

    @property
    def _grad_num(self) -> Callable:
        if self._grad_num_c is None:
            self._grad_num_c = _lambdify(self._args, self.grad)
        return self._grad_num_c

    # -- symbolic -----------------------------------------------------------------------
    def hessian(self) -> sympy.Matrix:
        r"""$\nabla^2 f$ as a symmetric $d\times d$ SymPy matrix."""
        return sympy.hessian(self.f, self.x)

    # -- numeric ------------------------------------------------------------------------
    def _call(self, fun: Callable, x: np.ndarray, A: np.ndarray, y: np.ndarray, k: int):
        x = np.asarray(x, dtype=float)
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float)
        xs = [x[..., None, j] for j in range(self.d)]
        As = [A[..., j] for j in range(self.d)]
        out = fun(*xs, *As, y)
        shape = np.broadcast_shapes((*x.shape[:-1], 1), A.shape[:-1], y.shape)
        return np.stack([np.broadcast_to(np.asarray(o, dtype=float), shape) for o in out[:k]], -1)

    def per_sample_losses(self, x: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""$f(x; a_i, b_i)$: ``x`` (..., d), ``A`` (..., m, d), ``y`` (..., m) -> (..., m)."""
        if self.glm is not None:
            z = np.einsum("...md,...d->...m", A, x)
            phi = np.broadcast_to(self._phi_num[0](z, y)[0], z.shape)
            return phi + 0.5 * self._c * np.sum(np.asarray(x) ** 2, -1)[..., None]
        return self._call(self._f_num, x, A, y, 1)[..., 0]

    def per_sample_gradients(self, x: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""$\nabla f(x; a_i, b_i)$: ``x`` (..., d), ``A`` (.., m, d), ``y`` (.., m) to (..., m, d).

        Vectorised over all leading axes (e.g. $P$ paths $\times$ $b$ minibatch samples). For a
        GLM this is $\varphi'(a_i^\top x, b_i) a_i + c x$ without per-component code.
        """
        x = np.asarray(x, dtype=float)
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.glm is not None:
            z = np.matmul(A, x[..., None])[..., 0]
            phi1 = np.broadcast_to(np.asarray(self._phi_num[1](z, y)[0], dtype=float), z.shape)
            out = phi1[..., None] * A
            if self._c != 0.0:
                out += self._c * x[..., None, :]  # in place: one full-size temporary less
            return out
        return self._call(self._grad_num, x, A, y, self.d)

    def F(self, x: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""$F(x) = \frac1n\sum_i f_i(x)$ for ``x`` (..., d) over the full data (n, d), (n,)."""
        return np.mean(self.per_sample_losses(x, A, y), axis=-1)

    def grad_F(self, x: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""$\nabla F(x)$ for ``x`` (..., d) -> (..., d)."""
        return np.mean(self.per_sample_gradients(x, A, y), axis=-2)

    def hess_F(self, x: np.ndarray, A: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""$\nabla^2 F(x)$ for one point ``x`` (d,) -> (d, d)."""
        x = np.asarray(x, dtype=float)
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float)
        n = A.shape[0]
        if self.glm is not None:
            z = A @ x
            phi2 = np.broadcast_to(np.asarray(self._phi_num[2](z, y)[0], dtype=float), z.shape)
            return (A.T * phi2) @ A / n + self._c * np.eye(self.d)
        if self._hess_num is None:
            pairs = [(i, j) for i in range(self.d) for j in range(i, self.d)]
            exprs = [sympy.diff(self.grad[i], self.x[j]) for i, j in pairs]
            self._hess_pairs = pairs
            self._hess_num = _lambdify(self._args, exprs)
        vals = self._call(self._hess_num, x, A, y, len(self._hess_pairs)).mean(axis=-2)
        H = np.empty((self.d, self.d))
        for k, (i, j) in enumerate(self._hess_pairs):
            H[i, j] = H[j, i] = vals[k]
        return H


# --------------------------------------------------------------------------------------------
# GLM structure
# --------------------------------------------------------------------------------------------


def glm_phi(glm: GLMStructure) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    r"""$(\varphi, \varphi', \varphi'')$ of a GLM structure."""
    return glm.phi, glm.phi1, glm.phi2


def _detect_glm(loss: UserLoss) -> GLMStructure | None:
    r"""Find $\varphi, c$ with $f = \varphi(a^\top x, b) + \frac c2\lVert x\rVert^2$ and verify it.

    $c = \partial_w^2 f(x = w e_1, a = 0)$ (there $a^\top x = 0$, $\lVert x\rVert^2 = w^2$);
    $\varphi(z, b) = f(x = z e_1, a = e_1) - \frac c2 z^2$. The candidate is accepted only if
    the residual $r = f - \varphi(a^\top x, b) - \frac c2\lVert x\rVert^2$ is zero, proven by
    the first route that applies, none of which expands a large expression
    (:func:`theory.work_limit.expansion_terms` bounds ``expand`` before it runs):

    1. $r$ is zero as built (SymPy's canonical sums cancel; the usual case, $O(d)$ work);
    2. $r$ vanishes numerically at 8 random points, and then either ``expand`` of $r$ (when it
       has at most 20 000 terms) gives 0, or, for a polynomial $r$, exact rational evaluation
       at 3 random integer points in $[1, 2^{61})$ gives 0 (Schwartz--Zippel: a non-zero
       polynomial of degree $g$ vanishes there with probability at most $(g/2^{61})^3$), or,
       for $d \le 4$, ``simplify`` gives 0.
    """
    z = sympy.Symbol("z", real=True)
    w = sympy.Symbol("w", real=True)
    b = loss.b
    bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    zero_a = dict.fromkeys(loss.a, sympy.Integer(0))
    on_axis = dict.fromkeys(loss.x[1:], sympy.Integer(0))
    f_w = loss.f.xreplace({**zero_a, **on_axis, loss.x[0]: w})
    if f_w.has(*bad):
        return None
    c = sympy.diff(f_w, w, 2)
    c = sympy.simplify(c) if c.count_ops() < 200 else c
    if c.free_symbols or not c.is_number or c.has(sympy.Heaviside, sympy.DiracDelta, *bad):
        return None
    if not c.is_real:
        return None
    e1 = {loss.a[0]: sympy.Integer(1), **dict.fromkeys(loss.a[1:], sympy.Integer(0))}
    phi_raw = loss.f.xreplace({**e1, **on_axis, loss.x[0]: z}) - c * z**2 / 2
    if phi_raw.has(*bad) or phi_raw.free_symbols - {z, b}:
        return None
    atx = sympy.Add(*(aj * xj for aj, xj in zip(loss.a, loss.x)))
    ridge = c / 2 * sympy.Add(*(xj**2 for xj in loss.x))
    phi = phi_raw
    residual = loss.f - (phi.xreplace({z: atx}) + ridge)
    if residual != 0 and expansion_terms(phi_raw) <= 200:
        phi = sympy.expand(phi_raw)
        phi = sympy.simplify(phi) if phi.count_ops() < 200 else phi
        residual = loss.f - (phi.xreplace({z: atx}) + ridge)
    if residual != 0:
        if not _numerically_zero(residual, loss):
            return None
        if expansion_terms(residual) <= 20_000:
            if sympy.expand(residual) != 0 and (loss.d > 4 or sympy.simplify(residual) != 0):
                return None
        elif not _polynomial_zero(residual):
            return None
    phi1 = sympy.diff(phi, z)
    phi2 = sympy.diff(phi, z, 2) if loss.smooth else sympy.nan
    u = sympy.Symbol("u", real=True)
    margin = b in phi.free_symbols and b not in phi.xreplace({z: u / b}).free_symbols
    return GLMStructure(phi=phi, z=z, b=b, c=c, phi1=phi1, phi2=phi2, margin=margin)


def _polynomial_zero(expr: sympy.Expr, points: int = 3) -> bool:
    r"""True if the polynomial ``expr`` vanishes at ``points`` random integer points in
    $[1, 2^{61})$, evaluated exactly (Schwartz--Zippel); False if it does not, or if ``expr``
    is not a polynomial with rational coefficients."""
    from fractions import Fraction

    def value(e: sympy.Basic, env: dict) -> Fraction:
        if e.is_Symbol:
            return env[e]
        if e.is_Rational:
            return Fraction(int(e.p), int(e.q))
        if e.is_Add:
            return sum((value(a, env) for a in e.args), Fraction(0))
        if e.is_Mul:
            out = Fraction(1)
            for a in e.args:
                out *= value(a, env)
            return out
        if e.is_Pow and e.exp.is_Integer and int(e.exp) >= 0:
            return value(e.base, env) ** int(e.exp)
        raise TypeError("not a polynomial")

    rng = np.random.default_rng(2024)
    syms = sorted(expr.free_symbols, key=str)
    for _ in range(points):
        env = {s: Fraction(int(rng.integers(1, 2**61))) for s in syms}
        try:
            if value(expr, env) != 0:
                return False
        except TypeError:
            return False
    return True


def _numerically_zero(expr: sympy.Expr, loss: UserLoss, points: int = 8) -> bool:
    rng = np.random.default_rng(12345)
    syms = sorted(expr.free_symbols, key=str)
    fun = _lambdify(syms, [expr])
    for _ in range(points):
        vals = rng.normal(size=len(syms))
        if abs(float(fun(*vals)[0])) > 1e-9:
            return False
    return True


# --------------------------------------------------------------------------------------------
# Rigorous bounds of phi'' by interval arithmetic
# --------------------------------------------------------------------------------------------


def _iv_eval(expr: sympy.Expr, env: Mapping[sympy.Symbol, object]):
    r"""Evaluate a SymPy expression in ``mpmath.iv`` interval arithmetic (outward rounded)."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Integer:
        return iv.mpf(int(expr))
    if expr.is_Rational:
        return iv.mpf(int(expr.p)) / iv.mpf(int(expr.q))
    if expr.is_Number:
        return iv.mpf(str(expr))  # pragma: no cover - floats are not produced by the parser
    if expr is sympy.E:
        return iv.e
    if expr is sympy.pi:
        return iv.pi
    args = [_iv_eval(arg, env) for arg in expr.args]
    if expr.is_Add:
        out = args[0]
        for v in args[1:]:
            out = out + v
        return out
    if expr.is_Mul:
        out = args[0]
        for v in args[1:]:
            out = out * v
        return out
    if expr.is_Pow:
        _base, expo = expr.args
        if expo.is_Integer:
            return args[0] ** int(expo)
        if expo == sympy.Rational(1, 2):
            return iv.sqrt(args[0])
        return iv.exp(args[1] * iv.log(args[0]))
    func = expr.func
    (u,) = args if len(args) == 1 else (None,)
    if func is sympy.exp:
        return iv.exp(u)
    if func is sympy.log:
        return iv.log(u)
    if func is sympy.sin:
        return iv.sin(u)
    if func is sympy.cos:
        return iv.cos(u)
    if func is sympy.tanh:
        return 1 - 2 / (iv.exp(2 * u) + 1)
    if func is sigmoid:
        return 1 / (1 + iv.exp(-u))
    if func is softplus:
        return iv.log(1 + iv.exp(u))
    if func in (huber, huber_d1, huber_d2):
        return _iv_huber(func, *args)
    raise NotImplementedError(f"no interval rule for {func}")


def _iv_huber(func, u, c):
    r"""Outward enclosures of $h_c$, $h_c' = \operatorname{clip}(z, -c, c)$ and
    $h_c'' = \mathbf 1[|z| \le c]$ over the interval ``u`` ($c$ an interval of width ~0)."""
    ua, ub, ca, cb = float(u.a), float(u.b), float(c.a), float(c.b)
    if func is huber_d2:
        if -ca <= ua and ub <= ca:
            return iv.mpf(1)
        if ub < -cb or ua > cb:
            return iv.mpf(0)
        return iv.mpf([0, 1])
    if func is huber_d1:
        return iv.mpf([max(-cb, min(ua, ca)), min(cb, max(ub, -ca))])
    # h_c is even and increasing in |z|
    lo_abs = 0.0 if ua <= 0 <= ub else min(abs(ua), abs(ub))
    hi_abs = max(abs(ua), abs(ub))

    def h(m: float):
        mi = iv.mpf(m)
        if m <= ca:
            return mi**2 / 2
        if m >= cb:
            return c * (mi - c / 2)
        q, r = mi**2 / 2, c * (mi - c / 2)
        return iv.mpf([min(q.a, r.a), max(q.b, r.b)])

    if math.isinf(hi_abs):
        return iv.mpf([h(lo_abs).a, math.inf])
    return iv.mpf([h(lo_abs).a, h(hi_abs).b])


def _iv_bounds(val) -> tuple[float, float]:
    lo, hi = float(val.a), float(val.b)
    if math.isnan(lo) or math.isnan(hi):
        return -math.inf, math.inf
    return lo, hi


def bound_on_interval(
    expr: sympy.Expr,
    z: sympy.Symbol,
    lo: float,
    hi: float,
    env: Mapping[sympy.Symbol, object] | None = None,
    *,
    maximise: bool = True,
    rtol: float = 1e-6,
    max_boxes: int = 4000,
) -> tuple[float, float]:
    r"""Rigorous enclosure of $\sup$ (or $\inf$) of ``expr`` over $z \in [lo, hi]$.

    Branch and bound with ``mpmath.iv``: each box's interval image bounds ``expr`` there; the
    box with the worst bound is bisected until the gap between the bound and the best value
    attained at a box midpoint is $\le$ ``rtol`` $\cdot\max(1, |\text{attained}|)$. Infinite
    ends are allowed: tails are boxes like $[Z, \infty]$, $Z = 64$, that are never bisected and are
    bounded by interval arithmetic or, for exponential-polynomial terms, by
    :func:`_tail_upper`.

    Arguments:
        expr: the expression in ``z`` (other symbols given as intervals in ``env``).
        z: the variable.
        lo, hi: the range, may be $\pm\infty$.
        env: other symbols -> ``mpmath.iv`` intervals (e.g. a label value).
        maximise: bound the supremum (True) or the infimum (False).

    Returns:
        ``(attained, bound)``: for the sup, ``attained <= sup <= bound``; for the inf,
        ``bound <= inf <= attained``.
    """
    saved = iv.prec
    iv.prec = 80
    try:
        return _branch_and_bound(expr, z, lo, hi, dict(env or {}), maximise, rtol, max_boxes)
    finally:
        iv.prec = saved  # the iv context is global: leave it as found


def _branch_and_bound(expr, z, lo, hi, env, maximise, rtol, max_boxes) -> tuple[float, float]:
    sign = 1.0 if maximise else -1.0

    dexpr = sympy.diff(expr, z)

    def upper(a: float, c: float) -> float:
        # naive enclosure f([a, c]) intersected with the mean-value (centred) form
        # f(m) + f'([a, c]) ([a, c] - m), whose overestimate is O(width^2) near an extremum
        box = iv.mpf([a, c])
        env[z] = box
        try:
            lo_, hi_ = _iv_bounds(_iv_eval(expr, env))
        except (ZeroDivisionError, ValueError, NotImplementedError):
            return math.inf
        if math.isfinite(a) and math.isfinite(c):
            m = iv.mpf(0.5 * (a + c))
            try:
                slope = _iv_eval(dexpr, env)
                env[z] = m
                centred = _iv_eval(expr, env) + slope * (box - m)
                clo, chi = _iv_bounds(centred)
                lo_, hi_ = max(lo_, clo), min(hi_, chi)
            except (ZeroDivisionError, ValueError, NotImplementedError):
                pass
        return hi_ if maximise else -lo_

    def point(m: float) -> float:
        env[z] = iv.mpf(m)
        try:
            lo_, hi_ = _iv_bounds(_iv_eval(expr, env))
        except (ZeroDivisionError, ValueError, NotImplementedError):
            return -math.inf
        return lo_ if maximise else -hi_  # a value certainly attained (lower end for the sup)

    boxes: list[tuple[float, float, float]] = []
    finite_lo, finite_hi = lo, hi
    if math.isinf(lo) or math.isinf(hi):
        Z = 64.0
        finite_lo = max(lo, -Z)
        finite_hi = min(hi, Z)
        if math.isinf(lo):
            ub = min(upper(-math.inf, finite_lo), _tail_upper(expr, z, -finite_lo, -1, maximise))
            heapq.heappush(boxes, (-ub, -math.inf, finite_lo))
        if math.isinf(hi):
            ub = min(upper(finite_hi, math.inf), _tail_upper(expr, z, finite_hi, 1, maximise))
            heapq.heappush(boxes, (-ub, finite_hi, math.inf))
    pieces = 64
    grid = np.linspace(finite_lo, finite_hi, pieces + 1)
    best = -math.inf
    for a, c in itertools.pairwise(grid):
        heapq.heappush(boxes, (-upper(float(a), float(c)), float(a), float(c)))
        best = max(best, point(float(a)), point(float(c)))
    count = len(boxes)
    while boxes:
        neg_ub, a, c = boxes[0]
        ub = -neg_ub
        if ub - best <= rtol * max(1.0, abs(best)) or count >= max_boxes:
            break
        if math.isinf(a) or math.isinf(c) or not c > a:
            break  # a tail or degenerate box is the worst: cannot refine further
        heapq.heappop(boxes)
        m = 0.5 * (a + c)
        best = max(best, point(m))
        heapq.heappush(boxes, (-upper(a, m), a, m))
        heapq.heappush(boxes, (-upper(m, c), m, c))
        count += 2
    bound = -boxes[0][0] if boxes else best
    return sign * best, sign * bound


def _tail_upper(expr: sympy.Expr, z: sympy.Symbol, Z: float, sign: int, maximise: bool) -> float:
    r"""Upper bound of ``expr`` (of ``-expr`` if not ``maximise``) on a tail $\pm[Z, \infty)$
    for exponential-polynomial expressions, where plain interval arithmetic gives
    $\infty \cdot 0$.

    With $z = \pm w$, ``expr`` is expanded into terms $c\, w^k e^{q(w)}$ ($q$ a polynomial).
    If $k/w + q'(w) < 0$ on $[Z, \infty)$ (checked in interval arithmetic) the term's magnitude
    decreases there, so the term lies between 0 and $c Z^k e^{q(Z)}$. Any other term shape gives
    $+\infty$ (no information).
    """
    w = sympy.Symbol("w", positive=True)
    try:
        e = sympy.expand(expr.rewrite(sympy.exp).xreplace({z: sign * w}))
    except (TypeError, ValueError):  # pragma: no cover - defensive
        return math.inf
    lo_sum, hi_sum = iv.mpf(0), iv.mpf(0)
    Zi = iv.mpf(Z)
    tail = iv.mpf([Z, math.inf])
    for term in sympy.Add.make_args(e):
        coeff, rest = term.as_coeff_Mul()
        k, q = 0, sympy.Integer(0)
        for f in sympy.Mul.make_args(rest):
            if f == w:
                k += 1
            elif f.is_Pow and f.base == w and f.exp.is_Integer and f.exp >= 0:
                k += int(f.exp)
            elif f.func is sympy.exp:
                q += f.args[0]
            elif f.is_number and f.is_real:
                coeff *= f
            else:
                return math.inf
        if not coeff.is_number or not coeff.is_real:
            return math.inf
        c = float(coeff)
        if q == 0:
            if k > 0:
                return math.inf
            lo_sum, hi_sum = lo_sum + c, hi_sum + c
            continue
        try:
            poly = sympy.Poly(q, w)
        except sympy.PolynomialError:
            return math.inf
        if poly.degree() < 1 or float(poly.LC()) >= 0:
            return math.inf
        slope = _iv_eval(sympy.Integer(k) / w + sympy.diff(q, w), {w: tail})
        if not float(slope.b) < 0:
            return math.inf
        m = _iv_eval(w**k * sympy.exp(q), {w: Zi})
        mag = abs(c) * float(m.b) * (1 + 1e-15)
        if c > 0:
            hi_sum = hi_sum + mag
        else:
            lo_sum = lo_sum - mag
    hi_val, lo_val = float(hi_sum.b), float(lo_sum.a)
    return hi_val if maximise else -lo_val


def _phi2_range(
    glm: GLMStructure, labels: np.ndarray, lo: float, hi: float
) -> tuple[float, float, float]:
    r"""Certified $(\inf, \sup)$ of $\varphi''(z, b_i)$ over $z \in [lo, hi]$ and the labels,
    and the smallest value attained at a point (a witness for $\varphi'' < 0$)."""
    uniq = np.unique(labels)
    psi, shift = _label_shift(glm) if len(uniq) > 16 else (None, None)
    if psi is not None:
        # phi''(z, b) = psi(z - s b): bound psi over u = z - s b for z in [lo, hi], b in the data
        sb = (shift * float(uniq.min()), shift * float(uniq.max()))
        lo_r, hi_r = lo - max(sb), hi - min(sb)
        _, s = bound_on_interval(psi, glm.z, lo_r, hi_r, maximise=True)
        att, i = bound_on_interval(psi, glm.z, lo_r, hi_r, maximise=False)
        return i, s, att
    max_boxes = 4000
    if len(uniq) <= 16:
        envs = [{glm.b: iv.mpf(float(v))} for v in uniq]
    else:
        # b as an interval: the enclosure cannot close below the b-width, so cap the work
        edges = np.linspace(uniq.min(), uniq.max(), 9)
        envs = [{glm.b: iv.mpf([float(p), float(q)])} for p, q in itertools.pairwise(edges)]
        max_boxes = 200
    sup_bound, inf_bound, inf_attained = -math.inf, math.inf, math.inf
    for env in envs:
        _, s = bound_on_interval(glm.phi2, glm.z, lo, hi, env, maximise=True, max_boxes=max_boxes)
        att, i = bound_on_interval(
            glm.phi2, glm.z, lo, hi, env, maximise=False, max_boxes=max_boxes
        )
        sup_bound = max(sup_bound, s)
        inf_bound = min(inf_bound, i)
        inf_attained = min(inf_attained, att)
    return inf_bound, sup_bound, inf_attained


def _label_shift(glm: GLMStructure) -> tuple[sympy.Expr | None, float | None]:
    r"""$(\psi, s)$ with $\varphi''(z, b) = \psi(z - s b)$ for a constant $s$, if that holds.

    $s = -\partial_b\varphi'' / \partial_z\varphi''$ must simplify to a number, and
    $\psi(u) = \varphi''(u + s b, b)$ must then be free of $b$ (e.g. $s = 1$ for
    $\varphi = \rho(z - b)$, $s = 0$ when $\varphi''$ does not depend on $b$)."""
    z, b, phi2 = glm.z, glm.b, glm.phi2
    if b not in phi2.free_symbols:
        return phi2, 0.0
    dz = sympy.diff(phi2, z)
    if dz == 0:
        return None, None
    ratio = sympy.simplify(-sympy.diff(phi2, b) / dz)
    if not (ratio.is_number and ratio.is_finite and ratio.is_real):
        return None, None
    psi = sympy.simplify(phi2.xreplace({z: z + ratio * b}))
    if b in psi.free_symbols:
        return None, None
    return psi, float(ratio)


def _glm_constants(
    glm: GLMStructure, lam_min: float, lam_max: float, inf2: float, sup2: float
) -> tuple[float, float]:
    r"""$(L, \mu)$ bounds from $\iota \le \varphi'' \le s$ and the spectrum of $A^\top A/n$."""
    c = float(glm.c)
    upper = sup2 * (lam_max if sup2 >= 0 else lam_min) + c
    lower = inf2 * (lam_min if inf2 >= 0 else lam_max) + c
    return max(abs(upper), abs(lower)), lower


# --------------------------------------------------------------------------------------------
# x*, Sigma, constants
# --------------------------------------------------------------------------------------------


def _check_data(loss: UserLoss, A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    if A.ndim != 2 or A.shape[1] != loss.d:
        raise InputError("A", A.shape, f"features must have shape (n, {loss.d})", "fix the data")
    if y.shape != (A.shape[0],):
        raise InputError("y", y.shape, f"labels must have shape ({A.shape[0]},)", "fix the data")
    if A.shape[0] == 0:
        raise InputError("A", A.shape, "no samples", "supply at least one sample")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise InputError("A", "non-finite", "data contain NaN or inf", "clean the data")
    return A, y


def minimise(
    loss: UserLoss,
    A: np.ndarray,
    y: np.ndarray,
    x0: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> np.ndarray:
    r"""A (local) minimiser of $F$ by damped Newton (Levenberg shift when $\nabla^2F$ is not
    positive definite, Armijo backtracking); for non-smooth losses averaged subgradient steps."""
    A, y = _check_data(loss, A, y)
    x = np.zeros(loss.d) if x0 is None else np.asarray(x0, dtype=float).copy()
    if not loss.smooth:
        return _subgradient(loss, A, y, x)
    Fx = float(loss.F(x, A, y))
    for _ in range(max_iter):
        g = loss.grad_F(x, A, y)
        gn = float(np.linalg.norm(g))
        if gn <= tol * max(1.0, abs(Fx)):
            break
        H = loss.hess_F(x, A, y)
        ev_min = float(np.linalg.eigvalsh(H)[0])
        shift = 0.0 if ev_min > 1e-12 else (1e-8 - ev_min + 1e-3 * gn)
        step = np.linalg.solve(H + shift * np.eye(loss.d), -g)
        t = 1.0
        while t > 1e-12:
            x_new = x + t * step
            F_new = float(loss.F(x_new, A, y))
            if np.isfinite(F_new) and F_new <= Fx + 1e-4 * t * float(g @ step):
                break
            t *= 0.5
        else:
            break
        if np.allclose(x_new, x, rtol=0, atol=1e-16):
            break
        x, Fx = x_new, F_new
    return x


def _subgradient(loss: UserLoss, A: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    avg = x.copy()
    for k in range(1, 5001):
        g = loss.grad_F(x, A, y)
        x = x - g / (k**0.5 * max(1.0, float(np.linalg.norm(g))))
        avg += (x - avg) / (k + 1)
    return avg


def analyse_loss(
    loss: UserLoss,
    A: np.ndarray,
    y: np.ndarray,
    *,
    D: float | None = None,
    samples: int = 64,
    seed: int | np.random.SeedSequence = 0,
) -> LossAnalysis:
    r"""$x^*$, $L$, $\mu$, convexity, $\Sigma(x^*)$, $\tilde A = \nabla^2F(x^*)$ on data $(A, y)$.

    Arguments:
        loss: the loss.
        A: features, shape (n, d).
        y: labels, shape (n,).
        D: radius of the ball $B(x^*, D)$ of Thm 4.2 (default $\max(1, \lVert x^*\rVert)$).
        samples: number of random points of the ball used for sampled Hessians.
        seed: seed of the sample points.

    Returns:
        A :class:`LossAnalysis`.

    Raises:
        LossSpecError: the analysis exceeded :data:`ANALYSIS_SECONDS`, or the loss overflows or
            is undefined at $\hat x$ (non-finite $x^*$, $\Sigma$ or $\tilde A$).
    """
    A, y = _check_data(loss, A, y)
    with loss.bounded("the loss analysis on the data", ANALYSIS_SECONDS):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = _analyse(loss, A, y, D, samples, seed)
    bad = [
        name
        for name, v in (("x*", out.x_star), ("Sigma(x*)", out.Sigma), ("Hess F(x*)", out.A_tilde))
        if v is not None and not np.all(np.isfinite(v))
    ]
    if bad or not math.isfinite(out.grad_norm):
        raise LossSpecError(
            "the loss overflows or is undefined at the computed minimiser ("
            + (", ".join(bad) or "grad F(x*)")
            + " not finite)",
            "rescale the loss or the data so that f, grad f and Hess f stay finite near x*",
            position=0,
            token=loss.expression[:40],
            parameter=loss.parameter,
        )
    return out


def _analyse(loss, A, y, D, samples, seed) -> LossAnalysis:
    n, d = A.shape
    notes: list[str] = []
    x_star = minimise(loss, A, y)
    g_star = loss.grad_F(x_star, A, y)
    grad_norm = float(np.linalg.norm(g_star))
    if D is None:
        D = max(1.0, float(np.linalg.norm(x_star)))
        notes.append(f"D = max(1, ||x*||) = {D:.6g} (default)")
    if not (D > 0 and math.isfinite(D)):
        raise InputError("D", D, "must be a positive finite radius", "pass D > 0")

    # Sigma(x*): covariance of one sample's gradient under uniform i (SPEC §1), divisor n.
    G = loss.per_sample_gradients(x_star, A, y)
    Gc = G - G.mean(axis=0)
    Sigma = Gc.T @ Gc / n

    # Sample points in the ball B(x*, D) (uniform), plus x* itself.
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(samples, d))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    radii = D * rng.uniform(size=samples) ** (1.0 / d)
    points = np.vstack([x_star, x_star + dirs * radii[:, None]])

    if not loss.smooth:
        unavailable = Constant(math.inf, "unavailable", "non-smooth loss: no finite L")
        convexity = Convexity("unknown", "non-smooth loss")
        if loss.glm is not None:
            convexity = _nonsmooth_glm_convexity(loss)
        return LossAnalysis(
            x_star=x_star,
            grad_norm=grad_norm,
            x_star_error=None,
            L=unavailable,
            mu=Constant(float(loss.glm.c) if loss.glm else -math.inf, "unavailable", "non-smooth"),
            L_ball=unavailable,
            mu_ball=Constant(math.nan, "unavailable", "non-smooth"),
            D=float(D),
            convexity=convexity,
            smooth=False,
            glm=loss.glm is not None,
            Sigma=Sigma,
            A_tilde=None,
            notes=(*notes, "x* by averaged subgradient steps; no certificate"),
        )

    A_tilde = loss.hess_F(x_star, A, y)
    phi2_range = phi2_range_ball = None
    eig = np.array([np.linalg.eigvalsh(loss.hess_F(p, A, y))[[0, -1]] for p in points])
    sampled_min, sampled_max = float(eig[:, 0].min()), float(eig[:, 1].max())
    witness_idx = int(np.argmin(eig[:, 0]))
    tol_eig = 1e-9 * max(1.0, float(np.abs(eig).max()))
    if loss.glm is not None:
        glm = loss.glm
        spec = np.linalg.eigvalsh(A.T @ A / n)
        pad = 1e-12 * max(1.0, abs(float(spec[-1])))
        lam_min, lam_max = max(0.0, float(spec[0]) - pad), float(spec[-1]) + pad
        inf2, sup2, inf_att = _phi2_range(glm, y, -math.inf, math.inf)
        L_val, mu_val = _glm_constants(glm, lam_min, lam_max, inf2, sup2)
        how = (
            f"GLM: phi'' in [{inf2:.6g}, {sup2:.6g}] on R (interval arithmetic), "
            f"spec(A^T A/n) in [{lam_min:.6g}, {lam_max:.6g}], c = {float(glm.c):.6g}"
        )
        L = Constant(L_val, _kind(L_val), how)
        mu = Constant(mu_val, _kind(mu_val), how)
        x_err = None
        if mu_val > 0:
            residual = grad_norm
            if n * d <= 50_000:
                # the residual in 50-digit arithmetic: no float64 rounding in the certificate
                residual = float(mp_grad_norm(loss, x_star, A, y)) * (1 + 1e-12)
                notes.append("||grad F(x_hat)|| for the certificate evaluated with 50 digits")
            x_err = residual / mu_val
        # The ball around the true x*: radius D plus the certified error of x_hat.
        radius = D + (x_err or 0.0)
        z_c = A @ x_star
        z_r = radius * np.linalg.norm(A, axis=1)
        z_lo, z_hi = float(np.min(z_c - z_r)), float(np.max(z_c + z_r))
        z_lo -= 1e-9 * max(1.0, abs(z_lo))
        z_hi += 1e-9 * max(1.0, abs(z_hi))
        inf2b, sup2b, _ = _phi2_range(glm, y, z_lo, z_hi)
        phi2_range, phi2_range_ball = (inf2, sup2), (inf2b, sup2b)
        Lb, mub = _glm_constants(glm, lam_min, lam_max, inf2b, sup2b)
        how_b = f"GLM on B(x*, {radius:.6g}): a_i^T x in [{z_lo:.6g}, {z_hi:.6g}], " + (
            f"phi'' in [{inf2b:.6g}, {sup2b:.6g}]"
        )
        L_ball = Constant(Lb, _kind(Lb), how_b)
        mu_ball = Constant(mub, _kind(mub), how_b)
        if mu_val >= 0:
            convexity = Convexity("certified-convex", f"inf phi'' * lambda + c = {mu_val:.6g} >= 0")
        elif sampled_min < -tol_eig:
            convexity = Convexity(
                "certified-nonconvex",
                f"Hessian eigenvalue {sampled_min:.6g} < 0 at the witness point",
                tuple(points[witness_idx]),
            )
        else:
            convexity = _nonconvex_search(loss, A, y, x_star, D, rng, tol_eig)
        if inf_att < 0:
            notes.append(f"phi'' takes the negative value {inf_att:.6g}: per-sample non-convex")
    else:
        how = f"estimate: extreme Hessian eigenvalues at x* and {samples} points of B(x*, {D:.6g})"
        L = Constant(max(abs(sampled_max), abs(sampled_min)), "estimate", how)
        mu = Constant(sampled_min, "estimate", how)
        L_ball, mu_ball = L, mu
        x_err = None
        if sampled_min < -tol_eig:
            convexity = Convexity(
                "certified-nonconvex",
                f"Hessian eigenvalue {sampled_min:.6g} < 0 at the witness point",
                tuple(points[witness_idx]),
            )
        else:
            convexity = Convexity("convex-at-samples", how)
    if x_err is not None:
        notes.append(f"||x_hat - x*|| <= ||grad F(x_hat)|| / mu = {x_err:.3g}")
    return LossAnalysis(
        x_star=x_star,
        grad_norm=grad_norm,
        x_star_error=x_err,
        L=L,
        mu=mu,
        L_ball=L_ball,
        mu_ball=mu_ball,
        D=float(D),
        convexity=convexity,
        smooth=True,
        glm=loss.glm is not None,
        Sigma=Sigma,
        A_tilde=A_tilde,
        notes=tuple(notes),
        phi2_range=phi2_range,
        phi2_range_ball=phi2_range_ball,
    )


def _kind(value: float) -> str:
    """``"certified"`` for a finite bound; an infinite interval bound is no information."""
    return "certified" if math.isfinite(value) else "unavailable"


def _nonconvex_search(loss, A, y, x_star, D, rng, tol_eig) -> Convexity:
    r"""Look for a negative Hessian eigenvalue farther out (radii up to 10 D)."""
    d = loss.d
    for scale in (2.0, 5.0, 10.0):
        dirs = rng.normal(size=(32, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        for p in x_star + scale * D * dirs:
            ev = float(np.linalg.eigvalsh(loss.hess_F(p, A, y))[0])
            if ev < -tol_eig:
                return Convexity(
                    "certified-nonconvex",
                    f"Hessian eigenvalue {ev:.6g} < 0 at the witness",
                    tuple(p),
                )
    return Convexity("convex-at-samples", "inf phi'' < 0 but no negative Hessian found")


def _nonsmooth_glm_convexity(loss: UserLoss) -> Convexity:
    r"""A non-smooth GLM is convex if $\varphi(\cdot, b)$ is convex: checked by midpoint
    convexity on a grid (not a proof)."""
    glm = loss.glm
    fun = _lambdify((glm.z, glm.b), [glm.phi])
    zs = np.linspace(-50, 50, 2001)
    for bv in (-1.0, 0.0, 1.0):
        v = np.broadcast_to(np.asarray(fun(zs, bv)[0], dtype=float), zs.shape)
        if np.any(v[:-2] + v[2:] - 2 * v[1:-1] < -1e-9):
            return Convexity("certified-nonconvex", f"phi(., {bv}) violates midpoint convexity")
    return Convexity("convex-at-samples", "phi(., b) midpoint-convex on a grid, b in {-1, 0, 1}")


def mp_grad_norm(loss: UserLoss, x: Sequence[float], A: np.ndarray, y: np.ndarray) -> mpmath.mpf:
    r"""$\lVert\nabla F(x)\rVert$ in 50-digit arithmetic (GLMs only): a residual free of float64
    rounding, for the certificate
    $\lVert\hat x - x^*\rVert \le \lVert\nabla F(\hat x)\rVert/\mu$."""
    if loss.glm is None:
        raise InputError("loss", loss.expression, "not a GLM", "use grad_F in float64")
    glm = loss.glm
    with mpmath.workdps(50):
        # rewrite only sigmoid/softplus: a blanket rewrite(exp) turns b**2 into exp(2 log b),
        # complex for b < 0 (e.g. the pseudo-Huber loss sqrt(1 + (z - b)**2))
        phi1_exp = glm.phi1.rewrite(sigmoid, sympy.exp).rewrite(softplus, sympy.exp)
        phi1 = sympy.lambdify((glm.z, glm.b), phi1_exp, modules=_MP_MODULES)
        xs = [mpmath.mpf(float(v)) for v in x]
        n, d = A.shape
        g = [mpmath.mpf(0)] * d
        for i in range(n):
            row = [mpmath.mpf(float(v)) for v in A[i]]
            zi = mpmath.fsum(r * s for r, s in zip(row, xs))
            p = phi1(zi, mpmath.mpf(float(y[i])))
            for j in range(d):
                g[j] += p * row[j]
        c = mpmath.mpf(sympy.Rational(glm.c).p) / sympy.Rational(glm.c).q
        g = [gj / n + c * xj for gj, xj in zip(g, xs)]
        return mpmath.sqrt(mpmath.fsum(gj**2 for gj in g))
