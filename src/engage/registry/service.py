"""National registry use cases: the operator's import, and the status tenants read.

Invariants: a registry holds E.164 numbers of its jurisdiction's country code, each once; an import changes
a registry in one transaction (readers see it before or after, never half loaded) and only once the whole
file was read; the file is streamed a chunk at a time, so memory does not grow with its size; phone numbers
are never logged, only counts.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import asyncpg
import phonenumbers
import structlog
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from engage.core.clock import Clock
from engage.core.phones import to_e164
from engage.core.sql import Fact

from . import repository
from .errors import InvalidRegistryFile, UnknownJurisdiction, UnreadableRegistryFile
from .models import RegistryLoad
from .schemas import LoadMode

log = structlog.get_logger("engage.registry")

# The size the issue asks an import to take; a bigger file is refused before anything changes, rather than
# loaded for an hour by mistake.
MAX_NUMBERS = 10_000_000
# Lines read and normalised per step, in a thread, while PostgreSQL copies the previous step's numbers. Two
# steps alive at a time: 6.7 MiB of Python allocations at peak, measured on 1,000,000 numbers.
IMPORT_CHUNK = 50_000
# A registry line is a phone number, or a CSV row holding one; a longer line is not a registry's, and is
# refused before it is held in memory whole.
MAX_LINE_BYTES = 65_536

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s\-().]")
# `source` in registry_loads is varchar(500).
_MAX_SOURCE_CHARS = 500


@dataclass(frozen=True, slots=True)
class ImportResult:
    """`lines_read`: data lines (not the header, not blank lines); `invalid`: lines that are no valid number
    of the jurisdiction; `duplicates`: valid numbers repeated in the file or already on the registry;
    `added`: numbers the import put on it; `total`: its size after the import."""

    jurisdiction: str
    mode: LoadMode
    lines_read: int
    invalid: int
    duplicates: int
    added: int
    total: int


def jurisdiction_code(value: str) -> str:
    """`value` as an upper-case ISO 3166-1 alpha-2 code of a region `phonenumbers` can parse numbers of."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise UnknownJurisdiction(
            f"{value!r} is not a jurisdiction: give an ISO 3166-1 alpha-2 country code, such as AE or SA."
        )
    return code


@dataclass(frozen=True, slots=True)
class _Country:
    """What a jurisdiction's E.164 numbers look like: `+<country code>`, then a national number matching the
    region's general pattern from phonenumbers' metadata."""

    prefix: str
    national: re.Pattern[str]

    @classmethod
    def of(cls, jurisdiction: str) -> _Country:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(jurisdiction)
        general = metadata.general_desc if metadata is not None else None
        pattern = general.national_number_pattern if general is not None else None
        if pattern is None:
            # Every region in phonenumbers.SUPPORTED_REGIONS has a general pattern (`jurisdiction_code` checks).
            raise UnknownJurisdiction(f"{jurisdiction!r} is not a jurisdiction phonenumbers has metadata for.")
        prefix = f"+{phonenumbers.country_code_for_region(jurisdiction)}"
        return cls(prefix=prefix, national=re.compile(pattern))


def _normalise(raw: str, jurisdiction: str, country: _Country) -> str | None:
    text = raw.strip()
    if not _E164.fullmatch(text):
        text = _SEPARATORS.sub("", text)
    # Fast path for what registry exports hold, E.164: the country code's prefix and the region's general
    # pattern (< 1 µs) instead of a full parse (~20 µs, 200 s for 10,000,000 numbers). Anything else, numbers
    # of another region sharing the country code (+1, +7, +44) among them, goes through phonenumbers.
    if (
        _E164.fullmatch(text)
        and text.startswith(country.prefix)
        and country.national.fullmatch(text[len(country.prefix) :])
    ):
        return text
    phone = to_e164(text, jurisdiction)
    return phone if phone is not None and phone.startswith(country.prefix) else None


def normalise(raw: str, jurisdiction: str) -> str | None:
    """A registry line's number in E.164 (E.164, international `00…` or national format of `jurisdiction`),
    or None if it is not a valid number with that jurisdiction's country code."""
    return _normalise(raw, jurisdiction, _Country.of(jurisdiction))


