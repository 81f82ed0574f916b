"""Row-level security: a query that forgets its tenant filter still sees only its own tenant."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime

from ..factories import Factory


class TestRowLevelSecurity:
    async def test_bare_select_under_tenant_a_sees_none_of_tenant_b(self, factory: Factory, runtime: Runtime) -> None:
        a = await factory.tenant(name="A")
        b = await factory.tenant(name="B")
        a_user = await factory.user(a, Role.agent)
        b_user = await factory.user(b, Role.agent)

        async with tenant_transaction(runtime.sessions, a.id) as session:
            user_ids = set((await session.execute(text("SELECT id FROM users"))).scalars())
            tenant_ids = set((await session.execute(text("SELECT id FROM tenants"))).scalars())

        assert a_user.id in user_ids
        assert b_user.id not in user_ids
        assert tenant_ids == {a.id}

    async def test_unscoped_transaction_sees_no_tenant_rows(self, factory: Factory, runtime: Runtime) -> None:
        tenant = await factory.tenant()
        await factory.user(tenant)

        async with unscoped_transaction(runtime.sessions) as session:
            count = await session.scalar(text("SELECT count(*) FROM users"))

        assert count == 0

    async def test_app_connection_runs_as_a_role_that_cannot_bypass_rls(self, runtime: Runtime) -> None:
        async with unscoped_transaction(runtime.sessions) as session:
            row = (
                await session.execute(
                    text("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).one()

        assert row == ("engage_app", False, False)

    async def test_insert_for_another_tenant_is_refused_by_the_policy(self, factory: Factory, runtime: Runtime) -> None:
        a = await factory.tenant(name="A")
        b = await factory.tenant(name="B")

        with pytest.raises(DBAPIError, match="row-level security"):
            async with tenant_transaction(runtime.sessions, a.id) as session:
                await session.execute(
                    text(
                        "INSERT INTO teams (id, tenant_id, name, created_at) VALUES (gen_random_uuid(), :b, 'x', now())"
                    ),
                    {"b": b.id},
                )

        async with tenant_transaction(runtime.sessions, b.id) as session:
            assert await session.scalar(text("SELECT count(*) FROM teams")) == 0
