"""Plots for reports: the empirical curve with its confidence band against the bound.

Uses the non-interactive Agg backend (no display needed); every function saves a PNG and
closes its figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_band", "plot_grid"]


def plot_band(
    path: str | Path,
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
) -> Path:
    """Estimate (line) with its confidence band (shaded) and the bound (dashed) over `x`
    (time or a grid coordinate); optionally an exact reference curve. Saves a PNG at `path`.
    """
    x = np.asarray(x, dtype=float)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    ax.fill_between(
        x,
        np.asarray(lcb, float),
        np.asarray(ucb, float),
        alpha=0.3,
        color="tab:blue",
        label=band_label,
        linewidth=0,
    )
    ax.plot(
        x,
        np.asarray(estimate, float),
        color="tab:blue",
        marker="." if x.size < 40 else None,
        label=estimate_label,
    )
    if reference is not None:
        ax.plot(x, np.asarray(reference, float), color="black", linewidth=1, label=reference_label)
    if bound is not None:
        ax.plot(
            x,
            np.broadcast_to(np.asarray(bound, float), x.shape),
            color="tab:red",
            linestyle="--",
            label=bound_label,
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def plot_grid(
    path: str | Path,
    rows: Sequence[dict[str, Any]],
    *,
    x_key: str | None = None,
    title: str = "",
    logy: bool = True,
) -> Path:
    """Grid rows (as in `CheckResult.details['grid']`: estimate, lcb, ucb, rhs) over the
    parameter `x_key` (log axis) or the grid index: each point's estimate with its confidence
    interval (error bar) and its rhs (red cross). Works for product grids (repeated x)."""
    x = np.asarray([r[x_key] for r in rows], float) if x_key else np.arange(len(rows), dtype=float)
    est = np.asarray([r["estimate"] for r in rows], float)
    lcb = np.asarray([r["lcb"] for r in rows], float)
    ucb = np.asarray([r["ucb"] for r in rows], float)
    rhs = np.asarray([np.nan if r.get("rhs") is None else r["rhs"] for r in rows], float)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    lower = np.clip(est - lcb, 0, None)
    upper = np.clip(ucb - est, 0, None)
    if logy:
        positive = est > 0
        lower = np.where(positive, np.minimum(lower, est * (1 - 1e-9)), lower)
    ax.errorbar(
        x,
        est,
        yerr=[lower, upper],
        fmt="o",
        color="tab:blue",
        markersize=4,
        capsize=3,
        label="estimate, one-sided bounds at alpha",
    )
    ax.plot(x, rhs, "x", color="tab:red", markersize=8, label="claimed bound (RHS)")
    if x_key:
        ax.set_xscale("log")
    if logy and np.all(est[np.isfinite(est)] > 0) and np.all(rhs[np.isfinite(rhs)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel(x_key or "grid point")
    ax.set_ylabel("LHS")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
