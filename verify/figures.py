"""Figures drawn at report time from the evidence a check recorded (``details["figures"]``).

Checks never draw: :mod:`verify.evidence` records the data (the worst row's curve with its
band, the ratio lhs/rhs of every row), and the report writer calls :func:`draw_figures`. A
plotting failure (matplotlib missing, a backend error) is returned as a warning for the
report; it never changes a verdict.

Figure kinds:

- ``"curve"``: keys ``x``, ``lhs``, ``lo``, ``hi``, ``rhs`` (lists), ``xlabel``, ``ylabel``,
  ``band``, ``title`` — the left side with its band against the claimed right side; elements
  where the claim is violated (``lo > rhs``) are marked.
- ``"ratio"``: keys ``ratio``, ``verdict``, ``labels`` — the largest lhs/rhs per grid point
  on a log axis, 1 marked, failing points in red.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["draw_figures"]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _curve(ax: Any, fig: dict[str, Any]) -> None:
    import numpy as np

    x = np.asarray(fig["x"], dtype=float)
    lhs, lo, hi, rhs = (np.asarray(fig[k], dtype=float) for k in ("lhs", "lo", "hi", "rhs"))
    finite = np.isfinite(x)
    x, lhs, lo, hi, rhs = x[finite], lhs[finite], lo[finite], hi[finite], rhs[finite]
    o = np.argsort(x)
    x, lhs, lo, hi, rhs = x[o], lhs[o], lo[o], hi[o], rhs[o]
    if np.any(hi > lo):
        ax.fill_between(x, lo, hi, alpha=0.3, color="tab:blue", lw=0, label=fig.get("band", ""))
    ax.plot(x, lhs, color="tab:blue", marker="." if x.size < 60 else None, label=fig["ylabel"])
    ax.plot(x, rhs, color="tab:red", ls="--", label="claimed bound")
    bad = lo > rhs
    if bad.any():
        ax.scatter(x[bad], lhs[bad], color="red", marker="x", zorder=5, label="violated")
    ax.set_xlabel(fig.get("xlabel", "t"))
    ax.set_ylabel(fig.get("ylabel", "lhs"))
    pos = np.concatenate([lhs, rhs])
    if pos.size and np.all(pos[np.isfinite(pos)] > 0):
        ax.set_yscale("log")
    if x.size and np.all(x > 0) and x.max() / x.min() > 50:
        ax.set_xscale("log")


def _ratio(ax: Any, fig: dict[str, Any]) -> None:
    import numpy as np

    r = np.asarray(fig["ratio"], dtype=float)
    v = list(fig.get("verdict", ["PASS"] * r.size))
    idx = np.arange(1, r.size + 1)
    shown = np.where(np.isfinite(r) & (r > 0), r, np.nan)
    colours = [
        "tab:red" if s == "FAIL" else "tab:orange" if s != "PASS" else "tab:green" for s in v
    ]
    ax.scatter(idx, shown, c=colours, s=14)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    if np.any(np.isfinite(shown)):
        ax.set_yscale("log")
    ax.set_xlabel("grid point")
    ax.set_ylabel("max lhs / rhs")
    inf = ~np.isfinite(r)
    if inf.any():
        ax.text(
            0.01,
            0.97,
            f"{int(inf.sum())} points with infinite ratio (not shown)",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )


_DRAW = {"curve": _curve, "ratio": _ratio}


def draw_figures(results: Sequence[Any], folder: Path) -> list[str]:
    """Draw every recorded figure of `results` into `folder`, append the paths to each
    result's `plots`, and return the warnings (one per figure that could not be drawn)."""
    warnings: list[str] = []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:  # a missing plotting library is a warning, not a verdict
        n = sum(len(r.details.get("figures", [])) for r in results)
        return [f"{n} figures not drawn: matplotlib unavailable ({exc})"] if n else []
    folder.mkdir(parents=True, exist_ok=True)
    for r in results:
        for k, fig in enumerate(r.details.get("figures", [])):
            path = folder / f"{_safe(r.id)}_{k}_{fig.get('kind', 'figure')}.png"
            try:
                f, ax = plt.subplots(figsize=(6.4, 4.0), dpi=72)
                try:
                    _DRAW[fig["kind"]](ax, fig)
                    ax.set_title(f"{r.id}: {fig.get('title', '')}"[:90], fontsize=9)
                    if ax.get_legend_handles_labels()[0]:
                        ax.legend(fontsize=8)
                    f.tight_layout()
                    f.savefig(path)
                finally:
                    plt.close(f)
            except Exception as exc:
                warnings.append(f"{r.id}: figure {k} ({fig.get('kind')}) not drawn: {exc}")
                continue
            r.plots.append(str(path))
    return warnings
