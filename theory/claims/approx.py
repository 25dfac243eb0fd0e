r"""Theorems 3.2, 3.4 and Corollary 3.3 (approximation error of ASGD by the SDDE, §3.2).

Glossary: `K` iterations ($\eta = \delta = 1/K$, $t_K = 1$) · `b` minibatch size · `l` delay
bound · `L` Lipschitz constant of $\nabla F$ · `e_K`, `e_b` the claimed exponents ($-1/2$;
symbols, so a falsified exponent goes through the same statement) · `C1`…`C4` free constants.

All three are existence claims ("where $C_1, C_2$ are constants"): the form
$\sum_i C_i\varphi_i(K, b, l)$ is the statement, checked by the SPEC §2 rate check.

- **Thm 3.2** (delays $l_k\le l$, random): $\mathbb E\|X(t_K)-x_K\| \le C_1(K^{-1/2} +
  lK^{-3/2}) + C_2 e^{L(l+1)}/(\sqrt b(l+1))$ if $\eta L(l+1)\le1$.
- **Cor 3.3** is Thm 3.2 at $l = 0$: $C_1K^{-1/2} + C_2e^L/\sqrt b$ if $\eta L \le 1$.
- **Thm 3.4** (constant $l_k = l$): $C_3(K^{-1/2} + lK^{-3/2}) + C_4e^L/\sqrt b$ if
  $\eta Ll\le1$.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import sympy as sp

from theory.claims.base import Claim, Condition, Domain, Param, RateTerm

__all__ = ["CLAIMS", "COR33", "STEP", "THM32", "THM34", "step_product"]

K, b, l, L, e_K, e_b = sp.symbols("K b l L e_K e_b", positive=True)
C1, C2, C3, C4 = sp.symbols("C1 C2 C3 C4", nonnegative=True)

#: the step hypothesis of each result by delay kind: (text, factor f(l)) with
#: $\eta L f(l) \le 1$, $\eta = 1/K$ (paper wording: Thm 3.2 $l+1$, Cor 3.3 $1$, Thm 3.4 $l$).
STEP: dict[str, tuple[str, Any]] = {
    "random": ("eta L (l+1) <= 1", lambda l: l + 1),
    "none": ("eta L <= 1", lambda l: 1),
    "constant": ("eta L l <= 1", lambda l: l),
}


def step_product(kind: str, p: Mapping[str, Any]) -> float:
    r"""$\eta L f(l)$ with $\eta = 1/K$ (the quantity the step hypothesis bounds by 1)."""
    return float(p["L"]) * STEP[kind][1](int(p["l"])) / int(p["K"])


def _step_condition(kind: str) -> Condition:
    text = STEP[kind][0]

    def test(p: Mapping[str, Any]) -> tuple[bool, str]:
        g = step_product(kind, p)
        return g <= 1.0, f"{text.split(' <=')[0]} = {g:.4g} (K={p['K']}, l={p['l']})"

    return Condition(text, test, needs=("K", "l", "L"))


def _lipschitz(p: Mapping[str, Any]) -> tuple[bool, str]:
    Lv = float(p["L"])
    return math.isfinite(Lv) and Lv > 0, f"L = {Lv:.4g}"


LIPSCHITZ = Condition("grad F L-Lipschitz", _lipschitz, needs=("L",))

_DOMAIN = (
    Param("K", 1, 2**16, log=True, integer=True, note="eta = delta = 1/K"),
    Param("b", 1, 10**4, log=True, integer=True, note="b = 1 up to b = n"),
    Param("l", 0, 64, integer=True, note="l = 0 is SGD"),
)
_CONV = (
    "F = average of f_i (SPEC §1); minibatches drawn with replacement",
    "delta = eta = 1/K, u_k = 1, so t_K = 1 (fixed horizon, K refines)",
)

_k_term = K**e_K + l * K ** (e_K - 1)
THM32 = Claim(
    id="thm3.2",
    result="Thm 3.2",
    where="§3.2, Theorem 3.2",
    statement=(
        "E||X(t_K) - x_K|| <= C1 (1/sqrt K + l/K^{3/2}) + C2 e^{L(l+1)}/(sqrt(b)(l+1)), "
        "delta = eta = 1/K, eta L (l+1) <= 1, random delays l_k <= l"
    ),
    latex=(
        r"\mathbb E\|X(t_K)-x_K\| \le C_1\left(\tfrac{1}{\sqrt K}+\tfrac{l}{K^{3/2}}\right)"
        r"+C_2\tfrac{e^{L(l+1)}}{\sqrt b\,(l+1)}"
    ),
    lhs="E||X(t_K) - x_K||",
    lhs_latex=r"\mathbb E\|X(t_K)-x_K\|",
    rhs_expr=C1 * _k_term + C2 * sp.exp(L * (l + 1)) * b**e_b / (l + 1),
    terms=(
        RateTerm("C1", _k_term),
        RateTerm("C2", sp.exp(L * (l + 1)) * b**e_b / (l + 1)),
    ),
    hypotheses=(
        LIPSCHITZ,
        Condition("delta = eta = 1/K, u_k = 1", lambda p: (True, "by construction")),
        _step_condition("random"),
    ),
    domain=Domain(_DOMAIN),
    conventions=_CONV,
)

COR33 = Claim(
    id="cor3.3",
    result="Cor 3.3",
    where="§3.2, Corollary 3.3",
    statement=(
        "E||X(t_K) - x_K|| <= C1/sqrt(K) + C2 e^L/sqrt(b), delta = eta = 1/K, eta L <= 1, l = 0"
    ),
    latex=r"\mathbb E\|X(t_K)-x_K\| \le C_1\tfrac{1}{\sqrt K}+C_2\tfrac{e^{L}}{\sqrt b}",
    lhs=THM32.lhs,
    lhs_latex=THM32.lhs_latex,
    rhs_expr=THM32.rhs_expr.subs(l, 0),
    terms=tuple(RateTerm(t.constant, t.expr.subs(l, 0)) for t in THM32.terms),
    hypotheses=(THM32.hypotheses[0], THM32.hypotheses[1], _step_condition("none")),
    domain=Domain(tuple(p for p in _DOMAIN if p.name != "l")),
    conventions=_CONV,
)

_b_const = sp.exp(L) * b**e_b
THM34 = Claim(
    id="thm3.4",
    result="Thm 3.4",
    where="§3.2, Theorem 3.4",
    statement=(
        "E||X(t_K) - x_K|| <= C3 (1/sqrt K + l/K^{3/2}) + C4 e^L/sqrt(b), delta = eta = 1/K, "
        "eta L l <= 1, l_k = l"
    ),
    latex=(
        r"\mathbb E\|X(t_K)-x_K\| \le C_3\left(\tfrac{1}{\sqrt K}+\tfrac{l}{K^{3/2}}\right)"
        r"+C_4\tfrac{e^{L}}{\sqrt b}"
    ),
    lhs=THM32.lhs,
    lhs_latex=THM32.lhs_latex,
    rhs_expr=C3 * _k_term + C4 * _b_const,
    terms=(RateTerm("C3", _k_term), RateTerm("C4", _b_const)),
    hypotheses=(THM32.hypotheses[0], THM32.hypotheses[1], _step_condition("constant")),
    domain=Domain(_DOMAIN),
    readings={
        "error": "the remark 'l does not influence e^L/sqrt b' read as a statement about the "
        "error: the b-part of the measured error does not grow with l",
        "form": "the remark read as a statement about the form of the bound (no l in the "
        "b-term): true by inspection of the display",
    },
    literal="form",
    conventions=_CONV,
)

#: the step hypothesis of each result, by delay kind
CLAIMS = (THM32, COR33, THM34)
BY_KIND = {"random": THM32, "none": COR33, "constant": THM34}
