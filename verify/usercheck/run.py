r"""``sdde-verify check SPEC.toml``: load, analyse, decide applicability, run, report atomically.

:func:`run_spec` is the whole pipeline:

1. :func:`~verify.usercheck.spec.load_spec` validates *everything* (spec, data, loss, claims)
   before any work; errors are :class:`~theory.errors.InputError` subclasses naming the field,
   the value and the fix, and **no report folder is written**.
2. :func:`~verify.usercheck.setting.build_setting`: the problem and the loss analysis
   ($x^*$ with its certificate, $L$, $\mu$ with labels, convexity, smoothness, $\Sigma(x^*)$,
   $\tilde A = \nabla^2F(x^*)$, certified $V$ of the linearised delay system).
3. :func:`applicability`: for each result of the paper, whether its hypotheses hold for this
   loss, which one fails and why; a violated step-size condition is reported with the largest
   admissible value.
4. The selected checks (:mod:`verify.usercheck.checks`, :mod:`verify.usercheck.claims`) run
   through the framework's runner (:func:`verify.api.run_checks`): same seeds, executors and
   verdict protocol as ``sdde-verify run``.
5. :class:`UserReportWriter` writes ``<out>/<run>/`` (report.md, report.html, results.json,
   junit.xml, plots) atomically and points ``<out>/latest`` at it; the first section of the
   report states the loss, the data, the derived quantities with their certificate labels and
   the applicability table (``results.json``: ``run.user_spec``).
"""

from __future__ import annotations

import html
import math
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verify.budget import Budget, Estimate, analysis_estimate, enforce, simulation_estimate
from verify.checks.base import Check
from verify.executor import Executor, make_executor
from verify.report import (
    ReportWriter,
    RunReport,
    default_run_name,
    run_metadata,
    validate_out_root,
)
from verify.staging import StagingLock
from verify.usercheck.checks import STEP_FACTOR, UserThm41Local, UserThm42, approx_check
from verify.usercheck.claims import METRIC_TEXT, UserClaimCheck
from verify.usercheck.setting import UserSetting, build_setting
from verify.usercheck.spec import CHECK_ALIASES, SpecError, load_spec
from verify.verdict import json_safe

__all__ = [
    "UserReportWriter",
    "applicability",
    "build_checks",
    "preamble_markdown",
    "run_spec",
    "select_checks",
]

_STEP_TEXT = {"random": "eta L (l+1) <= 1", "none": "eta L <= 1", "constant": "eta L l <= 1"}
_DELAY_KIND = {"none": "none", "constant": "constant", "iid": "random", "cyclic": "random"}


# ============================================================================ checks
def build_checks(setting: UserSetting) -> list[Check]:
    """Every user check of a setting, in report order (ids ``U-approx``, ``U-thm41-local``,
    ``U-thm42``, ``U-claim-<i>``)."""
    checks: list[Check] = [approx_check(setting), UserThm41Local(setting), UserThm42(setting)]
    checks += [UserClaimCheck(setting, c, i) for i, c in enumerate(setting.spec.claims)]
    return checks


def select_checks(checks: Sequence[Check], only: Sequence[str] | None) -> list[Check]:
    """The checks named by `only` (or by ``checks.run``): ``"all"``, ``"claims"``, an id, an
    id prefix starting with ``U-``, or an alias (``R2``..``R8``, ``approx``, ``thm41``,
    ``thm42``).

    Raises:
        SpecError: a name matches no check (the message lists the valid names).
    """
    if not only or "all" in only:
        return list(checks)
    ids = [c.id for c in checks]
    wanted: set[str] = set()
    for name in only:
        if name == "claims":
            hit = [i for i in ids if i.startswith("U-claim-")]
        elif name in CHECK_ALIASES:
            hit = [i for i in ids if i in CHECK_ALIASES[name]]
        else:
            hit = [i for i in ids if i == name or (name.startswith("U-") and i.startswith(name))]
        if not hit:
            raise SpecError(
                "only",
                name,
                "no such check for this spec",
                "use all, claims, " + ", ".join([*ids, *CHECK_ALIASES]),
            )
        wanted.update(hit)
    return [c for c in checks if c.id in wanted]


