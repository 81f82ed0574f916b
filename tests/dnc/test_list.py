"""GET /v1/dnc: the tenant's own list in the seed's item shape, newest first, in cursor pages (limit default
50, max 200), optionally one number in any accepted format (issue 3 point 7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dnc import service
from engage.dnc.schemas import DncSource
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields

ITEM_FIELDS = {"id", "phone", "source", "reason", "added_by", "added_at"}


async def _add(client: httpx.AsyncClient, headers: dict[str, str], *phones: str) -> None:
    response = await client.post("/v1/dnc", headers=headers, json={"phones": list(phones)})
    assert response.status_code == 201, response.text


class TestListShape:
    async def test_an_entry_an_agent_disposition_added_reads_as_the_seeds_item(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        clock: ManualClock,
    ) -> None:
        layla = await factory.user(tenant, Role.agent, full_name="Layla Ahmed")
        seed_clock = ManualClock(datetime(2026, 6, 10, 14, 22, tzinfo=UTC))
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            result = await service.add_numbers(
                session,
                tenant.id,
                ["+971509876543"],
                source=DncSource.agent_disposition,
                reason="Customer requested no contact",
                added_by=layla.id,
                clock=seed_clock,
            )

        response = await client.get("/v1/dnc?limit=50", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "items": [
                {
                    "id": str(result.added[0].id),
                    "phone": "+971509876543",
                    "source": "agent_disposition",
                    "reason": "Customer requested no contact",
                    "added_by": "Layla Ahmed",
                    "added_at": "2026-06-10T14:22:00Z",
                }
            ],
            "total": 1,
            "next_cursor": None,
            "has_more": False,
        }

    async def test_a_number_added_through_the_api_shows_source_manual_and_the_callers_name(
        self, client: httpx.AsyncClient, supervisor: User, supervisor_headers: dict[str, str], clock: ManualClock
    ) -> None:
        await client.post("/v1/dnc", headers=supervisor_headers, json={"phones": ["0509876543"], "reason": "Asked"})

        [item] = (await client.get("/v1/dnc", headers=supervisor_headers)).json()["items"]

        assert set(item) == ITEM_FIELDS
        assert uuid.UUID(item["id"]).version == 7
        assert (item["phone"], item["source"], item["reason"]) == ("+971509876543", "manual", "Asked")
        assert item["added_by"] == "Sara Nasser"
        assert datetime.fromisoformat(item["added_at"]) == clock.now()
        assert item["added_at"].endswith("Z")

    async def test_added_by_is_null_when_no_user_added_the_number(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, headers: dict[str, str], clock: ManualClock
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await service.add_numbers(
                session, tenant.id, ["+971509876543"], source=DncSource.import_, reason=None, added_by=None, clock=clock
            )

        [item] = (await client.get("/v1/dnc", headers=headers)).json()["items"]

        assert (item["source"], item["reason"], item["added_by"]) == ("import", None, None)

    async def test_an_empty_list_is_an_empty_page(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/dnc", headers=headers)

        assert response.json() == {"items": [], "total": 0, "next_cursor": None, "has_more": False}


class TestPagination:
    async def test_pages_walk_the_whole_list_newest_first_without_repeats(
        self, client: httpx.AsyncClient, headers: dict[str, str], clock: ManualClock
    ) -> None:
        for n in range(5):
            await _add(client, headers, f"+9715098765{n:02d}")
            clock.advance(1)

        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            body = (await client.get("/v1/dnc", headers=headers, params=params)).json()
            pages += 1
            assert body["total"] == 5
            seen.extend(item["phone"] for item in body["items"])
            if not body["has_more"]:
                assert body["next_cursor"] is None
                break
            cursor = body["next_cursor"]

        assert pages == 3
        assert seen == [f"+9715098765{n:02d}" for n in reversed(range(5))]

    async def test_the_default_page_is_50(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        await _add(client, headers, *[f"+97150{n:07d}" for n in range(51)])

        body = (await client.get("/v1/dnc", headers=headers)).json()

        assert (len(body["items"]), body["total"], body["has_more"]) == (50, 51, True)

    async def test_a_limit_of_200_is_accepted(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/dnc?limit=200", headers=headers)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("limit", [0, 201])
    async def test_a_limit_outside_1_to_200_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], limit: int
    ) -> None:
        response = await client.get(f"/v1/dnc?limit={limit}", headers=headers)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"limit"}

    async def test_a_garbled_cursor_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/dnc?cursor=not-a-cursor", headers=headers)

        assert_problem(response, 400, "invalid-cursor")


class TestPhoneFilter:
    @pytest.mark.parametrize("query", ["+971509876543", "0509876543", "00971 50 987 6543"])
    async def test_the_phone_filter_finds_the_number_in_any_accepted_format(
        self, client: httpx.AsyncClient, headers: dict[str, str], query: str
    ) -> None:
        await _add(client, headers, "+971509876543", "+971501234567")

        body = (await client.get("/v1/dnc", headers=headers, params={"phone": query})).json()

        assert [item["phone"] for item in body["items"]] == ["+971509876543"]
        assert body["total"] == 1

    async def test_the_phone_filter_of_an_unlisted_number_is_an_empty_page(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        await _add(client, headers, "+971509876543")

        body = (await client.get("/v1/dnc", headers=headers, params={"phone": "+971501234567"})).json()

        assert (body["items"], body["total"]) == ([], 0)

    async def test_an_invalid_phone_filter_is_400_naming_phone(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/dnc", headers=headers, params={"phone": "12345"})

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"phone"}


class TestTenantsAndRoles:
    async def test_the_list_never_shows_another_tenants_entries(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
    ) -> None:
        await _add(client, headers, "+971509876543")
        await _add(client, other_headers, "+971501234567", "+971509876543")

        mine = (await client.get("/v1/dnc", headers=headers)).json()
        filtered = (await client.get("/v1/dnc", headers=headers, params={"phone": "+971501234567"})).json()

        assert [item["phone"] for item in mine["items"]] == ["+971509876543"]
        assert mine["total"] == 1
        assert (filtered["items"], filtered["total"]) == ([], 0)

    async def test_a_supervisor_may_read_the_list(
        self, client: httpx.AsyncClient, supervisor_headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/dnc", headers=supervisor_headers)

        assert response.status_code == 200, response.text

    async def test_an_agent_may_not_read_the_list(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.get("/v1/dnc", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")

    async def test_reading_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/dnc"), 401, "unauthorized")
