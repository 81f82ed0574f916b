"""Cursor pagination (issue 2 point 10): the opaque cursor, the limit bounds, keyset pages on the UUIDv7 id,
and walks of a real list endpoint (/v1/users, /v1/teams) through `next_cursor`."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.pagination import InvalidCursor, InvalidLimit, PageParams, decode_cursor, encode_cursor, paginate
from engage.core.pagination import page_params as make_page_params
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.users.models import Team

from ..factories import Factory
from ..problems import assert_problem


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


GARBLED_CURSORS = [
    pytest.param("not a cursor!", id="random-text"),
    pytest.param("%%%%", id="punctuation"),
    pytest.param("abc", id="impossible-base64-length"),
    pytest.param(b64(b"\xff\xfe\x00junk\x81"), id="base64-of-binary-junk"),
    pytest.param(b64(b"hello world"), id="base64-of-non-json"),
    pytest.param(b64(b'{"identifier": "x"}'), id="base64-json-without-id"),
    pytest.param(b64(b"[]"), id="base64-json-array"),
    pytest.param(b64(b'"0191"'), id="base64-json-string"),
    pytest.param(b64(b'{"id": null}'), id="base64-json-null-id"),
    pytest.param(b64(b'{"id": "not-a-uuid"}'), id="base64-json-id-not-a-uuid"),
    pytest.param(b64(b'{"id": 12}'), id="base64-json-id-a-number"),
    pytest.param(b64(b"[" * 5000 + b"]" * 5000), id="base64-json-nested-beyond-the-recursion-limit"),
    pytest.param("A" * 10_000, id="overlong"),
]


async def walk(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    """Every page of `path`, following `next_cursor` until `has_more` is false."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = dict(params) | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, headers=headers, params=query)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if not pages[-1]["has_more"]:
            return pages
        assert len(pages) < 100, "the walk does not end"


class TestCursorEncoding:
    @pytest.mark.parametrize(
        "last_id",
        [new_id(), uuid.uuid4(), uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)],
        ids=["uuid7", "uuid4", "nil", "max"],
    )
    def test_decode_returns_the_id_that_was_encoded(self, last_id: uuid.UUID) -> None:
        assert decode_cursor(encode_cursor(last_id)) == last_id

    def test_cursor_uses_only_url_safe_characters_and_no_padding(self) -> None:
        cursors = [encode_cursor(new_id()) for _ in range(200)] + [encode_cursor(uuid.UUID(int=2**128 - 1))]

        for cursor in cursors:
            assert quote(cursor, safe="") == cursor
            assert "=" not in cursor

    def test_cursor_does_not_show_the_raw_id(self) -> None:
        last_id = new_id()

        assert str(last_id) not in encode_cursor(last_id)

    def test_a_padded_cursor_is_accepted_too(self) -> None:
        last_id = new_id()
        padded = encode_cursor(last_id) + "=" * (-len(encode_cursor(last_id)) % 4)

        assert decode_cursor(padded) == last_id

    @pytest.mark.parametrize("cursor", GARBLED_CURSORS)
    def test_a_garbled_cursor_is_refused_as_invalid_cursor(self, cursor: str) -> None:
        with pytest.raises(InvalidCursor) as raised:
            decode_cursor(cursor)

        assert raised.value.status == 400
        assert raised.value.slug == "invalid-cursor"


class TestPageParams:
    @pytest.mark.parametrize("limit", [0, -1, 201, 10_000])
    async def test_a_limit_outside_one_to_the_maximum_is_refused(self, limit: int) -> None:
        dependency = make_page_params(default=50, maximum=200)

        with pytest.raises(InvalidLimit) as raised:
            await dependency(limit=limit, cursor=None)

        assert raised.value.status == 400
        assert raised.value.extra["errors"] == [{"field": "limit", "message": "must be between 1 and 200"}]

    @pytest.mark.parametrize("limit", [1, 200])
    async def test_the_bounds_themselves_are_accepted(self, limit: int) -> None:
        assert await make_page_params(default=50, maximum=200)(limit=limit, cursor=None) == PageParams(
            limit=limit, after=None
        )

    async def test_the_cursor_becomes_the_id_to_continue_after(self) -> None:
        last_id = new_id()

        params = await make_page_params(default=50, maximum=200)(limit=10, cursor=encode_cursor(last_id))

        assert params == PageParams(limit=10, after=last_id)


class TestPaginate:
    async def test_pages_are_newest_first_and_each_row_appears_once(self, factory: Factory, runtime: Runtime) -> None:
        tenant = await factory.tenant()
        team_ids = [await factory.team(tenant) for _ in range(7)]

        seen: list[uuid.UUID] = []
        after: uuid.UUID | None = None
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            for expected_size, expected_more in [(3, True), (3, True), (1, False)]:
                page = await paginate(session, select(Team), Team.id, PageParams(limit=3, after=after))
                assert (len(page.rows), page.has_more, page.total) == (expected_size, expected_more, 7)
                seen += [team.id for team in page.rows]
                after = decode_cursor(page.next_cursor) if page.next_cursor else None

        assert seen == sorted(team_ids, reverse=True)
        assert after is None

    async def test_a_list_that_fills_its_last_page_exactly_ends_there(self, factory: Factory, runtime: Runtime) -> None:
        tenant = await factory.tenant()
        for _ in range(4):
            await factory.team(tenant)

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            first = await paginate(session, select(Team), Team.id, PageParams(limit=2, after=None))
            assert first.next_cursor is not None
            second = await paginate(
                session, select(Team), Team.id, PageParams(limit=2, after=decode_cursor(first.next_cursor))
            )

        assert (len(second.rows), second.has_more, second.next_cursor) == (2, False, None)

    async def test_an_empty_list_is_one_empty_last_page(self, factory: Factory, runtime: Runtime) -> None:
        tenant = await factory.tenant()

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            page = await paginate(session, select(Team), Team.id, PageParams(limit=10, after=None))

        assert (list(page.rows), page.total, page.has_more, page.next_cursor) == ([], 0, False, None)


