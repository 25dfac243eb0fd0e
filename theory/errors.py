"""Input errors shared by every layer.

Every function that takes user input raises a subclass of :class:`InputError` whose message
names the parameter, the offending value and the fix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input: says which parameter, which value, and what to change.

    Arguments:
        parameter: the name of the offending argument or field, e.g. ``"tau"``.
        value: the value that was given.
        problem: what is wrong with it, e.g. ``"must be > 0"``.
        fix: what the caller should do instead.
    """

    def __init__(self, parameter: str, value: Any, problem: str, fix: str) -> None:
        self.parameter = parameter
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(f"{parameter}={_short(value)}: {problem}. Fix: {fix}")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
