r"""The TOML spec of a user check: loss, data, algorithm, checks, claims (SPEC §1, §5).

A spec file looks like (see ``verify/examples/*.toml``)::

    [loss]
    expression = "softplus(-b*dot(a, x)) + lam/2*norm2(x)"
    constants = { lam = 0.01 }

    [data]
    path = "@breast_cancer"          # or a CSV/NPY/NPZ path relative to this file
    label = "target"
    label_map = { "0" = -1, "1" = 1 }
    label_values = [-1, 1]
    standardize = true

    [algorithm]
    eta = 0.05                       # learning rate eta
    schedule = "1"                   # u_k: "1", "1/k", "1/sqrt(k)", "1/(mu k)"
    batch_size = 8                   # b
    replace = true                   # minibatch sampling with replacement (SPEC §1)
    delay = "iid"                    # "none", "constant", "iid", "cyclic"
    l = 4                            # delay bound
    K = 2000                         # horizon (iterations)
    paths = 1000
    seed = 1

    [checks]
    run = ["all"]                    # or check ids, e.g. ["R2", "R7"]
    alpha = 0.05

    [[claims]]
    metric = "mean_sq_dist"          # E||X(t) - x*||^2
    process = "sdde"                 # "sdde" or "asgd"
    rhs = "(delta + 1)*(H + 2*L**2*D**2*tau)*log(t)/((t - 1)*mu**2)"
    alpha = 0.05

:func:`load_spec` validates *everything* before any work: unknown keys (with "did you mean"),
types, ranges, the loss expression (safe parser; the dimension comes from the data), the data
(shape, NaN/inf, label values) and every claim's right-hand side; errors are
:class:`SpecError` naming the field (``section.key``), the value and the fix.
"""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy

from numerics.user_problem import UserLossProblem
from theory.errors import InputError
from theory.safe_parse import LossSpecError, ParsedExpression, parse_expression
from theory.user_loss import UserLoss
from verify.usercheck.data import SYNTHETIC_KINDS, DataError, Dataset, DataSpec, load_dataset

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "CHECK_ALIASES",
    "CHECK_IDS",
    "CLAIM_COUPLINGS",
    "CLAIM_METRICS",
    "CLAIM_NAMES",
    "COUPLINGS",
    "DELAY_MODELS",
    "FREE_CONSTANTS",
    "METRIC_ALIASES",
    "PROCESSES",
    "SCHEDULES",
    "AlgorithmSpec",
    "ChecksSpec",
    "ClaimSpec",
    "DataError",
    "LossSpec",
    "LossSpecError",
    "SpecError",
    "UserSpec",
    "load_spec",
    "parse_spec",
]