# ============================================================================ cost
def _quick_caps(alg: Any) -> tuple[int, int]:
    """(paths, K) the quick profile's checks use at most (their caps in params_for)."""
    return min(int(alg.paths), 200), min(int(alg.K), 600)


def estimate_before_analysis(spec: Any, profile: str) -> Estimate:
    r"""Cost from the spec alone: the loss analysis on the data and the largest simulations
    (the approximation check's minibatches reach $16b$; an SDDE step costs $2nd + d^2$)."""
    ds, alg = spec.dataset, spec.algorithm
    n, d, b = ds.n, ds.d, int(alg.batch_size)
    est = analysis_estimate(n, d, spec.loss.glm is not None)
    P, K = _quick_caps(alg) if profile != "full" else (int(alg.paths), int(alg.K))
    items = [
        ("SDDE paths (thm41 / claims)", P, 2 * K, b, "sdde"),
        ("ASGD minibatches of 16 b (approximation check)", min(P, 150), 128, 16 * b, "asgd"),
    ]
    return simulation_estimate(items, n, d, est)


def estimate_checks(setting: UserSetting, checks: Sequence[Check], profile: str) -> Estimate:
    r"""Cost of the selected checks from their own parameters (``params_for(profile)``)."""
    ds = setting.spec.dataset
    n, d, b = ds.n, ds.d, setting.b
    m = setting.substeps()
    items: list[tuple[str, int, int, int, str]] = []
    record = 0.0
    skipped = {r["check"] for r in applicability(setting) if r["applicable"] == "no"}
    for c in checks:
        if c.id in skipped:  # NOT APPLICABLE: nothing is simulated
            continue
        p = c.params_for(profile)
        P = int(p.get("paths", setting.alg.paths))
        if "calibration" in p and p["calibration"][0][0] > p.get("max_K0", math.inf):
            continue  # U-approx beyond its K budget: INCONCLUSIVE without simulating
        if "calibration" in p:  # U-approx: (K, b, l) grid, SDDE fine + ASGD per point
            for K, bb, _l in [*p["calibration"], *p["heldout"]]:
                items.append((f"{c.id} K={K} b={bb}", P, K * int(p["substeps"]), bb, "sdde"))
                items.append((f"{c.id} K={K} b={bb} (ASGD)", P, K, bb, "asgd"))
        elif "max_steps" in p:  # U-thm42: pilot + test ball paths and the paths, fine steps
            P_all = P + 2 * int(p.get("ball_paths", 0))
            items.append((c.id, P_all, 2 * int(p["max_steps"]), b, "sdde"))
        elif isinstance(c, UserClaimCheck):
            K = int(setting.alg.K)
            if c.spec.metric == "approx_error":
                for q in c._points():
                    Kq, bq = int(q.get("K", K)), int(q.get("b", b))
                    items.append((f"{c.id} K={Kq} b={bq}", 2 * P, 4 * Kq, bq, "sdde"))
                    items.append((f"{c.id} K={Kq} b={bq} (ASGD)", 2 * P, Kq, bq, "asgd"))
            else:
                steps = int(max(c._times()) / setting.delta) + 1
                proc = c.spec.process
                items.append((c.id, 2 * P, steps * (m if proc == "sdde" else 1), b, proc))
                record = max(record, min(64.0, steps) * P * d)
        else:  # U-thm41-local and any other SDDE check
            items.append((c.id, P, int(p.get("K", setting.alg.K)) * m, b, "sdde"))
    return simulation_estimate(items, n, d, record_floats=record)


def _fixes(est: Estimate, profile: str) -> list[str]:
    """The fixes, the one for the largest part first."""
    worst = max(est.parts, key=lambda p: p[1], default=("", 0.0, 0.0))[0]
    fixes = {
        "d": "use fewer features d or samples n (a subset of the data)",
        "paths": "use fewer paths (algorithm.paths, a claim's paths)",
        "b": "use a smaller algorithm.batch_size",
        "K": "use a smaller horizon algorithm.K (or claim times t)",
    }
    order = ["paths", "b", "d", "K"]
    if "analysis" in worst:
        order = ["d", "paths", "b", "K"]
    elif "16 b" in worst or " b=" in worst:
        order = ["b", "paths", "d", "K"]
    out = [fixes[k] for k in order]
    if profile == "full":
        out.insert(1, "use the quick profile (--profile quick)")
    return out


