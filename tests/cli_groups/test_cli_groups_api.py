"""/v1/cli-groups: caller-ID numbers a tenant owns, grouped; stored E.164, read in the tenant's country when
local, unique within the tenant (DESIGN.md §2, issue 3 point 1)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db, Groups

GROUP_FIELDS = {"id", "name", "numbers", "created_at"}

JSON = {"Content-Type": "application/json"}


class TestCreateCliGroup:
    async def test_admin_creates_a_group_and_gets_201_with_its_numbers_in_e164(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], clock: ManualClock, db: Db
    ) -> None:
        response = await client.post(
            "/v1/cli-groups",
            headers=headers,
            json={"name": "Dubai landlines", "numbers": ["+97142345678", "04 234 5679", "00971501234567"]},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == GROUP_FIELDS
        assert uuid.UUID(body["id"]).version == 7
        assert body["name"] == "Dubai landlines"
        assert body["numbers"] == ["+97142345678", "+97142345679", "+971501234567"]
        assert datetime.fromisoformat(body["created_at"]) == clock.now()
        stored = await db.groups(tenant.id)
        assert [(str(g.id), g.tenant_id, g.name) for g in stored] == [(body["id"], tenant.id, "Dubai landlines")]
        assert await db.numbers(tenant.id) == ["+97142345678", "+97142345679", "+971501234567"]

    @pytest.mark.parametrize(
        ("country", "timezone", "local", "e164"),
        [
            pytest.param("AE", "Asia/Dubai", "0501234567", "+971501234567", id="AE"),
            pytest.param("SA", "Asia/Riyadh", "0501234567", "+966501234567", id="SA"),
            pytest.param("EG", "Africa/Cairo", "01001234567", "+201001234567", id="EG"),
            pytest.param("JO", "Asia/Amman", "0791234567", "+962791234567", id="JO"),
        ],
    )
    async def test_a_local_number_is_read_in_the_tenants_country(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        groups: Groups,
        country: str,
        timezone: str,
        local: str,
        e164: str,
    ) -> None:
        tenant = await groups.tenant_in(country, timezone)
        admin = await factory.user(tenant, Role.admin)

        response = await client.post(
            "/v1/cli-groups", headers=factory.headers(admin), json={"name": "Local", "numbers": [local]}
        )

        assert response.status_code == 201, response.text
        assert response.json()["numbers"] == [e164]

    async def test_invalid_numbers_are_a_400_naming_each_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/cli-groups",
            headers=headers,
            json={"name": "Mixed", "numbers": ["+97142345678", "12345", "+9714234", "not a number"]},
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"numbers.1", "numbers.2", "numbers.3"}
        for raw in ("12345", "+9714234", "not a number"):
            assert raw in body["detail"]
        assert await db.groups(tenant.id) == []
        assert await db.numbers(tenant.id) == []

    async def test_the_same_number_twice_in_one_request_is_a_400_naming_the_repeat(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/cli-groups", headers=headers, json={"name": "Twice", "numbers": ["+97142345678", "042345678"]}
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"numbers.1"}
        assert await db.groups(tenant.id) == []

    async def test_a_number_already_in_another_group_of_the_tenant_is_409_naming_it_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], groups: Groups, db: Db
    ) -> None:
        existing = await groups.create(tenant, "+97142345678", name="First")

        response = await client.post(
            "/v1/cli-groups", headers=headers, json={"name": "Second", "numbers": ["+97142345679", "042345678"]}
        )

        body = assert_problem(response, 409, "cli-number-taken")
        assert body["numbers"] == ["+97142345678"]
        assert "+97142345678" in body["detail"]
        assert [g.id for g in await db.groups(tenant.id)] == [existing.id]
        assert await db.numbers(tenant.id) == ["+97142345678"]

    async def test_the_same_number_in_two_tenants_is_allowed(
        self, client: httpx.AsyncClient, other_tenant: Tenant, headers: dict[str, str], groups: Groups
    ) -> None:
        await groups.create(other_tenant, "+97142345678")

        response = await client.post(
            "/v1/cli-groups", headers=headers, json={"name": "Mine", "numbers": ["+97142345678"]}
        )

        assert response.status_code == 201, response.text

    async def test_a_name_already_used_in_the_tenant_is_409_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], groups: Groups, db: Db
    ) -> None:
        await groups.create(tenant, "+97142345678", name="Dubai")

        response = await client.post(
            "/v1/cli-groups", headers=headers, json={"name": " Dubai ", "numbers": ["+97142345679"]}
        )

        assert_problem(response, 409, "cli-group-name-taken")
        assert [g.name for g in await db.groups(tenant.id)] == ["Dubai"]
        assert await db.numbers(tenant.id) == ["+97142345678"]


BAD_BODIES = [
    pytest.param({"numbers": ["+97142345678"]}, "name", id="missing-name"),
    pytest.param({"name": "  ", "numbers": ["+97142345678"]}, "name", id="blank-name"),
    pytest.param({"name": "x" * 201, "numbers": ["+97142345678"]}, "name", id="overlong-name"),
    pytest.param({"name": "G"}, "numbers", id="missing-numbers"),
    pytest.param({"name": "G", "numbers": []}, "numbers", id="no-numbers"),
    pytest.param({"name": "G", "numbers": "+97142345678"}, "numbers", id="numbers-not-a-list"),
    pytest.param({"name": "G", "numbers": [97142345678]}, "numbers.0", id="number-not-a-string"),
    pytest.param({"name": "G", "numbers": ["+9" * 30]}, "numbers.0", id="overlong-number"),
    pytest.param({"name": "G", "numbers": ["+97142345678"] * 501}, "numbers", id="too-many-numbers"),
    pytest.param({"name": "G", "numbers": ["+97142345678"], "colour": "red"}, "colour", id="extra-field"),
]


class TestCreateCliGroupInput:
    @pytest.mark.parametrize(("body", "field"), BAD_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post("/v1/cli-groups", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await db.groups(tenant.id) == []

    @pytest.mark.parametrize("content", [b'{"name": ', b"[1]", b"null"])
    async def test_malformed_json_is_400_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        response = await client.post("/v1/cli-groups", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.groups(tenant.id) == []

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/cli-groups",
            headers=headers,
            json={"name": "G", "numbers": ["+97142345678"], "tenant_id": str(other_tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.groups(tenant.id) == []
        assert await db.groups(other_tenant.id) == []


class TestListCliGroups:
    async def test_lists_the_tenants_groups_only_newest_first_with_their_numbers(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        groups: Groups,
    ) -> None:
        first = await groups.create(tenant, "+97142345679", "+97142345678", name="First")
        second = await groups.create(tenant, "+971501234567", name="Second")
        await groups.create(other_tenant, "+97142345670", name="Theirs")

        response = await client.get("/v1/cli-groups", headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["total"], body["has_more"], body["next_cursor"]) == (2, False, None)
        assert [item["id"] for item in body["items"]] == [str(second.id), str(first.id)]
        assert all(set(item) == GROUP_FIELDS for item in body["items"])
        assert body["items"][1]["numbers"] == ["+97142345678", "+97142345679"]

    async def test_pages_follow_the_cursor_to_the_end(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], groups: Groups
    ) -> None:
        created = [(await groups.create(tenant, f"+9714234567{n}")).id for n in range(3)]

        first = (await client.get("/v1/cli-groups", headers=headers, params={"limit": 2})).json()
        second = (
            await client.get("/v1/cli-groups", headers=headers, params={"limit": 2, "cursor": first["next_cursor"]})
        ).json()

        assert [i["id"] for i in first["items"]] == [str(created[2]), str(created[1])]
        assert (first["total"], first["has_more"]) == (3, True)
        assert [i["id"] for i in second["items"]] == [str(created[0])]
        assert (second["has_more"], second["next_cursor"]) == (False, None)

    async def test_a_limit_above_200_is_400(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get("/v1/cli-groups", headers=headers, params={"limit": 201})

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"limit"}


class TestGetCliGroup:
    async def test_returns_the_group_with_its_numbers(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], groups: Groups
    ) -> None:
        group = await groups.create(tenant, "+97142345678", "+971501234567", name="Dubai")

        response = await client.get(f"/v1/cli-groups/{group.id}", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": str(group.id),
            "name": "Dubai",
            "numbers": ["+97142345678", "+971501234567"],
            "created_at": group.created_at.isoformat().replace("+00:00", "Z"),
        }

    async def test_a_group_of_another_tenant_is_404_and_shows_nothing_of_it(
        self, client: httpx.AsyncClient, other_tenant: Tenant, headers: dict[str, str], groups: Groups
    ) -> None:
        theirs = await groups.create(other_tenant, "+97142345678", name="Their secret group")

        response = await client.get(f"/v1/cli-groups/{theirs.id}", headers=headers)

        assert_problem(response, 404, "cli-group-not-found")
        assert "Their secret group" not in response.text
        assert "+97142345678" not in response.text

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get(f"/v1/cli-groups/{uuid.uuid4()}", headers=headers)

        assert_problem(response, 404, "cli-group-not-found")

    async def test_a_non_uuid_id_is_400_naming_cli_group_id(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.get("/v1/cli-groups/not-a-uuid", headers=headers)

        assert error_fields(assert_problem(response, 400, "validation-error")) == {"cli_group_id"}


class TestCliGroupRoles:
    async def test_a_supervisor_reads_groups_but_cannot_create_one(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, groups: Groups, db: Db
    ) -> None:
        group = await groups.create(tenant, "+97142345678")
        supervisor = factory.headers(await factory.user(tenant, Role.supervisor))

        listed = await client.get("/v1/cli-groups", headers=supervisor)
        read = await client.get(f"/v1/cli-groups/{group.id}", headers=supervisor)
        created = await client.post(
            "/v1/cli-groups", headers=supervisor, json={"name": "Mine", "numbers": ["+97142345679"]}
        )

        assert [item["id"] for item in listed.json()["items"]] == [str(group.id)]
        assert read.status_code == 200
        body = assert_problem(created, 403, "forbidden")
        assert body["detail"] == "Your role (supervisor) does not allow cli_groups:write."
        assert [g.id for g in await db.groups(tenant.id)] == [group.id]

    @pytest.mark.parametrize(
        ("method", "path"), [("GET", "/v1/cli-groups"), ("GET", "/v1/cli-groups/{id}"), ("POST", "/v1/cli-groups")]
    )
    async def test_an_agent_may_not_use_cli_groups(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        groups: Groups,
        db: Db,
        method: str,
        path: str,
    ) -> None:
        group = await groups.create(tenant, "+97142345678")
        agent = await factory.user(tenant, Role.agent)

        response = await client.request(
            method,
            path.format(id=group.id),
            headers=factory.headers(agent),
            json={"name": "Mine", "numbers": ["+97142345679"]} if method == "POST" else None,
        )

        assert_problem(response, 403, "forbidden")
        assert [g.id for g in await db.groups(tenant.id)] == [group.id]

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/cli-groups"), 401, "unauthorized")
