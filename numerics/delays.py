"""Delay models for ASGD Eq. (4) and the SDDE Eq. (6) (paper Section 3.1, footnote 2).

Glossary: `l` delay bound, `l_k` delay used at step k, `q` probability vector of `l_k` on
{0..l}, `theta(t) = l_k * delta` on [k delta, (k+1) delta), `tau = l * delta`.

Models (SPEC §1): `NoDelay` (SGD, l_k = 0), `ConstantDelay(l)` (l_k = l),
`RandomDelay(l, q)` (i.i.d. l_k ~ q on {0..l}, uniform by default), `CyclicDelay(l)`
(l_k = k mod (l+1)).

Footnote 2 cap: when no initial segment is supplied, the delay at step `k` (counted from the
first iterate, `j = k - k0`) is `min(l_k, j)`, so only existing iterates are read. Because the
ring buffer is then initialised with `x_0` in every slot, the capped run equals a run with the
constant initial segment `xi = x_0`; the cap changes only the *reported* delays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from numerics.errors import DelayError, ProbabilityVectorError

__all__ = [
    "ConstantDelay",
    "CyclicDelay",
    "DelayModel",
    "NoDelay",
    "RandomDelay",
    "SequenceDelay",
    "cap_delays",
    "check_delay_bound",
]


def check_delay_bound(l: Any, parameter: str = "l") -> int:
    """Validate a delay bound `l` (a non-negative integer) and return it as `int`.

    Raises:
        DelayError: `l` is negative, not an integer, or a non-integral float.
    """
    if isinstance(l, (bool, np.bool_)):
        raise DelayError(parameter, l, "must be a non-negative integer", "pass e.g. l=10")
    if isinstance(l, (float, np.floating)) and float(l).is_integer() and l >= 0:
        return int(l)
    if not isinstance(l, (int, np.integer)):
        raise DelayError(parameter, l, "must be a non-negative integer", "pass e.g. l=10")
    if l < 0:
        raise DelayError(parameter, l, "must be >= 0", "pass a non-negative integer delay")
    return int(l)


class DelayModel:
    """Base class: a law for the delays `l_k` in {0..l}.

    Attributes:
        l: the delay bound (`tau = l * delta`).
        is_random: whether `draw` consumes random numbers.
        name: short identifier used in reports.
    """

    l: int = 0
    is_random: bool = False
    name: str = "delay"

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        """Uncapped delays `l_k` for step `k` on `paths` paths: int64 array of shape (paths,).

        Deterministic models do not touch `rng` (so `l = 0` reproduces SGD bit for bit).
        """
        raise NotImplementedError

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        """Delays for steps `k_start .. k_start+steps-1`: int64 array (steps, paths).

        Equal to stacking `draw(k, paths, rng)` for each k (same random stream).
        """
        return np.stack([self.draw(k_start + i, paths, rng) for i in range(steps)])

    def probabilities(self, k: int) -> np.ndarray:
        """The law of `l_k` (uncapped) as a probability vector on {0..l}."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l={self.l})"


class NoDelay(DelayModel):
    """SGD: `l_k = 0` for every k."""

    name = "none"

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        return np.zeros(paths, dtype=np.int64)

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        return np.zeros((steps, paths), dtype=np.int64)

    def probabilities(self, k: int) -> np.ndarray:
        return np.ones(1)

    def __repr__(self) -> str:
        return "NoDelay()"


class ConstantDelay(DelayModel):
    """Constant delay `l_k = l` (Theorem 3.4)."""

    name = "constant"

    def __init__(self, l: int) -> None:
        self.l = check_delay_bound(l)

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        return np.full(paths, self.l, dtype=np.int64)

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        return np.full((steps, paths), self.l, dtype=np.int64)

    def probabilities(self, k: int) -> np.ndarray:
        p = np.zeros(self.l + 1)
        p[self.l] = 1.0
        return p


