"""The PDF writer for report exports: one report (title, filters, an optional bar chart, a table of display
text) rendered as an A4 landscape PDF, streamed page by page.

Owns: the page layout (title block, chart, table header repeated on every page, zebra rows, "Page N"
footers), fitting cell text into its column, right-to-left text and the shipped fonts; `pdf_document` the
streaming file writer underneath reportlab's canvas.

Invariants:
- Memory does not grow with the number of rows: `rows` is consumed once, lazily, and every finished page
  (its page object and its compressed content stream) is written to `out` as soon as it is complete and
  then dropped. What stays is 8 bytes of cross-reference offset per PDF object and 4 bytes of page-tree
  entry per page (under 1 MB for a million rows), plus the font subsets and bounded caches.
  `pdf_document.StreamingDocument` is what writes pages out as they finish.
- A row is one line: cell text never wraps and a row never splits across pages; text too wide for its
  column is cut with "…" (measured with the font's real advance widths).
- Text with right-to-left letters (Arabic, and Hebrew for free) is shaped with arabic-reshaper and put in
  visual order with python-bidi before it is measured or drawn, and is right-aligned when its paragraph
  direction (its first strong letter, Unicode's rule P2) is right-to-left. Numeric columns are
  right-aligned, everything else left-aligned. All text is drawn as text in DejaVu Sans, shipped in
  `fonts/` because it has Arabic and Latin glyphs (and is embedded as subsets).
- Cells arrive as display text already (the report service formats numbers, percentages and local times);
  this module never parses or formats values.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Final

import arabic_reshaper  # type: ignore[import-untyped]  # no type information; wrapped in _reshaper_for()
import bidi  # type: ignore[import-untyped]  # ditto
import structlog
from arabic_reshaper import letters, ligatures
from reportlab.graphics import renderPDF
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.rl_accel import escapePDF
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from .pdf_document import StreamingCanvas, StreamingDocument

log = structlog.get_logger("engage.reports.pdf")


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    numeric: bool = False  # right-aligned
    width: float = 1.0  # relative width share


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    labels: Sequence[str]  # one per bar group (e.g. campaign or agent names; may be Arabic)
    series: Sequence[tuple[str, Sequence[float]]]  # (legend name, one value per label)


FONT: Final = "EngageDejaVuSans"
FONT_BOLD: Final = "EngageDejaVuSans-Bold"
_FONT_FILES: Final = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}
_FONT_DIR: Final = Path(__file__).with_name("fonts")

PAGE_WIDTH, PAGE_HEIGHT = landscape(A4)
MARGIN: Final = 36.0  # half an inch: inside every printer's unprintable border
TABLE_WIDTH: Final = PAGE_WIDTH - 2 * MARGIN
_TOP: Final = PAGE_HEIGHT - MARGIN
_BOTTOM: Final = MARGIN  # the table never goes below this; the footer sits in the margin
_FOOTER_Y: Final = MARGIN / 2

BODY_SIZE: Final = 8.0
# 8 pt text on 14 pt rows leaves room for Arabic marks above and descenders below: 36 rows on a full page.
ROW_HEIGHT: Final = 14.0
HEADER_HEIGHT: Final = 18.0
_HEADER_SIZES: Final = (BODY_SIZE, 7.25, 6.5)
_CELL_PAD: Final = 4.0
_BASELINE: Final = 4.5  # from a row's bottom edge to the text baseline
_TITLE_SIZE: Final = 16.0
_META_SIZE: Final = 9.0
_META_LEADING: Final = 12.0
CHART_HEIGHT: Final = 200.0
_LEGEND_WIDTH: Final = 150.0

_ZEBRA: Final = "0.95 g"
_HEADER_FILL: Final = "0.85 g"
_RULE: Final = "0.6 G 0.5 w"
_MUTED_TEXT: Final = "0.35 g"
_SERIES_COLOURS: Final = (
    colors.HexColor("#2f6db3"),
    colors.HexColor("#e08a2e"),
    colors.HexColor("#3f9c5a"),
    colors.HexColor("#c4453d"),
    colors.HexColor("#7d5ba6"),
    colors.HexColor("#8c6d46"),
)

_ELLIPSIS: Final = "…"
# Distinct strings whose PDF operators are kept per document: repeated names and dates hit, a column of
# unique ids just cycles through it; a few MB at most.
_ENCODED_CACHE: Final = 8192
_PDF_STRING_ESCAPES: Final = str.maketrans({"\\": "\\\\", "(": "\\(", ")": "\\)"})
# Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic, Arabic
# Extended, and their presentation forms): only text containing one goes through shaping and bidi.
_RTL_LETTER: Final = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
# Control characters would draw as .notdef boxes (and a newline is no row break here): show them as spaces.
_CONTROLS: Final = dict.fromkeys([*range(32), 127], " ")

_fonts_lock = threading.Lock()
_fonts: dict[str, TTFont] = {}
_reshapers: list[Callable[[str], str]] = []  # the one reshaper, once the fonts are loaded
# Advance widths (1/1000 em) of the ASCII characters, by font: most cells are ASCII, and summing from a tuple
# is three times faster than reportlab's pure-Python stringWidth (its C accelerator is a separate package).
_ascii_widths: dict[str, tuple[float, ...]] = {}


def _register_fonts() -> None:
    """Register the shipped fonts with reportlab, once per process, on first use (parsing the two files
    takes about 25 ms, which an API process that never renders a PDF need not pay at import)."""
    if _fonts:
        return
    # A lock, not just a check: registering a font again while another thread renders with it would swap
    # the font object under that document's subset bookkeeping.
    with _fonts_lock:
        if not _fonts:
            # asciiReadable: printable ASCII keeps its own codes in subset 0, which `_Page._shown` relies on.
            loaded = {
                name: TTFont(name, str(_FONT_DIR / file), asciiReadable=True) for name, file in _FONT_FILES.items()
            }
            for name, font in loaded.items():
                pdfmetrics.registerFont(font)
                face = font.face
                _ascii_widths[name] = tuple(face.charWidths.get(code, face.defaultWidth) for code in range(128))
            _reshapers.append(_reshaper_for(list(loaded.values())))
            _fonts.update(loaded)


def _reshaper_for(fonts: list[TTFont]) -> Callable[[str], str]:
    """An Arabic reshaper that only uses ligatures all `fonts` have glyphs for. DejaVu Sans has the lam-alef
    ligatures but not, for one, U+FDF2 (the word Allah, as in the name "عبد الله"), which the default reshaper
    would turn into a .notdef box. The same check as arabic-reshaper's `config_for_true_type_font`, on
    reportlab's parsed cmap instead of fontTools."""

    def covered(characters: Iterable[str]) -> bool:
        return all(ord(c) in font.face.charToGlyph for font in fonts for c in characters if c)

    configuration: dict[str, bool] = {
        name: covered(forms)
        for name, (_, forms) in (
            *ligatures.SENTENCES_LIGATURES,
            *ligatures.WORDS_LIGATURES,
            *ligatures.LETTERS_LIGATURES,
        )
    }
    configuration["use_unshaped_instead_of_isolated"] = not covered(
        forms[letters.ISOLATED] for forms in letters.LETTERS_ARABIC.values()
    )
    reshaper = arabic_reshaper.ArabicReshaper(configuration=configuration)

    def reshape(text: str) -> str:
        return str(reshaper.reshape(text))

    return reshape


