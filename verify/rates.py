r"""Rate checks for results with unspecified constants (SPEC §2 (ii)).

A result such as Thm 3.2,
$\mathbb E\|X(t_K)-x_K\| \le C_1\big(\tfrac{1}{\sqrt K} + \tfrac{l}{K^{3/2}}\big)
+ C_2 \tfrac{e^{L(l+1)}}{\sqrt b (l+1)}$, has the *stated form*
$\sum_i C_i \varphi_i(p)$ with unknown $C_i \ge 0$. It cannot PASS by choosing the constants
after the fact, so the check is:

1. **Calibrate** (`fit_constants`): on a calibration grid $p_1..p_J$ find the smallest
   constants by the linear program
   $\min_{C\ge 0} \sum_i w_i C_i$ s.t. $\sum_i C_i \varphi_i(p_j) \ge \mathrm{UCB}_j$ for all
   $j$, where $\mathrm{UCB}_j$ is the one-sided upper confidence bound of the measured left
   side (so the fit is conservative: with probability $\ge 1-\alpha$ per point the fitted bound
   covers the true mean). Default weights $w_i = \sum_j \varphi_i(p_j)$: the objective is the
   total fitted bound over the calibration grid.
2. **Test on held-out points** (larger $K$, $b$, other $l$), with samples independent of the
   calibration samples so the fitted bound is a fixed rhs for them: FAIL when Holm
   (step-down, family-wise $\alpha$) rejects some $H_{0j}: \mu_j \le \text{bound}_j$; PASS when
   every held-out upper bound is below the fitted bound (intersection–union, no correction);
   else INCONCLUSIVE (`verify.stats.grid_decide`).
3. **Exponents** (`empirical_exponents`): least-squares slope of $\log \widehat{\mathrm{LHS}}$
   against $\log K$, $\log b$, $\log l$ (jointly, over all points with positive estimates)
   with a $(1-\alpha)$ confidence interval, reported beside the claimed exponents. For a sum
   of power laws the slope is the local (grid-averaged) exponent.

What a FAIL means: the smallest constants of the stated form that explain the calibration
grid are exceeded on the held-out grid, i.e. the form does not extrapolate in $K$, $b$ or
$l$ the way the paper states (e.g. the true decay is slower than claimed). "There exist
constants" is not falsifiable on a finite grid; this is the operational test SPEC §2 fixes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as _st

from theory.errors import InputError
from verify import stats
from verify.verdict import Verdict

__all__ = [
    "Exponent",
    "RateForm",
    "RateInputError",
    "RatePoint",
    "RateResult",
    "empirical_exponents",
    "fit_constants",
    "rate_check",
]


class RateInputError(InputError):
    """Bad input to a rate check (empty grid, mismatched shapes, negative phi)."""


@dataclass(frozen=True)
class RateForm:
    r"""The stated form $\sum_i C_i \varphi_i(p)$.

    Arguments:
        terms: name -> $\varphi_i$, a function of the parameter dict, e.g.
            ``{"C1": lambda p: p["K"]**-0.5 + p["l"] * p["K"]**-1.5,
            "C2": lambda p: np.exp(p["L"]*(p["l"]+1)) / (np.sqrt(p["b"])*(p["l"]+1))}``.
        claimed_exponents: parameter -> the exponent the paper claims for the leading
            behaviour, e.g. ``{"K": -0.5, "b": -0.5}``.
        latex: the form in LaTeX, for the report.
    """

    terms: Mapping[str, Callable[[Mapping[str, Any]], float]]
    claimed_exponents: Mapping[str, float] = field(default_factory=dict)
    latex: str = ""

    def phi(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The $(J, m)$ matrix $\\varphi_i(p_j)$."""
        out = np.array([[float(f(p)) for f in self.terms.values()] for p in points], dtype=float)
        if out.size and (not np.all(np.isfinite(out)) or np.any(out < 0)):
            raise RateInputError(
                "terms",
                out.tolist(),
                "phi_i must be finite and >= 0 on the grid",
                "check the form and the grid parameters",
            )
        return out


@dataclass(frozen=True)
class RatePoint:
    """One grid point: its parameters and i.i.d. samples of the left side there."""

    params: Mapping[str, Any]
    samples: Any


@dataclass(frozen=True)
class Exponent:
    """Empirical exponent of one parameter with its $(1-\\alpha)$ confidence interval."""

    parameter: str
    slope: float
    lo: float
    hi: float
    claimed: float | None
    method: str

    @property
    def consistent(self) -> bool | None:
        """Whether the claimed exponent lies in the interval (None when not claimed)."""
        return None if self.claimed is None else bool(self.lo <= self.claimed <= self.hi)


