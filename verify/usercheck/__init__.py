r"""User-loss checks: a TOML spec names a loss, data, an algorithm, checks and claims.

Public entry points:

* :func:`~verify.usercheck.spec.load_spec` ``(path) -> UserSpec`` — validate everything first;
* :func:`~verify.usercheck.data.load_dataset` ``(DataSpec, base_dir) -> Dataset``;
* :class:`theory.user_loss.UserLoss` and :func:`theory.user_loss.analyse_loss` for the derived
  quantities ($\nabla f$, $x^*$, $L$, $\mu$, $\Sigma(x^*)$, $\tilde A$);
* :class:`numerics.user_problem.UserLossProblem` for the simulators;
* :func:`~verify.usercheck.run.run_spec` ``(path, *, seed, out, profile, only, executor) ->
  RunReport`` — the whole ``sdde-verify check`` pipeline (analysis, applicability, checks,
  claims, atomic report); :func:`~verify.usercheck.run.applicability` the applicability table.

Format of the spec: ``docs/usercheck.md``.

Example specs are in ``verify/examples/``; shipped data in ``verify/data/`` (``@breast_cancer``,
``@diabetes``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from theory.user_loss import LossAnalysis
from verify.usercheck.data import DataError, Dataset, DataSpec, load_dataset
from verify.usercheck.spec import SpecError, UserSpec, load_spec, parse_spec
from verify.verdict import Hypothesis

__all__ = [
    "DataError",
    "DataSpec",
    "Dataset",
    "SpecError",
    "UserSpec",
    "applicability",
    "load_dataset",
    "load_spec",
    "loss_hypotheses",
    "parse_spec",
    "run_spec",
]


def run_spec(path: str | Path, **kwargs: Any) -> Any:
    """See :func:`verify.usercheck.run.run_spec` (imported lazily: the checks are heavy)."""
    from verify.usercheck.run import run_spec as _run_spec

    return _run_spec(path, **kwargs)


def applicability(setting: Any) -> list[dict[str, Any]]:
    """See :func:`verify.usercheck.run.applicability`."""
    from verify.usercheck.run import applicability as _applicability

    return _applicability(setting)


def loss_hypotheses(analysis: LossAnalysis, *, on_ball: bool = False) -> list[Hypothesis]:
    r"""The loss hypotheses the paper's results use, evaluated for a user loss.

    Names: ``"F smooth (C^2)"``, ``"grad F L-Lipschitz"`` (Thms 3.2/3.4, 4.2),
    ``"F convex"``, ``"F strongly convex (mu > 0)"`` (Thm 4.2, Cor 4.3; on the ball
    $B(x^*, D)$ when ``on_ball``) and ``"F quadratic"`` (the OU solution and Thm 4.1 setting:
    a GLM with constant $arphi''$). ``holds`` is the best available answer; ``detail`` says
    whether it is *certified* (interval arithmetic / exact) or only an *estimate* (sampled
    Hessians), so a check can return NOT APPLICABLE only on certified failures.
    """
    L = analysis.L_ball if on_ball else analysis.L
    mu = analysis.mu_ball if on_ball else analysis.mu
    where = f"on B(x*, {analysis.D:.4g})" if on_ball else "on R^d"
    conv = analysis.convexity
    return [
        Hypothesis("F smooth (C^2)", analysis.smooth, "no abs/maximum/minimum in the loss"),
        Hypothesis(
            "grad F L-Lipschitz",
            analysis.smooth and math.isfinite(L.value),
            f"L = {L.value:.6g} ({L.kind}) {where}: {L.detail}",
        ),
        Hypothesis("F convex", conv.convex is not False, f"{conv.status}: {conv.detail}"),
        Hypothesis(
            "F strongly convex (mu > 0)",
            analysis.smooth and mu.value > 0,
            f"mu = {mu.value:.6g} ({mu.kind}) {where}: {mu.detail}",
        ),
        Hypothesis(
            "F quadratic",
            analysis.quadratic,
            f"GLM with phi'' in {analysis.phi2_range} (certified)"
            if analysis.phi2_range
            else "not a GLM with certified constant phi''",
        ),
    ]