SCHEDULES = ("1", "1/k", "1/sqrt(k)", "1/(mu k)")
r"""Schedules $u_k$ (SPEC §1); ``"constant"`` is accepted as ``"1"``."""
DELAY_MODELS = ("none", "constant", "iid", "cyclic")
r"""Delay models (SPEC §1): SGD, $l_k = l$, i.i.d. with ``q`` on $\{0..l\}$, $k \bmod (l+1)$."""
PROCESSES = ("sdde", "asgd")
COUPLINGS = ("brownian", "quantile", "independent", "wasserstein")
r"""SPEC §3 (a)-(d)."""
CLAIM_METRICS = ("mean_sq_dist", "mean_dist", "excess_loss", "approx_error")
r"""$\mathbb E\lVert X(t)-x^*\rVert^2$, $\mathbb E\lVert X(t)-x^*\rVert$,
$\mathbb E F(X(t)) - F(x^*)$, $\mathbb E\lVert X(t_K) - x_K\rVert$ (needs a coupling)."""
METRIC_ALIASES = {"mse": "mean_sq_dist"}
r"""Accepted synonyms of :data:`CLAIM_METRICS` (``"mse"`` is $\mathbb E\lVert X(t)-x^*\rVert^2$)."""
CLAIM_COUPLINGS = ("brownian", "quantile", "independent")
r"""Couplings a claim on ``approx_error`` may name (SPEC §3 (a)-(c)): ``"brownian"`` compares the
SDDE with its own Euler–Maruyama scheme; ``"quantile"``/``"independent"`` the SDDE with ASGD.
(d) is a distance between laws, not a mean of per-path errors, so it cannot carry a claim."""
FREE_CONSTANTS = tuple(f"C{i}" for i in range(1, 10))
r"""Free constants of a claim's form ("there exist $C_1, C_2, \dots$"): rate check (SPEC §2)."""
CLAIM_NAMES = (
    "t", "k", "K", "b", "l", "tau", "eta", "delta", "L", "mu", "D", "H", "d", "n",
    "sigma2", "R0", "lam", *FREE_CONSTANTS, "pi", "e",
)  # fmt: skip
r"""Names a claim's right-hand side may use; ``sigma2`` is $\mathrm{tr}\,\Sigma(x^*)$, ``R0`` is
$\lVert x_0 - x^*\rVert$; a loss
constant of the same name as ``lam`` (or any name not listed here) is replaced by its value."""
CHECK_ALIASES = {
    "approx": ("U-approx",),
    "R2": ("U-approx",),
    "R3": ("U-approx",),
    "R4": ("U-approx",),
    "thm41": ("U-thm41-local",),
    "R6": ("U-thm41-local",),
    "thm42": ("U-thm42",),
    "R7": ("U-thm42",),
    "R8": ("U-thm42",),
}
r"""Names accepted in ``checks.run`` / ``--only`` besides ``"all"``, ``"claims"`` and the ids
``U-approx``, ``U-thm41-local``, ``U-thm42``, ``U-claim-<i>``."""
CHECK_IDS = ("U-approx", "U-thm41-local", "U-thm42")


class SpecError(InputError):
    r"""A field of the TOML spec is missing, unknown, mistyped or out of range."""


# --------------------------------------------------------------------------------------------
# Dataclasses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSpec:
    r"""``[loss]``: the per-sample loss $f(x; a, b)$ and its named constants."""

    expression: str
    constants: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AlgorithmSpec:
    r"""``[algorithm]``: ASGD Eq. (4) and its SDDE Eq. (6).

    Attributes:
        eta: learning rate $\eta$ (for ``"1/(mu k)"`` the paper's $\eta = 1$ is used).
        schedule: $u_k$, one of :data:`SCHEDULES`.
        batch_size: minibatch size $b$.
        replace: sampling with replacement.
        delay: one of :data:`DELAY_MODELS`; ``l`` its bound; ``q`` the i.i.d. law on $\{0..l\}$.
        K: horizon in iterations; ``paths`` Monte Carlo paths; ``seed`` the root seed.
        D: the radius of Thm 4.2's ball (None: chosen by the check and reported).
        mu: $\mu$ for ``"1/(mu k)"`` (None: the certified $\mu$ of the loss).
        x0: the start $x_0$ and constant initial segment $\xi \equiv x_0$ (a number for every
            coordinate, or a list of $d$ numbers; default 0).
        delta: the SDDE time step $\delta$ (None: $\delta = \eta$, SPEC §1 choice (a)).
    """

    eta: float = 0.1
    schedule: str = "1"
    batch_size: int = 1
    replace: bool = True
    delay: str = "none"
    l: int = 0
    q: tuple[float, ...] | None = None
    K: int = 1000
    paths: int = 1000
    seed: int = 0
    D: float | None = None
    mu: float | None = None
    x0: tuple[float, ...] | float = 0.0
    delta: float | None = None


@dataclass(frozen=True)
class ChecksSpec:
    r"""``[checks]``: which checks to run (``("all",)`` = every applicable one) and $\alpha$."""

    run: tuple[str, ...] = ("all",)
    alpha: float = 0.05


