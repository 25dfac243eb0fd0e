"""Plots for reports, drawn from recorded evidence.

Every plot is a function from recorded numbers to a `matplotlib` figure (`band_figure`,
`grid_figure`), so a report can draw it at report time from `CheckResult.details` (the grid
rows with ``estimate``, ``lcb``, ``ucb``, ``rhs``, ``verdict``) as well as a check while it
runs (`plot_band`, `plot_grid` save a PNG). Points that speak against the claim are marked
(filled red) on grid plots: a row whose verdict is FAIL or DIVERGED, whose ``holds`` is
false, whose Holm test rejects, or whose lower confidence bound exceeds its rhs.

The x axis of a grid plot is the variable the claim is about: `claim_variable` reads it from
``details["about"]``, the check's ``plot_x`` attribute, or the last part of the check id when
that names a grid parameter (``R4-discussion-l`` is about ``l``); otherwise the first
parameter that varies.

Uses the non-interactive Agg backend (no display needed); figures are closed after saving.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "band_figure",
    "choose_x_key",
    "claim_variable",
    "evidence_figures",
    "grid_figure",
    "plot_band",
    "plot_grid",
    "row_speaks_against",
    "save_figure",
]

#: Row keys that are measurements or verdict bookkeeping, never grid coordinates.
NON_PARAMETERS = frozenset(
    {
        "estimate",
        "lcb",
        "ucb",
        "rhs",
        "p_value",
        "holm_reject",
        "n",
        "verdict",
        "fitted_bound",
        "holds",
        "ratio",
        "lhs",
        "gap",
        "tol",
        "paths",
    }
)


def _num(value: Any) -> float:
    """A float from a recorded number (``None`` and non-numbers become NaN)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # also 'nan', 'inf' as written by json_safe
    except (TypeError, ValueError):
        return math.nan


def row_speaks_against(row: Mapping[str, Any]) -> bool:
    """Whether a grid row speaks against the claim (see the module docstring)."""
    if str(row.get("verdict", "")).upper() in ("FAIL", "DIVERGED"):
        return True
    if row.get("holds") is False or row.get("holm_reject") is True:
        return True
    lcb, rhs = _num(row.get("lcb")), _num(row.get("rhs"))
    return math.isfinite(lcb) and math.isfinite(rhs) and lcb > rhs


def choose_x_key(rows: Sequence[Mapping[str, Any]], prefer: str | None = None) -> str | None:
    """The grid parameter to plot against: `prefer` if it varies over `rows`, else the first
    positive numeric parameter that varies, else `None` (plot against the grid index)."""

    def varies(key: str) -> bool:
        vals = [r.get(key) for r in rows]
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)
        return ok and len(set(vals)) > 1

    if prefer and rows and prefer in rows[0] and varies(prefer):
        return prefer
    for key in rows[0] if rows else ():
        if key in NON_PARAMETERS:
            continue
        vals = [r.get(key) for r in rows]
        if varies(key) and all(v > 0 for v in vals):
            return key
    return None


def claim_variable(result: Any, rows: Sequence[Mapping[str, Any]] = ()) -> str | None:
    """The variable a check's claim is about (see the module docstring), or `None`."""
    details = getattr(result, "details", {}) or {}
    about = details.get("about") or getattr(result, "plot_x", None)
    if isinstance(about, str):
        return about
    tail = str(getattr(result, "id", "")).split("-")
    for part in reversed(tail[1:]):
        if rows and part in rows[0] and part not in NON_PARAMETERS:
            return part
    return None