# ============================================================================ applicability
def _fmt(x: float) -> str:
    return f"{x:.6g}" if isinstance(x, float | int) and math.isfinite(x) else str(x)


def applicability(setting: UserSetting) -> list[dict[str, Any]]:
    r"""Each result's hypotheses for this loss: rows ``{result, check, applicable, failed,
    reason}`` (``applicable``: ``"yes"``, ``"no"`` or ``"partly"``).

    Step-size conditions are judged at the spec's $\eta$ and, when violated, reported with the
    largest admissible value: $\eta \le 1/(L(l+1))$ (Thm 3.2), $1/L$ (Cor 3.3), $1/(Ll)$
    (Thm 3.4); for Thm 4.1, $V < 0$, which for symmetric $\tilde A \succeq 0$ holds iff
    $\lambda_{\max}(\tilde A)\,\tau < \pi/2$ (Hayes), i.e. $\eta < \pi/(2l\lambda_{\max})$ with
    $\delta = \eta$.
    """
    s = setting
    a = s.analysis
    Lc, muc = s.L_const, s.mu_const
    L = float(Lc.value)
    smooth_L = a.smooth and math.isfinite(L)
    rows: list[dict[str, Any]] = []

    # Thms 3.2 / 3.4, Cor 3.3
    kind = _DELAY_KIND[s.alg.delay]
    res = {"random": "Thm 3.2", "none": "Cor 3.3", "constant": "Thm 3.4"}[kind]
    if not smooth_L:
        rows.append(
            dict(
                result=res,
                check="U-approx",
                applicable="no",
                failed="grad F L-Lipschitz",
                reason="non-smooth loss (abs/maximum/minimum): no finite L"
                if not a.smooth
                else f"L unavailable ({Lc.detail})",
            )
        )
    else:
        f = STEP_FACTOR[kind](s.l)
        g = s.eta * L * f
        largest = 1.0 / (L * f) if L > 0 else math.inf
        cond = _STEP_TEXT[kind]
        ok = g <= 1.0
        reason = (
            f"{cond.split(' <=')[0]} = {g:.4g} at your eta = {s.eta:g} "
            + ("holds" if ok else f"> 1: violated; largest admissible eta = {largest:.6g}")
            + f" (L {Lc.kind}). The check uses the theorem's eta = 1/K with K >= "
            f"{L * f:.4g}."
        )
        if s.alg.schedule != "1":
            reason += f" The theorem has u_k = 1 (your schedule {s.alg.schedule!r} is not used)."
        rows.append(
            dict(
                result=res,
                check="U-approx",
                applicable="yes" if ok else "partly",
                failed="" if ok else f"{cond} at the spec's eta",
                reason=reason,
            )
        )

    # Thm 4.1, local
    fail, reason = "", ""
    has_min, min_detail = s.minimiser
    if not a.smooth or a.A_tilde is None:
        fail, reason = "F twice differentiable", "non-smooth loss: no Hessian at x*"
    elif not has_min:
        fail, reason = "x* exists", min_detail
    elif s.alg.schedule != "1":
        fail, reason = "u_k = 1 (Eq. (7))", f"schedule = {s.alg.schedule!r}"
    elif s.tau <= 0:
        fail, reason = "tau > 0", "no delay (l = 0): eta = eps/tau^2 is undefined"
    else:
        r = s.roots
        lam_max = float(np.linalg.eigvalsh(a.A_tilde)[-1])
        hayes = (
            f"largest admissible eta = pi/(2 l lambda_max(A~)) = "
            f"{math.pi / (2 * s.l * lam_max):.6g} (Hayes: lambda_max tau < pi/2, delta = eta)"
            if lam_max > 0
            else ""
        )
        if r is None and s.roots_skipped:
            fail, reason = "V < 0 (certified)", s.roots_skipped
        elif r is None or r.is_V_negative is not True:
            fail = "V < 0 (certified)"
            V = "n/a" if r is None else f"{float(r.V):.6g}"
            cert = "" if r is None else f", is_V_negative = {r.is_V_negative}"
            reason = f"V = {V}{cert}; {hayes}"
        else:
            reason = (
                f"V = {float(r.V):.6g} < 0 (certified = {r.certified}); "
                + ("F quadratic: exact setting" if a.quadratic else "local (linearised) reading")
                + (f"; {hayes}" if hayes else "")
            )
    rows.append(
        dict(
            result="Thm 4.1 (local)",
            check="U-thm41-local",
            applicable="no" if fail else "yes",
            failed=fail,
            reason=reason,
        )
    )

    # Thm 4.2 / Cor 4.3
    res42 = "Thm 4.2" if s.l > 0 else "Cor 4.3"
    mu = float(muc.value)
    conv = a.convexity
    if not smooth_L:
        fail, reason = "F L-smooth", "non-smooth loss: no finite L"
    elif not has_min:
        fail, reason = "x* exists", min_detail
    elif conv.convex is False:
        fail, reason = "F strongly convex", f"F is not convex ({conv.status}: {conv.detail})"
    elif not mu > 0:
        fail, reason = "F strongly convex (mu > 0)", f"mu = {_fmt(mu)} ({muc.kind}): {muc.detail}"
    else:
        fail = ""
        reason = (
            f"mu = {mu:.6g} ({muc.kind}), "
            f"L = {L:.6g} ({Lc.kind}); the ball d(x0, D) is chosen and measured in the check; "
            "the check uses the theorem's schedule 1/(mu k)"
        )
    rows.append(
        dict(
            result=res42,
            check="U-thm42",
            applicable="no" if fail else "yes",
            failed=fail,
            reason=reason,
        )
    )

    # claims
    vals = s.symbols()
    for i, c in enumerate(s.spec.claims):
        names = {x.name for x in c.rhs_expr.free_symbols} - set(c.free_constants)
        missing = sorted(n for n in names if not math.isfinite(vals.get(n, 0.0)))
        kind_txt = "rate check (free constants)" if c.free_constants else "fixed bound"
        failed, why = "", kind_txt
        if missing:
            failed, why = "rhs symbols available", f"unavailable: {', '.join(missing)}"
        elif c.metric != "approx_error" and not has_min:
            failed, why = "x* exists", min_detail
        elif c.metric == "approx_error" and c.coupling == "quantile" and not s.alg.replace:
            failed, why = "with replacement", "the quantile coupling needs replace = true"
        rows.append(
            dict(
                result=f"claim: {c.name}",
                check=f"U-claim-{i + 1}",
                applicable="no" if failed else "yes",
                failed=failed,
                reason=why,
            )
        )
    return rows


