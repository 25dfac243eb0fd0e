r"""The derivation document: one self-contained LaTeX file produced from the code.

Every displayed formula of a derivation is ``sympy.latex`` of an expression computed by
:mod:`theory.ito`, :mod:`theory.schemes` or :mod:`theory.energy`; only prose and the quoted
statements of the paper are typed by hand. Long sums are broken over ``align*`` rows by
:func:`split_sum` (no ``breqn``: the document needs only ``amsmath``/``amssymb`` from Debian's
``texlive-latex-base``).

Entry point: :func:`write_document`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import sympy as sp

from theory import energy as E
from theory import fundamental
from theory.constants import thm32_lines, thm34_lines, thm41_constants, thm42_bound
from theory.errors import InputError
from theory.ito import LATEX_NAMES, SDDE, ito_differential, state_symbols
from theory.ou import ou_from_regression
from theory.roots import characteristic_roots
from theory.schemes import SCHEDULES, IdentityCheck, check_schedule, em_step_eq6, step_eq5

__all__ = [
    "LatexBuildError",
    "build_document",
    "overfull_hbox_widths",
    "section_r1",
    "section_r7",
    "section_r8",
    "split_sum",
    "write_document",
]

# The worked example of :func:`section_worked_example`: the paper's Section 5 problem.
EXAMPLE = {
    "eta": 0.005,  # learning rate (Section 5)
    "l": 10,  # constant delay (Section 5)
    "x0": 4.0,  # xi = 4 on [-tau, 0] (Section 5)
    "K": 200,  # iterations for the Thm 3.2/3.4 recursions (eta = 1/K there)
    "D": 5.0,  # Thm 4.2 ball radius (hypothesis; paths from x0 = 4 towards x* = 0)
}


class LatexBuildError(RuntimeError):
    """pdflatex failed; the message carries the error lines of the log."""


# ---------------------------------------------------------------------------------------------
# Printing helpers

_NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"^xs_(\d+)$", r"x^*_{\1}"),
    (r"^x_k(\d+)$", r"x_{k,\1}"),
    (r"^g(\d+)$", r"\\nabla_{\1} F(x_{k-l_k})"),
    (r"^z(\d+)$", r"z_{k,\1}"),
    (r"^eta_0$", r"\\eta_0"),
)


def _names(expr: sp.Basic) -> dict[sp.Symbol, str]:
    names = {s: n for s, n in LATEX_NAMES.items()}
    for s in sp.sympify(expr).free_symbols:
        for pattern, repl in _NAME_RULES:
            if re.match(pattern, s.name):
                names[s] = re.sub(pattern, repl, s.name)
    return names


def tex(expr: sp.Basic) -> str:
    """``sympy.latex`` with the paper's names for the abstract scalars and R1 symbols."""
    return sp.latex(expr, symbol_names=_names(expr), ln_notation=True)


