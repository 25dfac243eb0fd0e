r"""The proof steps of Theorem 4.2 / Corollary 4.3 as grid checks (`EnergyProofStep` and its
three steps); declared as checks in :mod:`verify.checks.r7_thm42` and
:mod:`verify.checks.r8_cor43`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from numerics.sdde import SDDEResult
from verify.checks._r7 import (
    Row,
    Thm42InputError,
    _constant_delay_only,
    _record_grid,
    _t_targets,
    sdde_batched,
    sdde_horizon,
    tau0_moments,
)
from verify.checks._r7_grid import COMMON, TOLERANCE, EnergyGrid, Setup, is_corollary, proof_steps
from verify.checks.base import profile
from verify.context import RunContext
from verify.evidence import ExactCurve, Samples
from verify.evidence import Row as EvidenceRow

__all__ = ["EnergyDecreasing", "EnergyFirstInequality", "EnergyNonpositive", "EnergyProofStep"]

_STATED_FULL_PROFILE = profile(
    rows=tuple(
        dict(problem=p, kappa=k, noise=s, delta=dl, tau=tau)
        for p in ("quadratic", "least-squares")
        for k in (1, 10, 30)
        for s in (0.01, 1.0, 100.0)
        for dl in (0.1, 1.0, 10.0)
        for tau in (0.1, 1.0, 3.0)
    )
    + tuple(
        dict(problem="quadratic", kappa=k, noise=1.0, delta=dl, tau=tau, delay="random")
        for k in (1, 10, 30)
        for dl in (0.1, 1.0)
        for tau in (1.0, 3.0)
    ),
    T=50.0,
    n_t=80,
    h_kappa=0.1,
    ball_paths=2000,
    T_ball=50.0,
    **COMMON,
)


class EnergyProofStep(EnergyGrid):
    r"""Level 3: one displayed step of the proof sketch.

    `step` is ``"first_inequality"`` (printed equality ≤ the bound of the first inequality, in
    expectation), ``"nonpositive"`` (that bound ≤ 0) or ``"decreasing"`` (printed equality
    $= \frac{d}{dt}\mathbb E\mathcal E \le 0$). The common term
    $-\frac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}$ is moved to the right (see module docstring).
    Rows with τ > 0: Monte Carlo (fine EM paths; per path `r2`, `ip` with $X(t-\tau)$, σ
    constant), Student-t (asymptotic), Holm over (row, t). Rows with τ = 0 (Cor 4.3): exact
    (`tau0_moments`). `nonpositive` needs no paths beyond $D$ (exact).
    """

    step: ClassVar[str] = "first_inequality"
    level = "proof-step"
    quick = profile(
        rows=(
            dict(kappa=10, noise=1.0, delta=1.0, tau=0.1),
            dict(kappa=10, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=1.0, tau=3.0),
            dict(kappa=1, noise=1.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=100.0, delta=1.0, tau=1.0),
            dict(kappa=10, noise=0.01, delta=1.0, tau=1.0),
            dict(kappa=10, noise=1.0, delta=10.0, tau=1.0),
            dict(problem="least-squares", kappa=10, noise=1.0, delta=1.0, tau=1.0),
        ),
        T=10.0,
        n_t=12,
        h_kappa=0.2,
        paths=1000,
        ball_paths=800,
        T_ball=10.0,
        **COMMON,
    )
    full = profile(
        **{
            **dict(_STATED_FULL_PROFILE),
            "rows": tuple(
                r for r in _STATED_FULL_PROFILE["rows"] if r.get("delay", "constant") == "constant"
            ),
            "paths": 10000,
            "n_t": 30,
        }
    )

    def _values(self, s: Setup, row: Row, t: Any) -> dict[str, Any]:
        v = s.values
        return dict(
            t=t,
            theta=s.tau,
            tau=s.tau,
            delta=row.delta,
            mu=v["mu"],
            L=v["L"],
            D=v["D"],
            H=v["H"],
            tr_sigma=v["tr_sigma"],
        )

    def _sides(self, values: Mapping[str, Any], scale: float) -> tuple[np.ndarray, np.ndarray]:
        """(lhs, rhs) of the step with the common term moved right (see class docstring)."""
        steps = proof_steps(is_corollary(self.statement))
        first, nonpos = steps[1], steps[2]  # first.left is the printed equality
        v = dict(values)
        K_ = (v["delta"] + 1) * (v["H"] + 2 * v["L"] ** 2 * v["D"] ** 2 * v["tau"])
        common = K_ / (2 * np.asarray(v["t"]) * v["mu"] ** 2)
        if self.step == "first_inequality":
            return first.left_value(**v) + common, scale * (first.right_value(**v) + common)
        if self.step == "nonpositive":
            return nonpos.left_value(**v) + common, scale * common
        if self.step == "decreasing":
            left = first.left_value(**v)
            return left + common, scale * common * np.ones_like(left)
        raise Thm42InputError(
            "step", self.step, "unknown proof step", "first_inequality, nonpositive, decreasing"
        )

    def rows(self, ctx: RunContext) -> list[EvidenceRow]:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        n_t, T = int(p["n_t"]), float(p["T"])
        out = []
        for j, row in enumerate(self.grid(ctx)):
            s = self.setup(ctx, j, row)
            if s.reason:
                out.append(self.na_row(row.point(), s))
                continue
            _constant_delay_only(row, s.tau)
            T_row = sdde_horizon(T, row, s.tau)
            if self.step == "nonpositive" or s.tau == 0:
                t = _t_targets(T_row, 4 * n_t)
                vals = self._values(s, row, t)
                if s.tau == 0:
                    r2, ip = tau0_moments(t, s.problem, s.x0, s.mu, row.delta, row.b)
                    s.extra.update(self._energy_extra(s, row, t))
                else:  # the step uses no path quantity: r2 = ip = 0 are placeholders
                    r2 = ip = np.zeros_like(t)
                lhs, rhs = self._sides({**vals, "r2": r2, "ip": ip}, scale)
                out.append(
                    EvidenceRow(row.point(), ExactCurve(lhs, rhs, TOLERANCE, x=t), s.hyps, s.extra)
                )
                continue
            out.append(self._mc_row(ctx, j, row, s, T_row, n_t, scale))
        return out

    def _mc_row(
        self, ctx: RunContext, j: int, row: Row, s: Setup, T_row: float, n_t: int, scale: float
    ) -> EvidenceRow:
        p = ctx.params
        every, idx = _record_grid(s.m0, T_row, n_t, divisor=round(s.tau * s.m0))
        x_star = np.asarray(s.problem.x_star)
        lag = round(s.tau * s.m0) // every  # the delay in recorded samples
        times = 1.0 + idx * every / s.m0
        vals_t = [self._values(s, row, float(t)) for t in times]
        corollary = is_corollary(self.statement)
        problem, x0 = s.problem, s.x0

        def reduce(sim: SDDEResult) -> np.ndarray:
            """(fine lhs - rhs, coarse lhs - rhs, energy) at the grid times, per path."""
            energy_step = proof_steps(corollary)[3]
            out = np.empty((3, len(idx), sim.trajectory.shape[1]))
            for n, i in enumerate(idx):
                for c, traj in enumerate((sim.fine_trajectory, sim.trajectory)):
                    X = traj[i]
                    Xd = traj[i - lag] if i >= lag else np.broadcast_to(x0, X.shape)
                    e = X - x_star
                    v = {**vals_t[n], "r2": np.sum(e * e, axis=1)}
                    v["ip"] = np.sum(problem.grad(Xd) * e, axis=1)
                    lhs, rhs = self._sides(v, scale)
                    out[c, n] = lhs - rhs
                    if c == 0:
                        out[2, n] = energy_step.left_value(**v)
            return out

        fine, coarse, energies = sdde_batched(
            reduce,
            problem,
            x0,
            paths=int(p["paths"]),
            seed=ctx.seed(f"paths-{j}"),
            record_every=every,
            T=T_row,
            m0=s.m0,
            mu=s.mu,
            delta=row.delta,
            tau=s.tau,
            b=row.b,
            map_fn=ctx.map,
        )
        extra = {
            **s.extra,
            "max_abs_em_bias_coarse_minus_fine": float(
                np.max(np.abs(coarse.mean(axis=1) - fine.mean(axis=1)))
            ),
            "max_E_energy": float(np.max(energies.mean(axis=1))),
            "max_pathwise_violation_fraction": float(np.max(np.mean(fine > 0, axis=1))),
        }
        return EvidenceRow(row.point(), Samples(list(fine), 0.0, x=times), s.hyps, extra)

    def _energy_extra(self, s: Setup, row: Row, t: np.ndarray) -> dict[str, Any]:
        r"""τ = 0: the implication's end point $\max_t\mathbb E\mathcal E(t)$ (claimed $\le 0$)
        and an independent check of the first equality: $\frac{d}{dt}\mathbb E\mathcal E$ by
        central differences of the exact $\mathbb E\mathcal E(t)$ vs $\mathbb E$[equality]."""
        steps = proof_steps(True)
        vals = self._values(s, row, t)

        def r2_at(tt: np.ndarray) -> np.ndarray:
            return tau0_moments(tt, s.problem, s.x0, s.mu, row.delta, row.b)[0]

        r2, ip = tau0_moments(t, s.problem, s.x0, s.mu, row.delta, row.b)
        E_energy = steps[3].left_value(**{**vals, "r2": r2})
        eq = steps[1].left_value(**{**vals, "r2": r2, "ip": ip})
        hs = 1e-6 * t
        e_plus, e_minus = (
            steps[3].left_value(**{**vals, "t": t + d, "r2": r2_at(t + d)}) for d in (hs, -hs)
        )
        fd = (e_plus - e_minus) / (2 * hs)
        return {
            "max_E_energy": float(np.max(E_energy)),
            "t_max_E_energy": float(t[int(np.argmax(E_energy))]),
            "dE_energy_fd_vs_equality_max_rel_diff": float(
                np.max(np.abs(fd - eq) / np.maximum(1.0, np.abs(eq)))
            ),
        }

    def extra_details(self, ctx: RunContext, rows: list[EvidenceRow]) -> dict[str, Any]:
        return {
            "compared": {
                "first_inequality": "E[equality] + c vs E[first-inequality bound] + c",
                "nonpositive": "first-inequality bound + c vs c",
                "decreasing": "E[equality] + c = dE[energy]/dt + c vs c",
            }[self.step]
            + ", c = (delta+1)(H+2L^2D^2tau)/(2t mu^2)"
        }

    def note(self, ctx: RunContext) -> str:
        return "the common term -(delta+1)(H+2L^2D^2tau)/(2t mu^2) moved to the right"


class EnergyFirstInequality(EnergyProofStep):
    id = "R7-proof-first-inequality"
    step = "first_inequality"
    method = "monte-carlo"
    claim = (
        "E[printed equality] <= (L^2D^2 theta/(mu^2 t) + L D^2/(t mu)) + delta E tr/(2 mu^2 t)"
        " - (delta+1)(H+2L^2D^2 tau)/(2 t mu^2) for t > 1 (first inequality, Thm 4.2)"
    )
    claim_latex = (
        r"\tfrac12\mathbb E\|X-x^*\|^2-\tfrac{t-1}{t\mu}\mathbb E\langle\nabla F(X(t-\theta)),"
        r"X-x^*\rangle+\tfrac{(t-1)\delta}{2\mu^2t^2}\mathbb E\operatorname{tr}\le"
        r"\tfrac{L^2D^2\theta}{\mu^2t}+\tfrac{LD^2}{t\mu}+\tfrac{\delta}{2\mu^2t}\mathbb E"
        r"\operatorname{tr}"
    )


class EnergyNonpositive(EnergyProofStep):
    id = "R7-proof-nonpositive"
    step = "nonpositive"
    method = "exact"
    claim = (
        "(L^2D^2 theta/(mu^2 t) + L D^2/(t mu)) + delta E tr/(2 mu^2 t) - (delta+1)(H+2L^2D^2 "
        "tau)/(2 t mu^2) <= 0 (second inequality, Thm 4.2)"
    )
    claim_latex = (
        r"\tfrac{L^2D^2\theta}{\mu^2t}+\tfrac{LD^2}{t\mu}+\tfrac{\delta}{2\mu^2t}\mathbb E"
        r"\operatorname{tr}-\tfrac{(\delta+1)(H+2L^2D^2\tau)}{2t\mu^2}\le0"
    )


class EnergyDecreasing(EnergyProofStep):
    id = "R7-proof-decreasing"
    step = "decreasing"
    method = "monte-carlo"
    claim = "dE[energy(t)]/dt = E[printed equality] <= 0 for t > 1 (Thm 4.2)"
    claim_latex = r"\frac{d}{dt}\mathbb E\mathcal E(t)\le 0,\ t>1"