def _width(text: str, font_name: str, size: float) -> float:
    if text.isascii():
        return sum(map(_ascii_widths[font_name].__getitem__, text.encode("ascii"))) * size / 1000
    return _fonts[font_name].stringWidth(text, size)


@lru_cache(maxsize=8192)
def _visual(text: str) -> tuple[str, bool]:
    """The text in display order with Arabic letters in their contextual forms, and whether its paragraph
    runs right to left. Cached: the same agent and campaign names come back on every page."""
    return str(bidi.get_display(_reshapers[0](text))), int(bidi.get_base_level(text)) == 1


@dataclass(frozen=True, slots=True)
class _Fitted:
    text: str  # in display order, cut to fit
    width: float
    rtl: bool


@lru_cache(maxsize=16384)
def _fit(text: str, font_name: str, size: float, max_width: float) -> _Fitted:
    """`text` ready to draw in at most `max_width` points: shaped and reordered if it holds right-to-left
    letters, cut with an ellipsis if too wide. Cut in logical order, so for Arabic the ellipsis ends up at
    the visual left, where the text ends. Bounded cache: repeated values (names, dispositions, dates) are
    measured once, and memory stays flat on a million distinct ones."""
    text = text.translate(_CONTROLS)
    rtl_letters = _RTL_LETTER.search(text) is not None

    def shown(logical: str) -> tuple[str, bool]:
        return _visual(logical) if rtl_letters else (logical, False)

    visual, rtl = shown(text)
    width = _width(visual, font_name, size)
    if width <= max_width:
        return _Fitted(visual, width, rtl)
    # Binary search for the longest prefix that fits with the ellipsis; widths grow with the prefix (shaping
    # can nudge them, so the result is checked and stepped back if needed).
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        candidate, _ = shown(text[:middle].rstrip() + _ELLIPSIS)
        if _width(candidate, font_name, size) <= max_width:
            low = middle
        else:
            high = middle - 1
    while True:
        candidate, _ = shown(text[:low].rstrip() + _ELLIPSIS)
        candidate_width = _width(candidate, font_name, size)
        if candidate_width <= max_width or low == 0:
            return _Fitted(candidate, candidate_width, rtl)
        low -= 1


