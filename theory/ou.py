r"""Ornstein–Uhlenbeck solution of the SGD SDE for linear regression (Section 4, R5).

Glossary: `A_tilde` $\tilde A = A^\top A/n$ · `x_star` $x^*$ · `eta` $\eta$ · `GGt` $GG^\top$ ·
`Sigma` $\Sigma(x^*)$ per-sample gradient covariance · `b` minibatch size · `x0` $X(0)$.

Paper (Section 4): for $F(x) = \frac{1}{2n}\|Ax - B\|^2$ the SDE of SGD with constant $\eta$ is
$dX = -\tilde A(X - x^*)\,dt + \sqrt\eta\,G\,dB$, solved by

$$X(t) = x^* + e^{-\tilde At}(X(0)-x^*) + \int_0^t e^{\tilde A(s-t)}\sqrt\eta\,G\,dB(s).$$

Conventions (SPEC §1): $G$ is constant with $GG^\top = \Sigma(x^*)/b$ (with replacement) or
$\Sigma(x^*)/b\cdot(n-b)/(n-1)$ (without). The paper prints the mean as $e^{-At}(x_0 - x^*)$; the
solution above gives $e^{-\tilde At}$, which is what is implemented.

Moments (exact):

- mean $\mathbb E X(t) = x^* + e^{-\tilde At}(x_0 - x^*)$;
- covariance $\operatorname{Cov}(t) = \eta\int_0^t e^{-\tilde Au}GG^\top e^{-\tilde Au}du$; in the
  eigenbasis $\tilde A = Q\Lambda Q^\top$, $\hat S = Q^\top GG^\top Q$:
  $\operatorname{Cov}(t)
  = Q\big[\eta\hat S_{ij}(1-e^{-(\lambda_i+\lambda_j)t})/(\lambda_i+\lambda_j)\big]Q^\top$
  (entry $\eta\hat S_{ij}t$ when $\lambda_i+\lambda_j = 0$); for $\tilde A \succ 0$ also
  $\operatorname{Cov}(t) = \Sigma_\infty - e^{-\tilde At}\Sigma_\infty e^{-\tilde At}$ with
  $\tilde A\Sigma_\infty + \Sigma_\infty\tilde A = \eta GG^\top$ (Lyapunov);
- $\mathbb E\|X(t)-x^*\|^2 = \|\mathbb EX(t)-x^*\|^2 + \operatorname{tr}\,\mathrm{Cov}(t)$.

The paper's printed inequality $\mathbb E\|X(t)-\mathbb EX(t)\|^2
\le \int_0^t\|e^{\tilde A(s-t)}\sqrt\eta G\|^2ds$ does not name the norm: with the Frobenius
norm the right side equals
$\operatorname{tr}\operatorname{Cov}(t)$ (equality); with the spectral norm it is
$\int_0^t\lambda_{\max}(e^{-\tilde Au}\eta GG^\top e^{-\tilde Au})du$, which is **smaller** than
the left
side whenever the noise excites more than one direction (then the printed inequality fails).
:meth:`OUProcess.printed_variance_bound` exposes both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.linalg
import sympy

from theory.errors import InputError

__all__ = [
    "OUInputError",
    "OUProcess",
    "ou_from_regression",
    "ou_moments_symbolic",
]


class OUInputError(InputError):
    """Bad input to the OU moments (A_tilde, GGt, eta, x0, x_star, t, data)."""


def _times(t: float | Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(t, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise OUInputError("t", t, "must be finite times >= 0", "pass t >= 0")
    return arr


@dataclass(frozen=True)
class OUProcess:
    r"""$dX = -\tilde A(X-x^*)dt + \sqrt\eta\,G\,dB$, $X(0) = x_0$ (Section 4).

    Arguments:
        A_tilde: symmetric positive semi-definite $\tilde A$ (d×d).
        x_star: $x^*$ (d,).
        eta: learning rate $\eta > 0$.
        GGt: $GG^\top$ (d×d, symmetric PSD), $= \Sigma(x^*)/b$ by SPEC §1.
        x0: $X(0)$ (d,).

    Raises:
        OUInputError: shapes, symmetry, non-finite entries, $\eta \le 0$, negative eigenvalues.
    """

    A_tilde: np.ndarray
    x_star: np.ndarray
    eta: float
    GGt: np.ndarray
    x0: np.ndarray

    def __post_init__(self) -> None:
        A = np.asarray(self.A_tilde, dtype=float)
        S = np.asarray(self.GGt, dtype=float)
        x_star = np.asarray(self.x_star, dtype=float).reshape(-1)
        x0 = np.asarray(self.x0, dtype=float).reshape(-1)
        d = x_star.size
        for name, M in (("A_tilde", A), ("GGt", S)):
            if M.shape != (d, d):
                raise OUInputError(name, M.shape, f"must have shape ({d}, {d})", "match x_star")
            if not np.all(np.isfinite(M)):
                raise OUInputError(name, M, "has non-finite entries", "pass finite entries")
            if not np.allclose(M, M.T, rtol=1e-12, atol=1e-14 * max(1.0, np.abs(M).max())):
                raise OUInputError(name, M, "must be symmetric", f"pass ({name} + {name}.T)/2")
            if np.linalg.eigvalsh((M + M.T) / 2).min() < -1e-12 * max(1.0, np.abs(M).max()):
                raise OUInputError(name, M, "must be positive semi-definite", "check the data")
        if x0.shape != (d,) or not np.all(np.isfinite(x0)) or not np.all(np.isfinite(x_star)):
            raise OUInputError("x0", self.x0, f"must be a finite vector of length {d}", "fix x0")
        if not (np.isfinite(self.eta) and self.eta > 0):
            raise OUInputError("eta", self.eta, "must be finite and > 0", "pass eta > 0")
        object.__setattr__(self, "A_tilde", (A + A.T) / 2)
        object.__setattr__(self, "GGt", (S + S.T) / 2)
        object.__setattr__(self, "x_star", x_star)
        object.__setattr__(self, "x0", x0)
        object.__setattr__(self, "eta", float(self.eta))

    @property
    def d(self) -> int:
        return self.x_star.size

    def _eig(self) -> tuple[np.ndarray, np.ndarray]:
        lam, Q = np.linalg.eigh(self.A_tilde)
        return np.clip(lam, 0.0, None), Q

    def mean(self, t: float | Sequence[float]) -> np.ndarray:
        r"""$\mathbb EX(t) = x^* + e^{-\tilde At}(x_0-x^*)$, shape `(len(t), d)`."""
        ts = _times(t)
        lam, Q = self._eig()
        c = Q.T @ (self.x0 - self.x_star)
        return self.x_star + (np.exp(-np.outer(ts, lam)) * c) @ Q.T

    def covariance(self, t: float | Sequence[float], method: str = "eigen") -> np.ndarray:
        r"""$\operatorname{Cov}(t) = \eta\int_0^te^{-\tilde Au}GG^\top e^{-\tilde Au}du$, shape
        `(len(t), d, d)`.

        `method="eigen"` (default, any PSD $\tilde A$, uses `expm1`) or `"lyapunov"`
        (`solve_continuous_lyapunov` + `expm`; needs $\tilde A \succ 0$).
        """
        ts = _times(t)
        if method == "lyapunov":
            S_inf = self.stationary_covariance()
            out = []
            for tt in ts:
                E = scipy.linalg.expm(-self.A_tilde * tt)
                out.append(S_inf - E @ S_inf @ E.T)
            return np.array(out)
        if method != "eigen":
            raise OUInputError("method", method, "unknown", "use 'eigen' or 'lyapunov'")
        lam, Q = self._eig()
        S_hat = Q.T @ self.GGt @ Q
        s = lam[:, None] + lam[None, :]
        out = []
        for tt in ts:
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(s > 0, -np.expm1(-s * tt) / np.where(s > 0, s, 1.0), tt)
            out.append(Q @ (self.eta * S_hat * w) @ Q.T)
        return np.array(out)

    def stationary_covariance(self) -> np.ndarray:
        r"""$\Sigma_\infty$ solving $\tilde A\Sigma_\infty + \Sigma_\infty\tilde A = \eta GG^\top$.

        Raises:
            OUInputError: $\tilde A$ singular (no stationary law).
        """
        if np.linalg.eigvalsh(self.A_tilde).min() <= 0:
            raise OUInputError(
                "A_tilde",
                self.A_tilde,
                "is singular: no stationary covariance",
                "use covariance(t, method='eigen')",
            )
        return scipy.linalg.solve_continuous_lyapunov(self.A_tilde, self.eta * self.GGt)

    def mean_square_error(self, t: float | Sequence[float]) -> np.ndarray:
        r"""$\mathbb E\|X(t)-x^*\|^2 = \|\mathbb EX(t)-x^*\|^2 + \mathrm{tr\,Cov}(t)$."""
        bias = self.mean(t) - self.x_star
        return np.sum(bias**2, axis=1) + self.variance(t)

    def variance(self, t: float | Sequence[float]) -> np.ndarray:
        r"""$\mathbb E\|X(t)-\mathbb EX(t)\|^2 = \operatorname{tr}\operatorname{Cov}(t)$."""
        return np.trace(self.covariance(t), axis1=1, axis2=2)

    def printed_variance_bound(self, t: float | Sequence[float], norm: str) -> np.ndarray:
        r"""The paper's right side $\int_0^t\|e^{\tilde A(s-t)}\sqrt\eta G\|^2ds$ for a chosen norm.

        `norm="fro"`: $=\operatorname{tr}\operatorname{Cov}(t)$ in closed form (equality with the
        left side). `norm="spectral"`: $\int_0^t\lambda_{\max}(e^{-\tilde Au}\eta GG^\top
        e^{-\tilde Au})\,du$ by adaptive quadrature (`scipy.integrate.quad`, rel. tol 1e-12);
        independent of the factor $G$ chosen for $GG^\top$.
        """
        ts = _times(t)
        if norm == "fro":
            return self.variance(ts)
        if norm != "spectral":
            raise OUInputError("norm", norm, "unknown", "use 'fro' or 'spectral'")
        lam, Q = self._eig()
        S_hat = self.eta * (Q.T @ self.GGt @ Q)

        def integrand(u: float) -> float:
            e = np.exp(-lam * u)
            return float(np.linalg.eigvalsh(e[:, None] * S_hat * e[None, :])[-1])

        return np.array(
            [
                scipy.integrate.quad(integrand, 0.0, tt, epsrel=1e-12, epsabs=0.0, limit=400)[0]
                for tt in ts
            ]
        )

    def latex_section(self, t: Sequence[float] = (0.5, 1.0, 5.0)) -> str:
        """LaTeX subsection: the closed forms, the conventions, and values at the times `t`."""
        ts = _times(t)
        mse = self.mean_square_error(ts)
        var = self.variance(ts)
        spec = self.printed_variance_bound(ts, "spectral")
        rows = "\n".join(
            f"{tt:.6g} & {m:.6g} & {v:.6g} & {sp:.6g} \\\\"
            for tt, m, v, sp in zip(ts, mse, var, spec)
        )
        return (
            "\\subsection*{OU moments of the SGD SDE (Section 4)}\n"
            "$\\mathbb EX(t)=x^*+e^{-\\tilde At}(x_0-x^*)$ (the paper prints $e^{-At}$), "
            "$\\mathrm{Cov}(t)=\\eta\\int_0^te^{-\\tilde Au}GG^\\top e^{-\\tilde Au}du$ with "
            "$GG^\\top=\\Sigma(x^*)/b$ (SPEC convention); "
            f"$d={self.d}$, $\\eta={self.eta:.6g}$.\n\n"
            "\\begin{tabular}{rrrr}\n$t$ & $\\mathbb E\\|X-x^*\\|^2$ & "
            "$\\mathbb E\\|X-\\mathbb EX\\|^2$ (= Frobenius RHS) & spectral RHS \\\\ \\hline\n"
            f"{rows}\n\\end{{tabular}}\n"
        )


def ou_from_regression(
    A: np.ndarray,
    B: np.ndarray,
    b: int,
    eta: float,
    x0: np.ndarray,
    sampling: str = "with",
) -> OUProcess:
    r"""The OU process of SGD on $F(x) = \frac1{2n}\|Ax-B\|^2$ (Section 4, SPEC §1).

    $\tilde A = A^\top A/n$, $x^* = \tilde A^{-1}A^\top B/n$ (least squares), per-sample gradient
    $\nabla f_i(x^*) = a_i r_i$ with $r_i = a_i^\top x^* - b_i$, mean $\nabla F(x^*) = 0$, so
    $\Sigma(x^*) = \frac1n\sum_i r_i^2a_ia_i^\top$; $GG^\top = \Sigma/b$ (`sampling="with"`
    replacement) or $\Sigma/b\cdot(n-b)/(n-1)$ (`"without"`).
    """
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float).reshape(-1)
    if A.ndim != 2 or A.shape[0] != B.size:
        raise OUInputError("A", A.shape, "must be (n, d) with n = len(B)", "match A and B")
    n = A.shape[0]
    if not (isinstance(b, (int, np.integer)) and 1 <= b <= n):
        raise OUInputError("b", b, f"must be an integer in [1, n={n}]", "pass 1 <= b <= n")
    if sampling not in ("with", "without"):
        raise OUInputError("sampling", sampling, "unknown", "use 'with' or 'without'")
    if sampling == "without" and n == 1:
        raise OUInputError("sampling", sampling, "needs n >= 2", "use 'with'")
    A_tilde = A.T @ A / n
    x_star = np.linalg.lstsq(A, B, rcond=None)[0]
    r = A @ x_star - B
    Sigma = (A * r[:, None] ** 2).T @ A / n
    factor = 1.0 / b if sampling == "with" else (n - b) / (b * (n - 1))
    return OUProcess(A_tilde=A_tilde, x_star=x_star, eta=eta, GGt=Sigma * factor, x0=x0)


def ou_moments_symbolic(
    A_tilde: sympy.Matrix,
    GGt: sympy.Matrix,
    eta: sympy.Expr,
    x0: sympy.Matrix,
    x_star: sympy.Matrix,
    t: sympy.Symbol | None = None,
    simplify: bool = False,
) -> dict:
    r"""Exact OU mean, covariance and $\mathbb E\|X(t)-x^*\|^2$ in SymPy (small d).

    With $\tilde A = PDP^{-1}$ (`diagonalize`), $\hat S = P^{-1}GG^\top P^{-\top}$:
    $\operatorname{Cov}(t)
    = P\,[\eta\hat S_{ij}(1-e^{-(\lambda_i+\lambda_j)t})/(\lambda_i+\lambda_j)]\,P^\top$.
    Pass exact entries (`Rational`), not floats. `simplify=True` runs `sympy.simplify` (slow).
    Evaluate with exact `t` and `evalf(n)`: the unsimplified forms cancel badly in floats.

    Returns:
        dict with `t`, `mean`, `cov`, `mse` (SymPy expressions in `t`).
    """
    t = sympy.Symbol("t", nonnegative=True) if t is None else t
    A_tilde, GGt = sympy.Matrix(A_tilde), sympy.Matrix(GGt)
    x0, x_star = sympy.Matrix(x0), sympy.Matrix(x_star)
    d = A_tilde.shape[0]
    if A_tilde.shape != (d, d) or GGt.shape != (d, d) or x0.shape != (d, 1):
        raise OUInputError("A_tilde", A_tilde.shape, "shapes do not match", "pass d x d and d x 1")
    if A_tilde != A_tilde.T:
        raise OUInputError("A_tilde", A_tilde, "must be symmetric", "pass AᵀA/n")
    P, D = A_tilde.diagonalize()
    Pinv = P.inv()
    lam = [D[i, i] for i in range(d)]
    expD = sympy.diag(*[sympy.exp(-li * t) for li in lam])
    mean = x_star + P * expD * Pinv * (x0 - x_star)
    S_hat = Pinv * GGt * Pinv.T
    W = sympy.zeros(d, d)
    for i in range(d):
        for j in range(d):
            s = sympy.simplify(lam[i] + lam[j])
            W[i, j] = eta * S_hat[i, j] * (t if s == 0 else (1 - sympy.exp(-s * t)) / s)
    cov = P * W * P.T
    bias = mean - x_star
    mse = (bias.T * bias)[0, 0] + cov.trace()
    if simplify:
        mean, cov, mse = mean.applyfunc(sympy.simplify), cov.applyfunc(sympy.simplify), mse
        mse = sympy.simplify(mse)
    return {"t": t, "mean": mean, "cov": cov, "mse": mse}
