"""Specific input errors of the numerics layer.

Every class is a subclass of :class:`theory.errors.InputError` (re-exported here), so callers
can catch either the specific type or ``InputError``. Messages have the shared form
``"<parameter>=<value>: <problem>. Fix: <fix>"``.
"""

from __future__ import annotations

from theory.errors import InputError

__all__ = [
    "BatchSizeError",
    "CouplingError",
    "DelayError",
    "DimensionError",
    "InitialSegmentError",
    "InputError",
    "PathsError",
    "ProbabilityVectorError",
    "ScheduleError",
    "SeedError",
    "StepSizeError",
]


class DelayError(InputError):
    """A delay bound `l` or delay model that is not a non-negative integer / valid model."""


class ProbabilityVectorError(InputError):
    """A delay probability vector `q` on {0..l} that is negative, mis-sized or not summing to 1."""


class BatchSizeError(InputError):
    """A minibatch size `b` that is not a positive integer, or `b > n` without replacement."""


class DimensionError(InputError):
    """An array whose shape does not match the problem dimension `d` (or `n`)."""


class InitialSegmentError(InputError):
    """An initial segment `xi` on [-tau, 0] of the wrong shape, or not finite."""


class StepSizeError(InputError):
    """A learning rate `eta`, time step `delta`, horizon `K`/`T` or substep count is invalid."""


class ScheduleError(InputError):
    """A schedule `u_k` / `U(t)` with invalid parameters (e.g. `mu <= 0`) or evaluated at k < 1."""


class PathsError(InputError):
    """A number of `paths`, `chunk_size` or `record_every` that is not a positive integer."""


class SeedError(InputError):
    """A `seed` that is neither a non-negative int nor a `numpy.random.SeedSequence`."""


class CouplingError(InputError):
    """An unknown coupling, or a coupling that the chosen problem/sampling cannot support."""
