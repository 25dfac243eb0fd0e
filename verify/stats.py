r"""Confidence bounds, decisions and multiple testing for verdicts (SPEC §5).

Every bound here is **one-sided at level $\alpha$**: the upper bound $U$ satisfies
$P(\mu \le U) \ge 1-\alpha$, the lower bound $L$ satisfies $P(\mu \ge L) \ge 1-\alpha$.
`decide` turns them into a verdict for the claim $\mu \le \text{rhs}$:
PASS iff $U \le \text{rhs}$, FAIL iff $L > \text{rhs}$, else INCONCLUSIVE. If the claim is true
($\mu \le$ rhs) a FAIL needs $L > \mu$, probability $\le \alpha$; if it is false a PASS needs
$U < \mu$, probability $\le \alpha$.

Bounds (label in brackets, as reports print it):

- `student_t_bounds` — $\bar x \pm t_{n-1,1-\alpha}\, s/\sqrt n$ [Student-t (asymptotic)]: exact
  only for Gaussian data, otherwise justified by the CLT.
- `hoeffding_bounds` — data in $[a, b]$: $\bar x \pm (b-a)\sqrt{\ln(1/\alpha)/(2n)}$
  [Hoeffding (exact)] (Hoeffding 1963, Thm 2).
- `bernstein_bounds` — data in $[a, b]$, empirical Bernstein of Maurer & Pontil (2009,
  "Empirical Bernstein bounds and sample variance penalization", Thm 4):
  $\bar x \pm \left(\sqrt{2 V_n \ln(2/\alpha)/n} + 7 (b-a) \ln(2/\alpha)/(3(n-1))\right)$ with
  $V_n$ the unbiased sample variance [empirical Bernstein (exact)].
- `confidence_sequence` — anytime-valid, for runs that continue until decided: the
  predictable plug-in empirical-Bernstein confidence sequence (PrPl-EB) of Waudby-Smith &
  Ramdas (2024, "Estimating means of bounded random variables by betting", JRSS-B 86(1),
  Thm 2) [confidence sequence PrPl-EB (exact, anytime)]. It is valid simultaneously for all
  $t$, so it may be checked after every batch (`SequentialMeanTest`).

Fixed-$n$ bounds are computed once, on all the samples: **never re-check them after each
batch** (that is peeking); use `SequentialMeanTest` instead.

Grids ("$\mathrm{LHS}_j \le \mathrm{RHS}_j$ for all $j$"): `grid_decide`. FAIL uses Holm's
step-down procedure (Holm 1979) on one-sided p-values of $H_{0j}: \mu_j \le \text{rhs}_j$ — it
controls the family-wise error, so a true claim comes out FAIL with probability $\le\alpha$
however many points the grid has. PASS needs every point's upper bound below its rhs: this is
an intersection–union test (Berger 1982) of $H_0: \exists j\ \mu_j > \text{rhs}_j$; its level is
the level of each individual test, so **no correction is needed** for PASS (the alternative
"all hold" is the intersection of the individual alternatives; rejecting $H_0$ requires
rejecting every $H_{0j}'$, and the event of wrongly rejecting the true one alone has
probability $\le \alpha$).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as _st

from theory.errors import InputError
from verify.verdict import Verdict

__all__ = [
    "BOUND_KINDS",
    "ExactDecision",
    "GridDecision",
    "MeanBounds",
    "SequentialMeanTest",
    "StatsInputError",
    "W1Test",
    "bernstein_bounds",
    "confidence_sequence",
    "decide",
    "decide_exact",
    "grid_decide",
    "hoeffding_bounds",
    "holm",
    "mean_bounds",
    "p_value_le",
    "student_t_bounds",
    "wasserstein1",
    "wasserstein1_test",
]

#: bound name -> label printed in reports.
BOUND_KINDS = {
    "student-t": "Student-t (asymptotic)",
    "hoeffding": "Hoeffding (exact)",
    "bernstein": "empirical Bernstein (exact)",
    "cs": "confidence sequence PrPl-EB (exact, anytime)",
}


class StatsInputError(InputError):
    """Bad input to a statistical routine (alpha, sample size, range, bound kind)."""


@dataclass(frozen=True)
class MeanBounds:
    """One-sided bounds for the mean(s). Arrays when the input had more than one column.

    `lcb`/`ucb` are each one-sided at level `alpha`.
    """

    estimate: Any
    lcb: Any
    ucb: Any
    n: int
    alpha: float
    kind: str

    @property
    def label(self) -> str:
        return BOUND_KINDS[self.kind]


# ----------------------------------------------------------------------------- helpers
def _check_alpha(alpha: float) -> float:
    if not (0.0 < float(alpha) < 1.0):
        raise StatsInputError("alpha", alpha, "must lie in (0, 1)", "use e.g. alpha=0.05")
    return float(alpha)


def _samples(x: Any, min_n: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 0 or a.shape[0] < min_n:
        raise StatsInputError(
            "samples",
            f"shape {a.shape}",
            f"need at least {min_n} samples along axis 0",
            "simulate more paths",
        )
    if not np.all(np.isfinite(a)):
        raise StatsInputError(
            "samples",
            "non-finite values",
            "contain NaN or inf",
            "report the check as DIVERGED (verify.checks.base.Check.diverged) instead",
        )
    return a


def _check_range(a: np.ndarray, lo: float, hi: float) -> float:
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise StatsInputError(
            "range", (lo, hi), "must be finite with lo < hi", "pass the a-priori range"
        )
    if a.min() < lo or a.max() > hi:
        raise StatsInputError(
            "range",
            (lo, hi),
            f"samples leave it (min {a.min():.6g}, max {a.max():.6g})",
            "Hoeffding/Bernstein need a range known before sampling; use bound='student-t'",
        )
    return float(hi - lo)


# ----------------------------------------------------------------------------- bounds
def student_t_bounds(x: Any, alpha: float = 0.05) -> MeanBounds:
    r"""One-sided Student-t bounds $\bar x \pm t_{n-1,1-\alpha} s/\sqrt n$ (axis 0).

    Asymptotic (CLT) unless the data are Gaussian.
    """
    alpha = _check_alpha(alpha)
    a = _samples(x)
    n = a.shape[0]
    mean = a.mean(axis=0)
    se = a.std(axis=0, ddof=1) / math.sqrt(n)
    q = _st.t.ppf(1.0 - alpha, n - 1)
    return MeanBounds(mean, mean - q * se, mean + q * se, n, alpha, "student-t")


def hoeffding_bounds(x: Any, lo: float, hi: float, alpha: float = 0.05) -> MeanBounds:
    r"""Hoeffding: data in $[lo, hi]$, $\bar x \pm (hi-lo)\sqrt{\ln(1/\alpha)/(2n)}$ (exact)."""
    alpha = _check_alpha(alpha)
    a = _samples(x, 1)
    width = _check_range(a, lo, hi)
    n = a.shape[0]
    mean = a.mean(axis=0)
    r = width * math.sqrt(math.log(1.0 / alpha) / (2.0 * n))
    return MeanBounds(mean, mean - r, mean + r, n, alpha, "hoeffding")


def bernstein_bounds(x: Any, lo: float, hi: float, alpha: float = 0.05) -> MeanBounds:
    r"""Empirical Bernstein (Maurer & Pontil 2009, Thm 4), one-sided, data in $[lo, hi]$.

    $\bar x \pm \left(\sqrt{2 V_n \ln(2/\alpha)/n} + \frac{7 (hi-lo)\ln(2/\alpha)}{3(n-1)}\right)$.
    """
    alpha = _check_alpha(alpha)
    a = _samples(x)
    width = _check_range(a, lo, hi)
    n = a.shape[0]
    mean = a.mean(axis=0)
    var = a.var(axis=0, ddof=1)
    log_term = math.log(2.0 / alpha)
    r = np.sqrt(2.0 * var * log_term / n) + 7.0 * width * log_term / (3.0 * (n - 1))
    return MeanBounds(mean, mean - r, mean + r, n, alpha, "bernstein")


def mean_bounds(
    x: Any,
    alpha: float = 0.05,
    bound: str = "student-t",
    value_range: tuple[float, float] | None = None,
) -> MeanBounds:
    """Dispatch on `bound` (one of `BOUND_KINDS` except ``"cs"``)."""
    if bound == "student-t":
        return student_t_bounds(x, alpha)
    if bound in ("hoeffding", "bernstein"):
        if value_range is None:
            raise StatsInputError(
                "value_range",
                None,
                f"bound={bound!r} needs the a-priori range of the data",
                "pass value_range=(lo, hi) or use bound='student-t'",
            )
        fn = hoeffding_bounds if bound == "hoeffding" else bernstein_bounds
        return fn(x, value_range[0], value_range[1], alpha)
    raise StatsInputError(
        "bound", bound, "unknown bound", "use 'student-t', 'hoeffding' or 'bernstein'"
    )


def p_value_le(
    x: Any, rhs: Any, bound: str = "student-t", value_range: tuple[float, float] | None = None
) -> np.ndarray:
    r"""One-sided p-value(s) of $H_0: \mu \le \text{rhs}$ (small when the mean exceeds rhs).

    Consistent with the bounds: $p \le \alpha \iff$ lower bound at level $\alpha$ $>$ rhs.

    - Student-t: $p = 1 - T_{n-1}\big((\bar x - \text{rhs})/(s/\sqrt n)\big)$.
    - Hoeffding: $p = \exp(-2n(\bar x-\text{rhs})_+^2/(b-a)^2)$.
    - Bernstein: the smallest $\alpha$ whose Maurer–Pontil lower bound exceeds rhs:
      with $c = 7(b-a)/(3(n-1))$, $v=\sqrt{2V_n/n}$, $s$ the positive root of
      $c s^2 + v s = \bar x - \text{rhs}$, $p = \min(1, 2e^{-s^2})$.
    """
    a = _samples(x, 1 if bound == "hoeffding" else 2)
    n = a.shape[0]
    mean = a.mean(axis=0)
    gap = mean - np.asarray(rhs, dtype=float)
    if bound == "student-t":
        se = a.std(axis=0, ddof=1) / math.sqrt(n)
        positive = se > 0
        tstat = gap / np.where(positive, se, 1.0)
        # zero spread: the mean is known exactly; p = 0 if it exceeds rhs, else 1
        return np.where(positive, _st.t.sf(tstat, n - 1), np.where(gap > 0, 0.0, 1.0))
    if value_range is None:
        raise StatsInputError(
            "value_range", None, f"bound={bound!r} needs a range", "pass value_range"
        )
    width = _check_range(a, *value_range)
    if bound == "hoeffding":
        return np.where(gap > 0, np.exp(-2.0 * n * np.maximum(gap, 0) ** 2 / width**2), 1.0)
    if bound == "bernstein":
        c = 7.0 * width / (3.0 * (n - 1))
        v = np.sqrt(2.0 * a.var(axis=0, ddof=1) / n)
        g = np.maximum(gap, 0.0)
        s = (-v + np.sqrt(v * v + 4.0 * c * g)) / (2.0 * c)
        return np.where(gap > 0, np.minimum(1.0, 2.0 * np.exp(-(s**2))), 1.0)
    raise StatsInputError(
        "bound", bound, "unknown bound", "use 'student-t', 'hoeffding' or 'bernstein'"
    )


# ----------------------------------------------------------------------------- decisions
def decide(lcb: float, ucb: float, rhs: float) -> Verdict:
    """PASS iff `ucb <= rhs`, FAIL iff `lcb > rhs`, else INCONCLUSIVE (claim: mean <= rhs)."""
    if ucb <= rhs:
        return Verdict.PASS
    if lcb > rhs:
        return Verdict.FAIL
    return Verdict.INCONCLUSIVE


def holm(p_values: Any, alpha: float = 0.05) -> np.ndarray:
    r"""Holm's step-down procedure: boolean mask of rejected hypotheses.

    Sort $p_{(1)} \le \dots \le p_{(m)}$; reject $H_{(1)},\dots,H_{(k)}$ where $k$ is the
    largest index with $p_{(i)} \le \alpha/(m-i+1)$ for all $i \le k$. Family-wise error
    $\le \alpha$ under any dependence (Holm 1979).
    """
    alpha = _check_alpha(alpha)
    p = np.asarray(p_values, dtype=float).ravel()
    m = p.size
    order = np.argsort(p, kind="stable")
    thresholds = alpha / (m - np.arange(m))
    ok = p[order] <= thresholds
    k = m if ok.all() else int(np.argmin(ok))
    reject = np.zeros(m, dtype=bool)
    reject[order[:k]] = True
    return reject


@dataclass
class GridDecision:
    """Decision for "$\\mu_j \\le \\text{rhs}_j$ for all $j$" (see module docstring).

    `worst` is the index used for the headline numbers: the Holm-rejected point with the
    smallest p-value when FAIL, else the point with the largest `ucb - rhs`.
    """

    verdict: Verdict
    estimate: np.ndarray
    lcb: np.ndarray
    ucb: np.ndarray
    rhs: np.ndarray
    p_values: np.ndarray
    rejected: np.ndarray
    worst: int
    alpha: float
    kind: str
    n: list[int]
    correction: str = (
        "FAIL: Holm step-down over grid points (family-wise alpha); "
        "PASS: intersection-union test (every point's upper bound <= rhs, no correction needed)"
    )

    def rows(self, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """One dict per grid point (for `CheckResult.details['grid']`)."""
        out = []
        for j in range(self.estimate.size):
            row = (
                {}
                if params is None
                else dict(params[j])
                if isinstance(params[j], dict)
                else {"point": params[j]}
            )
            row.update(
                estimate=float(self.estimate[j]),
                lcb=float(self.lcb[j]),
                ucb=float(self.ucb[j]),
                rhs=float(self.rhs[j]),
                p_value=float(self.p_values[j]),
                holm_reject=bool(self.rejected[j]),
                n=int(self.n[j]),
                verdict=decide(self.lcb[j], self.ucb[j], self.rhs[j]).value,
            )
            out.append(row)
        return out


def grid_decide(
    samples: Sequence[Any],
    rhs: Any,
    alpha: float = 0.05,
    bound: str = "student-t",
    value_range: tuple[float, float] | None = None,
) -> GridDecision:
    """Decide "mean_j <= rhs_j for all j" from per-point samples (list of 1-D arrays).

    FAIL iff Holm rejects some $H_{0j}: \\mu_j \\le \\text{rhs}_j$; PASS iff every one-sided
    upper bound (level alpha, uncorrected — intersection–union) is $\\le$ its rhs; else
    INCONCLUSIVE.
    """
    alpha = _check_alpha(alpha)
    rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (len(samples),)).copy()
    est, lcb, ucb, pv, ns = [], [], [], [], []
    for j, x in enumerate(samples):
        mb = mean_bounds(x, alpha, bound, value_range)
        est.append(float(mb.estimate))
        lcb.append(float(mb.lcb))
        ucb.append(float(mb.ucb))
        ns.append(mb.n)
        pv.append(float(p_value_le(x, rhs[j], bound, value_range)))
    est_a, lcb_a, ucb_a, p_a = map(np.asarray, (est, lcb, ucb, pv))
    rejected = holm(p_a, alpha)
    if rejected.any():
        verdict = Verdict.FAIL
        worst = int(np.flatnonzero(rejected)[np.argmin(p_a[rejected])])
    else:
        verdict = Verdict.PASS if np.all(ucb_a <= rhs) else Verdict.INCONCLUSIVE
        worst = int(np.argmax(ucb_a - rhs))
    return GridDecision(verdict, est_a, lcb_a, ucb_a, rhs, p_a, rejected, worst, alpha, bound, ns)


@dataclass(frozen=True)
class ExactDecision:
    """Result of `decide_exact`: verdict, largest violation and the tolerance used."""

    verdict: Verdict
    max_violation: float
    tol: float
    relation: str

    @property
    def label(self) -> str:
        return f"exact, tolerance {self.tol:.0e}"


def decide_exact(
    lhs: Any,
    rhs: Any,
    tol: float | None = None,
    relation: str = "eq",
    precision_bits: int = 53,
    ulps: float = 64.0,
) -> ExactDecision:
    r"""Deterministic verdict for an exact or symbolic comparison (elementwise, all must hold).

    `relation="eq"`: PASS iff $|\text{lhs}-\text{rhs}| \le \text{tol}$; `"le"`: PASS iff
    $\text{lhs} \le \text{rhs} + \text{tol}$. Otherwise FAIL.

    The default tolerance is tied to the working precision, element by element:
    $\text{tol}_i = \text{ulps}\cdot 2^{-\text{precision\_bits}}\cdot
    \max(1, |\text{lhs}_i|, |\text{rhs}_i|)$ (float64: 53 bits; for mpmath pass
    `precision_bits=mp.prec`) — one huge row must not widen the tolerance of the others. The
    decision reports the row closest to failing (largest difference minus its tolerance).
    Accepts numbers, numpy arrays, or mpmath/sympy
    numbers (converted through `mpmath.mpf` when `precision_bits > 53`).
    """
    if relation not in ("eq", "le"):
        raise StatsInputError("relation", relation, "unknown relation", "use 'eq' or 'le'")
    if precision_bits > 53:
        import mpmath

        with mpmath.workprec(precision_bits + 16):
            l_list = [mpmath.mpf(v) for v in np.ravel(np.asarray(lhs, dtype=object))]
            r_list = [mpmath.mpf(v) for v in np.ravel(np.asarray(rhs, dtype=object))]
            if len(r_list) == 1:
                r_list = r_list * len(l_list)
            unit = ulps * mpmath.mpf(2) ** (-precision_bits)
            tols = [
                mpmath.mpf(tol) if tol is not None else unit * max(1, abs(a), abs(b))
                for a, b in zip(l_list, r_list)
            ]
            diffs = [(a - b) if relation == "le" else abs(a - b) for a, b in zip(l_list, r_list)]
            i = max(range(len(diffs)), key=lambda j: diffs[j] - tols[j])
            ok = all(d <= t for d, t in zip(diffs, tols))
            return ExactDecision(
                Verdict.PASS if ok else Verdict.FAIL, float(diffs[i]), float(tols[i]), relation
            )
    a = np.asarray(lhs, dtype=float)
    b = np.asarray(rhs, dtype=float)
    a, b = np.broadcast_arrays(a, b)
    if tol is not None:
        t = np.broadcast_to(np.asarray(tol, dtype=float), a.shape)
    else:
        t = ulps * 2.0 ** (-precision_bits) * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    diff = (a - b) if relation == "le" else np.abs(a - b)
    finite = np.isfinite(diff)
    margin = np.where(finite, diff - t, np.inf)
    i = int(np.argmax(margin)) if margin.size else 0
    ok = bool(np.all(finite)) and bool(np.all(diff <= t))
    worst = float(diff.flat[i]) if diff.size else 0.0
    t_i = float(t.flat[i]) if t.size else float(ulps * 2.0 ** (-precision_bits))
    return ExactDecision(Verdict.PASS if ok else Verdict.FAIL, worst, t_i, relation)


# ----------------------------------------------------------------------------- sequential
def confidence_sequence(
    x: Any, lo: float = 0.0, hi: float = 1.0, alpha: float = 0.05, c: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    r"""Anytime-valid one-sided bounds $(L_t, U_t)$, $t = 1..n$, for data in $[lo, hi]$.

    Predictable plug-in empirical-Bernstein CS (Waudby-Smith & Ramdas 2024, Thm 2), on
    $y = (x - lo)/(hi - lo) \in [0,1]$:
    $\hat\mu_t = \frac{1/2 + \sum_{i\le t} y_i}{t+1}$,
    $\hat\sigma^2_t = \frac{1/4 + \sum_{i\le t}(y_i-\hat\mu_i)^2}{t+1}$,
    $\lambda_t = \min\big(\sqrt{2\ln(1/\alpha)/(\hat\sigma^2_{t-1}\, t\ln(1+t))},\ c\big)$,
    $\psi_E(\lambda) = (-\ln(1-\lambda)-\lambda)/4$, $v_i = 4(y_i - \hat\mu_{i-1})^2$;
    $U_t$ / $L_t$ $= \frac{\sum \lambda_i y_i}{\sum\lambda_i} \pm
    \frac{\ln(1/\alpha) + \sum v_i\psi_E(\lambda_i)}{\sum\lambda_i}$ (each side at level
    $\alpha$), then running intersection. $P(\forall t: \mu \le U_t) \ge 1-\alpha$.
    """
    alpha = _check_alpha(alpha)
    a = _samples(x, 1)
    if a.ndim != 1:
        raise StatsInputError("samples", f"shape {a.shape}", "must be 1-D", "pass one stream")
    width = _check_range(a, lo, hi)
    y = (a - lo) / width
    n = y.size
    t = np.arange(1, n + 1, dtype=float)
    mu_hat = (0.5 + np.cumsum(y)) / (t + 1)
    mu_prev = np.concatenate(([0.5], mu_hat[:-1]))
    sig2 = (0.25 + np.cumsum((y - mu_hat) ** 2)) / (t + 1)
    sig2_prev = np.concatenate(([0.25], sig2[:-1]))
    log_a = math.log(1.0 / alpha)
    lam = np.minimum(np.sqrt(2.0 * log_a / (sig2_prev * t * np.log1p(t))), c)
    psi = (-np.log1p(-lam) - lam) / 4.0
    v = 4.0 * (y - mu_prev) ** 2
    s_lam = np.cumsum(lam)
    centre = np.cumsum(lam * y) / s_lam
    radius = (log_a + np.cumsum(v * psi)) / s_lam
    upper = np.minimum.accumulate(np.minimum(centre + radius, 1.0))
    lower = np.maximum.accumulate(np.maximum(centre - radius, 0.0))
    return lo + width * lower, lo + width * upper


@dataclass
class SequentialMeanTest:
    """Test "$\\mu \\le$ rhs" on a stream that continues until decided (anytime-valid).

    Feed batches with `update`; it returns PASS/FAIL as soon as the confidence sequence decides
    and `None` while undecided. `verdict` is INCONCLUSIVE if the budget ran out.
    """

    rhs: float
    lo: float
    hi: float
    alpha: float = 0.05
    data: list[np.ndarray] = field(default_factory=list)
    lcb: float = -math.inf
    ucb: float = math.inf
    decided: Verdict | None = None

    @property
    def n(self) -> int:
        return int(sum(d.size for d in self.data))

    def update(self, batch: Any) -> Verdict | None:
        """Append a batch; return the verdict if decided."""
        if self.decided is not None:
            return self.decided
        self.data.append(np.asarray(batch, dtype=float).ravel())
        lower, upper = confidence_sequence(np.concatenate(self.data), self.lo, self.hi, self.alpha)
        self.lcb, self.ucb = float(lower[-1]), float(upper[-1])
        v = decide(self.lcb, self.ucb, self.rhs)
        if v is not Verdict.INCONCLUSIVE:
            self.decided = v
        return self.decided

    @property
    def verdict(self) -> Verdict:
        return self.decided if self.decided is not None else Verdict.INCONCLUSIVE


# ----------------------------------------------------------------------------- Wasserstein
def wasserstein1(x: Any, y: Any) -> float:
    r"""$W_1$ between the empirical laws of two 1-D samples: $\int |F_x - F_y|$.

    From sorted samples; for equal sizes this is $\frac1n\sum_i |x_{(i)} - y_{(i)}|$.
    """
    a = np.sort(np.asarray(x, dtype=float).ravel())
    b = np.sort(np.asarray(y, dtype=float).ravel())
    if a.size == 0 or b.size == 0:
        raise StatsInputError("samples", (a.size, b.size), "must be non-empty", "pass samples")
    if a.size == b.size:
        return float(np.mean(np.abs(a - b)))
    grid = np.concatenate((a, b))
    grid.sort(kind="mergesort")
    dx = np.diff(grid)
    fa = np.searchsorted(a, grid[:-1], side="right") / a.size
    fb = np.searchsorted(b, grid[:-1], side="right") / b.size
    return float(np.sum(np.abs(fa - fb) * dx))


@dataclass(frozen=True)
class W1Test:
    """$W_1$ with its same-law noise floor (permutation null)."""

    w1: float
    noise_floor: float
    p_value: float
    n_perm: int
    alpha: float
    null: np.ndarray

    @property
    def distinguishable(self) -> bool:
        """True when the laws differ at level alpha (w1 above the null's 1-alpha quantile)."""
        return self.p_value <= self.alpha


def wasserstein1_test(
    x: Any, y: Any, seed: int | np.random.SeedSequence, n_perm: int = 200, alpha: float = 0.05
) -> W1Test:
    r"""$W_1(x, y)$ and a permutation null (SPEC §3 d): under "same law" the pooled sample is
    exchangeable, so $W_1$ of random splits gives the noise floor (its $1-\alpha$ quantile) and
    the p-value $(1 + \#\{W_1^{\pi} \ge W_1\})/(1 + n_{perm})$ (exact permutation test).
    """
    alpha = _check_alpha(alpha)
    a = np.asarray(x, dtype=float).ravel()
    b = np.asarray(y, dtype=float).ravel()
    observed = wasserstein1(a, b)
    pooled = np.concatenate((a, b))
    rng = np.random.default_rng(seed)
    null = np.empty(n_perm)
    for i in range(n_perm):
        perm = rng.permutation(pooled)
        null[i] = wasserstein1(perm[: a.size], perm[a.size :])
    p = (1.0 + np.sum(null >= observed)) / (1.0 + n_perm)
    floor = float(np.quantile(null, 1.0 - alpha))
    return W1Test(observed, floor, float(p), n_perm, alpha, null)
