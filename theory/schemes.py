r"""R1: Eq. (4) → Eq. (5) → Eq. (6), the Euler–Maruyama identity (paper Section 3.1).

Glossary: `eta` η learning rate · `eta0` η₀ · `u` $u_k$ schedule · `U` $U(t)$ · `delta` δ time
step · `l_k` delay at step k · `theta` $\theta(t) = l_k\delta$ · `sigma` σ with
$\sigma\sigma^T = \Sigma/b$ · `z` $z_k\sim N(0, I)$ · `mu` μ.

Eq. (5) (Gaussian surrogate of ASGD, Eq. 4):

$$x_{k+1} = x_k - \eta u_k\nabla F(x_{k-l_k}) + \eta u_k\,\sigma(x_{k-l_k})\,z_k.$$

Eq. (6) (SDDE), with the diffusion exactly as printed, $(\eta/\delta)\sqrt\delta\,U(t)\,\sigma$:

$$dX = -\tfrac{\eta}{\delta}U(t)\nabla F(X(t-\theta(t)))\,dt
      + \tfrac{\eta}{\delta}\sqrt{\delta}\,U(t)\,\sigma(X(t-\theta(t)))\,dB(t).$$

One Euler–Maruyama step on $[t_k, t_{k+1}]$, $t_k = k\delta$, with
$B(t_{k+1}) - B(t_k) = \sqrt\delta\,z_k$ and $\theta(t_k) = l_k\delta$ (so
$X(t_k-\theta(t_k)) = X((k-l_k)\delta) \leftrightarrow x_{k-l_k}$) reads

$$X_{k+1} = X_k - \tfrac{\eta}{\delta}U(t_k)\nabla F\,\delta
            + \tfrac{\eta}{\delta}\sqrt\delta\,U(t_k)\,\sigma\,\sqrt\delta\,z_k,$$

which equals Eq. (5) iff $U(k\delta) = u_k$. :func:`check_schedule` computes both sides
componentwise (concrete $d$, generic symbols for $\nabla F$, σ and $z_k$), simplifies the
difference and also evaluates it exactly at random rational points.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp
from sympy.core.random import verify_numerically

from theory.errors import InputError

__all__ = [
    "SCHEDULES",
    "IdentityCheck",
    "R1Result",
    "Schedule",
    "check_all_schedules",
    "check_identity",
    "check_schedule",
    "em_step_eq6",
    "step_eq5",
    "symbols_r1",
]

# Symbols of Section 3.1 (all positive where the paper needs it).
k = sp.Symbol("k", positive=True, integer=True)
t = sp.Symbol("t", positive=True)
delta = sp.Symbol("delta", positive=True)
eta = sp.Symbol("eta", positive=True)
eta0 = sp.Symbol("eta_0", positive=True)
mu = sp.Symbol("mu", positive=True)
l_k = sp.Symbol("l_k", nonnegative=True, integer=True)


def symbols_r1() -> dict[str, sp.Symbol]:
    """The named scalar symbols used by R1 (`k, t, delta, eta, eta0, mu, l_k`)."""
    return {"k": k, "t": t, "delta": delta, "eta": eta, "eta0": eta0, "mu": mu, "l_k": l_k}


@dataclass(frozen=True)
class IdentityCheck:
    r"""One symbolic identity `lhs == rhs`, checked two ways.

    Attributes:
        name: what is claimed, e.g. ``"U(k delta) = u_k"``.
        lhs, rhs: the two sides (SymPy).
        difference: ``simplify(lhs - rhs)``.
        holds_symbolically: ``difference == 0``.
        holds_numerically: exact evaluation of ``lhs - rhs`` at ``n_points`` random rational
            points is 0 at all of them, and SymPy's ``verify_numerically`` agrees.
        n_points: number of random rational points used.
        note: context (which convention, why it may fail).
    """

    name: str
    lhs: sp.Expr
    rhs: sp.Expr
    difference: sp.Expr
    holds_symbolically: bool
    holds_numerically: bool
    n_points: int
    note: str = ""

    @property
    def holds(self) -> bool:
        """Both checks agree that the identity holds."""
        return self.holds_symbolically and self.holds_numerically


def _random_value(sym: sp.Symbol, rng: random.Random) -> sp.Rational:
    if sym.is_integer:
        return sp.Integer(rng.randint(1, 40))
    if sym.is_positive or sym.is_nonnegative:
        return sp.Rational(rng.randint(1, 997), rng.randint(1, 97))
    return sp.Rational(rng.randint(-997, 997), rng.randint(1, 97))


def check_identity(
    name: str,
    lhs: sp.Expr,
    rhs: sp.Expr,
    *,
    n_points: int = 8,
    seed: int = 0,
    note: str = "",
    assume: Callable[[dict], bool] | None = None,
) -> IdentityCheck:
    r"""Check `lhs == rhs`: symbolic simplification plus exact evaluation at random rationals.

    Random points respect the symbols' assumptions (integer → positive integer, positive →
    positive rational); `assume` may reject points (e.g. to keep $\mu k \ge 1$). Evaluation is
    exact (rationals, radicals), so "0" means exactly 0; only when SymPy cannot simplify an
    algebraic value to 0 is it evaluated to 60 digits and accepted if below $10^{-50}$. SymPy's
    ``verify_numerically`` (random complex floats) is run as well.
    """
    if n_points < 1:
        raise InputError("n_points", n_points, "must be >= 1", "use at least one random point")
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    diff = sp.simplify(lhs - rhs)
    rng = random.Random(seed)
    syms = sorted((lhs - rhs).free_symbols, key=str)
    ok = True
    done = 0
    while done < n_points:
        point = {s: _random_value(s, rng) for s in syms}
        if assume is not None and not assume(point):
            continue
        value = sp.simplify(sp.radsimp((lhs - rhs).subs(point)))
        if value != 0:  # an algebraic zero SymPy cannot simplify: 60 significant digits
            value = sp.N(value, 60)
            ok = ok and bool(value.is_number and abs(value) < sp.Float("1e-50", 60))
        done += 1
    ok = ok and bool(verify_numerically(lhs, rhs))
    return IdentityCheck(
        name=name,
        lhs=lhs,
        rhs=rhs,
        difference=diff,
        holds_symbolically=diff == 0,
        holds_numerically=ok,
        n_points=n_points,
        note=note,
    )


@dataclass(frozen=True)
class Schedule:
    r"""A learning-rate schedule of Section 3.1 and its continuous counterpart.

    Attributes:
        name: e.g. ``"(a)"``.
        eta: η in Eq. (4) (a SymPy expression, e.g. `eta0` or 1).
        u: $u_k$ as a function of the symbol `k`.
        U: $U(t)$ as a function of the symbols `t` (and `delta`, which is replaced by the
            schedule's δ).
        delta: the time step δ (an expression, e.g. `eta0`, or the free symbol `delta`).
        statement: the paper's words.
    """

    name: str
    eta: sp.Expr
    u: sp.Expr
    U: sp.Expr
    delta: sp.Expr
    statement: str


SCHEDULES: tuple[Schedule, ...] = (
    Schedule(
        "(a)",
        eta0,
        sp.S.One,
        sp.S.One,
        eta0,
        r"(a) constant learning rate $\eta=\eta_0$, $u_k = 1$, $\delta = \eta_0$.",
    ),
    Schedule(
        "(b)",
        eta0,
        1 / k,
        delta / t,
        delta,
        r"(b) $\eta=\eta_0$, $u_k = 1/k$, $U(t) = \delta/t$; any precision $\delta$.",
    ),
    Schedule(
        "(c)",
        eta0,
        1 / sp.sqrt(k),
        sp.sqrt(delta) / sp.sqrt(t),
        eta0,
        r"(c) $\eta=\eta_0$, $u_k = 1/\sqrt{k}$, $U(t) = \sqrt{\delta}/\sqrt{t}$, $\delta=\eta_0$.",
    ),
    Schedule(
        "Thm 4.2",
        sp.S.One,
        1 / (mu * k),
        delta / (mu * t),
        delta,
        r"Thm 4.2: $\eta_k = 1/(\mu k)$, i.e. $\eta = 1$, $U(t) = \delta/(\mu t)$.",
    ),
)


def step_eq5(
    x_k: sp.Matrix, grad: sp.Matrix, sigma: sp.Matrix, z: sp.Matrix, eta_: sp.Expr, u_k: sp.Expr
) -> sp.Matrix:
    r"""Eq. (5): $x_{k+1} = x_k - \eta u_k\nabla F(x_{k-l_k}) + \eta u_k\sigma(x_{k-l_k}) z_k$."""
    return x_k - eta_ * u_k * grad + eta_ * u_k * sigma * z


def em_step_eq6(
    x_k: sp.Matrix,
    grad: sp.Matrix,
    sigma: sp.Matrix,
    z: sp.Matrix,
    eta_: sp.Expr,
    U: sp.Expr,
    delta_: sp.Expr,
    t_k: sp.Expr,
) -> sp.Matrix:
    r"""Euler–Maruyama step of Eq. (6) at $t_k$ with $\Delta B = \sqrt\delta z_k$.

    $X_{k+1} = X_k + b\,\delta + g\,\Delta B$ with $b = -(\eta/\delta)U(t_k)\nabla F$ and
    $g = (\eta/\delta)\sqrt\delta\,U(t_k)\,\sigma$ (the diffusion as printed in Eq. 6).
    """
    U_k = sp.sympify(U).subs(delta, delta_).subs(t, t_k)
    drift = -(eta_ / delta_) * U_k * grad
    diffusion = (eta_ / delta_) * sp.sqrt(delta_) * U_k * sigma
    dB = sp.sqrt(delta_) * z
    return x_k + drift * delta_ + diffusion * dB


@dataclass(frozen=True)
class R1Result:
    """R1 for one schedule: the checks ``U(k delta) = u_k``, the delay index, the EM step."""

    schedule: Schedule
    checks: tuple[IdentityCheck, ...] = field(default_factory=tuple)

    @property
    def holds(self) -> bool:
        """All identities hold."""
        return all(c.holds for c in self.checks)


def check_schedule(schedule: Schedule, d: int = 2, seed: int = 0, n_points: int = 6) -> R1Result:
    r"""Check R1 for one schedule at dimension `d` (generic symbols, exact arithmetic).

    Returns three identities: $U(k\delta) = u_k$; $t_k - \theta(t_k) = (k - l_k)\delta$
    (so the delayed SDDE state is sampled at the delayed iterate); and, componentwise,
    EM step of Eq. (6) $=$ Eq. (5).
    """
    if not isinstance(d, int) or d < 1:
        raise InputError("d", d, "must be a positive integer", "use d >= 1")
    dl = sp.sympify(schedule.delta)
    t_k = k * dl
    x_k = sp.Matrix(sp.symbols(f"x_k1:{d + 1}", real=True))
    grad = sp.Matrix(sp.symbols(f"g1:{d + 1}", real=True))  # ∇F(x_{k-l_k})
    z = sp.Matrix(sp.symbols(f"z1:{d + 1}", real=True))
    sigma = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"sigma_{i + 1}{j + 1}", real=True))
    assume = None
    if schedule.u.has(mu):

        def assume(p: dict) -> bool:  # u_k in [0, 1] requires mu k >= 1
            return p.get(mu, 1) * p.get(k, 1) >= 1

    checks = [
        check_identity(
            f"{schedule.name}: U(k delta) = u_k",
            sp.sympify(schedule.U).subs(delta, dl).subs(t, t_k),
            schedule.u,
            seed=seed,
            n_points=n_points,
            assume=assume,
        ),
        check_identity(
            f"{schedule.name}: t_k - theta(t_k) = (k - l_k) delta",
            t_k - l_k * dl,
            (k - l_k) * dl,
            seed=seed,
            n_points=n_points,
        ),
    ]
    lhs = em_step_eq6(x_k, grad, sigma, z, schedule.eta, schedule.U, dl, t_k)
    rhs = step_eq5(x_k, grad, sigma, z, schedule.eta, schedule.u)
    for i in range(d):
        checks.append(
            check_identity(
                f"{schedule.name}: EM step of Eq. (6) = Eq. (5), component {i + 1}",
                lhs[i],
                rhs[i],
                seed=seed + i + 1,
                n_points=n_points,
                assume=assume,
            )
        )
    return R1Result(schedule=schedule, checks=tuple(checks))


def check_all_schedules(d: int = 2, seed: int = 0) -> tuple[R1Result, ...]:
    """R1 for (a), (b), (c) and the Thm 4.2 schedule."""
    return tuple(check_schedule(s, d=d, seed=seed) for s in SCHEDULES)
