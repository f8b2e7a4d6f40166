"""Fonts of the report: the DejaVu TTFs that ship inside matplotlib (never a system font).

DejaVu covers Latin, Greek, Cyrillic and many symbols but no Chinese, Japanese or Korean. Characters that
DejaVu lacks are drawn in the PDF with matplotlib's "Last Resort" font, which shows for each missing
character a box naming its Unicode block (for example a CJK box); the PDF's text layer still holds the real
characters, so copying or searching the text gives the original name, and ``metrics.json`` keeps it too.
Only when a report needs it, Last Resort is cut down (fontTools subsetting, about a second) to the missing
characters: fpdf2 would otherwise spend many seconds on its million-codepoint character map.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import matplotlib
from fontTools import subset
from fontTools.ttLib import TTFont
from fpdf import FPDF

from core.errors import SegStudioError

SANS = "dejavu"
MONO = "dejavumono"
FALLBACK = "lastresort"

_FILES = {
    (SANS, ""): "DejaVuSans.ttf",
    (SANS, "B"): "DejaVuSans-Bold.ttf",
    (SANS, "I"): "DejaVuSans-Oblique.ttf",
    (MONO, ""): "DejaVuSansMono.ttf",
}
_FALLBACK_FILE = "LastResortHE-Regular.ttf"


def font_path(file_name: str) -> Path:
    """Path of a TTF shipped with matplotlib; a clear error if the installation lacks it."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / file_name
    if not path.is_file():
        raise SegStudioError(
            f"the font {file_name} is missing from matplotlib's data ({path.parent}); reinstall matplotlib "
            "(pip install --force-reinstall matplotlib)."
        )
    return path


def sans_path(bold: bool = False) -> Path:
    return font_path(_FILES[(SANS, "B" if bold else "")])


def fallback_path() -> Path:
    return font_path(_FALLBACK_FILE)


def covered(ch: str) -> bool:
    """Whether DejaVu Sans can draw the character ``ch``."""
    return ord(ch) in _sans_codepoints() or ch in "\n\r\t"


@cache
def _sans_codepoints() -> frozenset[int]:
    with TTFont(str(sans_path()), lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_characters(texts: Iterable[str]) -> set[str]:
    """Characters of ``texts`` that DejaVu Sans cannot draw (ignoring line breaks and tabs)."""
    return {ch for text in texts for ch in text if not covered(ch)}


def register_fonts(pdf: FPDF, *, fallback_chars: Iterable[str] = (), workdir: Path | None = None) -> None:
    """Add the DejaVu fonts to ``pdf``; with ``fallback_chars`` (characters DejaVu lacks), also a Last Resort
    subset for them, written to ``workdir`` (which must exist until the PDF is output)."""
    for (family, style), file_name in _FILES.items():
        pdf.add_font(family, style, str(font_path(file_name)))
    chars = sorted(set(fallback_chars))
    if chars:
        if workdir is None:
            raise ValueError("register_fonts needs a workdir for the fallback font subset")
        pdf.add_font(FALLBACK, "", str(_fallback_subset(chars, Path(workdir))))
        pdf.set_fallback_fonts([FALLBACK], exact_match=False)


def _fallback_subset(chars: list[str], workdir: Path) -> Path:
    font = TTFont(str(fallback_path()))
    options = subset.Options()
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(ch) for ch in chars])
    subsetter.subset(font)
    path = workdir / "fallback-subset.ttf"
    font.save(str(path))
    font.close()
    return path
