"""Finite-sum losses `F(x) = (1/n) sum_i f_i(x)` vectorised over paths (SPEC §1, paper Eq. (1)).

Glossary: `d` dimension, `n` number of samples (None if not a finite sum), `X` array of shape
(P, d) holding one point per path, `idx` int array (P, b) of sample indices, `x_star` minimiser,
`F_star = F(x_star)`, `L`/`mu` smoothness / strong convexity constants, `Sigma(x)` covariance of
one sample's gradient under uniform `i` (Section 3):

$$\\Sigma(x) = \\frac1n \\sum_i (\\nabla f_i(x) - \\nabla F(x))(\\nabla f_i(x) - \\nabla F(x))^T.$$

Minibatch gradient `g_M(b, x) = (1/b) sum_{i in M} grad f_i(x)`; its covariance is `Sigma/b`
with replacement and `Sigma/b (n-b)/(n-1)` without (SPEC §1).

Subclassing (e.g. for symbolic user losses): implement `F`, `grad`, `sample_grads` and set
`d`, `n` in `__init__` (call `super().__init__(d, n)`). Everything else has a generic default
computed from these: `minibatch_grad` (mean of `sample_grads`), `Sigma` (enumeration over all n
samples), `hessian` (central differences of `grad`), `x_star` (scipy BFGS + Newton polish),
`L`/`mu` (extreme Hessian eigenvalues at `x_star` — *local* values; override with global
constants when known). `stochastic_grad` is what the simulators call; override it only for
noise that is not a finite sum (see `Quadratic`).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
from scipy import optimize, special

from numerics.errors import BatchSizeError, DimensionError, InputError

__all__ = ["LeastSquares", "LogisticL2", "Problem", "Quadratic", "TwoPoint", "sqrt_psd"]


def sqrt_psd(S: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root of `S` (..., d, d) via `eigh`, negative eigenvalues clipped."""
    w, V = np.linalg.eigh(S)
    w = np.clip(w, 0.0, None)
    return (V * np.sqrt(w)[..., None, :]) @ np.swapaxes(V, -1, -2)


