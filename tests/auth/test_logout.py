"""POST /v1/auth/logout: revokes every refresh token of the presented token's login, and is idempotent."""

from __future__ import annotations

import httpx

from engage.core.clock import ManualClock
from engage.users.models import User

from ..problems import assert_problem
from .conftest import Db, login_ok, refresh


async def logout(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/logout", json={"refresh_token": refresh_token})


class TestLogout:
    async def test_logout_revokes_the_whole_family_of_the_presented_token(
        self, client: httpx.AsyncClient, db: Db, agent: User, clock: ManualClock
    ) -> None:
        first = (await login_ok(client, agent))["refresh_token"]
        current = (await refresh(client, first)).json()["refresh_token"]
        clock.advance(60)

        response = await logout(client, current)

        assert response.status_code == 204
        assert response.content == b""
        assert {token.revoked_at for token in await db.refresh_tokens(agent.tenant_id)} == {clock.now()}
        assert_problem(await refresh(client, current), 401, "invalid-refresh-token")

    async def test_logout_with_an_already_rotated_token_still_ends_the_session(
        self, client: httpx.AsyncClient, agent: User
    ) -> None:
        first = (await login_ok(client, agent))["refresh_token"]
        current = (await refresh(client, first)).json()["refresh_token"]

        assert (await logout(client, first)).status_code == 204

        assert_problem(await refresh(client, current), 401, "invalid-refresh-token")

    async def test_logout_twice_is_204_both_times_and_keeps_the_first_revocation_time(
        self, client: httpx.AsyncClient, db: Db, agent: User, clock: ManualClock
    ) -> None:
        token = (await login_ok(client, agent))["refresh_token"]
        first = await logout(client, token)
        revoked_at = clock.now()
        clock.advance(60)

        second = await logout(client, token)

        assert (first.status_code, second.status_code) == (204, 204)
        assert [row.revoked_at for row in await db.refresh_tokens(agent.tenant_id)] == [revoked_at]

    async def test_logout_with_an_unknown_token_is_204(self, client: httpx.AsyncClient) -> None:
        response = await logout(client, "not-a-refresh-token")

        assert response.status_code == 204

    async def test_logout_leaves_the_users_other_logins_alone(self, client: httpx.AsyncClient, agent: User) -> None:
        this_device = (await login_ok(client, agent))["refresh_token"]
        other_device = (await login_ok(client, agent))["refresh_token"]

        await logout(client, this_device)

        assert (await refresh(client, other_device)).status_code == 200
