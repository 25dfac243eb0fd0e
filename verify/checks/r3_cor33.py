r"""Corollary 3.3 (SGD, $l = 0$): the SDE approximates SGD.

**Claim** (paper Cor 3.3). If $\nabla F$ is $L$-Lipschitz, $b$ is the minibatch size, $l = 0$,
$u_k = 1$, $\delta = \eta = 1/K$ and $\eta L \le 1$, then

$$\mathbb E\|X(t_K) - x_K\| \le C_1\frac{1}{\sqrt K} + C_2\frac{e^L}{\sqrt b}$$

with unspecified $C_1, C_2$; $t_K = 1$ (fixed horizon, $K$ refines).

**Checks** (the same machinery as Thm 3.2, `verify.checks._approx`, with no delay):

- `R3-as-stated` — rate check (SPEC §2 (ii)) under coupling (b) on the Section 5 two-point
  problem ($L = 1$, noise $\pm 1$, the paper's own SGD example), $W_1$ (coupling (d)) and the
  exact discretisation bias of $X$ in the details ($\Sigma \equiv 1$ is constant here).
- `R3-as-stated-ls` — the same on least squares ($L \approx 1.12$), including $K = 1$ where
  $\eta L \le 1$ fails (reported as not applicable).
- `R3-proof-recursion` — exact: the lines of the Thm 3.2 recursion argument at $l = 0$.
- `R3-proof-em` — exact: $\mathbb E\|X(t_K) - \tilde x_K\| \le C_1/\sqrt K$ (coupling (a)).
- `R3-proof-step` — Monte Carlo: $A_k \le (1+\eta L)A_{k-1} + \eta\Phi/\sqrt b$ at every $k$.
- `R3-proof-AK` — Monte Carlo: $A_K$ against $KP + 4Pe^{\eta LK}/(\eta L)$.

**References**: as Thm 3.2 (exact coupled EM moments, `theory.constants.thm32_lines` with
$l = 0$). **Conventions**: `verify.checks._approx`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from verify.checks._approx import (
    ApproxRateCheck,
    EMErrorCheck,
    MeasuredAKCheck,
    MeasuredRecursionCheck,
)
from verify.checks.base import profile
from verify.checks.r2_thm32 import Thm32ProofRecursion
from verify.runner import run_alone

RESULT = "Cor 3.3"
CLAIM = "E||X(t_K) - x_K|| <= C1/sqrt(K) + C2 e^L/sqrt(b), delta = eta = 1/K, eta L <= 1, l = 0"
CLAIM_LATEX = r"\mathbb E\|X(t_K)-x_K\| \le C_1\tfrac{1}{\sqrt K}+C_2\tfrac{e^{L}}{\sqrt b}"


def _c1_term(p: Any, L: float, eK: float, eb: float) -> float:
    return p["K"] ** eK


def _c2_term(p: Any, L: float, eK: float, eb: float) -> float:
    return math.exp(L) * p["b"] ** eb


_QUICK = dict(
    problem="two-point",
    calibration=[(1, 1, 0), (8, 1, 0), (16, 4, 0), (32, 1, 0), (32, 4, 0)],
    heldout=[(64, 16, 0), (128, 1, 0), (128, 4, 0), (256, 16, 0)],
    paths=1000,
    substeps=4,
)
_FULL = dict(
    problem="two-point",
    calibration=[(K, b, 0) for K in (1, 4, 16, 32) for b in (1, 2, 4)],
    heldout=[(K, b, 0) for K in (64, 256, 1024) for b in (1, 8, 64)],
    paths=10000,
    substeps=8,
)


class Cor33AsStated(ApproxRateCheck):
    """Rate check of Cor 3.3 under coupling (b), two-point problem."""

    id = "R3-as-stated"
    result = RESULT
    claim = CLAIM + " [coupling (b), two-point problem of Section 5]"
    claim_latex = CLAIM_LATEX
    kind = "none"
    coupling = "quantile"
    terms: ClassVar[Mapping[str, Callable[..., float]]] = {"C1": _c1_term, "C2": _c2_term}
    latex = r"C_1/\sqrt K + C_2 e^L/\sqrt b"
    l_claim = "l = 0"
    quick = profile(**_QUICK)
    full = profile(**_FULL)


class Cor33AsStatedLeastSquares(Cor33AsStated):
    """Rate check of Cor 3.3 under coupling (b), least squares (K = 1 violates eta L <= 1)."""

    id = "R3-as-stated-ls"
    claim = CLAIM + " [coupling (b), least squares]"
    quick = profile(
        **{
            **_QUICK,
            "problem": "least-squares",
            "calibration": [(1, 1, 0), (16, 1, 0), (16, 4, 0), (32, 1, 0)],
            "heldout": [(64, 16, 0), (128, 4, 0)],
            "paths": 500,
            "w1": False,
        }
    )
    full = profile(**{**_FULL, "problem": "least-squares"})


class Cor33ProofRecursion(Thm32ProofRecursion):
    """The Thm 3.2 recursion lines at l = 0 (Cor 3.3)."""

    id = "R3-proof-recursion"
    result = RESULT
    claim = (
        "A_K <= KP + gP sum_j (1+g)^j (K-j-1) <= ... <= KP + 4P e^{gK}/g, g = eta L <= 1 "
        "(Thm 3.2 proof at l = 0), and the last line <= C2* e^L/sqrt(b)"
    )
    quick = profile(K=(1, 2, 4, 16, 64, 256), L=(0.1, 1.0, 4.0), l=(0,))
    full = profile(K=(1, 2, 3, 4, 8, 16, 64, 256, 1024), L=(0.01, 0.1, 0.5, 1.0, 4.0, 16.0), l=(0,))


class Cor33ProofEM(EMErrorCheck):
    """Exact EM strong error, l = 0 (coupling (a))."""

    id = "R3-proof-em"
    result = RESULT
    claim = "E||X(t_K) - x~_K|| <= C1/sqrt(K) [coupling (a), SGD]"
    claim_latex = r"\mathbb E\|X(t_K)-\tilde x_K\| \le C_1/\sqrt K"
    kind = "none"
    quick = profile(
        problem="two-point",
        calibration=[(4, 1, 0), (8, 1, 0), (16, 1, 0)],
        heldout=[(64, 1, 0), (256, 1, 0)],
        substeps=8,
    )
    full = profile(
        problem="two-point",
        calibration=[(K, 1, 0) for K in (1, 2, 4, 8, 16)],
        heldout=[(K, 1, 0) for K in (64, 256, 1024, 4096)],
        substeps=16,
    )


class Cor33MeasuredAK(MeasuredAKCheck):
    """Measured A_K against the explicit bound, l = 0."""

    id = "R3-proof-AK"
    result = RESULT
    claim = "A_K = E||x_K - x~_K|| <= KP + 4P e^{eta L K}/(eta L), P = eta Phi/sqrt(b)"
    claim_latex = r"\mathbb E\|x_K-\tilde x_K\| \le KP + 4Pe^{\eta LK}/(\eta L)"
    kind = "none"
    quick = profile(problem="two-point", grid=[(1, 1, 0), (16, 1, 0), (64, 4, 0)], paths=1000)
    full = profile(
        problem="two-point",
        grid=[(K, b, 0) for K in (1, 16, 64, 256) for b in (1, 4, 64)],
        paths=40000,
    )


class Cor33MeasuredRecursion(MeasuredRecursionCheck):
    """The recursion A_k <= (1 + eta L) A_{k-1} + P along trajectories (l = 0)."""

    id = "R3-proof-step"
    result = RESULT
    claim = "A_k <= A_{k-1} + eta L A_{k-1} + eta Phi/sqrt(b) for k = 1..K [coupling (b)]"
    claim_latex = r"A_k \le (1+\eta L)A_{k-1} + \frac{\eta\Phi}{\sqrt b}"
    kind = "none"
    quick = profile(problem="two-point", grid=[(16, 1, 0), (32, 4, 0)], paths=800)
    full = profile(
        problem="two-point", grid=[(K, b, 0) for K in (16, 64) for b in (1, 16)], paths=40000
    )


CHECKS = [
    Cor33AsStated(),
    Cor33AsStatedLeastSquares(),
    Cor33ProofRecursion(),
    Cor33ProofEM(),
    Cor33MeasuredAK(),
    Cor33MeasuredRecursion(),
]

if __name__ == "__main__":
    run_alone(CHECKS)