@dataclass(frozen=True)
class ClaimSpec:
    r"""``[[claims]]``: a user claim ``metric(process) <= rhs`` with confidence $1 - \alpha$.

    Attributes:
        metric, process, coupling: see :data:`CLAIM_METRICS`, :data:`PROCESSES`,
            :data:`CLAIM_COUPLINGS`.
        rhs: the right-hand side as written; ``rhs_expr`` parsed (loss constants substituted).
        free_constants: the names $C_i$ in the rhs (empty: a fixed bound, checked on a grid
            with Holm; else the rate check of SPEC §2, the rhs being linear in them).
        t: times of the grid (metrics of $X(t)$); None = a default geometric grid.
        grid: points ``{K, b, eta}`` (``approx_error``); None = a default grid.
        heldout: held-out times or points of a rate check; None = the later half of the grid.
        paths: Monte Carlo paths (None: ``algorithm.paths``).
    """

    metric: str
    process: str
    rhs: str
    rhs_expr: sympy.Expr
    coupling: str | None = None
    alpha: float = 0.05
    name: str = ""
    free_constants: tuple[str, ...] = ()
    t: tuple[float, ...] | None = None
    grid: tuple[Mapping[str, float], ...] | None = None
    heldout: tuple[Any, ...] | None = None
    paths: int | None = None


@dataclass(frozen=True)
class UserSpec:
    r"""A fully validated spec: the sections, the loaded data and the parsed loss.

    Attributes:
        path: the TOML file (None when parsed from a mapping).
        loss_spec, data_spec, algorithm, checks, claims: the sections.
        dataset: the loaded data (:class:`~verify.usercheck.data.Dataset`).
        loss: the parsed loss for the data's dimension (:class:`~theory.user_loss.UserLoss`).
    """

    path: Path | None
    loss_spec: LossSpec
    data_spec: DataSpec
    algorithm: AlgorithmSpec
    checks: ChecksSpec
    claims: tuple[ClaimSpec, ...]
    dataset: Dataset
    loss: UserLoss

    def problem(self) -> UserLossProblem:
        """The simulators' :class:`~numerics.user_problem.UserLossProblem` for this spec (its
        ``analysis`` uses ``algorithm.D`` and ``algorithm.seed``)."""
        return UserLossProblem(
            self.loss, self.dataset.A, self.dataset.y, D=self.algorithm.D, seed=self.algorithm.seed
        )


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_spec(path: str | Path) -> UserSpec:
    r"""Read and validate a TOML spec; data paths are relative to the file.

    Raises:
        SpecError: unreadable TOML, unknown/missing/mistyped fields, bad claims.
        DataError: data problems (see :func:`~verify.usercheck.data.load_dataset`).
        LossSpecError: the loss or a claim's rhs is rejected by the safe parser.
    """
    p = Path(path)
    if not p.is_file():
        raise SpecError("spec", str(path), "no such file", "give the path of a .toml spec")
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("spec", str(path), f"invalid TOML ({exc})", "fix the TOML syntax") from None
    except UnicodeDecodeError:
        raise SpecError("spec", str(path), "not UTF-8 text", "save the spec as UTF-8") from None
    return parse_spec(raw, base_dir=p.parent, path=p)


_SECTIONS = {"loss", "data", "algorithm", "checks", "claims"}
_LOSS_KEYS = {"expression", "constants"}
_DATA_KEYS = {
    "path", "features", "label", "features_key", "label_map", "label_values", "standardize",
    "standardize_label", "intercept", "kind", "n", "d", "seed", "noise",
}  # fmt: skip
_ALG_KEYS = {
    "eta", "schedule", "batch_size", "replace", "delay", "l", "q", "K", "paths", "seed", "D",
    "mu", "x0", "delta",
}  # fmt: skip
_CHECK_KEYS = {"run", "alpha"}
_CLAIM_KEYS = {
    "metric", "process", "rhs", "coupling", "alpha", "name", "t", "grid", "heldout", "paths",
}  # fmt: skip


