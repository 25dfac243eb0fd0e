r"""R7 / R8: the energy functions of Theorem 4.2 and Corollary 4.3 (paper Section 4.2).

Glossary: `t` time · `theta` $\theta(t)\in[0,\tau]$ · `tau` τ · `delta` δ · `mu` μ (strong
convexity) · `L` smoothness · `D` radius of the ball $d(x_0, D)$ containing the paths · `H` the
constant of Thm 4.2 · `r2` $\|X(t)-x^*\|^2$ ·
`ip` $\langle\nabla F(X(t-\theta(t))), X(t)-x^*\rangle$ ·
`tr_sigma` $\operatorname{tr}(\sigma\sigma^T)$ · `K` $(\delta+1)(H+2L^2D^2\tau)$.

**Theorem 4.2** (with $\eta_k = 1/(\mu k)$, i.e. $\eta = 1$, $U(t) = \delta/(\mu t)$ in Eq. 6):
the SDDE is $dX = -\frac{1}{\mu t}\nabla F(X(t-\theta))\,dt + \frac{\sqrt\delta}{\mu t}\sigma\,dB$,
the energy is $\mathcal{E}(t) = \frac{t-1}{2}\|X(t)-x^*\|^2 - \frac{K\ln t}{2\mu^2}$, and for
$t > 1$, $\mathbb{E}\|X(t)-x^*\|^2 \le \frac{K\ln t}{(t-1)\mu^2}$.

**Corollary 4.3** is the case $\tau = 0$ (so $\theta\equiv 0$, $K = (\delta+1)H$) with $X(1) = x_0$.

*Remark (start time).* With $U(t) = \delta/(\mu t)$ the coefficients are singular at $t = 0$
($\int_0 dt/t = \infty$), so the SDDE cannot be started from the initial segment on
$[-\tau, 0]$ as Thm 4.2 states; the proof only uses $t\ge 1$ and $\mathcal{E}(1) = 0$ for any
$X(1)$. We read both results as started at $t = 1$ (Cor 4.3 says so explicitly).

This module

* checks that Eq. (6) with the Thm 4.2 schedule gives the printed SDDE (:func:`thm42_sdde_checks`);
* derives $d\,\mathbb{E}\mathcal{E}$ with :mod:`theory.ito` (vector form, and at concrete $d=2$)
  and compares it with the paper's printed first equality (:func:`ito_equality_checks`);
* exposes every later step of the proof sketch as a :class:`ProofStep` — SymPy `left`/`right`
  in named per-path scalars plus NumPy functions (:func:`proof_steps`);
* gives the exact second-moment ODE and its closed-form solution for quadratic
  $F = \tfrac12(x-x^*)^TQ(x-x^*)$, constant σ, $\tau = 0$ (:func:`quadratic_moment_ode`,
  :func:`quadratic_msd_expr`, :func:`quadratic_msd`), an exact reference for R8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from theory.errors import InputError
from theory.ito import (
    IP,
    R2,
    SDDE,
    TR,
    generator,
    quadratic_generator_vector_form,
    state_symbols,
    vector_form_at,
)
from theory.schemes import IdentityCheck, check_identity

__all__ = [
    "VARIABLES",
    "K_constant",
    "ProofStep",
    "energy",
    "energy_rate_paper",
    "energy_rate_vector_form",
    "ito_equality_checks",
    "proof_steps",
    "quadratic_moment_ode",
    "quadratic_msd",
    "quadratic_msd_checks",
    "quadratic_msd_expr",
    "thm42_sdde_checks",
]

t = sp.Symbol("t", positive=True)
theta = sp.Symbol("theta", nonnegative=True)
tau = sp.Symbol("tau", nonnegative=True)
delta = sp.Symbol("delta", positive=True)
mu = sp.Symbol("mu", positive=True)
L = sp.Symbol("L", positive=True)
D = sp.Symbol("D", positive=True)
H = sp.Symbol("H", positive=True)
eta = sp.Symbol("eta", positive=True)

VARIABLES: dict[str, sp.Symbol] = {
    "r2": R2,
    "ip": IP,
    "tr_sigma": TR,
    "t": t,
    "theta": theta,
    "delta": delta,
    "mu": mu,
    "L": L,
    "D": D,
    "H": H,
    "tau": tau,
}
"""Names accepted by :meth:`ProofStep.left` / :meth:`ProofStep.right` and their symbols.

