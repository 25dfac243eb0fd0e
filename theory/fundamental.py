r"""Fundamental solution $\Gamma$ of the linear delay equation $x'(t) = -\tilde A\,x(t-\tau)$.

Glossary: `A_tilde` $\tilde A = A^\top A/n$ · `tau` $\tau$ delay · `lam` an eigenvalue $\lambda$ of
$\tilde A$ · `Gamma` $\Gamma$ · `dps` mpmath decimal digits.

$\Gamma$ is the matrix solution with $\Gamma(0) = I$, $\Gamma = 0$ on $[-\tau, 0)$ (SPEC §1,
convention for Theorem 4.1). By the method of steps it is the finite series (SPEC §4)

$$\Gamma(t) = \sum_{k=0}^{\lfloor t/\tau\rfloor} (-\tilde A)^k \frac{(t-k\tau)^k}{k!},
  \qquad t\ge 0,$$

a polynomial of degree $k$ on each piece $[k\tau, (k+1)\tau]$. Since
$\Gamma^{(m)}(t) = (-\tilde A)^m\Gamma(t-m\tau)$, its Taylor expansion at the left end of
piece $k$ is

$$\Gamma(k\tau + s) = \sum_{m=0}^{k} c_{k,m}\,s^m,\qquad
  c_{k,m} = \frac{(-\tilde A)^m\,\Gamma((k-m)\tau)}{m!},\qquad 0\le s\le\tau .$$

Precision. The series alternates and its terms reach $e^{\rho(\tilde A)t}$ while $\Gamma$
itself may be $O(e^{Vt})$ with $V<0$: evaluating in fixed precision loses
$\rho(\tilde A)t/\ln 10$ digits. The mpmath functions here
raise the working precision by that many digits (plus guard digits), so the result
has absolute error about $10^{-\text{dps}}$ (dps = the caller's `mp.dps`, or `dps`).

The float grid evaluation (:func:`gamma_grid`) uses the local coefficients $c_{k,m}$ computed in
mpmath: on one piece the terms are bounded by $e^{|\lambda|\tau}\max_{u\le t}|\Gamma(u)|$, so
the float error is about $10^{-16}e^{|\lambda|\tau}\max|\Gamma|$ whatever $t$ is.

Used for: $c_\lambda$ of Theorem 4.1 (:mod:`theory.constants`), and exact second moments of linear
SDDEs: $\operatorname{Var} X(t) = s^2\int_0^t\Gamma(u)^2\,du$ (:func:`gamma_product_integral`,
:func:`gamma_covariance_integral`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

from theory.errors import InputError

__all__ = [
    "GammaPieces",
    "gamma",
    "gamma_covariance_integral",
    "gamma_grid",
    "gamma_pieces",
    "gamma_product_integral",
    "gamma_scalar",
    "gamma_scalar_grid",
    "iter_gamma_pieces_float",
    "latex_section",
    "method_of_steps_symbolic",
]

_GUARD_DIGITS = 10


class GammaInputError(InputError):
    """Bad input to the fundamental-solution functions (tau, t, A_tilde)."""


def _check_tau(tau: float) -> None:
    if not (isinstance(tau, (int, float, mpmath.mpf)) and mpmath.isfinite(tau) and tau > 0):
        raise GammaInputError("tau", tau, "must be a finite real number > 0", "pass tau > 0")


def _check_t(t: float) -> None:
    if not mpmath.isfinite(t):
        raise GammaInputError("t", t, "must be finite", "pass a finite time t")


def _as_mp_matrix(A_tilde: object) -> mpmath.matrix:
    try:
        M = mpmath.matrix(A_tilde) if not isinstance(A_tilde, mpmath.matrix) else A_tilde
    except (TypeError, ValueError) as exc:
        raise GammaInputError(
            "A_tilde", A_tilde, f"cannot be read as a matrix ({exc})", "pass a square 2-D array"
        ) from exc
    if M.rows != M.cols:
        raise GammaInputError(
            "A_tilde", A_tilde, f"must be square, got {M.rows}x{M.cols}", "pass a d x d matrix"
        )
    for i in range(M.rows):
        for j in range(M.cols):
            if not mpmath.isfinite(M[i, j]):
                raise GammaInputError(
                    "A_tilde", A_tilde, "has a non-finite entry", "pass finite entries"
                )
    return M


def _extra_digits(rho: float, t: float) -> int:
    """Digits lost to cancellation: terms reach $e^{\\rho t}$."""
    return (math.ceil(float(rho) * max(float(t), 0.0) / math.log(10))) + _GUARD_DIGITS


def gamma_scalar(lam: complex, tau: float, t: float, dps: int | None = None) -> mpmath.mpc:
    r"""Scalar $\Gamma_\lambda(t) = \sum_{k\le t/\tau} (-\lambda)^k (t-k\tau)^k/k!$ in mpmath.

    Arguments:
        lam: the coefficient $\lambda$ (real or complex) in $x' = -\lambda x(t-\tau)$.
        tau: the delay $\tau > 0$.
        t: the time; $\Gamma = 0$ for $t < 0$, $\Gamma(0) = 1$.
        dps: target accuracy in decimal digits (default: current `mp.dps`).

    Returns:
        $\Gamma_\lambda(t)$ as `mpf` (real $\lambda$) or `mpc`, absolute error about
        $10^{-\text{dps}}$.
    """
    _check_tau(tau)
    _check_t(t)
    dps = mpmath.mp.dps if dps is None else dps
    with mpmath.workdps(dps + _extra_digits(abs(complex(lam)), t)):
        lam_m = mpmath.mpmathify(lam)
        t_m, tau_m = mpmath.mpf(t), mpmath.mpf(tau)
        if t_m < 0:
            return mpmath.mpf(0)
        total = mpmath.mpf(0)
        k = 0
        while k * tau_m <= t_m:
            total += (-lam_m) ** k * (t_m - k * tau_m) ** k / mpmath.factorial(k)
            k += 1
    return +total


def gamma(A_tilde: object, tau: float, t: float, dps: int | None = None) -> mpmath.matrix:
    r"""Matrix $\Gamma(t) = \sum_{k\le t/\tau}(-\tilde A)^k (t-k\tau)^k/k!$ in mpmath, any square
    $\tilde A$.

    The exact reference (no diagonalisation): precision raised by
    $\|\tilde A\|_\infty t/\ln 10$ digits. Cost $O(\lfloor t/\tau\rfloor d^3)$ mp operations.

    Raises:
        GammaInputError: `tau` ≤ 0, `t` non-finite, `A_tilde` non-square or non-finite.
    """
    _check_tau(tau)
    _check_t(t)
    M = _as_mp_matrix(A_tilde)
    d = M.rows
    dps = mpmath.mp.dps if dps is None else dps
    norm = mpmath.mnorm(M, 1)
    with mpmath.workdps(dps + _extra_digits(norm, t)):
        M = mpmath.matrix(M)
        t_m, tau_m = mpmath.mpf(t), mpmath.mpf(tau)
        if t_m < 0:
            return mpmath.zeros(d, d)
        total = mpmath.zeros(d, d)
        power = mpmath.eye(d)
        k = 0
        while k * tau_m <= t_m:
            total += power * ((t_m - k * tau_m) ** k / mpmath.factorial(k))
            power = -(M * power)
            k += 1
    return total * 1


@dataclass(frozen=True)
class GammaPieces:
    r"""Piecewise-polynomial form of the scalar $\Gamma_\lambda$ on $[0, K\tau]$.

    `coefficients[k][m]` $= c_{k,m} = (-\lambda)^m\Gamma_\lambda((k-m)\tau)/m!$ (mpmath numbers), so
    $\Gamma_\lambda(k\tau+s) = \sum_{m\le k} c_{k,m}s^m$ for $0\le s\le\tau$, $k = 0..K-1$.
    `nodes[j]` $= \Gamma_\lambda(j\tau)$, $j = 0..K$. `dps` is the accuracy in digits.
    """

    lam: complex
    tau: float
    n_pieces: int
    nodes: tuple
    coefficients: tuple
    dps: int

    def as_float_table(self) -> np.ndarray:
        """Coefficients as a `(K, K)` complex array, `table[k, m] = c_{k,m}` (zero for m > k)."""
        table = np.zeros((self.n_pieces, self.n_pieces), dtype=complex)
        for k, row in enumerate(self.coefficients):
            for m, c in enumerate(row):
                table[k, m] = complex(c)
        return table

    def __call__(self, t: float) -> mpmath.mpc:
        """$\\Gamma_\\lambda(t)$ for $0 \\le t \\le K\\tau$ from the piecewise polynomial."""
        t_m = mpmath.mpf(t)
        if t_m < 0:
            return mpmath.mpf(0)
        k = min(int(mpmath.floor(t_m / self.tau)), self.n_pieces - 1)
        s = t_m - k * mpmath.mpf(self.tau)
        return mpmath.polyval(list(reversed(self.coefficients[k])), s)


def gamma_pieces(lam: complex, tau: float, n_pieces: int, dps: int | None = None) -> GammaPieces:
    r"""Nodes $\Gamma_\lambda(j\tau)$ and local Taylor coefficients $c_{k,m}$ for pieces $k < K$.

    Arguments:
        lam: the scalar $\lambda$ (an eigenvalue of $\tilde A$).
        tau: the delay.
        n_pieces: $K \ge 1$, the number of pieces $[k\tau,(k+1)\tau]$ covered.
        dps: accuracy in digits (default `mp.dps`); the working precision is raised by
            $|\lambda|K\tau/\ln 10$ digits internally.
    """
    _check_tau(tau)
    if not (isinstance(n_pieces, (int, np.integer)) and n_pieces >= 1):
        raise GammaInputError("n_pieces", n_pieces, "must be an integer >= 1", "pass K >= 1")
    dps = mpmath.mp.dps if dps is None else dps
    K = int(n_pieces)
    with mpmath.workdps(dps + _extra_digits(abs(complex(lam)), K * float(tau))):
        lam_m = mpmath.mpmathify(lam)
        tau_m = mpmath.mpf(tau)
        fact = [mpmath.factorial(m) for m in range(K + 1)]
        # nodes Γ(jτ) = Σ_{i≤j} (−λ)^i ((j−i)τ)^i / i!
        pw = [(-lam_m) ** i for i in range(K + 1)]
        nodes = []
        for j in range(K + 1):
            nodes.append(
                mpmath.fsum(pw[i] * ((j - i) * tau_m) ** i / fact[i] for i in range(j + 1))
            )
        coefficients = tuple(
            tuple(pw[m] * nodes[k - m] / fact[m] for m in range(k + 1)) for k in range(K)
        )
    return GammaPieces(
        lam=lam,
        tau=float(tau),
        n_pieces=K,
        nodes=tuple(nodes),
        coefficients=coefficients,
        dps=dps,
    )


def gamma_scalar_grid(lam: complex, tau: float, t: Sequence[float] | np.ndarray) -> np.ndarray:
    r"""Vectorised float $\Gamma_\lambda(t)$ on a grid (complex array; real part if $\lambda$ real).

    Horner evaluation of the mp-computed local coefficients $c_{k,m}$; float error about
    $10^{-16}e^{|\lambda|\tau}\max_{u\le t}|\Gamma_\lambda(u)|$ independent of $t$.
    """
    _check_tau(tau)
    t_arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t_arr)):
        raise GammaInputError("t", t, "must be finite", "pass finite times")
    t_max = float(np.max(t_arr, initial=0.0))
    K = (math.floor(t_max / tau)) + 1
    table = gamma_pieces(lam, tau, K, dps=20).as_float_table()
    return _horner(table, tau, t_arr)


def _horner(table: np.ndarray, tau: float, t_arr: np.ndarray) -> np.ndarray:
    """Evaluate piecewise polynomials `table[..., k, m]` at `t_arr`; zero for t < 0."""
    K = table.shape[-1]
    k_idx = np.clip(np.floor(t_arr / tau).astype(int), 0, K - 1)
    s = t_arr - k_idx * tau
    out = np.zeros(table.shape[:-2] + t_arr.shape, dtype=complex)
    for m in range(K - 1, -1, -1):
        out = out * s + table[..., k_idx, m]
    return np.where(t_arr < 0, 0.0, out)


def gamma_grid(A_tilde: np.ndarray, tau: float, t: Sequence[float] | np.ndarray) -> np.ndarray:
    r"""Vectorised float matrix $\Gamma(t)$ on a grid, shape `(len(t), d, d)`, real.

    Per eigenvalue: $\tilde A = P\,\mathrm{diag}(\lambda)\,P^{-1}$ (`eigh` for symmetric $\tilde A$,
    orthogonal $P$), $\Gamma(t) = P\,\mathrm{diag}(\Gamma_{\lambda_i}(t))\,P^{-1}$.

    Raises:
        GammaInputError: non-square / non-finite $\tilde A$, or an eigenvector matrix so
            ill-conditioned (cond > 1e8, $\tilde A$ nearly defective) that the float result would be
            meaningless — use :func:`gamma` (mpmath, no diagonalisation) instead.
    """
    _check_tau(tau)
    A = np.asarray(A_tilde, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise GammaInputError("A_tilde", A_tilde, "must be a square 2-D array", "pass d x d")
    if not np.all(np.isfinite(A)):
        raise GammaInputError("A_tilde", A_tilde, "has non-finite entries", "pass finite entries")
    t_arr = np.atleast_1d(np.asarray(t, dtype=float))
    if not np.all(np.isfinite(t_arr)):
        raise GammaInputError("t", t, "must be finite", "pass finite times")
    if np.allclose(A, A.T, rtol=0, atol=0):
        lams, P = np.linalg.eigh(A)
        P_inv = P.T
    else:
        lams, P = np.linalg.eig(A)
        if np.linalg.cond(P) > 1e8:
            raise GammaInputError(
                "A_tilde",
                A_tilde,
                "is (nearly) defective: eigenvector matrix condition number > 1e8",
                "use theory.fundamental.gamma (mpmath series, no diagonalisation)",
            )
        P_inv = np.linalg.inv(P)
    K = (math.floor(float(np.max(t_arr, initial=0.0)) / tau)) + 1
    tables = np.stack([gamma_pieces(complex(lam), tau, K, dps=20).as_float_table() for lam in lams])
    g = _horner(tables, tau, t_arr)  # (d, n_t)
    out = np.einsum("ij,jn,jk->nik", P, g, P_inv)
    return out.real


def gamma_product_integral(lam1: complex, lam2: complex, tau: float, t: float) -> mpmath.mpc:
    r"""Exact $\int_0^t \Gamma_{\lambda_1}(u)\,\Gamma_{\lambda_2}(u)\,du$ (piecewise polynomials).

    With $\lambda_1 = \lambda_2 = a$ and $s^2$ times it, this is $\operatorname{Var}X(t)$ of
    $dX = -aX(t-\tau)dt + s\,dW$ (SPEC §4). Accuracy about $10^{-\text{mp.dps}}$ absolute.
    """
    _check_tau(tau)
    _check_t(t)
    if t <= 0:
        return mpmath.mpf(0)
    K = (math.floor(float(t) / float(tau))) + 1
    return _product_integral(gamma_pieces(lam1, tau, K), gamma_pieces(lam2, tau, K), t)


def _product_integral(p1: GammaPieces, p2: GammaPieces, t: float) -> mpmath.mpc:
    K = min(p1.n_pieces, p2.n_pieces)
    tau = p1.tau
    extra = _extra_digits(max(abs(complex(p1.lam)), abs(complex(p2.lam))), K * float(tau))
    with mpmath.workdps(mpmath.mp.dps + extra):
        t_m, tau_m = mpmath.mpf(t), mpmath.mpf(tau)
        total = mpmath.mpf(0)
        for k in range(K):
            lo = k * tau_m
            if lo >= t_m:
                break
            width = min(tau_m, t_m - lo)
            c1, c2 = p1.coefficients[k], p2.coefficients[k]
            # ∫_0^w (Σ c1_i s^i)(Σ c2_j s^j) ds = Σ c1_i c2_j w^{i+j+1}/(i+j+1)
            for i, a in enumerate(c1):
                for j, b in enumerate(c2):
                    total += a * b * width ** (i + j + 1) / (i + j + 1)
    return +total


def gamma_covariance_integral(
    A_tilde: np.ndarray, tau: float, t: float, S: np.ndarray
) -> mpmath.matrix:
    r"""Exact $\int_0^t \Gamma(u)\,S\,\Gamma(u)^\top du$ for symmetric $\tilde A$ (mpmath).

    With $\tilde A = Q\Lambda Q^\top$ ($Q$ orthogonal, `mp.eigsy`) and $\hat S = Q^\top S Q$:
    $\int_0^t\Gamma S\Gamma^\top
    = Q\,[\hat S_{ij}\int_0^t\Gamma_{\lambda_i}\Gamma_{\lambda_j}]\,Q^\top$.
    For $dX = -\tilde A X(t-\tau)dt + G\,dW$ this is $\operatorname{Cov}X(t)$ with $S = GG^\top$.

    Raises:
        GammaInputError: `A_tilde` not symmetric (the orthogonal eigenbasis is required).
    """
    _check_tau(tau)
    _check_t(t)
    M = _as_mp_matrix(A_tilde)
    d = M.rows
    for i in range(d):
        for j in range(i):
            if M[i, j] != M[j, i]:
                raise GammaInputError(
                    "A_tilde", A_tilde, "must be symmetric", "pass (A_tilde + A_tilde.T)/2"
                )
    S_m = mpmath.matrix(S)
    lams, Q = mpmath.eigsy(M)
    S_hat = Q.T * S_m * Q
    inner = mpmath.zeros(d, d)
    if t <= 0:
        return inner
    K = (math.floor(float(t) / float(tau))) + 1
    pieces = [gamma_pieces(lams[i], tau, K) for i in range(d)]
    for i in range(d):
        for j in range(i, d):
            val = S_hat[i, j] * mpmath.re(_product_integral(pieces[i], pieces[j], t))
            inner[i, j] = val
            inner[j, i] = val
    return Q * inner * Q.T


def iter_gamma_pieces_float(
    lams: Sequence[complex] | np.ndarray,
    tau: float,
    rel_tol: float = 1e-18,
    weight: float = 0.0,
) -> Iterator[np.ndarray]:
    r"""Endless float method of steps: yields, for $k = 0, 1, \dots$, the coefficients of piece $k$.

    Yields arrays `c` of shape `(len(lams), m_max)` with
    $\Gamma_{\lambda_i}(k\tau + s) \approx \sum_m c[i, m]s^m$ on $0 \le s \le \tau$, from
    $c_{k+1,0} = \sum_m c_{k,m}\tau^m = \Gamma_\lambda((k+1)\tau)$ and
    $c_{k+1,m+1} = -\lambda c_{k,m}/(m+1)$ (integrate $x' = -\lambda x(t-\tau)$ over one piece).
    Degrees above `m_max` are dropped, where $(\rho\tau)^{m}/m! <$ `rel_tol`
    ($\rho = \max|\lambda|$):
    the dropped part is below `rel_tol`$\cdot\max_{u\le t}|\Gamma(u)|$. Per piece the float
    rounding is $\approx 10^{-16}e^{|\lambda|\tau}\max|\Gamma|$, and perturbations of the nodes
    propagate as solutions of the delay equation itself (they decay when $V < 0$). Use for long
    horizons (many pieces) where the mp series costs $O(K^2)$; compare with :func:`gamma_pieces`.

    With `weight` $= w \ne 0$ piece $k$ is scaled by $e^{wk\tau}$, i.e. the coefficients are those
    of $e^{wk\tau}\Gamma(k\tau+s)$; the recursion is linear, so the scaling is applied once per
    piece and neither $e^{wt}$ nor $\Gamma(t)$ is ever formed on its own (no overflow or
    underflow on long horizons, e.g. $e^{\lambda t}\Gamma(t)$ for $\lambda$ close to $-V$).
    """
    _check_tau(tau)
    lam = np.asarray(lams, dtype=complex).reshape(-1)
    rho_tau = float(np.max(np.abs(lam), initial=0.0)) * float(tau)
    m_max, term = 1, 1.0
    while term >= rel_tol or m_max <= rho_tau:
        term *= rho_tau / m_max
        m_max += 1
    powers = float(tau) ** np.arange(m_max)
    c = np.zeros((lam.size, m_max), dtype=complex)
    c[:, 0] = 1.0
    inv = 1.0 / np.arange(1, m_max)
    step_scale = math.exp(float(weight) * float(tau))
    while True:
        yield c.copy()
        nxt = np.empty_like(c)
        nxt[:, 0] = c @ powers
        nxt[:, 1:] = -lam[:, None] * c[:, :-1] * inv
        c = nxt * step_scale if weight else nxt


def method_of_steps_symbolic(n_pieces: int) -> list:
    r"""$\Gamma_\lambda$ on the pieces $[k\tau, (k+1)\tau]$, $k <$ `n_pieces`, by the method
    of steps in SymPy (exact, symbols $\lambda, \tau, t$): $\Gamma = 1$ on $[0, \tau]$ and
    $\Gamma(t) = \Gamma(k\tau) - \lambda\int_{k\tau}^{t}\Gamma(u-\tau)\,du$ on piece $k$.

    Returns a list of SymPy expressions in `t` (one per piece); independent of the series of
    :func:`gamma_scalar`, against which :func:`latex_section` checks it.
    """
    import sympy as sp

    lam, tau, t, u = sp.symbols("lambda tau t u", positive=True)
    pieces = [sp.Integer(1)]
    for k in range(1, n_pieces):
        prev = pieces[k - 1]
        start = prev.subs(t, k * tau)  # continuity at t = k tau
        integrand = prev.subs(t, u - tau)
        pieces.append(sp.expand(start - lam * sp.integrate(integrand, (u, k * tau, t))))
    return pieces


def latex_section(lam: float = 1.0, tau: float = 0.05, n_pieces: int = 4) -> str:
    r"""LaTeX section on $\Gamma$ (R6, Theorem 4.1): the method-of-steps pieces derived by SymPy,
    their symbolic agreement with the series, and values for the scalar example
    $\tilde A = $ `lam`, delay `tau` (computed with :func:`gamma_scalar` and
    :func:`iter_gamma_pieces_float`)."""
    import sympy as sp

    lam_s, tau_s, t_s = sp.symbols("lambda tau t", positive=True)
    s_s = sp.Symbol("s", nonnegative=True)
    pieces = method_of_steps_symbolic(n_pieces)
    rows, agree = [], True
    for k, piece in enumerate(pieces):
        series = sum((-lam_s) ** j * (t_s - j * tau_s) ** j / sp.factorial(j) for j in range(k + 1))
        ok = sp.expand(piece - series) == 0
        agree = agree and ok
        local = sp.collect(sp.expand(piece.subs(t_s, k * tau_s + s_s)), s_s)
        rows.append(f"\\Gamma_\\lambda({k}\\tau + s) &= {sp.latex(local)}")
    ts = [tau * j for j in (0, 1, 2, 5, 10, 20, 40)]
    values = [float(mpmath.re(gamma_scalar(lam, tau, t))) for t in ts]
    table = " \\\\\n".join(f"{t:g} & {v:.12g}" for t, v in zip(ts, values))
    return (
        "\\subsection{Fundamental solution $\\Gamma$ (R6, Theorem 4.1)}\n"
        "$\\Gamma$ solves $x'(t)=-\\tilde A x(t-\\tau)$ with $\\Gamma(0)=I$ and $\\Gamma=0$ on "
        "$[-\\tau,0)$ (SPEC \\S1). For an eigenvalue $\\lambda$ of $\\tilde A$ the method of "
        "steps, carried out by SymPy (\\texttt{theory.fundamental.method\\_of\\_steps\\_symbolic}: "
        "$\\Gamma(t)=\\Gamma(k\\tau)-\\lambda\\int_{k\\tau}^t\\Gamma(u-\\tau)\\,du$), gives, "
        "for $0\\le s\\le\\tau$,\n"
        "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"
        "Each piece "
        + ("equals" if agree else "\\textbf{differs from}")
        + " the series $\\sum_{j\\le t/\\tau}(-\\lambda)^j(t-j\\tau)^j/j!$ (symbolic difference "
        + ("$0$" if agree else "non-zero")
        + f"). Values for $\\lambda={lam:g}$, $\\tau={tau:g}$ (mpmath, precision raised "
        "against the cancellation of the alternating series):\n\n"
        "\\begin{center}\\begin{tabular}{rl}\n$t$ & $\\Gamma_\\lambda(t)$ \\\\ \\hline\n"
        + table
        + "\n\\end{tabular}\\end{center}\n"
    )
