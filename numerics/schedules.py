"""Step-size schedules `u_k` of ASGD Eq. (4) and their continuous versions `U(t)` in Eq. (6).

Glossary: `eta` learning rate, `u_k` adjustment at iteration k, `U(t)` with `U(k delta) = u_k`,
`delta` time step, `k0` first iteration index.

Section 3.1 time-step choices: (a) `u_k = 1`, `delta = eta_0`, `U = 1`; (b) `u_k = 1/k`,
`U(t) = delta / t`, any `delta`; (c) `u_k = 1/sqrt(k)`, `U(t) = sqrt(delta / t)`,
`delta = eta_0`. Theorem 4.2 uses `u_k = 1/(mu k)` with `eta = 1`, `U(t) = delta / (mu t)`.

Convention (SPEC §1): decreasing schedules start at `k0 = 1` (u_0 is undefined), so the
simulators start at iterate `x_{k0}` and time `t_{k0} = k0 delta`; the step from `x_k` to
`x_{k+1}` uses `u_k`, and the SDDE on `[k delta, (k+1) delta)` uses `U(k delta) = u_k` (the
Euler–Maruyama evaluation point). Constant schedules start at `k0 = 0`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.errors import ScheduleError

__all__ = ["Constant", "InverseK", "InverseMuK", "InverseSqrtK", "Schedule", "make_schedule"]


class Schedule:
    """Base class of step-size schedules.

    Attributes:
        k0: first iteration index (0 for constant, 1 for decreasing schedules).
        name: identifier used in reports.
    """

    k0: int = 0
    name: str = "schedule"

    def u(self, k: Any) -> np.ndarray:
        """`u_k` for integer `k >= k0` (vectorised; returns float64 array of k's shape)."""
        raise NotImplementedError

    def U(self, t: Any, delta: float) -> np.ndarray:
        """`U(t)` for the SDDE with time step `delta`, such that `U(k delta) = u_k`."""
        raise NotImplementedError

    def _k(self, k: Any) -> np.ndarray:
        ka = np.asarray(k, dtype=float)
        if np.any(ka < self.k0):
            raise ScheduleError(
                "k", k, f"{self.name} schedule is defined for k >= {self.k0}", "start at k0"
            )
        return ka

    @staticmethod
    def _t(t: Any, delta: float) -> np.ndarray:
        if not (np.isfinite(delta) and delta > 0):
            raise ScheduleError("delta", delta, "must be finite and > 0", "pass delta > 0")
        ta = np.asarray(t, dtype=float)
        if np.any(ta <= 0):
            raise ScheduleError("t", t, "U(t) is defined for t > 0", "evaluate at t >= k0*delta")
        return ta

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Constant(Schedule):
    """`u_k = 1`, `U(t) = 1` (time-step choice (a), Theorems 3.2–3.4 and 4.1)."""

    k0 = 0
    name = "constant"

    def u(self, k: Any) -> np.ndarray:
        return np.ones_like(self._k(k))

    def U(self, t: Any, delta: float) -> np.ndarray:
        return np.ones_like(np.asarray(t, dtype=float))


class InverseK(Schedule):
    """`u_k = 1/k`, `U(t) = delta / t` (time-step choice (b)); starts at k = 1."""

    k0 = 1
    name = "1/k"

    def u(self, k: Any) -> np.ndarray:
        return 1.0 / self._k(k)

    def U(self, t: Any, delta: float) -> np.ndarray:
        return delta / self._t(t, delta)


class InverseSqrtK(Schedule):
    """`u_k = 1/sqrt(k)`, `U(t) = sqrt(delta / t)` (time-step choice (c)); starts at k = 1."""

    k0 = 1
    name = "1/sqrt(k)"

    def u(self, k: Any) -> np.ndarray:
        return 1.0 / np.sqrt(self._k(k))

    def U(self, t: Any, delta: float) -> np.ndarray:
        return np.sqrt(delta / self._t(t, delta))


class InverseMuK(Schedule):
    """`u_k = 1/(mu k)` with `eta = 1` (Theorem 4.2), `U(t) = delta / (mu t)`; starts at k = 1.

    Raises:
        ScheduleError: `mu` not finite and > 0.
    """

    k0 = 1
    name = "1/(mu k)"

    def __init__(self, mu: float) -> None:
        if isinstance(mu, bool) or not np.isfinite(mu) or mu <= 0:
            raise ScheduleError("mu", mu, "must be finite and > 0", "pass the strong convexity")
        self.mu = float(mu)

    def u(self, k: Any) -> np.ndarray:
        return 1.0 / (self.mu * self._k(k))

    def U(self, t: Any, delta: float) -> np.ndarray:
        return delta / (self.mu * self._t(t, delta))

    def __repr__(self) -> str:
        return f"InverseMuK(mu={self.mu})"


def make_schedule(name: str | Schedule, mu: float | None = None) -> Schedule:
    """Schedule from a name: `"1"`/`"constant"`, `"1/k"`, `"1/sqrt(k)"`, `"1/(mu k)"` (needs mu).

    Raises:
        ScheduleError: unknown name, or `mu` missing for `"1/(mu k)"`.
    """
    if isinstance(name, Schedule):
        return name
    key = str(name).replace(" ", "").lower()
    if key in ("1", "constant", "const"):
        return Constant()
    if key in ("1/k", "inversek"):
        return InverseK()
    if key in ("1/sqrt(k)", "1/sqrtk", "inversesqrtk"):
        return InverseSqrtK()
    if key in ("1/(muk)", "1/(mu*k)", "inversemuk"):
        if mu is None:
            raise ScheduleError("mu", mu, "required for u_k = 1/(mu k)", "pass mu > 0")
        return InverseMuK(mu)
    raise ScheduleError(
        "schedule", name, "unknown schedule", "use '1', '1/k', '1/sqrt(k)' or '1/(mu k)'"
    )