def _visible_length(s: str) -> int:
    """Rough printed width of a LaTeX math string, in characters."""
    frac = re.compile(r"\\frac\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
    while True:
        m = frac.search(s)
        if not m:
            break
        longer = max(m.group(1), m.group(2), key=lambda x: _visible_length(x))
        s = s[: m.start()] + longer + s[m.end() :]
    s = re.sub(r"\\(left|right|operatorname|mathcal|mathbb)", "", s)
    s = re.sub(r"\\[a-zA-Z]+", "x", s)
    s = re.sub(r"[{}^_]", "", s)
    return len(s)


def split_sum(lhs: str, expr: sp.Expr, relation: str = "=", width: int = 58) -> str:
    r"""An ``align*`` block ``lhs relation t_1 + t_2 ...`` broken into rows of about `width`.

    The terms are ``expr.as_ordered_terms()``, each printed with :func:`tex`; continuation rows
    start with ``&\quad``.
    """
    expr = sp.sympify(expr)
    terms = expr.as_ordered_terms() if isinstance(expr, sp.Add) else [expr]
    rows: list[str] = []
    current = ""
    for i, term in enumerate(terms):
        piece = tex(term)
        if i > 0:
            piece = f"- {piece[1:].lstrip()}" if piece.startswith("-") else f"+ {piece}"
        if current and _visible_length(current + piece) > width:
            rows.append(current)
            current = piece
        else:
            current = f"{current} {piece}".strip()
    rows.append(current)
    body = [f"{lhs} &{relation} {rows[0]}"] + [f"&\\quad {r}" for r in rows[1:]]
    return "\\begin{align*}\n" + " \\\\\n".join(body) + "\n\\end{align*}\n"


class _Ledger:
    """The verification evidence of one section, collected as the section is written and
    printed once at its end as a compact table (instead of a sentence after every identity).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[str, IdentityCheck]] = []

    def ref(self, check: IdentityCheck, title: str | None = None) -> str:
        """Record `check`; return the prose for the text ("holds (V3)" or the failure)."""
        self.rows.append((title if title is not None else _check_title(check.name), check))
        tag = f"V{len(self.rows)}"
        if check.holds:
            return f"this holds identically ({tag})"
        return f"this does NOT hold ({tag}); the simplified difference is\n" + split_sum(
            r"\text{lhs}-\text{rhs}", check.difference
        )

    def table(self) -> str:
        if not self.rows:
            return ""
        n_points = sorted({c.n_points for _, c in self.rows})
        body = "".join(
            f"V{i} & {title} & {'$0$' if c.holds else 'non-zero'} & "
            f"{'$0$' if c.holds_numerically else 'non-zero'} \\\\\n"
            for i, (title, c) in enumerate(self.rows, 1)
        )
        self.rows = []
        pts = " or ".join(str(n) for n in n_points)
        return (
            "\\paragraph{Verification.} Each identity was simplified symbolically with exact "
            f"(rational) arithmetic and evaluated exactly at {pts} random rational points; "
            "SymPy's numerical verification agrees in every case.\n\n"
            "\\begin{center}\\begin{tabular}{lp{0.62\\textwidth}cc}\n"
            "& identity & difference & at points \\\\ \\hline\n"
            f"{body}\\end{{tabular}}\\end{{center}}\n"
        )


_LEDGER = _Ledger()


def _result(check: IdentityCheck, title: str | None = None) -> str:
    """The short verdict of an identity in the text; the evidence goes to the section's
    verification table (`_LEDGER`)."""
    return _LEDGER.ref(check, title)


#: Check names of theory.schemes / theory.energy in the paper's notation.
_TITLES: tuple[tuple[str, str], ...] = (
    (r"^(.*): U\(k delta\) = u_k$", r"\1: $U(k\\delta)=u_k$"),
    (r"^(.*): t_k - theta\(t_k\) = \(k - l_k\) delta$", r"\1: $t_k-\\theta(t_k)=(k-l_k)\\delta$"),
    (
        r"^(.*): EM step of Eq\. \(6\) = Eq\. \(5\), component (\d)$",
        r"\1: Euler--Maruyama step of (6) equals (5), component \2",
    ),
    (
        r"^(Thm 4\.2|Cor 4\.3): Itô dE\[energy\]/dt \(vector form\) = paper's first equality$",
        r"\1: $d\\,\\mathbb{E}\\mathcal{E}/dt$ from Itô's formula equals the printed first "
        r"equality",
    ),
    (
        r"^(Thm 4\.2|Cor 4\.3): Itô generator at d=2 = paper's first equality$",
        r"\1: the same from the generator, coordinates written out at $d=2$",
    ),
    (r"^closed form solves p' = -a p/t \+ c/t\^2$", r"closed form solves $p'=-ap/t+c/t^2$"),
    (r"^closed form: p\(1\) = p_1$", r"closed form: $p(1)=p_1$"),
    (r"^resonant a=1 form solves the ODE$", r"resonant form ($a=1$) solves the equation"),
    (r"^resonant form: p\(1\) = p_1$", r"resonant form: $p(1)=p_1$"),
    (
        r"^closed form = dsolve at a=(\d+)$",
        r"closed form equals SymPy's general solution at $a=\1$",
    ),
    (
        r"^quadratic F, tau=0: .*",
        r"quadratic $F$, $\\tau=0$: $\\dot P=-\\frac{QP+PQ}{\\mu t}+\\frac{\\delta}{\\mu^2t^2}"
        r"\\sigma\\sigma^T$ at $d=2$",
    ),
)


def _schedule_label(statement: str) -> str:
    """``(a)`` from ``"(a) constant learning rate …"``; ``Thm 4.2`` from ``"Thm 4.2: …"``."""
    if statement.startswith("("):
        return statement.split(")")[0] + ")"
    return statement.split(":")[0]


def _check_title(name: str) -> str:
    """A check's name typeset in the paper's notation (escaped text if no rule matches)."""
    for pattern, repl in _TITLES:
        if re.match(pattern, name):
            return re.sub(pattern, repl, name)
    return escape(name)


#: Names of the evaluable proof steps of Thm 4.2 / Cor 4.3 (theory.energy.proof_steps).
_STEP_TITLES = {
    "ito": "First equality (Itô's formula)",
    "first_inequality": "First inequality",
    "nonpositive": "Second inequality",
    "energy_decreases": "The energy decreases",
    "final_bound": "Final bound",
}


_FLOAT = re.compile(r"(?<![\w.\\{])(\d+(?:\.\d+)?)[eE]([+-]?)0*(\d+)(?!\w|\.\d)")


def typeset_numbers(src: str) -> str:
    r"""Python float notation typeset: ``1.25e-05`` becomes ``1.25\times10^{-5}`` (valid in
    text and in maths, via ``\ensuremath``)."""

    def repl(m: re.Match[str]) -> str:
        mant, sign, exp = m.group(1), m.group(2), m.group(3)
        exp = ("-" if sign == "-" else "") + exp
        if mant in ("1", "1.0"):
            return f"\\ensuremath{{10^{{{exp}}}}}"
        return f"\\ensuremath{{{mant}\\times10^{{{exp}}}}}"

    return _FLOAT.sub(repl, src)


#: Row labels and method names printed by theory.constants / theory.roots /
#: theory.fundamental, in words a reader of the paper uses.
_RELABEL = (
    ("\nexact q & ", "\nexact recursion (delays drawn from $q$) & "),
    ("\nq le 1 & ", "\nevery $q_j$ bounded by $1$ & "),
    ("\nsum recursion & ", "\nsummed recursion & "),
    ("\nclosed form & ", "\nclosed form of the sum & "),
    ("\nlog bound & ", "\nbound with $\\ln^2(1+g)$ & "),
    ("\nexp bound & ", "\nbound with $e^{gK}$ & "),
    ("\nfinal & ", "\nfinal bound $KP+4Pe^{gK}/g$ & "),
    ("\nexact & ", "\nexact recursion & "),
    ("\nfirst & ", "\nfirst line & "),
    ("\nline c as printed & ", "\nline (c) as printed & "),
    ("\nline c & ", "\nline (c) with $\\Phi$ & "),
    ("\nline d & ", "\nline (d) & "),
    ("\nline e & ", "\nline (e) & "),
    ("\nline f & ", "\nline (f) & "),
    ("\ninitial sum & ", "\n$A_1+\\dots+A_l$ & "),
    ("\nblock & ", "\none block of $l$ steps & "),
    (
        "Cross-check by \\texttt{findroot} on the full determinant",
        "Cross-check by Newton's method on the full determinant",
    ),
    ("eigenvalues by mp.eigsy with", "eigenvalues by a symmetric eigensolver with"),
    ("eigenvalues by mp.eig with", "eigenvalues by an eigensolver with"),
    ("(\\texttt{theory.fundamental.method\\_of\\_steps\\_symbolic}: ", "("),
)


def _relabel(src: str) -> str:
    for old, new in _RELABEL:
        src = src.replace(old, new)
    return src


_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\~{}",
    "<": r"$<$",
    ">": r"$>$",
}


def escape(text: str) -> str:
    """Escape plain text (e.g. a check's name) for LaTeX."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _itemize(items: Iterable[str]) -> str:
    return "\\begin{itemize}\n" + "".join(f"\\item {i}\n" for i in items) + "\\end{itemize}\n"


# ---------------------------------------------------------------------------------------------
# Sections


def section_conventions() -> str:
    """SPEC §1 conventions used by the derivations below."""
    return "\\section{Conventions}\n" + _itemize(
        [
            r"$F(x)=\frac1n\sum_i f_i(x)$ (the average, Eq.~(1)); $x^*=\arg\min F$.",
            r"Gaussian surrogate (Eq.~(5)): minibatch noise replaced by $\sigma z_k$, "
            r"$\sigma\sigma^T=\Sigma/b$, $z_k\sim N(0,I)$.",
            r"SDDE (Eq.~(6)) with diffusion exactly as printed, "
            r"$\frac{\eta}{\delta}\sqrt{\delta}\,U(t)\,\sigma$; $\theta(t)=l_k\delta$ on "
            r"$[k\delta,(k+1)\delta)$, $\tau=l\delta$, $U(k\delta)=u_k$; "
            r"Euler--Maruyama increments $B(t_{k+1})-B(t_k)=\sqrt{\delta}\,z_k$.",
            r"Itô calculus throughout (not Stratonovich). The delayed state "
            r"$X(t-\theta(t))$ is a separate (adapted) argument of the coefficients and is "
            r"not differentiated.",
            r"Theorem 4.2: $D$ is the radius of a ball that must contain the paths; "
            r"$H=\mathbb{E}\operatorname{tr}(\sigma\sigma^T)+2\mu LD^2$ (smallest admissible) "
            r"unless given. $\sigma$ is evaluated at $x^*$ where the paper treats it as "
            r"constant.",
            r"All symbolic arithmetic is exact (rationals and radicals); each identity is "
            r"also evaluated exactly at random rational points.",
        ]
    )


def section_ito() -> str:
    """The generator and a worked example computed by :mod:`theory.ito`."""
    t = sp.Symbol("t", positive=True)
    a, s = sp.symbols("a s", positive=True)
    (x,) = state_symbols(1)
    ou = SDDE(t=t, x=(x,), y=(), drift=sp.Matrix([-a * x]), diffusion=sp.Matrix([[s]]))
    d_ou = ito_differential(x**2, ou)
    return (
        "\\section{Itô's formula for SDDEs}\n"
        "For $dX=b(t,X(t),X(t-\\theta(t)))\\,dt+g(t,X(t),X(t-\\theta(t)))\\,dB(t)$ and "
        "$f\\in C^{1,2}$,\n"
        "\\[ df(t,X(t))=\\Bigl(\\partial_tf+\\nabla f\\cdot b+\\tfrac12\\operatorname{tr}"
        "(gg^T\\nabla^2f)\\Bigr)dt+\\nabla f^Tg\\,dB(t). \\]\n"
        "Itô's formula is applied to $f(t,X(t))$ for the Itô process $X$ whose coefficient "
        "processes $b(\\cdot)$, $g(\\cdot)$ are adapted (they use $X(t-\\theta(t))$ with "
        "$t-\\theta(t)\\le t$); it differentiates $f$ in its own arguments only, so the "
        "delayed state enters only through $b$ and $g$. In the code the delayed state has its "
        "own symbols $y_1,\\dots,y_d$ on which $\\nabla,\\nabla^2$ do not act.\n\n"
        "Example computed by the code, $dX=-aX\\,dt+s\\,dB$, $f=x^2$:\n"
        f"\\[ d(X^2) = \\Bigl({tex(d_ou.dt)}\\Bigr)dt + {tex(d_ou.dB[0, 0])}\\,dB. \\]\n"
    )


def section_r1() -> str:
    """R1: Eq. (4) → (5) → (6), schedules (a), (b), (c) and Thm 4.2."""
    out = [
        "\\section{R1: from ASGD (Eq.~(4)) to the SDDE (Eq.~(6))}\n",
        "\\paragraph{Statement (Section 3.1).} Eq.~(5), "
        "$x_{k+1}=x_k-\\eta u_k\\nabla F(x_{k-l_k})+\\eta u_k\\sigma(x_{k-l_k})z_k$, "
        "is viewed as an Euler--Maruyama approximation of Eq.~(6), "
        "$dX=-\\frac{\\eta}{\\delta}U(t)\\nabla F(X(t-\\theta(t)))dt+\\frac{\\eta}{\\delta}"
        "\\sqrt{\\delta}U(t)\\sigma(X(t-\\theta(t)))dB(t)$, $\\theta(t)=l_k\\delta$, with "
        "the time-step choices (a) $\\delta=\\eta_0$, $u_k=1$; (b) $u_k=1/k$, "
        "$U(t)=\\delta/t$, any $\\delta$; (c) $\\delta=\\eta_0$, $u_k=1/\\sqrt{k}$, "
        "$U(t)=\\sqrt{\\delta}/\\sqrt{t}$; and, in the proof of Theorem 4.2, $\\eta=1$, "
        "$U(t)=\\delta/(\\mu t)$.\n\n",
        "\\paragraph{Derivation.} One Euler--Maruyama step on $[t_k,t_{k+1}]$, $t_k=k\\delta$, "
        "$\\Delta B=\\sqrt{\\delta}z_k$, computed at $d=2$ with generic symbols for "
        "$\\nabla F(x_{k-l_k})$, $\\sigma$ and $z_k$ (first component shown; both are "
        "checked).\n\n",
    ]
    for sched in SCHEDULES:
        res = check_schedule(sched, d=2)
        dl = sp.sympify(sched.delta)
        t_k = sp.Symbol("k", positive=True, integer=True) * dl
        x_k = sp.Matrix(sp.symbols("x_k1:3", real=True))
        grad = sp.Matrix(sp.symbols("g1:3", real=True))
        z = sp.Matrix(sp.symbols("z1:3", real=True))
        sigma = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"sigma_{i + 1}{j + 1}", real=True))
        lhs = em_step_eq6(x_k, grad, sigma, z, sched.eta, sched.U, dl, t_k)[0]
        rhs = step_eq5(x_k, grad, sigma, z, sched.eta, sched.u)[0]
        u_check = res.checks[0]
        U_k = (
            sp.sympify(sched.U)
            .subs(sp.Symbol("delta", positive=True), dl)
            .subs(sp.Symbol("t", positive=True), t_k)
        )
        drift_factor = -(sched.eta / dl) * U_k
        diffusion_factor = (sched.eta / dl) * sp.sqrt(dl) * U_k
        out.append(f"\\subsection*{{Schedule {sched.statement}}}\n")
        out.append(
            f"$U(k\\delta) = {tex(u_check.lhs)}$ and $u_k = {tex(u_check.rhs)}$: "
            + _result(u_check)
            + ".\n\nCoefficients of Eq.~(6) at $t_k$: "
            f"$-\\frac{{\\eta}}{{\\delta}}U(t_k) = {tex(drift_factor)}$, "
            f"$\\frac{{\\eta}}{{\\delta}}\\sqrt{{\\delta}}U(t_k) = {tex(diffusion_factor)}$; "
            "the step $X_k + (\\cdot)\\nabla F\\,\\delta + (\\cdot)\\sigma\\sqrt{\\delta}z_k$ "
            "evaluates to\n"
        )
        out.append(split_sum("X_{k+1,1}", lhs, "="))
        out.append("Eq.~(5):\n" + split_sum("x_{k+1,1}", rhs, "="))
        failing = [c for c in res.checks[1:] if not c.holds]
        if failing:
            out.append("".join(_check_title(c.name) + ": " + _result(c) + ".\n\n" for c in failing))
        else:
            out.append(
                "Delay index $t_k-\\theta(t_k)=(k-l_k)\\delta$ and EM step $=$ Eq.~(5) in both "
                "components: "
                + _result(
                    res.checks[2],
                    "Euler--Maruyama step of (6) equals (5), "
                    f"schedule {_schedule_label(sched.statement)}",
                )
                + ".\n\n"
            )
    return "".join(out)


