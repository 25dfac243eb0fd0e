r"""Shared machinery of the Theorem 4.1 checks (R6): the synthetic least-squares design, one
$(\tilde A, \tau)$ setting with its certified roots, the exact moments of Eq. (7), the time
grid, the evaluator's tolerance, and the grid points of the as-stated level.

Glossary as in :mod:`theory.claims.thm41` (the statement the checks read): `A_tilde`
$\tilde A$ · `tau` $\tau$ · `lam` $\lambda = f\cdot(-V)$ · `epsilon` $\epsilon$ · `eta`
$\eta = \epsilon/\tau^2$ · `xi_tilde` $\|\tilde\xi\|$ · `sigma_sq` $\mathbb E\|\sigma\|^2 =
\operatorname{tr}\Sigma(x^*)/b$.

**Tolerance (exact rows).** Relative, per element:
$\max(10^3\cdot2^{-53}(1+t/\tau)e^{2\rho(\tilde A)\tau},\ 10^{-11})$ — the float error bound
of :mod:`numerics.linear_sdde` with a safety factor, and the $\approx10^{-12}$ accuracy of
$c_\lambda$; ten times that at $t=\infty$ (Küchler–Mensch).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.linear_sdde import kuchler_mensch_variance, linear_sdde_moments
from numerics.problems import sqrt_psd
from numerics.synthetic import spectral_least_squares
from theory.claims.thm41 import THM41
from theory.constants import CLambda, Thm41Constants, c_lambda, thm41_constants
from theory.errors import InputError
from theory.roots import characteristic_roots
from verify.evidence import ExactCurve, Row, Tolerance

__all__ = [
    "CONVENTIONS",
    "FLOAT_EPS",
    "R6InputError",
    "Setting",
    "StatedPoint",
    "constant_values",
    "exact_tolerance",
    "floats",
    "lam_fracs",
    "rhs_scale",
    "sdde_moments",
    "setting",
    "settings",
    "stated_points",
    "t_grid",
    "t_units",
]

FLOAT_EPS = 2.0**-53
C_LAMBDA_REL_ACCURACY = 1e-11  # theory.constants: c_lambda.value accurate to ~1e-12
CONVENTIONS = (
    *THM41.conventions[:2],
    "constant initial segment xi = 0",
    *THM41.conventions[2:],
    "minibatches sampled with replacement",
    "reading: the bound must hold for every lambda in (0, -V) and every t >= 0",
)


class R6InputError(InputError):
    """Bad parameters for the R6 checks (grid values, d, n, rhs_scale)."""


class Setting:
    r"""One $(\tilde A, \tau)$: the problem, $x^*$, $\Sigma(x^*)$ and the certified roots."""

    def __init__(self, kappa: float, a_tau: float, d: int, n: int, data_seed: int) -> None:
        self.kappa, self.a_tau = float(kappa), float(a_tau)
        self.problem = spectral_least_squares(kappa, d, n, data_seed)
        A_t = self.problem.A_tilde
        self.A_tilde = 0.5 * (A_t + A_t.T)
        self.eigs = np.linalg.eigvalsh(self.A_tilde)
        self.L = float(self.eigs[-1])
        self.tau = self.a_tau / self.L
        self.x_star = np.asarray(self.problem.x_star, dtype=float)
        self.xi = np.zeros(d)
        self.xi_tilde = float(np.linalg.norm(self.xi - self.x_star))
        self.Sigma = self.problem.Sigma(self.x_star)
        self.roots = characteristic_roots(self.A_tilde, self.tau)
        self.V = float(self.roots.V)
        self.is_V_negative = self.roots.is_V_negative
        if self.is_V_negative is True:
            self.reason = ""
        elif self.is_V_negative is False:
            self.reason = f"V < 0 fails: certified V = {self.V:.6g} >= 0"
        else:
            self.reason = f"V < 0 undecidable (V = {self.V:.6g}, certificate inconclusive)"

    @property
    def applicable(self) -> bool:
        return self.is_V_negative is True

    def label(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "L_tau": self.a_tau,
            "tau": self.tau,
            "V": self.V,
            "V_certified_negative": self.is_V_negative,
        }


@functools.lru_cache(maxsize=128)
def setting(kappa: float, a_tau: float, d: int, n: int, data_seed: int) -> Setting:
    return Setting(kappa, a_tau, d, n, data_seed)


@functools.lru_cache(maxsize=512)
def constants(
    kappa: float, a_tau: float, d: int, n: int, data_seed: int, lam: float, eps: float, b: int
) -> Thm41Constants:
    s = setting(kappa, a_tau, d, n, data_seed)
    sigma_sq = float(np.trace(s.Sigma)) / b
    cl = c_lambda_at(kappa, a_tau, d, n, data_seed, lam)
    return thm41_constants(s.A_tilde, s.tau, lam, eps, s.xi_tilde, sigma_sq, V=s.V, c_lam=cl)


@functools.lru_cache(maxsize=512)
def c_lambda_at(kappa: float, a_tau: float, d: int, n: int, data_seed: int, lam: float) -> CLambda:
    s = setting(kappa, a_tau, d, n, data_seed)
    return c_lambda(s.A_tilde, s.tau, lam, V=s.V)


def horizon(s: Setting, p: dict[str, Any]) -> float:
    r"""Last finite time of the t grid: several relaxation times $1/|V|$, at least $10\tau$, at
    most `horizon_taus` $\tau$ (the $t=\infty$ row covers the rest)."""
    T = max(10.0 * s.tau, float(p["relaxations"]) / abs(s.V))
    return min(T, float(p["horizon_taus"]) * s.tau)


def t_units(s: Setting, p: dict[str, Any]) -> np.ndarray:
    r"""The t grid in units of $\tau/$`t_div` (integers): $t = m\tau/$`t_div`, the same floats
    for every check (shared exact moments). With `t_div` dividing every delay $l$, each $t$ is
    the step $k = m\,l/$`t_div` of ASGD with $\eta = \tau/l$."""
    div = int(p.get("t_div", 64))
    T = horizon(s, p)
    t = np.concatenate([np.linspace(0.0, T, int(p["n_t"])), [s.tau], np.geomspace(s.tau / 8, T, 6)])
    return np.unique(np.round(t * div / s.tau).astype(np.int64))


def t_grid(s: Setting, p: dict[str, Any]) -> np.ndarray:
    return t_units(s, p) * (s.tau / int(p.get("t_div", 64)))


@functools.lru_cache(maxsize=128)
def sdde_moments(
    kappa: float, a_tau: float, d: int, n: int, data_seed: int, t_key: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact $\|\mathbb EX(t)-x^*\|$ and $\operatorname{tr}\operatorname{Cov}X(t)$ for $G$ with
    $GG^\top = \Sigma(x^*)$ (so the variance for $\eta/b$ is this times $\eta/b$)."""
    s = setting(kappa, a_tau, d, n, data_seed)
    G = sqrt_psd(s.Sigma)
    m = linear_sdde_moments(s.A_tilde, G, s.tau, np.asarray(t_key), x_star=s.x_star, xi=s.xi)
    mean_err = np.linalg.norm(m.mean - s.x_star, axis=1)
    return mean_err, m.variance


