r"""The `Check` base class: one claim of the paper at one level, in one short file.

A check file looks like this (the whole file)::

    '''Thm 4.1 as stated: $\mathbb E\|X(t)-x^*\|^2 \le \dots$ (paper §4.1).'''
    from verify.checks.base import Check, profile, raise_if_diverged
from verify.runner import run_alone
    from verify.verdict import Hypothesis

    class Thm41AsStated(Check):
        id = "R6-as-stated"
        result = "Thm 4.1"
        level = "as-stated"
        claim = "E||X(t)-x*||^2 <= C5 e^{-2 lambda t} + C6 for all t"
        claim_latex = r"\mathbb{E}\|X(t)-x^*\|^2 \le C_5 e^{-2\lambda t} + C_6"
        conventions = ("c_lambda = sup_t ||Gamma(t)|| e^{lambda t} (SPEC §1)",)
        quick = profile(paths=2000, T=5.0)      # read-only mappings (ruff RUF012-clean)
        full = profile(paths=50000, T=20.0)

        def hypotheses(self, ctx):                  # evaluated first, at ctx.params
            V = rightmost_root(ctx.params)             # (theory layer)
            return [Hypothesis("V < 0", V < 0, f"V = {V:.4g}")]

        def run(self, ctx):
            p = ctx.params
            sim = simulate_sdde(..., paths=p["paths"], seed=ctx.seed("sdde"),  # numerics
                                map_fn=ctx.map)          # chunks run on the chosen executor
            raise_if_diverged(sim, f"eta = {p['eta']}")  # -> DIVERGED, says where
            lhs = sq_error(sim, t=p["T"])                # one sample per path
            plot = self.plot_band(ctx, "bound", t, mean_t, lcb_t, ucb_t, bound_t)
            return self.from_samples(ctx, lhs, rhs, bound="student-t", plots=[plot])

    CHECKS = [Thm41AsStated()]

    if __name__ == "__main__":      # python -m verify.checks.thm41_as_stated [--profile full]
        run_alone(CHECKS)

The runner (`Check.execute`) fills the context's `params` from the profile, evaluates
`hypotheses` first — if any fails it returns NOT_APPLICABLE naming it and runs nothing else —
then calls `run`, records the runtime, the hypotheses and the seed, turns a raised `Diverged`
into a DIVERGED verdict and any other exception into an INCONCLUSIVE result carrying the
traceback (`CheckResult.error`).

Helpers turning evidence into a `CheckResult` with the right verdict (SPEC §5):
`from_samples` (one Monte Carlo mean vs rhs, fixed n), `from_sequential` (batches until
decided, anytime-valid confidence sequence), `from_grid` (all grid points, Holm),
`from_exact` (deterministic, tolerance tied to precision), `from_rate` (SPEC §2 rate check),
`run_grid` / `run_rate` (simulate a grid on the executor with per-point seeds, then decide),
`diverged`, and `make_result` (anything else). `plot_band` draws the standard plot (curve,
band, bound over t); `plot_grid` the same over a grid (drawn automatically by `from_grid` and
`from_rate`). `raise_if_diverged(sim, label)` turns a numerics result with diverged paths
into a DIVERGED verdict.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from theory.claims.base import Claim
from verify import stats
from verify.context import RunContext
from verify.evidence import Row, decide_rows
from verify.verdict import CheckResult, Hypothesis, Verdict

__all__ = [
    "Check",
    "Diverged",
    "GridCheck",
    "declare",
    "profile",
    "raise_if_diverged",
]


def profile(**params: Any) -> Mapping[str, Any]:
    """A read-only parameter set for `Check.quick` / `Check.full`, e.g.
    ``quick = profile(paths=2000, K=(10, 20, 40))``."""
    return MappingProxyType(dict(params))


class Diverged(Exception):
    """Raise inside `Check.run` when a simulation blew up; `where` says where.

    Example: ``raise Diverged("path 17 non-finite from step 4032 (eta L = 1.9)")``.
    """

    def __init__(self, where: str, **details: Any) -> None:
        super().__init__(where)
        self.where = where
        self.details = details


def raise_if_diverged(sim: Any, label: str = "") -> None:
    """Raise `Diverged` if a numerics result (anything with `diverged_from_step`, one entry per
    path, -1 for finite paths) has a diverged path; the message says how many, the first
    step and path, and `label` (e.g. the parameters)."""
    steps = np.asarray(sim.diverged_from_step)
    bad = np.flatnonzero(steps >= 0)
    if bad.size:
        first = bad[np.argmin(steps[bad])]
        raise Diverged(
            f"{bad.size} of {steps.size} paths non-finite"
            + (f" ({label})" if label else "")
            + f"; earliest at step {int(steps[first])} (path {int(first)})",
            n_diverged=int(bad.size),
            first_step=int(steps[first]),
        )


class Check:
    """Base class of every check (see the module docstring for a complete example).

    Class attributes an implementer sets: `id`, `result`, `level`, `claim`, `claim_latex`,
    `conventions`, `method` (the default method shown when the check does not run: NOT_APPLICABLE
    or an exception), `quick` and `full` (the parameter sets of the two profiles).
    Methods: `hypotheses(ctx) -> list[Hypothesis]` (default: none) and `run(ctx) ->
    CheckResult` (required).
    """

    id: ClassVar[str] = ""
    result: ClassVar[str] = ""
    level: ClassVar[str] = "as-stated"
    claim: ClassVar[str] = ""
    claim_latex: ClassVar[str] = ""
    conventions: ClassVar[Sequence[str]] = ()
    method: ClassVar[str] = "monte-carlo"
    quick: ClassVar[Mapping[str, Any]] = profile()
    full: ClassVar[Mapping[str, Any]] = profile()

    # ------------------------------------------------------------------ to implement
    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        """The result's hypotheses evaluated at `ctx.params` (default: none)."""
        return []

    def run(self, ctx: RunContext) -> CheckResult:
        """Gather the evidence and return a `CheckResult` (use the `from_*` helpers)."""
        raise NotImplementedError(f"{type(self).__name__}.run")

    # ------------------------------------------------------------------ runner
    def params_for(self, profile: str) -> dict[str, Any]:
        """The parameter set of `profile` (``"quick"`` or ``"full"``; an empty `full` falls
        back to `quick`)."""
        return dict(self.full if profile == "full" and self.full else self.quick)

    def execute(self, ctx: RunContext, overrides: dict[str, Any] | None = None) -> CheckResult:
        """Run the check with the verdict protocol around it (see module docstring)."""
        ctx.params = {**self.params_for(ctx.profile), **(overrides or {})}
        start = time.perf_counter()
        hyps: list[Hypothesis] = []
        try:
            hyps = list(self.hypotheses(ctx))
            failed = [h for h in hyps if not h.holds]
            if failed:
                res = self.make_result(
                    ctx,
                    Verdict.NOT_APPLICABLE,
                    self.method,
                    message="hypothesis fails: "
                    + "; ".join(
                        f"{h.name}" + (f" ({h.detail})" if h.detail else "") for h in failed
                    ),
                )
            else:
                res = self.run(ctx)
                if not isinstance(res, CheckResult):
                    raise TypeError(
                        f"{type(self).__name__}.run returned {type(res).__name__}, not a "
                        "CheckResult; return one of the from_* helpers"
                    )
        except Diverged as exc:
            res = self.diverged(ctx, exc.where, details=exc.details)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # recorded, not hidden: the CLI exits 3
            res = self.make_result(
                ctx,
                Verdict.INCONCLUSIVE,
                self.method,
                message=f"the check raised {type(exc).__name__}: {exc}",
                error=traceback.format_exc(),
            )
        res.hypotheses = res.hypotheses or hyps
        res.runtime_s = time.perf_counter() - start
        if res.seed is None:
            res.seed = ctx.global_seed
        res.details.setdefault(
            "seed_stream",
            f"SeedSequence(entropy={ctx.seed_sequence.entropy}, "
            f"spawn_key={ctx.seed_sequence.spawn_key})",
        )
        res.details.setdefault("profile", ctx.profile)
        res.details.setdefault("params", ctx.params)
        return res

    # ------------------------------------------------------------------ result helpers
    def make_result(
        self, ctx: RunContext, verdict: Verdict, method: str, **fields: Any
    ) -> CheckResult:
        """A `CheckResult` with this check's id, result, level, claim, conventions and seed."""
        base: dict[str, Any] = dict(
            id=self.id,
            result=self.result_name,
            level=self.level,
            claim=self.claim,
            claim_latex=self.claim_latex,
            conventions=list(self.conventions),
            seed=ctx.global_seed,
        )
        base.update(fields)
        return CheckResult(verdict=verdict, method=method, **base)

    @property
    def result_name(self) -> str:
        return self.result

    def from_samples(
        self,
        ctx: RunContext,
        samples: Any,
        rhs: float,
        bound: str = "student-t",
        value_range: tuple[float, float] | None = None,
        **fields: Any,
    ) -> CheckResult:
        """Monte Carlo verdict for "E[sample] <= rhs" from i.i.d. samples (one fixed-n bound).

        PASS iff the one-sided upper bound (level `ctx.alpha`) is <= rhs, FAIL iff the lower
        bound is > rhs. `confidence_bound` is the bound that decided (upper unless FAIL).
        """
        x = np.asarray(samples, dtype=float).ravel()
        if not np.all(np.isfinite(x)):
            bad = np.flatnonzero(~np.isfinite(x))
            return self.diverged(
                ctx, f"{bad.size} of {x.size} samples non-finite (first index {bad[0]})", **fields
            )
        mb = stats.mean_bounds(x, ctx.alpha, bound, value_range)
        verdict = stats.decide(mb.lcb, mb.ucb, rhs)
        fields.setdefault("message", _mc_message(verdict, mb.lcb, mb.ucb, rhs))
        details = dict(fields.pop("details", {}))
        details.update(lcb=float(mb.lcb), ucb=float(mb.ucb))
        return self.make_result(
            ctx,
            verdict,
            fields.pop("method", "monte-carlo"),
            estimate=float(mb.estimate),
            rhs=float(rhs),
            confidence_bound=float(mb.lcb if verdict is Verdict.FAIL else mb.ucb),
            bound_kind=mb.label,
            alpha=ctx.alpha,
            paths=mb.n,
            details=details,
            **fields,
        )

    def from_grid(
        self,
        ctx: RunContext,
        samples: Sequence[Any],
        rhs: Any,
        points: Sequence[Any] | None = None,
        bound: str = "student-t",
        value_range: tuple[float, float] | None = None,
        plot: bool = True,
        **fields: Any,
    ) -> CheckResult:
        """Verdict for "E[samples_j] <= rhs_j for every grid point j" (Holm for FAIL,
        intersection–union for PASS; see `verify.stats.grid_decide`). `points` are the grid
        parameters (dicts) shown in the report's grid table. When the context has an output
        folder (a real run), unless `plots=` is given or `plot=False`, draws the grid plot
        (estimate, interval, rhs over the grid)."""
        for j, x in enumerate(samples):
            x = np.asarray(x, dtype=float)
            if not np.all(np.isfinite(x)):
                where = points[j] if points is not None else j
                return self.diverged(ctx, f"grid point {where}: non-finite samples", **fields)
        g = stats.grid_decide(samples, rhs, ctx.alpha, bound, value_range)
        w = g.worst
        details = dict(fields.pop("details", {}))
        details.update(grid=g.rows(points), multiple_testing=g.correction)
        if "plots" not in fields and plot and ctx.out_dir is not None:
            fields["plots"] = [self.plot_grid(ctx, "grid", details["grid"])]
        fields.setdefault(
            "message",
            f"{int(g.rejected.sum())} of {g.estimate.size} grid points rejected by Holm; "
            f"worst point {_point_label(points, w)}: LHS in [{g.lcb[w]:.4g}, {g.ucb[w]:.4g}] "
            f"vs rhs {g.rhs[w]:.4g}. "
            "Holm step-down applied across grid points.",
        )
        return self.make_result(
            ctx,
            g.verdict,
            fields.pop("method", "monte-carlo"),
            estimate=float(g.estimate[w]),
            rhs=float(g.rhs[w]),
            confidence_bound=float(g.lcb[w] if g.verdict is Verdict.FAIL else g.ucb[w]),
            bound_kind=stats.BOUND_KINDS[bound] + ", Holm over grid",
            alpha=ctx.alpha,
            paths=int(min(g.n)),
            details=details,
            **fields,
        )

    def from_sequential(
        self,
        ctx: RunContext,
        draw: Callable[[np.random.SeedSequence], Any],
        rhs: float,
        value_range: tuple[float, float],
        max_batches: int = 20,
        **fields: Any,
    ) -> CheckResult:
        """Monte Carlo verdict for "E[sample] <= rhs" from batches drawn **until decided**.

        `draw(seed)` returns a batch of samples in `value_range`; batch `i` gets
        `ctx.seed(f"batch-{i}")`. After every batch the anytime-valid confidence sequence
        (`verify.stats.SequentialMeanTest`, Waudby-Smith & Ramdas PrPl-EB) is consulted — this
        is not peeking, the bounds hold simultaneously for all sample sizes. Stops at the first
        PASS/FAIL, else INCONCLUSIVE after `max_batches`.
        """
        test = stats.SequentialMeanTest(rhs, value_range[0], value_range[1], ctx.alpha)
        batches = 0
        for i in range(max_batches):
            batch = np.asarray(draw(ctx.seed(f"batch-{i}")), dtype=float)
            batches = i + 1
            if not np.all(np.isfinite(batch)):
                return self.diverged(ctx, f"batch {i}: non-finite samples", **fields)
            ctx.progress(batches, max_batches)
            if test.update(batch) is not None:
                break
        verdict = test.verdict
        data = np.concatenate(test.data)
        fields.setdefault(
            "message",
            _mc_message(verdict, test.lcb, test.ucb, rhs)
            + f" (decided after {batches} of at most {max_batches} batches)",
        )
        details = dict(fields.pop("details", {}))
        details.update(lcb=test.lcb, ucb=test.ucb, batches=batches, max_batches=max_batches)
        return self.make_result(
            ctx,
            verdict,
            fields.pop("method", "monte-carlo"),
            estimate=float(data.mean()),
            rhs=float(rhs),
            confidence_bound=float(test.lcb if verdict is Verdict.FAIL else test.ucb),
            bound_kind=stats.BOUND_KINDS["cs"],
            alpha=ctx.alpha,
            paths=int(data.size),
            details=details,
            **fields,
        )

    def map_points(
        self,
        ctx: RunContext,
        simulate: Callable[[Mapping[str, Any], np.random.SeedSequence], Any],
        points: Sequence[Mapping[str, Any]],
        stream: str = "grid",
    ) -> list[Any]:
        """`[simulate(p, seed_j) for p in points]` on the executor, point `j` seeded with the
        stateless `ctx.seed(f"{stream}-{j}")` (so adding points does not move the others)."""
        from verify.context import _SeededCall

        tasks = [(dict(p), ctx.seed(f"{stream}-{j}")) for j, p in enumerate(points)]
        return ctx.map(_SeededCall(simulate), tasks)

    def run_grid(
        self,
        ctx: RunContext,
        simulate: Callable[[Mapping[str, Any], np.random.SeedSequence], Any],
        points: Sequence[Mapping[str, Any]],
        rhs: Callable[[Mapping[str, Any]], float],
        **kwargs: Any,
    ) -> CheckResult:
        """Simulate every grid point (`simulate(params, seed) -> samples of the LHS`), then
        `from_grid` with `rhs(params)` per point. `kwargs` go to `from_grid`."""
        samples = self.map_points(ctx, simulate, points, "grid")
        return self.from_grid(ctx, samples, [rhs(p) for p in points], list(points), **kwargs)

    def run_rate(
        self,
        ctx: RunContext,
        form: Any,
        simulate: Callable[[Mapping[str, Any], np.random.SeedSequence], Any],
        calibration: Sequence[Mapping[str, Any]],
        heldout: Sequence[Mapping[str, Any]],
        bound: str = "student-t",
        value_range: tuple[float, float] | None = None,
        exponent_names: Sequence[str] = ("K", "b", "l"),
        **fields: Any,
    ) -> CheckResult:
        """SPEC §2 rate check end to end: simulate the calibration and held-out grids (separate
        seed streams, so the held-out samples are independent of the fit), fit the smallest
        constants of `form` (`verify.rates.RateForm`), test on the held-out grid, report
        exponents (`verify.rates.rate_check`), and return `from_rate`."""
        from verify.rates import RatePoint, rate_check

        cal = self.map_points(ctx, simulate, calibration, "calibration")
        held = self.map_points(ctx, simulate, heldout, "heldout")
        for name, pts, samples in (("calibration", calibration, cal), ("held-out", heldout, held)):
            for p, x in zip(pts, samples):
                if not np.all(np.isfinite(np.asarray(x, dtype=float))):
                    return self.diverged(ctx, f"{name} point {dict(p)}: non-finite samples")
        rate = rate_check(
            form,
            [RatePoint(dict(p), x) for p, x in zip(calibration, cal)],
            [RatePoint(dict(p), x) for p, x in zip(heldout, held)],
            ctx.alpha,
            bound,
            value_range,
            exponent_names,
        )
        return self.from_rate(ctx, rate, **fields)

    def from_exact(
        self,
        ctx: RunContext,
        lhs: Any,
        rhs: Any,
        tol: float | None = None,
        relation: str = "eq",
        precision_bits: int = 53,
        method: str = "exact",
        **fields: Any,
    ) -> CheckResult:
        """Deterministic verdict (see `verify.stats.decide_exact`); `method` is ``"exact"`` or
        ``"symbolic"``."""
        d = stats.decide_exact(lhs, rhs, tol, relation, precision_bits)
        scalar = np.size(lhs) == 1 and np.size(rhs) == 1
        fields.setdefault(
            "message",
            f"largest {'lhs - rhs' if relation == 'le' else '|lhs - rhs|'} = {d.max_violation:.3e}"
            f" vs tolerance {d.tol:.1e}",
        )
        return self.make_result(
            ctx,
            d.verdict,
            method,
            estimate=float(np.ravel(np.asarray(lhs, dtype=float))[0]) if scalar else None,
            rhs=float(np.ravel(np.asarray(rhs, dtype=float))[0]) if scalar else None,
            confidence_bound=d.max_violation,
            bound_kind=d.label,
            **fields,
        )

    def from_rate(
        self, ctx: RunContext, rate: Any, plot: bool = True, **fields: Any
    ) -> CheckResult:
        """Verdict of a SPEC §2 rate check (`verify.rates.rate_check` result). When the context
        has an output folder, unless `plots=` is given or `plot=False`, draws calibration and
        held-out points against the fitted bound."""
        details = dict(fields.pop("details", {}))
        details.update(rate.to_details())
        fields.setdefault("message", rate.message)
        if "plots" not in fields and plot and rate.heldout and ctx.out_dir is not None:
            rows = [{**r, "rhs": r["fitted_bound"]} for r in rate.calibration + rate.heldout]
            fields["plots"] = [self.plot_grid(ctx, "rate", rows, title_suffix="fitted bound")]
        return self.make_result(
            ctx,
            rate.verdict,
            "rate",
            estimate=rate.estimate,
            rhs=rate.rhs,
            confidence_bound=rate.confidence_bound,
            bound_kind=rate.bound_kind,
            alpha=ctx.alpha,
            paths=rate.paths,
            details=details,
            **fields,
        )

    def diverged(self, ctx: RunContext, where: str, **fields: Any) -> CheckResult:
        """A DIVERGED result; `where` says which path/step/parameters blew up."""
        fields.setdefault("message", f"simulation diverged: {where}")
        details = dict(fields.pop("details", {}))
        details["diverged_where"] = where
        return self.make_result(
            ctx, Verdict.DIVERGED, fields.pop("method", "monte-carlo"), details=details, **fields
        )

    def plot_band(
        self,
        ctx: RunContext,
        name: str,
        x: Any,
        estimate: Any,
        lcb: Any,
        ucb: Any,
        bound: Any,
        **kwargs: Any,
    ) -> str:
        """Save the standard plot (estimate with its confidence band against the bound) in the
        check's plot folder and return its path. See `verify.plots.plot_band`."""
        from verify.plots import plot_band

        path = ctx.plot_path(name)
        kwargs.setdefault("title", f"{self.id}: {self.result_name}")
        plot_band(path, x, estimate, lcb, ucb, bound, **kwargs)
        return str(path)

    def plot_grid(
        self,
        ctx: RunContext,
        name: str,
        rows: Sequence[Mapping[str, Any]],
        x_key: str | None = None,
        title_suffix: str = "",
    ) -> str:
        """Plot grid rows (dicts with estimate, lcb, ucb, rhs) over `x_key` (default: the first
        parameter that varies, else the grid index) on log axes; return the path."""
        from verify.plots import choose_x_key, claim_variable, plot_grid

        if x_key is None:  # the variable the claim is about (verify.plots.claim_variable)
            x_key = choose_x_key(rows, claim_variable(self, rows))
        path = ctx.plot_path(name)
        title = f"{self.id}: {self.result_name}" + (f" ({title_suffix})" if title_suffix else "")
        plot_grid(path, list(rows), x_key=x_key, title=title)
        return str(path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}: {self.result_name} ({self.level})>"


