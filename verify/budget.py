r"""Cost before work: an estimate of the memory and time a run needs, and a refusal above a budget.

``sdde-verify check`` (and :func:`verify.api.run` with overrides) call :func:`enforce` *before*
the expensive steps: once from the spec alone (the loss analysis on the data, and the
simulations with the profile's caps), and once after the analysis, when $L$ fixes the substeps
and the horizon of the approximation check. Above the budget the run stops with a
:class:`BudgetError` (an :class:`~theory.errors.InputError`: exit code 2, nothing written) that
states the estimate, the budget and the fix: fewer paths, the quick profile, a smaller ``d``,
a smaller ``batch_size``, or a larger budget (``--max-memory-gb``, ``--max-seconds``).

The model (element operations of float64 NumPy, per path and step; measured rates below):

* the SDDE drift $\nabla F(X)$ over all $n$ samples: $2nd$; its noise $\sigma(x^*) z$: $d^2$;
* one ASGD step with a minibatch of $b$: $4bd + d^2$ (gather, $\varphi'$, product, mean);
* the loss analysis: $(64 + 1 + 30)$ Hessians ($nd^2$ each, plus $d^3$ for the eigenvalues),
  and for a loss without GLM structure the $d(d+1)/2$ Hessian entries per sample ($nd^2/2$);
* memory: the largest per-step temporary (three arrays of $P_c \times \max(n, b) \times d$,
  $P_c = \min(P, 16384)$ paths per chunk), recorded ensembles, the data and the Hessians.

Time is ``ops / RATE``, with ``RATE`` element operations per second of one worker, measured on
this 2-core machine with the shipped examples (``benchmarks/README.md``); the estimate is meant to
be right within a factor of a few, which is what a refusal needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from theory.errors import InputError

__all__ = [
    "Budget",
    "BudgetError",
    "Estimate",
    "analysis_estimate",
    "enforce",
    "simulation_estimate",
]

GiB = 1024**3
#: element operations per second of one worker (float64 NumPy on this machine; calibrated so
#: that the shipped examples' quick runs are over-estimated by 1-3x, never under-estimated)
RATE = 2e9
#: paths per chunk of the simulators (numerics.rng.DEFAULT_CHUNK_SIZE)
CHUNK = 16384
#: default budgets: memory for this 24 GB machine shared by a few runs; time per profile
DEFAULT_MEMORY_GB = 12.0
DEFAULT_SECONDS = {"quick": 120.0, "full": 4 * 3600.0}
#: the largest number of paths and steps accepted at all (beyond: a named error)
MAX_PATHS = 10**6
MAX_STEPS = 10**7


class BudgetError(InputError):
    """The estimated memory or time of a run exceeds the budget (nothing was computed)."""


@dataclass(frozen=True)
class Budget:
    r"""What a run may use: ``memory_gb`` of memory and ``seconds`` of wall time."""

    memory_gb: float = DEFAULT_MEMORY_GB
    seconds: float | None = None  # None: DEFAULT_SECONDS[profile]

    def seconds_for(self, profile: str) -> float:
        """The time budget of a profile."""
        if self.seconds is not None:
            return float(self.seconds)
        return DEFAULT_SECONDS.get(profile, DEFAULT_SECONDS["full"])

    @staticmethod
    def validated(memory_gb: float | None, seconds: float | None) -> Budget:
        """A budget from command-line values (None: the default)."""
        mem = DEFAULT_MEMORY_GB if memory_gb is None else memory_gb
        if not (isinstance(mem, int | float) and math.isfinite(mem) and mem > 0):
            raise BudgetError("--max-memory-gb", memory_gb, "must be a positive number", "e.g. 8")
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise BudgetError("--max-seconds", seconds, "must be a positive number", "e.g. 600")
        return Budget(float(mem), None if seconds is None else float(seconds))


@dataclass
class Estimate:
    r"""Estimated cost: ``ops`` (element operations), ``memory`` (bytes, peak), per part."""

    ops: float = 0.0
    memory: float = 0.0
    parts: list[tuple[str, float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, ops: float, memory: float) -> None:
        """Add a part (its time adds up; its memory is a peak of its own)."""
        self.ops += ops
        self.memory = max(self.memory, memory)
        self.parts.append((name, ops, memory))

    def seconds(self, workers: int = 1) -> float:
        """Estimated wall time with ``workers`` parallel workers (at most 2 on this machine)."""
        return self.ops / (RATE * max(1, min(int(workers), 2)))

    def summary(self, workers: int = 1) -> str:
        """One line: time, memory and the largest part."""
        worst = max(self.parts, key=lambda p: p[1], default=("-", 0.0, 0.0))
        return (
            f"estimated {_t(self.seconds(workers))}, peak memory {self.memory / GiB:.3g} GB "
            f"(largest part: {worst[0]}, {_t(worst[1] / (RATE * max(1, min(workers, 2))))})"
        )


def _t(s: float) -> str:
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    return f"{s / 3600:.3g} h"


# ------------------------------------------------------------------------------ model
def analysis_estimate(n: int, d: int, glm: bool, est: Estimate | None = None) -> Estimate:
    r"""Cost of :func:`theory.user_loss.analyse_loss` on $n \times d$ data (see module doc)."""
    est = est or Estimate()
    hessians = 64 + 1 + 30
    ops = hessians * (n * d * d + d**3)
    mem = 8.0 * (4 * n * d + 4 * d * d)
    if not glm:
        ops += hessians * n * d * (d + 1) / 2 * 20
        mem += 8.0 * 3 * n * d * (d + 1) / 2
    est.add("loss analysis (Hessians at 95 points)", float(ops), mem)
    return est


def _step_ops(n: int, d: int, b: int, process: str) -> float:
    if process == "sdde":
        return 2.0 * n * d + d * d + 10 * d
    return 4.0 * b * d + d * d + 10 * d


def _step_memory(P: int, n: int, d: int, b: int, process: str) -> float:
    Pc = min(P, CHUNK)
    width = n if process == "sdde" else b
    return 8.0 * 3 * Pc * width * max(d, 1) + 8.0 * Pc * d * d / max(d, 1) * 4


def simulation_estimate(
    items: Iterable[tuple[str, int, int, int, str]],
    n: int,
    d: int,
    est: Estimate | None = None,
    record_floats: float = 0.0,
) -> Estimate:
    r"""Cost of simulations given as ``(name, paths, steps, batch, process)`` items
    (``process`` ``"sdde"`` or ``"asgd"``)."""
    est = est or Estimate()
    for name, P, steps, b, process in items:
        ops = float(P) * float(steps) * _step_ops(n, d, b, process)
        mem = _step_memory(P, n, d, b, process) + 8.0 * record_floats
        est.add(name, ops, mem)
    return est


# ------------------------------------------------------------------------------ refusal
def enforce(
    est: Estimate,
    budget: Budget,
    profile: str,
    *,
    workers: int = 1,
    fixes: Sequence[str] = (),
    parameter: str = "spec",
    value: Any = None,
) -> None:
    r"""Raise :class:`BudgetError` if ``est`` exceeds ``budget`` (memory or time)."""
    secs = est.seconds(workers)
    limit_s = budget.seconds_for(profile)
    limit_m = budget.memory_gb * GiB
    over = []
    if est.memory > limit_m:
        over.append(f"peak memory {est.memory / GiB:.3g} GB > budget {budget.memory_gb:g} GB")
    if secs > limit_s:
        over.append(f"time {_t(secs)} > budget {_t(limit_s)} ({profile} profile)")
    if not over:
        return
    worst = max(est.parts, key=lambda p: p[1] if secs > limit_s else p[2])
    fix = [
        *fixes,
        "or raise the budget (--max-seconds S, --max-memory-gb G) if the machine affords it",
    ]
    raise BudgetError(
        parameter,
        value if value is not None else worst[0],
        f"the run is too large: {'; '.join(over)}; largest part: {worst[0]} "
        f"({_t(worst[1] / (RATE * max(1, min(workers, 2))))}, {worst[2] / GiB:.3g} GB)",
        "; ".join(fix),
    )


def merge_notes(notes: Mapping[str, str]) -> list[str]:
    """Notes as sorted lines (for reports)."""
    return [f"{k}: {v}" for k, v in sorted(notes.items())]
