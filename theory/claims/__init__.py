"""Claims as data: the registry of every result of the paper, stated once.

The statement types live in :mod:`theory.claims.base` (read its docstring); the statements in
one module per result family: :mod:`theory.claims.approx` (Thm 3.2, Cor 3.3, Thm 3.4),
:mod:`theory.claims.thm41` (Thm 4.1 and its proof steps), :mod:`theory.claims.thm42`
(Thm 4.2, Cor 4.3 as its tau = 0 row, and their proof steps).
"""

from __future__ import annotations

from theory.claims import approx, thm41, thm42
from theory.claims.base import Claim, ClaimInputError

__all__ = ["Claim", "all_claims", "get"]

_REGISTRY: dict[str, Claim] = {c.id: c for module in (approx, thm41, thm42) for c in module.CLAIMS}


def get(claim_id: str) -> Claim:
    """The claim with this id (``"thm3.2"``, ``"cor4.3"``, ``"thm4.1/mean"`` ...)."""
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        raise ClaimInputError(
            "claim_id", claim_id, "no such claim", f"use one of {sorted(_REGISTRY)}"
        ) from None


def all_claims() -> list[Claim]:
    """Every claim, by id."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
