r"""User claims (``[[claims]]``): ``metric(process) <= rhs``, decided by the verdict machinery.

A claim names a metric — ``mean_sq_dist`` ($\mathbb E\|X(t)-x^*\|^2$, alias ``mse``),
``mean_dist`` ($\mathbb E\|X(t)-x^*\|$), ``excess_loss`` ($\mathbb E[F(X(t))-F^*]$) or
``approx_error`` ($\mathbb E\|X(t_K)-x_K\|$ under a named coupling) — a process (``sdde``: the
SDDE (6) of the spec's algorithm; ``asgd``: the iterates (4), $t = k\delta$) and a right-hand
side in the named symbols (:data:`~verify.usercheck.spec.CLAIM_NAMES`).

* **Fixed rhs** (no free constant): Monte Carlo samples of the metric at every grid point (the
  times ``t``, or the points ``{K, b, eta}`` of ``approx_error``), one-sided Student-t bounds
  (asymptotic, labelled), Holm across the grid (:meth:`Check.from_grid`): PASS iff every upper
  bound is $\le$ rhs, FAIL iff Holm rejects some point.
* **Free constants** $C_1, C_2, \dots$ ("there exist constants"): the SPEC §2 rate check
  (:meth:`Check.from_rate`): the smallest $C_i \ge 0$ of $\sum_i C_i\varphi_i$ covering the
  upper confidence bounds on the calibration grid (the first half of the grid, or all of it
  when ``heldout`` is given), tested on the held-out grid with independent paths; empirical
  exponents in ``t`` (or $K$, $b$, $\eta$) are reported. The rhs must be linear in the
  $C_i$ (checked when the spec is loaded).

Simulation conventions (SPEC §1): $\sigma$ at $x^*$; the SDDE by Euler–Maruyama with step
$\delta$ and a fine solution with $m = \max(2, \lceil 2\eta u_{\max}L\rceil)$ substeps on the
same Brownian path, which is used as $X$ (:meth:`UserSetting.substeps`); $\xi \equiv x_0$;
footnote-2 cap of the delays. ``approx_error`` uses
:func:`numerics.coupling.simulate_coupled` with 4 substeps: ``quantile`` (b) and
``independent`` (c) compare $X(t_K)$ with ASGD's $x_K$; ``brownian`` (a) compares $X(t_K)$
with its own Euler–Maruyama scheme $\tilde x_K$.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import sympy

from numerics.asgd import simulate_asgd
from numerics.coupling import simulate_coupled
from numerics.sdde import simulate_sdde
from theory.safe_parse import evaluate_float
from verify.checks.base import Check, Diverged
from verify.context import RunContext
from verify.rates import RateForm, RatePoint, rate_check
from verify.usercheck.setting import UserSetting
from verify.usercheck.spec import ClaimSpec
from verify.verdict import CheckResult, Hypothesis, Verdict

__all__ = ["METRIC_TEXT", "UserClaimCheck", "evaluate_rhs"]

METRIC_TEXT = {
    "mean_sq_dist": "E||X(t) - x*||^2",
    "mean_dist": "E||X(t) - x*||",
    "excess_loss": "E[F(X(t)) - F*]",
    "approx_error": "E||X(t_K) - x_K||",
}

#: largest number of floats of one recorded ensemble (R x P x d)
MAX_RECORD_FLOATS = 40_000_000


def evaluate_rhs(expr: sympy.Expr, values: Mapping[str, float]) -> float:
    """The rhs at one grid point (every free symbol must have a value); NaN when it is not a
    finite real number there (e.g. ``1/(t - 1)`` at ``t = 1``, ``log`` of a negative number,
    an overflow such as ``exp(exp(t))``). Evaluated in float64 node by node
    (:func:`theory.safe_parse.evaluate_float`), never by SymPy's unbounded evalf."""
    return evaluate_float(expr, {s.name: float(values[s.name]) for s in expr.free_symbols})