class GridCheck(Check):
    """A check of one claim over grid rows: it declares the claim statement (`statement`,
    from :mod:`theory.claims`), its rows with their evidence (`rows`), and optionally extra
    details; :func:`verify.evidence.decide_rows` decides (one place for every check).

    `result`, `claim`, `claim_latex` and `conventions` default to the statement's.
    `names` gives the labels of the message: ``(lhs, rhs, x)``.
    """

    statement: ClassVar[Claim]
    method = "exact"
    names: ClassVar[tuple[str, str, str]] = ("lhs", "rhs", "t")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        st = cls.__dict__.get("statement")
        if st is not None:
            for attr, value in (
                ("result", st.result),
                ("claim", st.statement),
                ("claim_latex", st.latex),
                ("conventions", st.conventions),
            ):
                if attr not in cls.__dict__:
                    setattr(cls, attr, value)

    def rows(self, ctx: RunContext) -> list[Row]:
        """The grid rows, each with its hypotheses and evidence (or the reason it has none)."""
        raise NotImplementedError(f"{type(self).__name__}.rows")

    def extra_details(self, ctx: RunContext, rows: list[Row]) -> dict[str, Any]:
        """Further evidence for `details` (default: none)."""
        return {}

    def note(self, ctx: RunContext) -> str:
        """A sentence appended to the message (default: none)."""
        return ""

    def run(self, ctx: RunContext) -> CheckResult:
        rows = list(self.rows(ctx))
        lhs, rhs, x = self.names
        return decide_rows(
            self,
            ctx,
            rows,
            claim=self.statement,
            method=self.method,
            details={"claim_id": self.statement.id, **self.extra_details(ctx, rows)},
            note=self.note(ctx),
            lhs_name=lhs,
            rhs_name=rhs,
            x_name=x,
        )