def _proof_steps_tex(corollary: bool) -> str:
    out = []
    for step in E.proof_steps(corollary):
        rel = "=" if step.relation == "=" else "\\le"
        title = _STEP_TITLES.get(step.name, step.name.replace("_", " ").capitalize())
        out.append(f"\\paragraph{{{title}.}} ")
        out.append(step.description_tex + "\n")
        out.append(split_sum(r"\text{left}", step.left, "="))
        out.append(split_sum(r"\text{right}", step.right, "="))
        out.append(
            f"Claim: left ${rel}$ right"
            + (" in expectation over paths" if step.in_expectation else " identically")
            + ".\n\n"
        )
    return "".join(out)


def _energy_section(corollary: bool) -> str:
    name = "Corollary 4.3" if corollary else "Theorem 4.2"
    rid = "R8" if corollary else "R7"
    alpha, beta = E.thm42_coefficients()
    K = E.K_constant(corollary)
    out = [f"\\section{{{rid}: {name} (energy function)}}\n"]
    if corollary:
        out.append(
            "\\paragraph{Statement.} For any $F\\in\\mathcal{F}_\\infty$ with smooth coefficient "
            "$L$, let $X(t)$ be the unique global solution to\n"
            "\\[dX(t)=-\\frac{\\eta}{\\delta}U(t)\\nabla F(X(t))dt+"
            "\\frac{\\eta}{\\delta}\\sqrt{\\delta}U(t)\\sigma(X(t))dB(t)\\qquad(8)\\]\n"
            "with $X(1)=x_0$ and "
            "$X(t)\\in d(x_0,D)$. If $F$ is strongly convex, $\\eta_k=\\frac{1}{\\mu k}$ and "
            "$H\\ge\\mathbb{E}\\operatorname{tr}(\\sigma\\sigma^T)+2\\mu LD^2$, then for $t>1$, "
            "\\[\\mathbb{E}\\|X(t)-x^*\\|^2\\le\\frac{(\\delta+1)H\\ln t}{(t-1)\\mu^2}.\\]\n"
        )
    else:
        out.append(
            "\\paragraph{Statement.} For any $F\\in\\mathcal{F}_\\infty$ with smooth coefficient "
            "$L$, let $X(t)$ be the unique global solution to (6) with $X(s)=\\xi(s)$ on "
            "$[-\\tau,0]$ and $X(t)\\in d(x_0,D)$. If $F$ is strongly convex, "
            "$\\eta_k=\\frac{1}{\\mu k}$ and $H\\ge\\mathbb{E}\\operatorname{tr}(\\sigma\\sigma^T)"
            "+2\\mu LD^2$, then for $t>1$, \\[\\mathbb{E}\\|X(t)-x^*\\|^2\\le\\frac{(\\delta+1)"
            "(H+2L^2D^2\\tau)\\ln t}{(t-1)\\mu^2}.\\]\n"
        )
    out.append(
        "\\paragraph{SDDE.} Eq.~(6) with $\\eta=1$, $U(t)=\\delta/(\\mu t)$ gives "
        f"$dX=\\alpha\\,\\nabla F(X(t-\\theta))dt+\\beta\\,\\sigma\\,dB$ with "
        f"$\\alpha={tex(alpha)}$, $\\beta={tex(beta)}$"
        + (" and $\\theta\\equiv0$" if corollary else "")
        + ". "
        + (
            "Both factors match the printed SDDE. "
            if all(c.holds for c in E.thm42_sdde_checks())
            else "The factors do NOT match the printed SDDE. "
        )
        + "Below $G=\\nabla F(X(t-\\theta(t)))$"
        + (" $=\\nabla F(X(t))$" if corollary else "")
        + ".\n\n"
    )
    if not corollary:
        out.append(
            "\\paragraph{Remark (start time).} With $U(t)=\\delta/(\\mu t)$ the coefficients "
            "are singular at $t=0$ ($\\int_0 dt/t=\\infty$), so the SDDE cannot be started "
            "from the initial segment on $[-\\tau,0]$ as stated; the proof only uses $t\\ge1$ "
            "and $\\mathcal{E}(1)=0$ for every $X(1)$. We read the theorem as started at "
            "$t=1$ (Corollary 4.3 says so explicitly).\n\n"
        )
    out.append("\\paragraph{Energy.}\n" + split_sum(r"\mathcal{E}(t)", E.energy(corollary)))
    out.append(
        "\\paragraph{Itô derivation (code).} With $\\varphi=t-1$, "
        f"$\\psi={tex(-K * sp.log(E.t) / (2 * E.mu**2))}$, the generator of "
        "$\\frac{\\varphi}{2}\\|X-x^*\\|^2+\\psi$ gives, after taking expectations (the "
        "$dB$ term is a martingale under the boundedness hypothesis),\n"
        + split_sum(r"\frac{d\,\mathbb{E}\mathcal{E}}{dt}", E.energy_rate_vector_form(corollary))
        + "where each abstract scalar stands for its expectation. The paper prints\n"
        + split_sum(r"\frac{d\,\mathbb{E}\mathcal{E}}{dt}", E.energy_rate_paper(corollary))
    )
    for check in E.ito_equality_checks(corollary):
        out.append(_check_title(check.name) + ": " + _result(check) + ".\n\n")
    out.append("\\paragraph{Proof steps (evaluable).}\n" + _proof_steps_tex(corollary))
    out.append(
        "\\paragraph{Certificate for the second inequality.} With "
        "$H=\\operatorname{tr}(\\sigma\\sigma^T)+2\\mu LD^2+h$ and $\\theta=\\tau-s$ "
        "($h,s\\ge0$), $-2t\\mu^2\\cdot(\\text{right side of the first inequality})$ equals\n"
        + split_sum("", E.nonpositive_certificate(corollary))
        + "a polynomial with non-negative coefficients in non-negative quantities, so the "
        "step holds whenever the hypotheses on $H$ and $\\theta\\le\\tau$ hold.\n\n"
    )
    return "".join(out)


