r"""R9 — the Section 5 experiment (Fig. 1): ASGD vs SDDE and SGD vs SDE sample paths.

Glossary: `eta` $\eta$ · `K` iterations · `xi` $\xi$ constant initial segment · `l` constant
delay · `tau` $\tau = l\delta$ · `delta` $\delta = \eta$ · `a` curvature $\nabla F(x) = ax$ ·
`S` $\Sigma/b$ · `s_inf` stationary standard deviation of $X$ · `D_k` moment distance.

**The experiment (paper §5).** $F(x) = \frac12(x+1)^2 + \frac12(x-1)^2$, $\eta = 0.005$,
$K = 2000$ ($T = \eta K = 10$), SDDE with $\xi \equiv 4$ on $[-\tau, 0]$, ASGD with constant delay
$l = 10$ from $x_0 = 4$, "we run the SGD during the first ten steps and ASGD iterations are used
from ten steps on". Claims: (a) "It is observed that the two paths [ASGD and SDDE] are close";
(b) "the SDE approximation and SGD iteration are well matched".

**What is checked (level 2, as applied: the iterates $x_k$ against $X(k\eta)$).** A
single pair of sample paths cannot decide "close", so the claim is made precise on the two
*laws*, which are known exactly here (everything is linear in one dimension):

- $x_k$: exact mean and variance of the minibatch recursion (`numerics.moments`; the
  minibatch noise $\pm a$ of this problem is state-independent, so its second moments are
  exact), with the warm-up delays ($l_k = 0$ for $k < 10$, then $l_k = 10$);
- $X(k\eta)$: the linear SDDE $dX = -aX(t-\tau)dt + \sqrt{\eta S}\,dB$, $X = \xi$ on
  $[-\tau, 0]$, mean and variance exactly through the fundamental solution $\Gamma$
  (`numerics.linear_sdde`); panel (b) the OU process (`theory.ou`);
- the Euler–Maruyama scheme with $\delta = \eta$ (what the paper plots) exactly as well
  (`numerics.moments`); its distance to $X$ is the discretisation bias, reported in `details`.

**Criterion (stated before any number was computed, never changed).** With
$D_k = \sqrt{(\mathbb Ex_k - \mathbb EX(k\eta))^2 + (\mathrm{sd}\,x_k - \mathrm{sd}\,X(k\eta))^2}$
(the part of the Wasserstein-2 distance between the laws carried by the first two moments — a
lower bound of $W_2$) and $s_\infty$ the stationary standard deviation of $X$ (Küchler–Mensch
for the SDDE, $\sqrt{\eta S/(2a)}$ for the SDE), the paths are "close" iff
$\max_{0\le k\le K} D_k \le c\,s_\infty$ with $c = 1$ (`closeness`): the laws of the two plotted
paths never differ by more than the fluctuation of a single path. Exact verdict.

**Conventions (SPEC §1).** Average reading of $F$ by default ($\nabla F = x$, noise $\pm1$,
$b = 1$; `full` adds the printed sum reading, $\nabla F = 2x$, noise $\pm2$). $\delta = \eta$,
$t = k\eta$. Warm-up: ASGD runs SGD for the first $l$ steps (paper); the SDDE uses the constant
segment $\xi = 4$ (paper) — the two differ on $[0, \tau]$, which is part of what is compared.
Sample paths: independent randomness for the two paths of a panel (the paper does not say how
they were coupled); minibatch with replacement.

**Falsified claim.** `rhs_scale` multiplies $c\,s_\infty$; since $D_k > 0$ exactly for
some $k$, a small enough scale must FAIL.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from numerics.asgd import simulate_asgd
from numerics.delays import ConstantDelay, NoDelay, SequenceDelay
from numerics.linear_sdde import (
    delayed_gd_stability_threshold,
    kuchler_mensch_variance,
    linear_sdde_moments,
)
from numerics.moments import asgd_moments_for, sdde_em_moments_for
from numerics.problems import TwoPoint
from numerics.sdde import simulate_sdde
from theory.ou import OUProcess
from verify.checks.base import Check, profile, raise_if_diverged
from verify.context import RunContext
from verify.runner import run_alone
from verify.verdict import CheckResult, Hypothesis

__all__ = ["Fig1aASGDvsSDDE", "Fig1bSGDvsSDE", "section5_laws"]

_PARAMS = dict(eta=0.005, K=2000, xi=4.0, l=10, warmup=10, b=1, closeness=1.0, rhs_scale=1.0)


def _warmup_delay(l: int, warmup: int, K: int) -> SequenceDelay:
    """Section 5: $l_k = 0$ for $k <$ `warmup` (plain SGD), then the constant delay $l$."""
    ks = np.arange(K)
    return SequenceDelay(np.where(ks < warmup, 0, l), k0=0)


def section5_laws(panel: str, reading: str, p: dict[str, Any]) -> dict[str, Any]:
    r"""Exact means and standard deviations of $x_k$, of the EM scheme and of $X(k\eta)$.

    Returns a dict with `t`, `mean_x`, `sd_x`, `mean_em`, `sd_em`, `mean_X`, `sd_X`, `s_inf`,
    `mean_sgd` (the SGD mean, for the delay's effect), `a`, `S`.
    """
    prob = TwoPoint(reading)
    eta, K, b = float(p["eta"]), int(p["K"]), int(p["b"])
    l, xi = int(p["l"]), float(p["xi"])
    a = float(prob.L)
    S = float(prob.Sigma(prob.x_star)[0, 0]) / b
    x0 = np.array([xi])
    t = np.arange(K + 1) * eta
    sgd = asgd_moments_for(prob, eta=eta, K=K, b=b, x0=x0)
    if panel == "a":
        disc = asgd_moments_for(
            prob, eta=eta, K=K, b=b, x0=x0, delay=_warmup_delay(l, int(p["warmup"]), K)
        )
        em = sdde_em_moments_for(prob, eta=eta, K=K, b=b, x0=x0, delay=ConstantDelay(l))
        X = linear_sdde_moments(a, math.sqrt(eta * S), l * eta, t, xi=xi)
        mean_X, var_X = X.mean[:, 0], X.cov[:, 0, 0]
        s_inf = math.sqrt(kuchler_mensch_variance(a, math.sqrt(eta * S), l * eta))
    else:
        disc = sgd
        em = sdde_em_moments_for(prob, eta=eta, K=K, b=b, x0=x0, delay=NoDelay())
        ou = OUProcess(np.array([[a]]), np.zeros(1), eta, np.array([[S]]), x0)
        mean_X, var_X = ou.mean(t)[:, 0], ou.variance(t)
        s_inf = math.sqrt(eta * S / (2 * a))
    return {
        "t": t,
        "mean_x": disc.mean[:, 0],
        "sd_x": np.sqrt(np.maximum(disc.cov[:, 0, 0], 0.0)),
        "mean_em": em.mean[:, 0],
        "sd_em": np.sqrt(np.maximum(em.cov[:, 0, 0], 0.0)),
        "mean_X": mean_X,
        "sd_X": np.sqrt(np.maximum(var_X, 0.0)),
        "s_inf": s_inf,
        "mean_sgd": sgd.mean[:, 0],
        "a": a,
        "S": S,
    }


class _Fig1Panel(Check):
    """One panel of Fig. 1: exact laws decide, sample paths illustrate."""

    panel = "a"
    result = "Section 5 experiment (Fig. 1)"
    level = "as-applied"
    method = "exact"
    conventions = (
        "average reading F = ((x+1)^2/2 + (x-1)^2/2)/2 by default (SPEC §1); full adds the sum",
        "delta = eta, t = k eta; minibatch b = 1 with replacement",
        "ASGD: SGD for the first 10 steps, then constant delay 10; SDDE: xi = 4 on [-tau, 0]",
        "sample paths of a panel use independent randomness",
    )
    quick = profile(readings=("average",), **_PARAMS)
    full = profile(readings=("average", "sum"), **_PARAMS)

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        p = ctx.params
        out = []
        for reading in p["readings"]:
            a = float(TwoPoint(reading).L)
            eta = float(p["eta"])
            l = int(p["l"]) if self.panel == "a" else 0
            thr = delayed_gd_stability_threshold(l)
            out.append(
                Hypothesis(
                    f"{reading}: eta a < 2 sin(pi/(2(2l+1))) (delayed GD stable, l = {l})",
                    eta * a < thr,
                    f"eta a = {eta * a:.4g}, threshold {thr:.4g}",
                )
            )
            if self.panel == "a":
                out.append(
                    Hypothesis(
                        f"{reading}: a tau < pi/2 (stationary SDDE law, Kuchler-Mensch)",
                        a * l * eta < math.pi / 2,
                        f"a tau = {a * l * eta:.4g}",
                    )
                )
        return out

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        c = float(p["closeness"]) * float(p.get("rhs_scale", 1.0))
        rows, lhs, rhs, plots = [], [], [], []
        for reading in p["readings"]:
            law = section5_laws(self.panel, reading, p)
            dm = law["mean_x"] - law["mean_X"]
            ds = law["sd_x"] - law["sd_X"]
            D = np.hypot(dm, ds)
            k = int(np.argmax(D))
            delay_effect = law["mean_x"] - law["mean_sgd"] if self.panel == "a" else None
            row = {
                "reading": reading,
                "max_D": float(D[k]),
                "t_at_max_D": float(law["t"][k]),
                "s_inf": law["s_inf"],
                "threshold": c * law["s_inf"],
                "max_D_over_s_inf": float(D[k] / law["s_inf"]),
                "max_abs_mean_gap": float(np.max(np.abs(dm))),
                "max_abs_sd_gap": float(np.max(np.abs(ds))),
                "final_mean_x": float(law["mean_x"][-1]),
                "final_mean_X": float(law["mean_X"][-1]),
                "final_sd_x": float(law["sd_x"][-1]),
                "final_sd_X": float(law["sd_X"][-1]),
                "final_sd_em": float(law["sd_em"][-1]),
                "em_vs_X_max_mean_gap": float(np.max(np.abs(law["mean_em"] - law["mean_X"]))),
                "em_vs_X_max_sd_gap": float(np.max(np.abs(law["sd_em"] - law["sd_X"]))),
                "x_vs_em_max_mean_gap": float(np.max(np.abs(law["mean_x"] - law["mean_em"]))),
                "holds": bool(D[k] <= c * law["s_inf"]),
            }
            if delay_effect is not None:
                j = int(np.argmax(np.abs(delay_effect)))
                row.update(
                    delay_effect_max_abs_mean=float(abs(delay_effect[j])),
                    delay_effect_t=float(law["t"][j]),
                    delay_effect_final=float(delay_effect[-1]),
                )
            rows.append(row)
            lhs.append(row["max_D"])
            rhs.append(row["threshold"])
            paths = self._sample_paths(ctx, reading, p)
            if ctx.out_dir is not None:
                plots.append(self._plot(ctx, reading, law, D, c, paths))
        worst = max(rows, key=lambda r: r["max_D_over_s_inf"])
        return self.from_exact(
            ctx,
            np.asarray(lhs),
            np.asarray(rhs),
            tol=None,
            relation="le",
            plots=plots,
            message=(
                f"max_k D_k = {worst['max_D']:.3g} at t = {worst['t_at_max_D']:.3g} vs "
                f"{float(p['closeness']):g} x s_inf = {worst['s_inf']:.3g} "
                f"(ratio {worst['max_D_over_s_inf']:.3g}, {worst['reading']} reading); "
                f"final sd x_K {worst['final_sd_x']:.4g} vs X {worst['final_sd_X']:.4g}; "
                f"EM-vs-X bias (mean) {worst['em_vs_X_max_mean_gap']:.2e}"
            ),
            details={
                "grid": rows,
                "criterion": (
                    "max_k sqrt((E x_k - E X(k eta))^2 + (sd x_k - sd X(k eta))^2) <= "
                    "closeness * s_inf (stationary sd of X); closeness = 1, fixed a priori"
                ),
                "sample_paths": "independent; seeds ctx.seed('<panel>/<reading>/path-x|X')",
            },
        )

    def _sample_paths(self, ctx: RunContext, reading: str, p: dict[str, Any]) -> dict:
        prob = TwoPoint(reading)
        eta, K, b, l = float(p["eta"]), int(p["K"]), int(p["b"]), int(p["l"])
        x0 = np.array([float(p["xi"])])
        if self.panel == "a":
            d_x, d_X = _warmup_delay(l, int(p["warmup"]), K), ConstantDelay(l)
        else:
            d_x, d_X = NoDelay(), NoDelay()
        sx = simulate_asgd(
            prob,
            eta=eta,
            K=K,
            paths=1,
            seed=ctx.seed(f"{self.panel}/{reading}/path-x"),
            x0=x0,
            delay=d_x,
            b=b,
            noise="minibatch",
            record_every=1,
        )
        sX = simulate_sdde(
            prob,
            eta=eta,
            K=K,
            paths=1,
            seed=ctx.seed(f"{self.panel}/{reading}/path-X"),
            x0=x0,
            delay=d_X,
            b=b,
            record_every=1,
        )
        raise_if_diverged(sx, f"{reading} discrete path")
        raise_if_diverged(sX, f"{reading} Euler-Maruyama path")
        return {"t": sx.times, "x": sx.trajectory[:, 0, 0], "X": sX.trajectory[:, 0, 0]}

    def _plot(
        self, ctx: RunContext, reading: str, law: dict, D: np.ndarray, c: float, paths: dict
    ) -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = ("ASGD", "SDDE") if self.panel == "a" else ("SGD", "SDE")
        t = law["t"]
        fig, (ax, ax2) = plt.subplots(
            2, 1, figsize=(7.0, 6.0), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        ax.plot(paths["t"], paths["x"], color="tab:blue", lw=0.6, label=f"{names[0]} path")
        ax.plot(paths["t"], paths["X"], color="tab:orange", lw=0.6, label=f"{names[1]} EM path")
        for mean, sd, col, lab in (
            (law["mean_x"], law["sd_x"], "tab:blue", f"{names[0]} exact mean ± sd"),
            (law["mean_X"], law["sd_X"], "tab:orange", f"{names[1]} X exact mean ± sd"),
        ):
            ax.fill_between(t, mean - sd, mean + sd, color=col, alpha=0.25, lw=0)
            ax.plot(t, mean, color=col, lw=1.2, ls="--", label=lab)
        ax.plot(t, law["mean_em"], color="black", lw=0.8, ls=":", label="EM scheme exact mean")
        ax.set_ylabel("x")
        ax.set_title(
            f"{self.id}: Fig. 1({self.panel}) {names[0]} vs {names[1]}, {reading} reading",
            fontsize=10,
        )
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
        ax2.semilogy(t[1:], np.maximum(D[1:], 1e-300), color="tab:green", label="D_k")
        ax2.axhline(c * law["s_inf"], color="tab:red", ls="--", label="criterion c s_inf")
        ax2.set_xlabel("t = k eta")
        ax2.set_ylabel("moment distance")
        ax2.legend(fontsize=7)
        ax2.grid(True, alpha=0.3)
        fig.tight_layout()
        path = ctx.plot_path(f"fig1{self.panel}_{reading}")
        fig.savefig(path, format="png")
        plt.close(fig)
        return str(path)


class Fig1aASGDvsSDDE(_Fig1Panel):
    id = "R9-fig1a"
    panel = "a"
    claim = (
        "Fig. 1(a): ASGD (l = 10 after 10 SGD steps) and the SDDE (xi = 4) paths are close: "
        "max_k D_k <= s_inf, D_k = distance of the first two moments of x_k and X(k eta)"
    )
    claim_latex = (
        r"\max_k\sqrt{(\mathbb Ex_k-\mathbb EX(k\eta))^2"
        r"+(\mathrm{sd}\,x_k-\mathrm{sd}\,X(k\eta))^2}\le s_\infty"
    )


class Fig1bSGDvsSDE(_Fig1Panel):
    id = "R9-fig1b"
    panel = "b"
    claim = (
        "Fig. 1(b): SGD and the SDE paths are well matched: max_k D_k <= s_inf, "
        "D_k = distance of the first two moments of x_k and X(k eta)"
    )
    claim_latex = Fig1aASGDvsSDDE.claim_latex


CHECKS = [Fig1aASGDvsSDDE(), Fig1bSGDvsSDE()]

if __name__ == "__main__":
    run_alone(CHECKS)
