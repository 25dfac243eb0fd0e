r"""The derived setting of a user spec: problem, loss analysis, $\tilde A$, $V$, named symbols.

Everything the user-loss checks share is computed once here (SPEC §1 conventions):

* the simulators' problem (:class:`FastUserProblem`: a :class:`~numerics.user_problem.
  UserLossProblem` whose full gradient of a smooth generalised linear loss is
  $\nabla F(X) = \frac1n\varphi'(XA^\top, b)A + cX$, one matrix product instead of the
  $(P, n, d)$ array of per-sample gradients; identical mathematics);
* the loss analysis (:func:`theory.user_loss.analyse_loss`): $x^*$ with its certificate,
  $L$, $\mu$ with their labels, convexity, smoothness, $\Sigma(x^*)$,
  $\tilde A = \nabla^2F(x^*)$;
* $V$ of the linearised delay system $x'(t) = -\tilde A\,x(t-\tau)$, certified by
  :func:`theory.roots.characteristic_roots` (SPEC §4), $\tau = l\delta$;
* the values of the names a claim may use (:data:`~verify.usercheck.spec.CLAIM_NAMES`).

Glossary: ``eta`` $\eta$ · ``delta`` $\delta$ (default $\eta$, choice (a)) · ``tau``
$\tau = l\delta$ · ``l`` delay bound · ``b`` minibatch size · ``x0`` start and constant initial
segment $\xi \equiv x_0$ · ``sigma2`` $\operatorname{tr}\Sigma(x^*)$ · ``H``
$H_{\min} = \operatorname{tr}\Sigma(x^*)/b + 2\mu LD^2$ (SPEC §1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import sympy

from numerics.delays import ConstantDelay, CyclicDelay, DelayModel, NoDelay, RandomDelay
from numerics.schedules import Schedule, make_schedule
from numerics.user_problem import UserLossProblem
from theory.errors import InputError
from theory.roots import CharacteristicRoots, characteristic_roots
from theory.user_loss import Constant, LossAnalysis
from verify.usercheck.spec import UserSpec

__all__ = ["FastUserProblem", "LossAnalysisError", "UserSetting", "build_setting"]


#: largest lambda_max(A~) tau for which the characteristic roots are computed
MAX_LAMBDA_TAU = 1e4
#: largest d for which the certified V is computed
MAX_D_ROOTS = 150


class LossAnalysisError(InputError):
    """The analysis of a valid loss failed inside sdde-verify (reported, nothing written)."""


def _np_sigmoid(z: Any) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * np.asarray(z, dtype=float))


def _np_softplus(z: Any) -> np.ndarray:
    return np.logaddexp(0.0, z)


class FastUserProblem(UserLossProblem):
    r"""`UserLossProblem` with a matrix-product full gradient for smooth GLMs.

    $\nabla F(x) = \frac1n\sum_i\varphi'(a_i^\top x, b_i)a_i + cx$ evaluated for all paths as
    $\frac1n\varphi'(XA^\top, b)A + cX$. Non-GLM or non-smooth losses use the parent's
    per-sample route unchanged.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        glm = self.loss.glm
        self._phi1 = None
        if glm is not None and self.loss.smooth:
            mods = [{"sigmoid": _np_sigmoid, "softplus": _np_softplus}, "numpy"]
            self._phi1 = sympy.lambdify((glm.z, glm.b), glm.phi1, modules=mods)
            self._c = float(glm.c)

    #: the $L$ the checks use when the analysis has no finite certified bound (a sampled
    #: estimate, set by :func:`build_setting`); None: the analysis's $L$.
    L_used: float | None = None

    @property
    def L(self) -> float:  # type: ignore[override]
        """Smoothness constant used by the simulators' checks (see :attr:`L_used`)."""
        return float(self.L_used) if self.L_used is not None else float(self.analysis.L.value)

    def grad(self, X: np.ndarray) -> np.ndarray:
        r"""$\nabla F$ for each row of ``X`` (P, d) -> (P, d); a single x (d,) -> (d,)."""
        if self._phi1 is None:
            return super().grad(X)
        single = np.ndim(X) == 1
        Xp = self._paths(X)
        with np.errstate(all="ignore"):
            z = Xp @ self.A.T
            p1 = np.broadcast_to(np.asarray(self._phi1(z, self.y), dtype=float), z.shape)
            out = p1 @ self.A / self.A.shape[0]
            if self._c != 0.0:
                out += self._c * Xp
        return out[0] if single else out