class RandomDelay(DelayModel):
    """I.i.d. delays `P(l_k = j) = q_j`, `j = 0..l` (Theorem 3.2); uniform if `q` is None.

    Sampling: uniform `q` uses `rng.integers(0, l+1)`; a general `q` uses inverse-CDF sampling
    of `rng.random()` against `cumsum(q)`. With `l = 0` no random numbers are drawn.

    Raises:
        DelayError: invalid `l`.
        ProbabilityVectorError: `q` has length != l+1, a negative or non-finite entry, or does
            not sum to 1 (tolerance 1e-12).
    """

    name = "random"
    is_random = True

    def __init__(self, l: int, q: Any = None) -> None:
        self.l = check_delay_bound(l)
        self.uniform = q is None
        if q is None:
            self.q = np.full(self.l + 1, 1.0 / (self.l + 1))
        else:
            qa = np.asarray(q, dtype=float)
            if qa.ndim != 1 or qa.shape[0] != self.l + 1:
                raise ProbabilityVectorError(
                    "q", q, f"must be a vector of length l+1 = {self.l + 1}", "give q_0..q_l"
                )
            if not np.all(np.isfinite(qa)) or np.any(qa < 0):
                raise ProbabilityVectorError(
                    "q", q, "entries must be finite and >= 0", "use non-negative probabilities"
                )
            if abs(qa.sum() - 1.0) > 1e-12:
                raise ProbabilityVectorError(
                    "q", q, f"must sum to 1 (sums to {qa.sum()!r})", "normalise q by its sum"
                )
            self.q = qa
        self._cdf = np.cumsum(self.q)
        self._cdf[-1] = 1.0
        self.is_random = self.l > 0

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        return self.draw_block(k, 1, paths, rng)[0]

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        if self.l == 0:
            return np.zeros((steps, paths), dtype=np.int64)
        if self.uniform:
            return rng.integers(0, self.l + 1, size=(steps, paths), dtype=np.int64)
        u = rng.random((steps, paths))
        return np.searchsorted(self._cdf, u, side="right").astype(np.int64).clip(0, self.l)

    def probabilities(self, k: int) -> np.ndarray:
        return self.q.copy()

    def __repr__(self) -> str:
        return f"RandomDelay(l={self.l}, q={'uniform' if self.uniform else self.q.tolist()})"


class CyclicDelay(DelayModel):
    """Cyclic delays `l_k = k mod (l+1)` (the cyclic architecture cited before Theorem 3.4)."""

    name = "cyclic"

    def __init__(self, l: int) -> None:
        self.l = check_delay_bound(l)

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        return np.full(paths, k % (self.l + 1), dtype=np.int64)

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        ks = np.arange(k_start, k_start + steps, dtype=np.int64) % (self.l + 1)
        return np.repeat(ks[:, None], paths, axis=1)

    def probabilities(self, k: int) -> np.ndarray:
        p = np.zeros(self.l + 1)
        p[k % (self.l + 1)] = 1.0
        return p


def cap_delays(l_k: np.ndarray, j: np.ndarray | int) -> np.ndarray:
    """Footnote-2 cap: `min(l_k, j)` where `j = k - k0` is the number of past iterates."""
    return np.minimum(l_k, j)


class SequenceDelay(DelayModel):
    r"""A given delay sequence $l_{k_0}, l_{k_0+1}, \dots$ shared by all paths (deterministic).

    Used to feed one realisation of a random delay law (or the Section 5 warm-up) to several
    simulators so that they see the same $l_k$.
    """

    name = "sequence"

    def __init__(self, delays: Any, k0: int = 0) -> None:
        arr = np.asarray(delays, dtype=np.int64).reshape(-1)
        if arr.size == 0 or np.any(arr < 0):
            raise DelayError(
                "delays", delays, "must be a non-empty sequence of integers >= 0", "fix delays"
            )
        self.seq = arr
        self.k0 = int(k0)
        self.l = int(arr.max())

    def _at(self, k: Any) -> np.ndarray:
        return self.seq[np.clip(np.asarray(k) - self.k0, 0, self.seq.size - 1)]

    def draw(self, k: int, paths: int, rng: np.random.Generator | None) -> np.ndarray:
        return np.full(paths, int(self._at(k)), dtype=np.int64)

    def draw_block(
        self, k_start: int, steps: int, paths: int, rng: np.random.Generator | None
    ) -> np.ndarray:
        ks = self._at(np.arange(k_start, k_start + steps))
        return np.repeat(ks[:, None], paths, axis=1).astype(np.int64)

    def probabilities(self, k: int) -> np.ndarray:
        p = np.zeros(self.l + 1)
        p[int(self._at(k))] = 1.0
        return p

    def __repr__(self) -> str:
        return f"SequenceDelay(l={self.l}, n={self.seq.size})"
