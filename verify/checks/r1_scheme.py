r"""R1 — Eq. (4) → Eq. (5) → Eq. (6): the SDDE's Euler–Maruyama step is the ASGD surrogate.

Glossary: `eta` $\eta$ · `eta0` $\eta_0$ · `u` $u_k$ · `U` $U(t)$ · `delta` $\delta$ ·
`l_k` delay at step $k$ · `theta` $\theta(t) = l_k\delta$ · `sigma` $\sigma$,
$\sigma\sigma^\top = \Sigma/b$ · `z` $z_k \sim N(0, I)$ · `mu` $\mu$.

**Claim (paper §3.1).** Eq. (5),
$x_{k+1} = x_k - \eta u_k\nabla F(x_{k-l_k}) + \eta u_k\sigma(x_{k-l_k})z_k$, "can be viewed as an
Euler–Maruyama approximation" of Eq. (6),
$dX = -\frac\eta\delta U(t)\nabla F(X(t-\theta(t)))dt
+ \frac\eta\delta\sqrt\delta\,U(t)\sigma(X(t-\theta(t)))dB(t)$, $\theta(t) = l_k\delta$, with the
time-step choices (a) $u_k = 1$, $\delta = \eta_0$; (b) $u_k = 1/k$, $U(t) = \delta/t$, any
$\delta$; (c) $u_k = 1/\sqrt k$, $U(t) = \sqrt{\delta/t}$, $\delta = \eta_0$; and (Thm 4.2)
$\eta = 1$, $u_k = 1/(\mu k)$, $U(t) = \delta/(\mu t)$.

**Checks.**

- `R1-as-stated` (level 1, symbolic): for every choice, with `theory.schemes` building blocks,
  the identities $U(k\delta) = u_k$, $t_k - \theta(t_k) = (k - l_k)\delta$ and, componentwise
  ($d = 2$, generic symbols for $\nabla F$, $\sigma$, $z_k$), one Euler–Maruyama step of Eq. (6)
  with $\Delta B = \sqrt\delta z_k$ equals Eq. (5). Each identity is simplified symbolically
  and evaluated exactly at random rational points (SymPy `verify_numerically` as well). One
  grid row per choice. Verdict: exact (symbolic).
- `R1-as-applied` (level 2, numerical): the coarse Euler–Maruyama scheme of `numerics.sdde`
  and the surrogate Eq. (5) of `numerics.asgd` (Gaussian noise), run with the same seed, chunk
  size and delays, are both compared with an explicit Eq. (5) recursion written here and
  driven by the same $z_k$ (the per-chunk normal stream of `numerics.rng`, drawn as one block
  $(K, P, d)$); one row per (schedule, delay model, noise convention). Delays: none, constant,
  cyclic and one pre-drawn i.i.d. uniform sequence (shared by all paths, so both simulators
  see the same $l_k$). Verdict: exact, tolerance tied to float64 rounding:
  $8\,\varepsilon\,K\prod_k(1+\eta u_kL)\max(1,\max|x_K|)$ (a per-step rounding of a few
  ulps propagated through the recursion's worst-case amplification; for the state-dependent
  $\sigma(x)$ rows the factor ignores the $x$-dependence of $\sigma$, so there it is a yardstick,
  not a proof).

**Conventions (SPEC §1).** Decreasing schedules start at $k_0 = 1$; footnote-2 cap
$\min(l_k, k)$ (no initial segment); $\sigma$ at $x^*$ (additive) and $\sigma(x)$ at the
delayed state (least squares) both checked at level 2.

**Falsified claim.** `rhs_scale` multiplies the right-hand side Eq. (5) (level 1: the
symbolic step and $u_k$; level 2: the reference recursion's output), so any value $\ne 1$
must FAIL.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import sympy as sp

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, CyclicDelay, DelayModel, NoDelay, SequenceDelay
from numerics.problems import sqrt_psd
from numerics.rng import chunks
from numerics.schedules import Constant, InverseK, InverseMuK, InverseSqrtK, Schedule
from numerics.sdde import simulate_sdde
from numerics.synthetic import scheme_problems
from theory import schemes
from verify.checks.base import Check, profile, raise_if_diverged
from verify.context import RunContext
from verify.runner import run_alone
from verify.verdict import CheckResult, Hypothesis

__all__ = ["R1AsApplied", "R1AsStated", "SequenceDelay"]

EPS = float(np.finfo(float).eps)


# ---------------------------------------------------------------------------------- level 1
class R1AsStated(Check):
    """Level 1: one EM step of Eq. (6) equals Eq. (5) and U(k delta) = u_k, per choice."""

    id = "R1-as-stated"
    result = "Eq. (4)-(6), Section 3.1"
    level = "as-stated"
    method = "symbolic"
    claim = (
        "For each time-step choice (a), (b), (c) and Thm 4.2: U(k delta) = u_k and one "
        "Euler-Maruyama step of Eq. (6) (dB = sqrt(delta) z_k, theta = l_k delta) equals Eq. (5)"
    )
    claim_latex = (
        r"X_k - \tfrac{\eta}{\delta}U(k\delta)\nabla F\,\delta + \tfrac{\eta}{\delta}\sqrt\delta"
        r"\,U(k\delta)\sigma\sqrt\delta z_k = x_k - \eta u_k\nabla F(x_{k-l_k})"
        r" + \eta u_k\sigma(x_{k-l_k})z_k"
    )
    conventions = (
        "Delta B = sqrt(delta) z_k; the diffusion of Eq. (6) exactly as printed, "
        "(eta/delta) sqrt(delta) U sigma",
        "Thm 4.2 schedule checked for mu k >= 1 (u_k in [0, 1])",
    )
    quick = profile(d=2, n_points=4, rhs_scale=1.0)
    full = profile(d=3, n_points=12, rhs_scale=1.0)

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        d = ctx.params["d"]
        return [Hypothesis("dimension d >= 1", isinstance(d, int) and d >= 1, f"d = {d}")]

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        d, n_points = int(p["d"]), int(p["n_points"])
        scale = sp.nsimplify(p.get("rhs_scale", 1.0))
        k, t, delta, mu, l_k = (schemes.symbols_r1()[s] for s in ("k", "t", "delta", "mu", "l_k"))
        rows, lhs, rhs = [], [], []
        for i, sch in enumerate(schemes.SCHEDULES):
            dl = sp.sympify(sch.delta)
            t_k = k * dl
            assume = None
            if sch.u.has(mu):

                def assume(pt: dict) -> bool:
                    return pt.get(mu, 1) * pt.get(k, 1) >= 1

            x_k = sp.Matrix(sp.symbols(f"x_k1:{d + 1}", real=True))
            grad = sp.Matrix(sp.symbols(f"g1:{d + 1}", real=True))
            z = sp.Matrix(sp.symbols(f"z1:{d + 1}", real=True))
            sigma = sp.Matrix(d, d, lambda a, c: sp.Symbol(f"sigma_{a + 1}{c + 1}", real=True))
            checks = [
                schemes.check_identity(
                    f"{sch.name}: U(k delta) = u_k",
                    sp.sympify(sch.U).subs(delta, dl).subs(t, t_k),
                    scale * sch.u,
                    seed=i,
                    n_points=n_points,
                    assume=assume,
                ),
                schemes.check_identity(
                    f"{sch.name}: t_k - theta(t_k) = (k - l_k) delta",
                    t_k - l_k * dl,
                    (k - l_k) * dl,
                    seed=i,
                    n_points=n_points,
                ),
            ]
            em = schemes.em_step_eq6(x_k, grad, sigma, z, sch.eta, sch.U, dl, t_k)
            eq5 = scale * schemes.step_eq5(x_k, grad, sigma, z, sch.eta, sch.u)
            for c in range(d):
                checks.append(
                    schemes.check_identity(
                        f"{sch.name}: EM step of Eq. (6) = Eq. (5), component {c + 1}",
                        em[c],
                        eq5[c],
                        seed=100 * i + c,
                        n_points=n_points,
                        assume=assume,
                    )
                )
            failed = [c.name for c in checks if not c.holds]
            rows.append(
                {
                    "choice": sch.name,
                    "statement": sch.statement,
                    "eta": str(sch.eta),
                    "u_k": str(sch.u),
                    "U(t)": str(sch.U),
                    "delta": str(sch.delta),
                    "identities": len(checks),
                    "failed": failed,
                    "differences": [str(c.difference) for c in checks if not c.holds],
                    "random_points": n_points,
                    "holds": not failed,
                }
            )
            lhs.append(len(failed))
            rhs.append(0)
        n_bad = int(sum(lhs))
        msg = (
            f"{len(rows)} time-step choices, {sum(r['identities'] for r in rows)} identities; "
            f"{n_bad} fail"
            + (
                " (" + "; ".join(f for r in rows for f in r["failed"]) + ")"
                if n_bad
                else " (simplified to 0 and exactly 0 at every random rational point)"
            )
        )
        res = self.from_exact(
            ctx,
            np.asarray(lhs, dtype=float),
            np.asarray(rhs, dtype=float),
            tol=0.0,
            relation="eq",
            method="symbolic",
            message=msg,
            details={"grid": rows, "lhs_meaning": "number of failing identities per choice"},
        )
        res.estimate, res.rhs = float(n_bad), 0.0
        res.bound_kind = "symbolic: simplify(lhs - rhs) == 0 and exact zero at random rationals"
        return res


# ---------------------------------------------------------------------------------- level 2
def _schedule(name: str, mu: float) -> tuple[Schedule, Any]:
    """The numerics schedule and the paper's u_k written out independently."""
    if name == "(a)":
        return Constant(), lambda k: np.ones_like(k, dtype=float)
    if name == "(b)":
        return InverseK(), lambda k: 1.0 / k
    if name == "(c)":
        return InverseSqrtK(), lambda k: 1.0 / np.sqrt(k)
    if name == "Thm 4.2":
        return InverseMuK(mu), lambda k: 1.0 / (mu * k)
    raise ValueError(name)


