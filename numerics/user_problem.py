r"""A user-written loss as a simulator :class:`~numerics.problems.Problem` (SPEC §1, Eq. (1)).

$F(x) = \frac1n\sum_i f(x; a_i, b_i)$ with $f$ given as a string and compiled by
:class:`theory.user_loss.UserLoss`; per-sample gradients are evaluated for all paths and all
minibatch samples in one vectorised call (for generalised linear losses as
$\varphi'(a_i^\top x, b_i)\,a_i + c\,x$).

Glossary: ``X`` (P, d) one point per path, ``idx`` (P, b) sample indices, ``x_star`` $x^*$,
``L``/``mu`` smoothness / strong convexity (certified when the loss analysis certifies them,
otherwise the sampled estimates, as labelled in ``analysis``).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from numerics.errors import DimensionError, InputError
from numerics.problems import Problem
from theory.user_loss import LossAnalysis, UserLoss, analyse_loss, minimise

__all__ = ["UserLossProblem"]


class UserLossProblem(Problem):
    """Finite-sum problem for a :class:`~theory.user_loss.UserLoss` on data ``(A, y)``.

    Arguments:
        loss: the parsed loss (its dimension must equal ``A.shape[1]``).
        A: features (n, d), finite.
        y: labels (n,), finite.
        D: radius of the Thm 4.2 ball passed to :func:`~theory.user_loss.analyse_loss`.
        seed: seed of the sample points used by the analysis.

    Raises:
        DimensionError: shapes do not match ``loss.d``.
        InputError: non-finite data.
    """

    name = "user-loss"

    def __init__(
        self, loss: UserLoss, A: Any, y: Any, *, D: float | None = None, seed: int = 0
    ) -> None:
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float)
        if A.ndim != 2 or A.shape[1] != loss.d:
            raise DimensionError("A", A.shape, f"must have shape (n, d={loss.d})", "fix the data")
        if y.shape != (A.shape[0],):
            raise DimensionError("y", y.shape, f"must have shape ({A.shape[0]},)", "fix the labels")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
            raise InputError("A", "non-finite entries", "must be finite", "clean the data")
        super().__init__(loss.d, A.shape[0])
        self.loss = loss
        self.A = A
        self.y = y
        self._D = D
        self._seed = seed
        self.name = f"user-loss[{loss.expression}]"

    # ----- abstract surface -------------------------------------------------------------
    def F(self, X: np.ndarray) -> np.ndarray:
        """$F(x)$ for each row of ``X`` (P, d) -> (P,); a single x (d,) -> scalar."""
        single = np.ndim(X) == 1
        out = self.loss.F(self._paths(X), self.A, self.y)
        return out[0] if single else out

    def grad(self, X: np.ndarray) -> np.ndarray:
        r"""$\nabla F(x)$ for each row: (P, d) -> (P, d); a single x (d,) -> (d,)."""
        single = np.ndim(X) == 1
        out = self.loss.grad_F(self._paths(X), self.A, self.y)
        return out[0] if single else out

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        r"""$\nabla f_{idx[p, j]}(X[p])$: X (P, d), idx (P, b) -> (P, b, d), one vectorised call."""
        X = self._paths(X)
        idx = np.asarray(idx)
        return self.loss.per_sample_gradients(X, self.A[idx], self.y[idx])

    # ----- derived, overridden with the exact symbolic versions --------------------------
    def hessian(self, x: np.ndarray) -> np.ndarray:
        r"""$\nabla^2 F(x)$ from the symbolic Hessian (not finite differences)."""
        if not self.loss.smooth:
            raise InputError(
                "loss", self.loss.expression, "is not smooth: no Hessian", "use a smooth loss"
            )
        return self.loss.hess_F(self._point(x), self.A, self.y)

    @cached_property
    def analysis(self) -> LossAnalysis:
        """The full :class:`~theory.user_loss.LossAnalysis` (x*, certified/estimated L, mu, ...)."""
        return analyse_loss(self.loss, self.A, self.y, D=self._D, seed=self._seed)

    @cached_property
    def x_star(self) -> np.ndarray:
        """Minimiser of $F$ by damped Newton (see :func:`theory.user_loss.minimise`)."""
        return minimise(self.loss, self.A, self.y)

    @cached_property
    def L(self) -> float:
        """Smoothness constant from :attr:`analysis` (see ``analysis.L.kind``)."""
        return float(self.analysis.L.value)

    @cached_property
    def mu(self) -> float:
        """Strong convexity constant from :attr:`analysis` (see ``analysis.mu.kind``)."""
        return float(self.analysis.mu.value)
