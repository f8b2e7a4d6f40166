"""The PDF page frame and its building blocks: headings, paragraphs, key-value and data tables, figures.

A4 portrait, 15 mm margins, DejaVu Sans (see :mod:`core.reports.fonts`). Key-value tables are fpdf2 tables
(values wrap); data tables have one-line rows drawn cell by cell (fast for hundreds of images), shorten
over-long cells with a middle ellipsis and repeat their heading row on each page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from core.reports.fonts import MONO, SANS, covered, register_fonts
from core.reports.formatting import shorten

MARGIN = 15.0
TEXT = (30, 30, 30)
MUTED = (105, 105, 105)
ACCENT = (31, 78, 121)
RULE = (200, 200, 200)
HEADING_FILL = (226, 233, 241)
ROW_FILL = (246, 247, 249)
_CELL_PAD = 1.2
_ALIGN = {"LEFT": "L", "RIGHT": "R", "CENTER": "C", "L": "L", "R": "R", "C": "C"}
#: Longest name shown in a key-value table cell; longer names are shortened with an ellipsis (full names in
#: metrics.json and the CSV files).
CELL_MAX_CHARS = 90


class ReportPDF(FPDF):
    """An A4 report: a running header (title, training name) from page 2 on, "page x of y" footers."""

    def __init__(self, *, title: str, subtitle: str, fallback_chars: set[str], workdir: Path) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report_title = title
        self.report_subtitle = subtitle
        self.set_margins(MARGIN, MARGIN + 3, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 5)
        register_fonts(self, fallback_chars=fallback_chars, workdir=workdir)
        self.set_text_color(*TEXT)
        self.set_font(SANS, size=9.5)
        self.set_title(title)
        self.set_creator("segstudio")
        self.alias_nb_pages()

    @property
    def text_width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(7)
        self.set_font(SANS, size=7.5)
        self.set_text_color(*MUTED)
        half = self.text_width / 2
        self._cell(half, 5, self.fit_text(self.report_title, half - 2), "L")
        self._cell(half, 5, self.fit_text(self.report_subtitle, half - 2), "R")
        self.set_draw_color(*RULE)
        self.line(self.l_margin, 12.5, self.w - self.r_margin, 12.5)
        self.set_text_color(*TEXT)
        self.set_y(MARGIN + 3)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(SANS, size=7.5)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(*TEXT)

    # building blocks -------------------------------------------------------------------------------------

    def heading(self, text: str, *, level: int = 1) -> None:
        """A section (level 1) or sub-section (level 2) heading; level 1 is added to the PDF outline."""
        size = {1: 15, 2: 11.5}[level]
        if level == 1:
            self.start_section(text, level=0)
        self.ensure_space(22 if level == 1 else 16)
        self.ln(2 if level == 1 else 3)
        self.set_font(SANS, "B", size)
        self.set_text_color(*(ACCENT if level == 1 else TEXT))
        self.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        if level == 1:
            self.set_draw_color(*ACCENT)
            self.set_line_width(0.4)
            self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
            self.set_line_width(0.2)
            self.ln(4)
        else:
            self.ln(1.5)
        self.set_text_color(*TEXT)
        self.set_font(SANS, size=9.5)

    def paragraph(self, text: str, *, size: float = 9.5, muted: bool = False, style: str = "") -> None:
        self.set_font(SANS, style, size)
        if muted:
            self.set_text_color(*MUTED)
        self.multi_cell(0, size * 0.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*TEXT)
        self.set_font(SANS, size=9.5)
        self.ln(1.5)

    def boxed_paragraph(self, text: str, *, fill: tuple[int, int, int] = ROW_FILL) -> None:
        """A paragraph on a tinted background (the methods text, a failure reason)."""
        self.set_font(SANS, size=9.5)
        height = self.boxed_height(text)
        if height < self.eph:
            self.ensure_space(height + 1)  # keep the box on one page when it fits on one
        self.set_fill_color(*fill)
        self.multi_cell(0, 5, text, fill=True, padding=(3, 4, 3, 4), align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_fill_color(255, 255, 255)
        self.ln(2)

    def key_value_table(self, rows: Sequence[tuple[str, str]], *, key_width: float = 0.32) -> None:
        """Two columns: bold keys, values that wrap."""
        if not rows:
            return
        self.set_font(SANS, size=9)
        self._table_colors()
        with self.table(
            col_widths=(key_width, 1 - key_width),
            text_align=("LEFT", "LEFT"),
            first_row_as_headings=False,
            borders_layout="HORIZONTAL_LINES",
            cell_fill_color=ROW_FILL,
            cell_fill_mode="ROWS",
            line_height=4.6,
            padding=(1.2, 1.5),
        ) as table:
            for key, value in rows:
                row = table.row()
                row.cell(shorten(key, CELL_MAX_CHARS), style=FontFace(emphasis="BOLD"))
                row.cell(value)
        self.ln(3)

    def data_table(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[float],
        align: Sequence[str],
        size: float = 8,
        mono_columns: Sequence[int] = (),
    ) -> None:
        """A table of one-line rows: a shaded heading row (``\\n`` in a heading makes a second line, repeated
        on each page), alternately shaded rows, and cells shortened with an ellipsis in the middle when their
        text is wider than the column (full values are in metrics.json and the CSV files).

        Drawn cell by cell (fast: thousands of rows per second), not with fpdf2's wrapping tables.
        """
        total = float(sum(widths))
        columns = [w / total * self.text_width for w in widths]
        row_h = size * 0.42 + 2.2
        self._table_colors()
        self._heading_row(headings, columns, align, size, row_h)
        for k, values in enumerate(rows):
            if self.get_y() + row_h > self.page_break_trigger:
                self.add_page()
                self._heading_row(headings, columns, align, size, row_h)
            y = self.get_y()
            if k % 2:
                self.set_fill_color(*ROW_FILL)
                self.rect(self.l_margin, y, self.text_width, row_h, style="F")
            x = self.l_margin
            for j, (text, width) in enumerate(zip(values, columns, strict=True)):
                family = MONO if j in mono_columns else SANS
                self.set_font(family, size=size - (0.5 if family == MONO else 0))
                self.set_xy(x + _CELL_PAD, y)
                self._cell(
                    width - 2 * _CELL_PAD,
                    row_h,
                    self.fit_text(str(text), width - 2 * _CELL_PAD),
                    _ALIGN[align[j]],
                )
                x += width
            self.line(self.l_margin, y + row_h, self.l_margin + self.text_width, y + row_h)
            self.set_xy(self.l_margin, y + row_h)
        self.set_fill_color(255, 255, 255)
        self.set_font(SANS, size=9.5)
        self.ln(3)

    def _cell(self, width: float, height: float, text: str, align: str) -> None:
        if all(covered(ch) for ch in text):
            self.cell(width, height, text, align=align)
            return
        # fpdf2 switches to the fallback font inside the text object and does not switch back for the next
        # cell of the same font; saving and restoring the graphics state (q ... Q) scopes the switch.
        x, y = self.get_x(), self.get_y()
        with self.local_context():
            self.cell(width, height, text, align=align)
        self.set_xy(x + width, y)

    def fit_text(self, text: str, width: float) -> str:
        """``text`` shortened with a middle ellipsis to fit ``width`` mm in the current font."""
        if self.text_width_mm(text) <= width:
            return text
        low, high = 1, len(text) - 1
        while low < high:  # longest shortening that fits
            mid = (low + high + 1) // 2
            if self.text_width_mm(shorten(text, mid)) <= width:
                low = mid
            else:
                high = mid - 1
        return shorten(text, low)

    def text_width_mm(self, text: str) -> float:
        """Width of ``text`` in the current font; characters DejaVu lacks count as one em (Last Resort)."""
        missing = sum(1 for ch in text if not covered(ch))
        if not missing:
            return self.get_string_width(text)
        kept = "".join(ch for ch in text if covered(ch))
        return self.get_string_width(kept) + missing * self.font_size

    def _heading_row(
        self, headings: Sequence[str], columns: list[float], align: Sequence[str], size: float, row_h: float
    ) -> None:
        lines = [str(h).split("\n") for h in headings]
        n_lines = max(len(parts) for parts in lines)
        line_h = size * 0.42 + 0.4
        height = n_lines * line_h + 1.8
        if self.get_y() + height + row_h > self.page_break_trigger:
            self.add_page()
        y = self.get_y()
        self.set_fill_color(*HEADING_FILL)
        self.rect(self.l_margin, y, self.text_width, height, style="F")
        self.set_font(SANS, "B", size)
        x = self.l_margin
        for j, (parts, width) in enumerate(zip(lines, columns, strict=True)):
            top = y + 0.9 + (n_lines - len(parts)) * line_h  # bottom-aligned headings
            for i, part in enumerate(parts):
                self.set_xy(x + _CELL_PAD, top + i * line_h)
                self._cell(
                    width - 2 * _CELL_PAD,
                    line_h,
                    self.fit_text(part, width - 2 * _CELL_PAD),
                    _ALIGN[align[j]],
                )
            x += width
        self.line(self.l_margin, y + height, self.l_margin + self.text_width, y + height)
        self.set_xy(self.l_margin, y + height)
        self.set_font(SANS, size=size)

    def figure(
        self, image: bytes | object, *, width: float | None = None, height: float | None = None
    ) -> None:
        """An image (PNG / JPEG bytes or a PIL image) centred at the given width (default: text width)."""
        if isinstance(image, bytes):
            image = io.BytesIO(image)
        width = width or self.text_width
        x = self.l_margin + (self.text_width - width) / 2
        self.image(
            image, x=x, w=width, h=height or 0
        )  # flows: placed at y, page break if needed, y moves below
        self.ln(2)

    def boxed_height(self, text: str) -> float:
        """Height in mm that :meth:`boxed_paragraph` would take for ``text``."""
        self.set_font(SANS, size=9.5)
        return self.multi_cell(0, 5, text, padding=(3, 4, 3, 4), dry_run=True, output="HEIGHT")

    def _table_colors(self) -> None:
        self.set_fill_color(255, 255, 255)  # fpdf2 tables start from the current fill colour
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)

    def ensure_space(self, height: float) -> None:
        """Start a new page when less than ``height`` mm are left on this one."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()
