"""Registry of checks.

Every module in this package except `base` (and names starting with `_`) is a check module
and defines `CHECKS: list[Check]`. Adding a file `verify/checks/<result>_<level>.py` with a
`CHECKS` list registers it; nothing else needs editing. Checks are listed in natural id
order (R1 < R2 < … < R10).

`load_checks(modules=None)` imports them; tests and plug-ins may pass their own module
names (the command line's hidden `--registry MODULE` does the same), so the registry is
injectable.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field

from theory.errors import InputError

__all__ = [
    "CheckSelectionError",
    "Registry",
    "check_modules",
    "load_checks",
    "select",
]


class CheckSelectionError(InputError):
    """`--only` named no known check, or a check id is duplicated."""


def check_modules() -> list[str]:
    """Names of the check modules in this package (sorted)."""
    names = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        names.append(f"{__name__}.{info.name}")
    return sorted(names)


def _natural_key(check_id: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", check_id)]


@dataclass
class Registry:
    """The loaded checks, plus the modules that failed to import (with tracebacks)."""

    checks: list = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    def get(self, check_id: str):
        for c in self.checks:
            if c.id == check_id:
                return c
        raise CheckSelectionError(
            "check_id",
            check_id,
            "no such check",
            f"use one of {self.ids()} (see `sdde-verify list`)",
        )


def load_checks(modules: Iterable[str] | None = None) -> Registry:
    """Import the check modules (default: every module of this package) and collect `CHECKS`.

    A module that fails to import is recorded in `Registry.errors` instead of stopping the
    run (so one half-written check does not hide the others); the command line reports it.

    Raises:
        CheckSelectionError: two checks share an id.
    """
    reg = Registry()
    for name in check_modules() if modules is None else modules:
        try:
            module = importlib.import_module(name)
        except Exception:
            reg.errors[name] = traceback.format_exc()
            continue
        reg.checks.extend(getattr(module, "CHECKS", []))
    seen: set[str] = set()
    for c in reg.checks:
        if c.id in seen:
            raise CheckSelectionError("id", c.id, "is defined twice", "give each check a unique id")
        seen.add(c.id)
    reg.checks.sort(key=lambda c: _natural_key(c.id))
    return reg


def select(registry: Registry, only: Iterable[str] | None) -> list:
    """The checks named by `only` (all when empty/None).

    Each entry matches a check id exactly, or every check whose id starts with it followed by
    a separator (``"R6"`` matches ``"R6-as-stated"`` and ``"R6.2"``, not ``"R60"``).
    """
    if not only:
        return sorted(registry.checks, key=lambda c: _natural_key(c.id))
    chosen = []
    for name in only:
        hits = [
            c
            for c in registry.checks
            if c.id == name or (c.id.startswith(name) and not c.id[len(name)].isalnum())
        ]
        if not hits:
            raise CheckSelectionError(
                "--only",
                name,
                "matches no check",
                f"use ids from `sdde-verify list`: {registry.ids()}",
            )
        chosen.extend(c for c in hits if c not in chosen)
    return sorted(chosen, key=lambda c: _natural_key(c.id))
