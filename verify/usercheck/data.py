r"""Loading and validating the data $(a_i, b_i)_{i=1..n}$ of a user spec (SPEC §1, Eq. (1)).

Sources: a CSV file (header optional), a ``.npy`` array (features and label as columns), a
``.npz`` archive (one array of features, one of labels), or a synthetic generator with an
explicit seed. Paths are relative to the TOML file. Every problem raises :class:`DataError`
naming the field, the value and the fix; nothing is written.

Glossary: ``A`` the $n\times d$ feature matrix with rows $a_i^\top$, ``y`` the labels $b_i$
(called ``y`` in code because ``b`` is also the minibatch size), ``n``, ``d``.
"""

from __future__ import annotations

import csv
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from theory.errors import InputError

__all__ = [
    "SHIPPED",
    "SYNTHETIC_KINDS",
    "DataError",
    "DataSpec",
    "Dataset",
    "load_dataset",
    "shipped_path",
]

SHIPPED = {
    "breast_cancer": "breast_cancer.csv",
    "diabetes": "diabetes.csv",
}
"""Datasets shipped in ``verify/data`` (see ``verify/data/SOURCES.md``); ``path = "@name"``."""

SYNTHETIC_KINDS = ("linear", "logistic", "gaussian")
r"""``linear``: $b = a^\top x_0 + \text{noise}\cdot\varepsilon$; ``logistic``:
$b \in \{-1, 1\}$ with $P(b = 1) = \sigma(a^\top x_0)$; ``gaussian``: $b \sim N(0, 1)$
independent of $a$. Features $a_i \sim N(0, I_d)$, $x_0 \sim N(0, I_d)$,
$\varepsilon \sim N(0, 1)$."""

MAX_ROWS = 1_000_000


class DataError(InputError):
    """The ``[data]`` section or the data it points to is unusable."""


@dataclass(frozen=True)
class DataSpec:
    """The validated ``[data]`` section.

    Exactly one of ``path`` (file) or ``kind`` (synthetic) is set.

    Attributes:
        path: file path as written (relative to the TOML file), or ``"@breast_cancer"`` etc.
        features: column names or 0-based indices of the features; None = all but the label.
        label: column name or index of the label (CSV/NPY; default: the last column) or the
            array name in an NPZ (default ``"y"``); ``features_key`` names the NPZ feature array.
        label_map: relabelling of raw label values, e.g. ``{0: -1, 1: 1}``.
        label_values: if given, every (mapped) label must be one of these.
        standardize: centre and scale every feature column to unit (population) variance.
        standardize_label: the same for the label (regression).
        intercept: append a constant feature 1 (after standardising).
        kind, n, d, seed, noise: the synthetic generator.
    """

    path: str | None = None
    features: tuple[str | int, ...] | None = None
    label: str | int | None = None
    features_key: str = "A"
    label_map: Mapping[float, float] | None = None
    label_values: tuple[float, ...] | None = None
    standardize: bool = False
    standardize_label: bool = False
    intercept: bool = False
    kind: str | None = None
    n: int | None = None
    d: int | None = None
    seed: int | None = None
    noise: float = 0.1


@dataclass(frozen=True)
class Dataset:
    """Validated data: ``A`` (n, d) float, ``y`` (n,) float, all finite.

    Attributes:
        feature_names: one name per column of ``A``.
        source: where the data came from (file path or generator with seed), for reports.
        transforms: what the loader did (standardisation, relabelling, intercept).
    """

    A: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    source: str
    transforms: tuple[str, ...] = field(default_factory=tuple)
    row_lines: np.ndarray | None = None

    def row_name(self, i: int) -> str:
        """How messages name data row ``i`` (0-based): its line in the CSV file (the way a
        text editor counts), or ``sample i+1`` for arrays and generated data."""
        return row_name(i, self.row_lines)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.A.shape[0])

    @property
    def d(self) -> int:
        """Dimension."""
        return int(self.A.shape[1])