@dataclass
class UserSetting:
    r"""A validated spec with its problem and derived quantities (see module docstring).

    Attributes:
        spec: the validated :class:`~verify.usercheck.spec.UserSpec`.
        problem: the simulators' problem.
        analysis: the loss analysis (labels: certified / estimate / unavailable).
        x0: the start $x_0$ (d,), also the constant initial segment $\xi$.
    """

    spec: UserSpec
    problem: FastUserProblem
    analysis: LossAnalysis
    x0: np.ndarray
    notes: list[str] = field(default_factory=list)

    # ----- algorithm -----------------------------------------------------------------
    @property
    def alg(self) -> Any:
        return self.spec.algorithm

    @property
    def eta(self) -> float:
        return float(self.alg.eta)

    @property
    def delta(self) -> float:
        r"""$\delta$: ``algorithm.delta`` or $\eta$ (SPEC §1 choice (a))."""
        return float(self.alg.delta) if self.alg.delta is not None else self.eta

    @property
    def l(self) -> int:  # noqa: E743 (the paper's name)
        return int(self.alg.l)

    @property
    def b(self) -> int:
        return int(self.alg.batch_size)

    @property
    def tau(self) -> float:
        return self.l * self.delta

    @cached_property
    def L_const(self) -> Constant:
        r"""$L$ as used by the checks: the analysis's (certified or estimate); when it has no
        finite bound for a *smooth* loss (interval arithmetic gave up), a sampled estimate
        $\max|\lambda(\nabla^2F)|$ over $\hat x$ and 64 points of $B(\hat x, D)$, labelled
        ``estimate``, so that a hypothesis is never declared false without a certificate."""
        a = self.analysis
        if math.isfinite(a.L.value) or not a.smooth:
            return a.L
        lo, hi = self._sampled_spectrum
        return Constant(
            max(abs(lo), abs(hi)),
            "estimate",
            f"no finite certified bound ({a.L.detail}); extreme Hessian eigenvalue at x_hat and "
            f"64 points of B(x_hat, {self.D:.4g})",
        )

    @cached_property
    def mu_const(self) -> Constant:
        r"""$\mu$ as used by the checks (``algorithm.mu`` if given; else as :attr:`L_const`:
        a sampled $\min\lambda(\nabla^2F)$ when the analysis has no finite bound)."""
        a = self.analysis
        if self.alg.mu is not None:
            return Constant(float(self.alg.mu), "given", "algorithm.mu")
        if math.isfinite(a.mu.value) or not a.smooth:
            return a.mu
        lo, _ = self._sampled_spectrum
        return Constant(
            lo,
            "estimate",
            f"no finite certified bound ({a.mu.detail}); smallest Hessian eigenvalue at x_hat "
            f"and 64 points of B(x_hat, {self.D:.4g})",
        )

    @cached_property
    def _sampled_spectrum(self) -> tuple[float, float]:
        a = self.analysis
        d = self.problem.d
        rng = np.random.default_rng(np.random.SeedSequence(int(self.alg.seed)).spawn(1)[0])
        dirs = rng.normal(size=(64, d))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        radii = self.D * rng.uniform(size=64) ** (1.0 / d)
        pts = np.vstack([a.x_star, a.x_star + dirs * radii[:, None]])
        ev = np.array([np.linalg.eigvalsh(self.problem.hessian(p))[[0, -1]] for p in pts])
        return float(ev[:, 0].min()), float(ev[:, 1].max())

    @property
    def mu_schedule(self) -> float | None:
        r"""$\mu$ of the ``1/(mu k)`` schedule: ``algorithm.mu`` or the loss's $\mu$ if $> 0$."""
        mu = float(self.mu_const.value)
        return mu if mu > 0 and math.isfinite(mu) else None

    def delay_model(self, l: int | None = None) -> DelayModel:
        """The spec's delay model (``l`` overrides the bound)."""
        l = self.l if l is None else l
        kind = self.alg.delay
        if kind == "none" or l == 0:
            return NoDelay()
        if kind == "constant":
            return ConstantDelay(l)
        if kind == "cyclic":
            return CyclicDelay(l)
        return RandomDelay(l, self.alg.q) if self.alg.q is not None else RandomDelay(l)

    def schedule(self) -> Schedule:
        """The spec's schedule $u_k$ (``1/(mu k)`` with :attr:`mu_schedule`)."""
        return make_schedule(self.alg.schedule, self.mu_schedule)

    # ----- derived -------------------------------------------------------------------
    @property
    def sigma2(self) -> float:
        r"""$\operatorname{tr}\Sigma(x^*)$ (one sample's gradient covariance)."""
        return float(np.trace(self.analysis.Sigma))

    @property
    def D(self) -> float:
        return float(self.analysis.D)

    def substeps(self, schedule: str | None = None, eta: float | None = None) -> int:
        r"""Fine Euler–Maruyama substeps $m$ per $\delta$ so that the fine step times the
        largest drift rate is $\le 1/2$: $m \ge 2\eta u_{\max}L$ ($u_{\max} = 1$, or $1/\mu$
        for ``1/(mu k)``), at least 2, at most 64 (2 when $L$ is unavailable)."""
        L = float(self.L_const.value)
        if not math.isfinite(L) or L <= 0:
            return 2
        sched = self.alg.schedule if schedule is None else schedule
        eta = self.eta if eta is None else eta
        u_max = 1.0
        if sched == "1/(mu k)":
            mu = self.mu_schedule
            u_max = 1.0 / mu if mu else 1.0
        return int(min(64, max(2, math.ceil(2 * eta * u_max * L))))

    @cached_property
    def minimiser(self) -> tuple[bool, str]:
        r"""Whether $\hat x$ is a (local) minimiser: $\|\nabla F(\hat x)\| \le 10^{-6}
        \max(1, \|\nabla F(x_0)\|)$ and $\nabla^2F(\hat x) \succeq 0$ (smooth losses; for
        non-smooth ones only the subgradient iteration's output is available, not checked)."""
        a = self.analysis
        if not a.smooth:
            return True, "non-smooth loss: x_hat from averaged subgradient steps (not checked)"
        scale = max(1.0, float(np.linalg.norm(self.problem.grad(self.x0))))
        if not (a.grad_norm <= 1e-6 * scale):
            return False, (
                f"||grad F(x_hat)|| = {a.grad_norm:.3g} is not ~0 (scale {scale:.3g}): "
                "F may have no minimiser (unbounded below or minimum at infinity)"
            )
        ev = np.linalg.eigvalsh(a.A_tilde)
        if ev[0] < -1e-9 * max(1.0, float(np.abs(ev).max())):
            return (
                False,
                f"Hess F(x_hat) has the eigenvalue {ev[0]:.4g} < 0: "
                "x_hat is a saddle or a maximum, not a minimiser",
            )
        return True, (
            f"||grad F(x_hat)|| = {a.grad_norm:.3g}, lambda_min(Hess F(x_hat)) = {ev[0]:.4g} >= 0"
        )

    def minimiser_hypothesis(self) -> Any:
        """The :attr:`minimiser` check as a :class:`~verify.verdict.Hypothesis`."""
        from verify.verdict import Hypothesis

        holds, detail = self.minimiser
        return Hypothesis("x* exists (x_hat is a local minimiser of F)", holds, detail)

    @cached_property
    def F_star(self) -> float:
        return float(self.problem.F(self.analysis.x_star))

    @cached_property
    def roots(self) -> CharacteristicRoots | None:
        r"""Certified $V$ of $\det(\beta I + \tilde Ae^{-\beta\tau}) = 0$ (None when $\tilde A$
        does not exist, i.e. a non-smooth loss, or $\tau = 0$)."""
        if self.analysis.A_tilde is None or self.tau <= 0:
            return None
        if self.roots_skipped:
            return None
        return characteristic_roots(self.analysis.A_tilde, self.tau)

    @cached_property
    def roots_skipped(self) -> str:
        r"""Why the certified $V$ is not computed ("" when it is): $d$ above
        :data:`MAX_D_ROOTS` (the certified root count costs about $d^{2.3}$: 10 s at
        $d = 200$), or $\lambda_{\max}	au$ above :data:`MAX_LAMBDA_TAU` (far outside the
        stability region $\lambda_{\max}	au < \pi/2$, where $e^{-eta	au}$ is beyond any
        working precision)."""
        A = self.analysis.A_tilde
        if A is None or self.tau <= 0:
            return ""
        if A.shape[0] > MAX_D_ROOTS:
            return (
                f"the certified V is not computed for d = {A.shape[0]} > {MAX_D_ROOTS} "
                "(its cost grows like d^2.3); use fewer features for Thm 4.1"
            )
        lam = float(np.abs(np.linalg.eigvalsh(A)).max())
        if lam * self.tau > MAX_LAMBDA_TAU:
            return (
                f"lambda_max(A~) tau = {lam * self.tau:.3g} > {MAX_LAMBDA_TAU:g}: far outside "
                "the stability region lambda_max tau < pi/2 (Hayes), so V > 0"
            )
        return ""

    def symbols(self) -> dict[str, float]:
        r"""Values of the named symbols of a claim (``t``, ``k``, ``K`` are set per grid point).

        $H = \operatorname{tr}\Sigma(x^*)/b + 2\mu LD^2$ ($H_{\min}$ of SPEC §1)."""
        a = self.analysis
        L, mu = float(self.L_const.value), float(self.mu_const.value)
        H = self.sigma2 / self.b + 2 * mu * L * self.D**2 if math.isfinite(L) else math.inf
        return {
            "K": float(self.alg.K),
            "b": float(self.b),
            "l": float(self.l),
            "tau": self.tau,
            "eta": self.eta,
            "delta": self.delta,
            "L": L,
            "mu": mu,
            "D": self.D,
            "H": H,
            "d": float(self.problem.d),
            "n": float(self.problem.n),
            "sigma2": self.sigma2,
            "R0": float(np.linalg.norm(self.x0 - a.x_star)),
        }


def build_setting(spec: UserSpec) -> UserSetting:
    """The problem and the loss analysis of a validated spec (no simulation)."""
    ds, alg = spec.dataset, spec.algorithm
    problem = FastUserProblem(spec.loss, ds.A, ds.y, D=alg.D, seed=alg.seed)
    try:
        analysis = problem.analysis
    except InputError:
        raise
    except Exception as exc:  # an internal limitation, not the user's input: say so, write nothing
        raise LossAnalysisError(
            "loss.expression",
            spec.loss_spec.expression,
            f"the loss analysis failed ({type(exc).__name__}: {exc})",
            "this is a limitation of sdde-verify's loss analysis: please report the spec; "
            "an algebraically equivalent form of the loss may work",
        ) from exc
    x0 = np.broadcast_to(np.asarray(alg.x0, dtype=float), (problem.d,)).copy()
    setting = UserSetting(spec=spec, problem=problem, analysis=analysis, x0=x0)
    if setting.L_const is not analysis.L:
        problem.L_used = float(setting.L_const.value)
    return setting