class TestWalkingAListEndpoint:
    async def test_walking_53_users_ten_at_a_time_returns_each_exactly_once_newest_first(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        users = [await factory.user(tenant, Role.agent) for _ in range(52)]
        expected = sorted([str(u.id) for u in [admin, *users]], key=uuid.UUID, reverse=True)

        pages = await walk(client, "/v1/users", factory.headers(admin), limit="10")

        assert [len(page["items"]) for page in pages] == [10, 10, 10, 10, 10, 3]
        assert [item["id"] for page in pages for item in page["items"]] == expected
        assert {page["total"] for page in pages} == {53}
        assert all(page["has_more"] and page["next_cursor"] for page in pages[:-1])
        assert (pages[-1]["has_more"], pages[-1]["next_cursor"]) == (False, None)

    async def test_walking_53_teams_ten_at_a_time_returns_each_exactly_once_newest_first(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        team_ids = [str(await factory.team(tenant)) for _ in range(53)]

        pages = await walk(client, "/v1/teams", factory.headers(admin), limit="10")

        assert [len(page["items"]) for page in pages] == [10, 10, 10, 10, 10, 3]
        assert [item["id"] for page in pages for item in page["items"]] == sorted(team_ids, key=uuid.UUID, reverse=True)
        assert {page["total"] for page in pages} == {53}
        assert all(page["has_more"] and page["next_cursor"] for page in pages[:-1])
        assert (pages[-1]["has_more"], pages[-1]["next_cursor"]) == (False, None)

    async def test_a_filtered_walk_counts_and_returns_only_the_matching_rows(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        agents = [await factory.user(tenant, Role.agent) for _ in range(4)]
        for _ in range(2):
            await factory.user(tenant, Role.supervisor)

        pages = await walk(client, "/v1/users", factory.headers(admin), limit="3", role="agent")

        assert [item["id"] for page in pages for item in page["items"]] == sorted(
            [str(a.id) for a in agents], key=uuid.UUID, reverse=True
        )
        assert [len(page["items"]) for page in pages] == [3, 1]
        assert {page["total"] for page in pages} == {4}

    async def test_rows_inserted_during_a_walk_do_not_repeat_or_displace_items(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        headers = factory.headers(admin)
        for _ in range(11):
            await factory.team(tenant)
        before = await walk(client, "/v1/teams", headers, limit="100")
        original = [item["id"] for item in before[0]["items"]]

        first = (await client.get("/v1/teams", headers=headers, params={"limit": "4"})).json()
        inserted = [str(await factory.team(tenant)) for _ in range(3)]
        rest = await walk(client, "/v1/teams", headers, limit="4", cursor=first["next_cursor"])

        walked = [item["id"] for item in first["items"]] + [item["id"] for page in rest for item in page["items"]]
        assert walked == original
        assert not set(inserted) & set(walked)
        assert {page["total"] for page in rest} == {14}

    async def test_the_default_page_is_50_items(self, client: httpx.AsyncClient, factory: Factory) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        for _ in range(51):
            await factory.team(tenant)

        body = (await client.get("/v1/teams", headers=factory.headers(admin))).json()

        assert (len(body["items"]), body["total"], body["has_more"]) == (50, 51, True)

    async def test_a_limit_of_200_is_accepted(self, client: httpx.AsyncClient, factory: Factory) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)

        response = await client.get("/v1/users", headers=factory.headers(admin), params={"limit": "200"})

        assert response.status_code == 200
        assert response.json()["total"] == 1

    @pytest.mark.parametrize("path", ["/v1/users", "/v1/teams"])
    @pytest.mark.parametrize("limit", ["201", "0", "-5", "ten", "1.5"])
    async def test_a_limit_outside_one_to_200_or_not_an_integer_is_400_naming_limit(
        self, client: httpx.AsyncClient, factory: Factory, path: str, limit: str
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)

        response = await client.get(path, headers=factory.headers(admin), params={"limit": limit})

        body = assert_problem(response, 400, "validation-error")
        assert [error["field"] for error in body["errors"]] == ["limit"]

    @pytest.mark.parametrize("path", ["/v1/users", "/v1/teams"])
    @pytest.mark.parametrize("cursor", GARBLED_CURSORS)
    async def test_a_garbled_cursor_is_400_invalid_cursor(
        self, client: httpx.AsyncClient, factory: Factory, path: str, cursor: str
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)

        response = await client.get(path, headers=factory.headers(admin), params={"cursor": cursor})

        assert_problem(response, 400, "invalid-cursor")

    async def test_a_cursor_built_from_another_tenants_row_still_pages_only_the_callers_rows(
        self, client: httpx.AsyncClient, factory: Factory
    ) -> None:
        tenant = await factory.tenant()
        admin = await factory.user(tenant, Role.admin)
        other = await factory.tenant(name="Globex")
        other_admin = await factory.user(other, Role.admin)
        other_page = (await client.get("/v1/users", headers=factory.headers(other_admin), params={"limit": "1"})).json()
        their_cursor = encode_cursor(uuid.UUID(other_page["items"][0]["id"]))

        response = await client.get("/v1/users", headers=factory.headers(admin), params={"cursor": their_cursor})

        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [str(admin.id)]
        assert response.json()["total"] == 1
