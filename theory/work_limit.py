r"""Bounded symbolic work: a wall-clock limit around SymPy steps on user input, and an upper
bound of the size of ``sympy.expand`` before it runs.

Symbolic algebra on user expressions can take unbounded time (``expand`` of a multinomial,
``simplify`` of a large expression). Two guards:

* :func:`expansion_terms` bounds the number of terms ``sympy.expand(e)`` can produce,
  cheaply and from above: $T(u + v) = T(u) + T(v)$, $T(uv) = T(u)\,T(v)$,
  $T(u^k) = \binom{T(u) + k - 1}{k}$ for an integer $k > 0$ (the number of monomials of
  degree $k$ in $T(u)$ terms), and 1 for anything else (an atom or a function, which
  ``expand`` does not multiply out). Callers expand only below a limit and otherwise take a
  route that does not expand.
* :func:`time_limit` raises :class:`WorkLimitExceeded` when a block runs longer than the given
  number of seconds (``SIGALRM``; main thread on POSIX only, elsewhere a no-op). The pure-Python
  loops of SymPy check for signals between byte codes, so the limit interrupts them; the
  arbitrary-precision arithmetic that would not be interrupted is prevented at parse time
  (:mod:`theory.safe_parse` refuses constants that do not fit a float64).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sympy

__all__ = ["WorkLimitExceeded", "expansion_terms", "time_limit"]


class WorkLimitExceeded(Exception):
    """A bounded block ran out of time; ``what`` names the step."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"{what} exceeded {seconds:g} s")


def expansion_terms(expr: sympy.Basic, cap: int = 10**9) -> int:
    r"""An upper bound of the number of terms of ``sympy.expand(expr)`` (at most ``cap``)."""

    def t(e: sympy.Basic) -> int:
        if e.is_Add:
            return min(cap, sum(t(a) for a in e.args))
        if e.is_Mul:
            out = 1
            for a in e.args:
                out = min(cap, out * t(a))
            return out
        if e.is_Pow and e.exp.is_Integer and int(e.exp) > 0:
            m, k = t(e.base), int(e.exp)
            if m == 1:
                return 1
            return min(cap, math.comb(m + k - 1, k))
        return 1

    return t(expr)


_ACTIVE = threading.local()


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    r"""Raise :class:`WorkLimitExceeded` if the block runs longer than ``seconds`` (wall clock).

    Nested limits keep the outer, earlier deadline in force (the inner one only if shorter). A
    no-op outside the main thread or where ``SIGALRM`` does not exist.
    """
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
        or not seconds
        or not math.isfinite(seconds)
    ):
        yield
        return
    import time

    now = time.monotonic()
    outer = getattr(_ACTIVE, "deadline", None)
    deadline = now + seconds
    if outer is not None and outer[0] <= deadline:
        yield  # the outer limit is earlier: it stays in force
        return

    def _raise(signum: int, frame: object) -> None:
        raise WorkLimitExceeded(what, seconds)

    previous = signal.signal(signal.SIGALRM, _raise)
    _ACTIVE.deadline = (deadline, what)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _ACTIVE.deadline = outer
        if outer is not None:  # re-arm the outer limit for what is left of it
            left = outer[0] - time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))
