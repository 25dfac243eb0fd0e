r"""Explicit constants of Theorems 3.2, 3.4, 4.1 and 4.2, line by line of the proof sketches.

Glossary: `A_tilde` $\tilde A$ · `tau` $\tau$ · `lam` $\lambda$ (Thm 4.1 rate, $0<\lambda<-V$) ·
`c_lambda` $c_\lambda$ · `xi_tilde` $\|\tilde\xi\|$ · `sigma_sq` $\mathbb E\|\sigma\|^2$ (Frobenius:
$=\operatorname{tr}\sigma\sigma^\top = \operatorname{tr}\Sigma/b$) · `eta` $\eta$ ·
`epsilon` $\epsilon$
($\eta=\epsilon/\tau^2$) · `L`, `mu` · `l` delay bound · `K` iterations · `Phi` $\Phi$ (with
$\eta\Phi/\sqrt b := \sup_s\Phi(s)$) · `b` minibatch · `P` $=\eta\Phi/\sqrt b$ · `H`, `D`, `delta`.

Conventions (SPEC §1): $c_\lambda = \sup_{t\ge0}\|\Gamma(t)\|_2e^{\lambda t}$ ($\Gamma$ of
:mod:`theory.fundamental`, spectral norm); $\tilde\xi = \xi - x^*$ with the sup norm over
$[-\tau,0]$; $\|\tilde A\|$ spectral; $\mathbb E\|\sigma\|^2$ Frobenius; $H$ defaults to
$H_{\min} = \mathbb E\operatorname{tr}(\sigma\sigma^\top) + 2\mu LD^2$.

**Finite horizon for $c_\lambda$ (proved here).** $y(t) = e^{\lambda t}\Gamma(t)$ is the fundamental
solution of $y' = \lambda y - \tilde Ae^{\lambda\tau}y(t-\tau)$. By the variation-of-constants
formula (Hale), for $t \ge 0$,
$y(T+t) = y(t)y(T) - \int_{-\tau}^0 y(t-s-\tau)\tilde Ae^{\lambda\tau}y(T+s)\,ds$, hence
$\sup_{t\ge T}\|y(t)\| \le c_\lambda\,\theta_T$ with
$\theta_T = (1 + \|\tilde A\|\tau e^{\lambda\tau})\max_{[T-\tau,T]}\|y\|$. Since $\lambda < -V$,
$c_\lambda < \infty$; so once $\theta_T < 1$ the sup cannot be attained after $T$:
$c_\lambda = \max_{[0,T]}\|y\|$ exactly. The code scans pieces $[k\tau,(k+1)\tau]$ with the float
method of steps, bounds each piece's sup from the grid by the Lipschitz bound
$\|y'(t)\| \le \lambda\|y(t)\| + \|\tilde A\|e^{\lambda\tau}\|y(t-\tau)\|$, and stops at the first
$T = (k+1)\tau$ with $\theta_T < 1$ (upper bounds used throughout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import scipy.optimize

from theory.errors import InputError
from theory.fundamental import iter_gamma_pieces_float
from theory.roots import characteristic_roots

__all__ = [
    "CLambda",
    "ConstantsInputError",
    "Thm32Lines",
    "Thm34Lines",
    "Thm41Constants",
    "Thm42Bound",
    "c_lambda",
    "delay_recursion",
    "phi_from_trace",
    "thm32_lines",
    "thm34_lines",
    "thm41_constants",
    "thm42_bound",
]


class ConstantsInputError(InputError):
    """Bad input to the explicit constants (lam outside (0, -V), non-positive L, mu, ...)."""


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer, mpmath.mpf))
    v = float(value) if ok else float("nan")
    if not (math.isfinite(v) and (v >= 0 if allow_zero else v > 0)):
        raise ConstantsInputError(
            name,
            value,
            "must be finite and " + (">= 0" if allow_zero else "> 0"),
            f"pass a valid {name}",
        )
    return v


# ------------------------------------------------------------------------ c_lambda


@dataclass(frozen=True)
class CLambda:
    r"""$c_\lambda = \sup_{t\ge0}\|\Gamma(t)\|_2e^{\lambda t}$ with its certificate.

    `value`: the attained maximum (refined, a lower bound accurate to ~1e-12);
    `upper`: a rigorous upper bound (grid max + Lipschitz slack); `argmax_t`; `horizon` $T$ with
    $\theta_T < 1$ (module docstring); `theta` at $T$; `V` and `lam`.
    """

    value: float
    upper: float
    argmax_t: float
    horizon: float
    theta: float
    lam: float
    V: float
    tau: float
    pieces: int
    points_per_piece: int


def c_lambda(
    A_tilde: np.ndarray,
    tau: float,
    lam: float,
    *,
    V: float | None = None,
    points_per_piece: int = 64,
    max_pieces: int = 200_000,
) -> CLambda:
    r"""$c_\lambda$ of Theorem 4.1 with a proved finite horizon.

    Arguments:
        A_tilde: real square $\tilde A$ (symmetric: per-eigenvalue, exact spectral norm; general:
            eigen-decomposition and a batched 2-norm, small d).
        tau: delay $\tau > 0$.
        lam: $\lambda \in (0, -V)$.
        V: rightmost root real part; computed and certified by
            :func:`theory.roots.characteristic_roots` if omitted.
        points_per_piece: grid points per piece $[k\tau,(k+1)\tau]$.
        max_pieces: give up (ConstantsInputError on `lam`) if $\theta_T<1$ is not reached.

    Raises:
        ConstantsInputError: $V \ge 0$ (hypothesis of Thm 4.1 fails) or `lam` outside
            $(0, -V)$, or the horizon exceeds `max_pieces` (lam too close to $-V$).
    """
    A = np.asarray(A_tilde, dtype=float)
    tau = _positive("tau", tau)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
        raise ConstantsInputError("A_tilde", A_tilde, "must be a finite square matrix", "fix it")
    if V is None:
        res = characteristic_roots(A, tau)
        if res.is_V_negative is not True:
            raise ConstantsInputError(
                "A_tilde",
                A_tilde,
                f"Theorem 4.1 needs V < 0 (certified) but V = {mpmath.nstr(res.V, 8)}, "
                f"is_V_negative = {res.is_V_negative}",
                "Theorem 4.1 is NOT APPLICABLE here; reduce tau or eta",
            )
        V = float(res.V)
    if not (isinstance(lam, (int, float, np.floating)) and 0 < lam < -V):
        raise ConstantsInputError(
            "lam",
            lam,
            f"must lie in the open interval (0, -V) = (0, {-V:.12g})",
            "pick lam strictly between 0 and -V, e.g. -V/2",
        )
    lam = float(lam)
    symmetric = np.array_equal(A, A.T)
    if symmetric:
        eigs, P = np.linalg.eigh(A)
        P_inv = None
    else:
        eigs, P = np.linalg.eig(A)
        P_inv = np.linalg.inv(P)
    norm_A = float(np.linalg.norm(A, 2))
    growth = norm_A * math.exp(lam * tau)
    theta_factor = 1.0 + norm_A * tau * math.exp(lam * tau)
    n = int(points_per_piece)
    s = np.linspace(0.0, tau, n)
    h = s[1] - s[0]
    best, best_t, upper_prev, upper_max = -1.0, 0.0, 0.0, 0.0
    it = iter_gamma_pieces_float(eigs, tau, weight=lam)  # pieces of e^{lam k tau} Gamma
    e_lam_s = np.exp(lam * s)
    for k in range(max_pieces):
        c = next(it)
        vals = c @ (s[None, :] ** np.arange(c.shape[1])[:, None])  # (d, n)
        if symmetric:
            norms = np.max(np.abs(vals), axis=0)
        else:
            G = np.einsum("ij,jn,jk->nik", P, vals, P_inv).real
            norms = np.linalg.norm(G, 2, axis=(1, 2))
        y = norms * e_lam_s  # = ||Gamma(k tau + s)|| e^{lam (k tau + s)}, no overflow
        g = float(y.max())
        if g > best:
            best, best_t = g, k * tau + float(s[int(y.argmax())])
        upper = (g + h / 2 * growth * upper_prev) / (1 - h * lam / 2)
        upper_max = max(upper_max, upper)
        upper_prev = upper
        theta = theta_factor * upper
        if theta < 1 and k >= 1:
            break
    else:
        raise ConstantsInputError(
            "lam",
            lam,
            f"horizon not reached within {max_pieces} pieces (lam too close to -V)",
            "pick a smaller lam or raise max_pieces",
        )
    refined = _refine_max(best_t, h, tau, lam, eigs, P, P_inv, symmetric)
    value = max(best, refined[1])
    argmax_t = refined[0] if refined[1] > best else best_t
    return CLambda(
        value=value,
        upper=max(upper_max, value),
        argmax_t=argmax_t,
        horizon=(k + 1) * tau,
        theta=theta,
        lam=lam,
        V=float(V),
        tau=tau,
        pieces=k + 1,
        points_per_piece=n,
    )


def _refine_max(t0, h, tau, lam, eigs, P, P_inv, symmetric) -> tuple[float, float]:
    """Maximise ‖Γ(t)‖e^{λt} near t0 (bounded scalar search on [t0−h, t0+h])."""
    lo, hi = max(0.0, t0 - h), t0 + h
    K = math.floor(hi / tau) + 2
    it = iter_gamma_pieces_float(eigs, tau)
    pieces = [next(it) for _ in range(K)]

    def neg(t: float) -> float:
        k = min(math.floor(t / tau), K - 1)
        c = pieces[k]
        v = c @ ((t - k * tau) ** np.arange(c.shape[1]))
        if symmetric:
            nrm = float(np.max(np.abs(v)))
        else:
            nrm = float(np.linalg.norm((P * v) @ P_inv, 2))
        return -nrm * math.exp(lam * t)

    out = scipy.optimize.minimize_scalar(
        neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
    )
    return float(out.x), -float(out.fun)


# ----------------------------------------------------------------------- Theorem 4.1


@dataclass(frozen=True)
class Thm41Constants:
    r"""Theorem 4.1 constants and bounds (proof sketch, Section 4.1).

    $a_1 = c_\lambda\|\tilde\xi\| + c_\lambda\|\tilde\xi\|\|\tilde A\|(e^{\lambda\tau}-1)/\lambda$,
    $a_2 = c_\lambda^2\,\eta\,\mathbb E\|\sigma\|^2/(2\lambda)$
    (with $\mathbb E\|\sqrt\eta\sigma\|^2
    = \eta\mathbb E\|\sigma\|^2$), $\eta = \epsilon/\tau^2$; from the final display
    $C_5 = \frac{c_\lambda^2}{\lambda^2}\big(\|\tilde\xi\|^2(\|\tilde A\|+\lambda)^2
    + \lambda\epsilon\mathbb E\|\sigma\|^2/\tau^2\big)$, $C_6 = c_\lambda^2\mathbb E\|\sigma\|^2/2$,
    so that the right side is $C_5e^{-2\lambda(t-\tau)} + C_6\epsilon/(\lambda\tau^2)$.
    """

    c_lambda: CLambda
    lam: float
    tau: float
    epsilon: float
    eta: float
    xi_tilde: float
    sigma_sq: float
    norm_A: float
    a1: float
    a2: float
    C5: float
    C6: float
    notes: list = field(default_factory=list)

    def mean_bound(self, t: np.ndarray | float) -> np.ndarray:
        r"""$\|\mathbb EX(t)-x^*\| \le a_1e^{-\lambda t}$ (proof sketch, first claim)."""
        return self.a1 * np.exp(-self.lam * np.asarray(t, dtype=float))

    def variance_bound(self, t: np.ndarray | float) -> np.ndarray:
        r"""$\mathbb E\|X(t)-\mathbb EX(t)\|^2 \le a_2(1-e^{-2\lambda t})$ (second claim)."""
        return self.a2 * -np.expm1(-2 * self.lam * np.asarray(t, dtype=float))

    def combined_bound(self, t: np.ndarray | float) -> np.ndarray:
        r"""$a_1^2e^{-2\lambda t} + a_2(1-e^{-2\lambda t})$: the two claims put in the identity
        $\mathbb E\|X-x^*\|^2 = \mathbb E\|X-\mathbb EX\|^2 + \|\mathbb EX-x^*\|^2$."""
        return self.mean_bound(t) ** 2 + self.variance_bound(t)

    def intermediate_bound(self, t: np.ndarray | float) -> np.ndarray:
        r"""The printed display
        $\frac{c_\lambda^2}{\lambda^2}\big[(\|\tilde\xi\|^2(\|\tilde A\|+\lambda)^2
        + \lambda\eta\mathbb E\|\sigma\|^2)e^{2\lambda\tau}\big]e^{-2\lambda t}
        + \frac{c_\lambda^2\eta\mathbb E\|\sigma\|^2}{2\lambda}$."""
        t = np.asarray(t, dtype=float)
        c2, lam = self.c_lambda.value**2, self.lam
        first = self.xi_tilde**2 * (self.norm_A + lam) ** 2 + lam * self.eta * self.sigma_sq
        return c2 / lam**2 * first * np.exp(2 * lam * self.tau) * np.exp(-2 * lam * t) + (
            c2 * self.eta * self.sigma_sq / (2 * lam)
        )

    def final_bound(self, t: np.ndarray | float) -> np.ndarray:
        r"""$C_5e^{-2\lambda(t-\tau)} + C_6\,\epsilon/(\lambda\tau^2)$ (Theorem 4.1 as stated)."""
        t = np.asarray(t, dtype=float)
        return self.C5 * np.exp(-2 * self.lam * (t - self.tau)) + self.C6 * self.epsilon / (
            self.lam * self.tau**2
        )

    def latex_section(self) -> str:
        c = self.c_lambda
        return (
            "\\subsection*{Theorem 4.1: explicit constants}\n"
            f"$\\tau={self.tau:.6g}$, $\\epsilon={self.epsilon:.6g}$, "
            f"$\\eta=\\epsilon/\\tau^2={self.eta:.6g}$, $V={c.V:.10g}$, "
            f"$\\lambda={self.lam:.6g}\\in(0,-V)$.\n\n"
            f"$c_\\lambda=\\sup_t\\|\\Gamma(t)\\|_2e^{{\\lambda t}}={c.value:.10g}$ "
            f"(attained at $t={c.argmax_t:.6g}$; rigorous upper bound {c.upper:.10g}; "
            f"horizon $T={c.horizon:.6g}$ with $\\theta_T={c.theta:.3g}<1$).\n\n"
            f"$\\|\\tilde\\xi\\|={self.xi_tilde:.6g}$, $\\|\\tilde A\\|_2={self.norm_A:.6g}$, "
            f"$\\mathbb E\\|\\sigma\\|_F^2={self.sigma_sq:.6g}$.\n\n"
            f"$a_1={self.a1:.6g}$, $a_2={self.a2:.6g}$, $C_5={self.C5:.6g}$, "
            f"$C_6={self.C6:.6g}$; bound "
            "$C_5e^{-2\\lambda(t-\\tau)}+C_6\\epsilon/(\\lambda\\tau^2)$.\n"
        )


def thm41_constants(
    A_tilde: np.ndarray,
    tau: float,
    lam: float,
    epsilon: float,
    xi_tilde: float,
    sigma_sq: float,
    *,
    V: float | None = None,
    c_lam: CLambda | None = None,
) -> Thm41Constants:
    r"""All constants of Theorem 4.1 ($\eta = \epsilon/\tau^2$; see :class:`Thm41Constants`).

    Arguments:
        xi_tilde: $\sup_{s\in[-\tau,0]}\|\xi(s)-x^*\|_2$.
        sigma_sq: $\mathbb E\|\sigma\|_F^2 = \operatorname{tr}\Sigma(x^*)/b$ (SPEC §1: $\sigma$ at
            $x^*$).
        c_lam: a precomputed :class:`CLambda` (else computed).

    Raises:
        ConstantsInputError: `lam` outside $(0,-V)$ (names the interval), $V\ge0$, bad numbers.
    """
    tau = _positive("tau", tau)
    epsilon = _positive("epsilon", epsilon)
    xi_tilde = _positive("xi_tilde", xi_tilde, allow_zero=True)
    sigma_sq = _positive("sigma_sq", sigma_sq, allow_zero=True)
    cl = c_lam if c_lam is not None else c_lambda(A_tilde, tau, lam, V=V)
    if c_lam is not None and not (0 < lam < -cl.V):
        raise ConstantsInputError(
            "lam", lam, f"must lie in (0, -V) = (0, {-cl.V:.12g})", "pick lam in the interval"
        )
    norm_A = float(np.linalg.norm(np.asarray(A_tilde, dtype=float), 2))
    eta = epsilon / tau**2
    c = cl.value
    a1 = c * xi_tilde + c * xi_tilde * norm_A * math.expm1(lam * tau) / lam
    a2 = c**2 * eta * sigma_sq / (2 * lam)
    C5 = c**2 / lam**2 * (xi_tilde**2 * (norm_A + lam) ** 2 + lam * epsilon * sigma_sq / tau**2)
    C6 = c**2 * sigma_sq / 2
    return Thm41Constants(
        c_lambda=cl,
        lam=float(lam),
        tau=tau,
        epsilon=epsilon,
        eta=eta,
        xi_tilde=xi_tilde,
        sigma_sq=sigma_sq,
        norm_A=norm_A,
        a1=a1,
        a2=a2,
        C5=C5,
        C6=C6,
        notes=["C5 depends on epsilon through eta = epsilon/tau^2 (the paper calls it constant)."],
    )


# -------------------------------------------------------------------- Theorems 3.2 / 3.4


def phi_from_trace(trace_Sigma_tilde: float, trace_Sigma: float | None = None) -> float:
    r"""$\Phi$ with $\eta\Phi/\sqrt b = \sup_s\Phi(s)$.

    From $\Phi(k) \le \eta\sqrt{\mathrm{tr}\,\Sigma(\tilde x)/b}
    + \eta\sqrt{\mathrm{tr}\,\Sigma(x)/b}$:
    $\Phi = \sqrt{\mathrm{tr}\,\Sigma(\tilde x)} + \sqrt{\mathrm{tr}\,\Sigma(x)}$
    ($= 2\sqrt{\mathrm{tr}\,\Sigma}$ for constant $\Sigma$). Pass sups over the trajectories for
    state-dependent $\Sigma$."""
    a = _positive("trace_Sigma_tilde", trace_Sigma_tilde, allow_zero=True)
    b = a if trace_Sigma is None else _positive("trace_Sigma", trace_Sigma, allow_zero=True)
    return math.sqrt(a) + math.sqrt(b)


def delay_recursion(
    K: int, eta: float, L: float, P: float, q: np.ndarray | list[float]
) -> np.ndarray:
    r"""Exact worst case of the proof's recursion, iterated: $A_0 = 0$, $A_{k<0} = 0$,
    $A_k = A_{k-1} + \eta L\sum_{j=1}^{l+1}q_jA_{k-j} + P$, $k = 1..K$.

    `q[j-1]` is the probability of delay $j-1$ (the term $A_{k-j}$ comes from delay
    $l_{k-1} = j-1$); constant delay $l$: `q` = indicator of $l$. Returns $A_0..A_K$.
    """
    q = np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size == 0 or np.any(q < 0) or not np.all(np.isfinite(q)):
        raise ConstantsInputError("q", q, "must be a non-negative probability vector", "fix q")
    if not (isinstance(K, (int, np.integer)) and K >= 0):
        raise ConstantsInputError("K", K, "must be an integer >= 0", "pass K >= 0")
    A = np.zeros(K + 1)
    for k in range(1, K + 1):
        delayed = sum(q[j - 1] * A[k - j] for j in range(1, q.size + 1) if k - j >= 0)
        A[k] = A[k - 1] + eta * L * delayed + P
    return A


@dataclass(frozen=True)
class Thm32Lines:
    r"""Bounds on $A_K = \mathbb E\|x_K-\tilde x_K\|$ from each displayed line of the proof of
    Theorem 3.2 ($P = \eta\Phi/\sqrt b$, $g = \eta L(l+1)$), in order:

    `exact_q`: the recursion with $q_j$; `q_le_1`: with $q_j \le 1$; `sum_recursion`:
    $B_k = g\sum_{i<k}B_i + kP$; `closed_form`: $KP + gP\sum_{j=0}^{K-2}(1+g)^j(K-j-1)$;
    `log_bound`: $KP + gP(1+g)^K/\ln^2(1+g)$; `exp_bound`: $KP + gPe^{gK}/\ln^2(1+g)$ (the
    "integration approximation"); `final`: $KP + 4Pe^{gK}/g$ (uses $g \le 1$ and
    $g/2 \le \ln(1+g)$). `C2` makes $C_2e^{L(l+1)}/(\sqrt b(l+1)) \ge$ `final` at $\eta = 1/K$:
    $C_2 = 4\Phi/L + \Phi(l+1)e^{-L(l+1)}$ (the paper drops the $KP = \Phi/\sqrt b$ term).
    """

    K: int
    eta: float
    L: float
    l: int
    P: float
    lines: dict
    sequence: np.ndarray
    hypothesis: bool
    C2: float | None

    def latex_section(self) -> str:
        rows = "\n".join(f"{k.replace('_', ' ')} & {v:.6g} \\\\" for k, v in self.lines.items())
        return (
            "\\subsection*{Theorem 3.2: discrete-recursion part of the proof}\n"
            f"$K={self.K}$, $\\eta={self.eta:.6g}$, $L={self.L:.6g}$, $l={self.l}$, "
            f"$\\eta\\Phi/\\sqrt b={self.P:.6g}$; hypothesis $\\eta L(l+1)\\le1$: "
            f"{'holds' if self.hypothesis else 'FAILS'}.\n\n"
            "\\begin{tabular}{lr}\nline & bound on $A_K$ \\\\ \\hline\n"
            f"{rows}\n\\end{{tabular}}\n"
        )


def thm32_lines(
    K: int,
    eta: float,
    L: float,
    l: int,
    P: float,
    q: np.ndarray | list[float] | None = None,
    Phi: float | None = None,
) -> Thm32Lines:
    """Evaluate every displayed line of the Theorem 3.2 recursion argument (see class doc)."""
    eta, L, P = _positive("eta", eta), _positive("L", L), _positive("P", P, allow_zero=True)
    if not (isinstance(l, (int, np.integer)) and l >= 0):
        raise ConstantsInputError("l", l, "must be an integer >= 0", "pass the delay bound")
    q = np.full(l + 1, 1.0 / (l + 1)) if q is None else np.asarray(q, dtype=float)
    if q.size != l + 1:
        raise ConstantsInputError("q", q, f"must have l+1 = {l + 1} entries", "fix q")
    seq = delay_recursion(K, eta, L, P, q)
    g = eta * L * (l + 1)
    lg = math.log1p(g)
    lines = {
        "exact_q": float(seq[K]),
        "q_le_1": float(delay_recursion(K, eta, L, P, np.ones(l + 1))[K]),
        "sum_recursion": float(_sum_recursion(K, g, P)),
        "closed_form": K * P + g * P * sum((1 + g) ** j * (K - j - 1) for j in range(K - 1)),
        "log_bound": K * P + g * P * (1 + g) ** K / lg**2,
        "exp_bound": K * P + g * P * math.exp(g * K) / lg**2,
        "final": K * P + 4 * P * math.exp(g * K) / g,
    }
    C2 = None if Phi is None else 4 * Phi / L + Phi * (l + 1) * math.exp(-L * (l + 1))
    return Thm32Lines(K, eta, L, int(l), P, lines, seq, g <= 1, C2)


def _sum_recursion(K: int, g: float, P: float) -> float:
    B, total = 0.0, 0.0
    for k in range(1, K + 1):
        B = g * total + k * P
        total += B
    return B


@dataclass(frozen=True)
class Thm34Lines:
    r"""Theorem 3.4 (constant delay $l$), lines of the proof with $K = kl$, $P = \eta\Phi/\sqrt b$.

    Bounds on $A_{kl}$: `first`: $\eta L\sum_{i=1}^{(k-1)l}A_i + Pkl$ (on the exact sequence);
    `line_c_as_printed` (first term with $\eta/\sqrt b$, no $\Phi$, as printed) and `line_c`
    (with $P$); `line_d` ($\sum\le(1+\eta Ll)^k/\ln^2$); `line_e` ($e^{\eta Llk}$); `line_f`
    $=4e^{\eta Llk}P + 4\Phi e^{\eta Llk}/(L\sqrt b)$; `exact`: the recursion
    $A_k = A_{k-1} + \eta LA_{k-1-l} + P$. Relations checked on the exact sequence: `block`
    (lhs, rhs) of $(A_{(k-1)l}+\dots+A_{(k-2)l+1}) \le \eta Ll\sum_{i\le(k-2)l}A_i + P(k-1)l^2$;
    `initial_sum` (lhs $A_1+\dots+A_l$, rhs as printed $2(1+\eta L)^l/\ln(1+\eta L)$, rhs with
    the factor $P$). `C4` $= 4\Phi(1/K + 1/L)$ makes `line_f` $= C_4e^L/\sqrt b$ at $\eta=1/K$.
    """

    K: int
    eta: float
    L: float
    l: int
    Phi: float
    b: float
    lines: dict
    relations: dict
    sequence: np.ndarray
    hypothesis: bool
    C4: float

    def latex_section(self) -> str:
        rows = "\n".join(f"{k.replace('_', ' ')} & {v:.6g} \\\\" for k, v in self.lines.items())
        rel = "\n".join(
            f"{k.replace('_', ' ')} & {', '.join(f'{x:.6g}' for x in v)} \\\\"
            for k, v in self.relations.items()
        )
        return (
            "\\subsection*{Theorem 3.4: discrete-recursion part of the proof}\n"
            f"$K={self.K}$, $l={self.l}$, $\\eta={self.eta:.6g}$, $L={self.L:.6g}$, "
            f"$\\Phi={self.Phi:.6g}$, $b={self.b:g}$; hypothesis $\\eta Ll\\le1$: "
            f"{'holds' if self.hypothesis else 'FAILS'}; $C_4={self.C4:.6g}$.\n\n"
            "\\begin{tabular}{lr}\nline & bound on $A_K$ \\\\ \\hline\n"
            f"{rows}\n\\end{{tabular}}\n\n"
            "\\begin{tabular}{ll}\nrelation & lhs, rhs (, rhs with $P$) \\\\ \\hline\n"
            f"{rel}\n\\end{{tabular}}\n"
        )


def thm34_lines(K: int, eta: float, L: float, l: int, Phi: float, b: float) -> Thm34Lines:
    """Evaluate every displayed line of the Theorem 3.4 proof (see class doc). Needs l | K."""
    eta, L = _positive("eta", eta), _positive("L", L)
    Phi, b = _positive("Phi", Phi, allow_zero=True), _positive("b", b)
    if not (isinstance(l, (int, np.integer)) and l >= 1):
        raise ConstantsInputError("l", l, "must be an integer >= 1", "use Cor 3.3 for l = 0")
    if not (isinstance(K, (int, np.integer)) and K >= l and K % l == 0):
        raise ConstantsInputError("K", K, f"must be a positive multiple of l={l}", "pick K = kl")
    k = K // l
    P = eta * Phi / math.sqrt(b)
    q = np.zeros(l + 1)
    q[l] = 1.0
    A = delay_recursion(K, eta, L, P, q)
    g1, gl = eta * L, eta * L * l
    ln1, lnl = math.log1p(g1), math.log1p(gl)
    s_geo = sum((1 + gl) ** i * (k - 1 - i) for i in range(k))
    first_term = g1 * (1 + gl) ** (k - 1) * 2 * (1 + g1) ** l / ln1
    second = eta**2 * l**2 * L * Phi / math.sqrt(b)
    lines = {
        "exact": float(A[K]),
        "first": float(eta * L * A[1 : (k - 1) * l + 1].sum() + P * k * l),
        "line_c_as_printed": first_term * eta / math.sqrt(b) + second * s_geo,
        "line_c": first_term * P + second * s_geo,
        "line_d": first_term * P + second * (1 + gl) ** k / lnl**2,
        "line_e": 2 * g1 * math.exp(gl * k) * P / ln1 + second * math.exp(gl * k) / lnl**2,
        "line_f": 4 * math.exp(gl * k) * P + 4 * Phi * math.exp(gl * k) / (L * math.sqrt(b)),
    }
    relations = {
        "initial_sum": (
            float(A[1 : l + 1].sum()),
            2 * (1 + g1) ** l / ln1,
            2 * (1 + g1) ** l / ln1 * P,
        ),
    }
    if k >= 2:
        relations["block"] = (
            float(A[(k - 2) * l + 1 : (k - 1) * l + 1].sum()),
            float(eta * L * l * A[1 : (k - 2) * l + 1].sum() + P * (k - 1) * l**2),
        )
    C4 = 4 * Phi * (1 / K + 1 / L)
    return Thm34Lines(K, eta, L, int(l), Phi, b, lines, relations, A, gl <= 1, C4)


# ----------------------------------------------------------------------- Theorem 4.2


@dataclass(frozen=True)
class Thm42Bound:
    r"""Theorem 4.2: $\mathbb E\|X(t)-x^*\|^2 \le (\delta+1)(H+2L^2D^2\tau)\ln t/((t-1)\mu^2)$,
    $t>1$, with $H \ge H_{\min} = \mathbb E\operatorname{tr}(\sigma\sigma^\top) + 2\mu LD^2$
    (Cor 4.3: $\tau = 0$)."""

    delta: float
    H: float
    H_min: float
    L: float
    mu: float
    D: float
    tau: float
    trace_sigma: float

    def rhs(self, t: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if np.any(t <= 1):
            raise ConstantsInputError("t", t, "must be > 1 (Theorem 4.2)", "pass t > 1")
        return (
            (self.delta + 1)
            * (self.H + 2 * self.L**2 * self.D**2 * self.tau)
            * np.log(t)
            / ((t - 1) * self.mu**2)
        )

    def latex_section(self) -> str:
        return (
            "\\subsection*{Theorem 4.2: energy-function bound}\n"
            f"$\\delta={self.delta:.6g}$, $L={self.L:.6g}$, $\\mu={self.mu:.6g}$, "
            f"$D={self.D:.6g}$, $\\tau={self.tau:.6g}$, "
            f"$\\mathbb E\\operatorname{{tr}}\\sigma\\sigma^\\top={self.trace_sigma:.6g}$; "
            f"$H_{{\\min}}={self.H_min:.6g}$, $H={self.H:.6g}$.\n\n"
            "Bound: $\\mathbb E\\|X(t)-x^*\\|^2\\le"
            "\\frac{(\\delta+1)(H+2L^2D^2\\tau)\\ln t}{(t-1)\\mu^2}$, $t>1$. "
            "$D$ is a hypothesis on the paths (ball radius); state how it was chosen.\n"
        )


def thm42_bound(
    delta: float,
    L: float,
    mu: float,
    D: float,
    tau: float,
    trace_sigma: float,
    H: float | None = None,
) -> Thm42Bound:
    """Theorem 4.2 constants; `H` defaults to H_min (SPEC §1). Raises if H < H_min."""
    delta, L, mu = _positive("delta", delta), _positive("L", L), _positive("mu", mu)
    D, tau = _positive("D", D, allow_zero=True), _positive("tau", tau, allow_zero=True)
    trace_sigma = _positive("trace_sigma", trace_sigma, allow_zero=True)
    H_min = trace_sigma + 2 * mu * L * D**2
    if H is None:
        H = H_min
    elif not (math.isfinite(H) and H >= H_min):
        raise ConstantsInputError(
            "H",
            H,
            f"must be >= H_min = E tr(sigma sigma^T) + 2 mu L D^2 = {H_min:.12g}",
            "pass H >= H_min or omit H",
        )
    return Thm42Bound(delta, float(H), H_min, L, mu, D, tau, trace_sigma)
