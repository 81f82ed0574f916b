"""POST /v1/auth/refresh: a refresh token buys one new access token and one new refresh token; a used one
coming back revokes its whole family; tokens die with their expiry, their user's deactivation or a password
change, and are stored only as their SHA-256."""

from __future__ import annotations

import asyncio
import hashlib

import httpx

from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Db, login_ok, refresh
from .test_login import decode


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestRefresh:
    async def test_refresh_returns_a_new_access_token_and_a_rotated_refresh_token(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        session = await login_ok(client, agent)
        clock.advance(3600)

        response = await refresh(client, session["refresh_token"])

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 86400
        assert body["refresh_token"] != session["refresh_token"]
        claims = decode(runtime, body["access_token"])
        assert claims["sub"] == str(agent.id)
        assert claims["tenant_id"] == str(agent.tenant_id)
        assert claims["role"] == "agent"
        assert claims["iat"] == int(clock.now().timestamp())
        assert claims["exp"] == int(clock.now().timestamp()) + 86400
        assert claims["jti"] != decode(runtime, session["access_token"])["jti"]

    async def test_refreshed_access_token_is_accepted_by_the_api(
        self, client: httpx.AsyncClient, admin: User, clock: ManualClock
    ) -> None:
        session = await login_ok(client, admin)
        clock.advance(86400)

        body = (await refresh(client, session["refresh_token"])).json()

        assert (await client.get("/v1/teams", headers=bearer(session["access_token"]))).status_code == 401
        assert (await client.get("/v1/teams", headers=bearer(body["access_token"]))).status_code == 200

    async def test_each_rotated_refresh_token_works_once_in_turn(self, client: httpx.AsyncClient, agent: User) -> None:
        token = (await login_ok(client, agent))["refresh_token"]

        for _ in range(3):
            response = await refresh(client, token)
            assert response.status_code == 200
            token = response.json()["refresh_token"]

        assert (await refresh(client, token)).status_code == 200

    async def test_rotation_marks_the_presented_token_used_and_keeps_the_family(
        self, client: httpx.AsyncClient, db: Db, agent: User, clock: ManualClock
    ) -> None:
        session = await login_ok(client, agent)
        clock.advance(60)

        await refresh(client, session["refresh_token"])

        first, second = await db.refresh_tokens(agent.tenant_id)
        assert first.used_at == clock.now()
        assert first.revoked_at is None
        assert second.family_id == first.family_id
        assert second.issued_at == clock.now()
        assert second.used_at is None

    async def test_reusing_a_rotated_refresh_token_is_refused_and_revokes_its_whole_family(
        self, client: httpx.AsyncClient, db: Db, agent: User, clock: ManualClock
    ) -> None:
        stolen = (await login_ok(client, agent))["refresh_token"]
        rotated = (await refresh(client, stolen)).json()["refresh_token"]
        clock.advance(60)

        reused = await refresh(client, stolen)

        body = assert_problem(reused, 401, "invalid-refresh-token")
        assert body["detail"] == "The refresh token was already used; every session from that login is revoked."
        assert {token.revoked_at for token in await db.refresh_tokens(agent.tenant_id)} == {clock.now()}
        assert_problem(await refresh(client, rotated), 401, "invalid-refresh-token")

    async def test_of_two_concurrent_refreshes_with_one_token_exactly_one_succeeds(
        self, client: httpx.AsyncClient, agent: User
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]

        replies = await asyncio.gather(*(refresh(client, token) for _ in range(4)))

        assert sorted(reply.status_code for reply in replies) == [200, 401, 401, 401]

    async def test_reuse_revokes_only_that_login_and_not_the_users_other_sessions(
        self, client: httpx.AsyncClient, agent: User
    ) -> None:
        stolen = (await login_ok(client, agent))["refresh_token"]
        other_device = (await login_ok(client, agent))["refresh_token"]
        await refresh(client, stolen)

        await refresh(client, stolen)

        assert (await refresh(client, other_device)).status_code == 200

    async def test_expired_refresh_token_is_refused(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        clock.advance(runtime.settings.jwt.refresh_ttl_seconds)

        response = await refresh(client, token)

        body = assert_problem(response, 401, "invalid-refresh-token")
        assert body["detail"] == "The refresh token is expired or revoked; log in again."

    async def test_refresh_token_works_until_its_last_second(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        clock.advance(runtime.settings.jwt.refresh_ttl_seconds - 1)

        response = await refresh(client, token)

        assert response.status_code == 200

    async def test_unknown_refresh_token_is_refused(self, client: httpx.AsyncClient, agent: User) -> None:
        await login_ok(client, agent)

        response = await refresh(client, "not-a-refresh-token")

        body = assert_problem(response, 401, "invalid-refresh-token")
        assert body["detail"] == "The refresh token is not valid; log in again."

    async def test_an_access_token_is_not_a_refresh_token(self, client: httpx.AsyncClient, agent: User) -> None:
        session = await login_ok(client, agent)

        response = await refresh(client, session["access_token"])

        assert_problem(response, 401, "invalid-refresh-token")

    async def test_refresh_for_a_deactivated_user_is_refused(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        deactivated = await client.patch(
            f"/v1/users/{agent.id}", json={"is_active": False}, headers=factory.headers(admin)
        )
        assert deactivated.status_code == 200

        response = await refresh(client, token)

        assert_problem(response, 401, "invalid-refresh-token")

    async def test_reactivating_a_user_does_not_revive_refresh_tokens_from_before_the_deactivation(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User, clock: ManualClock
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        clock.advance(60)
        admin_headers = factory.headers(admin)
        assert (
            await client.patch(f"/v1/users/{agent.id}", json={"is_active": False}, headers=admin_headers)
        ).is_success
        assert (await client.patch(f"/v1/users/{agent.id}", json={"is_active": True}, headers=admin_headers)).is_success

        response = await refresh(client, token)

        assert_problem(response, 401, "invalid-refresh-token")
        clock.advance(60)
        assert (await refresh(client, (await login_ok(client, agent))["refresh_token"])).status_code == 200

    async def test_password_change_by_an_admin_ends_refresh_tokens_issued_before_it(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User, clock: ManualClock
    ) -> None:
        before = (await login_ok(client, agent))["refresh_token"]
        rotated_before = (await refresh(client, (await login_ok(client, agent))["refresh_token"])).json()
        clock.advance(60)
        changed = await client.patch(
            f"/v1/users/{agent.id}", json={"password": "a brand new passphrase"}, headers=factory.headers(admin)
        )
        assert changed.status_code == 200

        assert_problem(await refresh(client, before), 401, "invalid-refresh-token")
        assert_problem(await refresh(client, rotated_before["refresh_token"]), 401, "invalid-refresh-token")

    async def test_login_with_the_new_password_after_a_change_gets_a_working_refresh_token(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User, clock: ManualClock
    ) -> None:
        clock.advance(60)
        await client.patch(
            f"/v1/users/{agent.id}", json={"password": "a brand new passphrase"}, headers=factory.headers(admin)
        )

        token = (await login_ok(client, agent, "a brand new passphrase"))["refresh_token"]

        assert (await refresh(client, token)).status_code == 200

    async def test_refreshed_access_token_carries_the_users_current_role(
        self, client: httpx.AsyncClient, runtime: Runtime, factory: Factory, admin: User, agent: User
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        await client.patch(f"/v1/users/{agent.id}", json={"role": "supervisor"}, headers=factory.headers(admin))

        body = (await refresh(client, token)).json()

        assert decode(runtime, body["access_token"])["role"] == "supervisor"

    async def test_refresh_tokens_are_stored_only_as_their_sha256(
        self, client: httpx.AsyncClient, db: Db, agent: User
    ) -> None:
        first = (await login_ok(client, agent))["refresh_token"]
        second = (await refresh(client, first)).json()["refresh_token"]

        stored = await db.refresh_tokens(agent.tenant_id)

        assert {row.token_hash for row in stored} == {
            hashlib.sha256(first.encode()).digest(),
            hashlib.sha256(second.encode()).digest(),
        }
        assert await db.refresh_rows_containing(agent.tenant_id, first) == 0
        assert await db.refresh_rows_containing(agent.tenant_id, second) == 0