def declare(base: type[Check], name: str, **attrs: Any) -> Check:
    """A check declared in a few lines: an instance of a subclass of `base` named `name` with
    class attributes `attrs` (id, statement, profiles …), e.g. Cor 4.3 as the tau = 0 rows of
    the Thm 4.2 checks: ``declare(EnergyAsStated, "Cor43AsStated", id="R8-as-stated",
    statement=COR43, quick=profile(rows=...))``."""
    return type(name, (base,), {"__module__": base.__module__, **attrs})()


def _point_label(points: Sequence[Any] | None, j: int) -> str:
    if points is None:
        return f"#{j}"
    p = points[j]
    if isinstance(p, Mapping):
        return ", ".join(f"{k}={v}" for k, v in p.items())
    return str(p)


def _mc_message(verdict: Verdict, lcb: float, ucb: float, rhs: float) -> str:
    if verdict is Verdict.PASS:
        return f"upper confidence bound {ucb:.4g} <= rhs {rhs:.4g}"
    if verdict is Verdict.FAIL:
        return f"lower confidence bound {lcb:.4g} > rhs {rhs:.4g}"
    return (
        f"rhs {rhs:.4g} lies inside the confidence interval [{lcb:.4g}, {ucb:.4g}]; "
        "more paths needed"
    )