class _RegistryFile:
    """One registry file, read a chunk at a time. Used from worker threads, one call at a time.

    The first non-blank line decides the format: if it has a `phone` column (any case) the file is CSV and
    that column is read; otherwise every non-blank line is a number.
    """

    def __init__(self, file: BinaryIO, jurisdiction: str, *, max_numbers: int) -> None:
        self._file = file
        self._jurisdiction = jurisdiction
        self._country = _Country.of(jurisdiction)
        self._max_numbers = max_numbers
        self._line_number = 0
        self._numbers = self._raw_numbers()
        self.lines_read = 0
        self.invalid = 0
        self.exhausted = False

    @classmethod
    def open(cls, path: Path, jurisdiction: str, *, max_numbers: int) -> _RegistryFile:
        try:
            # Bytes, decoded a line at a time: a decoding error then names its line exactly (a text file decodes
            # 8 kB ahead of the line it hands out).
            file = path.open("rb")
        except FileNotFoundError as exc:
            raise UnreadableRegistryFile(f"No file {path}.") from exc
        except OSError as exc:
            raise UnreadableRegistryFile(f"Cannot read {path}: {exc.strerror or exc}.") from exc
        return cls(file, jurisdiction, max_numbers=max_numbers)

    def close(self) -> None:
        self._file.close()

    def read_chunk(self, size: int) -> list[str]:
        """The valid numbers of the next `size` data lines; sets `exhausted` after the last line."""
        valid: list[str] = []
        taken = 0
        for raw in itertools.islice(self._numbers, size):
            taken += 1
            phone = _normalise(raw, self._jurisdiction, self._country)
            if phone is None:
                self.invalid += 1
            else:
                valid.append(phone)
        self.lines_read += taken
        if self.lines_read > self._max_numbers:
            raise InvalidRegistryFile(
                f"The file has more than {self._max_numbers:,} numbers; a registry import takes at most that many."
            )
        if taken < size:
            self.exhausted = True
        return valid

    def _lines(self) -> Iterator[str]:
        while True:
            line = self._file.readline(MAX_LINE_BYTES)
            if not line:
                return
            self._line_number += 1
            if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise InvalidRegistryFile(
                    f"Line {self._line_number} has {MAX_LINE_BYTES:,} bytes or more: not a registry file."
                )
            if self._line_number == 1:
                # Spreadsheet exports start with a byte-order mark, which would hide the header.
                line = line.removeprefix(codecs.BOM_UTF8)
            try:
                yield line.decode()
            except UnicodeDecodeError as exc:
                raise InvalidRegistryFile(f"Line {self._line_number} is not UTF-8.") from exc

    def _raw_numbers(self) -> Iterator[str]:
        """One string per data line: the whole line, or the CSV row's `phone` cell ("" if it has none)."""
        lines = self._lines()
        first = next((line for line in lines if line.strip()), None)
        if first is None:
            return
        header = [name.strip().lower() for name in next(csv.reader([first]), [])]
        if "phone" not in header:
            yield first
            yield from (line for line in lines if line.strip())
            return
        column = header.index("phone")
        try:
            for row in csv.reader(lines):
                if any(cell.strip() for cell in row):
                    yield row[column] if column < len(row) else ""
        except csv.Error as exc:
            raise InvalidRegistryFile(f"Line {self._line_number}: {exc}.") from exc


async def import_registry(
    database_url: str,
    jurisdiction: str,
    path: Path,
    *,
    replace: bool,
    clock: Clock,
    chunk_size: int = IMPORT_CHUNK,
    max_numbers: int = MAX_NUMBERS,
) -> ImportResult:
    """Load the numbers of the file at `path` onto `jurisdiction`'s registry: added to it, or replacing it
    with `replace`. Runs as the login of `database_url` (the schema owner; the app role may only read
    registries). Nothing changes unless the whole file was read and holds at least one valid number."""
    code = jurisdiction_code(jurisdiction)
    mode = LoadMode.replace_ if replace else LoadMode.append
    registry_file = await asyncio.to_thread(_RegistryFile.open, path, code, max_numbers=max_numbers)
    try:
        async with repository.owner_connection(database_url) as owner, owner.transaction():
            await repository.create_staging(owner)
            await _stage(owner, registry_file, chunk_size)
            valid = registry_file.lines_read - registry_file.invalid
            if valid == 0:
                # An empty file, or one of another country: replacing the registry with it would empty it.
                raise InvalidRegistryFile(
                    f"{path.name} holds no valid {code} number ({registry_file.lines_read} lines read): "
                    "nothing was loaded."
                )
            applied = await repository.apply_staged(
                owner,
                code,
                replace=replace,
                mode=mode.value,
                source=path.name[:_MAX_SOURCE_CHARS],
                loaded_at=clock.now(),
            )
    finally:
        await asyncio.to_thread(registry_file.close)
    result = ImportResult(
        jurisdiction=code,
        mode=mode,
        lines_read=registry_file.lines_read,
        invalid=registry_file.invalid,
        duplicates=valid - applied.added,
        added=applied.added,
        total=applied.total,
    )
    log.info(
        "registry.imported",
        jurisdiction=code,
        mode=mode.value,
        source=path.name,
        lines_read=result.lines_read,
        invalid=result.invalid,
        duplicates=result.duplicates,
        added=result.added,
        total=result.total,
    )
    return result


async def _read(source: _RegistryFile, chunk_size: int) -> list[str]:
    return await asyncio.to_thread(source.read_chunk, chunk_size)


async def _stage(owner: asyncpg.Connection, source: _RegistryFile, chunk_size: int) -> None:
    """Copy the file's valid numbers into the staging table. The next chunk is read and normalised in a
    thread while PostgreSQL copies the previous one, so neither stalls the event loop or waits on the other."""
    ahead: asyncio.Future[list[str]] | None = asyncio.ensure_future(_read(source, chunk_size))
    try:
        while ahead is not None:
            phones = await ahead
            ahead = None if source.exhausted else asyncio.ensure_future(_read(source, chunk_size))
            if phones:
                await repository.stage(owner, phones)
    finally:
        if ahead is not None:
            # A failed copy: the read in flight finishes (a thread cannot be cancelled) before the file closes.
            await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()


async def list_loads(session: AsyncSession) -> list[RegistryLoad]:
    """Every loaded registry's last load, in jurisdiction order."""
    return list((await repository.loaded(session)).values())


async def loads_by_jurisdiction(session: AsyncSession) -> dict[str, RegistryLoad]:
    """The last load of every registry ever loaded, by jurisdiction: whether the compliance `dnc_national`
    check can be decided for a jurisdiction at all."""
    return await repository.loaded(session)


def listed(jurisdictions: ColumnElement[list[str]], phones: ColumnElement[list[str]]) -> Fact[set[tuple[str, str]]]:
    """Which of the (jurisdiction, E.164 phone) pairs, as two arrays of the same length, are on their
    jurisdiction's registry: the compliance `dnc_national` check's fact, gathered with the others."""
    return repository.listed(jurisdictions, phones)


def loaded_jurisdictions() -> Fact[set[str]]:
    """The jurisdictions whose registry was ever loaded: where the compliance `dnc_national` check can be decided
    at all."""
    return repository.loaded_jurisdictions()
