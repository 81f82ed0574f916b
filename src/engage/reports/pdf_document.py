"""The PDF file writer under `pdf`'s canvas: reportlab's document, made to stream.

reportlab's own `PDFDocument` keeps every page until `save()` and then builds the whole file as one bytes
object. `StreamingDocument` replaces exactly those two steps: each page (its page object and its compressed
content stream) is written to `out` as soon as the canvas finishes it and then dropped, and the rest (fonts,
page tree, catalogue, info, cross-reference table) at the end. What stays is 8 bytes of offset per PDF object and
4 bytes of page-tree entry per page. It keeps reportlab's object formatting, font subsetting and ToUnicode maps
(so a text extractor finds the text), and leans on reportlab's document internals: reportlab is pinned exactly,
and the tests read every output back with pypdf and render it with poppler.
"""

from __future__ import annotations

from array import array
from typing import BinaryIO, Final

from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFCatalog,
    PDFDocument,
    PDFIndirectObject,
    PDFObject,
    PDFObjectReference,
    PDFPage,
    PDFPages,
    PDFStream,
    PDFTrailer,
    PDFZCompress,
)
from reportlab.pdfgen.canvas import Canvas


class _StreamedPages(PDFPages):
    """The page tree's root, listing pages by object number (4 bytes each) rather than holding every
    `PDFPage` the way reportlab's does."""

    def __init__(self, numbers: array[int]) -> None:
        super().__init__()
        self._numbers = numbers

    def check_format(self, document: PDFDocument) -> None:
        self.Kids = _RawArray(self._numbers)
        self.Count = len(self._numbers)


class _RawArray(PDFArray):
    """A PDF array of references to objects already written, by number."""

    def __init__(self, numbers: array[int]) -> None:
        super().__init__([])
        self._numbers = numbers

    def format(self, document: PDFDocument, IND: bytes = b"\n ") -> bytes:
        return b"[" + b" ".join(b"%d 0 R" % number for number in self._numbers) + b"]"


class StreamingDocument(PDFDocument):
    """reportlab's document, but writing each page to `out` as the canvas finishes it. Objects are numbered
    by reportlab as usual; a page and the objects created while formatting it (its content stream) are
    written at once and forgotten, the rest (fonts, the page tree, catalogue, info) at the end."""

    Catalog: PDFCatalog
    Pages: PDFPages
    _pdfVersion: tuple[int, int]
    # The header is written before any page; nothing here asks for a later version (no transparency, no
    # images), and `format` refuses to end a file whose objects would need one.
    _VERSION: Final = (1, 4)

    def __init__(self, out: BinaryIO, *, invariant: bool) -> None:
        super().__init__(compression=1, invariant=invariant, pdfVersion=self._VERSION)
        self._out = out
        self._position = 0
        self._offsets = array("Q", [0])  # by object number; 0 while not yet written
        self._page_numbers = array("I")
        pages = _StreamedPages(self._page_numbers)
        self.Pages = pages
        self.Catalog.Pages = pages  # type: ignore[attr-defined]  # the stubs omit the catalogue's entries
        # Numbered now, so that it is never mistaken for an object the first page created.
        self._reference(pages)
        # The same header reportlab writes, high bytes included so transfers treat the file as binary.
        self._write(b"%%PDF-%d.%d\n%%\x93\x8c\x8b\x9e ReportLab Generated PDF document (opensource)\n" % self._VERSION)

    @property
    def bytes_written(self) -> int:
        return self._position

    @property
    def pages_written(self) -> int:
        return len(self._page_numbers)

    def _reference(self, obj: PDFObject, name: str | None = None) -> PDFObjectReference:
        reference: PDFObjectReference = self.Reference(obj, name)  # type: ignore[no-untyped-call]  # untyped stub
        return reference

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)

    def _write_object(self, number: int) -> str:
        name = self.numberToId[number]
        data = PDFIndirectObject(name, self.idToObject[name]).format(self)
        while len(self._offsets) <= number:
            self._offsets.append(0)
        self._offsets[number] = self._position
        self._write(data)
        return name

    def addPage(self, page: PDFPage) -> None:
        # reportlab's addPage, minus keeping the page, plus writing it.
        if page.stream:
            # reportlab would also ASCII85-encode the compressed stream (its `useA85` default): a quarter more
            # bytes, and in pure Python without the optional rl-accel it took a fifth of the render time.
            page.Contents = PDFStream(content=page.stream, filters=[PDFZCompress])
            page.stream = None
        name = self.thisPageName()
        self._reference(page, name)
        self.pageCounter += 1
        self.inObject = None
        first = self.objectcounter
        self._page_numbers.append(first)
        written = []
        number = first
        # Formatting the page registers its content stream (and nothing unfinished: fonts, the page tree
        # and the catalogue were numbered before it), so everything from the page on is complete.
        while number <= self.objectcounter:
            written.append((number, self._write_object(number)))
            number += 1
        # Forgotten only now: the page's reference to its stream is resolved while the page is formatted.
        # Nothing names them again (the page tree lists pages by number).
        for done, name in written:
            del self.numberToId[done], self.idToObject[name], self.idToObjectNumberAndVersion[name]

    def format(self) -> bytes:
        """Write the objects still held (fonts, page tree, catalogue, info), the cross-reference table and
        the trailer to `out`; returns nothing for reportlab to write."""
        if self._pdfVersion > self._VERSION:
            raise RuntimeError(f"the PDF needs version {self._pdfVersion}, its header says {self._VERSION}")
        catalogue = self._reference(self.Catalog)
        info = self._reference(self.info)
        number = 1
        while number <= self.objectcounter:  # formatting may number more objects (font descriptors)
            if number >= len(self._offsets) or self._offsets[number] == 0:
                self._write_object(number)
            number += 1
        count = self.objectcounter
        xref_at = self._position
        self._write(b"xref\n0 %d\n0000000000 65535 f \n" % (count + 1))
        for start in range(1, count + 1, 4096):
            end = min(start + 4096, count + 1)
            self._write(b"".join(b"%010d 00000 n \n" % self._offsets[n] for n in range(start, end)))
        trailer = PDFTrailer(startxref=xref_at, Size=count + 1, Root=catalogue, Info=info, ID=self.ID())
        self._write(trailer.format(self))
        return b""

    def SaveToFile(self, filename: object, canvas: Canvas) -> None:
        # GetPDFData adds the fonts and the info dictionary and calls `format`, which writes to `out`.
        self.GetPDFData(canvas)


class StreamingCanvas(Canvas):
    def __init__(
        self, out: BinaryIO, document: StreamingDocument, *, pagesize: tuple[float, float], initial_font: str
    ) -> None:
        # A dynamic (TrueType) initial font keeps reportlab from naming a built-in font in every page's
        # preamble, a font the swapped-in document would not have.
        super().__init__(
            out,
            pagesize=pagesize,
            pageCompression=1,
            initialFontName=initial_font,  # type: ignore[arg-type]  # the stub types it as a number
        )
        self._doc = document