def section_r7() -> str:
    """R7: Theorem 4.2."""
    return _energy_section(corollary=False)


def section_r8() -> str:
    """R8: Corollary 4.3 plus the exact quadratic reference."""
    derived, _, ode_check = E.quadratic_moment_ode(d=2)
    generic, resonant = E.quadratic_msd_expr()
    out = [_energy_section(corollary=True)]
    out.append(
        "\\subsection*{Exact reference: quadratic $F$, constant $\\sigma$, $\\tau=0$}\n"
        "For $F=\\frac12(x-x^*)^TQ(x-x^*)$, Itô's formula for $y_iy_j$ ($y=X-x^*$) and "
        "expectation ($P_{ij}=\\mathbb{E}y_iy_j$) give, computed by the code at $d=2$,\n"
        + split_sum("\\dot P_{11}", derived[0, 0])
        + split_sum("\\dot P_{12}", derived[0, 1])
        + split_sum("\\dot P_{22}", derived[1, 1])
        + "that is $\\dot P=-\\frac{1}{\\mu t}(QP+PQ)+\\frac{\\delta}{\\mu^2t^2}\\sigma\\sigma^T$: "
        + _result(ode_check)
        + "\n\nIn the eigenbasis of $Q$ (eigenvalue $q$, $s=(V^T\\sigma\\sigma^TV)_{ii}$, "
        "$p(1)=p_1$) each diagonal entry solves $p'=-\\frac{2q}{\\mu t}p+\\frac{\\delta s}"
        "{\\mu^2t^2}$, with closed form\n"
        + split_sum("p(t)", generic)
        + "and, when $2q=\\mu$,\n"
        + split_sum("p(t)", resonant)
        + "with $\\mathbb{E}\\|X(t)-x^*\\|^2=\\sum_ip_i(t)$.\n\n"
    )
    out.append(
        _itemize(_check_title(c.name) + ": " + _result(c) + "." for c in E.quadratic_msd_checks())
    )
    return "".join(out)