class Problem:
    """Base class of losses `F = (1/n) sum f_i`, vectorised over paths.

    Attributes:
        d: dimension of x.
        n: number of samples, or None when the gradient noise is not a finite sum.
        name: identifier used in reports.

    Abstract surface: `F(X)`, `grad(X)`, `sample_grads(X, idx)`.
    """

    name: str = "problem"

    def __init__(self, d: int, n: int | None) -> None:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise DimensionError("d", d, "must be a positive integer", "pass the dimension of x")
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
            raise DimensionError("n", n, "must be a positive integer or None", "pass n >= 1")
        self.d = int(d)
        self.n = None if n is None else int(n)

    # ----- abstract surface -------------------------------------------------------------
    def F(self, X: np.ndarray) -> np.ndarray:
        """`F(x)` for each row of `X` (P, d) -> (P,). Also accepts a single x (d,) -> scalar."""
        raise NotImplementedError

    def grad(self, X: np.ndarray) -> np.ndarray:
        """`grad F(x)` for each row: (P, d) -> (P, d); a single x (d,) -> (d,)."""
        raise NotImplementedError

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Per-sample gradients `grad f_{idx[p, j]}(X[p])`: X (P, d), idx (P, b) -> (P, b, d)."""
        raise NotImplementedError

    # ----- derived ----------------------------------------------------------------------
    def minibatch_grad(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """`g_M(b, x) = (1/b) sum_{i in M} grad f_i(x)` per path: X (P, d), idx (P, b) -> (P, d)."""
        return self.sample_grads(X, idx).mean(axis=1)

    def sample_indices(
        self, rng: np.random.Generator, paths: int, b: int, replace: bool = True
    ) -> np.ndarray:
        """Uniform minibatch indices (paths, b): i.i.d. with replacement, else a random b-subset.

        Raises:
            BatchSizeError: `b < 1`, or `b > n` without replacement, or `n` is None.
        """
        b = check_batch_size(b, self.n, replace)
        if self.n is None:
            raise BatchSizeError(
                "n", None, "problem has no finite sample set", "use stochastic_grad instead"
            )
        if replace:
            return rng.integers(0, self.n, size=(paths, b), dtype=np.int64)
        keys = rng.random((paths, self.n))
        return np.argpartition(keys, b - 1, axis=1)[:, :b] if b < self.n else np.argsort(keys, 1)

    def stochastic_grad(
        self, X: np.ndarray, b: int, rng: np.random.Generator, replace: bool = True
    ) -> np.ndarray:
        """A minibatch gradient `g_M(b, x)` per path with a fresh uniform minibatch `M`.

        Default: `minibatch_grad(X, sample_indices(rng, P, b, replace))`.
        """
        return self.minibatch_grad(X, self.sample_indices(rng, X.shape[0], b, replace))

    def Sigma(self, x: np.ndarray) -> np.ndarray:
        """Exact `Sigma(x)` (d, d) at one point `x` (d,) by enumerating all n samples."""
        if self.n is None:
            raise NotImplementedError("Sigma needs a finite sum or an override")
        x = self._point(x)
        G = self.sample_grads(x[None, :], np.arange(self.n)[None, :])[0]
        D = G - G.mean(axis=0)
        return D.T @ D / self.n

    def Sigma_batch(self, X: np.ndarray) -> np.ndarray:
        """`Sigma(x)` for each row of X (P, d) -> (P, d, d). Generic: enumeration, O(P n d^2)."""
        X = self._paths(X)
        if self.n is None:
            return np.broadcast_to(self.Sigma(X[0]), (X.shape[0], self.d, self.d)).copy()
        G = self.sample_grads(X, np.broadcast_to(np.arange(self.n), (X.shape[0], self.n)))
        D = G - G.mean(axis=1, keepdims=True)
        return np.einsum("pni,pnj->pij", D, D) / self.n

    def sigma(self, x: np.ndarray, b: int = 1) -> np.ndarray:
        """`sigma(x)` (d, d), the symmetric PSD root with `sigma sigma^T = Sigma(x)/b` (Eq. (5))."""
        return sqrt_psd(self.Sigma(x) / b)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """Hessian of F at `x` (d,) -> (d, d). Generic: central differences of `grad`."""
        x = self._point(x)
        h = 1e-5 * max(1.0, float(np.max(np.abs(x))))
        E = np.eye(self.d) * h
        Gp = self.grad(x[None, :] + E)
        Gm = self.grad(x[None, :] - E)
        H = (Gp - Gm) / (2 * h)
        return (H + H.T) / 2

    @cached_property
    def x_star(self) -> np.ndarray:
        """Minimiser of F (generic: BFGS from 0, then Newton steps on the Hessian)."""
        res = optimize.minimize(
            lambda x: float(self.F(x[None, :])[0]),
            np.zeros(self.d),
            jac=lambda x: self.grad(x[None, :])[0],
            method="BFGS",
            options={"gtol": 1e-12, "maxiter": 10_000},
        )
        x = res.x
        for _ in range(5):
            x = x - np.linalg.solve(self.hessian(x), self.grad(x[None, :])[0])
        return x

    @cached_property
    def F_star(self) -> float:
        """`F(x_star)`."""
        return float(self.F(self.x_star[None, :])[0])

    @cached_property
    def L(self) -> float:
        """Smoothness constant (generic: largest Hessian eigenvalue at x_star, local)."""
        return float(np.linalg.eigvalsh(self.hessian(self.x_star))[-1])

    @cached_property
    def mu(self) -> float:
        """Strong convexity constant (generic: smallest Hessian eigenvalue at x_star, local)."""
        return float(np.linalg.eigvalsh(self.hessian(self.x_star))[0])

    # ----- helpers ----------------------------------------------------------------------
    def _paths(self, X: Any, parameter: str = "X") -> np.ndarray:
        Xa = np.asarray(X, dtype=float)
        if Xa.ndim == 1 and Xa.shape[0] == self.d:
            Xa = Xa[None, :]
        if Xa.ndim != 2 or Xa.shape[1] != self.d:
            raise DimensionError(
                parameter, Xa.shape, f"must have shape (paths, d={self.d})", "reshape X"
            )
        return Xa

    def _point(self, x: Any, parameter: str = "x") -> np.ndarray:
        xa = np.asarray(x, dtype=float).reshape(-1)
        if xa.shape[0] != self.d:
            raise DimensionError(parameter, np.shape(x), f"must have d={self.d} entries", "fix x")
        return xa

    def __repr__(self) -> str:
        return f"{type(self).__name__}(d={self.d}, n={self.n})"


def check_batch_size(b: Any, n: int | None, replace: bool) -> int:
    """Validate the minibatch size `b` (positive int; `b <= n` without replacement).

    Raises:
        BatchSizeError: otherwise.
    """
    if isinstance(b, (bool, np.bool_)) or not isinstance(b, (int, np.integer)) or b < 1:
        raise BatchSizeError("b", b, "must be a positive integer", "pass b >= 1")
    if not replace and n is not None and b > n:
        raise BatchSizeError(
            "b", b, f"exceeds n={n} for sampling without replacement", f"use b <= {n} or replace"
        )
    return int(b)


def _matrix(A: Any, name: str, ndim: int) -> np.ndarray:
    Aa = np.asarray(A, dtype=float)
    if Aa.ndim != ndim:
        raise DimensionError(name, Aa.shape, f"must be a {ndim}-d array", f"pass a {ndim}-d {name}")
    if not np.all(np.isfinite(Aa)):
        raise InputError(name, "non-finite entries", "must be finite", f"clean {name}")
    return Aa


class LeastSquares(Problem):
    """Least squares `f_i(x) = 1/2 (a_i^T x - y_i)^2`, `F = (1/(2n)) ||A x - y||^2`.

    `grad F = A^T (A x - y)/n`, Hessian `A_tilde = A^T A / n`, `x_star` by `lstsq`,
    `L = lambda_max(A_tilde)`, `mu = lambda_min(A_tilde)`,
    `Sigma(x) = (1/n) sum_i r_i^2 a_i a_i^T - grad F grad F^T` with `r_i = a_i^T x - y_i`.
    """

    name = "least-squares"

    def __init__(self, A: Any, y: Any) -> None:
        A = _matrix(A, "A", 2)
        y = _matrix(y, "y", 1)
        if y.shape[0] != A.shape[0]:
            raise DimensionError("y", y.shape, f"must have n={A.shape[0]} rows like A", "fix y")
        super().__init__(A.shape[1], A.shape[0])
        self.A = A
        self.y = y
        self.A_tilde = A.T @ A / self.n

    def F(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        R = self._paths(X) @ self.A.T - self.y
        out = 0.5 * np.mean(R * R, axis=1)
        return out[0] if single else out

    def grad(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        R = self._paths(X) @ self.A.T - self.y
        out = R @ self.A / self.n
        return out[0] if single else out

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        a = self.A[idx]  # (P, b, d)
        r = np.einsum("pbd,pd->pb", a, X) - self.y[idx]
        return r[..., None] * a

    def minibatch_grad(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        a = self.A[idx]
        r = np.einsum("pbd,pd->pb", a, X) - self.y[idx]
        return np.einsum("pb,pbd->pd", r, a) / idx.shape[1]

    def Sigma(self, x: np.ndarray) -> np.ndarray:
        x = self._point(x)
        r = self.A @ x - self.y
        g = self.A.T @ r / self.n
        return (self.A.T * (r * r)) @ self.A / self.n - np.outer(g, g)

    def Sigma_batch(self, X: np.ndarray) -> np.ndarray:
        X = self._paths(X)
        R = X @ self.A.T - self.y
        G = R @ self.A / self.n
        return np.einsum("pn,ni,nj->pij", R * R, self.A, self.A) / self.n - np.einsum(
            "pi,pj->pij", G, G
        )

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return self.A_tilde.copy()

    @cached_property
    def x_star(self) -> np.ndarray:
        return np.linalg.lstsq(self.A, self.y, rcond=None)[0]

    @cached_property
    def L(self) -> float:
        return float(np.linalg.eigvalsh(self.A_tilde)[-1])

    @cached_property
    def mu(self) -> float:
        return float(np.linalg.eigvalsh(self.A_tilde)[0])


class LogisticL2(Problem):
    """L2-regularised logistic loss, labels `y_i` in {-1, +1}:

    $$f_i(x) = \\log(1 + e^{-y_i a_i^T x}) + \\frac{\\lambda}{2}\\|x\\|^2,\\quad
    \\nabla f_i(x) = -y_i a_i\\, s(-y_i a_i^T x) + \\lambda x,$$

    `s` the logistic function. `x_star` by Newton's method to machine precision,
    `L = lambda_max(A^T A)/(4n) + lam` (global), `mu = lam`.
    """

    name = "logistic-l2"

    def __init__(self, A: Any, y: Any, lam: float) -> None:
        A = _matrix(A, "A", 2)
        y = _matrix(y, "y", 1)
        if y.shape[0] != A.shape[0]:
            raise DimensionError("y", y.shape, f"must have n={A.shape[0]} rows like A", "fix y")
        if not np.all(np.abs(y) == 1):
            raise InputError("y", y, "labels must be -1 or +1", "map labels to {-1, +1}")
        if isinstance(lam, bool) or not np.isfinite(lam) or lam < 0:
            raise InputError("lam", lam, "must be finite and >= 0", "pass lam >= 0")
        super().__init__(A.shape[1], A.shape[0])
        self.A, self.y, self.lam = A, y, float(lam)
        self.yA = y[:, None] * A

    def F(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        Xp = self._paths(X)
        M = Xp @ self.yA.T
        out = np.mean(np.logaddexp(0.0, -M), axis=1) + 0.5 * self.lam * np.sum(Xp * Xp, axis=1)
        return out[0] if single else out

    def grad(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        Xp = self._paths(X)
        S = special.expit(-(Xp @ self.yA.T))
        out = -(S @ self.yA) / self.n + self.lam * Xp
        return out[0] if single else out

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        ya = self.yA[idx]  # (P, b, d)
        s = special.expit(-np.einsum("pbd,pd->pb", ya, X))
        return -s[..., None] * ya + self.lam * X[:, None, :]

    def hessian(self, x: np.ndarray) -> np.ndarray:
        x = self._point(x)
        s = special.expit(self.yA @ x)
        w = s * (1 - s)
        return (self.A.T * w) @ self.A / self.n + self.lam * np.eye(self.d)

    @cached_property
    def x_star(self) -> np.ndarray:
        x = np.zeros(self.d)
        for _ in range(100):
            step = np.linalg.solve(self.hessian(x), self.grad(x[None, :])[0])
            x = x - step
            if np.linalg.norm(step) <= 4 * np.finfo(float).eps * max(1.0, np.linalg.norm(x)):
                break
        return x

    @cached_property
    def L(self) -> float:
        return float(np.linalg.eigvalsh(self.A.T @ self.A)[-1] / (4 * self.n) + self.lam)

    @cached_property
    def mu(self) -> float:
        return self.lam


class Quadratic(Problem):
    """`F(x) = 1/2 (x - c)^T Q (x - c)` with additive Gaussian gradient noise.

    Each sample's gradient is `Q (x - c) + xi`, `xi ~ N(0, noise_cov)`, so a minibatch of size
    `b` has noise `N(0, noise_cov / b)` (sampling mode irrelevant: the noise is not a finite
    sum, `n = None`). `Sigma(x) = noise_cov` for every x; `x_star = c`, `F_star = 0`,
    `L = lambda_max(Q)`, `mu = lambda_min(Q)`. `sample_grads` is not defined (no sample set):
    simulators call `stochastic_grad`.

    Raises:
        DimensionError: Q not square, c or noise_cov of the wrong shape.
        InputError: Q or noise_cov not symmetric positive semi-definite.
    """

    name = "quadratic"

    def __init__(self, Q: Any, c: Any = None, noise_cov: Any = None) -> None:
        Q = np.atleast_2d(np.asarray(Q, dtype=float))
        if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
            raise DimensionError("Q", Q.shape, "must be square (d, d)", "pass a square matrix")
        d = Q.shape[0]
        if not np.allclose(Q, Q.T) or np.linalg.eigvalsh(Q)[0] < -1e-12 * max(1, abs(Q).max()):
            raise InputError("Q", Q, "must be symmetric positive semi-definite", "fix Q")
        c = np.zeros(d) if c is None else np.asarray(c, dtype=float).reshape(-1)
        if c.shape[0] != d:
            raise DimensionError("c", c.shape, f"must have d={d} entries", "fix c")
        S = np.zeros((d, d)) if noise_cov is None else np.atleast_2d(np.asarray(noise_cov, float))
        if S.shape != (d, d):
            raise DimensionError("noise_cov", S.shape, f"must be ({d}, {d})", "fix noise_cov")
        if not np.allclose(S, S.T) or np.linalg.eigvalsh(S)[0] < -1e-12 * max(1, abs(S).max()):
            raise InputError("noise_cov", S, "must be symmetric PSD", "fix noise_cov")
        super().__init__(d, None)
        self.Q, self.c, self.noise_cov = (Q + Q.T) / 2, c, (S + S.T) / 2
        self.noise_root = sqrt_psd(self.noise_cov)

    def F(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        D = self._paths(X) - self.c
        out = 0.5 * np.einsum("pi,ij,pj->p", D, self.Q, D)
        return out[0] if single else out

    def grad(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        out = (self._paths(X) - self.c) @ self.Q
        return out[0] if single else out

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError(
            "Quadratic has Gaussian noise, not a sample set: use stochastic_grad"
        )

    def stochastic_grad(
        self, X: np.ndarray, b: int, rng: np.random.Generator, replace: bool = True
    ) -> np.ndarray:
        """`Q (x - c) + noise_root z / sqrt(b)`, `z ~ N(0, I_d)` drawn as (P, d) normals."""
        b = check_batch_size(b, None, replace)
        Z = rng.standard_normal(X.shape)
        return self.grad(X) + (Z @ self.noise_root) / np.sqrt(b)

    def Sigma(self, x: np.ndarray) -> np.ndarray:
        return self.noise_cov.copy()

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return self.Q.copy()

    @cached_property
    def x_star(self) -> np.ndarray:
        return self.c.copy()

    @cached_property
    def L(self) -> float:
        return float(np.linalg.eigvalsh(self.Q)[-1])

    @cached_property
    def mu(self) -> float:
        return float(np.linalg.eigvalsh(self.Q)[0])


class TwoPoint(Problem):
    """Section 5: `F(x) = 1/2 (x+1)^2 + 1/2 (x-1)^2`, `d = 1`, `n = 2`.

    Readings (SPEC §1):

    - `"average"` (default, Eq. (1)): `f_{1,2}(x) = 1/2 (x +- 1)^2`, `F = (f_1 + f_2)/2 =
      x^2/2 + 1/2`, `grad F = x`, per-sample gradients `x + 1`, `x - 1` (noise `+-1`),
      `Sigma = 1`, `x_star = 0`, `F_star = 1/2`, `L = mu = 1`.
    - `"sum"` (as printed): `F = f_1 + f_2 = x^2 + 1`, `grad F = 2x`. To keep `F` an average
      of per-sample losses (so `g_M` stays unbiased), the samples are `f~_i = n f_i = (x +- 1)^2`:
      per-sample gradients `2(x + 1)`, `2(x - 1)`, and the minibatch gradient is
      `g_M(b, x) = (2/b) sum_{i in M} (x + s_i)` with `s_1 = +1`, `s_2 = -1`, i.e. `2x +- 2`
      for `b = 1`; noise `+-2`, `Sigma = 4`, `x_star = 0`, `F_star = 1`, `L = mu = 2`.

    Sample index 0 is `x + 1` (`f_1`), index 1 is `x - 1` (`f_2`).
    """

    name = "two-point"

    def __init__(self, reading: str = "average") -> None:
        if reading not in ("average", "sum"):
            raise InputError("reading", reading, "unknown reading", "use 'average' or 'sum'")
        super().__init__(1, 2)
        self.reading = reading
        self.scale = 1.0 if reading == "average" else 2.0
        self.shifts = np.array([1.0, -1.0])

    def F(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        x = self._paths(X)[:, 0]
        out = self.scale * (0.5 * x * x + 0.5)
        return out[0] if single else out

    def grad(self, X: np.ndarray) -> np.ndarray:
        single = np.ndim(X) == 1
        out = self.scale * self._paths(X)
        return out[0] if single else out

    def sample_grads(self, X: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return (self.scale * (X[:, None, :] + self.shifts[idx][..., None])).astype(float)

    def Sigma(self, x: np.ndarray) -> np.ndarray:
        return np.array([[self.scale**2]])

    def hessian(self, x: np.ndarray) -> np.ndarray:
        return np.array([[self.scale]])

    @cached_property
    def x_star(self) -> np.ndarray:
        return np.zeros(1)

    @cached_property
    def L(self) -> float:
        return self.scale

    @cached_property
    def mu(self) -> float:
        return self.scale

    def __repr__(self) -> str:
        return f"TwoPoint(reading={self.reading!r})"