def parse_spec(
    raw: Mapping[str, Any], *, base_dir: str | Path = ".", path: Path | None = None
) -> UserSpec:
    r"""Validate an already-decoded TOML mapping (see :func:`load_spec`)."""
    _known(raw, _SECTIONS, "")
    for sec in ("loss", "data"):
        if sec not in raw:
            raise SpecError(sec, None, f"missing [{sec}] section", f"add a [{sec}] table")
    loss_spec = _loss_section(_table(raw, "loss"))
    data_spec = _data_section(_table(raw, "data"))
    algorithm = _algorithm_section(_table(raw, "algorithm", {}))
    checks = _checks_section(_table(raw, "checks", {}))
    claims_raw = raw.get("claims", [])
    if not isinstance(claims_raw, list) or not all(isinstance(c, dict) for c in claims_raw):
        raise SpecError("claims", claims_raw, "must be an array of tables", "write [[claims]]")
    claims = tuple(_claim(c, i, loss_spec) for i, c in enumerate(claims_raw))
    _check_run_ids(checks.run, len(claims))

    dataset = load_dataset(data_spec, base_dir)
    if isinstance(algorithm.x0, tuple) and len(algorithm.x0) != dataset.d:
        raise SpecError(
            "algorithm.x0",
            list(algorithm.x0),
            f"has {len(algorithm.x0)} entries but the data have d = {dataset.d} features",
            f"give {dataset.d} numbers, or one number for every coordinate",
        )
    if algorithm.batch_size > dataset.n and not algorithm.replace:
        raise SpecError(
            "algorithm.batch_size",
            algorithm.batch_size,
            f"exceeds n = {dataset.n} for sampling without replacement",
            f"use batch_size <= {dataset.n} or replace = true",
        )
    loss = UserLoss(loss_spec.expression, dataset.d, loss_spec.constants)
    _check_loss_on_data(loss, dataset)
    if loss.glm is not None and loss.glm.margin and data_spec.label_values is None:
        signs = np.isin(dataset.y, (-1.0, 1.0))
        if not signs.all():
            i = int(np.argmax(~signs))
            raise DataError(
                "data.label",
                f"{float(dataset.y[i]):g} ({dataset.row_name(i)})",
                "the loss is a margin loss phi(b a^T x) (logistic, hinge, ...), which needs "
                f"labels in {{-1, +1}}; labels present: {sorted(set(dataset.y.tolist()))[:10]}",
                'map them with data.label_map = { "0" = -1, "1" = 1 }, or declare '
                "data.label_values if another coding is intended",
            )
    return UserSpec(
        path=path,
        loss_spec=loss_spec,
        data_spec=data_spec,
        algorithm=algorithm,
        checks=checks,
        claims=claims,
        dataset=dataset,
        loss=loss,
    )


