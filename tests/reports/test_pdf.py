"""The PDF writer, read back the way a person and a machine would: pypdf extracts the text (so it is real text,
not outlines, with working ToUnicode maps) and poppler's pdftoppm renders every page (so the file is valid
for a second, independent reader). No database: the writer takes display text and needs none.

pdftoppm comes from Debian's poppler-utils, which `.ci/run` installs; a missing pdftoppm fails the test with
that hint instead of skipping it.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import struct
import subprocess
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from engage.reports.pdf import (
    BODY_SIZE,
    FONT,
    HEADER_HEIGHT,
    MARGIN,
    PAGE_HEIGHT,
    ROW_HEIGHT,
    TABLE_WIDTH,
    BarChart,
    Column,
    write_pdf,
)

ARABIC_NAME = "ليلى أحمد"
COLUMNS = [Column("Agent"), Column("Campaign"), Column("Calls", numeric=True), Column("Answered", numeric=True)]
ROWS = [
    [ARABIC_NAME, "Spring renewals", "120", "50.0%"],
    ["Jane Doe", "Spring renewals", "80", "62.5%"],
    ["Zoë Ångström", "حملة الصيف", "45", "11.1%"],
]
CHART = BarChart(
    title="Calls by agent",
    labels=[ARABIC_NAME, "Jane Doe", "Zoë Ångström"],
    series=[("Calls", [120, 80, 45]), ("Answered", [60, 50, 5])],
)
FILTERS = [("Campaign", "All campaigns"), ("Period", "2026-06-01 \u2013 2026-06-12 (Asia/Dubai)")]
# Rows on a page without the title block: what is left of the page under the header row.
FULL_PAGE_ROWS = math.floor((PAGE_HEIGHT - 2 * MARGIN - HEADER_HEIGHT) / ROW_HEIGHT)


def render(path: Path, rows: Sequence[Sequence[str]], **overrides: Any) -> int:
    arguments: dict[str, Any] = {
        "title": "Agent performance",
        "filters": FILTERS,
        "generated_at": "2026-06-12 14:00 (Asia/Dubai)",
        "columns": COLUMNS,
        "rows": iter(rows),
    }
    arguments.update(overrides)
    with path.open("wb") as out:
        return write_pdf(out, **arguments)


def page_texts(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path, strict=True).pages]


def pdftoppm(path: Path) -> tuple[list[Path], str]:
    """Render every page at 50 dpi; returns the PNGs in page order and what poppler said on stderr."""
    binary = shutil.which("pdftoppm")
    if binary is None:
        pytest.fail("pdftoppm is not installed: install Debian's poppler-utils (.ci/run does, as root)")
    prefix = path.with_suffix("")
    done = subprocess.run(  # noqa: S603 (a fixed binary and our own temp paths)
        [binary, "-r", "50", "-png", str(path), str(prefix)], capture_output=True, text=True, timeout=60, check=True
    )
    pngs = sorted(path.parent.glob(f"{prefix.name}-*.png"), key=lambda png: int(png.stem.rsplit("-", 1)[1]))
    return pngs, done.stderr


def dark_fraction(png: Path) -> float:
    """The share of pixels darker than mid-grey, decoding the PNG with the standard library (8-bit grey or
    RGB, not interlaced: what pdftoppm writes)."""
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{png.name} is not a PNG")
    position, idat, header = 8, bytearray(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (0, 2) or interlace:
        raise AssertionError(f"{png.name}: unexpected PNG format (depth {depth}, colour type {colour})")
    channels = 3 if colour == 2 else 1
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    previous = bytearray(stride)
    dark = 0
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                upper_left = previous[i - channels] if i >= channels else 0
                estimate = left + up - upper_left
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
                nearest = (left, up, upper_left)[distances.index(min(distances))]
                line[i] = (line[i] + nearest) & 0xFF
        dark += sum(1 for i in range(0, stride, channels) if sum(line[i : i + channels]) < 128 * channels)
        previous = line
    return dark / (width * height)


def base_letters(text: str) -> str:
    """Arabic presentation forms (what a shaped PDF holds) back to the letters they show."""
    return unicodedata.normalize("NFKC", text)


def shows_arabic(extracted: str, logical: str) -> bool:
    """Whether `logical` is in the extracted text, in logical order (an extractor that applies bidi, as pypdf
    does) or in visual order (one that reads glyphs left to right)."""
    normalised = base_letters(extracted)
    return logical in normalised or logical[::-1] in normalised


class TestSmallReport:
    def test_title_filters_headers_cells_and_footer_are_extractable_text(self, tmp_path: Path) -> None:
        path = tmp_path / "report.pdf"

        count = render(path, ROWS, chart=CHART)

        assert count == 3
        [text] = page_texts(path)
        for expected in [
            "Agent performance",
            "Campaign: All campaigns",
            "Period: 2026-06-01 \u2013 2026-06-12 (Asia/Dubai)",
            "Generated at 2026-06-12 14:00 (Asia/Dubai)",
            "Calls by agent",
            "Agent",
            "Campaign",
            "Calls",
            "Answered",
            "Jane Doe",
            "Zoë Ångström",
            "Spring renewals",
            "62.5%",
            "Page 1",
        ]:
            assert expected in text, expected

    def test_metadata_names_the_report_engage_and_the_creation_date(self, tmp_path: Path) -> None:
        path = tmp_path / "report.pdf"

        render(path, ROWS)

        metadata = PdfReader(path).metadata
        assert metadata is not None
        assert metadata.title == "Agent performance"
        assert metadata.author == "Engage"
        assert metadata.creation_date is not None

    def test_arabic_is_shaped_into_contextual_forms_and_reads_back_as_the_name(self, tmp_path: Path) -> None:
        path = tmp_path / "report.pdf"

        render(path, ROWS, chart=CHART)

        [text] = page_texts(path)
        # Shaped: the glyphs drawn are Arabic presentation forms (initial, medial, final), as in the font's
        # contextual forms, not the isolated base letters an unshaped string would show.
        assert re.search("[\ufe70-\ufeff]", text)
        # And they are the name: NFKC maps each form back to its letter, in logical or visual order.
        assert shows_arabic(text, ARABIC_NAME)
        assert shows_arabic(text, "حملة الصيف")
        # Twice: the table cell and the chart's axis label.
        assert sum(shows_arabic(line, ARABIC_NAME) for line in text.splitlines()) >= 2

    def test_arabic_cells_are_right_aligned_and_latin_cells_left_aligned(self, tmp_path: Path) -> None:
        path = tmp_path / "report.pdf"
        render(path, ROWS)
        starts: dict[str, float] = {}

        def visit(text: str, cm: Sequence[float], tm: Sequence[float], font: Any, size: float) -> None:
            if text.strip():
                starts[text.strip()] = tm[4]

        PdfReader(path).pages[0].extract_text(visitor_text=visit)

        column_left, column_right = MARGIN, MARGIN + TABLE_WIDTH / len(COLUMNS)
        assert starts["Jane Doe"] == pytest.approx(column_left + 4)
        [arabic] = [text for text in starts if base_letters(text) in (ARABIC_NAME, ARABIC_NAME[::-1])]
        # The text ends at the column's right padding: start + drawn width.
        assert starts[arabic] + stringWidth(arabic, FONT, BODY_SIZE) == pytest.approx(column_right - 4, abs=0.5)

    def test_every_page_renders_to_a_non_blank_image(self, tmp_path: Path) -> None:
        path = tmp_path / "report.pdf"
        render(path, ROWS * 30, chart=CHART)  # 90 rows: a chart page and more

        pngs, stderr = pdftoppm(path)

        pages = len(PdfReader(path).pages)
        assert pages >= 2
        assert len(pngs) == pages
        assert "Error" not in stderr
        for png in pngs:
            # Ink but not a black page: text, rules, stripes and bars on white.
            assert 0.002 < dark_fraction(png) < 0.5, png.name


class TestPaging:
    def test_thousands_of_rows_fill_whole_pages_with_the_header_on_each_and_no_row_split(self, tmp_path: Path) -> None:
        path = tmp_path / "long.pdf"
        total = 2500
        rows = [[f"r{i:04d}", f"agent{i:04d}", str(i), f"{i % 100}.0%"] for i in range(1, total + 1)]

        count = render(path, rows)

        texts = page_texts(path)
        per_page = [re.findall(r"\br(\d{4})\b", text) for text in texts]
        assert count == total
        assert [int(i) for ids in per_page for i in ids] == list(range(1, total + 1))
        first = len(per_page[0])
        assert 0 < first < FULL_PAGE_ROWS  # the title block takes room
        assert all(len(ids) == FULL_PAGE_ROWS for ids in per_page[1:-1])
        assert 0 < len(per_page[-1]) <= FULL_PAGE_ROWS
        assert len(texts) == 1 + math.ceil((total - first) / FULL_PAGE_ROWS)
        for number, (text, ids) in enumerate(zip(texts, per_page, strict=True), start=1):
            assert all(title in text for title in ("Agent", "Campaign", "Calls", "Answered")), number
            assert f"Page {number}" in text
            # Each row's other cells are on its page: a row is never split.
            assert all(f"agent{i}" in text for i in ids)
        assert texts[-1].rstrip().endswith(f"Page {len(texts)}")

    def test_rows_are_consumed_lazily_and_pages_written_while_rows_still_come(self, tmp_path: Path) -> None:
        out = io.BytesIO()
        written_at: list[int] = []

        def rows() -> Iterator[list[str]]:
            for i in range(2000):
                if i in (1000, 1999):
                    written_at.append(out.tell())
                yield [f"r{i:04d}", "agent", str(i), "1.0%"]

        count = write_pdf(out, title="Lazy", filters=[], generated_at="now", columns=COLUMNS, rows=rows())

        assert count == 2000
        # The output grows with the rows as they come (some 27 pages by row 1000, twice that by row 1999):
        # pages go out as they fill, not at the end.
        at_1000, at_1999 = written_at
        assert at_1000 > 20_000
        assert at_1999 > 1.8 * at_1000


class TestCells:
    def test_long_cell_text_is_cut_with_an_ellipsis_to_its_column(self, tmp_path: Path) -> None:
        path = tmp_path / "long-cell.pdf"
        long_note = "a very long note " * 20

        render(path, [["Jane Doe", long_note, "1", "1.0%"]])

        [text] = page_texts(path)
        [line] = [line for line in text.splitlines() if line.startswith("Jane Doe")]
        assert "…" in line
        assert long_note.strip() not in text
        assert "a very long note a very" in line

    def test_long_arabic_text_is_cut_with_an_ellipsis_too(self, tmp_path: Path) -> None:
        path = tmp_path / "long-arabic.pdf"

        render(path, [["Jane Doe", "حملة الصيف " * 20, "1", "1.0%"]])

        [text] = page_texts(path)
        assert "…" in text
        assert shows_arabic(text, "حملة الصيف")

    def test_an_empty_report_prints_the_header_and_no_rows(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.pdf"

        count = render(path, [])

        assert count == 0
        [text] = page_texts(path)
        assert all(title in text for title in ("Agent", "Campaign", "Calls", "Answered"))
        assert "No rows" in text
        assert "Page 1" in text
        pngs, _ = pdftoppm(path)
        assert len(pngs) == 1


class TestMisuse:
    def test_a_row_with_the_wrong_number_of_cells_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="row 2 has 3 cells for 4 columns"):
            render(tmp_path / "bad.pdf", [ROWS[0], ["a", "b", "c"]])

    def test_a_chart_series_with_the_wrong_number_of_values_is_refused(self, tmp_path: Path) -> None:
        chart = BarChart(title="Calls", labels=["a", "b"], series=[("Calls", [1.0])])

        with pytest.raises(ValueError, match="has 1 values for 2 labels"):
            render(tmp_path / "bad.pdf", ROWS, chart=chart)
