"""Input validation shared by the simulators and the update rules (named errors, no work done).

Every function raises a subclass of `theory.errors.InputError` (parameter, value, fix) for bad
input and returns the normalised value otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.delays import DelayModel
from numerics.errors import (
    DelayError,
    DimensionError,
    InitialSegmentError,
    InputError,
    PathsError,
    ScheduleError,
    StepSizeError,
)
from numerics.problems import Problem
from numerics.schedules import Schedule

__all__ = [
    "check_delay_model",
    "check_positive_float",
    "check_positive_int",
    "check_schedule",
    "initial_history",
    "initial_point",
    "problem_check",
    "record_indices",
]


def problem_check(problem: Any) -> None:
    """Raise `InputError` unless `problem` is a `Problem`."""
    if not isinstance(problem, Problem):
        raise InputError("problem", problem, "must be a numerics.problems.Problem", "wrap F")


def check_positive_float(name: str, value: Any) -> float:
    """A finite float > 0, else `StepSizeError`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise StepSizeError(name, value, "must be a finite number > 0", f"pass {name} > 0")
    if not np.isfinite(value) or value <= 0:
        raise StepSizeError(name, value, "must be finite and > 0", f"pass {name} > 0")
    return float(value)


def check_positive_int(name: str, value: Any, err: type[InputError] = StepSizeError) -> int:
    """An int >= 1, else `err`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise err(name, value, "must be a positive integer", f"pass an int {name} >= 1")
    if value < 1:
        raise err(name, value, "must be >= 1", f"pass an int {name} >= 1")
    return int(value)


def check_delay_model(delay: Any) -> DelayModel:
    """A `DelayModel`, else `DelayError`."""
    if not isinstance(delay, DelayModel):
        raise DelayError(
            "delay", delay, "must be a DelayModel", "use NoDelay(), ConstantDelay(l), ..."
        )
    return delay


def check_schedule(schedule: Any) -> Schedule:
    """A `Schedule`, else `ScheduleError`."""
    if not isinstance(schedule, Schedule):
        raise ScheduleError("schedule", schedule, "must be a Schedule", "use Constant(), ...")
    return schedule


def initial_point(x0: Any, d: int, paths: int) -> np.ndarray:
    """`x0` as (1, d) or (paths, d); default 0. Raises DimensionError, InitialSegmentError."""
    if x0 is None:
        return np.zeros((1, d))
    xa = np.asarray(x0, dtype=float)
    if xa.ndim <= 1 and xa.size == d:
        xa = xa.reshape(1, d)
    if xa.ndim != 2 or xa.shape[1] != d or xa.shape[0] not in (1, paths):
        raise DimensionError("x0", xa.shape, f"must have shape (d={d},) or (paths, d)", "fix x0")
    if not np.all(np.isfinite(xa)):
        raise InitialSegmentError("x0", x0, "must be finite", "pass finite values")
    return xa


def initial_history(
    xi: Any, l: int, d: int, scale: int = 1, step: float = 1.0
) -> np.ndarray | None:
    """Initial segment as an array (l*scale + 1, d) of values at `s = -l*step, ..., 0` on the grid
    of spacing `step/scale`; `xi` is None, such an array ((l*scale+1,) allowed when d = 1), or a
    callable `xi(s) -> (d,)`. Raises `InitialSegmentError`."""
    if xi is None:
        return None
    N = l * scale + 1
    if callable(xi):
        s = np.linspace(-l * step, 0.0, N)
        try:
            H = np.array([np.asarray(xi(si), dtype=float).reshape(-1) for si in s])
        except Exception as exc:
            raise InitialSegmentError(
                "xi", xi, f"callable failed on [-tau, 0]: {exc}", "return a (d,) array"
            ) from exc
    else:
        H = np.asarray(xi, dtype=float)
        if H.ndim == 1 and d == 1:
            H = H[:, None]
    if H.ndim != 2 or H.shape != (N, d):
        raise InitialSegmentError(
            "xi", np.shape(H), f"must have shape ({N}, {d}) (values at s = -tau..0)", "fix xi"
        )
    if not np.all(np.isfinite(H)):
        raise InitialSegmentError("xi", xi, "must be finite", "pass finite values")
    return H


def record_indices(K: int, record_every: int | None) -> np.ndarray:
    """Relative step indices recorded: `[K]` if None, else `0, r, 2r, ..., K` (K always last)."""
    if record_every is None:
        return np.array([K], dtype=np.int64)
    r = check_positive_int("record_every", record_every, PathsError)
    idx = np.arange(0, K + 1, r, dtype=np.int64)
    if idx[-1] != K:
        idx = np.append(idx, K)
    return idx
