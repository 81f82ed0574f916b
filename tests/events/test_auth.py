"""Who may open a stream, and with what: a bearer access token, or a stream token in the query (never an access
token there); a stream token opens streams and nothing else; whatever refuses an access token refuses a stream.
And what is refused before a stream opens: unknown types, a bad resume point, a process not serving events."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields, without_instance
from .conftest import Live, Record, Serve


async def _stream_token(live: Live, headers: dict[str, str]) -> str:
    async with live.client() as client:
        response = await client.post("/v1/events/stream-token", headers=headers)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def _get(live: Live, **kwargs: object) -> httpx.Response:
    """A request to the stream that is expected to be refused (so it has a whole body)."""
    async with live.client() as client:
        return await client.get("/v1/events/stream", **kwargs)  # type: ignore[arg-type]


class TestStreamToken:
    async def test_a_stream_token_is_valid_sixty_seconds_and_opens_a_stream_from_the_query(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        async with serve() as live, live.client() as client:
            response = await client.post("/v1/events/stream-token", headers=factory.headers(admin))
            body = response.json()
            async with live.stream(params={"token": body["token"]}) as sse:
                assert sse.response.status_code == 200

        assert response.status_code == 200
        assert set(body) == {"token", "expires_at", "expires_in"}
        assert body["expires_in"] == 60
        assert body["expires_at"] == (clock.now() + timedelta(seconds=60)).isoformat().replace("+00:00", "Z")

    async def test_a_stream_token_never_outlives_the_access_token_it_was_minted_from(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        headers = factory.headers(admin)
        clock.advance(factory.runtime.tokens.ttl_seconds - 20)
        async with serve() as live, live.client() as client:
            body = (await client.post("/v1/events/stream-token", headers=headers)).json()

        assert body["expires_in"] == 20

    async def test_an_expired_stream_token_is_a_401(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        async with serve() as live:
            token = await _stream_token(live, factory.headers(admin))
            clock.advance(60)

            response = await _get(live, params={"token": token})

        body = assert_problem(response, 401, "unauthorized")
        assert "stream token" in body["detail"]
        assert response.headers["WWW-Authenticate"] == "Bearer"

    async def test_a_stream_token_used_as_a_bearer_token_opens_nothing_else_nor_the_stream(
        self, serve: Serve, admin: User, factory: Factory
    ) -> None:
        async with serve() as live:
            token = await _stream_token(live, factory.headers(admin))
            bearer = {"Authorization": f"Bearer {token}"}
            async with live.client() as client:
                calls = await client.get("/v1/calls", headers=bearer)
                users = await client.get("/v1/users", headers=bearer)
                another_token = await client.post("/v1/events/stream-token", headers=bearer)
            stream = await _get(live, headers=bearer)

        for refused in (calls, users, another_token, stream):
            assert_problem(refused, 401, "unauthorized")

    async def test_an_access_token_in_the_query_string_is_a_401(
        self, serve: Serve, admin: User, factory: Factory
    ) -> None:
        async with serve() as live:
            response = await _get(live, params={"token": factory.token(admin)})

        assert_problem(response, 401, "unauthorized")

    async def test_a_forged_stream_token_is_a_401(self, serve: Serve) -> None:
        async with serve() as live:
            response = await _get(live, params={"token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."})

        assert_problem(response, 401, "unauthorized")

    async def test_minting_a_stream_token_needs_an_access_token(self, serve: Serve) -> None:
        async with serve() as live, live.client() as client:
            response = await client.post("/v1/events/stream-token")

        assert_problem(response, 401, "unauthorized")


class TestWhoMayStream:
    async def test_without_any_token_the_stream_is_a_401(self, serve: Serve) -> None:
        async with serve() as live:
            response = await _get(live)

        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"

    async def test_an_expired_access_token_is_a_401(
        self, serve: Serve, admin: User, factory: Factory, clock: ManualClock
    ) -> None:
        headers = factory.headers(admin)
        clock.advance(factory.runtime.tokens.ttl_seconds)
        async with serve() as live:
            response = await _get(live, headers=headers)

        assert_problem(response, 401, "unauthorized")

    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_may_open_a_stream(
        self, serve: Serve, factory: Factory, tenant: Tenant, role: Role
    ) -> None:
        user = await factory.user(tenant, role)
        async with serve() as live, live.stream(headers=factory.headers(user)) as sse:
            assert sse.response.status_code == 200

    async def test_a_deactivated_user_can_neither_open_a_stream_nor_use_a_stream_token_minted_before(
        self, serve: Serve, factory: Factory, tenant: Tenant, admin: User
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        headers = factory.headers(agent)
        async with serve() as live:
            token = await _stream_token(live, headers)
            async with live.client() as client:
                deactivated = await client.patch(
                    f"/v1/users/{agent.id}", json={"is_active": False}, headers=factory.headers(admin)
                )
                assert deactivated.status_code == 200, deactivated.text
            by_header = await _get(live, headers=headers)
            by_token = await _get(live, params={"token": token})
            minting = await _stream_token_response(live, headers)

        for refused in (by_header, by_token, minting):
            body = assert_problem(refused, 401, "unauthorized")
            assert "no longer applies" in body["detail"]


async def _stream_token_response(live: Live, headers: dict[str, str]) -> httpx.Response:
    async with live.client() as client:
        return await client.post("/v1/events/stream-token", headers=headers)


class TestRefusedBeforeOpening:
    @pytest.mark.parametrize("types", ["call.exploded", "", "call.*,,dnc.added", "telephony.*", "*", "call"])
    async def test_an_unknown_or_empty_type_is_a_400_naming_types(
        self, serve: Serve, admin: User, factory: Factory, types: str
    ) -> None:
        async with serve() as live:
            response = await _get(live, headers=factory.headers(admin), params={"types": types})

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"types"}
        assert body["detail"].startswith("types: ")

    async def test_a_malformed_unknown_or_other_tenants_last_event_id_gets_one_and_the_same_400(
        self, serve: Serve, record: Record, admin: User, other_tenant: Tenant, factory: Factory
    ) -> None:
        theirs = await record(other_tenant, "call.completed")
        headers = factory.headers(admin)
        async with serve() as live:
            malformed = await _get(live, headers={**headers, "Last-Event-ID": "not-an-id"})
            unknown = await _get(live, headers={**headers, "Last-Event-ID": "01a24f44-e79a-72d5-bf78-f76b3097a4dc"})
            other_tenants = await _get(live, headers={**headers, "Last-Event-ID": str(theirs.id)})
            by_param = await _get(live, headers=headers, params={"last_event_id": str(theirs.id)})

        bodies = [
            assert_problem(r, 400, "invalid-last-event-id") for r in (malformed, unknown, other_tenants, by_param)
        ]
        assert len({str(sorted(without_instance(body).items())) for body in bodies}) == 1

    async def test_a_process_whose_hub_is_not_running_answers_503_rather_than_a_silent_stream(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        # The ASGI test client runs no lifespan, so this app's hub was never started.
        response = await client.get("/v1/events/stream", headers=headers)

        body = assert_problem(response, 503, "event-stream-unavailable")
        assert "reconnect" in body["detail"]