def fit_constants(phi: Any, ucb: Any, weights: Any | None = None) -> tuple[np.ndarray, bool, str]:
    r"""Smallest constants: $\min_{C\ge0} w\cdot C$ s.t. $\Phi C \ge \mathrm{ucb}$ (`linprog`).

    Returns `(C, feasible, message)`; `C` is NaN when infeasible (some point has all
    $\varphi_i = 0$ but a positive bound).
    """
    phi = np.asarray(phi, dtype=float)
    ucb = np.asarray(ucb, dtype=float)
    if phi.ndim != 2 or phi.shape[0] != ucb.size or phi.shape[0] == 0:
        raise RateInputError(
            "phi",
            phi.shape,
            f"must be (J, m) with J = len(ucb) = {ucb.size} > 0",
            "pass one row of phi per calibration point",
        )
    w = phi.sum(axis=0) if weights is None else np.asarray(weights, dtype=float)
    w = np.where(w > 0, w, 1.0)
    res = optimize.linprog(
        c=w, A_ub=-phi, b_ub=-ucb, bounds=[(0, None)] * phi.shape[1], method="highs"
    )
    if res.status != 0:
        return np.full(phi.shape[1], np.nan), False, str(res.message)
    # linprog satisfies constraints to ~1e-9 relative; nudge up so Phi C >= ucb exactly.
    c = np.asarray(res.x, dtype=float)
    slack = phi @ c - ucb
    if np.any(slack < 0):
        scale = np.max(np.where(phi @ c > 0, ucb / np.where(phi @ c > 0, phi @ c, 1), 1.0))
        c = c * max(1.0, float(scale)) * (1 + 1e-12)
    return c, True, str(res.message)


def empirical_exponents(
    points: Sequence[Mapping[str, Any]],
    estimate: Any,
    names: Sequence[str] = ("K", "b", "l"),
    standard_error: Any | None = None,
    alpha: float = 0.05,
    claimed: Mapping[str, float] | None = None,
) -> list[Exponent]:
    r"""Least-squares slopes of $\log \widehat{\mathrm{LHS}}$ on $\log p$ for each named
    parameter that varies (and is $> 0$) over the points, fitted jointly with an intercept.

    CI: OLS residual standard errors with Student-t ($J - 1 - \#$params dof) when there are
    residual degrees of freedom; otherwise the delta method from `standard_error`
    ($\mathrm{Var}\log\bar y \approx \mathrm{se}^2/\bar y^2$) with a normal quantile.
    Points with non-positive estimates, or a non-positive value of a regressed parameter
    (e.g. $l = 0$ when $l$ varies), are dropped from the regression.
    """
    y = np.asarray(estimate, dtype=float)
    keep = y > 0
    used = []
    for name in names:
        vals = np.array([float(p.get(name, np.nan)) for p in points])
        ok = keep & np.isfinite(vals) & (vals > 0)
        if np.count_nonzero(ok) >= 2 and np.unique(vals[ok]).size >= 2:
            used.append(name)
    if not used:
        return []
    cols = [np.array([float(p.get(n, np.nan)) for p in points]) for n in used]
    mask = keep.copy()
    for c in cols:
        mask &= np.isfinite(c) & (c > 0)
    x = np.column_stack([np.ones(mask.sum())] + [np.log(c[mask]) for c in cols])
    ly = np.log(y[mask])
    coef, *_ = np.linalg.lstsq(x, ly, rcond=None)
    dof = x.shape[0] - x.shape[1]
    xtx_inv = np.linalg.pinv(x.T @ x)
    if dof >= 1:
        resid = ly - x @ coef
        s2 = float(resid @ resid) / dof
        se = np.sqrt(np.diag(xtx_inv) * s2)
        q = _st.t.ppf(1 - alpha / 2, dof)
        method = f"OLS on log-log, Student-t CI ({dof} dof)"
    elif standard_error is not None:
        var = (np.asarray(standard_error, float)[mask] / y[mask]) ** 2
        cov = xtx_inv @ (x.T * var) @ x @ xtx_inv
        se = np.sqrt(np.diag(cov))
        q = _st.norm.ppf(1 - alpha / 2)
        method = "least squares on log-log, delta-method CI"
    else:
        se = np.full(x.shape[1], np.nan)
        q = np.nan
        method = "least squares on log-log, no CI (no residual dof)"
    claimed = claimed or {}
    return [
        Exponent(
            n,
            float(coef[k + 1]),
            float(coef[k + 1] - q * se[k + 1]),
            float(coef[k + 1] + q * se[k + 1]),
            None if n not in claimed else float(claimed[n]),
            method,
        )
        for k, n in enumerate(used)
    ]