def stationary_variance(s: Setting) -> float:
    r"""$\lim_{t\to\infty}\operatorname{tr}\operatorname{Cov}X(t)$ for $GG^\top = \Sigma(x^*)$:
    in the eigenbasis the trace only involves the diagonal, so it is
    $\sum_i \hat S_{ii}(1+\sin\lambda_i\tau)/(2\lambda_i\cos\lambda_i\tau)$ (Küchler–Mensch)."""
    w, P = np.linalg.eigh(s.A_tilde)
    S_hat = P.T @ s.Sigma @ P
    return float(
        sum(S_hat[i, i] * kuchler_mensch_variance(w[i], 1.0, s.tau) for i in range(w.size))
    )


def rel_tol(t: np.ndarray, s: Setting) -> np.ndarray:
    """Relative tolerance per row (module docstring)."""
    rho = float(np.max(np.abs(s.eigs)))
    t = np.where(np.isfinite(t), t, 0.0)
    return np.maximum(
        1e3 * FLOAT_EPS * (1 + t / s.tau) * math.exp(2 * rho * s.tau), C_LAMBDA_REL_ACCURACY
    )


def floats(p: dict[str, Any], key: str) -> tuple[float, ...]:
    vals = p[key]
    vals = (vals,) if np.ndim(vals) == 0 else tuple(vals)
    out = tuple(float(v) for v in vals)
    if not out or not all(np.isfinite(out)):
        raise R6InputError(key, vals, "must be a non-empty tuple of finite numbers", f"fix {key}")
    return out


def lam_fracs(p: dict[str, Any]) -> tuple[float, ...]:
    fr = floats(p, "lam_fracs")
    return fr


def rhs_scale(p: dict[str, Any]) -> float:
    r = p.get("rhs_scale", 1.0)
    if not (isinstance(r, (int, float)) and np.isfinite(r) and r > 0):
        raise R6InputError("rhs_scale", r, "must be a finite number > 0", "pass e.g. 1.0")
    return float(r)


def settings(p: dict[str, Any], a_key: str = "a_taus") -> list[Setting]:
    return [
        setting(k, a, int(p["d"]), int(p["n"]), int(p["data_seed"]))
        for k in floats(p, "kappas")
        for a in floats(p, a_key)
    ]


def exact_tolerance(t: np.ndarray, s: Setting) -> Tolerance:
    """The per-element tolerance of exact Eq. (7) rows (module docstring); `t = inf` gets ten
    times the `t = 0` value."""
    finite = np.isfinite(t)
    tol = np.where(finite, rel_tol(t, s), 10 * rel_tol(np.zeros(1), s)[0])
    return Tolerance(
        tol,
        1e-300,
        "1e3 eps (1 + t/tau) e^{2 rho tau} float bound of the exact moments, >= 1e-11 (c_lambda)",
    )