class UserClaimCheck(Check):
    """One ``[[claims]]`` entry as a check (id ``U-claim-<i>``); see the module docstring."""

    level = "as-stated"

    def __init__(self, setting: UserSetting, claim: ClaimSpec, index: int) -> None:
        self.setting = setting
        self.spec = claim
        self.index = index
        self.id = f"U-claim-{index + 1}"  # type: ignore[misc]
        self._notes: list[str] = []
        self.method = "rate" if claim.free_constants else "monte-carlo"  # type: ignore[misc]

    @property
    def result_name(self) -> str:
        return f"claim: {self.spec.name}"

    @property
    def claim(self) -> str:  # type: ignore[override]
        c = self.spec
        where = f"under coupling {c.coupling}" if c.metric == "approx_error" else c.process
        return f"{METRIC_TEXT[c.metric]} <= {c.rhs}  [{where}]"

    @property
    def claim_latex(self) -> str:  # type: ignore[override]
        return ""

    @property
    def conventions(self) -> list[str]:  # type: ignore[override]
        return [
            "sigma at x* (SPEC §1); SDDE X = Euler-Maruyama fine solution (max(2, ceil(2 eta "
            "u_max L)) substeps per delta) on the scheme's Brownian path; xi = x0 constant; "
            "delays capped for k < l",
            "delta = algorithm.delta or eta; t = k delta; H = tr Sigma(x*)/b + 2 mu L D^2",
            "approx_error: numerics.coupling.simulate_coupled, 4 substeps, x0 = algorithm.x0",
        ]

    # ------------------------------------------------------------------ grid
    def _names_needed(self) -> set[str]:
        return {s.name for s in self.spec.rhs_expr.free_symbols} - set(self.spec.free_constants)

    def params_for(self, profile: str) -> dict[str, Any]:
        s, c = self.setting, self.spec
        paths = c.paths or int(s.alg.paths)
        return {"paths": min(paths, 200) if profile != "full" else paths, "rhs_scale": 1.0}

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        vals = self.setting.symbols()
        missing = [n for n in sorted(self._names_needed()) if not math.isfinite(vals.get(n, 0.0))]
        out = [
            Hypothesis(
                "every symbol of the rhs has a value for this loss",
                not missing,
                f"unavailable: {', '.join(missing)} (e.g. L for a non-smooth loss)"
                if missing
                else "yes",
            )
        ]
        out += self._constant_hypotheses()
        if self.spec.metric != "approx_error":
            out.append(self.setting.minimiser_hypothesis())
        if self.spec.metric == "approx_error" and self.spec.coupling == "quantile":
            out.append(
                Hypothesis(
                    "minibatches with replacement (quantile coupling)",
                    bool(self.setting.alg.replace),
                    f"algorithm.replace = {self.setting.alg.replace}",
                )
            )
        return out

    def _constant_hypotheses(self) -> list[Hypothesis]:
        r"""A rhs that uses $\mu$ (or $H = \operatorname{tr}\Sigma/b + 2\mu LD^2$) assumes
        strong convexity: $\mu > 0$; one that uses $L$ (or $H$) assumes a finite $L$. Never
        evaluate a bound with the estimated $\mu \le 0$ of a non-convex loss."""
        names = self._names_needed()
        s = self.setting
        out = []
        if names & {"mu", "H"}:
            mu = s.mu_const
            ok = math.isfinite(mu.value) and mu.value > 0
            out.append(
                Hypothesis(
                    "mu > 0 (the rhs uses mu: strong convexity)",
                    ok,
                    f"mu = {mu.value:.6g} ({mu.kind}: {mu.detail})"
                    + ("" if ok else "; the loss is not strongly convex, the bound does not apply"),
                )
            )
        if names & {"L", "H"}:
            L = s.L_const
            ok = math.isfinite(L.value)
            out.append(
                Hypothesis(
                    "L finite (the rhs uses L: L-smooth loss)",
                    ok,
                    f"L = {L.value:.6g} ({L.kind}: {L.detail})",
                )
            )
        return out

    def _times(self) -> list[float]:
        s, c = self.setting, self.spec
        if c.t is not None:
            return list(c.t)
        K = int(s.alg.K)
        ks = sorted({max(1, round(K / 2**j)) for j in range(6)})
        return [k * s.delta for k in ks]

    def _points(self) -> list[dict[str, Any]]:
        s, c = self.setting, self.spec
        if c.grid is not None:
            return [dict(q) for q in c.grid]
        K = int(s.alg.K)
        return [{"K": max(1, K // 4)}, {"K": max(1, K // 2)}, {"K": K}]

    # ------------------------------------------------------------------ simulation
    def _simulate_times(
        self, times: Sequence[float], paths: int, seed: np.random.SeedSequence, ctx: RunContext
    ) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        r"""Samples of the metric at (the recorded steps nearest to) `times`."""
        s, c = self.setting, self.spec
        a = s.analysis
        sched = s.schedule()
        k0 = int(getattr(sched, "k0", 0))
        ks = [max(k0 + 1, round(t / s.delta)) for t in times]
        K = max(ks) - k0
        every = math.gcd(*[k - k0 for k in ks]) or 1
        if (K // every + 2) * paths * s.problem.d > MAX_RECORD_FLOATS:
            every = max(every, (K * paths * s.problem.d) // MAX_RECORD_FLOATS + 1)
        common = dict(
            eta=s.eta,
            K=K,
            paths=paths,
            seed=seed,
            x0=s.x0,
            delay=s.delay_model(),
            schedule=sched,
            b=s.b,
            delta=s.delta,
            record_every=every,
            map_fn=ctx.map,
        )
        if c.process == "sdde":
            m = s.substeps()
            sim = simulate_sdde(s.problem, sigma_at="x_star", substeps=m, **common)
            traj = sim.fine_trajectory
            self._notes.append(f"SDDE: {m} fine substeps per delta (fine step x drift <= 1/2)")
        else:
            sim = simulate_asgd(s.problem, replace=bool(s.alg.replace), **common)
            traj = sim.trajectory
        div = np.asarray(sim.diverged_from_step)
        bad = np.flatnonzero(div >= 0)
        if bad.size and c.process == "sdde":  # the coarse scheme may blow up while X does not
            self._notes.append(
                f"{bad.size} of {paths} paths flagged non-finite (coarse EM scheme or X); "
                "only X at the grid times is used and checked"
            )
        elif bad.size:
            first = int(div[bad].min())
            raise Diverged(
                f"{c.process}: {bad.size} of {paths} paths non-finite, the earliest from step "
                f"{first} (t = {first * s.delta:g}; eta = {s.eta:g}, b = {s.b}, l = {s.l})"
            )
        steps = np.asarray(sim.steps)
        samples, points = [], []
        for k in ks:
            j = int(np.argmin(np.abs(steps - k)))
            X = traj[j]
            t = float(steps[j]) * s.delta
            if not np.all(np.isfinite(X)):
                bad = int(np.count_nonzero(~np.all(np.isfinite(X), axis=1)))
                raise Diverged(
                    f"{c.process}: {bad} of {paths} paths non-finite by t = {t:g} "
                    f"(step {int(steps[j])}, eta = {s.eta:g})"
                )
            if c.metric == "mean_sq_dist":
                v = np.sum((X - a.x_star) ** 2, axis=1)
            elif c.metric == "mean_dist":
                v = np.linalg.norm(X - a.x_star, axis=1)
            else:
                v = s.problem.F(X) - s.F_star
            samples.append(v)
            points.append({"t": t, "k": int(steps[j])})
        return samples, points

    def _simulate_points(
        self,
        pts: Sequence[Mapping[str, Any]],
        paths: int,
        stream: str,
        ctx: RunContext,
    ) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
        s, c = self.setting, self.spec
        samples, points = [], []
        for j, q in enumerate(pts):
            K = int(q.get("K", s.alg.K))
            b = int(q.get("b", s.b))
            eta = float(q.get("eta", s.eta))
            delta = float(s.alg.delta) if s.alg.delta is not None else eta
            res = simulate_coupled(
                s.problem,
                eta=eta,
                K=K,
                paths=paths,
                seed=ctx.seed(f"{stream}-{j}"),
                x0=s.x0,
                delay=s.delay_model(),
                schedule=s.schedule(),
                b=b,
                replace=bool(s.alg.replace),
                coupling="quantile" if c.coupling == "brownian" else c.coupling,
                sigma_at="x_star",
                delta=delta,
                substeps=4,
                map_fn=ctx.map,
            )
            bad = np.flatnonzero(np.asarray(res.diverged_from_step) >= 0)
            if bad.size:
                raise Diverged(f"K={K}, b={b}, eta={eta:g}: {bad.size} of {paths} paths non-finite")
            err = res.errors()["fine_scheme" if c.coupling == "brownian" else "fine_asgd"]
            samples.append(err)
            points.append({"K": K, "b": b, "eta": eta, "t": K * delta})
        return samples, points

    def _values(self, point: Mapping[str, Any]) -> dict[str, float]:
        v = self.setting.symbols()
        v.update({k: float(x) for k, x in point.items()})
        if "eta" in point and self.setting.alg.delta is None:
            v["delta"] = float(point["eta"])
        v["tau"] = v["l"] * v["delta"]
        return v

    # ------------------------------------------------------------------ run
    def run(self, ctx: RunContext) -> CheckResult:
        c, p = self.spec, ctx.params
        self._notes = []  # filled by the simulations, shown in details
        paths = int(p["paths"])
        approx = c.metric == "approx_error"
        details: dict[str, Any] = {
            "metric": METRIC_TEXT[c.metric],
            "process": c.process,
            "coupling": c.coupling,
            "rhs": c.rhs,
            "rhs_parsed": str(c.rhs_expr),
            "symbols": self.setting.symbols(),
            "simulation_notes": self._notes,
        }
        if not c.free_constants:
            if approx:
                samples, points = self._simulate_points(self._points(), paths, "grid", ctx)
            else:
                samples, points = self._simulate_times(self._times(), paths, ctx.seed("grid"), ctx)
            for q in points:
                q["rhs_value"] = evaluate_rhs(c.rhs_expr, self._values(q))
            rhs = [float(p["rhs_scale"]) * q.pop("rhs_value") for q in points]
            bad = [q for q, r in zip(points, rhs) if not math.isfinite(r)]
            if bad:
                return self.make_result(
                    ctx,
                    Verdict.INCONCLUSIVE,
                    "monte-carlo",
                    message=f"the rhs {c.rhs!r} is not a finite real number at "
                    + ", ".join(f"t = {q['t']:g}" for q in bad)
                    + "; drop those grid points (claim t / grid) or fix the rhs",
                    details=details,
                )
            return self.from_grid(ctx, samples, rhs, points=points, details=details)
        return self._rate(ctx, paths, approx, details)

    def _rate(
        self, ctx: RunContext, paths: int, approx: bool, details: dict[str, Any]
    ) -> CheckResult:
        c = self.spec
        grid: list[Any] = self._points() if approx else self._times()
        if c.heldout is not None:
            cal, held = grid, list(c.heldout)
        else:
            if len(grid) < 2:
                return self.make_result(
                    ctx,
                    Verdict.INCONCLUSIVE,
                    "rate",
                    message="a rate check needs >= 2 grid points (calibration and held-out); "
                    "give more t / grid points or heldout",
                )
            h = (len(grid) + 1) // 2
            cal, held = grid[:h], grid[h:]
        if approx:
            cs, cp = self._simulate_points(cal, paths, "calibration", ctx)
            hs, hp = self._simulate_points(held, paths, "heldout", ctx)
        else:
            cs, cp = self._simulate_times(cal, paths, ctx.seed("calibration"), ctx)
            hs, hp = self._simulate_times(held, paths, ctx.seed("heldout"), ctx)
        syms = {s.name: s for s in c.rhs_expr.free_symbols}
        coeffs = {name: sympy.diff(c.rhs_expr, syms[name]) for name in c.free_constants}
        scale = float(ctx.params["rhs_scale"])

        def term(expr: sympy.Expr):
            def phi(q: Mapping[str, Any]) -> float:
                s = scale if q.get("split") == "held-out" else 1.0
                point = {k: v for k, v in q.items() if k != "split"}
                return s * evaluate_rhs(expr, self._values(point))

            return phi

        form = RateForm({n: term(e) for n, e in coeffs.items()}, latex=sympy.latex(c.rhs_expr))
        for q in cp:
            q["split"] = "calibration"
        for q in hp:
            q["split"] = "held-out"
        try:
            rate = rate_check(
                form,
                [RatePoint(q, x) for q, x in zip(cp, cs)],
                [RatePoint(q, x) for q, x in zip(hp, hs)],
                alpha=ctx.alpha,
                exponent_names=("K", "b", "eta") if approx else ("t",),
            )
        except Exception as exc:  # a negative / non-finite phi_i on the grid: say which
            from verify.rates import RateInputError

            if not isinstance(exc, RateInputError):
                raise
            return self.make_result(
                ctx,
                Verdict.INCONCLUSIVE,
                "rate",
                message=f"the form cannot be fitted: {exc}",
                details=details,
            )
        details["free_constants"] = list(c.free_constants)
        details["rhs_scale"] = scale
        return self.from_rate(ctx, rate, details=details)