# ============================================================================ preamble
def _derived(setting: UserSetting) -> list[tuple[str, str, str, str]]:
    """(quantity, value, label, how) rows of the derived quantities."""
    s, a = setting, setting.analysis
    rows: list[tuple[str, str, str, str]] = []
    xs = "certified" if a.x_star_error is not None else "estimate"
    how = f"||grad F(x_hat)|| = {a.grad_norm:.3g}" + (
        f"; ||x_hat - x*|| <= {a.x_star_error:.3g}" if a.x_star_error is not None else ""
    )
    rows.append(("x* (norm)", f"{float(np.linalg.norm(a.x_star)):.6g}", xs, how))
    rows.append(("F* = F(x*)", f"{s.F_star:.8g}", xs, "at x_hat"))
    for name, c in (("L", a.L), ("mu", a.mu), ("L on B(x*, D)", a.L_ball)):
        rows.append((name, _fmt(c.value), c.kind, c.detail))
    for name, c, orig in (("L used by the checks", s.L_const, a.L), ("mu used", s.mu_const, a.mu)):
        if c is not orig:
            rows.append((name, _fmt(c.value), c.kind, c.detail))
    rows.append(("mu on B(x*, D)", _fmt(a.mu_ball.value), a.mu_ball.kind, a.mu_ball.detail))
    rows.append(("D (ball radius)", f"{a.D:.6g}", "given" if s.alg.D else "default", ""))
    rows.append(("convexity", a.convexity.status, a.convexity.status.split("-")[0], ""))
    rows.append(("smooth", str(a.smooth), "certified", "no abs/maximum/minimum"))
    rows.append(("GLM structure", str(a.glm), "certified" if a.glm else "-", "symbolic"))
    rows.append(("quadratic", str(a.quadratic), "certified" if a.quadratic else "-", ""))
    rows.append(("tr Sigma(x*)", f"{s.sigma2:.6g}", "estimate", "at x_hat, divisor n"))
    if a.A_tilde is not None:
        ev = np.linalg.eigvalsh(a.A_tilde)
        rows.append(
            (
                "A~ = Hess F(x*): eigenvalues",
                f"[{ev[0]:.6g}, {ev[-1]:.6g}]",
                "estimate",
                "float64 eigvalsh at x_hat",
            )
        )
        r = s.roots
        if r is not None:
            rows.append(
                (
                    "V (linearised delay system, tau = l delta)",
                    f"{float(r.V):.10g}",
                    "certified" if r.certified else "estimate",
                    f"theory.roots (tau = {s.tau:g}); is_V_negative = {r.is_V_negative}",
                )
            )
        else:
            rows.append(("V", "n/a", "unavailable", "tau = 0 (no delay)"))
    else:
        rows.append(("A~, V", "n/a", "unavailable", "non-smooth loss: no Hessian"))
    return rows