@dataclass
class RateResult:
    """Outcome of `rate_check`; `verify.checks.base.Check.from_rate` turns it into a result."""

    verdict: Verdict
    constants: dict[str, float]
    calibration: list[dict[str, Any]]
    heldout: list[dict[str, Any]]
    exponents: list[Exponent]
    alpha: float
    bound: str
    form_latex: str
    message: str
    estimate: float | None = None
    rhs: float | None = None
    confidence_bound: float | None = None
    paths: int | None = None

    @property
    def bound_kind(self) -> str:
        return (
            f"rate check: LP fit on calibration UCB, held-out {stats.BOUND_KINDS[self.bound]}, "
            "Holm over held-out points"
        )

    def to_details(self) -> dict[str, Any]:
        return {
            "form": self.form_latex,
            "fitted_constants": self.constants,
            "calibration_grid": self.calibration,
            "grid": self.heldout,
            "exponents": [
                {
                    "parameter": e.parameter,
                    "empirical": e.slope,
                    "ci_low": e.lo,
                    "ci_high": e.hi,
                    "claimed": e.claimed,
                    "claimed_in_ci": e.consistent,
                    "method": e.method,
                }
                for e in self.exponents
            ],
            "multiple_testing": "Holm step-down across held-out points (FAIL); "
            "intersection-union (PASS)",
        }


def rate_check(
    form: RateForm,
    calibration: Sequence[RatePoint],
    heldout: Sequence[RatePoint],
    alpha: float = 0.05,
    bound: str = "student-t",
    value_range: tuple[float, float] | None = None,
    exponent_names: Sequence[str] = ("K", "b", "l"),
    weights: Any | None = None,
) -> RateResult:
    """Fit the smallest constants of `form` on `calibration`, test them on `heldout`.

    See the module docstring. The held-out samples must be independent of the calibration
    samples (spawn separate seeds).

    Raises:
        RateInputError: an empty grid.
    """
    if not calibration or not heldout:
        raise RateInputError(
            "grid",
            (len(calibration), len(heldout)),
            "calibration and held-out grids must be non-empty",
            "pass at least one point to each",
        )
    cal_params = [dict(p.params) for p in calibration]
    ho_params = [dict(p.params) for p in heldout]
    cal_bounds = [stats.mean_bounds(p.samples, alpha, bound, value_range) for p in calibration]
    ucb = np.array([float(b.ucb) for b in cal_bounds])
    phi_cal = form.phi(cal_params)
    phi_ho = form.phi(ho_params)
    constants, feasible, lp_msg = fit_constants(phi_cal, ucb, weights)
    names = list(form.terms)
    cal_rows = [
        {
            **cal_params[j],
            "estimate": float(b.estimate),
            "lcb": float(b.lcb),
            "ucb": float(b.ucb),
            "fitted_bound": float(phi_cal[j] @ constants) if feasible else None,
            "n": b.n,
        }
        for j, b in enumerate(cal_bounds)
    ]
    all_points = cal_params + ho_params
    all_est, all_se = [], []
    for p in list(calibration) + list(heldout):
        x = np.asarray(p.samples, float)
        all_est.append(x.mean())
        all_se.append(x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else np.nan)
    exps = empirical_exponents(
        all_points, all_est, exponent_names, all_se, alpha, form.claimed_exponents
    )
    const_dict = {n: float(c) for n, c in zip(names, constants)}
    if not feasible:
        return RateResult(
            Verdict.INCONCLUSIVE,
            const_dict,
            cal_rows,
            [],
            exps,
            alpha,
            bound,
            form.latex,
            f"no non-negative constants of the stated form cover the calibration grid ({lp_msg})",
        )
    fitted = phi_ho @ constants
    g = stats.grid_decide([p.samples for p in heldout], fitted, alpha, bound, value_range)
    rows = g.rows(ho_params)
    for r, f in zip(rows, fitted):
        r["fitted_bound"] = float(f)
    w = g.worst
    exp_txt = "; ".join(
        f"{e.parameter}: {e.slope:.3g} [{e.lo:.3g}, {e.hi:.3g}]"
        + (f" (claimed {e.claimed:g})" if e.claimed is not None else "")
        for e in exps
    )
    msg = (
        f"fitted {', '.join(f'{k} = {v:.4g}' for k, v in const_dict.items())} on "
        f"{len(calibration)} calibration points; held-out: {int(g.rejected.sum())} of "
        f"{len(heldout)} points exceed the fitted bound (Holm step-down applied); worst held-out "
        f"LHS in [{g.lcb[w]:.4g}, {g.ucb[w]:.4g}] vs fitted bound {fitted[w]:.4g}. "
        f"Empirical exponents: {exp_txt or 'n/a'}."
    )
    return RateResult(
        g.verdict,
        const_dict,
        cal_rows,
        rows,
        exps,
        alpha,
        bound,
        form.latex,
        msg,
        estimate=float(g.estimate[w]),
        rhs=float(fitted[w]),
        confidence_bound=float(g.lcb[w] if g.verdict is Verdict.FAIL else g.ucb[w]),
        paths=int(min(g.n)),
    )
