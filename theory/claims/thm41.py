r"""Theorem 4.1 (moment estimation for linear regression, §4.1, Eq. (7)) and its proof steps.

Glossary: `t` time · `tau` $\tau$ · `lam` $\lambda\in(0,-V)$ · `epsilon` $\epsilon$ ·
`eta` $\eta=\epsilon/\tau^2$ · `V` rightmost real part of the characteristic roots ·
`c_lambda` $c_\lambda$ · `xi_tilde` $\|\tilde\xi\|$ · `norm_A` $\|\tilde A\|_2$ · `sigma_sq`
$\mathbb E\|\sigma\|^2$ · `a1`, `a2`, `C5`, `C6` the proof's constants
(:func:`theory.constants.thm41_constants` computes them; they enter here as symbols).

**Claim.** If $V<0$, then for $\lambda\in(0,-V)$ and $\eta = \epsilon/\tau^2$,
$$\mathbb E\|X(t)-x^*\|^2 \le C_5e^{-2\lambda(t-\tau)} + C_6\frac{\epsilon}{\lambda\tau^2}.$$

**Proof steps** (each its own claim, ``thm4.1/<step>``): (a) `mean`
$\|\mathbb EX(t)-x^*\|\le a_1e^{-\lambda t}$; (b) `variance`
$\mathbb E\|X(t)-\mathbb EX(t)\|^2\le a_2(1-e^{-2\lambda t})$; `combined` (a) and (b) put in
the decomposition (c), bounded by (d) `intermediate`
$\frac{c_\lambda^2}{\lambda^2}[(\|\tilde\xi\|^2(\|\tilde A\|+\lambda)^2 +
\lambda\eta\mathbb E\|\sigma\|^2)e^{2\lambda\tau}]e^{-2\lambda t} +
\frac{c_\lambda^2\eta\mathbb E\|\sigma\|^2}{2\lambda}$; (e) `final` = the claim.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sympy as sp
from sympy.codegen.cfunctions import expm1

from theory.claims.base import Claim, Condition, Domain, Param
from theory.constants import thm41_constants

__all__ = ["CLAIMS", "COMBINED", "INTERMEDIATE", "MEAN", "THM41", "VARIANCE"]

t, tau, lam, epsilon, eta = sp.symbols("t tau lam epsilon eta", positive=True)
c_lambda, xi_tilde, norm_A, sigma_sq = sp.symbols(
    "c_lambda xi_tilde norm_A sigma_sq", nonnegative=True
)
a1, a2, C5, C6 = sp.symbols("a1 a2 C5 C6", nonnegative=True)


def _derived(p: Mapping[str, Any]) -> Mapping[str, float]:
    """The constants from :func:`theory.constants.thm41_constants` when the parameters give
    the problem (`A_tilde`, `tau`, `lam`, `epsilon`, `xi_tilde`, `sigma_sq`); nothing when the
    caller passes the constants themselves."""
    if all(k in p for k in ("a1", "a2", "C5", "C6")) or "A_tilde" not in p:
        return {}
    c = thm41_constants(
        p["A_tilde"], p["tau"], p["lam"], p["epsilon"], p["xi_tilde"], p["sigma_sq"]
    )
    return {
        "a1": c.a1,
        "a2": c.a2,
        "C5": c.C5,
        "C6": c.C6,
        "c_lambda": c.c_lambda.value,
        "norm_A": c.norm_A,
        "eta": c.eta,
    }


def _v_negative(p: Mapping[str, Any]) -> tuple[bool, str]:
    certified = p.get("V_certified_negative")
    V = float(p["V"])
    if certified is None and "V_certified_negative" in p:
        return False, f"V < 0 undecidable (V = {V:.6g}, certificate inconclusive)"
    ok = bool(certified) if certified is not None else V < 0
    return ok, f"certified V = {V:.6g}"


def _lam_in_interval(p: Mapping[str, Any]) -> tuple[bool, str]:
    V, lv = float(p["V"]), float(p["lam"])
    return 0 < lv < -V, f"lambda = {lv:.6g}, -V = {-V:.6g}"


def _eta_rule(p: Mapping[str, Any]) -> tuple[bool, str]:
    if "eta" not in p:
        return True, "by construction"
    want = float(p["epsilon"]) / float(p["tau"]) ** 2
    ok = math.isclose(float(p["eta"]), want, rel_tol=1e-12)
    return ok, f"eta = {float(p['eta']):.6g}, epsilon/tau^2 = {want:.6g}"


HYPOTHESES = (
    Condition("V < 0 (certified, theory.roots)", _v_negative, needs=("V",)),
    Condition("lambda in (0, -V)", _lam_in_interval, needs=("V", "lam")),
    Condition("eta = epsilon / tau^2", _eta_rule, needs=("epsilon", "tau")),
)

DOMAIN = Domain(
    (
        Param("kappa", 1.0, 1e3, log=True, note="condition number of A_tilde"),
        Param("L_tau", 1e-3, math.pi / 2, log=True, note="V < 0 iff lambda_max tau < pi/2"),
        Param("lam_frac", 1e-3, 1 - 1e-6, note="lambda = f (-V), f in (0, 1)"),
        Param("epsilon", 1e-6, 1.0, log=True),
        Param("b", 1, 10**3, log=True, integer=True),
        Param("t", 0.0, math.inf, note="every t >= 0, t = inf via the stationary variance"),
    )
)

_CONV = (
    "c_lambda = sup_{t>=0} ||Gamma(t)||_2 e^{lambda t} (SPEC §1)",
    "xi_tilde = xi - x* with the sup norm over [-tau, 0]",
    "G G^T = eta Sigma(x*)/b (sigma at x*); E||sigma||^2 = tr Sigma(x*)/b (Frobenius)",
    "||A_tilde|| spectral norm",
)

THM41 = Claim(
    id="thm4.1",
    result="Thm 4.1",
    where="§4.1, Theorem 4.1, Eq. (7)",
    statement=(
        "If V < 0 then for lambda in (0, -V) and eta = epsilon/tau^2: "
        "E||X(t)-x*||^2 <= C5 e^{-2 lambda (t - tau)} + C6 epsilon/(lambda tau^2)"
    ),
    latex=(
        r"\mathbb E\|X(t)-x^*\|^2 \le C_5e^{-2\lambda(t-\tau)} + C_6\frac{\epsilon}{\lambda\tau^2}"
    ),
    lhs="E||X(t)-x*||^2",
    lhs_latex=r"\mathbb E\|X(t)-x^*\|^2",
    rhs_expr=C5 * sp.exp(-2 * lam * (t - tau)) + C6 * epsilon / (lam * tau**2),
    hypotheses=HYPOTHESES,
    domain=DOMAIN,
    derived=_derived,
    readings={
        "frobenius": "E||sigma||^2 = tr Sigma(x*)/b (squared Frobenius norm)",
        "spectral": "E||sigma||^2 = ||Sigma(x*)||_2/b (squared spectral norm)",
    },
    literal="frobenius",
    conventions=(*_CONV, "reading: the bound must hold for every lambda in (0, -V), t >= 0"),
)


def _step(name: str, statement: str, latex: str, lhs: str, lhs_latex: str, rhs: sp.Expr) -> Claim:
    return Claim(
        id=f"thm4.1/{name}",
        result="Thm 4.1",
        where="§4.1, proof of Theorem 4.1",
        statement=statement,
        latex=latex,
        lhs=lhs,
        lhs_latex=lhs_latex,
        rhs_expr=rhs,
        hypotheses=HYPOTHESES,
        domain=DOMAIN,
        derived=_derived,
        conventions=_CONV,
    )


MEAN = _step(
    "mean",
    "(a) ||E X(t) - x*|| <= a1 e^{-lambda t}",
    r"\|\mathbb EX(t)-x^*\|\le a_1e^{-\lambda t}",
    "||E X(t) - x*||",
    r"\|\mathbb EX(t)-x^*\|",
    a1 * sp.exp(-lam * t),
)
VARIANCE = _step(
    "variance",
    "(b) E||X(t) - E X(t)||^2 <= a2 (1 - e^{-2 lambda t})",
    r"\mathbb E\|X(t)-\mathbb EX(t)\|^2\le a_2(1-e^{-2\lambda t})",
    "E||X(t) - E X(t)||^2",
    r"\mathbb E\|X(t)-\mathbb EX(t)\|^2",
    -a2 * expm1(-2 * lam * t),
)
#: (a) and (b) put in the decomposition (c): the right side the proof actually has
COMBINED = _step(
    "combined",
    "(a)+(b) in (c): a1^2 e^{-2 lambda t} + a2 (1 - e^{-2 lambda t}) <= display (d)",
    r"a_1^2e^{-2\lambda t}+a_2(1-e^{-2\lambda t})",
    "E||X(t)-x*||^2",
    r"\mathbb E\|X(t)-x^*\|^2",
    MEAN.rhs_expr**2 + VARIANCE.rhs_expr,
)
INTERMEDIATE = _step(
    "intermediate",
    "(d) E||X(t)-x*||^2 <= c^2/lambda^2 [(xi^2 (||A||+lambda)^2 + lambda eta E||sigma||^2) "
    "e^{2 lambda tau}] e^{-2 lambda t} + c^2 eta E||sigma||^2 / (2 lambda)",
    r"\mathbb E\|X(t)-x^*\|^2\le\frac{c_\lambda^2}{\lambda^2}\big[(\|\tilde\xi\|^2(\|\tilde A\|"
    r"+\lambda)^2+\lambda\eta\mathbb E\|\sigma\|^2)e^{2\lambda\tau}\big]e^{-2\lambda t}"
    r"+\frac{c_\lambda^2\eta\mathbb E\|\sigma\|^2}{2\lambda}",
    "E||X(t)-x*||^2",
    r"\mathbb E\|X(t)-x^*\|^2",
    c_lambda**2
    / lam**2
    * (xi_tilde**2 * (norm_A + lam) ** 2 + lam * eta * sigma_sq)
    * sp.exp(2 * lam * tau)
    * sp.exp(-2 * lam * t)
    + c_lambda**2 * eta * sigma_sq / (2 * lam),
)

CLAIMS = (THM41, MEAN, VARIANCE, COMBINED, INTERMEDIATE)

#: the proof's constants as printed (the final display), in the symbols above;
#: :func:`theory.constants.thm41_constants` evaluates the same definitions in floats
CONSTANTS = {
    a1: c_lambda * xi_tilde + c_lambda * xi_tilde * norm_A * (sp.exp(lam * tau) - 1) / lam,
    a2: c_lambda**2 * eta * sigma_sq / (2 * lam),
    C5: c_lambda**2
    / lam**2
    * (xi_tilde**2 * (norm_A + lam) ** 2 + lam * epsilon * sigma_sq / tau**2),
    C6: c_lambda**2 * sigma_sq / 2,
}


def proof_final_difference(scale: sp.Expr = sp.S.One) -> sp.Expr:
    r"""Step (e) symbolically: display (d) at $\eta = \epsilon/\tau^2$ minus `scale` times the
    stated right side with $C_5$, $C_6$ as defined; 0 iff the step is an identity."""
    d = INTERMEDIATE.rhs_expr.subs(eta, epsilon / tau**2)
    final = THM41.rhs_expr.subs({C5: CONSTANTS[C5], C6: CONSTANTS[C6]})
    return sp.simplify(sp.expand(d - scale * final))


p_exp, C_fit = sp.symbols("p C_fit", positive=True)
#: the discussion after Thm 4.1: at t* = tau + log(1/eps)/(2 lambda), E||X - x*||^2 = O(eps^p)
#: with p = 1 claimed; `C_fit` is the smallest constant covering the calibration epsilons
DISCUSSION = Claim(
    id="thm4.1/discussion",
    result="Thm 4.1",
    where="§4.1, Discussion after Theorem 4.1",
    statement="t >= tau + log(1/eps)/(2 lambda) gives E||X(t)-x*||^2 <= O(eps)",
    latex=(
        r"t \ge \tau + \tfrac{\log(1/\epsilon)}{2\lambda} \Rightarrow "
        r"\mathbb E\|X(t)-x^*\|^2 \le O(\epsilon)"
    ),
    lhs="E||X(t*)-x*||^2",
    lhs_latex=r"\mathbb E\|X(t^*)-x^*\|^2",
    rhs_expr=C_fit * epsilon**p_exp,
    hypotheses=HYPOTHESES[:2],
    domain=DOMAIN,
    conventions=_CONV,
)

CLAIMS = (*CLAIMS, DISCUSSION)