def _check_loss_on_data(loss: UserLoss, data: Dataset) -> None:
    r"""The loss and its gradient must be finite at $x = 0$ for every sample."""
    x0 = np.zeros(loss.d)
    with np.errstate(all="ignore"):
        f0 = loss.per_sample_losses(x0, data.A, data.y)
        g0 = loss.per_sample_gradients(x0, data.A, data.y)
    bad = ~np.isfinite(f0) | ~np.all(np.isfinite(g0), axis=-1)
    if bad.any():
        i = int(np.argmax(bad))
        raise SpecError(
            "loss.expression",
            loss.expression,
            f"the loss or its gradient is not finite at x = 0 for the data row at "
            f"{data.row_name(i)} (label {float(data.y[i]):g})",
            "check the domain of log/sqrt and the label coding (data.label_map)",
        )


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _known(table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            where = f"{prefix}.{key}" if prefix else str(key)
            raise SpecError(
                where,
                table[key] if not isinstance(table[key], dict) else "{...}",
                "unknown key",
                f"{hint}allowed keys{' in [' + prefix + ']' if prefix else ''}: "
                + ", ".join(sorted(allowed)),
            )


def _table(raw: Mapping[str, Any], name: str, default: Any = None) -> Mapping[str, Any]:
    t = raw.get(name, default)
    if not isinstance(t, dict):
        raise SpecError(name, t, "must be a table", f"write [{name}] followed by key = value lines")
    return t


def _number(t: Mapping, key: str, where: str, *, default: Any = ..., positive: bool = False):
    if key not in t:
        if default is ...:
            raise SpecError(f"{where}.{key}", None, "missing", f"add {key} = <number>")
        return default
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise SpecError(f"{where}.{key}", v, "must be a finite number", "write e.g. 0.1")
    if positive and not v > 0:
        raise SpecError(f"{where}.{key}", v, "must be > 0", "use a positive value")
    return float(v)


def _integer(t: Mapping, key: str, where: str, default: int, minimum: int) -> int:
    v = t.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise SpecError(f"{where}.{key}", v, "must be an integer", f"write e.g. {key} = {default}")
    if v < minimum:
        raise SpecError(f"{where}.{key}", v, f"must be >= {minimum}", f"use {key} >= {minimum}")
    return v


def _bool(t: Mapping, key: str, where: str, default: bool) -> bool:
    v = t.get(key, default)
    if not isinstance(v, bool):
        raise SpecError(f"{where}.{key}", v, "must be true or false", f"write {key} = true")
    return v


def _choice(t: Mapping, key: str, where: str, choices: tuple[str, ...], default: Any) -> Any:
    v = t.get(key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, str) or v not in choices:
        close = difflib.get_close_matches(str(v), choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(f"{where}.{key}", v, "not a valid choice", f"{hint}use one of {choices}")
    return v


def _loss_section(t: Mapping[str, Any]) -> LossSpec:
    _known(t, _LOSS_KEYS, "loss")
    expr = t.get("expression")
    if not isinstance(expr, str):
        raise SpecError(
            "loss.expression", expr, "missing or not a string", 'write expression = "..."'
        )
    consts = t.get("constants", {})
    if not isinstance(consts, dict):
        raise SpecError(
            "loss.constants", consts, "must be a table", "write constants = { lam = 0.1 }"
        )
    out: dict[str, float] = {}
    for k, v in consts.items():
        if not (k.isascii() and k.isidentifier()) or k.startswith("_"):
            raise SpecError(f"loss.constants.{k}", v, "not a plain identifier", "rename it")
        if k in ("x", "a", "b"):
            raise SpecError(f"loss.constants.{k}", v, "x, a, b are reserved", "rename it")
        out[k] = _number(consts, k, "loss.constants")
    return LossSpec(expression=expr, constants=out)


def _data_section(t: Mapping[str, Any]) -> DataSpec:
    _known(t, _DATA_KEYS, "data")
    has_path, has_kind = "path" in t, "kind" in t
    if has_path == has_kind:
        raise SpecError(
            "data.path",
            t.get("path"),
            "give exactly one of data.path (a file) or data.kind (synthetic)",
            'e.g. path = "@diabetes" or kind = "linear", n = 200, d = 3, seed = 1',
        )
    common = {
        "standardize": _bool(t, "standardize", "data", False),
        "standardize_label": _bool(t, "standardize_label", "data", False),
        "intercept": _bool(t, "intercept", "data", False),
    }
    label_map = t.get("label_map")
    if label_map is not None:
        if not isinstance(label_map, dict) or not label_map:
            raise SpecError("data.label_map", label_map, "must be a table", 'e.g. { "0" = -1 }')
        lm: dict[float, float] = {}
        for k, v in label_map.items():
            try:
                kf = float(k)
            except ValueError:
                raise SpecError(
                    f"data.label_map.{k}", v, "key is not a number", "quote numbers"
                ) from None
            lm[kf] = _number(label_map, k, "data.label_map")
        label_map = lm
    values = t.get("label_values")
    if values is not None:
        if not isinstance(values, list) or not values:
            raise SpecError("data.label_values", values, "must be a non-empty list", "e.g. [-1, 1]")
        values = tuple(_number({"v": v}, "v", "data.label_values") for v in values)
    common.update(label_map=label_map, label_values=values)
    if has_kind:
        for key in ("features", "label", "features_key"):
            if key in t:
                raise SpecError(f"data.{key}", t[key], "only for data.path", f"remove {key}")
        return DataSpec(
            kind=_choice(t, "kind", "data", SYNTHETIC_KINDS, None),
            n=_integer(t, "n", "data", 200, 1),
            d=_integer(t, "d", "data", 2, 1),
            seed=_integer(t, "seed", "data", 0, 0),
            noise=_number(t, "noise", "data", default=0.1),
            **common,
        )
    for key in ("n", "d", "seed", "noise"):
        if key in t:
            raise SpecError(f"data.{key}", t[key], "only for synthetic data.kind", f"remove {key}")
    p = t["path"]
    if not isinstance(p, str) or not p:
        raise SpecError("data.path", p, "must be a non-empty string", 'e.g. path = "data.csv"')
    feats = t.get("features")
    if feats is not None:
        if not isinstance(feats, list) or not feats:
            raise SpecError("data.features", feats, "must be a non-empty list", 'e.g. ["x1", "x2"]')
        for f in feats:
            if isinstance(f, bool) or not isinstance(f, str | int):
                raise SpecError("data.features", f, "not a column name or index", "fix it")
        feats = tuple(feats)
    label = t.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, str | int)):
        raise SpecError("data.label", label, "not a column name or index", 'e.g. label = "y"')
    fk = t.get("features_key", "A")
    if not isinstance(fk, str):
        raise SpecError("data.features_key", fk, "must be a string", 'e.g. "A"')
    return DataSpec(path=p, features=feats, label=label, features_key=fk, **common)


