r"""Heavy-ball momentum ASGD: a second update rule, in one file with its exact recursion.

Glossary: `eta` $\eta$ · `u_k` schedule · `beta` $\beta$ momentum · `l_k` delay · `b` minibatch.

$$x_{k+1} = x_k - \eta u_k\,g_k(x_{k-l_k}) + \beta\,(x_k - x_{k-1}),\qquad 0 \le \beta < 1,$$

with the delay read, the gradient noise (minibatch / Gaussian / none) and the schedule of
plain ASGD (:class:`numerics.update_rules.ASGDRule`). It is the linear multi-step rule
$x_{k+1} = (1+\beta)x_k - \beta x_{k-1} - h_kg_k$, i.e.
`combination` $= ((0, 1+\beta), (1, -\beta))$, so its exact mean/covariance recursion on
quadratics is the general step of
`numerics.moments` (`_Ring.step_combination`):
$E[e_{k+1}e_s^\top] = (1+\beta)P_{0s} - \beta P_{1s} - h_kQ\sum_jq_jP_{js}$ and
$E[e_{k+1}e_{k+1}^\top] = (1+\beta)^2P_{00} - \beta(1+\beta)(P_{01} + P_{10}) + \beta^2P_{11}
- h_k(X + X^\top) + h_k^2Q\bar MQ^\top + h_k^2\bar N$ with $X = Q\,E[e_{k-l_k}((1+\beta)e_k -
\beta e_{k-1})^\top]$ ($e = x - x^*$, $P_{ij} = E[e_{k-i}e_{k-j}^\top]$).

Start: without an initial segment $x_{-1} = x_0$ (zero initial velocity), the delay capped as in
footnote 2; with a segment of $l+1$ iterates, iterates older than it equal its first value.
`beta = 0` is plain ASGD: the simulator adds $0\cdot(x_k - x_{k-1}) = 0$ (bit for bit on finite
paths), the recursion agrees to rounding.

Use: `simulate_rule(problem, HeavyBallRule(eta, beta=0.5, delay=ConstantDelay(2)), K=..., ...)`
and `rule_moments(problem, rule, K=...)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.errors import InputError
from numerics.update_rules import ASGDRule

__all__ = ["HeavyBallRule", "MomentumError"]


class MomentumError(InputError):
    """Bad momentum parameter (beta outside [0, 1))."""


class HeavyBallRule(ASGDRule):
    r"""Heavy-ball momentum ASGD, $x_{k+1} = x_k - \eta u_kg_k(x_{k-l_k}) + \beta(x_k - x_{k-1})$.

    Arguments:
        eta: learning rate.
        beta: momentum $\beta \in [0, 1)$.
        other keywords: as :class:`numerics.update_rules.ASGDRule`.

    Raises:
        MomentumError: `beta` not a finite number in [0, 1).
    """

    name = "heavy-ball momentum ASGD"

    def __init__(self, eta: float, *, beta: float, **kwargs: Any) -> None:
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.number)):
            raise MomentumError("beta", beta, "must be a number in [0, 1)", "pass 0 <= beta < 1")
        if not (np.isfinite(beta) and 0.0 <= beta < 1.0):
            raise MomentumError("beta", beta, "must lie in [0, 1)", "pass 0 <= beta < 1")
        super().__init__(eta, **kwargs)
        self.beta = float(beta)
        self.combination = ((0, 1.0 + self.beta), (1, -self.beta))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "beta": self.beta}

    def apply(self, ring: Any, j: int, g: np.ndarray, h: float) -> np.ndarray:
        """$x_{k+1} = (x_k - h g) + \\beta(x_k - x_{k-1})$ into `ring.next_slot(j)`.

        The momentum term is formed before the write: with a ring of two slots the next slot
        holds $x_{k-1}$.
        """
        cur = ring.current()
        mom = cur - ring.delayed(j, 1)
        mom *= self.beta
        new = ring.next_slot(j)
        np.multiply(g, -h, out=new)
        new += cur
        new += mom
        return new

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", beta={self.beta})"