def section_worked_example() -> str:
    r"""R5, R6 and the explicit constants on the paper's Section 5 problem.

    $F(x) = \tfrac12\bigl(\tfrac12(x+1)^2 + \tfrac12(x-1)^2\bigr)$ (the average, SPEC §1):
    $\nabla F = x$, $\tilde A = 1$, $x^* = 0$, single-sample noise $\pm1$, $b = 1$, so
    $\Sigma(x^*) = 1$; $\eta = \delta = 0.005$, $l = 10$, $\tau = l\delta$, $\xi = 4$.
    The subsections are produced by :mod:`theory.ou`, :mod:`theory.roots` and
    :mod:`theory.constants`.
    """
    eta, l, x0 = EXAMPLE["eta"], EXAMPLE["l"], EXAMPLE["x0"]
    tau = l * eta
    A_rows = np.array([[1.0], [1.0]])  # F = (1/2n)||A x - B||^2 with n = 2
    B = np.array([-1.0, 1.0])
    A_tilde = A_rows.T @ A_rows / 2
    ou = ou_from_regression(A_rows, B, 1, eta, np.array([x0]))
    sigma_sq = float(np.trace(ou.GGt))
    roots = characteristic_roots(A_tilde, tau)
    V = float(roots.V)
    lam = -V / 2
    thm41 = thm41_constants(A_tilde, tau, lam, eta * tau**2, abs(x0), sigma_sq, V=V)
    K = EXAMPLE["K"]
    Phi = 2 * np.sqrt(sigma_sq)  # Phi = sqrt(tr Sigma) + sqrt(tr Sigma), b = 1
    thm32 = thm32_lines(K, 1 / K, 1.0, l, Phi / K, Phi=Phi)
    thm34 = thm34_lines(K, 1 / K, 1.0, l, Phi, 1.0)
    thm42 = thm42_bound(eta, 1.0, 1.0, EXAMPLE["D"], tau, sigma_sq)
    intro = (
        "\\section{R5, R6 and explicit constants: the Section 5 problem}\n"
        "Worked example: $F(x)=\\frac12\\bigl(\\frac12(x+1)^2+\\frac12(x-1)^2"
        "\\bigr)$ (the average, SPEC \\S1), so $\\nabla F=x$, $\\tilde A=1$, $x^*=0$, "
        "single-sample gradient noise $\\pm1$, $b=1$, $\\Sigma(x^*)="
        f"{sigma_sq:g}$; $\\eta=\\delta={eta:g}$, $l={l}$, $\\tau=l\\delta={tau:g}$, "
        f"$\\xi\\equiv{x0:g}$. Theorem 4.1 uses $\\lambda=-V/2$ and "
        "$\\epsilon=\\eta\\tau^2$; Theorems 3.2/3.4 use "
        f"$K={K}$, $\\eta=1/K$, $L=1$, $\\Phi=2\\sqrt{{\\operatorname{{tr}}\\Sigma}}$; "
        f"Theorem 4.2 uses $\\mu=L=1$ and the ball radius $D={EXAMPLE['D']:g}$ (a hypothesis "
        "on the paths, chosen to contain $\\xi$ and $x^*$).\n\n"
    )
    parts = [ou, roots, thm41, thm32, thm34, thm42]
    gamma_section = fundamental.latex_section(float(A_tilde[0, 0]), tau)
    return intro + gamma_section + "\n".join(p.latex_section() for p in parts) + "\n"