def constant_values(s: Setting, c: Thm41Constants) -> dict[str, Any]:
    """The symbols of :mod:`theory.claims.thm41` at one grid point (and the setting's
    hypotheses' inputs: V and whether it is certified negative)."""
    return {
        "V": s.V,
        "V_certified_negative": s.is_V_negative,
        "tau": s.tau,
        "lam": c.lam,
        "epsilon": c.epsilon,
        "eta": c.eta,
        "c_lambda": c.c_lambda.value,
        "xi_tilde": c.xi_tilde,
        "norm_A": c.norm_A,
        "sigma_sq": c.sigma_sq,
        "a1": c.a1,
        "a2": c.a2,
        "C5": c.C5,
        "C6": c.C6,
    }


@dataclass
class StatedPoint:
    """One grid point of the as-stated level: the point's parameters, the claim symbols, and
    the exact left sides over the times `t` (the last entry is `t = inf`, Küchler–Mensch)."""

    point: dict[str, Any]
    values: dict[str, Any] | None
    reason: str
    unevaluated: bool
    t: np.ndarray
    mean_err: np.ndarray
    variance: np.ndarray
    tolerance: Tolerance | None
    extra: dict[str, Any]

    @property
    def mse(self) -> np.ndarray:
        return self.variance + self.mean_err**2

    def row(self, lhs: np.ndarray, rhs: Any, tolerance: Tolerance | None = None) -> Row:
        """A row of `lhs` against `rhs` (NOT APPLICABLE / unevaluated rows carry no evidence)."""
        if self.values is None:
            return Row(
                self.point, None, self.extra.get("hyps", []), {}, self.reason, self.unevaluated
            )
        ev = ExactCurve(lhs, rhs, tolerance or self.tolerance, x=self.t)
        return Row(
            self.point,
            ev,
            self.extra.get("hyps", []),
            {k: v for k, v in self.extra.items() if k != "hyps"},
            values=self.values,
        )


def stated_points(p: dict[str, Any]) -> Iterator[StatedPoint]:
    r"""Every grid point (kappa, L tau, lambda fraction, epsilon, b) of the as-stated level, its
    hypotheses evaluated from the claim statement, with the exact $\|\mathbb EX(t)-x^*\|$ and
    $\operatorname{tr}\operatorname{Cov}X(t)$ of Eq. (7) (the variance scales with $\eta/b$)."""
    d, n, seed = int(p["d"]), int(p["n"]), int(p["data_seed"])
    eps_list, b_list = floats(p, "epsilons"), floats(p, "bs")
    empty = np.zeros(0)
    for s in settings(p):
        t = mean_err = var1 = None
        for f in lam_fracs(p):
            lam = f * (-s.V)
            for eps in eps_list:
                for b in b_list:
                    point = {
                        **s.label(),
                        "lam_frac": f,
                        "lam": lam,
                        "epsilon": eps,
                        "eta": eps / s.tau**2,
                        "b": int(b),
                    }
                    base = {
                        "V": s.V,
                        "V_certified_negative": s.is_V_negative,
                        "lam": lam,
                        "epsilon": eps,
                        "tau": s.tau,
                    }
                    hyps = THM41.check_hypotheses(base)
                    bad = [h for h in hyps if not h.holds]
                    if bad:
                        yield StatedPoint(
                            point,
                            None,
                            "; ".join(f"{h.name} fails ({h.detail})" for h in bad),
                            False,
                            empty,
                            empty,
                            empty,
                            None,
                            {"hyps": hyps},
                        )
                        continue
                    try:
                        c = constants(s.kappa, s.a_tau, d, n, seed, lam, eps, int(b))
                    except InputError as exc:
                        yield StatedPoint(
                            point,
                            None,
                            f"constants not computable: {exc}",
                            True,
                            empty,
                            empty,
                            empty,
                            None,
                            {"hyps": hyps},
                        )
                        continue
                    if t is None:
                        t = np.append(t_grid(s, p), math.inf)
                        me, v1 = sdde_moments(s.kappa, s.a_tau, d, n, seed, tuple(t[:-1].tolist()))
                        mean_err = np.append(me, 0.0)
                        var1 = np.append(v1, stationary_variance(s))
                    vals = constant_values(s, c)
                    yield StatedPoint(
                        point,
                        vals,
                        "",
                        False,
                        t,
                        mean_err,
                        var1 * vals["eta"] / b,
                        exact_tolerance(t, s),
                        {
                            "hyps": hyps,
                            "c_lambda": c.c_lambda.value,
                            "c_lambda_upper": c.c_lambda.upper,
                            "C5": c.C5,
                            "C6": c.C6,
                        },
                    )
