"""LaTeX to MathML for the HTML report, offline (no MathJax, no network).

`to_mathml(r"\\mathbb E\\|X\\| \\le C")` returns a ``<math>`` element that every current
browser renders natively. The conversion uses `latex2mathml` when it is installed; without
it, or for input it cannot parse, the LaTeX source is shown as code (the report still opens).
"""

from __future__ import annotations

import html
import re

__all__ = ["has_mathml", "inline_maths_to_mathml", "to_mathml"]

# latex2mathml does not know a few macros the claims use; map them to ones it knows.
_REWRITES = (
    (re.compile(r"\\tfrac"), r"\\frac"),
    (re.compile(r"\\dfrac"), r"\\frac"),
    (re.compile(r"\\big([\[\]()|])"), r"\1"),
    (re.compile(r"\\Big([\[\]()|])"), r"\1"),
)


def has_mathml() -> bool:
    """Whether `latex2mathml` is importable (else maths is shown as LaTeX source)."""
    try:
        import latex2mathml.converter  # noqa: F401
    except ImportError:  # pragma: no cover - optional dependency
        return False
    return True


def to_mathml(latex: str, display: bool = True) -> str:
    """A ``<math>`` element for `latex` (display or inline), or ``<code>`` if it cannot be
    converted. The result is safe to insert into HTML."""
    src = latex.strip()
    for pattern, repl in _REWRITES:
        src = pattern.sub(repl, src)
    try:
        from latex2mathml.converter import convert

        out = convert(src, display="block" if display else "inline")
    except Exception:  # ImportError or a parse error: show the source
        return f"<code>{html.escape(latex)}</code>"
    return out


_INLINE = re.compile(r"\$([^$]+)\$")


def inline_maths_to_mathml(text: str) -> str:
    """HTML-escape `text` and render each ``$…$`` span in it as inline MathML."""
    parts, last = [], 0
    for m in _INLINE.finditer(text):
        parts.append(html.escape(text[last : m.start()]))
        parts.append(to_mathml(m.group(1), display=False))
        last = m.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)