class _Page:
    """Collects one page's drawing operators; text goes straight to PDF operators with reportlab's font
    subsetting (about 6x faster than `drawString` per cell, which formats a text object each time)."""

    def __init__(self, canvas: StreamingCanvas, document: StreamingDocument) -> None:
        self._canvas = canvas
        self._document = document
        self._ops: list[str] = []
        # Per document, because subset codes are: the font and show operators of each distinct string.
        self._encoded: dict[tuple[str, float, str], str] = {}
        self._subset0: dict[str, str] = {}

    def op(self, operator: str) -> None:
        self._ops.append(operator)

    def text(self, x: float, y: float | str, text: str, font_name: str, size: float) -> None:
        """Show `text` (already in display order) with its baseline starting at (x, y)."""
        y_text = y if isinstance(y, str) else f"{y:.2f}"
        self._ops.append(f"BT 1 0 0 1 {x:.2f} {y_text} Tm {self._shown(text, font_name, size)} ET")

    def _shown(self, text: str, font_name: str, size: float) -> str:
        """The font and show operators for `text`, in this document's font subsets."""
        if text.isascii() and text.isprintable():
            # Printable ASCII is its own code in subset 0 (asciiReadable): no lookup, just PDF string escapes.
            subset0 = self._subset0.get(font_name)
            if subset0 is None:
                subset0 = self._subset0[font_name] = _fonts[font_name].getSubsetInternalName(0, self._document)
            return f"{subset0} {size:g} Tf ({text.translate(_PDF_STRING_ESCAPES)}) Tj"
        key = (font_name, size, text)
        shown = self._encoded.get(key)
        if shown is None:
            if len(self._encoded) >= _ENCODED_CACHE:
                self._encoded.clear()
            font = _fonts[font_name]
            shown = " ".join(
                f"{font.getSubsetInternalName(subset, self._document)} {size:g} Tf ({escapePDF(data)}) Tj"
                for subset, data in font.splitString(text, self._document)
            )
            self._encoded[key] = shown
        return shown

    def fitted(
        self, left: float, right: float, y: float | str, fitted: _Fitted, font: str, size: float, *, end: bool
    ) -> None:
        """Draw fitted text between `left` and `right`, against the right edge if `end` or right-to-left."""
        x = right - fitted.width if end or fitted.rtl else left
        self.text(x, y, fitted.text, font, size)

    def flush(self) -> None:
        """Hand the operators collected so far to the canvas, in their own graphics state so the canvas's
        own drawing (the chart) starts from a clean one."""
        if self._ops:
            self._canvas.addLiteral("q\n" + "\n".join(self._ops) + "\nQ")
            self._ops.clear()

    def finish(self, page_number: int) -> None:
        label = _fit(f"Page {page_number}", FONT, BODY_SIZE, TABLE_WIDTH)
        self.op(_MUTED_TEXT)
        self.text(PAGE_WIDTH - MARGIN - label.width, _FOOTER_Y, label.text, FONT, BODY_SIZE)
        self.flush()
        self._canvas.showPage()


