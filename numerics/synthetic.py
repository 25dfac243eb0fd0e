r"""The synthetic problems of the checks, one implementation each (issue 9 item 6).

Glossary: `kappa` $\kappa = L/\mu$ condition number · `n` samples · `d` dimension ·
`A_tilde` $\tilde A = A^\top A/n$ · `x_star` $x^*$ · `noise` $\operatorname{tr}\Sigma(x^*)$ ·
`x0_dist` $\|x_0 - x^*\|$ · `data_seed` the seed of the data set (the data are part of the
problem, not Monte Carlo randomness).

Factories (and the code they replace):

- :func:`approximation_problem` — `verify/checks/_approx.build_problem(name, data_seed)` (R2–R4):
  least squares $n = 40$, $d = 2$; two-point; logistic.
- :func:`conditioned_problem` — `verify/checks/r7_thm42.build_problem(row, data_seed)` (R7, R8):
  quadratic / least squares / logistic with $L/\mu = \kappa$, and the start $x_0$.
- :func:`spectral_least_squares` — `verify/checks/r6_thm41.least_squares_design` (R6): least
  squares with $\tilde A$ of spectrum $L\,\mathrm{geomspace}(1/\kappa, 1, d)$.
- :func:`spectral_regression_data` — `verify/checks/r5_ou.regression_data` (R5): data $(A, y)$
  with spectrum $\mathrm{geomspace}(1, 1/\kappa, d)$.
- :func:`scheme_problems` — inline in `verify/checks/r1_scheme.py` (R1): a Gaussian quadratic and
  a small least squares.

Each returns the same numbers for the same seed as the code it replaces (pinned in
`tests/test_synthetic.py`). The Section 5 problem is `numerics.problems.TwoPoint(reading)`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from numerics.errors import InputError
from numerics.problems import LeastSquares, LogisticL2, Problem, Quadratic, TwoPoint

__all__ = [
    "APPROXIMATION_PROBLEMS",
    "CONDITIONED_PROBLEMS",
    "ConditionedProblem",
    "SyntheticInputError",
    "approximation_problem",
    "conditioned_problem",
    "scheme_problems",
    "spectral_least_squares",
    "spectral_regression_data",
]

APPROXIMATION_PROBLEMS = ("least-squares", "two-point", "logistic")
CONDITIONED_PROBLEMS = ("quadratic", "least-squares", "logistic")


class SyntheticInputError(InputError):
    """Bad parameters for a synthetic problem (unknown name, kappa, d, n, L)."""


def approximation_problem(name: str, data_seed: int = 0) -> Problem:
    r"""The problems of the approximation checks (R2–R4) with fixed synthetic data.

    - ``"least-squares"``: $n = 40$, $d = 2$, $a_i \sim N(0, I)$, $y_i = a_i^\top\mathbf 1 +
      \varepsilon_i/2$; $L = \lambda_{\max}(\tilde A)$ ($\approx 1$).
    - ``"two-point"``: Section 5, average reading ($L = \mu = 1$, $\Sigma = 1$).
    - ``"logistic"``: $n = 40$, $d = 2$, labels from a noisy linear rule, $\lambda = 0.1$;
      global $L = \lambda_{\max}(A^\top A)/(4n) + \lambda$.

    Data from `numpy.random.default_rng(data_seed)`.

    Raises:
        SyntheticInputError: unknown name.
    """
    rng = np.random.default_rng(data_seed)
    if name == "least-squares":
        A = rng.standard_normal((40, 2))
        y = A @ np.ones(2) + 0.5 * rng.standard_normal(40)
        return LeastSquares(A, y)
    if name == "two-point":
        return TwoPoint("average")
    if name == "logistic":
        A = rng.standard_normal((40, 2)) * 1.5
        y = np.where(A @ np.array([1.0, -0.5]) + 0.7 * rng.standard_normal(40) > 0, 1.0, -1.0)
        return LogisticL2(A, y, 0.1)
    raise SyntheticInputError(
        "problem", name, "unknown problem", f"use one of {APPROXIMATION_PROBLEMS}"
    )


class ConditionedProblem(NamedTuple):
    """A problem with its start and constants (unpacks as `problem, x0, mu, L`)."""

    problem: Problem
    x0: np.ndarray
    mu: float
    L: float


def conditioned_problem(
    kind: str,
    kappa: float,
    noise: float = 1.0,
    x0_dist: float = 1.0,
    data_seed: int = 0,
) -> ConditionedProblem:
    r"""A loss with condition number $L/\mu = \kappa$, its start $x_0$ and $\mu$, $L$ (R7, R8).

    - ``"quadratic"``: $Q = \operatorname{diag}(1/\kappa, 1)$, $x^* = (1/2, -1/2)$, Gaussian
      noise $\mathcal N(0, \tfrac{noise}{2}I)$ (so $\operatorname{tr}\Sigma = $ `noise`).
    - ``"least-squares"``: $n = 40$, $d = 3$, $\tilde A$ with eigenvalues
      `geomspace(1/kappa, 1, 3)`, $x^* = \tfrac12\mathbf 1$ (the residual at $x^*$ is orthogonal
      to the columns of $A$) scaled so that $\operatorname{tr}\Sigma(x^*) = $ `noise`.
    - ``"logistic"``: $n = 40$, $d = 2$, Gaussian features, labels of a logistic model,
      $\lambda = s/(\kappa - 1)$ with $s = \lambda_{\max}(A^\top A)/(4n)$, so that the global
      $L/\mu = \kappa$ (`noise` is ignored: the data decide it).

    $x_0 = x^* + $ `x0_dist` $\cdot\mathbf 1/\sqrt d$. Data from
    `numpy.random.default_rng(data_seed)`.

    Raises:
        SyntheticInputError: unknown kind, $\kappa < 1$ or not finite, $\kappa \le 1$ (logistic).
    """
    rng = np.random.default_rng(data_seed)
    if kappa < 1 or not math.isfinite(kappa):
        raise SyntheticInputError("kappa", kappa, "must be >= 1 and finite", "pass L/mu >= 1")
    if kind == "quadratic":
        mu, L = 1.0 / kappa, 1.0
        x_star = np.array([0.5, -0.5])
        problem: Problem = Quadratic(np.diag([mu, L]), x_star, np.eye(2) * noise / 2)
    elif kind == "least-squares":
        n, d = 40, 3
        lam = np.geomspace(1.0 / kappa, 1.0, d)
        U = np.linalg.qr(rng.standard_normal((n, n)))[0]
        V = np.linalg.qr(rng.standard_normal((d, d)))[0]
        A = U[:, :d] @ np.diag(np.sqrt(n * lam)) @ V.T
        r = U[:, d:] @ rng.standard_normal(n - d)  # orthogonal to col(A): x* = x_true
        scale = np.sum(r**2 * np.sum(A**2, axis=1)) / n
        r = r * (math.sqrt(noise / scale) if scale > 0 else 0.0)
        problem = LeastSquares(A, A @ np.full(d, 0.5) + r)
        mu, L = problem.mu, problem.L
    elif kind == "logistic":
        n, d = 40, 2
        if kappa <= 1:
            raise SyntheticInputError("kappa", kappa, "must be > 1 for logistic", "pass > 1")
        A = rng.standard_normal((n, d))
        y = np.where(A @ np.array([1.0, -1.0]) + rng.logistic(size=n) > 0, 1.0, -1.0)
        s = float(np.linalg.eigvalsh(A.T @ A)[-1] / (4 * n))
        problem = LogisticL2(A, y, s / (kappa - 1))
        mu, L = problem.mu, problem.L
    else:
        raise SyntheticInputError(
            "problem", kind, "unknown problem", f"use one of {CONDITIONED_PROBLEMS}"
        )
    direction = np.ones(problem.d) / math.sqrt(problem.d)
    x0 = np.asarray(problem.x_star, dtype=float) + x0_dist * direction
    return ConditionedProblem(problem, x0, float(mu), float(L))


def spectral_least_squares(
    kappa: float, d: int, n: int, data_seed: int, noise_sd: float = 0.5, L: float = 1.0
) -> LeastSquares:
    r"""Least squares with $\tilde A = W\operatorname{diag}(L\,\mathrm{geomspace}(1/\kappa, 1, d))
    W^\top$ exactly (up to rounding), $y = Ax_{\mathrm{true}} + $ `noise_sd` $\cdot z$ (R6).

    $A = \sqrt n\,U\operatorname{diag}(\sqrt{\lambda_i})W^\top$ with $U$ ($n\times d$, orthonormal
    columns) and $W$ orthogonal, both from a QR of Gaussian matrices drawn from
    `SeedSequence([data_seed, d, n, round(kappa * 1e6)])`.

    Raises:
        SyntheticInputError: $\kappa<1$, $d<1$, $n<d$, $L\le0$.
    """
    if not (np.isfinite(kappa) and kappa >= 1):
        raise SyntheticInputError(
            "kappa", kappa, "must be >= 1 (condition number)", "pass kappa >= 1"
        )
    if not (isinstance(d, (int, np.integer)) and d >= 1 and isinstance(n, (int, np.integer))):
        raise SyntheticInputError("d", d, "must be an integer >= 1", "pass d >= 1")
    if n < d:
        raise SyntheticInputError("n", n, f"must be >= d = {d}", "pass more samples")
    if not (np.isfinite(L) and L > 0):
        raise SyntheticInputError("L", L, "must be > 0", "pass L > 0")
    ss = np.random.SeedSequence([int(data_seed), int(d), int(n), round(kappa * 1e6)])
    rng = np.random.default_rng(ss)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    W, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = L * np.geomspace(1.0 / kappa, 1.0, d)
    A = math.sqrt(n) * (U * np.sqrt(eig)) @ W.T
    x_true = rng.standard_normal(d)
    y = A @ x_true + noise_sd * rng.standard_normal(n)
    return LeastSquares(A, y)


def spectral_regression_data(
    d: int, kappa: float, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    r"""Least-squares data with $\tilde A = A^\top A/n$ of spectrum geomspace(1, 1/kappa, d)
    exactly ($L = 1$, $\mu = 1/\kappa$) and residuals of size about 1 at $x^*$ (R5).

    Draws from the given generator (callers draw several data sets from one stream):
    $V$ ($d\times d$), $U$ ($n\times d$), $x_{\mathrm{true}}$, then the residual noise.
    """
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    s2 = np.geomspace(1.0, 1.0 / kappa, d)
    A = math.sqrt(n) * (U * np.sqrt(s2)) @ V.T
    y = A @ rng.standard_normal(d) + rng.standard_normal(n)
    return A, y


def scheme_problems(rng: np.random.Generator) -> tuple[Quadratic, LeastSquares]:
    r"""The two problems of the scheme check (R1): additive and state-dependent noise.

    - a quadratic $Q = \operatorname{diag}(1, 1.5)$, $x^* = (0.5, -0.25)$, noise covariance
      $\begin{pmatrix}1 & 0.3\\ 0.3 & 0.5\end{pmatrix}$ (no randomness);
    - least squares, $n = 12$, $d = 2$, $a_i \sim N(0, I)$, $y = A(0.3, -0.7)^\top + \varepsilon/2$,
      drawn from `rng` (which the caller keeps using afterwards).
    """
    quad = Quadratic(np.diag([1.0, 1.5]), c=[0.5, -0.25], noise_cov=[[1.0, 0.3], [0.3, 0.5]])
    A = rng.standard_normal((12, 2))
    ls = LeastSquares(A, A @ np.array([0.3, -0.7]) + 0.5 * rng.standard_normal(12))
    return quad, ls