def _algorithm_section(t: Mapping[str, Any]) -> AlgorithmSpec:
    _known(t, _ALG_KEYS, "algorithm")
    schedule = t.get("schedule", "1")
    if schedule == "constant":
        schedule = "1"
    schedule = _choice({"schedule": schedule}, "schedule", "algorithm", SCHEDULES, "1")
    delay = _choice(t, "delay", "algorithm", DELAY_MODELS, "none")
    l = _integer(t, "l", "algorithm", 0, 0)
    if delay == "none" and l != 0:
        raise SpecError("algorithm.l", l, "delay = 'none' needs l = 0", "set l = 0 or a delay")
    if delay in ("constant", "iid", "cyclic") and l == 0:
        raise SpecError("algorithm.l", l, f"delay = {delay!r} needs l >= 1", "set l >= 1")
    q = t.get("q")
    if q is not None:
        if delay != "iid":
            raise SpecError("algorithm.q", q, "only for delay = 'iid'", "remove q")
        if not isinstance(q, list) or len(q) != l + 1:
            raise SpecError("algorithm.q", q, f"must be a list of l + 1 = {l + 1} numbers", "fix")
        qs = [_number({"q": v}, "q", "algorithm") for v in q]
        if min(qs) < 0 or abs(sum(qs) - 1) > 1e-9:
            raise SpecError("algorithm.q", q, "must be >= 0 and sum to 1", "normalise q")
        q = tuple(qs)
    eta = _number(t, "eta", "algorithm", default=1.0 if schedule == "1/(mu k)" else 0.1)
    if not eta > 0:
        raise SpecError("algorithm.eta", eta, "must be > 0", "use a positive learning rate")
    for key in ("eta", "delta", "D", "mu"):
        v = t.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) > MAX_PARAMETER:
            raise SpecError(
                f"algorithm.{key}",
                v,
                f"exceeds {MAX_PARAMETER:g}: the delays tau = l*delta and products such as "
                "eta*L leave the range in which the characteristic roots and the simulations "
                "are computable",
                f"use {key} <= {MAX_PARAMETER:g} (rescale the loss instead)",
            )
    D = _number(t, "D", "algorithm", default=None, positive=True)
    mu = _number(t, "mu", "algorithm", default=None, positive=True)
    delta = _number(t, "delta", "algorithm", default=None, positive=True)
    x0: tuple[float, ...] | float = 0.0
    if "x0" in t:
        raw_x0 = t["x0"]
        if isinstance(raw_x0, list):
            if not raw_x0:
                raise SpecError("algorithm.x0", raw_x0, "empty list", "give d numbers or one")
            x0 = tuple(_number({"x0": v}, "x0", "algorithm") for v in raw_x0)
        else:
            x0 = _number(t, "x0", "algorithm")
    for key, cap in (("paths", MAX_PATHS), ("K", MAX_STEPS), ("batch_size", MAX_BATCH)):
        v = t.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > cap:
            raise SpecError(
                f"algorithm.{key}",
                v,
                f"exceeds the largest accepted value {cap:.0e}",
                f"use {key} <= {cap:.0e}",
            )
    return AlgorithmSpec(
        eta=eta,
        schedule=schedule,
        batch_size=_integer(t, "batch_size", "algorithm", 1, 1),
        replace=_bool(t, "replace", "algorithm", True),
        delay=delay,
        l=l,
        q=q,
        K=_integer(t, "K", "algorithm", 1000, 1),
        paths=_integer(t, "paths", "algorithm", 1000, 2),
        seed=_integer(t, "seed", "algorithm", 0, 0),
        D=D,
        mu=mu,
        x0=x0,
        delta=delta,
    )