def _data_lines(setting: UserSetting) -> list[str]:
    ds = setting.spec.dataset
    return [
        f"source: {ds.source}",
        f"n = {ds.n}, d = {ds.d}",
        "preprocessing: " + ("; ".join(ds.transforms) if ds.transforms else "none"),
    ]


def _algorithm_line(setting: UserSetting) -> str:
    a = setting.alg
    q = f", q = {list(a.q)}" if a.q is not None else ""
    return (
        f"eta = {a.eta:g}, schedule u_k = {a.schedule}, b = {a.batch_size} "
        f"({'with' if a.replace else 'without'} replacement), delay {a.delay} with l = {a.l}{q}, "
        f"K = {a.K}, delta = {setting.delta:g}, paths = {a.paths}, x0 = xi = ["
        + ", ".join(f"{v:g}" for v in setting.x0[:6])
        + (", ...]" if setting.problem.d > 6 else "]")
    )


def preamble_markdown(setting: UserSetting, table: list[dict[str, Any]]) -> str:
    """The first section of ``report.md``: loss, data, derived quantities, applicability."""
    sp = setting.spec
    consts = ", ".join(f"{k} = {v:g}" for k, v in sp.loss_spec.constants.items()) or "none"
    out = [
        f"# User loss check — `{sp.path.name if sp.path else 'spec'}`",
        "",
        "## Loss, data and derived quantities",
        "",
        f"Per-sample loss f(x; a, b) = `{sp.loss_spec.expression}`, constants: {consts}; "
        "F(x) = (1/n) sum_i f(x; a_i, b_i) (SPEC §1).",
        "",
        "**Data.** " + "; ".join(_data_lines(setting)) + ".",
        "",
        "**Algorithm.** " + _algorithm_line(setting) + ".",
        "",
        "**Labels.** *certified*: a rigorous bound (upper for L, lower for mu; interval "
        "arithmetic or exact); *estimate*: sampled or float64, not a bound; *unavailable*: "
        "no finite value exists or could be obtained.",
        "",
        "| quantity | value | label | how |",
        "|---|---|---|---|",
    ]
    for q, v, lab, how in _derived(setting):
        out.append(f"| {q} | {v} | {lab} | {how.replace('|', '/')} |")
    out += ["", *[f"- {n}" for n in setting.analysis.notes], "", "## Applicability", ""]
    out += ["| result | check | applicable | failed hypothesis | why |", "|---|---|---|---|---|"]
    for r in table:
        out.append(
            f"| {r['result']} | {r['check']} | **{r['applicable']}** | {r['failed'] or '—'} | "
            f"{r['reason'].replace('|', '/')} |"
        )
    out += ["", "---", ""]
    return "\n".join(out)