`r2` = $\\|X(t)-x^*\\|^2$, `ip` = $\\langle\\nabla F(X(t-\\theta(t))), X(t)-x^*\\rangle$,
`tr_sigma` = $\\operatorname{tr}(\\sigma\\sigma^T)$ (each per path), the rest parameters."""


def K_constant(corollary: bool) -> sp.Expr:
    """$(\\delta+1)(H + 2L^2D^2\\tau)$, or $(\\delta+1)H$ for Cor 4.3 ($\\tau = 0$)."""
    return (delta + 1) * H if corollary else (delta + 1) * (H + 2 * L**2 * D**2 * tau)


def thm42_coefficients() -> tuple[sp.Expr, sp.Expr]:
    r"""$\alpha(t), \beta(t)$ in $dX = \alpha\nabla F(X(t-\theta))dt + \beta\sigma dB$ (Eq. 6).

    Eq. (6) with $\eta = 1$, $U(t) = \delta/(\mu t)$: $\alpha = -\frac{\eta}{\delta}U$,
    $\beta = \frac{\eta}{\delta}\sqrt\delta\,U$.
    """
    U = delta / (mu * t)
    return -(1 / delta) * U, (1 / delta) * sp.sqrt(delta) * U


def thm42_sdde_checks() -> tuple[IdentityCheck, IdentityCheck]:
    r"""Eq. (6) with the Thm 4.2 schedule equals the printed SDDE (drift and diffusion factors).

    Printed: $dX = -\frac{1}{\mu t}\nabla F\,dt + \frac{\sqrt\delta}{\mu t}\sigma\,dB$.
    """
    alpha, beta = thm42_coefficients()
    return (
        check_identity("Thm 4.2 drift factor: -(eta/delta)U = -1/(mu t)", alpha, -1 / (mu * t)),
        check_identity(
            "Thm 4.2 diffusion factor: (eta/delta) sqrt(delta) U = sqrt(delta)/(mu t)",
            beta,
            sp.sqrt(delta) / (mu * t),
        ),
    )


def energy(corollary: bool = False) -> sp.Expr:
    r"""$\mathcal{E}(t) = \frac{t-1}{2}\|X(t)-x^*\|^2 - \frac{K\ln t}{2\mu^2}$ (scalar `r2`)."""
    return (t - 1) / 2 * R2 - K_constant(corollary) * sp.log(t) / (2 * mu**2)


def energy_rate_vector_form(corollary: bool = False) -> sp.Expr:
    r"""$d\mathbb{E}\mathcal{E}/dt$ integrand derived with Itô's formula (vector form).

    $\mathcal{L}\mathcal{E}$ for $\varphi = t-1$, $\psi = -K\ln t/(2\mu^2)$, $\alpha$, $\beta$ from
    :func:`thm42_coefficients`; the $dB$ term is a martingale and vanishes in expectation
    (under the boundedness hypothesis $X(t)\in d(x_0, D)$).
    """
    alpha, beta = thm42_coefficients()
    psi = -K_constant(corollary) * sp.log(t) / (2 * mu**2)
    return quadratic_generator_vector_form(t - 1, psi, alpha, beta, t)


def energy_rate_paper(corollary: bool = False) -> sp.Expr:
    r"""The paper's printed first equality (proof of Thm 4.2), integrand of $dt$.

    $\tfrac12\|X-x^*\|^2 - \tfrac1\mu\langle\nabla F(X(t-\theta)),X-x^*\rangle
    + \tfrac{1}{t\mu}\langle\cdot,\cdot\rangle + \tfrac{(t-1)\delta}{2\mu^2t^2}\operatorname{tr}
    (\sigma\sigma^T) - \tfrac{K}{2t\mu^2}$; Cor 4.3: same with $\tau = 0$.
    """
    return (
        sp.Rational(1, 2) * R2
        - IP / mu
        + IP / (t * mu)
        + (t - 1) * delta / (2 * mu**2 * t**2) * TR
        - K_constant(corollary) / (2 * t * mu**2)
    )


def ito_equality_checks(corollary: bool = False, d: int = 2) -> tuple[IdentityCheck, ...]:
    r"""The first equality of the proof: Itô derivation vs the printed expression.

    1. vector form (:func:`energy_rate_vector_form`) vs :func:`energy_rate_paper`;
    2. concrete $d$: :func:`theory.ito.generator` of $\mathcal{E}$ on the SDDE with symbols
       `x_i` for $X(t)$, `y_i` for $X(t-\theta)$, $\nabla F(y)$ and σ(y) generic functions,
       vs the printed expression with the inner products written out.
    """
    name = "Cor 4.3" if corollary else "Thm 4.2"
    checks = [
        check_identity(
            f"{name}: Itô dE[energy]/dt (vector form) = paper's first equality",
            energy_rate_vector_form(corollary),
            energy_rate_paper(corollary),
        )
    ]
    x = state_symbols(d, "x")
    y = () if corollary else state_symbols(d, "y")
    args = x if corollary else y  # Cor 4.3: no delay, coefficients depend on X(t)
    x_star = state_symbols(d, "xs")
    G = [sp.Function(f"G_{i + 1}", real=True)(*args) for i in range(d)]
    sigma = sp.Matrix(d, d, lambda i, j: sp.Function(f"sigma_{i + 1}{j + 1}", real=True)(*args))
    alpha, beta = thm42_coefficients()
    sdde = SDDE(t=t, x=x, y=y, drift=alpha * sp.Matrix(G), diffusion=beta * sigma)
    f = (t - 1) / 2 * sum(((xi - si) ** 2 for xi, si in zip(x, x_star)), sp.S.Zero) - K_constant(
        corollary
    ) * sp.log(t) / (2 * mu**2)
    lhs = generator(f, sdde)
    rhs = vector_form_at(energy_rate_paper(corollary), x, x_star, G, sigma)
    # Random-point evaluation needs plain symbols: replace the generic functions by symbols.
    reps = {g: sp.Symbol(f"G{i + 1}", real=True) for i, g in enumerate(G)}
    reps.update(
        {sigma[i, j]: sp.Symbol(f"s{i + 1}{j + 1}", real=True) for i in range(d) for j in range(d)}
    )
    checks.append(
        check_identity(
            f"{name}: Itô generator at d={d} = paper's first equality",
            lhs.xreplace(reps),
            rhs.xreplace(reps),
        )
    )
    return tuple(checks)


# ---------------------------------------------------------------------------------------------
# Proof steps as evaluable expressions


@dataclass(frozen=True)
class ProofStep:
    r"""One displayed step ``left  relation  right`` of a proof sketch.

    `left` / `right` are SymPy expressions in the symbols of :data:`VARIABLES`; the methods
    :meth:`left_value` / :meth:`right_value` evaluate them with NumPy (keyword arrays,
    broadcast; per-path arrays for `r2`, `ip`, `tr_sigma`). `in_expectation` says whether the
    paper's claim is about expectations (average `left` over paths before comparing) or holds
    path by path.
    """

    name: str
    description: str
    relation: str  # "=", "<="
    description_tex: str
    left: sp.Expr
    right: sp.Expr
    in_expectation: bool
    _left_fn: Callable
    _right_fn: Callable
    arguments: tuple[str, ...]

    def _call(self, fn: Callable, values: dict[str, object]) -> np.ndarray:
        missing = [a for a in self.arguments if a not in values]
        if missing:
            raise InputError(
                "values", sorted(values), f"missing {missing}", f"pass all of {self.arguments}"
            )
        out = fn(*(np.asarray(values[a], dtype=float) for a in self.arguments))
        shape = np.broadcast_shapes(*(np.shape(values[a]) for a in self.arguments))
        return np.broadcast_to(np.asarray(out, dtype=float), shape)

    def left_value(self, **values: object) -> np.ndarray:
        """NumPy value of the left side (keyword arguments named as in :data:`VARIABLES`)."""
        return self._call(self._left_fn, values)

    def right_value(self, **values: object) -> np.ndarray:
        """NumPy value of the right side."""
        return self._call(self._right_fn, values)


def _step(
    name: str,
    description: tuple[str, str],
    relation: str,
    left: sp.Expr,
    right: sp.Expr,
    in_exp: bool,
) -> ProofStep:
    used = (sp.sympify(left).free_symbols | sp.sympify(right).free_symbols) & set(
        VARIABLES.values()
    )
    arguments = tuple(n for n, s in VARIABLES.items() if s in used)
    syms = [VARIABLES[n] for n in arguments]
    return ProofStep(
        name=name,
        description=description[0],
        description_tex=description[1],
        relation=relation,
        left=left,
        right=right,
        in_expectation=in_exp,
        _left_fn=sp.lambdify(syms, left, modules="numpy", dummify=True),
        _right_fn=sp.lambdify(syms, right, modules="numpy", dummify=True),
        arguments=arguments,
    )


def proof_steps(corollary: bool = False) -> tuple[ProofStep, ...]:
    r"""Every evaluable step of the proof sketch of Thm 4.2 (or Cor 4.3 with `corollary=True`).

    1. `ito`: $\frac{d}{dt}\mathbb{E}\mathcal{E}$ from Itô (code) $=$ printed first equality.
    2. `first_inequality`: printed equality $\le (\frac{L^2D^2\theta}{\mu^2t} + \frac{LD^2}{t\mu})
       + \frac{\delta}{2\mu^2t}\operatorname{tr}(\sigma\sigma^T) - \frac{K}{2t\mu^2}$
       (in expectation).
    3. `nonpositive`: that right side $\le 0$.
    4. `energy_decreases`: $\mathbb{E}\mathcal{E}(t)\le\mathcal{E}(1) = 0$.
    5. `final_bound`: $\mathbb{E}\|X(t)-x^*\|^2\le\frac{K\ln t}{(t-1)\mu^2}$, $t > 1$.

    For Cor 4.3, $\theta = \tau = 0$ and the inner product is $\langle\nabla F(X(t)), X-x^*\rangle$.
    """
    K = K_constant(corollary)
    sub = {theta: 0, tau: 0} if corollary else {}
    equality = energy_rate_paper(corollary)
    ineq_right = (
        (L**2 * D**2 * theta / (mu**2 * t) + L * D**2 / (t * mu))
        + delta / (2 * mu**2 * t) * TR
        - K / (2 * t * mu**2)
    ).subs(sub)
    return (
        _step(
            "ito",
            (
                "First equality: Itô's formula for the energy (derived by code) vs the printed "
                "expression (integrand of dt, per path; equal as expressions).",
                "First equality: Itô's formula for the energy (derived by code) vs the printed "
                "expression (integrand of $dt$, per path; equal as expressions).",
            ),
            "=",
            energy_rate_vector_form(corollary),
            equality,
            False,
        ),
        _step(
            "first_inequality",
            (
                "First inequality (strong convexity, Lipschitz gradient, delay bound, "
                "(t-1)/t^2 <= 1/t); claimed for expectations.",
                "First inequality (strong convexity, Lipschitz gradient, delay bound, "
                "$(t-1)/t^2\\le 1/t$); claimed for expectations.",
            ),
            "<=",
            equality,
            ineq_right,
            True,
        ),
        _step(
            "nonpositive",
            (
                "Second inequality: the bound is <= 0 when H >= E tr(sigma sigma^T) + 2 mu L D^2 "
                "and theta <= tau.",
                "Second inequality: the bound is $\\le 0$ when $H\\ge\\mathbb{E}"
                "\\operatorname{tr}(\\sigma\\sigma^T)+2\\mu LD^2$ and $\\theta\\le\\tau$.",
            ),
            "<=",
            ineq_right,
            sp.S.Zero,
            True,
        ),
        _step(
            "energy_decreases",
            (
                "E[energy(t)] <= energy(1) = 0 for t >= 1 (integrating dE[energy] <= 0 from 1).",
                "$\\mathbb{E}\\mathcal{E}(t)\\le\\mathcal{E}(1)=0$ for $t\\ge1$ (integrating "
                "$d\\mathbb{E}\\mathcal{E}\\le0$ from $1$).",
            ),
            "<=",
            energy(corollary),
            energy(corollary).subs({t: 1, R2: 0}),
            True,
        ),
        _step(
            "final_bound",
            (
                "Final bound of the theorem: E||X(t)-x*||^2 <= K ln t / ((t-1) mu^2), t > 1.",
                "Final bound of the theorem, $t>1$.",
            ),
            "<=",
            R2,
            K * sp.log(t) / ((t - 1) * mu**2),
            True,
        ),
    )


def nonpositive_certificate(corollary: bool = False) -> sp.Expr:
    r"""$-(\text{right side of the first inequality})\cdot 2t\mu^2$ with $H = \operatorname{tr} +
    2\mu LD^2 + h$, $\theta = \tau - s$ ($h, s\ge 0$): a polynomial with non-negative
    coefficients in non-negative symbols, which proves step `nonpositive` under the
    hypotheses (with $\operatorname{tr}$ the per-path trace; in expectation likewise)."""
    h = sp.Symbol("h", nonnegative=True)
    s = sp.Symbol("s", nonnegative=True)
    step = proof_steps(corollary)[2]
    expr = -step.left * 2 * t * mu**2
    return sp.expand(expr.subs({H: TR + 2 * mu * L * D**2 + h}).subs({theta: tau - s}))


# ---------------------------------------------------------------------------------------------
# Exact reference for R8: quadratic F, constant sigma, tau = 0


def quadratic_moment_ode(d: int = 2) -> tuple[sp.Matrix, sp.Matrix, IdentityCheck]:
    r"""Exact ODE for $P(t) = \mathbb{E}[(X-x^*)(X-x^*)^T]$, quadratic $F$, τ = 0 (Cor 4.3).

    With $Y = X - x^*$, $dY = -\frac{1}{\mu t}QY\,dt + \frac{\sqrt\delta}{\mu t}\sigma\,dB$, Itô's
    formula for $f_{ij} = y_iy_j$ and expectation (replace $y_iy_j$ by $P_{ij}$) give

    $$P'(t) = -\frac{1}{\mu t}(QP + PQ) + \frac{\delta}{\mu^2t^2}\sigma\sigma^T.$$

    Returns `(P_dot_derived, P_dot_expected, check)` at concrete `d` with symmetric symbolic
    $Q$, general symbolic σ; `P_dot_derived` is produced by :func:`theory.ito.generator`.
    """
    y = state_symbols(d, "y")
    Q = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"Q_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    sigma = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"sigma_{i + 1}{j + 1}", real=True))
    P = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"P_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    alpha, beta = thm42_coefficients()
    sde = SDDE(t=t, x=y, y=(), drift=alpha * Q * sp.Matrix(y), diffusion=beta * sigma)
    moments = {y[i] * y[j]: P[i, j] for i in range(d) for j in range(d)}
    moments.update({y[i] ** 2: P[i, i] for i in range(d)})

    def expect(expr: sp.Expr) -> sp.Expr:
        poly = sp.Poly(sp.expand(expr), *y)
        if poly.total_degree() > 2 or any(sum(m) == 1 for m in poly.monoms()):
            raise AssertionError("E[L(y_i y_j)] is not closed in second moments")
        return sp.expand(
            sum(
                (c * (sp.prod([y[i] ** e for i, e in enumerate(m)])).xreplace(moments))
                for m, c in zip(poly.monoms(), poly.coeffs())
            )
        )

    derived = sp.Matrix(d, d, lambda i, j: expect(generator(y[i] * y[j], sde)))
    expected = (-(Q * P + P * Q) / (mu * t) + delta / (mu**2 * t**2) * sigma * sigma.T).applyfunc(
        sp.expand
    )
    diff = (derived - expected).applyfunc(sp.simplify)
    check = check_identity(
        f"quadratic F, tau=0: Itô-derived P'(t) = -(QP+PQ)/(mu t) + delta sigma sigma^T/(mu^2 t^2)"
        f" at d={d} (sum of |entry differences|)",
        sum((sp.Abs(e) for e in diff), sp.S.Zero),
        sp.S.Zero,
    )
    return derived, expected, check


q = sp.Symbol("q", positive=True)
s_ii = sp.Symbol("s", nonnegative=True)
p1 = sp.Symbol("p_1", nonnegative=True)


def quadratic_msd_expr() -> tuple[sp.Expr, sp.Expr]:
    r"""Closed-form eigen-component $p(t)$ of $P$ (diagonal in the eigenbasis of $Q$).

    In the eigenbasis ($Q = V\operatorname{diag}(q_i)V^T$, $S = V^T\sigma\sigma^TV$), the diagonal
    entry solves $p' = -\frac{a}{t}p + \frac{c}{t^2}$, $a = 2q/\mu$, $c = \delta s/\mu^2$,
    $p(1) = p_1$:

    $$p(t) = p_1t^{-a} + \frac{c}{a-1}\bigl(t^{-1} - t^{-a}\bigr)\ (a\ne1), \qquad
    p(t) = \frac{p_1 + c\ln t}{t}\ (a = 1),$$

    and $m(t) = \mathbb{E}\|X(t)-x^*\|^2 = \sum_i p_i(t)$. Returns `(generic, a_equals_1)`.
    """
    a = 2 * q / mu
    c = delta * s_ii / mu**2
    generic = p1 * t ** (-a) + c / (a - 1) * (1 / t - t ** (-a))
    resonant = (p1 + c * sp.log(t)) / t
    return generic, resonant


def quadratic_msd_checks() -> tuple[IdentityCheck, ...]:
    r"""The closed form solves the ODE and the initial condition (exact), and matches `dsolve`.

    `dsolve` is run at $a = 3$ and at the resonant $a = 1$ (exact rational data).
    """
    generic, resonant = quadratic_msd_expr()
    a = 2 * q / mu
    c = delta * s_ii / mu**2
    ode = lambda p: sp.diff(p, t) + a / t * p - c / t**2  # noqa: E731
    checks = [
        check_identity("closed form solves p' = -a p/t + c/t^2", ode(generic), 0),
        check_identity("closed form: p(1) = p_1", generic.subs(t, 1), p1),
        check_identity(
            "resonant a=1 form solves the ODE", ode(resonant).subs(q, mu / 2), sp.S.Zero
        ),
        check_identity("resonant form: p(1) = p_1", resonant.subs(t, 1), p1),
    ]
    f = sp.Function("p")
    for a_val in (sp.Integer(3), sp.Integer(1)):
        c_val = sp.Rational(2, 7)
        p1_val = sp.Rational(5, 3)
        sol = sp.dsolve(
            sp.Eq(f(t).diff(t), -a_val / t * f(t) + c_val / t**2), f(t), ics={f(1): p1_val}
        ).rhs
        ours = (generic if a_val != 1 else resonant).subs(
            {q: a_val * mu / 2, s_ii: c_val * mu**2 / delta, p1: p1_val}
        )
        checks.append(check_identity(f"closed form = dsolve at a={a_val}", ours, sol))
    return tuple(checks)


class QuadraticInputError(InputError):
    """Bad input to :func:`quadratic_msd` (shapes, symmetry, definiteness)."""


def quadratic_msd(
    t_values: np.ndarray,
    Q: np.ndarray,
    sigma: np.ndarray,
    mu: float,
    delta: float,
    P1: np.ndarray,
) -> np.ndarray:
    r"""Exact $m(t) = \mathbb{E}\|X(t)-x^*\|^2$ for Cor 4.3 with quadratic $F$ (NumPy).

    $dX = -\frac{1}{\mu t}Q(X-x^*)dt + \frac{\sqrt\delta}{\mu t}\sigma dB$ on $t\ge1$,
    $\mathbb{E}[(X(1)-x^*)(X(1)-x^*)^T] = P_1$ (for deterministic $x_0$:
    $P_1 = (x_0-x^*)(x_0-x^*)^T$). Uses :func:`quadratic_msd_expr` in the eigenbasis of $Q$,
    with $(t^{-1}-t^{-a})/(a-1)$ evaluated as $t^{-1}\,(1-e^{-(a-1)\ln t})/(a-1)$ via `expm1`
    (continuous through $a = 1$).

    Arguments:
        t_values: times $t\ge 1$ (any shape).
        Q: symmetric positive-definite $d\times d$ Hessian.
        sigma: $d\times r$ constant diffusion factor ($\sigma\sigma^T = \Sigma/b$).
        mu, delta: μ and δ (positive).
        P1: $d\times d$ second-moment matrix at $t = 1$.
    """
    Q = np.atleast_2d(np.asarray(Q, dtype=float))
    sigma = np.atleast_2d(np.asarray(sigma, dtype=float))
    P1 = np.atleast_2d(np.asarray(P1, dtype=float))
    tv = np.asarray(t_values, dtype=float)
    d = Q.shape[0]
    if Q.shape != (d, d) or not np.allclose(Q, Q.T):
        raise QuadraticInputError("Q", Q.shape, "must be a symmetric square matrix", "pass Q")
    if sigma.shape[0] != d or P1.shape != (d, d):
        raise QuadraticInputError(
            "sigma/P1", (sigma.shape, P1.shape), f"need {d} rows / {d}x{d}", "match Q's size"
        )
    if mu <= 0 or delta <= 0:
        raise QuadraticInputError("mu/delta", (mu, delta), "must be > 0", "pass positive values")
    if np.any(tv < 1):
        raise QuadraticInputError("t_values", tv.min(), "must be >= 1", "Cor 4.3 starts at t = 1")
    qs, V = np.linalg.eigh(Q)
    if qs.min() <= 0:
        raise QuadraticInputError("Q", qs.min(), "is not positive definite", "pass an SPD Q")
    S = np.diag(V.T @ sigma @ sigma.T @ V)
    p_init = np.diag(V.T @ P1 @ V)
    a = 2 * qs / mu
    c = delta * S / mu**2
    lt = np.log(tv)[..., None]
    eps = a - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(eps == 0, lt, -np.expm1(-eps * lt) / np.where(eps == 0, 1, eps))
    p = p_init * np.exp(-a * lt) + c * ratio / tv[..., None]
    return p.sum(axis=-1)