@dataclass(frozen=True, slots=True)
class _Table:
    columns: Sequence[Column]
    lefts: tuple[float, ...]
    widths: tuple[float, ...]

    @classmethod
    def lay_out(cls, columns: Sequence[Column]) -> _Table:
        if not columns:
            raise ValueError("a report needs at least one column")
        if any(not (column.width > 0 and math.isfinite(column.width)) for column in columns):
            raise ValueError("column widths must be positive")
        total = sum(column.width for column in columns)
        widths = tuple(TABLE_WIDTH * column.width / total for column in columns)
        lefts = tuple(MARGIN + sum(widths[:i]) for i in range(len(columns)))
        return cls(columns, lefts, widths)

    def header(self, page: _Page, top: float) -> float:
        """Draw the header row below `top`; returns the top of the first data row."""
        bottom = top - HEADER_HEIGHT
        page.op(f"{_HEADER_FILL} {MARGIN:.2f} {bottom:.2f} {TABLE_WIDTH:.2f} {HEADER_HEIGHT:.2f} re f 0 g")
        for column, left, width in zip(self.columns, self.lefts, self.widths, strict=True):
            # A title too wide for its column is set smaller before it is cut: "Disposition Rate" over a column
            # of percentages reads better in 6.5 pt than as "Disposition…".
            for size in _HEADER_SIZES:
                fitted = _fit(column.title, FONT_BOLD, size, width - 2 * _CELL_PAD)
                if _ELLIPSIS not in fitted.text:
                    break
            page.fitted(
                left + _CELL_PAD, left + width - _CELL_PAD, bottom + 6, fitted, FONT_BOLD, size, end=column.numeric
            )
        page.op(f"{_RULE} {MARGIN:.2f} {bottom:.2f} m {MARGIN + TABLE_WIDTH:.2f} {bottom:.2f} l S")
        return bottom

    def row(self, page: _Page, top: float, cells: Sequence[str], *, striped: bool) -> None:
        bottom = top - ROW_HEIGHT
        if striped:
            page.op(f"{_ZEBRA} {MARGIN:.2f} {bottom:.2f} {TABLE_WIDTH:.2f} {ROW_HEIGHT:.2f} re f 0 g")
        baseline = f"{bottom + _BASELINE:.2f}"
        for column, left, width, cell in zip(self.columns, self.lefts, self.widths, cells, strict=True):
            if cell:
                fitted = _fit(cell, FONT, BODY_SIZE, width - 2 * _CELL_PAD)
                page.fitted(
                    left + _CELL_PAD, left + width - _CELL_PAD, baseline, fitted, FONT, BODY_SIZE, end=column.numeric
                )


def _chart_drawing(chart: BarChart, width: float, height: float) -> Drawing:
    drawing = Drawing(width, height)
    title = _fit(chart.title, FONT_BOLD, 11, width)
    drawing.add(String(0, height - 11, title.text, fontName=FONT_BOLD, fontSize=11))
    if not chart.labels or not chart.series:
        drawing.add(String(0, height - 30, "No data", fontName=FONT, fontSize=BODY_SIZE))
        return drawing
    plot_width = width - _LEGEND_WIDTH - 50
    slot = plot_width / len(chart.labels)
    # Labels that fit their bar group stand upright; otherwise they lean at 30° and are cut to 80 pt.
    upright = [_fit(label, FONT, 7, slot - 4) for label in chart.labels]
    lean = any(
        fitted.text.endswith(_ELLIPSIS) and not label.endswith(_ELLIPSIS)
        for fitted, label in zip(upright, chart.labels, strict=True)
    )
    labels = [_fit(label, FONT, 7, 80).text for label in chart.labels] if lean else [fitted.text for fitted in upright]

    bars = VerticalBarChart()
    bars.x, bars.y = 45, 50 if lean else 22
    bars.width, bars.height = int(plot_width), int(height - 24 - bars.y)
    bars.data = [list(values) for _, values in chart.series]
    lowest = min(min(values) for _, values in chart.series)
    bars.valueAxis.valueMin = min(0.0, lowest)
    bars.valueAxis.labels.fontName = FONT
    bars.valueAxis.labels.fontSize = 7
    bars.categoryAxis.categoryNames = labels
    bars.categoryAxis.labels.fontName = FONT
    bars.categoryAxis.labels.fontSize = 7
    if lean:
        bars.categoryAxis.labels.angle = 30
        bars.categoryAxis.labels.boxAnchor = "ne"
    bars.barSpacing = 1
    bars.groupSpacing = 6
    for index in range(len(chart.series)):
        bars.bars[index].fillColor = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        bars.bars[index].strokeColor = None
    drawing.add(bars)

    legend = Legend()
    legend.x, legend.y = int(width - _LEGEND_WIDTH + 10), int(height - 24)
    legend.boxAnchor = "nw"
    legend.alignment = "right"
    legend.fontName = FONT
    legend.fontSize = BODY_SIZE
    legend.colorNamePairs = [
        (_SERIES_COLOURS[index % len(_SERIES_COLOURS)], _fit(name, FONT, BODY_SIZE, _LEGEND_WIDTH - 30).text)
        for index, (name, _) in enumerate(chart.series)
    ]
    drawing.add(legend)
    return drawing