def _preamble_html(setting: UserSetting, table: list[dict[str, Any]]) -> str:
    sp = setting.spec
    e = html.escape
    derived = "".join(
        f"<tr><td>{e(q)}</td><td>{e(v)}</td><td><b>{e(lab)}</b></td><td>{e(how)}</td></tr>"
        for q, v, lab, how in _derived(setting)
    )
    app = "".join(
        f"<tr><td>{e(r['result'])}</td><td>{e(r['check'])}</td><td><b>{e(r['applicable'])}"
        f"</b></td><td>{e(r['failed'] or '—')}</td><td>{e(r['reason'])}</td></tr>"
        for r in table
    )
    consts = ", ".join(f"{k} = {v:g}" for k, v in sp.loss_spec.constants.items()) or "none"
    return (
        f"<section><h1>User loss check — {e(sp.path.name if sp.path else 'spec')}</h1>"
        f"<p>Per-sample loss <code>{e(sp.loss_spec.expression)}</code>, constants: "
        f"{e(consts)}; F = average of f_i (SPEC §1).</p>"
        f"<p><b>Data.</b> {e('; '.join(_data_lines(setting)))}.</p>"
        f"<p><b>Algorithm.</b> {e(_algorithm_line(setting))}.</p>"
        "<p><small><b>certified</b>: rigorous bound; <b>estimate</b>: sampled / float64, not a "
        "bound; <b>unavailable</b>: no finite value.</small></p>"
        "<table><tr><th>quantity</th><th>value</th><th>label</th><th>how</th></tr>"
        f"{derived}</table><h2>Applicability</h2><table><tr><th>result</th><th>check</th>"
        f"<th>applicable</th><th>failed hypothesis</th><th>why</th></tr>{app}</table>"
        "</section><hr>"
    )


def _spec_summary(setting: UserSetting, table: list[dict[str, Any]]) -> dict[str, Any]:
    sp = setting.spec
    return json_safe(
        {
            "spec": str(sp.path) if sp.path else None,
            "loss": sp.loss_spec.expression,
            "constants": dict(sp.loss_spec.constants),
            "data": {
                "source": sp.dataset.source,
                "n": sp.dataset.n,
                "d": sp.dataset.d,
                "transforms": list(sp.dataset.transforms),
            },
            "algorithm": _algorithm_line(setting),
            "analysis": setting.analysis.to_dict(),
            "V": None if setting.roots is None else float(setting.roots.V),
            "V_certified": None if setting.roots is None else bool(setting.roots.certified),
            "applicability": table,
            "claims": [
                {
                    "name": c.name,
                    "metric": METRIC_TEXT[c.metric],
                    "process": c.process,
                    "coupling": c.coupling,
                    "rhs": c.rhs,
                    "free_constants": list(c.free_constants),
                }
                for c in sp.claims
            ],
        }
    )


# ============================================================================ writer
class UserReportWriter(ReportWriter):
    """`ReportWriter` whose report.md / report.html start with the user-spec section.

    Same atomicity: files are written into the staging folder, which is renamed into place
    only when complete; `latest` is then replaced atomically."""

    pdf: bool = False  # also write report.pdf (`sdde-verify check --pdf`)

    def publish_with(self, report: RunReport, preamble_md: str, preamble_html: str) -> Path:
        """Write the files with the preambles, rename into place, point `latest`."""
        return self.publish(report, preamble_md, preamble_html, pdf=self.pdf)