def _reference_eq5(
    grad: Any,
    noise: Any,
    *,
    eta: float,
    u: np.ndarray,
    lks: np.ndarray,
    x0: np.ndarray,
    seed: Any,
    paths: int,
    chunk_size: int,
    d: int,
) -> np.ndarray:
    r"""Eq. (5) written out: $x_{k+1} = x_k - \eta u_k\nabla F(x_{k-l_k})
    + \eta u_k\,\sigma(x_{k-l_k})z_k$ with the capped delay $\min(l_k, k-k_0)$ and $z_k$ the
    chunk's normal stream drawn as one block $(K, P, d)$. Returns the final iterates (P, d)."""
    K = u.size
    out = []
    for c in chunks(seed, paths, chunk_size):
        Z = c.generator().standard_normal((K, c.size, d))
        hist = [np.repeat(x0[None, :], c.size, axis=0)]
        for j in range(K):
            lk = min(int(lks[j]), j)
            xd = hist[j - lk]
            h = eta * u[j]
            hist.append(hist[j] - h * grad(xd) + h * noise(xd, Z[j]))
        out.append(hist[-1])
    return np.concatenate(out, axis=0)


def _as_applied_row(
    task: tuple[str, str, str, Any, str, np.random.SeedSequence],
    *,
    K: int,
    paths: int,
    l: int,
    eta0: float,
    delta_b: float,
    delta_thm42: float,
    iid: np.ndarray,
    scale: float,
    chunk_size: int,
) -> dict[str, Any]:
    """One row of `R1AsApplied` (one executor task): simulate Eq. (5) and the EM scheme of
    Eq. (6) for (schedule, delay model, noise convention) = `task[:3]` on problem `task[3]`
    with seed `task[5]`, compare both with `_reference_eq5`, and return the report row; its
    `_lhs` entry is max gap / rounding tolerance.

    Raises:
        Diverged: a simulated path went non-finite (the message names the row).
    """
    sname, dname, cname, prob, sigma_at, seed = task
    mu = float(prob.mu)
    schedule, u_of = _schedule(sname, mu)
    eta = 1.0 if sname == "Thm 4.2" else eta0
    delta = {"(b)": delta_b, "Thm 4.2": delta_thm42}.get(sname, eta)
    k0 = schedule.k0
    delay: DelayModel = {
        "none": NoDelay(),
        "constant": ConstantDelay(l),
        "cyclic": CyclicDelay(l),
        "iid-sequence": SequenceDelay(iid[:K], k0=k0),
    }[dname]
    lks = delay.draw_block(k0, K, 1, None)[:, 0]
    u = u_of(np.arange(k0, k0 + K, dtype=float))
    x0 = np.array([2.0, -1.0])
    common = dict(
        eta=eta,
        K=K,
        paths=paths,
        seed=seed,
        x0=x0,
        delay=delay,
        schedule=schedule,
        b=1,
        sigma_at=sigma_at,
        chunk_size=chunk_size,
    )
    asgd = simulate_asgd(prob, noise="gaussian", delta=delta, **common)
    sdde = simulate_sdde(prob, delta=delta, substeps=1, **common)
    where = f"{sname}, {dname}, {cname}, eta = {eta}"
    raise_if_diverged(asgd, f"Eq. (5) surrogate: {where}")
    raise_if_diverged(sdde, f"EM scheme of Eq. (6): {where}")
    if sigma_at == "x_star":
        sig = sqrt_psd(prob.Sigma(prob.x_star))

        def noise(xd: np.ndarray, z: np.ndarray, _s: np.ndarray = sig) -> Any:
            return z @ _s.T
    else:

        def noise(xd: np.ndarray, z: np.ndarray, _p: Any = prob) -> Any:
            roots = sqrt_psd(_p.Sigma_batch(xd))
            return np.einsum("pij,pj->pi", roots, z)

    ref = scale * _reference_eq5(
        prob.grad,
        noise,
        eta=eta,
        u=u,
        lks=lks,
        x0=x0,
        seed=seed,
        paths=paths,
        chunk_size=chunk_size,
        d=2,
    )
    size = max(1.0, float(np.nanmax(np.abs(ref))))
    growth = float(np.prod(1.0 + eta * u * float(prob.L)))
    tol = 8.0 * EPS * K * growth * size
    gaps = {
        "asgd_vs_ref": float(np.max(np.abs(asgd.x_final - ref))),
        "sdde_vs_ref": float(np.max(np.abs(sdde.x_final - ref))),
        "asgd_vs_sdde": float(np.max(np.abs(asgd.x_final - sdde.x_final))),
    }
    worst = max(gaps.values()) if all(np.isfinite(list(gaps.values()))) else np.inf
    return {
        "schedule": sname,
        "delay": dname,
        "noise": cname,
        "eta": eta,
        "delta": delta,
        "K": K,
        "paths": paths,
        **gaps,
        "max_abs_x_K": size,
        "tolerance": tol,
        "holds": bool(worst <= tol),
        "_lhs": worst / tol,
    }