def build_document() -> str:
    """The complete LaTeX source."""
    preamble = (
        "\\documentclass[10pt]{article}\n"
        "\\usepackage{amsmath,amssymb}\n"
        "\\setlength{\\textwidth}{16cm}\\setlength{\\oddsidemargin}{0.2cm}"
        "\\setlength{\\evensidemargin}{0.2cm}\\setlength{\\textheight}{23cm}"
        "\\setlength{\\topmargin}{-1cm}\n"
        "\\allowdisplaybreaks\n"
        "\\title{sdde-verify: symbolic derivations}\n"
        "\\author{Generated by sdde-verify}\n"
        "\\date{}\n"
        "\\begin{document}\n\\maketitle\n"
        "Every displayed formula of a derivation below is computed symbolically (SymPy, "
        "exact arithmetic) and printed from the computed expression; only prose and the "
        "quoted statements of He, Meng, Chen, Ma, Liu, \\emph{Differential Equations for "
        "Modeling Asynchronous Algorithms}, are typed by hand. Each section ends with a table "
        "of the identities it verified (V1, V2, \\dots).\n\n"
    )
    _LEDGER.rows = []
    body = []
    for section in (
        section_conventions,
        section_ito,
        section_r1,
        section_r7,
        section_r8,
        section_worked_example,
    ):
        body.append(section() + _LEDGER.table())
    return typeset_numbers(_relabel(preamble + "".join(body))) + "\\end{document}\n"


