r"""User-loss checks: a TOML spec names a loss, data, an algorithm, checks and claims.

Public entry points:

* :func:`~verify.usercheck.spec.load_spec` ``(path) -> UserSpec`` — validate everything first;
* :func:`~verify.usercheck.data.load_dataset` ``(DataSpec, base_dir) -> Dataset``;
* :class:`theory.user_loss.UserLoss` and :func:`theory.user_loss.analyse_loss` for the derived
  quantities ($\nabla f$, $x^*$, $L$, $\mu$, $\Sigma(x^*)$, $\tilde A$);
* :class:`numerics.user_problem.UserLossProblem` for the simulators.

Example specs are in ``verify/examples/``; shipped data in ``verify/data/`` (``@breast_cancer``,
``@diabetes``).
"""

from verify.usercheck.data import DataError, Dataset, DataSpec, load_dataset
from verify.usercheck.spec import SpecError, UserSpec, load_spec, parse_spec

__all__ = [
    "DataError",
    "DataSpec",
    "Dataset",
    "SpecError",
    "UserSpec",
    "load_dataset",
    "load_spec",
    "parse_spec",
]