class R1AsApplied(Check):
    """Level 2: numerics' EM scheme of Eq. (6) and surrogate Eq. (5) agree to rounding."""

    id = "R1-as-applied"
    result = "Eq. (4)-(6), Section 3.1"
    level = "as-applied"
    method = "exact"
    claim = (
        "The coarse Euler-Maruyama scheme of Eq. (6) and the Gaussian surrogate Eq. (5), "
        "driven by the same z_k and delays, produce the same iterates (to rounding), for each "
        "time-step choice"
    )
    claim_latex = r"\tilde x_k^{\mathrm{EM}(6)} = x_k^{(5)}\ \text{for all } k \le K"
    conventions = (
        "footnote-2 cap min(l_k, k) (no initial segment)",
        "decreasing schedules start at k0 = 1",
        "sigma at x* (additive, Quadratic) and sigma(x) at the delayed state (LeastSquares)",
    )
    quick = profile(
        K=150,
        paths=64,
        l=3,
        eta=0.05,
        delta_b=0.3,
        delta_thm42=0.5,
        schedules=("(a)", "(b)", "(c)", "Thm 4.2"),
        delays=("none", "constant", "cyclic", "iid-sequence"),
        rhs_scale=1.0,
    )
    full = profile(
        K=500,
        paths=128,
        l=10,
        eta=0.05,
        delta_b=0.3,
        delta_thm42=0.5,
        schedules=("(a)", "(b)", "(c)", "Thm 4.2"),
        delays=("none", "constant", "cyclic", "iid-sequence"),
        rhs_scale=1.0,
    )

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        p = ctx.params
        return [
            Hypothesis("eta > 0", p["eta"] > 0, f"eta = {p['eta']}"),
            Hypothesis("K >= 1, paths >= 1", p["K"] >= 1 and p["paths"] >= 1, ""),
        ]

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        K, paths, l, eta0 = int(p["K"]), int(p["paths"]), int(p["l"]), float(p["eta"])
        scale = float(p.get("rhs_scale", 1.0))
        chunk_size = 32
        # Two problems: additive noise (sigma at x*) and state-dependent sigma(x).
        rng = np.random.default_rng(ctx.seed("data"))
        quad, ls = scheme_problems(rng)
        cases = [
            ("quadratic, sigma at x*", quad, "x_star"),
            ("least squares, sigma(x)", ls, "state"),
        ]
        iid = rng.integers(0, l + 1, size=K + 1)
        tasks = [
            (sname, dname, cname, prob, sigma_at, ctx.seed(f"{sname}/{dname}/{cname}"))
            for sname in p["schedules"]
            for dname in p["delays"]
            for cname, prob, sigma_at in cases
        ]
        row_fn = functools.partial(
            _as_applied_row,
            K=K,
            paths=paths,
            l=l,
            eta0=eta0,
            delta_b=p["delta_b"],
            delta_thm42=p["delta_thm42"],
            iid=iid,
            scale=scale,
            chunk_size=chunk_size,
        )
        rows = ctx.map(row_fn, tasks)  # one task per row: the workers run rows side by side
        lhs = [r.pop("_lhs") for r in rows]
        rhs = [1.0] * len(rows)
        n_bad = sum(not r["holds"] for r in rows)
        msg = (
            f"{len(rows)} (schedule, delay, noise) rows; {n_bad} exceed their rounding tolerance; "
            f"largest gap/tolerance = {max(lhs):.3g}"
        )
        plots = []
        if ctx.out_dir is not None:
            pts = [
                {
                    "row": i + 1,
                    "estimate": max(r["asgd_vs_ref"], r["sdde_vs_ref"], r["asgd_vs_sdde"], 1e-300),
                    "lcb": max(r["asgd_vs_ref"], r["sdde_vs_ref"], r["asgd_vs_sdde"], 1e-300),
                    "ucb": max(r["asgd_vs_ref"], r["sdde_vs_ref"], r["asgd_vs_sdde"], 1e-300),
                    "rhs": r["tolerance"],
                }
                for i, r in enumerate(rows)
            ]
            plots.append(self.plot_grid(ctx, "gaps", pts, x_key="row", title_suffix="max gap"))
        res = self.from_exact(
            ctx,
            np.asarray(lhs),
            np.asarray(rhs),
            tol=0.0,
            relation="le",
            plots=plots,
            message=msg,
            details={
                "grid": rows,
                "lhs_meaning": "max |difference| / rounding tolerance per row (<= 1 holds)",
                "z_k": "per-chunk numpy PCG64 stream (numerics.rng), one (K, P, d) block",
            },
        )
        res.estimate, res.rhs = float(max(lhs)), 1.0
        res.bound_kind = "exact; per-row rounding tolerance 8 eps K prod(1 + eta u_k L) max|x_K|"
        return res


CHECKS = [R1AsStated(), R1AsApplied()]

if __name__ == "__main__":
    run_alone(CHECKS)
