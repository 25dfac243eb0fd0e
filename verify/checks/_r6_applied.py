r"""Theorem 4.1 applied to the ASGD iterates (`R6-as-applied`) and the discussion after it
(`R6-discussion`); registered through :mod:`verify.checks.r6_thm41`. Statements:
:mod:`theory.claims.thm41` (`THM41`, `DISCUSSION`)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from numerics.delays import ConstantDelay
from numerics.linear_sdde import delayed_gd_stability_threshold
from numerics.moments import asgd_moments_for
from theory.claims import thm41 as claims
from theory.claims.base import Domain, Param
from theory.errors import InputError
from verify.checks._r6 import (
    CONVENTIONS,
    R6InputError,
    constant_values,
    constants,
    exact_tolerance,
    floats,
    lam_fracs,
    rhs_scale,
    sdde_moments,
    setting,
    settings,
    t_grid,
    t_units,
)
from verify.checks.base import GridCheck, profile
from verify.context import RunContext
from verify.evidence import ExactCurve, Row
from verify.search import search_domain

__all__ = ["Thm41AsApplied", "Thm41Discussion"]


def _na(s: Any, point: dict[str, Any], params: dict[str, Any]) -> Row | None:
    """A NOT APPLICABLE row when the statement's hypotheses fail at `params`, else None."""
    hyps = claims.THM41.check_hypotheses(params)
    bad = [h for h in hyps if not h.holds]
    if not bad:
        return None
    return Row(point, None, hyps, {}, "; ".join(f"{h.name} fails ({h.detail})" for h in bad))


#: the search box of the as-applied level (Thm 4.1's domain with the iterates' coordinates:
#: delays in steps l, minibatch size b; L tau up to the V < 0 limit pi/2)
SEARCH_DOMAIN = Domain(
    (
        Param("kappa", 1.0, 1e3, log=True),
        Param("L_tau", 1e-2, math.pi / 2 - 1e-6, note="V < 0 iff L tau < pi/2"),
        Param("l", 1, 64, log=True, integer=True),
        Param("lam_frac", 0.01, 0.99),
        Param("b", 1, 64, log=True, integer=True),
    )
)