_OVERFULL = re.compile(r"Overfull \\hbox \(([\d.]+)pt too wide\)")


def overfull_hbox_widths(log: str) -> list[float]:
    """Widths (pt) of every ``Overfull \\hbox`` reported in a pdflatex log."""
    return [float(w) for w in _OVERFULL.findall(log)]


def _error_excerpt(log: str, context: int = 6) -> str:
    lines = log.splitlines()
    hits = [i for i, line in enumerate(lines) if line.startswith("!")]
    if not hits:
        return "\n".join(lines[-30:])
    return "\n".join("\n".join(lines[i : i + context]) for i in hits[:5])


def write_document(out_dir: Path, pdf: bool = False) -> Path:
    """Write ``sdde-derivations.tex`` to `out_dir` (and the PDF + log with `pdf=True`).

    With `pdf=True` runs ``pdflatex -interaction=nonstopmode -halt-on-error`` twice in a
    temporary directory and copies ``sdde-derivations.pdf`` and ``.log`` into `out_dir`.

    Returns:
        The path of the ``.tex`` file (the PDF, if built, is ``path.with_suffix(".pdf")``).

    Raises:
        InputError: `out_dir` exists and is not a directory.
        LatexBuildError: pdflatex is missing or reported an error (message: log excerpt).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("out_dir", str(out_dir), "is not a directory", "pass a directory path")
    out_dir.mkdir(parents=True, exist_ok=True)
    source = build_document()
    tex_path = out_dir / "sdde-derivations.tex"
    tex_path.write_text(source, encoding="utf-8")
    if not pdf:
        return tex_path
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexBuildError(
            "pdflatex not found. Fix: install texlive-latex-base (apt-get install "
            "texlive-latex-base) or call write_document(..., pdf=False)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / tex_path.name).write_text(source, encoding="utf-8")
        for _ in range(2):
            proc = subprocess.run(
                [exe, "-interaction=nonstopmode", "-halt-on-error", tex_path.name],
                cwd=work,
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            )
            log_file = work / tex_path.with_suffix(".log").name
            log = log_file.read_text(errors="replace") if log_file.exists() else proc.stdout
            if proc.returncode != 0 or re.search(r"^! ", log, flags=re.M):
                raise LatexBuildError(
                    f"pdflatex failed (exit {proc.returncode}) on {tex_path.name}:\n"
                    + _error_excerpt(log)
                )
        shutil.copy2(work / tex_path.with_suffix(".pdf").name, tex_path.with_suffix(".pdf"))
        shutil.copy2(log_file, tex_path.with_suffix(".log"))
    return tex_path
