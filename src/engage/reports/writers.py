"""Writing a report's rows out: CSV (RFC 4180: comma, double quotes doubled, CRLF; UTF-8, optionally with a BOM
for Excel), JSON (an array of objects) and PDF (`pdf.write_pdf`, fed the same text cells as CSV), row by row into
a binary file, so a report of any size is written in constant memory.

The writers are plain functions over an iterable of rows, run in a worker thread (`service`): formatting a
million rows must not hold the event loop. A large report's rows come from the database cursor through
`ThreadRows`, which fetches each batch on the loop while the writer's thread waits for it.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import BinaryIO
from zoneinfo import ZoneInfo

from .tables import Column, Kind, Row, json_value, text_value

# Rows gathered before each write to the file: fewer, larger writes.
_FLUSH_ROWS = 1_000
# How long a writer's thread waits for the database's next batch before giving up.
_BATCH_TIMEOUT_SECONDS = 120


def json_object(columns: Sequence[Column], row: Row) -> dict[str, object]:
    return {column.key: json_value(column.kind, value) for column, value in zip(columns, row, strict=True)}


def text_cells(columns: Sequence[Column], row: Row, zone: ZoneInfo) -> list[str]:
    return [text_value(column.kind, value, zone) for column, value in zip(columns, row, strict=True)]


def is_numeric(column: Column) -> bool:
    return column.kind in (Kind.integer, Kind.seconds, Kind.minutes, Kind.percent, Kind.rate)


def write_csv(out: BinaryIO, columns: Sequence[Column], rows: Iterable[Row], zone: ZoneInfo, *, bom: bool) -> int:
    if bom:
        out.write(codecs.BOM_UTF8)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.title for column in columns])
    count = 0
    for row in rows:
        writer.writerow(text_cells(columns, row, zone))
        count += 1
        if count % _FLUSH_ROWS == 0:
            out.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode())
    return count


def write_json(out: BinaryIO, columns: Sequence[Column], rows: Iterable[Row]) -> int:
    """`[{...},\\n{...}]`: the same array `data` carries inline."""
    out.write(b"[")
    count = 0
    for row in rows:
        out.write((b",\n" if count else b"") + json.dumps(json_object(columns, row), ensure_ascii=False).encode())
        count += 1
    out.write(b"]")
    return count


class ThreadRows:
    """An iterable, for a writer running in a thread, over rows an async iterator yields on `loop` (the database
    cursor): each batch is fetched on the loop while the thread waits."""

    def __init__(self, loop: asyncio.AbstractEventLoop, batches: AsyncIterator[list[Row]]) -> None:
        self._loop = loop
        self._batches = batches

    def __iter__(self) -> Iterator[Row]:
        while True:
            future = asyncio.run_coroutine_threadsafe(_next_batch(self._batches), self._loop)
            batch = future.result(timeout=_BATCH_TIMEOUT_SECONDS)
            if batch is None:
                return
            yield from batch


async def _next_batch(batches: AsyncIterator[list[Row]]) -> list[Row] | None:
    try:
        return await anext(batches)
    except StopAsyncIteration:
        return None
