r"""R5 — the Ornstein–Uhlenbeck moments of the SGD SDE for linear regression (paper §4).

Glossary: `A_tilde` $\tilde A = A^\top A/n$ · `x_star` $x^*$ · `eta` $\eta$ · `G` with
$GG^\top = \Sigma(x^*)/b$ · `Sigma` $\Sigma(x)$ · `b` minibatch size · `L`, `mu` extreme
eigenvalues of $\tilde A$ · `t` time, $t = k\eta$ for the iterates.

**Claim (paper §4).** For $F(x) = \frac1{2n}\|Ax - B\|^2$ the SDE of SGD with constant $\eta$ is
solved by the OU process
$X(t) = x^* + e^{-\tilde At}(X(0)-x^*) + \int_0^te^{\tilde A(s-t)}\sqrt\eta G\,dB(s)$, and

$$\mathbb E[X(t)-x^*\mid X(0)=x_0] = e^{-At}(x_0-x^*),\qquad
\mathbb E\|X(t)-\mathbb EX(t)\|^2 \le \int_0^t\|e^{\tilde A(s-t)}\sqrt\eta G\|^2ds;$$

"for the linear regression problem which is solved by SGD with constant learning rate, we can
attain full information of the optimization path, including the first and second-order
moments" (§1).

**Checks.**

- `R5-as-stated` (level 1, exact): the closed-form mean and covariance (`theory.ou`, eigenbasis)
  against the exact law of the SDE, which is Gaussian with moments solving the moment ODEs
  given by Itô's formula, $m' = -\tilde A(m-x^*)$, $C' = -\tilde AC - C\tilde A + \eta GG^\top$,
  $C(0) = 0$, integrated independently (`scipy.integrate.solve_ivp`, DOP853, rtol $10^{-12}$).
  Second, independent cross-check (reported, not part of the verdict): exact moments of the
  Euler–Maruyama scheme at $\delta = \eta$ and $\eta/2$ and their Richardson extrapolation
  (observed order of the bias, which should be 1).
  Tolerance per point: twice the reference's estimated error (difference between solves at
  rtol $10^{-13}$ and $10^{-12}$) plus $10^{-12}$ (rounding), relative to $\|x_0-x^*\|$ and
  $\|\Sigma_\infty\|_F$. Details also
  give the Euler–Maruyama bias at $\delta = \eta$ (exact moments of the scheme,
  `numerics.moments`), which is *not* noise and is not part of this verdict.
- `R5-bound-fro` and `R5-bound-spectral` (level 1, exact): the printed inequality with the
  two readings of the unnamed matrix norm. Left side $\operatorname{tr}C(t)$ from the moment
  ODE; right side `OUProcess.printed_variance_bound` (Frobenius: closed form; spectral:
  adaptive quadrature, rel. tol $10^{-12}$). With the Frobenius norm it is an equality; with
  the spectral norm the right side is smaller than the left as soon as the noise excites more
  than one eigendirection of $\tilde A$ — the grid contains $d = 1$ (equality) and $d = 3$.
- `R5-as-applied` (level 2, exact): the exact moments of the SGD iterates with exact minibatch
  noise (`numerics.moments.least_squares_asgd_moments`, $\delta = \eta$, $t = k\eta$) against
  the OU. The paper states no error, so the criterion is made explicit here, **fixed before
  any number was seen**: *the OU predicts $\mathbb E\|x_k-x^*\|^2$ as accurately as it predicts
  its own Euler–Maruyama discretisation*, i.e.
  $\sup_{1\le k\le K}|\mathrm{MSE}_{\mathrm{SGD}}(k)-\mathrm{MSE}_{\mathrm{OU}}(k\eta)|/
  \mathrm{MSE}_{\mathrm{OU}}(k\eta) \le \sup_{1\le k\le K}|\mathrm{MSE}_{\mathrm{EM}}(k)-
  \mathrm{MSE}_{\mathrm{OU}}(k\eta)|/\mathrm{MSE}_{\mathrm{OU}}(k\eta)$, where EM is Eq. (5)
  with additive noise $GG^\top$ (the scheme the SDE was built from: its gap is the $O(\eta)$
  discretisation bias the theory predicts, computed exactly). Any excess is due to replacing
  the minibatch noise $\Sigma(x)/b$ by the constant $GG^\top$. Grid: $\eta L$ from 0.02 to 1.9
  (near the stability limit 2), $b \in \{1, 16\}$, $d = 1$ and an ill-conditioned $d = 3$.
  A point with $\eta L \ge 2$ is NOT APPLICABLE (reported as such in its row); a point where
  the SGD second moment diverges (exact recursion non-finite) violates the claim.

**Conventions (SPEC §1).** $G$ constant with $GG^\top = \Sigma(x^*)/b$ (sampling with
replacement). The paper prints the mean with $e^{-At}$; $A$ is the $n\times d$ data matrix, so
that exponential is undefined unless $n = d$: we read $e^{-\tilde At}$ (what the printed
solution gives).

**Falsified claims.** `rhs_scale` multiplies the claimed right-hand side: the closed-form mean
deviation and covariance (`R5-as-stated`), the printed bound (`R5-bound-*`), and the
discretisation envelope (`R5-as-applied`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from numerics.moments import (
    em_scheme_moments,
    least_squares_asgd_moments,
    quadratic_asgd_moments,
)
from numerics.synthetic import spectral_regression_data
from theory.ou import OUProcess, ou_from_regression
from verify.checks.base import Check, profile
from verify.context import RunContext
from verify.runner import run_alone
from verify.verdict import CheckResult, Hypothesis

__all__ = ["R5AsApplied", "R5AsStated", "R5BoundFrobenius", "R5BoundSpectral"]

CONVENTIONS = (
    "G constant, G G^T = Sigma(x*)/b, minibatch with replacement (SPEC §1)",
    "the printed e^{-At} read as e^{-A_tilde t} (A is n x d; SPEC §1)",
)
ODE_RTOL = 1e-13  # the reference; a second solve at 10 x ODE_RTOL estimates its error


def moment_ode(
    ou: OUProcess, times: np.ndarray, rtol: float = ODE_RTOL
) -> tuple[np.ndarray, np.ndarray]:
    r"""Mean and covariance of $dX = -\tilde A(X-x^*)dt + \sqrt\eta G\,dB$ from the moment ODEs
    (Itô): $m' = -\tilde A(m - x^*)$, $C' = -\tilde AC - C\tilde A + \eta GG^\top$; DOP853."""
    A, S, d = ou.A_tilde, ou.eta * ou.GGt, ou.d

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        m, C = y[:d], y[d:].reshape(d, d)
        return np.concatenate([-A @ (m - ou.x_star), (-A @ C - C @ A + S).ravel()])

    y0 = np.concatenate([ou.x0, np.zeros(d * d)])
    scale = max(1.0, float(np.abs(ou.x0 - ou.x_star).max()), float(np.abs(S).max()))
    sol = solve_ivp(
        rhs,
        (0.0, float(times.max())),
        y0,
        method="DOP853",
        t_eval=times,
        rtol=rtol,
        atol=1e-3 * rtol * scale,
    )
    if not sol.success:
        raise RuntimeError(f"moment ODE failed: {sol.message}")
    return sol.y[:d].T, sol.y[d:].T.reshape(-1, d, d)


def _problems(ctx: RunContext) -> list[dict[str, Any]]:
    rng = np.random.default_rng(ctx.seed("data"))
    out = []
    for d, kappa in ctx.params["problems"]:
        A, y = spectral_regression_data(int(d), float(kappa), int(ctx.params["n"]), rng)
        out.append({"d": int(d), "kappa": float(kappa), "A": A, "y": y})
    return out


# ---------------------------------------------------------------------------------- level 1
class R5AsStated(Check):
    """Closed-form OU mean and covariance vs the moment ODEs of the SDE."""

    id = "R5-as-stated"
    result = "OU moments (Section 4)"
    level = "as-stated"
    method = "exact"
    claim = (
        "E X(t) = x* + e^{-A_tilde t}(x0 - x*) and Cov X(t) = eta int_0^t e^{-A_tilde u} G G^T "
        "e^{-A_tilde u} du for the OU process of SGD on least squares"
    )
    claim_latex = (
        r"\mathbb EX(t)-x^* = e^{-\tilde At}(x_0-x^*),\ \operatorname{Cov}X(t) = "
        r"\eta\int_0^te^{-\tilde Au}GG^\top e^{-\tilde Au}du"
    )
    conventions = CONVENTIONS
    quick = profile(
        problems=((1, 1.0), (3, 10.0), (3, 100.0)), b=(1, 8), n=20, eta_L=0.1, rhs_scale=1.0
    )
    full = profile(
        problems=((1, 1.0), (2, 3.0), (3, 10.0), (3, 100.0), (6, 1000.0)),
        b=(1, 4, 16),
        n=40,
        eta_L=0.1,
        rhs_scale=1.0,
    )

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        rows, errs = [], []
        plot_data = None
        for prob in _problems(ctx):
            for b in p["b"]:
                eta = float(p["eta_L"])  # L = 1
                x_star = np.linalg.lstsq(prob["A"], prob["y"], rcond=None)[0]
                x0 = x_star + np.ones(prob["d"])
                ou = ou_from_regression(prob["A"], prob["y"], int(b), eta, x0)
                mu = 1.0 / prob["kappa"]
                times = np.unique([0.0, 0.1, 1.0, 1.0 / mu, 3.0 / mu])
                m_ode, C_ode = moment_ode(ou, times)
                m_lo, C_lo = moment_ode(ou, times, rtol=10 * ODE_RTOL)
                m_cf = ou.x_star + scale * (ou.mean(times) - ou.x_star)
                C_cf = scale * ou.covariance(times)
                e0 = float(np.linalg.norm(x0 - ou.x_star))
                c_scale = float(np.linalg.norm(ou.stationary_covariance()))
                err_m = float(np.max(np.linalg.norm(m_cf - m_ode, axis=1))) / e0
                err_C = float(np.max(np.linalg.norm(C_cf - C_ode, axis=(1, 2)))) / c_scale
                # tolerance: twice the reference's estimated error plus a rounding floor
                ref_err = max(
                    float(np.max(np.linalg.norm(m_lo - m_ode, axis=1))) / e0,
                    float(np.max(np.linalg.norm(C_lo - C_ode, axis=(1, 2)))) / c_scale,
                )
                tol = 2.0 * ref_err + 1e-12
                # EM discretisation bias at delta = eta (Gaussian surrogate, exact moments)
                K = round(float(times[-1]) / eta)
                em = quadratic_asgd_moments(
                    ou.A_tilde, ou.x_star, np.ones(1), eta, 1.0, K, noise=ou.GGt, x0=x0
                )
                mse_ou = ou.mean_square_error(em.steps * eta)
                em2 = em_scheme_moments(
                    ou.A_tilde,
                    ou.x_star,
                    np.ones(1),
                    eta,
                    eta,
                    1.0,
                    K,
                    substeps=2,
                    noise=ou.GGt,
                    x0=x0,
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.abs(em.mse - mse_ou)[1:] / mse_ou[1:]
                    rel2 = np.abs(em2.mse - mse_ou)[1:] / mse_ou[1:]
                    rich = np.abs(2 * em2.mse - em.mse - mse_ou)[1:] / mse_ou[1:]
                rows.append(
                    {
                        "d": prob["d"],
                        "kappa": prob["kappa"],
                        "b": int(b),
                        "eta": eta,
                        "t_max": float(times[-1]),
                        "mean_rel_error": err_m,
                        "cov_rel_error": err_C,
                        "reference_error_estimate": ref_err,
                        "tolerance": tol,
                        "em_bias_mse_rel_sup": float(np.max(rel)),
                        "em_half_step_bias_mse_rel_sup": float(np.max(rel2)),
                        "em_observed_order": float(np.log2(np.max(rel) / np.max(rel2))),
                        "richardson_mse_rel_sup": float(np.max(rich)),
                        "holds": max(err_m, err_C) <= tol,
                    }
                )
                errs.append(max(err_m, err_C) / tol)
                if plot_data is None or prob["d"] > plot_data[0]:
                    tt = np.linspace(0.0, times[-1], 200)
                    plot_data = (prob["d"], tt, ou, em, mse_ou, times, m_ode, C_ode)
        plots = []
        if ctx.out_dir is not None and plot_data is not None:
            _, tt, ou, em = plot_data[:4]
            mse_cf = ou.mean_square_error(tt)
            plots.append(
                self.plot_band(
                    ctx,
                    "mse",
                    tt,
                    mse_cf,
                    mse_cf,
                    mse_cf,
                    None,
                    ylabel="E||X(t) - x*||^2",
                    estimate_label="OU closed form",
                    band_label="(exact: no band)",
                    reference=np.interp(tt, em.steps * ou.eta, em.mse),
                    reference_label="Euler-Maruyama delta = eta (exact moments)",
                    logy=True,
                )
            )
        n_bad = sum(not r["holds"] for r in rows)
        worst = max(rows, key=lambda r: max(r["mean_rel_error"], r["cov_rel_error"]))
        res = self.from_exact(
            ctx,
            np.asarray(errs),
            1.0,
            tol=0.0,
            relation="le",
            plots=plots,
            message=(
                f"{len(rows)} (problem, b) points; largest relative error of the closed form vs "
                f"the moment ODE = {max(worst['mean_rel_error'], worst['cov_rel_error']):.2e} "
                f"(its tolerance {worst['tolerance']:.1e} = 2 x the reference's estimated error "
                f"+ 1e-12); {n_bad} exceed their tolerance. "
                f"EM bias at delta = eta (not part of the verdict): sup relative MSE gap up to "
                f"{max(r['em_bias_mse_rel_sup'] for r in rows):.3g}."
            ),
            details={
                "grid": rows,
                "lhs_meaning": "relative error / tolerance per point (<= 1 holds)",
                "reference": "moment ODEs (Ito), solve_ivp DOP853 rtol 1e-13; error estimated "
                "from a second solve at rtol 1e-12",
            },
        )
        res.estimate = max(worst["mean_rel_error"], worst["cov_rel_error"])
        res.rhs = worst["tolerance"]
        res.bound_kind = "exact vs moment ODE; per-point tolerance 2 x reference error + 1e-12"
        return res


class _PrintedBound(Check):
    """The printed inequality E||X - EX||^2 <= int_0^t ||e^{A(s-t)} sqrt(eta) G||^2 ds."""

    norm: str = "fro"
    result = "OU variance bound (Section 4)"
    level = "as-stated"
    method = "exact"
    conventions = CONVENTIONS
    quick = profile(
        problems=((1, 1.0), (3, 10.0), (3, 100.0)), b=(1,), n=20, eta=0.1, rhs_scale=1.0
    )
    full = profile(
        problems=((1, 1.0), (2, 3.0), (3, 10.0), (3, 100.0), (6, 1000.0)),
        b=(1, 16),
        n=40,
        eta=0.1,
        rhs_scale=1.0,
    )

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        rows, lhs_rel = [], []
        series = None
        for prob in _problems(ctx):
            for b in p["b"]:
                x_star = np.linalg.lstsq(prob["A"], prob["y"], rcond=None)[0]
                ou = ou_from_regression(prob["A"], prob["y"], int(b), float(p["eta"]), x_star)
                mu = 1.0 / prob["kappa"]
                times = np.unique([0.1, 1.0, 1.0 / mu, 3.0 / mu])
                _, C_ode = moment_ode(ou, times)
                _, C_lo = moment_ode(ou, times, rtol=10 * ODE_RTOL)
                lhs = np.trace(C_ode, axis1=1, axis2=2)
                ref_err = np.abs(np.trace(C_lo, axis1=1, axis2=2) - lhs) / lhs
                rhs = scale * ou.printed_variance_bound(times, self.norm)
                for t, a, r, e in zip(times, lhs, rhs, ref_err):
                    tol = 2.0 * float(e) + 1e-11  # quadrature rel. tol 1e-12 on the right side
                    rows.append(
                        {
                            "d": prob["d"],
                            "kappa": prob["kappa"],
                            "b": int(b),
                            "t": float(t),
                            "variance_exact": float(a),
                            "rhs_printed": float(r),
                            "ratio_lhs_rhs": float(a / r),
                            "tolerance": tol,
                            "holds": bool((a - r) / r <= tol),
                        }
                    )
                    lhs_rel.append((a - r) / r - tol)
                if series is None or prob["d"] > series[0]:
                    tt = np.linspace(0.0, times[-1], 60)[1:]
                    series = (prob["d"], tt, ou)
        plots = []
        if ctx.out_dir is not None and series is not None:
            _, tt, ou = series
            _, C = moment_ode(ou, tt)
            v = np.trace(C, axis1=1, axis2=2)
            plots.append(
                self.plot_band(
                    ctx,
                    "bound",
                    tt,
                    v,
                    v,
                    v,
                    scale * ou.printed_variance_bound(tt, self.norm),
                    ylabel="E||X(t) - EX(t)||^2",
                    estimate_label=f"exact (moment ODE), d = {ou.d}",
                    band_label="(exact: no band)",
                    bound_label=f"printed bound, {self.norm} norm",
                )
            )
        n_bad = sum(not r["holds"] for r in rows)
        worst = int(np.argmax(lhs_rel))
        res = self.from_exact(
            ctx,
            np.asarray(lhs_rel),
            0.0,
            tol=0.0,
            relation="le",
            plots=plots,
            message=(
                f"{self.norm} norm: {n_bad} of {len(rows)} (problem, t) points violate the "
                f"printed bound; worst lhs/rhs = {rows[worst]['ratio_lhs_rhs']:.6g} at "
                f"d = {rows[worst]['d']}, t = {rows[worst]['t']:.3g}"
            ),
            details={
                "grid": rows,
                "lhs_meaning": "(E||X-EX||^2 - rhs)/rhs - tolerance (<= 0 holds); tolerance = "
                "2 x the moment ODE's estimated error + 1e-11",
                "norm": self.norm,
            },
        )
        res.estimate = rows[worst]["variance_exact"]
        res.rhs = rows[worst]["rhs_printed"]
        res.bound_kind = "exact; per-point tolerance 2 x moment-ODE error + 1e-11 (relative)"
        return res


class R5BoundFrobenius(_PrintedBound):
    id = "R5-bound-fro"
    norm = "fro"
    claim = (
        "E||X(t) - EX(t)||^2 <= int_0^t ||e^{A_tilde (s-t)} sqrt(eta) G||_F^2 ds "
        "(printed bound, Frobenius norm)"
    )
    claim_latex = (
        r"\mathbb E\|X(t)-\mathbb EX(t)\|^2\le\int_0^t\|e^{\tilde A(s-t)}\sqrt\eta G\|_F^2ds"
    )


class R5BoundSpectral(_PrintedBound):
    id = "R5-bound-spectral"
    norm = "spectral"
    claim = (
        "E||X(t) - EX(t)||^2 <= int_0^t ||e^{A_tilde (s-t)} sqrt(eta) G||_2^2 ds "
        "(printed bound, spectral norm)"
    )
    claim_latex = (
        r"\mathbb E\|X(t)-\mathbb EX(t)\|^2\le\int_0^t\|e^{\tilde A(s-t)}\sqrt\eta G\|_2^2ds"
    )


# ---------------------------------------------------------------------------------- level 2
class R5AsApplied(Check):
    """SGD iterates' exact E||x_k - x*||^2 vs the OU prediction at t = k eta."""

    id = "R5-as-applied"
    result = "OU moments (Section 4)"
    level = "as-applied"
    method = "exact"
    claim = (
        "The OU gives the moments of the SGD path (t = k eta): sup_k |MSE_SGD(k) - MSE_OU(k eta)|"
        " / MSE_OU(k eta) <= the same relative gap of the Euler-Maruyama scheme Eq. (5) "
        "(additive noise G G^T), i.e. within the O(eta) discretisation bias"
    )
    claim_latex = (
        r"\sup_k\frac{|\mathbb E\|x_k-x^*\|^2-\mathbb E\|X(k\eta)-x^*\|^2|}"
        r"{\mathbb E\|X(k\eta)-x^*\|^2}\le\sup_k\frac{|\mathbb E\|\tilde x_k-x^*\|^2-"
        r"\mathbb E\|X(k\eta)-x^*\|^2|}{\mathbb E\|X(k\eta)-x^*\|^2}"
    )
    conventions = (
        *CONVENTIONS,
        "delta = eta, t = k eta; x0 = x* + (1, ..., 1)",
        "envelope = exact gap of the additive-noise Eq. (5) recursion (pure discretisation bias)",
    )
    quick = profile(
        problems=((1, 1.0), (3, 10.0)),
        b=(1, 16),
        eta_L=(0.02, 0.2, 1.0, 1.9),
        n=20,
        T_mu=4.0,
        K_max=2000,
        rhs_scale=1.0,
    )
    full = profile(
        problems=((1, 1.0), (3, 10.0), (3, 100.0), (6, 1000.0)),
        b=(1, 4, 16, 20),
        eta_L=(0.005, 0.02, 0.05, 0.2, 0.5, 1.0, 1.5, 1.9, 1.99, 2.0),
        n=20,
        T_mu=6.0,
        K_max=20000,
        rhs_scale=1.0,
    )

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        ok = [e for e in ctx.params["eta_L"] if 0 < e < 2]
        return [
            Hypothesis(
                "some grid point with 0 < eta L < 2 (GD on the mean is stable)",
                bool(ok),
                f"eta L values {list(ctx.params['eta_L'])}",
            )
        ]

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = float(p.get("rhs_scale", 1.0))
        rows, lhs, rhs = [], [], []
        best_plot = None
        for prob in _problems(ctx):
            A, y, d = prob["A"], prob["y"], prob["d"]
            mu = 1.0 / prob["kappa"]
            for b in p["b"]:
                for etaL in p["eta_L"]:
                    eta = float(etaL)  # L = 1
                    row: dict[str, Any] = {
                        "d": d,
                        "kappa": prob["kappa"],
                        "b": int(b),
                        "eta_L": eta,
                    }
                    if not 0 < eta < 2:
                        row.update(status="NOT APPLICABLE: eta L >= 2 (GD on the mean unstable)")
                        rows.append(row)
                        continue
                    K = int(min(p["K_max"], math.ceil(p["T_mu"] / (mu * eta))))
                    x_star = np.linalg.lstsq(A, y, rcond=None)[0]
                    x0 = x_star + np.ones(d)
                    ou = ou_from_regression(A, y, int(b), eta, x0)
                    sgd = least_squares_asgd_moments(A, y, np.ones(1), eta, 1.0, int(b), K, x0=x0)
                    em = quadratic_asgd_moments(
                        ou.A_tilde, ou.x_star, np.ones(1), eta, 1.0, K, noise=ou.GGt, x0=x0
                    )
                    t = sgd.steps * eta
                    mse_ou = ou.mean_square_error(t)
                    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                        g_sgd = np.abs(sgd.mse - mse_ou)[1:] / mse_ou[1:]
                        g_em = np.abs(em.mse - mse_ou)[1:] / mse_ou[1:]
                    finite = bool(np.all(np.isfinite(g_sgd)))
                    sup_sgd = float(np.max(g_sgd)) if finite else math.inf
                    sup_em = float(np.max(g_em))
                    k_worst = int(np.argmax(g_sgd)) + 1 if finite else -1
                    row.update(
                        K=K,
                        t_max=float(t[-1]),
                        sup_rel_gap_sgd=sup_sgd,
                        sup_rel_gap_em=sup_em,
                        envelope=scale * sup_em,
                        ratio=sup_sgd / (scale * sup_em) if scale * sup_em > 0 else math.inf,
                        k_worst=k_worst,
                        t_worst=k_worst * eta if finite else math.inf,
                        final_rel_gap_sgd=float(g_sgd[-1]) if finite else math.inf,
                        final_rel_gap_em=float(g_em[-1]),
                        mse_sgd_final=float(sgd.mse[-1]),
                        mse_em_final=float(em.mse[-1]),
                        mse_ou_final=float(mse_ou[-1]),
                        mean_gap_sup=float(
                            np.max(np.linalg.norm(sgd.mean - ou.mean(t), axis=1))
                            / np.linalg.norm(x0 - x_star)
                        ),
                        status=(
                            "SGD second moment overflows (exact recursion)"
                            if not finite
                            else "SGD second moment grows: final MSE > initial MSE"
                            if sgd.mse[-1] > sgd.mse[0]
                            else "ok"
                        ),
                        holds=bool(finite and sup_sgd <= scale * sup_em),
                    )
                    rows.append(row)
                    lhs.append(sup_sgd)
                    rhs.append(scale * sup_em)
                    key = (d, -int(b), -eta)  # plot: largest d, smallest b, smallest eta
                    if finite and (best_plot is None or key > best_plot[0]):
                        best_plot = (key, row, t, sgd.mse, mse_ou, em.mse)
        plots = []
        if ctx.out_dir is not None and best_plot is not None:
            _, row, t, m_sgd, m_ou, m_em = best_plot
            plots.append(
                self.plot_band(
                    ctx,
                    "mse",
                    t,
                    m_sgd,
                    m_sgd,
                    m_sgd,
                    m_ou,
                    ylabel="E||x_k - x*||^2",
                    estimate_label="SGD, exact minibatch moments",
                    band_label="(exact: no band)",
                    bound_label="OU prediction E||X(k eta) - x*||^2",
                    reference=m_em,
                    reference_label="Eq. (5) additive noise (exact)",
                    title=f"{self.id}: d={row['d']}, b={row['b']}, eta L={row['eta_L']}",
                    logy=True,
                )
            )
            pts = [
                {
                    "eta_L": r["eta_L"],
                    "estimate": min(r["sup_rel_gap_sgd"], 1e300),
                    "lcb": min(r["sup_rel_gap_sgd"], 1e300),
                    "ucb": min(r["sup_rel_gap_sgd"], 1e300),
                    "rhs": r["envelope"],
                }
                for r in rows
                if "envelope" in r
            ]
            plots.append(
                self.plot_grid(ctx, "grid", pts, x_key="eta_L", title_suffix="sup rel. MSE gap")
            )
        lhs_a, rhs_a = np.asarray(lhs), np.asarray(rhs)
        n_bad = sum(1 for r in rows if r.get("holds") is False)
        n_na = sum(1 for r in rows if "NOT APPLICABLE" in r.get("status", ""))
        worst = max((r for r in rows if "ratio" in r), key=lambda r: r["ratio"])
        res = self.from_exact(
            ctx,
            lhs_a,
            rhs_a,
            tol=None,
            relation="le",
            plots=plots,
            message=(
                f"{n_bad} of {len(lhs)} applicable grid points exceed the discretisation "
                f"envelope ({n_na} not applicable: eta L >= 2); worst: d={worst['d']}, "
                f"b={worst['b']}, eta L={worst['eta_L']}: sup relative MSE gap "
                f"{worst['sup_rel_gap_sgd']:.3g} vs EM {worst['sup_rel_gap_em']:.3g} "
                f"(ratio {worst['ratio']:.3g}, at t = {worst['t_worst']:.3g})"
            ),
            details={
                "grid": rows,
                "criterion": (
                    "sup_k relative MSE gap of SGD (exact minibatch noise) <= that of the "
                    "additive-noise Eq. (5) recursion (exact discretisation bias); fixed before "
                    "seeing numbers"
                ),
            },
        )
        res.estimate, res.rhs = worst["sup_rel_gap_sgd"], worst["envelope"]
        return res


CHECKS = [R5AsStated(), R5BoundFrobenius(), R5BoundSpectral(), R5AsApplied()]

if __name__ == "__main__":
    run_alone(CHECKS)
