"""Benchmark: the derivation document end to end, with and without the PDF.

Run by hand: ``PYTHONPATH=. python benchmarks/bench_derive.py [repeats]``.

Each repetition clears SymPy's cache first, so every run redoes the symbolic work. Reported:
the median wall time of ``write_document(pdf=False)`` (baseline: SymPy derivations + writing
the .tex) and of ``write_document(pdf=True)`` (plus two pdflatex passes), and their ratio; and
the share of each section in ``build_document``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sympy.core.cache import clear_cache

from theory import latex as X


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        clear_cache()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(repeats: int = 3) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        no_pdf = _time(lambda: X.write_document(out, pdf=False), repeats)
        with_pdf = _time(lambda: X.write_document(out, pdf=True), repeats)
        tex = out / "sdde-derivations.tex"

        def two_passes() -> None:
            for _ in range(2):
                subprocess.run(
                    ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                    cwd=out,
                    capture_output=True,
                    check=True,
                )

        latex_only = _time(two_passes, repeats)
        pages = (out / "sdde-derivations.log").read_text(errors="replace")
        written = [line for line in pages.splitlines() if "Output written" in line]
    sections = {
        name: statistics.median(_time(getattr(X, name), repeats))
        for name in (
            "section_ito",
            "section_r1",
            "section_r7",
            "section_r8",
            "section_worked_example",
        )
    }
    m0, m1 = statistics.median(no_pdf), statistics.median(with_pdf)
    print(f"repeats={repeats} (SymPy cache cleared before each run)")
    print(f"write_document(pdf=False): median {m0:.3f} s  runs {[round(v, 3) for v in no_pdf]}")
    print(f"write_document(pdf=True):  median {m1:.3f} s  runs {[round(v, 3) for v in with_pdf]}")
    print(f"ratio pdf/no-pdf: {m1 / m0:.2f}")
    print(f"two pdflatex passes alone: median {statistics.median(latex_only):.3f} s")
    for name, v in sections.items():
        print(f"  {name}: {v:.3f} s")
    print(written[0] if written else "no 'Output written' line in the log")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
