"""What the compliance engine reads: which registries are loaded, and which (jurisdiction, number) pairs of
a batch are listed, as facts of one statement; and that the app role can read the registries but never change them."""

from __future__ import annotations

import pytest
from sqlalchemy import ARRAY, String, bindparam, text
from sqlalchemy.exc import DBAPIError

from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.runtime import Runtime
from engage.core.sql import FactQuery, driver_of
from engage.registry import repository
from engage.tenancy.models import Tenant

from ..statements import statements_sent
from .conftest import Registries

KW_1, KW_2 = "+96555123451", "+96555123452"
BH_1, BH_2 = "+97333123451", "+97333123452"


class TestLoaded:
    async def test_every_loaded_registry_by_jurisdiction_and_none_that_was_never_loaded(
        self, registries: Registries, runtime: Runtime
    ) -> None:
        kw, bh, qa = await registries.use("KW"), await registries.use("BH"), await registries.use("QA")
        await registries.import_lines(kw, [KW_1, KW_2])
        await registries.import_lines(bh, [BH_1])

        async with unscoped_transaction(runtime.sessions) as session:
            loads = await repository.loaded(session)

        assert {kw, bh} <= loads.keys()
        assert qa not in loads
        assert (loads[kw].count, loads[kw].mode, loads[kw].loaded_at) == (2, "append", runtime.clock.now())
        assert loads[bh].count == 1


# The facts as the compliance engine gathers them, side by side in one statement.
FACTS = FactQuery(
    listed=repository.listed(bindparam("jurisdictions", type_=ARRAY(String)), bindparam("phones", type_=ARRAY(String))),
    loaded=repository.loaded_jurisdictions(),
)


class TestListed:
    async def test_a_pair_is_listed_only_on_its_own_jurisdictions_registry(
        self, registries: Registries, runtime: Runtime, tenant: Tenant
    ) -> None:
        kw, bh, qa = await registries.use("KW"), await registries.use("BH"), await registries.use("QA")
        await registries.import_lines(kw, [KW_1, KW_2])
        await registries.import_lines(bh, [BH_1])
        asked = [(kw, KW_1), (kw, KW_1), (bh, KW_2), (bh, BH_1), (bh, BH_2), (kw, BH_1), ("OM", "+96892123456")]

        # The engine reads inside a request's tenant-scoped transaction: registries have no tenant.
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            facts = await FACTS.gather(session, jurisdictions=[j for j, _ in asked], phones=[p for _, p in asked])

        assert facts["listed"] == {(kw, KW_1), (bh, BH_1)}
        assert {kw, bh} <= facts["loaded"]
        assert qa not in facts["loaded"]

    async def test_no_pairs_is_no_listed_pair(self, runtime: Runtime) -> None:
        async with unscoped_transaction(runtime.sessions) as session:
            assert (await FACTS.gather(session, jurisdictions=[], phones=[]))["listed"] == set()

    async def test_a_batch_of_a_thousand_pairs_is_one_statement(self, registries: Registries, runtime: Runtime) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [f"+9655{n:07d}" for n in range(0, 2_000, 2)])
        asked = [f"+9655{n:07d}" for n in range(1_000)]
        async with unscoped_transaction(runtime.sessions) as session:
            with statements_sent(await driver_of(session)) as statements:
                facts = await FACTS.gather(session, jurisdictions=[kw] * len(asked), phones=asked)

        assert facts["listed"] == {(kw, f"+9655{n:07d}") for n in range(0, 1_000, 2)}
        assert len(statements) == 1


class TestAppRole:
    @pytest.mark.parametrize(
        "statement",
        [
            "INSERT INTO registry_numbers (jurisdiction, phone) VALUES ('KW', '+96555123459')",
            "DELETE FROM registry_numbers WHERE jurisdiction = 'KW'",
            "UPDATE registry_loads SET count = 0",
            "TRUNCATE registry_numbers",
        ],
    )
    async def test_the_app_role_may_not_change_a_registry(
        self, registries: Registries, runtime: Runtime, statement: str
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, [KW_1])

        with pytest.raises(DBAPIError, match="permission denied"):
            async with unscoped_transaction(runtime.sessions) as session:
                await session.execute(text(statement))

        assert await registries.phones(kw) == [KW_1]
        load = await registries.load(kw)
        assert load is not None
        assert load.count == 1