#: absolute limits of the algorithm's numbers (a cost estimate refuses large runs well below)
MAX_PARAMETER = 1e6
MAX_PATHS = 10**7
MAX_STEPS = 10**8
MAX_BATCH = 10**7


def _alpha(t: Mapping, where: str) -> float:
    a = _number(t, "alpha", where, default=0.05)
    if not 0 < a < 1:
        raise SpecError(f"{where}.alpha", a, "must be in (0, 1)", "e.g. alpha = 0.05")
    return a


def _checks_section(t: Mapping[str, Any]) -> ChecksSpec:
    _known(t, _CHECK_KEYS, "checks")
    run = t.get("run", ["all"])
    if isinstance(run, str):
        run = [run]
    if not isinstance(run, list) or not run or not all(isinstance(r, str) for r in run):
        raise SpecError("checks.run", run, "must be a list of check ids", 'e.g. ["all"] or ["R7"]')
    return ChecksSpec(run=tuple(run), alpha=_alpha(t, "checks"))


def _check_run_ids(run: tuple[str, ...], n_claims: int) -> None:
    r"""Every entry of ``checks.run`` must name something that exists (no silent no-op)."""
    valid = ["all", "claims", *CHECK_IDS, *CHECK_ALIASES]
    valid += [f"U-claim-{i + 1}" for i in range(n_claims)]
    for r in run:
        if r in valid or any(v.startswith(r) and r.startswith("U-") for v in valid):
            continue
        close = difflib.get_close_matches(r, valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise SpecError(
            "checks.run", r, "no such check", f"{hint}use 'all' or some of {', '.join(valid)}"
        )


def _claim(t: Mapping[str, Any], i: int, loss: LossSpec) -> ClaimSpec:
    where = f"claims[{i}]"
    _known(t, _CLAIM_KEYS, where)
    m = t.get("metric")
    if isinstance(m, str) and m in METRIC_ALIASES:
        t = {**t, "metric": METRIC_ALIASES[m]}
    metric = _choice(t, "metric", where, CLAIM_METRICS, None)
    if metric is None:
        raise SpecError(f"{where}.metric", None, "missing", f"use one of {CLAIM_METRICS}")
    process = _choice(t, "process", where, PROCESSES, "sdde")
    coupling = _choice(t, "coupling", where, CLAIM_COUPLINGS, None)
    if metric == "approx_error" and coupling is None:
        raise SpecError(
            f"{where}.coupling",
            None,
            "approx_error needs a coupling (SPEC §3)",
            f"use one of {CLAIM_COUPLINGS}",
        )
    if metric != "approx_error" and coupling is not None:
        raise SpecError(
            f"{where}.coupling", coupling, f"only for approx_error, not {metric}", "remove it"
        )
    rhs = t.get("rhs")
    if not isinstance(rhs, str):
        raise SpecError(f"{where}.rhs", rhs, "missing or not a string", 'e.g. rhs = "C1/K"')
    names: dict[str, Any] = {n: sympy.Symbol(n, positive=True) for n in CLAIM_NAMES}
    names["pi"], names["e"] = sympy.pi, sympy.E
    for k, v in loss.constants.items():
        if k not in names or k == "lam":
            names[k] = sympy.Rational(repr(v))
    parsed: ParsedExpression = parse_expression(
        rhs,
        scalars=names,
        functions={"exp", "log", "sqrt", "maximum", "minimum", "abs", "sin", "cos", "tanh"},
        parameter=f"{where}.rhs",
    )
    expr = parsed.expr
    free = tuple(sorted(s.name for s in expr.free_symbols if s.name in FREE_CONSTANTS))
    if free:
        _check_linear(expr, free, f"{where}.rhs", rhs)
    name = t.get("name", f"claim {i + 1}")
    if not isinstance(name, str):
        raise SpecError(f"{where}.name", name, "must be a string", 'e.g. name = "my bound"')
    times = _positive_list(t, "t", where, float)
    if times is not None and metric == "approx_error":
        raise SpecError(f"{where}.t", list(times), "not for approx_error", "use grid = [...]")
    grid = _grid_list(t, "grid", where) if "grid" in t else None
    if grid is not None and metric != "approx_error":
        raise SpecError(f"{where}.grid", "[...]", f"only for approx_error, not {metric}", "use t")
    heldout: tuple[Any, ...] | None = None
    if "heldout" in t:
        if not free:
            raise SpecError(
                f"{where}.heldout",
                t["heldout"],
                "only for a rhs with free constants C1, C2, ... (rate check)",
                "remove heldout, or write the rhs with free constants",
            )
        heldout = (
            _grid_list(t, "heldout", where)
            if metric == "approx_error"
            else _positive_list(t, "heldout", where, float)
        )
    paths = _integer(t, "paths", where, 0, 2) if "paths" in t else None
    return ClaimSpec(
        metric=metric,
        process=process,
        rhs=rhs,
        rhs_expr=expr,
        coupling=coupling,
        alpha=_alpha(t, where),
        name=name,
        free_constants=free,
        t=times,
        grid=grid,
        heldout=heldout,
        paths=paths,
    )


def _check_linear(expr: sympy.Expr, free: tuple[str, ...], where: str, rhs: str) -> None:
    r"""The rate check (SPEC §2) fits $\min_{C\ge0}$ of $\sum_i C_i\varphi_i$: the rhs must be
    exactly $\sum_i C_i\varphi_i(p)$ with $\varphi_i$ free of every $C_j$ and no other term."""
    syms = [sympy.Symbol(c, positive=True) for c in free]
    coeffs = [sympy.diff(expr, c) for c in syms]
    bad = [c for c, co in zip(free, coeffs) if any(s in co.free_symbols for s in syms)]
    rest = sympy.simplify(sympy.expand(expr - sum(c * co for c, co in zip(syms, coeffs))))
    if bad or rest != 0:
        why = (
            f"it is not linear in {', '.join(bad)}"
            if bad
            else f"it has a term without a free constant ({rest})"
        )
        raise SpecError(
            where,
            rhs,
            f"a rhs with free constants must have the form C1*phi1 + C2*phi2 + ...; {why}",
            "write every term as Ci times an expression of the named symbols (e.g. "
            "'C1/sqrt(K) + C2/b'), or give fixed numbers instead of free constants",
        )


def _positive_list(t: Mapping, key: str, where: str, kind: type) -> tuple | None:
    if key not in t:
        return None
    v = t[key]
    if not isinstance(v, list) or not v:
        raise SpecError(f"{where}.{key}", v, "must be a non-empty list", f"e.g. {key} = [1, 2, 4]")
    out = []
    for x in v:
        number = not isinstance(x, bool) and isinstance(x, int | float)
        if not (number and math.isfinite(x) and x > 0):
            raise SpecError(f"{where}.{key}", x, "entries must be finite numbers > 0", "fix it")
        out.append(kind(x))
    return tuple(out)


def _grid_list(t: Mapping, key: str, where: str) -> tuple[dict[str, float], ...]:
    v = t[key]
    if not isinstance(v, list) or not v or not all(isinstance(p, dict) for p in v):
        raise SpecError(
            f"{where}.{key}", v, "must be a list of tables", f"e.g. {key} = [{{K = 100, b = 4}}]"
        )
    out = []
    for j, p in enumerate(v):
        w = f"{where}.{key}[{j}]"
        _known(p, {"K", "b", "eta"}, w)
        q: dict[str, float] = {}
        for k in ("K", "b"):
            if k in p:
                q[k] = _integer(p, k, w, 1, 1)
        if "eta" in p:
            q["eta"] = _number(p, "eta", w, positive=True)
        out.append(q)
    return tuple(out)