@functools.lru_cache(maxsize=256)
def _asgd_mse(
    kappa: float,
    a_tau: float,
    d: int,
    n: int,
    seed: int,
    l: int,
    noise: str,
    b: int,
    div: int,
    n_t: int,
    relaxations: float,
    horizon_taus: float,
) -> np.ndarray:
    s = setting(kappa, a_tau, d, n, seed)
    pt = {"t_div": div, "n_t": n_t, "relaxations": relaxations, "horizon_taus": horizon_taus}
    ks = t_units(s, pt) * (l // div)  # t = k eta exactly
    mom = asgd_moments_for(
        s.problem,
        eta=s.tau / l,
        K=int(ks[-1]),
        delay=ConstantDelay(l),
        b=b,
        noise=noise,
        x0=s.xi,
        record=ks.tolist(),
    )
    return np.where(np.isfinite(mom.mse), mom.mse, np.inf)


def applied_row(
    p: dict[str, Any], kappa: float, a_tau: float, l: int, noise: str, b: int, f: float, div: int
) -> Row:
    r"""One as-applied row: ASGD with constant delay `l`, $\eta = \tau/l$, $\epsilon =
    \eta\tau^2$, at $\lambda = f\cdot(-V)$, exact $\mathbb E\|x_k - x^*\|^2$ against the
    statement's right side on the times $t = m\tau/$`div` (multiples of $\eta$)."""
    d, n, seed = int(p["d"]), int(p["n"]), int(p["data_seed"])
    s = setting(float(kappa), float(a_tau), d, n, seed)
    eta = s.tau / l
    eps = eta * s.tau**2
    lam = f * (-s.V)
    point = {
        **s.label(),
        "l": l,
        "eta": eta,
        "epsilon": eps,
        "noise": noise,
        "b": int(b),
        "lam_frac": f,
        "lam": lam,
    }
    base = {
        "V": s.V,
        "V_certified_negative": s.is_V_negative,
        "lam": lam,
        "epsilon": eps,
        "tau": s.tau,
        "eta": eta,
    }
    na = _na(s, point, base)
    if na is not None:
        return na
    try:
        c = constants(s.kappa, s.a_tau, d, n, seed, lam, eps, int(b))
    except InputError as exc:
        return Row(point, None, [], {}, f"constants not computable: {exc}", True)
    pt = {**p, "t_div": div}
    t = t_grid(s, pt)
    mean_err1, var1 = sdde_moments(s.kappa, s.a_tau, d, n, seed, tuple(t.tolist()))
    mse = _asgd_mse(
        s.kappa,
        s.a_tau,
        d,
        n,
        seed,
        l,
        noise,
        int(b),
        div,
        int(p["n_t"]),
        float(p["relaxations"]),
        float(p["horizon_taus"]),
    )
    sdde_mse = var1 * eta / b + mean_err1**2
    vals = constant_values(s, c)
    rhs = rhs_scale(p) * claims.THM41.rhs(vals, t=t)
    thr = delayed_gd_stability_threshold(l)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.abs(mse - sdde_mse) / sdde_mse
    return Row(
        point,
        ExactCurve(mse, rhs, exact_tolerance(t, s), x=t),
        claims.THM41.check_hypotheses(base),
        {
            "c_lambda": c.c_lambda.value,
            "eta_L": eta * s.L,
            "delayed_gd_threshold": thr,
            "delayed_gd_stable": bool(eta * s.L < thr),
            "overflow": bool(not np.all(np.isfinite(mse))),
            "max_gap_to_sdde": float(np.max(gap[t > 0])),
        },
        values=vals,
    )


class _AppliedRatio:
    """The search objective: max over t of lhs/rhs at one point (0 where not applicable)."""

    def __init__(self, p: dict[str, Any], noise: str) -> None:
        self.p, self.noise = dict(p), noise

    def __call__(self, q: dict[str, Any]) -> float:
        row = applied_row(
            self.p, q["kappa"], q["L_tau"], q["l"], self.noise, q["b"], q["lam_frac"], q["l"]
        )
        if row.evidence is None:
            return 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.asarray(row.evidence.lhs) / np.asarray(row.evidence.rhs)
        return float(np.max(np.where(np.isnan(r), np.inf, r)))


_APPLIED_QUICK = dict(
    d=3,
    n=40,
    data_seed=20180706,
    kappas=(1.0, 100.0),
    ls=(1, 4, 16),
    a_taus=(0.5, 1.2, 1.6),
    lam_fracs=(0.02, 0.5, 0.98),
    bs=(1, 8),
    noises=("minibatch", "gaussian"),
    n_t=12,
    relaxations=6.0,
    horizon_taus=60.0,
    search_budget=50,
    rhs_scale=1.0,
)
_APPLIED_FULL = dict(
    _APPLIED_QUICK,
    d=5,
    n=100,
    kappas=(1.0, 10.0, 1000.0),
    ls=(1, 2, 4, 16, 64),
    a_taus=(0.05, 0.5, 0.9, 1.2, 1.5, 1.55, 1.6),
    lam_fracs=(0.001, 0.02, 0.5, 0.9, 0.99),
    bs=(1, 8, 64),
    n_t=30,
    horizon_taus=100.0,
    search_budget=600,
)


class Thm41AsApplied(GridCheck):
    r"""Level 2: the bound applied to ASGD iterates, Eq. (4) with constant delay $l$,
    $u_k=1$, $\delta=\eta$, $t = k\eta$, $\tau = l\eta$ and $\epsilon = \eta\tau^2$ (so that
    $\eta = \epsilon/\tau^2$), start $x_0 = \xi = 0$ (constant segment = footnote-2 cap).
    Left side: the exact $\mathbb E\|x_k-x^*\|^2$ of the recursion
    (:func:`numerics.moments.asgd_moments_for`) with (i) the exact minibatch noise
    $\Sigma(x_{k-l})/b$ and (ii) additive Gaussian noise $\Sigma(x^*)/b$ (Eq. 5). An unstable
    recursion is a FAIL row, not DIVERGED (nothing is simulated: the exact second moment
    really grows without bound); rows say whether delayed GD is stable
    (`delayed_gd_stable`: $\eta L < 2\sin(\pi/(2(2l+1)))$) and whether the moments
    overflowed, and the largest relative gap to the exact continuous
    $\mathbb E\|X(k\eta)-x^*\|^2$ (`max_gap_to_sdde`)."""

    id = "R6-as-applied"
    level = "as-applied"
    statement = claims.THM41
    conventions = CONVENTIONS
    names = ("E||x_k-x*||^2", "bound", "t")
    quick = profile(**_APPLIED_QUICK)
    full = profile(**_APPLIED_FULL)

    def rows(self, ctx: RunContext) -> list[Row]:
        p = ctx.params
        ls = [int(v) for v in floats(p, "ls")]
        if any(v < 1 for v in ls):
            raise R6InputError("ls", p["ls"], "delays must be >= 1 (tau = l eta > 0)", "drop l=0")
        # t on multiples of tau/g, g = gcd(ls): then t = k eta exactly for eta = tau/l, all l
        div = math.gcd(*ls)
        out = [
            applied_row(p, s.kappa, s.a_tau, l, str(noise), int(b), f, div)
            for s in settings(p)
            for l in ls
            for noise in p["noises"]
            for b in floats(p, "bs")
            for f in lam_fracs(p)
        ]
        budget = int(p.get("search_budget", 0))
        self._search = []
        for noise in p["noises"] if budget else ():
            found = search_domain(
                _AppliedRatio(p, str(noise)),
                SEARCH_DOMAIN,
                names=("kappa", "L_tau", "l", "lam_frac", "b"),
                seed=int(ctx.seed(f"search-{noise}").generate_state(1)[0]),
                budget=budget // len(p["noises"]),
                map_fn=ctx.map,
            )
            q = found.best_point
            row = applied_row(
                p, q["kappa"], q["L_tau"], q["l"], str(noise), q["b"], q["lam_frac"], q["l"]
            )
            row.point["source"] = "search"
            out.append(row)
            self._search.append({"noise": str(noise), **found.to_details()})
        return out

    def extra_details(self, ctx: RunContext, rows: list[Row]) -> dict[str, Any]:
        p = ctx.params
        fails = []
        for r in rows:
            if r.evidence is None:
                continue
            ev = r.evidence
            bad = ev.lhs > ev.rhs * (1 + ev.tolerance.rel)
            if np.any(bad):
                fails.append(r)
        live = [r for r in rows if r.evidence is not None]
        extra: dict[str, Any] = {
            "overflow_rows": sum(1 for r in live if r.extra["overflow"]),
            "rows_with_unstable_delayed_gd": sum(
                1 for r in live if not r.extra["delayed_gd_stable"]
            ),
            "stability_note": "delayed GD on 1/2 a x^2 is stable iff eta a < 2 sin(pi/(2(2l+1))) "
            "(SPEC §4); the SDDE (V < 0) only needs L tau < pi/2",
            "failing_rows_by_l": {
                str(l): sum(1 for r in fails if r.point["l"] == l) for l in floats(p, "ls")
            },
            "failing_rows_by_noise_and_stability": {
                f"{nz}, delayed GD {'stable' if st else 'unstable'}": sum(
                    1
                    for r in fails
                    if r.point["noise"] == nz and r.extra["delayed_gd_stable"] == st
                )
                for nz in p["noises"]
                for st in (True, False)
            },
            "search": getattr(self, "_search", []),
            "failing_rows_by_L_tau": {
                str(a): sum(1 for r in fails if r.point["L_tau"] == a) for a in floats(p, "a_taus")
            },
        }
        stable_g = [
            r for r in live if r.point["noise"] == "gaussian" and r.extra["delayed_gd_stable"]
        ]
        if stable_g:
            gaps = [r.extra["max_gap_to_sdde"] for r in stable_g]
            extra["discretisation_gap_gaussian_stable"] = {
                "what": "max over t > 0 of |E||x_k-x*||^2 - E||X(k eta)-x*||^2| / "
                "E||X(k eta)-x*||^2, over Gaussian-noise rows with stable delayed GD "
                "(exact both sides)",
                "max_relative_gap": float(max(gaps)),
                "median_relative_gap": float(np.median(gaps)),
            }
        return extra


_DISCUSSION_QUICK = dict(
    d=3,
    n=40,
    data_seed=20180706,
    kappas=(1.0, 10.0),
    a_taus=(1.2,),
    lam_fracs=(0.5,),
    eps_calibration=(1e-1, 3e-2, 1e-2),
    eps_heldout=(1e-3, 1e-4, 1e-5),
    b=1,
    exponent=1.0,
    rhs_scale=1.0,
)
_DISCUSSION_FULL = dict(
    _DISCUSSION_QUICK,
    d=5,
    n=100,
    kappas=(1.0, 10.0, 100.0),
    a_taus=(0.05, 0.5, 1.2, 1.5),
    lam_fracs=(0.1, 0.5, 0.9),
    eps_heldout=(1e-3, 1e-4, 1e-5, 1e-6, 1e-8),
)


class Thm41Discussion(GridCheck):
    r"""The discussion after Theorem 4.1: "$t \ge O(\tau + \log(1/\epsilon)/(2\lambda))$
    suffices for $\mathbb E\|X(t)-x^*\|^2 \le O(\epsilon)$" (with $\eta = \epsilon/\tau^2$).

    The constant in $O(\epsilon)$ is unspecified, so this is the SPEC §2 rate check, done
    exactly: at $t^*(\epsilon) = \tau + \log(1/\epsilon)/(2\lambda)$ the exact
    $\mathbb E\|X(t^*)-x^*\|^2$ (:mod:`numerics.linear_sdde`) is computed for calibration
    values of $\epsilon$; the smallest constant of the form $C\epsilon^p$ ($p$ = `exponent`,
    claimed 1) that covers them is $C = \max_{\mathrm{cal}}\mathbb E\|X(t^*)-x^*\|^2/\epsilon^p$
    (the one-term linear program); the held-out (smaller) $\epsilon$ must satisfy
    $\mathbb E\|X(t^*)-x^*\|^2 \le C\epsilon^p$ (exact, per $(\tilde A,\tau,\lambda)$). The
    empirical exponent (log-log slope over all $\epsilon$) is reported beside $p$. Details also
    give the iterations $k^* = t^*/\eta = t^*\tau^2/\epsilon$ this time corresponds to with
    $\delta = \eta$: the discussion compares $t^*$ with *iteration counts* of other analyses."""

    id = "R6-discussion"
    level = "as-stated"
    statement = claims.DISCUSSION
    conventions = CONVENTIONS
    names = ("E||X(t*)-x*||^2", "C eps^p", "epsilon")
    quick = profile(**_DISCUSSION_QUICK)
    full = profile(**_DISCUSSION_FULL)

    def rows(self, ctx: RunContext) -> list[Row]:
        p = ctx.params
        d, n, seed = int(p["d"]), int(p["n"]), int(p["data_seed"])
        cal, ho = floats(p, "eps_calibration"), floats(p, "eps_heldout")
        if not all(0 < e < 1 for e in cal + ho):
            raise R6InputError("epsilons", cal + ho, "must lie in (0, 1)", "pass 0 < eps < 1")
        expo, b = float(p["exponent"]), int(p["b"])
        scale = rhs_scale(p)
        out: list[Row] = []
        self._slopes: list[dict[str, Any]] = []
        for s in settings(p):
            sigma_tr = float(np.trace(s.Sigma)) / b
            for f in lam_fracs(p):
                lam = f * (-s.V)
                point = {**s.label(), "lam_frac": f, "lam": lam}
                base = {"V": s.V, "V_certified_negative": s.is_V_negative, "lam": lam}
                hyps = self.statement.check_hypotheses(base)
                bad = [h for h in hyps if not h.holds]
                if bad:
                    out.append(
                        Row(
                            point,
                            None,
                            hyps,
                            {},
                            "; ".join(f"{h.name} fails ({h.detail})" for h in bad),
                        )
                    )
                    continue
                eps = np.array(cal + ho)
                t_star = s.tau + np.log(1 / eps) / (2 * lam)
                mean_err, var1 = sdde_moments(
                    s.kappa, s.a_tau, d, n, seed, tuple(np.round(t_star, 12).tolist())
                )
                eta = eps / s.tau**2
                mse = var1 * eta / b + mean_err**2
                C = float(np.max(mse[: len(cal)] / eps[: len(cal)] ** expo))
                slope = float(np.polyfit(np.log(eps), np.log(mse), 1)[0])
                k_star = t_star / eta
                k_slope = float(np.polyfit(np.log(1 / eps), np.log(k_star), 1)[0])
                self._slopes.append(
                    {
                        **s.label(),
                        "lam_frac": f,
                        "mse_exponent_in_eps": slope,
                        "claimed_exponent": expo,
                        "iterations_exponent_in_1/eps": k_slope,
                        "fitted_C": C,
                        "trace_Sigma_over_b": sigma_tr,
                    }
                )
                h = slice(len(cal), None)
                rhs = scale * self.statement.rhs({"C_fit": C, "p": expo}, epsilon=eps[h])
                tol = exact_tolerance(t_star[h], s)
                out.append(
                    Row(
                        point,
                        ExactCurve(mse[h], rhs, tol, x=eps[h]),
                        hyps,
                        {
                            "fitted_C": C,
                            "t_star_max": float(t_star[h].max()),
                            "iterations_k_star_max": float(k_star[h].max()),
                        },
                        values={"C_fit": C, "p": expo},
                    )
                )
        return out

    def extra_details(self, ctx: RunContext, rows: list[Row]) -> dict[str, Any]:
        return {
            "calibration_epsilons": list(floats(ctx.params, "eps_calibration")),
            "exponents": self._slopes,
            "iterations_note": "with delta = eta = eps/tau^2 the time t* corresponds to "
            "k* = t*/eta = (tau + log(1/eps)/(2 lambda)) tau^2/eps iterations, i.e. "
            "O(tau^2 log(1/eps)/eps) -- the order of Recht et al. that the discussion "
            "says it improves on (it compares time t with iteration counts)",
        }
