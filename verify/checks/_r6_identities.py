r"""Theorem 4.1 checks that are identities, not bounds over a grid (R6): the certified $V$
(`R6-V`) and the decomposition step (c) (`R6-proof-decomposition`). Registered through
:mod:`verify.checks.r6_thm41`."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np

from theory.claims.thm41 import THM41
from theory.roots import characteristic_roots
from verify.checks._r6 import CONVENTIONS, FLOAT_EPS, rhs_scale, settings
from verify.checks.base import Check, profile
from verify.context import RunContext
from verify.verdict import CheckResult, Hypothesis, Verdict

__all__ = ["Thm41ProofDecomposition", "Thm41V"]

RESULT = THM41.result


class Thm41ProofDecomposition(Check):
    r"""Step (c): $\mathbb E\|X-x^*\|^2 = \mathbb E\|X-\mathbb EX\|^2 + \|\mathbb EX-x^*\|^2$.

    A mathematical identity (Pythagoras in $L^2$: $\mathbb E[X-\mathbb EX]=0$). Checked (i)
    symbolically (SymPy, $d=3$, $X = m + Z$ with $\mathbb EZ=0$, $\mathbb EZZ^\top = C$, by
    linearity of expectation) and (ii) by exact enumeration of discrete laws with rational
    atoms and weights (`fractions.Fraction`, no rounding), both sides computed directly."""

    id = "R6-proof-decomposition"
    result = RESULT
    conventions = CONVENTIONS
    level = "proof-step"
    method = "symbolic"
    claim = "E||X - x*||^2 = E||X - E X||^2 + ||E X - x*||^2"
    claim_latex = r"\mathbb E\|X-x^*\|^2 = \mathbb E\|X-\mathbb EX\|^2 + \|\mathbb EX-x^*\|^2"
    quick = profile(rhs_scale=1.0, d=3, atoms=5, laws=20, data_seed=20180706)
    full = profile(rhs_scale=1.0, d=4, atoms=9, laws=200, data_seed=20180706)

    def hypotheses(self, ctx: RunContext) -> list[Hypothesis]:
        return []

    def run(self, ctx: RunContext) -> CheckResult:
        import sympy as sp

        p = ctx.params
        scale = rhs_scale(p)
        d = int(p["d"])
        m = sp.symbols(f"m0:{d}", real=True)
        xs = sp.symbols(f"x0:{d}", real=True)
        EZ = [0] * d  # E Z = 0 (definition of Z = X - E X)
        C = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"C{min(i, j)}{max(i, j)}", real=True))

        # E ||m + Z - x*||^2 expanded by linearity of E: E[(m_i - x_i + Z_i)^2]
        lhs = sum((m[i] - xs[i]) ** 2 + 2 * (m[i] - xs[i]) * EZ[i] + C[i, i] for i in range(d))
        rhs = C.trace() + sum((m[i] - xs[i]) ** 2 for i in range(d))
        sym_diff = sp.simplify(lhs - sp.nsimplify(scale) * rhs)
        # exact enumeration
        rng = np.random.default_rng(np.random.SeedSequence([int(p["data_seed"]), 6]))
        worst = Fraction(0)
        for _ in range(int(p["laws"])):
            k = int(p["atoms"])
            w = [Fraction(int(v), 1) for v in rng.integers(1, 10, k)]
            tot = sum(w)
            w = [v / tot for v in w]
            atoms = [
                [
                    Fraction(int(v), int(q))
                    for v, q in zip(rng.integers(-20, 21, d), rng.integers(1, 7, d))
                ]
                for _ in range(k)
            ]
            x_star = [Fraction(int(v), 3) for v in rng.integers(-9, 10, d)]
            mean = [sum(w[a] * atoms[a][i] for a in range(k)) for i in range(d)]
            e_sq = sum(
                w[a] * sum((atoms[a][i] - x_star[i]) ** 2 for i in range(d)) for a in range(k)
            )
            var = sum(w[a] * sum((atoms[a][i] - mean[i]) ** 2 for i in range(d)) for a in range(k))
            bias = sum((mean[i] - x_star[i]) ** 2 for i in range(d))
            right = Fraction(scale).limit_denominator(10**12) * (var + bias)
            worst = max(worst, abs(e_sq - right))
        ok = sym_diff == 0 and worst == 0
        res = self.from_exact(
            ctx,
            float(worst),
            0.0,
            tol=0.0,
            relation="eq",
            method="symbolic",
            details={
                "symbolic_difference": str(sym_diff),
                "enumeration_laws": int(p["laws"]),
                "enumeration_atoms": int(p["atoms"]),
                "enumeration_max_abs_difference": str(worst),
                "rhs_scale": scale,
            },
            message=(
                f"SymPy: lhs - {scale:g}*rhs simplifies to {sym_diff}; exact rational "
                f"enumeration of {p['laws']} laws: max |lhs - {scale:g}*rhs| = {worst}"
            ),
        )
        if not ok:
            res.verdict = Verdict.FAIL
        return res


class Thm41V(Check):
    r"""Hypothesis $V<0$: the certified $V$ of :func:`theory.roots.characteristic_roots`
    against the independent per-eigenvalue value $\max_i\operatorname{Re}W_0(-\lambda_i\tau)/
    \tau$ (mpmath `lambertw`, eigenvalues from `numpy.linalg.eigvalsh`), its sign against
    Hayes' criterion ($x'=-ax(t-\tau)$, $a>0$, is asymptotically stable iff $a\tau<\pi/2$, so
    $V<0 \iff \lambda_{\max}\tau<\pi/2$ for symmetric positive definite $\tilde A$), and the
    SPEC §4 reference $W_0(-1) = -0.3181315052047641353 + 1.3372357014306894089i$.
    Tolerance per row: $10^3\cdot2^{-53}\|\tilde A\|\max_i|W_0'(-\lambda_i\tau)|$ (the effect of
    the float eigenvalue error on $\beta = W_0(-\lambda\tau)/\tau$) $+ 10^{-13}$."""

    id = "R6-V"
    result = RESULT
    level = "proof-step"
    method = "exact"
    claim = "V = sup{Re beta : det(beta I + A_tilde e^{-beta tau}) = 0}, certified sign"
    claim_latex = (
        r"V = \sup\{\operatorname{Re}\beta:\det(\beta I+\tilde Ae^{-\beta\tau})=0\}"
        r" = \max_i \operatorname{Re}W_0(-\lambda_i\tau)/\tau"
    )
    conventions = CONVENTIONS[:1]
    quick = profile(
        d=3,
        n=40,
        data_seed=20180706,
        kappas=(1.0, 100.0),
        a_taus=(0.05, 0.3678794411714423, 1.0, 1.55, 1.5707, 1.6),
        rhs_scale=1.0,
    )
    full = profile(
        d=5,
        n=100,
        data_seed=20180706,
        kappas=(1.0, 10.0, 1000.0),
        a_taus=(0.01, 0.05, 0.3, 0.3678794411714423, 1.0, 1.4, 1.55, 1.5707, 1.5708, 1.6, 3.0),
        rhs_scale=1.0,
    )

    def run(self, ctx: RunContext) -> CheckResult:
        p = ctx.params
        scale = rhs_scale(p)
        rows = []
        # SPEC §4 reference: s + e^{-s} = 0, i.e. A = [[1]], tau = 1
        ref = characteristic_roots(np.array([[1.0]]), 1.0)
        ref_V = mpmath.mpf("-0.3181315052047641353")
        rows.append(
            {
                "kappa": "reference A=[[1]]",
                "L_tau": 1.0,
                "V_certified": float(ref.V),
                "V_reference": float(ref_V) * scale,
                "abs_diff": float(abs(ref.V - ref_V * scale)),
                "tol": 1e-15,
                "is_V_negative": ref.is_V_negative,
                "hayes_V_negative": True,
            }
        )
        for s in settings(p):
            with mpmath.workdps(30):
                betas = [
                    mpmath.lambertw(-mpmath.mpf(float(lam)) * mpmath.mpf(s.tau)) / s.tau
                    for lam in s.eigs
                ]
                V_ref = max(b.real for b in betas)
                dW = []
                for lam in s.eigs:
                    z = -mpmath.mpf(float(lam)) * s.tau
                    W = mpmath.lambertw(z)
                    dW.append(abs(W / (z * (1 + W))) if abs(1 + W) > 1e-12 else mpmath.inf)
            slope = float(max(dW))
            tol = 1e3 * FLOAT_EPS * s.L * slope + 1e-13 if math.isfinite(slope) else 1e-6
            rows.append(
                {
                    "kappa": s.kappa,
                    "L_tau": s.a_tau,
                    "tau": s.tau,
                    "V_certified": s.V,
                    "V_reference": float(V_ref) * scale,
                    "abs_diff": float(abs(mpmath.mpf(s.V) - V_ref * scale)),
                    "tol": tol,
                    "is_V_negative": s.is_V_negative,
                    "hayes_V_negative": bool(s.L * s.tau < math.pi / 2),
                    "certified": bool(s.roots.certified),
                }
            )
        value_bad = [r for r in rows if not r["abs_diff"] <= r["tol"]]
        sign_bad = [
            r
            for r in rows
            if r["is_V_negative"] is not None and r["is_V_negative"] != r["hayes_V_negative"]
        ]
        undecided = [r for r in rows if r["is_V_negative"] is None]
        w = max(range(len(rows)), key=lambda i: rows[i]["abs_diff"] - rows[i]["tol"])
        res = self.from_exact(
            ctx,
            rows[w]["V_certified"],
            rows[w]["V_reference"],
            tol=rows[w]["tol"],
            relation="eq",
            details={
                "grid": rows,
                "value_mismatches": len(value_bad),
                "sign_mismatches": len(sign_bad),
                "undecidable": len(undecided),
                "rhs_scale": scale,
            },
            message=(
                f"{len(value_bad)} of {len(rows)} V values differ from max_i Re W0(-l_i tau)/tau "
                f"beyond tolerance; {len(sign_bad)} certified signs contradict Hayes' "
                f"l_max tau < pi/2; {len(undecided)} undecidable (reported, not failures)"
            ),
        )
        if sign_bad:
            res.verdict = Verdict.FAIL
        return res
