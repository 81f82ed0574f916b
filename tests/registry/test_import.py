"""`service.import_registry`: a file streamed into one jurisdiction's registry, appended or replacing it in
one transaction, counted (lines read, invalid, duplicates, added, total) and recorded in `registry_loads`.

Kuwaiti (+965) and Bahraini (+973) numbers: the UAE and KSA forms are in test_normalise.py, and their
registries belong to the compliance engine's tests."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from engage.core.clock import ManualClock
from engage.registry import service
from engage.registry.errors import InvalidRegistryFile, UnknownJurisdiction, UnreadableRegistryFile
from engage.registry.schemas import LoadMode

from .conftest import Registries, owner_dsn

KW_1, KW_2, KW_3, KW_4 = "+96555123451", "+96555123452", "+96555123453", "+96555123454"
BH_1 = "+97333123451"


class TestFormats:
    async def test_one_number_per_line_in_any_form_is_loaded_in_e164(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        result = await registries.import_lines(kw, ["+96555123451", "0096555123452", "5512 3453", "(+965) 5512-3454"])

        assert result == service.ImportResult(
            jurisdiction="KW", mode=LoadMode.append, lines_read=4, invalid=0, duplicates=0, added=4, total=4
        )
        assert await registries.phones(kw) == [KW_1, KW_2, KW_3, KW_4]

    async def test_a_csv_with_a_phone_column_in_any_case_and_place_is_read_by_that_column(
        self, registries: Registries
    ) -> None:
        kw = await registries.use("KW")
        path = registries.write(
            'name,PHONE,city\n"Haddad, Omar",+96555123451,Kuwait City\nLayla,"0096555123452",Salmiya\n', "kw.csv"
        )

        result = await registries.import_file(kw, path)

        assert (result.lines_read, result.invalid, result.added) == (2, 0, 2)
        assert await registries.phones(kw) == [KW_1, KW_2]

    async def test_a_csv_row_without_a_phone_cell_is_an_invalid_line(self, registries: Registries) -> None:
        kw = await registries.use("KW")
        path = registries.write("id,phone\n1,+96555123451\n2\n3,\n", "kw.csv")

        result = await registries.import_file(kw, path)

        assert (result.lines_read, result.invalid, result.added) == (3, 2, 1)

    async def test_a_spreadsheet_csv_with_a_byte_order_mark_and_crlf_lines_is_still_csv(
        self, registries: Registries
    ) -> None:
        kw = await registries.use("KW")
        path = registries.write(
            "phone,name\r\n+96555123451,Omar\r\n+96555123452,Layla\r\n", "kw.csv", encoding="utf-8-sig"
        )

        result = await registries.import_file(kw, path)

        assert (result.lines_read, result.invalid) == (2, 0)
        assert await registries.phones(kw) == [KW_1, KW_2]

    async def test_blank_lines_are_skipped_and_not_counted(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        result = await registries.import_file(kw, registries.write("\n\n+96555123451\n   \n\r\n+96555123452"))

        assert (result.lines_read, result.invalid, result.added) == (2, 0, 2)

    async def test_a_first_line_without_a_phone_column_is_read_as_a_number(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        result = await registries.import_lines(kw, ["msisdn", KW_1])

        assert (result.lines_read, result.invalid, result.added) == (2, 1, 1)


class TestCounts:
    async def test_invalid_lines_are_counted_and_not_loaded(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        result = await registries.import_lines(kw, [KW_1, "hello", "123", "+966512345678", BH_1, "+9655512345", KW_2])

        assert (result.lines_read, result.invalid, result.added, result.total) == (7, 5, 2, 2)
        assert await registries.phones(kw) == [KW_1, KW_2]

    async def test_a_number_repeated_in_the_file_in_any_form_is_loaded_once_and_counted_as_duplicate(
        self, registries: Registries
    ) -> None:
        kw = await registries.use("KW")

        result = await registries.import_lines(kw, [KW_1, "0096555123451", "55123451", KW_2, KW_2])

        assert (result.lines_read, result.duplicates, result.added, result.total) == (5, 3, 2, 2)
        assert await registries.phones(kw) == [KW_1, KW_2]

    async def test_chunks_do_not_change_the_counts(self, registries: Registries) -> None:
        kw = await registries.use("KW")
        path = registries.write("\n".join([KW_1, "junk", KW_2, KW_1, KW_3, "junk", KW_4]))

        result = await registries.import_file(kw, path, chunk_size=2)

        assert (result.lines_read, result.invalid, result.duplicates, result.added) == (7, 2, 1, 4)
        assert await registries.phones(kw) == [KW_1, KW_2, KW_3, KW_4]


class TestAppend:
    async def test_append_adds_to_the_registry_and_counts_numbers_already_on_it_as_duplicates(
        self, registries: Registries
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1, KW_2])

        result = await registries.import_lines(kw, [KW_2, KW_3])

        assert (result.mode, result.duplicates, result.added, result.total) == (LoadMode.append, 1, 1, 3)
        assert await registries.phones(kw) == [KW_1, KW_2, KW_3]

    async def test_a_load_leaves_other_jurisdictions_alone(self, registries: Registries) -> None:
        kw, bh = await registries.use("KW"), await registries.use("BH")
        await registries.import_lines(bh, [BH_1])

        await registries.import_lines(kw, [KW_1], replace=True)

        assert await registries.phones(bh) == [BH_1]


class TestReplace:
    async def test_replace_swaps_the_registry_for_the_file(self, registries: Registries) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1, KW_2])

        result = await registries.import_lines(kw, [KW_2, KW_3, KW_3], replace=True)

        assert result == service.ImportResult(
            jurisdiction="KW", mode=LoadMode.replace_, lines_read=3, invalid=0, duplicates=1, added=2, total=2
        )
        assert await registries.phones(kw) == [KW_2, KW_3]

    async def test_readers_see_the_old_registry_until_the_replacement_commits(
        self, registries: Registries, owner: asyncpg.Connection, database_url: str
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1, KW_2])
        # Hold the registry's load row: the replacing import blocks on its last statement, after its delete
        # and its insert, until this transaction ends.
        blocker = await asyncpg.connect(owner_dsn(database_url), timeout=10)
        replacing: asyncio.Future[service.ImportResult] | None = None
        try:
            async with blocker.transaction():
                await blocker.execute("SELECT 1 FROM registry_loads WHERE jurisdiction = $1 FOR UPDATE", kw)
                replacing = asyncio.ensure_future(registries.import_lines(kw, [KW_3], replace=True))
                await _wait_until_blocked(owner, replacing)

                during = await registries.phones(kw)
        finally:
            await blocker.close()
            if replacing is not None:
                await replacing

        assert during == [KW_1, KW_2]
        assert await registries.phones(kw) == [KW_3]

    async def test_a_replace_that_fails_halfway_through_the_file_leaves_the_registry_and_its_load(
        self, registries: Registries, clock: ManualClock
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1, KW_2])
        before = await registries.load(kw)
        clock.advance(3600)
        # 2,000 numbers, in 20 chunks, are copied before the line that is not UTF-8.
        good = "".join(f"+9656{n:07d}\n" for n in range(2_000)).encode()
        path = registries.folder / "broken.txt"
        path.write_bytes(good + b"+965\xff\xfe\n" + KW_3.encode() + b"\n")

        with pytest.raises(InvalidRegistryFile, match="Line 2001 is not UTF-8"):
            await registries.import_file(kw, path, replace=True, chunk_size=100)

        assert await registries.phones(kw) == [KW_1, KW_2]
        assert await registries.load(kw) == before

    async def test_a_replace_with_an_unknown_jurisdiction_changes_nothing(self, registries: Registries) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1])
        before = await registries.load(kw)

        with pytest.raises(UnknownJurisdiction):
            await registries.import_lines("KX", [KW_2], replace=True)

        assert await registries.phones(kw) == [KW_1]
        assert await registries.load(kw) == before

    async def test_a_replace_with_no_valid_number_of_the_jurisdiction_is_refused_and_changes_nothing(
        self, registries: Registries
    ) -> None:
        # A Saudi file given as Kuwait's would otherwise empty Kuwait's registry.
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1])
        before = await registries.load(kw)

        with pytest.raises(InvalidRegistryFile, match="no valid KW number"):
            await registries.import_lines(kw, ["+966512345678", "0512345678"], replace=True)

        assert await registries.phones(kw) == [KW_1]
        assert await registries.load(kw) == before


class TestLoadStatus:
    async def test_a_load_records_when_how_the_count_after_it_and_the_file_name_without_its_folder(
        self, registries: Registries, clock: ManualClock
    ) -> None:
        kw = await registries.use("KW")
        clock.advance(90)
        path = registries.write(f"{KW_1}\n{KW_2}\n", "exports/2026-06/kw-registry.txt")

        await registries.import_file(kw, path)

        load = await registries.load(kw)
        assert load is not None
        assert (load.jurisdiction, load.count, load.mode, load.source) == ("KW", 2, "append", "kw-registry.txt")
        assert load.loaded_at == clock.now()

    async def test_each_load_overwrites_the_record_with_its_own(
        self, registries: Registries, clock: ManualClock
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1, KW_2], name="first.txt")
        clock.advance(86_400)

        await registries.import_lines(kw, [KW_3], replace=True, name="second.txt")

        load = await registries.load(kw)
        assert load is not None
        assert (load.count, load.mode, load.source, load.loaded_at) == (1, "replace", "second.txt", clock.now())


class TestRefusals:
    @pytest.mark.parametrize("jurisdiction", ["KX", "KWT", "K", "", "965", "001"])
    async def test_a_jurisdiction_phonenumbers_does_not_know_is_refused(
        self, registries: Registries, jurisdiction: str
    ) -> None:
        with pytest.raises(UnknownJurisdiction):
            await registries.import_lines(jurisdiction, [KW_1])

    async def test_a_jurisdiction_is_read_in_any_case_and_stored_upper_case(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        result = await registries.import_lines(" kw ", [KW_1])

        assert result.jurisdiction == "KW"
        assert await registries.phones(kw) == [KW_1]

    async def test_a_missing_file_is_refused(self, registries: Registries) -> None:
        with pytest.raises(UnreadableRegistryFile, match="No file"):
            await registries.import_file("KW", registries.folder / "missing.csv")

    async def test_a_folder_is_refused(self, registries: Registries) -> None:
        with pytest.raises(UnreadableRegistryFile):
            await registries.import_file("KW", registries.folder)

    async def test_an_empty_file_is_refused(self, registries: Registries) -> None:
        kw = await registries.use("KW")

        with pytest.raises(InvalidRegistryFile, match="no valid KW number"):
            await registries.import_file(kw, registries.write("\n\n"))

        assert await registries.load(kw) is None

    async def test_a_line_too_long_to_be_a_registry_line_is_refused_before_it_is_read_whole(
        self, registries: Registries
    ) -> None:
        kw = await registries.use("KW")
        path = registries.write(f"{KW_1}\n" + "5" * (service.MAX_LINE_BYTES * 4) + "\n")

        with pytest.raises(InvalidRegistryFile, match="Line 2"):
            await registries.import_file(kw, path)

        assert await registries.phones(kw) == []

    async def test_a_file_with_more_numbers_than_an_import_takes_is_refused_and_nothing_is_loaded(
        self, registries: Registries, database_url: str, clock: ManualClock
    ) -> None:
        kw = await registries.use("KW")
        path = registries.write("\n".join([KW_1, KW_2, KW_3, KW_4]))

        with pytest.raises(InvalidRegistryFile, match="more than 3 numbers"):
            await service.import_registry(database_url, kw, path, replace=False, clock=clock, max_numbers=3)

        assert await registries.phones(kw) == []


async def _wait_until_blocked(owner: asyncpg.Connection, task: asyncio.Future[service.ImportResult]) -> None:
    """Until the import's connection waits on a lock (bounded: 30 s); fails early if the import ends."""
    for _ in range(600):
        if task.done():
            raise AssertionError(f"the import did not block: {task.result()}")
        waiting = await owner.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'engage-registry-import' AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the import never blocked")
