r"""Itô calculus for SDEs and SDDEs, in exact SymPy arithmetic.

Glossary: `t` time · `x` the state $X(t)$ · `y` the delayed state $X(t-\theta(t))$ ·
`drift` $b$ · `diffusion` $g$ ($d\times r$) · `B` an $r$-dimensional Brownian motion.

For a (delay) equation

$$dX(t) = b\bigl(t, X(t), X(t-\theta(t))\bigr)\,dt + g\bigl(t, X(t), X(t-\theta(t))\bigr)\,dB(t)$$

and a $C^{1,2}$ function $f(t, x)$ the generator and the Itô differential are

$$\mathcal{L}f = \partial_t f + \nabla f\cdot b + \tfrac12\operatorname{tr}(g g^T\nabla^2 f),
\qquad df(t, X(t)) = \mathcal{L}f\,dt + \nabla f^T g\,dB(t).$$

**Why the delayed state is not differentiated.** Itô's formula is applied to $f(t, X(t))$
where $X$ is an Itô process $dX = \beta(t)\,dt + \gamma(t)\,dB$ whose coefficient processes
$\beta(t) = b(t, X(t), X(t-\theta(t)))$ and $\gamma(t) = g(\dots)$ are merely *adapted*
(they are known at time $t$, because $t-\theta(t)\le t$). Itô's formula for Itô processes only
needs adapted, integrable coefficients; it differentiates $f$ in its own arguments $(t, x)$,
never the coefficients. So the delayed state enters $\mathcal{L}f$ only through $b$ and $g$,
and it is represented by its own symbols `y_1..y_d` on which $\nabla$, $\nabla^2$ do not act.
($f$ itself must not depend on `y`; this is checked.)

Two forms are provided:

* concrete dimension: :func:`generator` / :func:`ito_differential` on an :class:`SDDE` with
  symbols `x_1..x_d`, `y_1..y_d` and matrix coefficients;
* vector form for printing: :func:`quadratic_generator_vector_form` for
  $f = \tfrac{\varphi(t)}{2}\|X-x^*\|^2 + \psi(t)$ with $b = \alpha(t)\,G$ and
  $g = \beta(t)\,\sigma$,
  written with the abstract scalars $\|X-x^*\|^2$, $\langle G, X-x^*\rangle$,
  $\operatorname{tr}(\sigma\sigma^T)$; :func:`vector_form_at` maps it back to a concrete
  dimension so the printed form can be checked against :func:`generator`.

All arithmetic is exact: inputs containing floating-point numbers are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from theory.errors import InputError

__all__ = [
    "IP",
    "LATEX_NAMES",
    "R2",
    "SDDE",
    "TR",
    "InexactInputError",
    "ItoDifferential",
    "ShapeError",
    "generator",
    "ito_differential",
    "quadratic_generator_vector_form",
    "state_symbols",
    "vector_form_at",
]


class InexactInputError(InputError):
    """A symbolic input contains a floating-point number (exact rationals are required)."""


class ShapeError(InputError):
    """Drift, diffusion or state symbols have inconsistent shapes."""


def _require_exact(name: str, expr: sp.Basic) -> None:
    floats = sp.sympify(expr).atoms(sp.Float)
    if floats:
        raise InexactInputError(
            name,
            expr,
            f"contains floating-point numbers {sorted(map(str, floats))}",
            "use sympy.Rational (e.g. Rational(1, 2) instead of 0.5)",
        )


def state_symbols(d: int, name: str = "x") -> tuple[sp.Symbol, ...]:
    """Real symbols `name_1 .. name_d` (`x_i` for $X(t)$, `y_i` for $X(t-\\theta)$)."""
    if not isinstance(d, int) or d < 1:
        raise ShapeError("d", d, "must be a positive integer", "pass the dimension d >= 1")
    return tuple(sp.Symbol(f"{name}_{i}", real=True) for i in range(1, d + 1))


@dataclass(frozen=True)
class SDDE:
    r"""$dX = b(t, x, y)\,dt + g(t, x, y)\,dB$ with $x = X(t)$ and $y = X(t-\theta(t))$.

    Arguments:
        t: the time symbol.
        x: symbols of the current state $X(t)$ (length $d$).
        y: symbols of the delayed state $X(t-\theta(t))$ (length $d$, or empty for an SDE).
        drift: $d\times 1$ matrix $b$.
        diffusion: $d\times r$ matrix $g$.

    Raises:
        ShapeError: inconsistent shapes or overlapping symbols.
        InexactInputError: a coefficient contains a float.
    """

    t: sp.Symbol
    x: tuple[sp.Symbol, ...]
    y: tuple[sp.Symbol, ...]
    drift: sp.Matrix
    diffusion: sp.Matrix

    def __post_init__(self) -> None:
        d = len(self.x)
        drift = sp.Matrix(self.drift)
        diffusion = sp.Matrix(self.diffusion)
        object.__setattr__(self, "drift", drift)
        object.__setattr__(self, "diffusion", diffusion)
        object.__setattr__(self, "x", tuple(self.x))
        object.__setattr__(self, "y", tuple(self.y))
        if d == 0:
            raise ShapeError("x", self.x, "is empty", "give d >= 1 state symbols")
        if drift.shape != (d, 1):
            raise ShapeError(
                "drift", drift.shape, f"must be a {d}x1 column", "give one drift entry per x"
            )
        if diffusion.rows != d:
            raise ShapeError(
                "diffusion", diffusion.shape, f"must have {d} rows", "give a d x r matrix"
            )
        if self.y and len(self.y) != d:
            raise ShapeError(
                "y", self.y, f"must have length {d} (or 0 for an SDE)", "one symbol per x"
            )
        if set(self.x) & set(self.y) or self.t in set(self.x) | set(self.y):
            raise ShapeError(
                "y", self.y, "shares symbols with x or t", "use distinct symbols for X(t-theta)"
            )
        _require_exact("drift", drift)
        _require_exact("diffusion", diffusion)

    @property
    def d(self) -> int:
        """State dimension $d$."""
        return len(self.x)

    @property
    def r(self) -> int:
        """Brownian dimension $r$."""
        return self.diffusion.cols


@dataclass(frozen=True)
class ItoDifferential:
    r"""$df = \text{dt}\,dt + \text{dB}\,dB(t)$; `dB` is a $1\times r$ row ($\nabla f^T g$)."""

    dt: sp.Expr
    dB: sp.Matrix

    def expectation_rate(self) -> sp.Expr:
        r"""$\frac{d}{dt}\mathbb{E} f$ integrand: the $dB$ part is a martingale, mean zero."""
        return self.dt


def _check_f(f: sp.Expr, sdde: SDDE) -> sp.Expr:
    f = sp.sympify(f)
    _require_exact("f", f)
    if set(sdde.y) & f.free_symbols:
        raise InputError(
            "f",
            f,
            "depends on the delayed state y",
            "Itô's formula here is for f(t, X(t)); write f in t and x only",
        )
    return f


def generator(f: sp.Expr, sdde: SDDE) -> sp.Expr:
    r"""$\mathcal{L}f = \partial_t f + \sum_i b_i\,\partial_{x_i} f
    + \tfrac12\sum_{i,j}(gg^T)_{ij}\,\partial_{x_i}\partial_{x_j} f$ (exact, expanded).

    $\nabla$ and $\nabla^2$ act on $x = X(t)$ only (see module docstring).
    """
    f = _check_f(f, sdde)
    grad = sp.Matrix([sp.diff(f, xi) for xi in sdde.x])
    hess = sp.hessian(f, sdde.x)
    a = sdde.diffusion * sdde.diffusion.T
    second = sum((a[i, j] * hess[i, j] for i in range(sdde.d) for j in range(sdde.d)), sp.S.Zero)
    first = (grad.T * sdde.drift)[0, 0]
    return sp.expand(sp.diff(f, sdde.t) + first + sp.Rational(1, 2) * second)


def ito_differential(f: sp.Expr, sdde: SDDE) -> ItoDifferential:
    r"""$df = \mathcal{L}f\,dt + \nabla f^T g\,dB$ (Itô's formula)."""
    f = _check_f(f, sdde)
    grad = sp.Matrix([sp.diff(f, xi) for xi in sdde.x])
    return ItoDifferential(dt=generator(f, sdde), dB=(grad.T * sdde.diffusion).applyfunc(sp.expand))


# ---------------------------------------------------------------------------------------------
# Vector form (for printing) and its concrete-dimension image (for checking)

R2 = sp.Symbol("r2", nonnegative=True)
"""Abstract scalar $\\|X(t)-x^*\\|^2$."""
IP = sp.Symbol("ip", real=True)
"""Abstract scalar $\\langle G, X(t)-x^*\\rangle$, $G$ the drift direction
(e.g. $\\nabla F(X(t-\\theta))$)."""
TR = sp.Symbol("tr_sigma", nonnegative=True)
"""Abstract scalar $\\operatorname{tr}(\\sigma\\sigma^T)$."""

LATEX_NAMES: dict[sp.Symbol, str] = {
    R2: r"\|X(t)-x^*\|^2",
    IP: r"\langle G, X(t)-x^*\rangle",
    TR: r"\operatorname{tr}(\sigma\sigma^T)",
}
"""`symbol_names` for :func:`sympy.latex` so the abstract scalars print as mathematics."""


def quadratic_generator_vector_form(
    phi: sp.Expr, psi: sp.Expr, alpha: sp.Expr, beta: sp.Expr, t: sp.Symbol
) -> sp.Expr:
    r"""Generator of $f = \tfrac{\varphi(t)}{2}\|X-x^*\|^2 + \psi(t)$ in vector form.

    For $dX = \alpha(t)\,G\,dt + \beta(t)\,\sigma\,dB$ (any $d$; $G$ and $\sigma$ may depend on
    the delayed state), $\nabla f = \varphi (X-x^*)$ and $\nabla^2 f = \varphi I$, so

    $$\mathcal{L}f = \tfrac{\varphi'}{2}\|X-x^*\|^2 + \psi' + \varphi\alpha\langle G, X-x^*\rangle
    + \tfrac{\varphi\beta^2}{2}\operatorname{tr}(\sigma\sigma^T),$$

    returned in the abstract scalars :data:`R2`, :data:`IP`, :data:`TR`.
    """
    for name, e in (("phi", phi), ("psi", psi), ("alpha", alpha), ("beta", beta)):
        _require_exact(name, e)
    return sp.expand(
        sp.diff(phi, t) / 2 * R2 + sp.diff(psi, t) + phi * alpha * IP + phi * beta**2 / 2 * TR
    )


def vector_form_at(
    expr: sp.Expr,
    x: Sequence[sp.Symbol],
    x_star: Sequence[sp.Expr],
    G: Sequence[sp.Expr],
    sigma: sp.Matrix,
) -> sp.Expr:
    r"""Substitute concrete $d$-dimensional values for :data:`R2`, :data:`IP`, :data:`TR`.

    $\|X-x^*\|^2 = \sum_i (x_i-x^*_i)^2$, $\langle G, X-x^*\rangle = \sum_i G_i(x_i-x^*_i)$,
    $\operatorname{tr}(\sigma\sigma^T) = \sum_{ij}\sigma_{ij}^2$.
    """
    if not (len(x) == len(x_star) == len(G) == sp.Matrix(sigma).rows):
        raise ShapeError("x", x, "x, x_star, G and sigma rows differ in length", "match d")
    sigma = sp.Matrix(sigma)
    diff = [xi - si for xi, si in zip(x, x_star)]
    return sp.expand(
        sp.sympify(expr).subs(
            {
                R2: sum((v**2 for v in diff), sp.S.Zero),
                IP: sum((g * v for g, v in zip(G, diff)), sp.S.Zero),
                TR: (sigma * sigma.T).trace(),
            }
        )
    )
