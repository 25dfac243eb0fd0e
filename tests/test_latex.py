"""Tests for the derivation document (theory.latex)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sympy as sp

from theory import energy as E
from theory import latex as X
from theory.errors import InputError

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None, reason="pdflatex (texlive-latex-base) not installed"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The document, built once (with the PDF when pdflatex is installed)."""
    return X.write_document(
        tmp_path_factory.mktemp("doc"), pdf=shutil.which("pdflatex") is not None
    )


@needs_pdflatex
def test_document_compiles_without_errors_or_wide_boxes(built):
    pdf = built.with_suffix(".pdf")
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    log = built.with_suffix(".log").read_text(errors="replace")
    assert not re.search(r"^! ", log, flags=re.M)
    assert "Output written on" in log
    widths = X.overfull_hbox_widths(log)
    assert max(widths, default=0.0) <= 20.0, widths


def test_pdf_false_writes_only_the_tex(tmp_path, monkeypatch):
    monkeypatch.setattr(X, "build_document", lambda: "\\documentclass{article}")
    path = X.write_document(tmp_path / "new", pdf=False)
    assert path == tmp_path / "new" / "sdde-derivations.tex"
    assert path.read_text() == "\\documentclass{article}"
    assert not path.with_suffix(".pdf").exists()


def test_tex_only_uses_base_packages(built):
    src = built.read_text()
    assert src.startswith("\\documentclass") and src.rstrip().endswith("\\end{document}")
    packages = {
        p.strip() for group in re.findall(r"\\usepackage\{([^}]*)\}", src) for p in group.split(",")
    }
    assert packages == {"amsmath", "amssymb"}
    for section in (
        "R1:",
        "R7:",
        "R8:",
        "Conventions",
        "Itô's formula",
        "R5, R6 and explicit constants",
        "OU moments",  # theory.ou
        "Rightmost characteristic root",  # theory.roots
        "Theorem 4.1: explicit constants",  # theory.constants
        "Theorem 3.2",
        "Theorem 3.4",
        "Theorem 4.2: energy-function bound",
    ):
        assert section in src
    # Derivations are printed from the code's expressions: the Itô-derived rate of R7 appears
    # term by term exactly as sympy.latex prints it.
    for term in E.energy_rate_vector_form().as_ordered_terms():
        piece = X.tex(term)
        assert piece.lstrip("-").strip() in src
    assert "does NOT hold" not in src  # every identity of this document was checked by hand too


def test_split_sum_breaks_long_sums_and_keeps_every_term():
    x = sp.symbols("x1:30")
    expr = sum(sp.Rational(i + 1, 7) * v**2 for i, v in enumerate(x))
    block = X.split_sum("S", expr, width=40)
    rows = block.split("\\\\\n")
    assert len(rows) > 3
    for v in x:
        assert sp.latex(v) + "^{2}" in block
    assert block.startswith("\\begin{align*}") and block.rstrip().endswith("\\end{align*}")
    # A short expression stays on one row.
    assert "\\\\" not in X.split_sum("y", x[0] + 1)


def test_escape_plain_text():
    assert X.escape("a_b^c {x} 50% & #") == r"a\_b\^{}c \{x\} 50\% \& \#"


@needs_pdflatex
def test_latex_error_is_reported_with_log_excerpt(tmp_path, monkeypatch):
    monkeypatch.setattr(
        X, "build_document", lambda: "\\documentclass{article}\\begin{document}$x^\\end{document}"
    )
    with pytest.raises(X.LatexBuildError, match=r"pdflatex failed.*\n.*!"):
        X.write_document(tmp_path, pdf=True)


def test_out_dir_must_be_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError):
        X.write_document(f)


def test_document_reads_like_an_appendix(built):
    """Issue 11 item 8: no Python float notation, no code identifiers in prose, evidence in
    one table per section instead of a sentence after every identity."""
    src = built.read_text()
    assert not re.search(r"\d[eE][+-]?\d", src), re.findall(r".{20}\d[eE][+-]?\d.{10}", src)
    for code in ("\\texttt{theory", "final\\_bound", "q le 1", "line c as printed", "dsolve",
                 "mp.eigsy", "Result: identity holds", "p' = -a p/t"):  # fmt: skip
        assert code not in src, code
    assert src.count("\\paragraph{Verification.}") == 3  # R1, R7, R8
    assert "\\times10^{-5}" in src  # epsilon = 1.25e-05 typeset


def test_typeset_numbers():
    assert X.typeset_numbers("$x=1.25e-05$, r = 2.22e-16, n=3e+02") == (
        "$x=\\ensuremath{1.25\\times10^{-5}}$, r = \\ensuremath{2.22\\times10^{-16}}, "
        "n=\\ensuremath{3\\times10^{2}}"
    )
    assert X.typeset_numbers("R2e5 x_1e3 1.5") == "R2e5 x_1e3 1.5"