def _check_chart(chart: BarChart) -> None:
    for name, values in chart.series:
        if len(values) != len(chart.labels):
            raise ValueError(f"chart series {name!r} has {len(values)} values for {len(chart.labels)} labels")
        if not all(math.isfinite(value) for value in values):
            raise ValueError(f"chart series {name!r} has a value that is not a finite number")


def _first_page(
    page: _Page,
    canvas: StreamingCanvas,
    *,
    title: str,
    filters: Sequence[tuple[str, str]],
    generated_at: str,
    chart: BarChart | None,
) -> float:
    """Draw the title block (and the chart); returns where the table starts."""
    y = _TOP - _TITLE_SIZE
    fitted = _fit(title, FONT_BOLD, _TITLE_SIZE, TABLE_WIDTH)
    page.fitted(MARGIN, PAGE_WIDTH - MARGIN, y, fitted, FONT_BOLD, _TITLE_SIZE, end=False)
    y -= 8
    lines = [f"{label}: {value}" for label, value in filters] + [f"Generated at {generated_at}"]
    for index, line in enumerate(lines):
        y -= _META_LEADING
        if index == len(lines) - 1:
            page.op(_MUTED_TEXT)
        page.fitted(
            MARGIN, PAGE_WIDTH - MARGIN, y, _fit(line, FONT, _META_SIZE, TABLE_WIDTH), FONT, _META_SIZE, end=False
        )
    page.op("0 g")
    y -= 12
    if chart is not None:
        y -= CHART_HEIGHT
        page.flush()  # the chart draws through the canvas: keep the order of what is on the page
        renderPDF.draw(_chart_drawing(chart, TABLE_WIDTH, CHART_HEIGHT), canvas, MARGIN, y)
        y -= 12
    return y


def write_pdf(
    out: BinaryIO,
    *,
    title: str,
    filters: Sequence[tuple[str, str]],  # (label, value) lines printed under the title
    generated_at: str,  # already formatted by the caller
    columns: Sequence[Column],
    rows: Iterable[Sequence[str]],  # consumed once, lazily
    chart: BarChart | None = None,
    invariant: bool = False,  # True: no timestamp or random ID, so the same input gives the same bytes
) -> int:
    """Render the report into `out` (written sequentially, never sought) and return the number of data rows.
    A row with the wrong number of cells is a caller's bug and raises ValueError (part of the file may
    have been written by then)."""
    started = time.perf_counter()
    _register_fonts()
    table = _Table.lay_out(columns)
    if chart is not None:
        _check_chart(chart)
    document = StreamingDocument(out, invariant=invariant)
    canvas = StreamingCanvas(out, document, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), initial_font=FONT)
    # The logical (unshaped) title: viewers shape metadata themselves.
    canvas.setTitle(title)
    canvas.setAuthor("Engage")
    canvas.setCreator("Engage")
    page = _Page(canvas, document)

    page_number = 1
    y = _first_page(page, canvas, title=title, filters=filters, generated_at=generated_at, chart=chart)
    if y - HEADER_HEIGHT - ROW_HEIGHT < _BOTTOM:  # the title block left no room for a row: table on page 2
        page.finish(page_number)
        page_number += 1
        y = _TOP
    y = table.header(page, y)
    count = 0
    width = len(columns)
    for cells in rows:
        if len(cells) != width:
            raise ValueError(f"row {count + 1} has {len(cells)} cells for {width} columns")
        if y - ROW_HEIGHT < _BOTTOM:
            page.finish(page_number)
            page_number += 1
            y = table.header(page, _TOP)
        table.row(page, y, cells, striped=count % 2 == 1)
        y -= ROW_HEIGHT
        count += 1
    if count == 0:
        page.text(MARGIN + _CELL_PAD, y - ROW_HEIGHT + _BASELINE, "No rows", FONT, BODY_SIZE)
    page.finish(page_number)
    canvas.save()
    log.info(
        "report_pdf.written",
        rows=count,
        pages=document.pages_written,
        bytes=document.bytes_written,
        seconds=round(time.perf_counter() - started, 3),
    )
    return count