def save_figure(fig: Figure, path: str | Path | None = None) -> bytes:
    """PNG bytes of `fig` (also written to `path` if given); closes the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data


def band_figure(
    x: Any,
    estimate: Any,
    lcb: Any,
    ucb: Any,
    bound: Any | None = None,
    *,
    xlabel: str = "t",
    ylabel: str = "LHS",
    title: str = "",
    bound_label: str = "claimed bound (RHS)",
    estimate_label: str = "estimate",
    band_label: str = "confidence band",
    reference: Any | None = None,
    reference_label: str = "exact",
    logx: bool = False,
    logy: bool = False,
) -> Figure:
    """Estimate (line) with its confidence band (shaded) and the bound (dashed) over `x`
    (time or a grid coordinate); optionally an exact reference curve. Where the lower band
    lies above the bound, the estimate is marked in red (the claim fails there)."""
    x = np.asarray(x, dtype=float)
    est = np.asarray(estimate, float)
    lo, hi = np.asarray(lcb, float), np.asarray(ucb, float)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=72)
    ax.fill_between(x, lo, hi, alpha=0.3, color="tab:blue", label=band_label, linewidth=0)
    ax.plot(x, est, color="tab:blue", marker="." if x.size < 40 else None, label=estimate_label)
    if reference is not None:
        ax.plot(x, np.asarray(reference, float), color="black", linewidth=1, label=reference_label)
    if bound is not None:
        b = np.broadcast_to(np.asarray(bound, float), x.shape)
        ax.plot(x, b, color="tab:red", linestyle="--", label=bound_label)
        bad = np.isfinite(lo) & np.isfinite(b) & (lo > b)
        if bad.any():
            ax.plot(
                x[bad], est[bad], "o", color="tab:red", markersize=4, label="violates the bound"
            )
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_band(path: str | Path, x: Any, estimate: Any, lcb: Any, ucb: Any, bound: Any = None,
              **kwargs: Any) -> Path:  # fmt: skip
    """`band_figure` saved as a PNG at `path`; returns `path`."""
    save_figure(band_figure(x, estimate, lcb, ucb, bound, **kwargs), path)
    return Path(path)


def grid_figure(
    rows: Sequence[Mapping[str, Any]],
    *,
    x_key: str | None = None,
    title: str = "",
    logy: bool = True,
    rhs_label: str = "claimed bound (RHS)",
) -> Figure:
    """Grid rows (estimate, lcb, ucb, rhs; as in ``details['grid']``) over the parameter
    `x_key` (log axis) or the grid index: each point's estimate with its one-sided bounds
    (error bar) and its rhs (cross). Points that speak against the claim are filled red.
    Works for product grids (repeated x)."""
    x = np.asarray([_num(r.get(x_key)) for r in rows] if x_key else range(len(rows)), float)
    est = np.asarray([_num(r.get("estimate")) for r in rows], float)
    lcb = np.asarray([_num(r.get("lcb", r.get("estimate"))) for r in rows], float)
    ucb = np.asarray([_num(r.get("ucb", r.get("estimate"))) for r in rows], float)
    rhs = np.asarray([_num(r.get("rhs")) for r in rows], float)
    bad = np.asarray([row_speaks_against(r) for r in rows], bool)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=72)
    with np.errstate(invalid="ignore"):
        lower = np.nan_to_num(np.clip(est - lcb, 0, None))
        upper = np.nan_to_num(np.clip(ucb - est, 0, None))
        if logy:
            lower = np.where(est > 0, np.minimum(lower, est * (1 - 1e-9)), lower)
    for mask, colour, label in (
        (~bad, "tab:blue", "estimate, one-sided bounds"),
        (bad, "tab:red", "speaks against the claim"),
    ):
        if mask.any():
            ax.errorbar(
                x[mask],
                est[mask],
                yerr=[lower[mask], upper[mask]],
                fmt="o",
                color=colour,
                markersize=4 if colour == "tab:blue" else 5,
                capsize=3,
                label=label,
            )
    ax.plot(x, rhs, "x", color="black", markersize=7, label=rhs_label)
    if x_key and np.all(x[np.isfinite(x)] > 0):
        ax.set_xscale("log")
    finite = np.concatenate([est[np.isfinite(est)], rhs[np.isfinite(rhs)]])
    if logy and finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_xlabel(x_key or "grid point")
    ax.set_ylabel("LHS")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_grid(
    path: str | Path,
    rows: Sequence[dict[str, Any]],
    *,
    x_key: str | None = None,
    title: str = "",
    logy: bool = True,
) -> Path:
    """`grid_figure` saved as a PNG at `path`; returns `path`."""
    save_figure(grid_figure(rows, x_key=x_key, title=title, logy=logy), path)
    return Path(path)


#: details keys whose rows `evidence_figures` draws, with the label of their rhs.
_EVIDENCE_KEYS = (("grid", "claimed bound (RHS)"), ("heldout", "fitted bound"))


def evidence_figures(result: Any) -> list[tuple[str, bytes]]:
    """Report-time plots of a result from its recorded rows: ``(name, PNG bytes)`` for each
    of ``details['grid']`` / ``details['heldout']`` whose rows carry an estimate and a rhs
    (or fitted bound), plotted against `claim_variable`."""
    out = []
    details = getattr(result, "details", {}) or {}
    for key, rhs_label in _EVIDENCE_KEYS:
        rows = details.get(key)
        if not (isinstance(rows, list) and rows and isinstance(rows[0], Mapping)):
            continue
        rows = [
            {**r, "rhs": r.get("rhs", r.get("fitted_bound"))}
            for r in rows
            if isinstance(r, Mapping)
        ]
        if "estimate" not in rows[0] or all(r.get("rhs") is None for r in rows):
            continue
        x_key = choose_x_key(rows, claim_variable(result, rows))
        title = f"{getattr(result, 'id', '')}: {getattr(result, 'result', '')}"
        fig = grid_figure(rows, x_key=x_key, title=title, rhs_label=rhs_label)
        out.append((key, save_figure(fig)))
    return out
