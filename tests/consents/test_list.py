"""GET /v1/consents: the tenant's records, newest recorded first, in cursor pages (limit default 50, max 200);
`phone` in any format the POST accepts; `active=true` keeps the records in effect now (granted, not expired,
not withdrawn, not ended by a later withdrawal of the same scope or of `all`). Every role may read."""

from __future__ import annotations

import httpx
import pytest

from engage.core.clock import ManualClock

from ..problems import assert_problem, error_fields
from .conftest import Record


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], query: str = "") -> list[str]:
    response = await client.get(f"/v1/consents{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


class TestList:
    async def test_the_list_is_a_cursor_page_of_records_newest_first(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        older = await record(phone="0509876543", source="web_form")
        newer = await record(phone="0501234567", source="ivr", scope="service", expires_at="2027-01-01T00:00:00Z")

        response = await client.get("/v1/consents", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"items": [newer, older], "total": 2, "next_cursor": None, "has_more": False}

    async def test_pages_follow_the_cursor(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        created = [(await record(source=f"s{n}"))["id"] for n in range(3)]

        first = (await client.get("/v1/consents?limit=2", headers=headers)).json()
        second = (await client.get(f"/v1/consents?limit=2&cursor={first['next_cursor']}", headers=headers)).json()

        assert [item["id"] for item in first["items"]] == created[:0:-1]
        assert (first["total"], first["has_more"]) == (3, True)
        assert [item["id"] for item in second["items"]] == created[:1]
        assert (second["has_more"], second["next_cursor"]) == (False, None)

    @pytest.mark.parametrize("typed", ["0509876543", "+971509876543", "00971 50 987 6543"])
    async def test_the_phone_filter_takes_any_format(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record, typed: str
    ) -> None:
        wanted = await record(phone="+971509876543")
        await record(phone="+971501234567")

        response = await client.get("/v1/consents", headers=headers, params={"phone": typed})

        assert [item["id"] for item in response.json()["items"]] == [wanted["id"]]

    async def test_an_invalid_phone_filter_is_400_naming_phone(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/consents?phone=12345", headers=headers)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"phone"}

    @pytest.mark.parametrize(
        ("query", "field"),
        [("?active=perhaps", "active"), ("?limit=0", "limit"), ("?limit=201", "limit")],
    )
    async def test_bad_query_parameters_are_400_naming_them(
        self, client: httpx.AsyncClient, headers: dict[str, str], query: str, field: str
    ) -> None:
        response = await client.get(f"/v1/consents{query}", headers=headers)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {field}

    async def test_a_garbled_cursor_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/consents?cursor=garbage", headers=headers)

        assert_problem(response, 400, "invalid-cursor")


class TestListAccess:
    async def test_another_tenants_records_never_show(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
        record: Record,
    ) -> None:
        ours = await record(phone="+971509876543")
        await record(as_=other_headers, phone="+971509876543")

        assert await _ids(client, headers) == [ours["id"]]
        assert await _ids(client, headers, "?phone=%2B971509876543") == [ours["id"]]
        assert await _ids(client, headers, "?active=true") == [ours["id"]]

    async def test_an_agent_may_list(
        self, client: httpx.AsyncClient, agent_headers: dict[str, str], record: Record
    ) -> None:
        created = await record()

        assert await _ids(client, agent_headers) == [created["id"]]

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/consents")

        assert_problem(response, 401, "unauthorized")


class TestActiveFilter:
    async def test_a_record_stops_being_active_at_the_instant_it_expires(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record, clock: ManualClock
    ) -> None:
        expiring = await record(expires_at="2026-06-12T11:00:00Z")
        lasting = await record()
        clock.advance(3599)
        assert await _ids(client, headers, "?active=true") == [lasting["id"], expiring["id"]]

        clock.advance(1)

        assert await _ids(client, headers, "?active=true") == [lasting["id"]]
        assert await _ids(client, headers, "?active=false") == [lasting["id"], expiring["id"]]

    async def test_a_withdrawn_record_is_not_active(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        withdrawn = await record(phone="+971509876543")
        kept = await record(phone="+971501234567")
        await client.post(f"/v1/consents/{withdrawn['id']}/withdraw", headers=headers)

        assert await _ids(client, headers, "?active=true") == [kept["id"]]
        assert await _ids(client, headers) == [kept["id"], withdrawn["id"]]

    async def test_a_withdrawal_ends_older_grants_of_its_scope_and_a_later_grant_counts_again(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record, clock: ManualClock
    ) -> None:
        oldest = await record(granted_at="2026-06-01T00:00:00Z")
        other_scope = await record(granted_at="2026-06-01T00:00:00Z", scope="service")
        withdrawn = await record(granted_at="2026-06-05T00:00:00Z")
        await client.post(f"/v1/consents/{withdrawn['id']}/withdraw", headers=headers)
        assert await _ids(client, headers, "?active=true") == [other_scope["id"]]
        assert oldest["withdrawn_at"] is None

        clock.advance(60)
        regranted = await record()

        assert await _ids(client, headers, "?active=true") == [regranted["id"], other_scope["id"]]

    async def test_withdrawing_an_all_record_ends_every_scope(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        await record(granted_at="2026-06-01T00:00:00Z", scope="service")
        everything = await record(granted_at="2026-06-02T00:00:00Z", scope="all")
        await client.post(f"/v1/consents/{everything['id']}/withdraw", headers=headers)

        assert await _ids(client, headers, "?active=true") == []

    async def test_a_withdrawal_of_another_number_changes_nothing(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        kept = await record(phone="+971509876543", granted_at="2026-06-01T00:00:00Z")
        elsewhere = await record(phone="+971501234567")
        await client.post(f"/v1/consents/{elsewhere['id']}/withdraw", headers=headers)

        assert await _ids(client, headers, "?active=true") == [kept["id"]]

    async def test_a_withdrawal_dated_ahead_takes_effect_only_when_it_comes(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record, clock: ManualClock
    ) -> None:
        created = await record(granted_at="2026-06-01T00:00:00Z")
        await client.post(
            f"/v1/consents/{created['id']}/withdraw", headers=headers, json={"withdrawn_at": "2026-06-12T10:04:00Z"}
        )
        assert await _ids(client, headers, "?active=true") == [created["id"]]

        clock.advance(240)

        assert await _ids(client, headers, "?active=true") == []

    async def test_a_grant_dated_ahead_is_active_only_from_its_instant(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record, clock: ManualClock
    ) -> None:
        ahead = await record(granted_at="2026-06-12T10:03:00Z")
        assert await _ids(client, headers, "?active=true") == []

        clock.advance(180)

        assert await _ids(client, headers, "?active=true") == [ahead["id"]]

    async def test_active_combines_with_the_phone_filter(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        wanted = await record(phone="+971509876543")
        await record(phone="+971501234567")

        assert await _ids(client, headers, "?active=true&phone=0509876543") == [wanted["id"]]