def shipped_path(name: str) -> Path:
    """Absolute path of a shipped dataset (``"breast_cancer"`` or ``"diabetes"``)."""
    if name not in SHIPPED:
        close = difflib.get_close_matches(name, list(SHIPPED), n=1)
        hint = f"did you mean '@{close[0]}'? " if close else ""
        raise DataError(
            "data.path", "@" + name, "unknown shipped dataset", f"{hint}use one of {list(SHIPPED)}"
        )
    return Path(__file__).resolve().parent.parent / "data" / SHIPPED[name]


def row_name(i: int, lines: np.ndarray | None) -> str:
    """``line N`` of the file for data row ``i`` (0-based), or ``sample i+1``."""
    if lines is not None and 0 <= i < len(lines):
        return f"line {int(lines[i])}"
    return f"sample {i + 1}"


def snippet(value: object, width: int = 24) -> str:
    """A cell or name quoted for a message: printable ASCII only, at most ``width`` characters
    (a data error never echoes a whole line of a file)."""
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in str(value))
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def plain(v: float) -> str:
    """A number as a person writes it: ``nan``, ``inf``, ``1.5`` (never ``np.float64(nan)``)."""
    return f"{float(v):g}"


def load_dataset(spec: DataSpec, base_dir: str | Path = ".") -> Dataset:
    """Load, relabel, validate and (optionally) standardise the data of a ``[data]`` section.

    Raises:
        DataError: missing/unreadable file, wrong shape, empty, non-numeric, NaN/inf, labels
            outside ``label_values``, a constant column when standardising.
    """
    transforms: list[str] = []
    lines: np.ndarray | None = None
    if spec.kind is not None:
        A, y, names, source = _synthetic(spec)
    else:
        A, y, names, source, lines = _from_file(spec, Path(base_dir))
    if A.shape[0] == 0:
        raise DataError("data.path", source, "the data set has no rows", "supply at least 1 row")
    if A.ndim != 2 or A.shape[1] == 0:
        raise DataError("data.features", A.shape, "no feature columns selected", "select some")
    _check_finite(A, names, "data.features", lines)
    _check_finite(y[:, None], ("label",), "data.label", lines)
    if spec.label_map:
        y = _relabel(y, spec.label_map, lines)
        transforms.append(f"labels mapped by {dict(spec.label_map)}")
    if spec.label_values is not None:
        allowed = np.asarray(spec.label_values, dtype=float)
        bad = ~np.isin(y, allowed)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                "data.label_values",
                list(spec.label_values),
                f"{row_name(i, lines)} has label {plain(y[i])}, not in the allowed set "
                f"({int(bad.sum())} such rows; labels present: {sorted(set(y.tolist()))[:10]})",
                'map the labels with data.label_map (e.g. {"0" = -1, "1" = 1}) '
                "or fix data.label_values",
            )
    if spec.standardize:
        mean = A.mean(axis=0)
        sd = A.std(axis=0)
        const = np.flatnonzero(sd <= 1e-12 * np.maximum(1.0, np.abs(mean)))
        if const.size:
            raise DataError(
                "data.standardize",
                True,
                f"feature {snippet(names[const[0]])} is constant and cannot be standardised",
                "drop it from data.features",
            )
        A = (A - mean) / sd
        transforms.append("features standardised (mean 0, population sd 1)")
    if spec.standardize_label:
        sd = float(y.std())
        if not sd > 0:
            raise DataError("data.standardize_label", True, "the label is constant", "set false")
        y = (y - y.mean()) / sd
        transforms.append("label standardised (mean 0, population sd 1)")
    if spec.intercept:
        A = np.hstack([A, np.ones((A.shape[0], 1))])
        names = (*names, "intercept")
        transforms.append("constant feature 1 appended")
    A = np.ascontiguousarray(A, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    A.setflags(write=False)
    y.setflags(write=False)
    return Dataset(
        A=A,
        y=y,
        feature_names=tuple(names),
        source=source,
        transforms=tuple(transforms),
        row_lines=lines,
    )


# --------------------------------------------------------------------------------------------


def _check_finite(
    M: np.ndarray, names: Sequence[str], parameter: str, lines: np.ndarray | None = None
) -> None:
    bad = ~np.isfinite(M)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise DataError(
            parameter,
            f"{plain(M[i, j])} at {row_name(i, lines)}, column {snippet(names[j])}",
            f"the data contain NaN or inf ({int(bad.sum())} entries)",
            "remove or impute those rows before running",
        )


def _relabel(
    y: np.ndarray, label_map: Mapping[float, float], lines: np.ndarray | None = None
) -> np.ndarray:
    out = np.empty_like(y)
    done = np.zeros(y.shape, dtype=bool)
    for raw, new in label_map.items():
        hit = y == float(raw)
        out[hit] = float(new)
        done |= hit
    if not done.all():
        i = int(np.argmax(~done))
        raise DataError(
            "data.label_map",
            {str(k): v for k, v in label_map.items()},
            f"{row_name(i, lines)} has label {plain(y[i])}, which the map does not cover",
            "add every raw label value to data.label_map",
        )
    return out


def _resolve(spec_path: str, base_dir: Path) -> Path:
    if spec_path.startswith("@"):
        return shipped_path(spec_path[1:])
    p = Path(spec_path)
    return p if p.is_absolute() else base_dir / p


def _from_file(
    spec: DataSpec, base_dir: Path
) -> tuple[np.ndarray, np.ndarray, tuple, str, np.ndarray | None]:
    assert spec.path is not None
    path = _resolve(spec.path, base_dir)
    if not path.is_file():
        raise DataError(
            "data.path",
            spec.path,
            f"no such file ({path})",
            "give a path relative to the TOML file",
        )
    suffix = path.suffix.lower()
    lines: np.ndarray | None = None
    if suffix == ".csv":
        header, M, lines = _read_csv(path, spec.path)
    elif suffix == ".npy":
        try:
            M = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError("data.path", spec.path, f"unreadable .npy ({exc})", "re-save") from None
        M = _numeric(M, spec.path)
        if M.ndim != 2:
            raise DataError(
                "data.path", spec.path, f"array has shape {M.shape}, need 2-d", "save (n, d+1)"
            )
        header = tuple(str(j) for j in range(M.shape[1]))
    elif suffix == ".npz":
        return (*_read_npz(spec, path), None)
    else:
        raise DataError(
            "data.path", spec.path, f"unsupported format {suffix!r}", "use .csv/.npy/.npz"
        )
    if M.ndim != 2 or M.shape[1] < 2:
        raise DataError(
            "data.path",
            spec.path,
            f"need at least 2 columns (features and label), got shape {M.shape}",
            "add a label column",
        )
    label_col = _column(spec.label if spec.label is not None else -1, header, "data.label")
    if spec.features is None:
        feat = [j for j in range(M.shape[1]) if j != label_col]
    else:
        feat = [_column(c, header, "data.features") for c in spec.features]
        if label_col in feat:
            raise DataError(
                "data.features", list(spec.features), "contains the label column", "remove it"
            )
        if len(set(feat)) != len(feat):
            raise DataError("data.features", list(spec.features), "repeats a column", "dedupe")
    A = M[:, feat]
    y = M[:, label_col]
    return A, y, tuple(header[j] for j in feat), str(spec.path), lines


def _numeric(M: np.ndarray, where: str) -> np.ndarray:
    if M.dtype.kind not in "biuf":
        raise DataError("data.path", where, f"array dtype {M.dtype} is not numeric", "save floats")
    return M.astype(float)


def _read_csv(path: Path, where: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    r"""Header, values and, per data row, its line number in the file (1-based, counting the
    header and blank lines, as an editor does)."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            for r in reader:
                if r and any(c.strip() for c in r):
                    rows.append(r)
                    lines.append(reader.line_num)
                    if len(rows) > MAX_ROWS + 1:
                        break
    except UnicodeDecodeError:
        raise DataError("data.path", where, "not UTF-8 text", "save as UTF-8 CSV") from None
    except (OSError, csv.Error) as exc:
        raise DataError(
            "data.path", where, f"unreadable CSV ({type(exc).__name__})", "save as UTF-8 CSV"
        ) from None
    if not rows:
        raise DataError("data.path", where, "the file is empty", "supply data")
    header: tuple[str, ...] | None = None
    if not all(_is_number(c) for c in rows[0]):
        header = tuple(c.strip() for c in rows[0])
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise DataError("data.path", where, "the file has a header but no rows", "supply data")
    if len(rows) > MAX_ROWS:
        raise DataError("data.path", where, f"more than {MAX_ROWS} rows", "subsample the data")
    width = len(header) if header is not None else len(rows[0])
    out = np.empty((len(rows), width))
    for i, r in enumerate(rows):
        if len(r) != width:
            raise DataError(
                "data.path",
                where,
                f"line {lines[i]} has {len(r)} fields, expected {width}",
                "make every row the same length",
            )
        for j, c in enumerate(r):
            try:
                out[i, j] = float(c)
            except ValueError:
                raise DataError(
                    "data.path",
                    where,
                    f"line {lines[i]}, column {j + 1}: {snippet(c)} is not a number",
                    "encode labels and features as numbers",
                ) from None
    if header is None:
        header = tuple(str(j) for j in range(width))
    return header, out, np.asarray(lines, dtype=np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column(key: Any, header: Sequence[str], parameter: str) -> int:
    if isinstance(key, bool):
        raise DataError(parameter, key, "not a column", "use a column name or 0-based index")
    if isinstance(key, int):
        j = key if key >= 0 else len(header) + key
        if not 0 <= j < len(header):
            raise DataError(
                parameter, key, f"column index out of range 0..{len(header) - 1}", "fix"
            )
        return j
    if isinstance(key, str) and key in header:
        return list(header).index(key)
    close = difflib.get_close_matches(str(key), list(header), n=1)
    hint = f"did you mean {snippet(close[0])}? " if close else ""
    shown = ", ".join(snippet(h, 16) for h in header[:8])
    more = f" and {len(header) - 8} more" if len(header) > 8 else ""
    raise DataError(parameter, snippet(key), "no such column", f"{hint}columns: {shown}{more}")


def _read_npz(spec: DataSpec, path: Path) -> tuple[np.ndarray, np.ndarray, tuple, str]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise DataError("data.path", spec.path, f"unreadable .npz ({exc})", "re-save") from None
    label_key = spec.label if isinstance(spec.label, str) else "y"
    for key, par in ((spec.features_key, "data.features_key"), (label_key, "data.label")):
        if key not in arrays:
            raise DataError(par, key, f"no such array; archive has {sorted(arrays)}", "fix the key")
    A = _numeric(arrays[spec.features_key], str(spec.path))
    y = _numeric(arrays[label_key], str(spec.path)).reshape(-1) if arrays[label_key].ndim else None
    if A.ndim != 2:
        raise DataError(
            "data.features_key", spec.features_key, f"shape {A.shape}, need (n, d)", "fix"
        )
    if y is None or y.shape[0] != A.shape[0]:
        raise DataError(
            "data.label",
            label_key,
            f"labels have shape {np.shape(arrays[label_key])}, need ({A.shape[0]},)",
            "one label per feature row",
        )
    return A, y, tuple(f"a{j + 1}" for j in range(A.shape[1])), str(spec.path)


def _synthetic(spec: DataSpec) -> tuple[np.ndarray, np.ndarray, tuple, str]:
    n, d, seed = spec.n, spec.d, spec.seed
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    A = rng.standard_normal((n, d))
    x0 = rng.standard_normal(d)
    if spec.kind == "linear":
        y = A @ x0 + spec.noise * rng.standard_normal(n)
    elif spec.kind == "logistic":
        p = 1.0 / (1.0 + np.exp(-(A @ x0)))
        y = np.where(rng.uniform(size=n) < p, 1.0, -1.0)
    else:
        y = rng.standard_normal(n)
    if not math.isfinite(float(np.sum(A))):  # pragma: no cover - cannot happen
        raise DataError("data.kind", spec.kind, "generator produced non-finite data", "report")
    src = f"synthetic {spec.kind}(n={n}, d={d}, seed={seed}, noise={spec.noise})"
    return A, y, tuple(f"a{j + 1}" for j in range(d)), src