# ============================================================================ entry point
def run_spec(
    path: str | Path,
    *,
    seed: int | None = None,
    out: str | Path | None = "reports",
    profile: str = "quick",
    only: Sequence[str] | None = None,
    executor: str | Executor | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    run_name: str | None = None,
    command: str | None = None,
    budget: Budget | None = None,
    pdf: bool = False,
    hooks: Any = None,
) -> RunReport:
    """Check a user loss given in a TOML spec end to end (see the module docstring).

    `pdf` also writes report.pdf; `hooks` (optional, e.g. the command line's progress
    display) may define ``stage(text)``, ``start(checks)``, ``factory(check)`` (a per-check
    progress callback) and ``result(res)``.

    Arguments:
        path: the spec file (data paths are relative to it).
        seed: global seed (default: ``algorithm.seed`` of the spec); each check's stream
            depends only on it and the check id.
        out: report root; ``None`` writes no report.
        profile: ``"quick"`` (capped paths and horizons, CI-sized) or ``"full"`` (the spec's).
        only: check names (overrides ``checks.run``; see :func:`select_checks`).
        executor, workers, scheduler: as in :func:`verify.api.run`.
        run_name: report folder name (default: time, profile, seed).
        budget: memory and time budget (default :class:`verify.budget.Budget()`); the cost is
            estimated before the loss analysis and again before the checks (see
            :mod:`verify.budget`), and a run above it is refused.

    Returns:
        The :class:`~verify.report.RunReport` (``.path`` is the report folder; ``str()`` is
        the verdict table; ``metadata["user_spec"]`` the loss, data, derived quantities and
        applicability).

    Raises:
        SpecError, DataError, LossSpecError (all :class:`~theory.errors.InputError`): bad spec
            or data; nothing is written.
        BudgetError: the estimated cost exceeds ``budget``; nothing is computed or written.
    """
    from verify.context import PROFILES
    from verify.runner import run_checks

    if profile not in PROFILES:
        raise SpecError("profile", profile, "unknown profile", f"use one of {PROFILES}")
    spec = load_spec(path)
    if hooks is not None:
        hooks.stage("loss analysis: x*, L, mu, Sigma(x*), V")
    if seed is None:
        seed = int(spec.algorithm.seed)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SpecError("seed", seed, "must be a non-negative integer", "pass e.g. --seed 1")
    budget = budget or Budget()
    pre = estimate_before_analysis(spec, profile)
    enforce(pre, budget, profile, workers=workers, fixes=_fixes(pre, profile))
    setting = build_setting(spec)
    checks = select_checks(build_checks(setting), only or list(spec.checks.run))
    cost = estimate_checks(setting, checks, profile)
    enforce(cost, budget, profile, workers=workers, fixes=_fixes(cost, profile))
    caps = _cap_notes(spec.algorithm, checks, profile)
    for note in caps:
        print(f"note: {note}", file=sys.stderr)
    table = applicability(setting)
    own = not hasattr(executor, "map")
    exe = (
        make_executor(executor or ("serial" if workers == 1 else "process"), workers, scheduler)
        if own
        else executor
    )
    meta = run_metadata(
        seed=seed,
        profile=profile,
        alpha=spec.checks.alpha,
        command=command or f"verify.usercheck.run_spec({str(path)!r})",
        executor=repr(exe),
        workers=workers,
        checks=[c.id for c in checks],
    )
    meta["user_spec"] = _spec_summary(setting, table)
    meta["cost_estimate"] = {
        "seconds": cost.seconds(workers),
        "peak_memory_gb": cost.memory / 1024**3,
        "budget": {"seconds": budget.seconds_for(profile), "memory_gb": budget.memory_gb},
        "notes": caps,
    }

    def execute(plots: Path | None) -> list:
        results = []
        if hooks is not None:
            hooks.start(checks)
        for c in checks:
            alpha = c.spec.alpha if isinstance(c, UserClaimCheck) else spec.checks.alpha
            results += run_checks(
                [c], profile=profile, seed=seed, alpha=alpha, executor=exe, plots_dir=plots,
                progress_factory=None if hooks is None else hooks.factory,
                on_result=None if hooks is None else hooks.result,
            )  # fmt: skip
        return results

    try:
        if out is None:
            import tempfile

            results = execute(Path(tempfile.mkdtemp(prefix="sdde-verify-check-")))
            return RunReport(results, meta, None)
        name = run_name or default_run_name(profile, seed)
        validate_out_root(out)  # a named error before the lock creates anything
        with StagingLock(out) as lock, UserReportWriter(out, name) as writer:
            lock.attach(writer.staging)
            writer.pdf = pdf
            results = execute(writer.plots_dir)
            report = RunReport(results, meta, None)
            writer.publish_with(
                report, preamble_markdown(setting, table), _preamble_html(setting, table)
            )
        return report
    finally:
        if own:
            exe.close()


def _cap_notes(alg: Any, checks: Sequence[Check], profile: str) -> list[str]:
    """Notes for spec values the profile caps (e.g. ``paths = 10**7`` in quick)."""
    notes = []
    for key in ("paths", "K"):
        used = sorted({int(c.params_for(profile).get(key, 0)) for c in checks} - {0})
        given = int(getattr(alg, key))
        if used and max(used) < given:
            notes.append(
                f"algorithm.{key} = {given} is capped to at most {max(used)} by the "
                f"{profile} profile (--profile full uses it)"
            )
    return notes


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command line of this process, for the report's metadata."""
    return "sdde-verify " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
