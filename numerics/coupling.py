"""Couplings of ASGD `x_k`, its Euler–Maruyama scheme `x~_k` and the fine SDDE `X(t_k)` (SPEC §3).

Needed for Theorems 3.2–3.4: `E||X(t_K) - x_K||` depends on how the processes share
randomness, which the paper leaves open. All three processes are simulated together, per path:

(a) scheme `x~` and fine `X` always share the Brownian path (Brownian-bridge substeps, see
    `numerics.sdde`).
(b) `noise="quantile"`: scheme vs ASGD share the delays `l_k`; each of the b minibatch samples
    gets one uniform `U_j`. The sample index is `perm[floor(U_j n)]`, where `perm` sorts the
    samples by their gradient deviation `(grad F(x_star) - grad f_i(x_star))` projected on the
    leading eigenvector `v` of `Sigma(x_star)` (ascending). The Gaussian for sample j is
    `z_j = Phi^{-1}(U_j) v + (I - v v^T) w_j`, `w_j ~ N(0, I)` independent; the scheme's
    increment is `dB_k = sqrt(delta) (1/sqrt(b)) sum_j z_j`. Marginals are exact: `U_j` uniform
    makes `floor(U_j n)` uniform on {0..n-1}, and any fixed permutation keeps it uniform and
    independent across j (with replacement); `Phi^{-1}(U_j) ~ N(0, 1)` along `v`, independent of
    the N(0, I - v v^T) complement, so `z_j ~ N(0, I)` i.i.d. and `dB_k ~ N(0, delta I)`. The
    coupling is comonotone along `v`: the largest minibatch noise goes with the largest Gaussian.
    (Requires a finite-sum problem and sampling with replacement; for `Quadratic`, whose noise is
    already Gaussian, the scheme and ASGD share the same normal draws exactly.)
(c) `noise="independent"`: independent noise (and, with `share_delays=False`, independent
    delays).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numerics.delays import DelayModel
from numerics.problems import Problem
from numerics.rng import DEFAULT_CHUNK_SIZE
from numerics.schedules import Schedule

__all__ = ["COUPLINGS", "CoupledResult", "simulate_coupled"]

COUPLINGS = ("quantile", "independent")


@dataclass
class CoupledResult:
    """Final values per path of the three coupled processes (E-ready arrays).

    Attributes:
        x_asgd: ASGD iterates `x_K`, (P, d).
        x_scheme: Euler–Maruyama scheme `x~_K`, (P, d).
        X_fine: fine SDDE solution `X(t_K)`, (P, d) (equals `x_scheme` if `substeps == 1`).
        steps, times: recorded step indices and times (R,).
        trajectories: dict name -> (R, P, d) for "asgd", "scheme", "fine" if recorded, else None.
        diverged_from_step: first non-finite step per path over the three processes, -1 if never.
        meta: coupling, sampling, sigma convention, seed, chunk size, substeps.
    """

    x_asgd: np.ndarray
    x_scheme: np.ndarray
    X_fine: np.ndarray
    steps: np.ndarray
    times: np.ndarray
    trajectories: dict[str, np.ndarray] | None
    diverged_from_step: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def diverged_paths(self) -> np.ndarray:
        """Indices of paths where any of the three processes went non-finite."""
        return np.flatnonzero(self.diverged_from_step >= 0)

    def errors(self) -> dict[str, np.ndarray]:
        """Per-path distances: `"fine_asgd"` ||X(t_K) - x_K||, `"scheme_asgd"` ||x~_K - x_K||,
        `"fine_scheme"` ||X(t_K) - x~_K|| (NaN for diverged paths)."""
        return {
            "fine_asgd": np.linalg.norm(self.X_fine - self.x_asgd, axis=1),
            "scheme_asgd": np.linalg.norm(self.x_scheme - self.x_asgd, axis=1),
            "fine_scheme": np.linalg.norm(self.X_fine - self.x_scheme, axis=1),
        }


def simulate_coupled(
    problem: Problem,
    *,
    eta: float,
    K: int,
    paths: int,
    seed: int | np.random.SeedSequence,
    x0: Any = None,
    xi: Any = None,
    delay: DelayModel | None = None,
    schedule: Schedule | None = None,
    b: int = 1,
    replace: bool = True,
    coupling: str = "quantile",
    share_delays: bool = True,
    sigma_at: str = "x_star",
    delta: float | None = None,
    substeps: int = 1,
    record_every: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    map_fn: Callable | None = None,
) -> CoupledResult:
    """Simulate ASGD Eq. (4), the EM scheme of Eq. (6) and the fine SDDE together, per path.

    Arguments as in `simulate_asgd` / `simulate_sdde` (`delta` defaults to `eta`, choice (a));
    `coupling` is `"quantile"` (b) or `"independent"` (c); the scheme and the fine solution
    always share the Brownian path (a). `share_delays` (default True) gives ASGD and the SDDE
    the same `l_k`.

    Raises:
        CouplingError: unknown coupling, or `"quantile"` with sampling without replacement.
        plus the input errors of `simulate_asgd`.
    """
    raise NotImplementedError
