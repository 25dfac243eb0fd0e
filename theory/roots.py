r"""Certified rightmost characteristic root $V$ of $x'(t) = -\tilde A\,x(t-\tau)$ (Theorem 4.1).

Glossary: `A_tilde` $\tilde A$ · `tau` $\tau$ · `lam` an eigenvalue $\lambda$ of $\tilde A$ ·
`V` $\sup\{\operatorname{Re}\beta : \det(\beta I + \tilde A e^{-\beta\tau}) = 0\}$ ·
`epsilon` $\varepsilon$ strip half-width · `dps` mpmath decimal digits.

**Claim used (Theorem 4.1 hypothesis $V<0$).** With $\tilde A = X\Lambda X^{-1}$,
$\det(\beta I + \tilde A e^{-\beta\tau}) = \prod_i f_{\lambda_i}(\beta)$,
$f_\lambda(\beta) = \beta + \lambda e^{-\beta\tau}$, and $f_\lambda(\beta) = 0 \iff
\beta\tau\,e^{\beta\tau} = -\lambda\tau \iff \beta = W_k(-\lambda\tau)/\tau$ (SPEC §4).

**Method.**

1. *Eigenvalues with enclosure.* $\hat\lambda_i$, $\hat X$ at raised precision: `mp.eigsy` for
   symmetric $\tilde A$ with $d \le 20$, else the float `eigh` basis refined in mpmath by
   Ogita–Aishima steps (falls back to `mp.eigsy`); `mp.eig` for non-symmetric $\tilde A$.
   With $R = \tilde A\hat X - \hat X\hat\Lambda$,
   $\hat X^{-1}\tilde A\hat X = \hat\Lambda + \hat X^{-1}R$,
   so by Bauer–Fike applied to the diagonal (normal) $\hat\Lambda$, **every** eigenvalue of
   $\tilde A$ lies within $r = \|\hat X^{-1}R\|_2 \le \|Y R\|_F/(1-\|I - Y\hat X\|_F)$ of some
   $\hat\lambda_i$ ($Y \approx \hat X^{-1}$, Neumann series). Rigorous up to the rounding of the
   (raised) working precision.
2. *Candidates.* $\beta_k = W_k(-\hat\lambda\tau)/\tau$ for branches $|k| \le 2$ (mpmath's
   `lambertw`, not scipy's). For real $\lambda$ the rightmost roots are $W_0$ and its conjugate
   $W_{-1}$; for complex $\lambda$ $W_0$ is normally the rightmost but the code takes the maximum
   over the branches computed and the strip count below proves no root was missed.
3. *Refinement.* Newton (`mpmath.findroot`, analytic derivative) on $f_{\hat\lambda}$, accepted only
   if it lowers $|f|$ and only where $|f'| > 10^{-\text{dps}/3}$. Near the double root
   $\lambda\tau = 1/e$ ($f = f' = 0$ at $\beta = -1/\tau$) the $W$ value is kept: mpmath evaluates
   $W$ there from the branch-point series in $\sqrt{2(ez+1)}$ to working precision, whereas the
   Newton quotient $f/f'$ is ill-conditioned. The root itself is then only determined to
   $O(\sqrt{10^{-\text{dps}}})$ by the (rounded) input — the conditioning of a double root.
4. *Certificate (argument principle per factor, with Rouché for the enclosure).* On
   $\operatorname{Re}\beta\ge c$ every root has $|\beta| = |\lambda|e^{-\tau\operatorname{Re}\beta}
   \le R := (|\hat\lambda|+r)e^{-c\tau}$, so all of them lie in the rectangle
   $[c, R+1]\times[-R-1, R+1]$ (none at all if $c > R$). The winding number of
   $f_{\hat\lambda}$ around the rectangle counts them. Step rule: from a sample $\beta_j$ the next
   step $h$ solves $|f'(\beta_j)|h + M_2h^2/2 = q/2$, with $M_2 = |\hat\lambda|\tau^2e^{-c\tau}
   \ge \sup|f''|$ on the region and $q = |f(\beta_j)| - re^{-c\tau} - \text{rounding slack}$.
   By Taylor's theorem $|f_\lambda(\beta) - f_{\hat\lambda}(\beta_j)| < q + re^{-c\tau} \le
   |f_{\hat\lambda}(\beta_j)|$ on the whole step for every $\lambda$ in the enclosure disc, so the
   image of the step stays in a disc that excludes 0: the argument increment is the principal
   value of $\arg(f_{j+1}/f_j)$, and (Rouché) every $f_\lambda$ in the disc has the same count.
   The second-order rule keeps the number of steps logarithmic even next to the double root.
   If $q \le 0$ or $h$ falls below the precision floor the count is *undecidable* (`None`).
   Counts: region $\operatorname{Re}\beta \ge V+\varepsilon$ must hold 0 roots (for every
   eigenvalue); region $\operatorname{Re}\beta \ge V - \varepsilon$ must hold exactly the
   candidates found there (the strip).
5. *Sign of V.* `is_V_negative` is `True` iff a count proves no root in $\operatorname{Re}\beta
   \ge 0$ for all eigenvalues (then $V<0$: roots of a retarded equation have no finite
   accumulation point, so the sup is attained), `False` iff a count proves a root in
   $\operatorname{Re}\beta\ge 0$, else `None` (contour through or too close to a root, e.g.
   $\lambda\tau = \pi/2$ to working precision). Input is taken as exact: a float $\pi/2$ is not
   $\pi/2$ and is decidable at 30 digits.
6. *Cross-check* (d ≤ `determinant_check_max_d`): `findroot` on the full $\det(\beta I +
   \tilde A e^{-\beta\tau})$ from a perturbed start, distance to the reported argmax root.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np

from theory.errors import InputError

__all__ = [
    "CharacteristicRoots",
    "ContourCount",
    "EigenvalueRoots",
    "RootsInputError",
    "characteristic_roots",
    "eigenvalue_enclosure",
]

_BRANCHES = (-2, -1, 0, 1, 2)


class RootsInputError(InputError):
    """Bad input to the characteristic-root computation (A_tilde, tau, epsilon)."""


@dataclass(frozen=True)
class ContourCount:
    r"""Winding-number count of the zeros of $f_{\hat\lambda}$ in $\operatorname{Re}\beta \ge c$.

    `zeros` is the certified count (same for every $\lambda$ within `radius` of $\hat\lambda$), or
    `None` if undecidable (`reason` says why). `rectangle` = (re_lo, re_hi, im_lo, im_hi).
    """

    c: mpmath.mpf
    rectangle: tuple
    zeros: int | None
    evaluations: int
    min_modulus: mpmath.mpf
    perturbation: mpmath.mpf
    trivial: bool
    reason: str = ""


@dataclass(frozen=True)
class EigenvalueRoots:
    """Roots of one factor $f_\\lambda(\\beta) = \\beta + \\lambda e^{-\\beta\\tau}$."""

    lam: mpmath.mpc
    radius: mpmath.mpf
    candidates: dict  # branch k -> root W_k(-λτ)/τ (refined)
    rightmost: mpmath.mpc
    rightmost_branch: int
    above: ContourCount  # region Re β ≥ V + ε: expected 0
    strip: ContourCount  # region Re β ≥ V − ε: expected `expected_in_strip`
    expected_in_strip: int
    sign: ContourCount | None  # region Re β ≥ 0 (only when V − ε ≤ 0 ≤ V + ε)


@dataclass(frozen=True)
class CharacteristicRoots:
    r"""Result of :func:`characteristic_roots`.

    `V` (mpf), `argmax` (roots with $\operatorname{Re}\beta$ within $10^{-\text{dps}/2}$ of V), per
    eigenvalue data, the certificate (`certified`: every count decided and as expected),
    `is_V_negative` ∈ {True, False, None}.
    """

    V: mpmath.mpf
    argmax: list
    eigen: list
    tau: mpmath.mpf
    epsilon: mpmath.mpf
    dps: int
    certified: bool
    is_V_negative: bool | None
    evaluations: int
    min_modulus: mpmath.mpf
    enclosure_radius: mpmath.mpf
    eigen_method: str
    determinant_check: dict | None = None
    notes: list = field(default_factory=list)

    def latex_section(self) -> str:
        """A LaTeX subsection: V, argmax roots, certificate summary and a table of eigenvalues."""
        verdict = {True: "certified $V<0$", False: "certified $V\\ge 0$", None: "undecidable"}
        lines = [
            "\\subsection*{Rightmost characteristic root $V$ (Theorem 4.1)}",
            "$V=\\sup\\{\\operatorname{Re}\\beta:\\det(\\beta I+\\tilde A e^{-\\beta\\tau})=0\\}$, "
            "roots $\\beta=W_k(-\\lambda_i\\tau)/\\tau$ per eigenvalue.",
            "",
            f"$\\tau = {mpmath.nstr(self.tau, 10)}$, $d = {len(self.eigen)}$, working precision "
            f"{self.dps} digits, eigenvalues by {self.eigen_method} with enclosure radius "
            f"$r = {mpmath.nstr(self.enclosure_radius, 3)}$.",
            "",
            f"$V = {mpmath.nstr(self.V, 20)}$; rightmost root(s): "
            + ", ".join(f"${_tex_complex(b)}$" for b in self.argmax)
            + ".",
            "",
            f"Certificate: winding-number counts on rectangles bounding "
            f"$\\{{\\operatorname{{Re}}\\beta\\ge V\\pm\\varepsilon\\}}$, "
            f"$\\varepsilon = {mpmath.nstr(self.epsilon, 3)}$; {self.evaluations} evaluations, "
            f"minimum modulus {mpmath.nstr(self.min_modulus, 3)}; "
            f"{'all counts decided and as expected' if self.certified else 'NOT certified'}. "
            f"Sign: {verdict[self.is_V_negative]}.",
            "",
            "\\begin{tabular}{rrrr}",
            "$i$ & $\\lambda_i$ & rightmost root & zeros in $\\operatorname{Re}\\beta\\ge V-"
            "\\varepsilon$ \\\\ \\hline",
        ]
        for i, e in enumerate(self.eigen[:12]):
            lines.append(
                f"{i} & ${_tex_complex(e.lam)}$ & ${_tex_complex(e.rightmost)}$ & "
                f"{e.strip.zeros if e.strip.zeros is not None else '?'} \\\\"
            )
        if len(self.eigen) > 12:
            lines.append(f"\\multicolumn{{4}}{{c}}{{\\dots{{}} {len(self.eigen) - 12} more}} \\\\")
        lines.append("\\end{tabular}")
        if self.determinant_check:
            lines.append("")
            lines.append(
                "Cross-check by \\texttt{findroot} on the full determinant: distance "
                f"{mpmath.nstr(self.determinant_check['distance'], 3)}."
            )
        for note in self.notes:
            lines.append("")
            lines.append(note)
        return "\n".join(lines) + "\n"


def _tex_complex(z: mpmath.mpc, digits: int = 12) -> str:
    z = mpmath.mpc(z)
    if z.imag == 0:
        return mpmath.nstr(z.real, digits)
    sign = "+" if z.imag >= 0 else "-"
    return f"{mpmath.nstr(z.real, digits)} {sign} {mpmath.nstr(abs(z.imag), digits)}i"


# ----------------------------------------------------------------------------- input


def _validate(A_tilde: object, tau: object) -> tuple[mpmath.matrix, mpmath.mpf]:
    try:
        tau_m = mpmath.mpf(tau)
    except (TypeError, ValueError) as exc:
        raise RootsInputError("tau", tau, "must be a real number", "pass tau > 0") from exc
    if not mpmath.isfinite(tau_m) or tau_m <= 0:
        raise RootsInputError(
            "tau", tau, "must be finite and > 0 (V is defined for a positive delay)", "pass tau > 0"
        )
    if isinstance(A_tilde, mpmath.matrix):
        M = mpmath.matrix(A_tilde)
    else:
        arr = np.asarray(A_tilde, dtype=object)
        if arr.ndim != 2:
            raise RootsInputError(
                "A_tilde", A_tilde, f"must be 2-D, got ndim={arr.ndim}", "pass a d x d matrix"
            )
        try:
            M = mpmath.matrix([[mpmath.mpmathify(x) for x in row] for row in arr.tolist()])
        except (TypeError, ValueError) as exc:
            raise RootsInputError(
                "A_tilde", A_tilde, "has entries that are not numbers", "pass a real matrix"
            ) from exc
    if M.rows != M.cols or M.rows == 0:
        raise RootsInputError(
            "A_tilde", A_tilde, f"must be square and non-empty, got {M.rows}x{M.cols}", "pass d x d"
        )
    for i in range(M.rows):
        for j in range(M.cols):
            x = M[i, j]
            if isinstance(x, mpmath.mpc) and x.imag != 0:
                raise RootsInputError(
                    "A_tilde", A_tilde, "must be real", "pass the real matrix A^T A / n"
                )
            if not mpmath.isfinite(x):
                raise RootsInputError(
                    "A_tilde", A_tilde, "has a non-finite entry", "pass finite entries"
                )
            M[i, j] = mpmath.re(x)
    return M, tau_m


# ------------------------------------------------------------------- eigen enclosure


def _is_symmetric(M: mpmath.matrix) -> bool:
    return all(M[i, j] == M[j, i] for i in range(M.rows) for j in range(i))


def _fro(M: mpmath.matrix) -> mpmath.mpf:
    return mpmath.mnorm(M, "F")


def _to_fixed(A: np.ndarray, p: int) -> np.ndarray:
    """mpf/float 2-D array -> Python-int array with value = int * 2^-p (rounded)."""
    return np.array(
        [[int(mpmath.nint(mpmath.ldexp(mpmath.mpf(x), p))) for x in row] for row in A],
        dtype=object,
    )


def _from_fixed(A: np.ndarray, p: int) -> np.ndarray:
    return np.array([[mpmath.ldexp(mpmath.mpf(v), -p) for v in row] for row in A], dtype=object)


def _fixed_matmul(A: np.ndarray, B: np.ndarray, p: int) -> np.ndarray:
    """Exact integer product, rounded back to scale 2^-p (error <= 2^-p per entry + inputs')."""
    C = A.dot(B)
    half = 1 << (p - 1)
    return np.array([[(v + half) >> p for v in row] for row in C], dtype=object)


def _symmetric_refined(M: mpmath.matrix, iterations: int = 4) -> tuple | None:
    r"""Eigen-decomposition of symmetric M: float `eigh`, then Ogita & Aishima (2018, Alg. 1).

    Matrix products are exact Python-integer products in fixed point (scale $2^{-p}$, $p$ =
    working bits + guard), which is ~20x faster than `mpmath.matrix` products. Returns
    `(lams, r, X)` with the Bauer-Fike radius $r \le \|R\|_F/\sqrt{1-\|I-X^\top X\|_F}$ plus
    the fixed-point rounding bound, or `None` (clustered eigenvalues: caller falls back).
    """
    d = M.rows
    A_np = np.array(M.tolist(), dtype=float)
    scale = max(float(np.max(np.abs(A_np))), 1e-300)
    _, Q = np.linalg.eigh(A_np)
    p = mpmath.mp.prec + 2 * d.bit_length() + 20
    Mi = _to_fixed([[M[i, j] for j in range(d)] for i in range(d)], p)
    Xi = _to_fixed(Q, p)
    target = mpmath.mpf(2) ** (-mpmath.mp.prec)
    eye = np.array([[int(i == j) << p for j in range(d)] for i in range(d)], dtype=object)
    for _ in range(iterations):
        XtX = _fixed_matmul(Xi.T, Xi, p)
        S = _from_fixed(_fixed_matmul(Xi.T, _fixed_matmul(Mi, Xi, p), p), p)
        R = _from_fixed(eye - XtX, p)
        lam = [S[i, i] / (1 - R[i, i]) for i in range(d)]
        E = np.empty((d, d), dtype=object)
        for i in range(d):
            for j in range(d):
                if i == j:
                    E[i, j] = R[i, i] / 2
                    continue
                gap = lam[j] - lam[i]
                if abs(gap) < mpmath.mpf(10) ** (-6) * scale:
                    return None
                E[i, j] = (S[i, j] + lam[j] * R[i, j]) / gap
        Xi = Xi + _fixed_matmul(Xi, _to_fixed(E, p), p)
        if max(abs(x) for x in E.flat) < target:
            break
    MX = _fixed_matmul(Mi, Xi, p)
    XtX = _fixed_matmul(Xi.T, Xi, p)
    S = _from_fixed(_fixed_matmul(Xi.T, MX, p), p)
    G = _from_fixed(XtX, p)
    lam = [S[i, i] / G[i, i] for i in range(d)]
    X = _from_fixed(Xi, p)
    MXm = _from_fixed(MX, p)
    res = mpmath.fsum((MXm[i, j] - X[i, j] * lam[j]) ** 2 for i in range(d) for j in range(d))
    orth = mpmath.sqrt(
        mpmath.fsum((G[i, j] - (1 if i == j else 0)) ** 2 for i in range(d) for j in range(d))
    )
    if orth >= mpmath.mpf("0.5"):
        return None
    # fixed-point rounding of M X and X: <= d 2^-p (|M|max + 1) |X|max per entry, bound by 4d
    xmax = max(abs(x) for x in X.flat)
    rounding = 4 * d * mpmath.ldexp(1, -p) * (scale + 1) * (xmax + 1) * d
    r = (mpmath.sqrt(res) + rounding) / mpmath.sqrt(1 - orth)
    return lam, r, X


def eigenvalue_enclosure(A_tilde: object, dps: int | None = None) -> tuple:
    r"""Eigenvalues $\hat\lambda_i$ of $\tilde A$ and a radius $r$ enclosing every true eigenvalue.

    Every eigenvalue of $\tilde A$ lies within $r$ of some $\hat\lambda_i$ (Bauer–Fike on
    $\hat X^{-1}\tilde A\hat X = \hat\Lambda + \hat X^{-1}R$, see module docstring).

    Returns:
        `(lams, r, method)`: list of mpc/mpf at precision `dps`, mpf radius, a method label.
    """
    M, _ = _validate(A_tilde, 1)
    dps = mpmath.mp.dps if dps is None else dps
    d = M.rows
    with mpmath.workdps(dps + 8):
        M = mpmath.matrix(M)
        refined = None
        if _is_symmetric(M):
            if d > 20:
                refined = _symmetric_refined(M)
                method = "float eigh refined in mpmath (Ogita-Aishima, fixed-point products)"
            if refined is None:
                lams, X = mpmath.eigsy(M)
                lams = [lams[i] for i in range(d)]
                method = "mp.eigsy"
                Y = X.T
        else:
            lams, X = mpmath.eig(M)
            method = "mp.eig"
            Y = mpmath.inverse(X)
        if refined is not None:
            lams, r, _ = refined
        else:
            Lam = mpmath.diag(lams)
            R = M * X - X * Lam
            neumann = _fro(mpmath.eye(d) - Y * X)
            r = mpmath.inf if neumann >= 1 else _fro(Y * R) / (1 - neumann)
    lams = [+x for x in lams]  # rounded to the caller's precision: widen r accordingly
    r = r + max(abs(x) for x in lams) * mpmath.ldexp(1, 1 - mpmath.mp.prec)
    return lams, r, method


# ---------------------------------------------------------------------- contour count


def _count_zeros(
    lam: mpmath.mpc,
    radius: mpmath.mpf,
    tau: mpmath.mpf,
    c: mpmath.mpf,
    max_evaluations: int,
) -> ContourCount:
    """Certified number of zeros of f(β) = β + λe^{−βτ} with Re β ≥ c (module docstring §4)."""
    dps = mpmath.mp.dps
    mod_lam = abs(lam)
    decay = mpmath.exp(-c * tau)
    R = (mod_lam + radius) * decay
    perturbation = radius * decay
    if c > R:
        return ContourCount(c, (c, c, 0, 0), 0, 0, mpmath.inf, perturbation, True, "c > bound")
    X = R + 1
    Y = R + 1
    corners = [mpmath.mpc(c, -Y), mpmath.mpc(X, -Y), mpmath.mpc(X, Y), mpmath.mpc(c, Y)]
    M2 = mod_lam * tau**2 * decay
    slack_rel = mpmath.mpf(10) ** (-dps + 5)
    rect = (c, X, -Y, Y)

    def f_fp(beta):
        E = lam * mpmath.exp(-beta * tau)
        return beta + E, 1 - tau * E, abs(beta) + abs(E)

    total = mpmath.mpf(0)
    evaluations = 0
    min_mod = mpmath.inf
    for n in range(4):
        a, b = corners[n], corners[(n + 1) % 4]
        length = abs(b - a)
        u = (b - a) / length
        s = mpmath.mpf(0)
        beta = a
        f, fp, scale = f_fp(beta)
        evaluations += 1
        while True:
            mod = abs(f)
            min_mod = min(min_mod, mod)
            q = mod - perturbation - slack_rel * scale
            if q <= 0:
                return ContourCount(
                    c,
                    rect,
                    None,
                    evaluations,
                    min_mod,
                    perturbation,
                    False,
                    f"|f| = {mpmath.nstr(mod, 3)} at beta = {mpmath.nstr(beta, 8)} is within the "
                    "enclosure/rounding error: contour passes (too close to) a root",
                )
            h = q / (abs(fp) + mpmath.sqrt(abs(fp) ** 2 + M2 * q))
            if h < slack_rel * (1 + abs(beta)):
                return ContourCount(
                    c,
                    rect,
                    None,
                    evaluations,
                    min_mod,
                    perturbation,
                    False,
                    "step below the precision floor: raise mp.dps",
                )
            if evaluations >= max_evaluations:
                return ContourCount(
                    c,
                    rect,
                    None,
                    evaluations,
                    min_mod,
                    perturbation,
                    False,
                    "max_evaluations reached",
                )
            last = s + h >= length
            s = length if last else s + h
            beta = b if last else a + u * s
            f_new, fp, scale = f_fp(beta)
            evaluations += 1
            total += mpmath.arg(f_new / f)
            f = f_new
            if last:
                break
    winding = total / (2 * mpmath.pi)
    n_zeros = int(mpmath.nint(winding))
    if abs(winding - n_zeros) > mpmath.mpf("1e-6"):
        return ContourCount(
            c,
            rect,
            None,
            evaluations,
            min_mod,
            perturbation,
            False,
            f"winding number {mpmath.nstr(winding, 8)} not an integer",
        )
    return ContourCount(c, rect, n_zeros, evaluations, min_mod, perturbation, False)


# ---------------------------------------------------------------------- candidates


def _candidates(lam: mpmath.mpc, tau: mpmath.mpf) -> dict:
    """β_k = W_k(−λτ)/τ for |k| ≤ 2, Newton-polished where well conditioned."""
    dps = mpmath.mp.dps
    out = {}
    with mpmath.workdps(dps + 10):
        z = -lam * tau
        for k in _BRANCHES:
            w = mpmath.lambertw(z, k)
            if not mpmath.isfinite(w):
                continue  # λ = 0: only W_0(0) = 0 is a root
            beta = w / tau

            def f(x):
                return x + lam * mpmath.exp(-x * tau)

            def fp(x):
                return 1 - tau * lam * mpmath.exp(-x * tau)

            if abs(fp(beta)) > mpmath.mpf(10) ** (-dps / 3):
                try:
                    polished = mpmath.findroot(f, beta, solver="newton", df=fp)
                    if abs(f(polished)) <= abs(f(beta)):
                        beta = polished
                except (ValueError, ZeroDivisionError):
                    pass
            out[k] = mpmath.mpc(beta)
    return {k: +v for k, v in out.items()}


def _det_crosscheck(M: mpmath.matrix, tau: mpmath.mpf, beta: mpmath.mpc) -> dict:
    d = M.rows

    def det(x):
        return mpmath.det(x * mpmath.eye(d) + M * mpmath.exp(-x * tau))

    error = ""
    for size in ("1e-4", "1e-6", "1e-3"):
        start = beta + mpmath.mpf(size) * (1 + abs(beta)) * mpmath.mpc(1, 1)
        try:
            root = mpmath.findroot(det, start, solver="secant")
        except (ValueError, ZeroDivisionError, TypeError) as exc:  # TypeError: LU on nan
            error = str(exc)
            continue
        return {"root": root, "distance": abs(root - beta), "det_at_argmax": abs(det(beta))}
    return {"root": None, "distance": mpmath.inf, "det_at_argmax": abs(det(beta)), "error": error}


# ------------------------------------------------------------------------ public


def characteristic_roots(
    A_tilde: object,
    tau: float,
    *,
    dps: int | None = None,
    epsilon: float | None = None,
    max_evaluations: int = 200_000,
    determinant_check_max_d: int = 6,
) -> CharacteristicRoots:
    r"""Certified rightmost real part $V$ of the roots of $\det(\beta I+\tilde Ae^{-\beta\tau})$.

    Arguments:
        A_tilde: real square matrix (numpy, nested lists, or `mpmath.matrix`, taken as exact).
        tau: the delay $\tau > 0$.
        dps: working precision in digits (default: the current `mp.dps`).
        epsilon: strip half-width $\varepsilon$ (default $10^{-\text{dps}/4}\max(1, |V|)$).
        max_evaluations: cap per contour; reaching it makes that count undecidable.
        determinant_check_max_d: run the full-determinant `findroot` cross-check if d ≤ this.

    Returns:
        :class:`CharacteristicRoots`.

    Raises:
        RootsInputError: `tau` ≤ 0 or non-finite; `A_tilde` non-square, complex or non-finite;
            `epsilon` ≤ 0.
    """
    M, tau_m = _validate(A_tilde, tau)
    dps = mpmath.mp.dps if dps is None else int(dps)
    if epsilon is not None and not (epsilon > 0 and math.isfinite(float(epsilon))):
        raise RootsInputError("epsilon", epsilon, "must be finite and > 0", "pass e.g. 1e-8")
    notes: list[str] = []
    with mpmath.workdps(dps):
        lams, radius, method = eigenvalue_enclosure(M, dps=dps)
        per = []
        for lam in lams:
            cands = _candidates(mpmath.mpc(lam), tau_m)
            k_best = max(cands, key=lambda k: (cands[k].real, cands[k].imag))
            per.append((mpmath.mpc(lam), cands, k_best))
        V = max(c[k].real for _, c, k in per)
        eps = (
            mpmath.mpf(epsilon)
            if epsilon is not None
            else mpmath.mpf(10) ** (-dps / 4) * max(1, abs(V))
        )
        tie = mpmath.mpf(10) ** (-dps / 2) * max(1, abs(V))
        argmax = []
        for _, cands, _ in per:
            for beta in sorted(cands.values(), key=lambda b: (-b.real, b.imag)):
                if abs(beta.real - V) <= tie and all(abs(beta - b) > tie for b in argmax):
                    argmax.append(beta)
        need_sign = V - eps <= 0 <= V + eps
        eigen = []
        evaluations = 0
        min_mod = mpmath.inf
        certified = True
        for lam, cands, k_best in per:
            above = _count_zeros(lam, radius, tau_m, V + eps, max_evaluations)
            strip = _count_zeros(lam, radius, tau_m, V - eps, max_evaluations)
            expected = sum(1 for b in cands.values() if b.real >= V - eps)
            sign = (
                _count_zeros(lam, radius, tau_m, mpmath.mpf(0), max_evaluations)
                if (need_sign)
                else None
            )
            for cc in (above, strip, sign):
                if cc is not None:
                    evaluations += cc.evaluations
                    min_mod = min(min_mod, cc.min_modulus)
            if above.zeros != 0 or strip.zeros != expected:
                certified = False
            eigen.append(
                EigenvalueRoots(
                    lam=lam,
                    radius=radius,
                    candidates=cands,
                    rightmost=cands[k_best],
                    rightmost_branch=k_best,
                    above=above,
                    strip=strip,
                    expected_in_strip=expected,
                    sign=sign,
                )
            )
        is_neg = _sign_verdict(V, eps, eigen)
        if not certified:
            notes.append(
                "Certificate incomplete: some count was undecidable or differed from the "
                "candidates found (see per-eigenvalue `above`/`strip`)."
            )
        det_check = None
        if M.rows <= determinant_check_max_d:
            det_check = _det_crosscheck(M, tau_m, argmax[0])
    return CharacteristicRoots(
        V=V,
        argmax=argmax,
        eigen=eigen,
        tau=tau_m,
        epsilon=eps,
        dps=dps,
        certified=certified,
        is_V_negative=is_neg,
        evaluations=evaluations,
        min_modulus=min_mod,
        enclosure_radius=radius,
        eigen_method=method,
        determinant_check=det_check,
        notes=notes,
    )


def _sign_verdict(V: mpmath.mpf, eps: mpmath.mpf, eigen: list) -> bool | None:
    """True/False only when proven by a count (module docstring §5)."""
    if V + eps < 0:
        # region Re β ≥ V + ε ⊇ Re β ≥ 0
        return True if all(e.above.zeros == 0 for e in eigen) else None
    if V - eps > 0:
        # a certified zero with Re β ≥ V − ε > 0
        return False if any(e.strip.zeros and e.strip.zeros > 0 for e in eigen) else None
    counts = [e.sign.zeros for e in eigen]
    if any(z is not None and z > 0 for z in counts):
        return False
    if all(z == 0 for z in counts):
        return True
    return None
