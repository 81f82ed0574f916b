"""Bad input on every write endpoint of users and teams: a 400 problem naming the field (a 422 for a body
carrying `tenant_id`), and nothing written (issue 2 point 9)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

VALID_USER: dict[str, Any] = {
    "email": "new.agent@acme.test",
    "password": "a long enough secret",
    "full_name": "Omar Haddad",
    "role": "agent",
}


def without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != field}


BAD_USER_BODIES = [
    pytest.param(without(VALID_USER, "email"), "email", id="missing-email"),
    pytest.param(without(VALID_USER, "password"), "password", id="missing-password"),
    pytest.param(without(VALID_USER, "full_name"), "full_name", id="missing-full-name"),
    pytest.param(without(VALID_USER, "role"), "role", id="missing-role"),
    pytest.param(VALID_USER | {"full_name": 123}, "full_name", id="full-name-not-a-string"),
    pytest.param(VALID_USER | {"full_name": "   "}, "full_name", id="blank-full-name"),
    pytest.param(VALID_USER | {"email": "not-an-email"}, "email", id="bad-email"),
    pytest.param(VALID_USER | {"email": "two@@acme.test"}, "email", id="email-with-two-ats"),
    pytest.param(VALID_USER | {"email": ["a@acme.test"]}, "email", id="email-not-a-string"),
    pytest.param(VALID_USER | {"password": "short"}, "password", id="short-password"),
    pytest.param(VALID_USER | {"password": "x" * 257}, "password", id="overlong-password"),
    pytest.param(VALID_USER | {"role": "owner"}, "role", id="unknown-role"),
    pytest.param(VALID_USER | {"sip_user": "has space"}, "sip_user", id="bad-sip-user"),
    pytest.param(VALID_USER | {"team_id": "not-a-uuid"}, "team_id", id="team-id-not-a-uuid"),
    pytest.param(VALID_USER | {"nickname": "Om"}, "nickname", id="extra-field"),
    pytest.param(VALID_USER | {"is_active": False}, "is_active", id="is-active-not-settable-on-create"),
]

BAD_UPDATE_BODIES = [
    pytest.param({"full_name": 123}, "full_name", id="full-name-not-a-string"),
    pytest.param({"full_name": ""}, "full_name", id="empty-full-name"),
    pytest.param({"role": "owner"}, "role", id="unknown-role"),
    pytest.param({"password": "short"}, "password", id="short-password"),
    pytest.param({"is_active": "maybe"}, "is_active", id="is-active-not-a-boolean"),
    pytest.param({"sip_user": "has space"}, "sip_user", id="bad-sip-user"),
    pytest.param({"team_id": "not-a-uuid"}, "team_id", id="team-id-not-a-uuid"),
    pytest.param({"email": "changed@acme.test"}, "email", id="email-is-not-patchable"),
    pytest.param({"nickname": "Om"}, "nickname", id="extra-field"),
]

BAD_TEAM_BODIES = [
    pytest.param({}, "name", id="missing-name"),
    pytest.param({"name": 123}, "name", id="name-not-a-string"),
    pytest.param({"name": "   "}, "name", id="blank-name"),
    pytest.param({"name": "x" * 201}, "name", id="overlong-name"),
    pytest.param({"name": "Sales", "colour": "red"}, "colour", id="extra-field"),
]

MALFORMED_BODIES = [
    pytest.param(b'{"email": ', id="truncated-json"),
    pytest.param(b"not json at all", id="not-json"),
    pytest.param(b"[1, 2]", id="array"),
    pytest.param(b'"a string"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
]

JSON = {"Content-Type": "application/json"}


class TestCreateUserInput:
    @pytest.mark.parametrize(("body", "field"), BAD_USER_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert field in problem["detail"]
        assert await db.count_users(tenant.id) == before

    @pytest.mark.parametrize("content", MALFORMED_BODIES)
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.count_users(tenant.id) == before

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        before = (await db.count_users(tenant.id), await db.count_users(other_tenant.id))

        response = await client.post(
            "/v1/users", headers=headers, json=VALID_USER | {"tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert (await db.count_users(tenant.id), await db.count_users(other_tenant.id)) == before

    async def test_a_body_carrying_its_own_tenant_id_is_422_too(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        response = await client.post("/v1/users", headers=headers, json=VALID_USER | {"tenant_id": str(tenant.id)})

        assert_problem(response, 422, "tenant-id-not-allowed")


class TestUpdateUserInput:
    @pytest.mark.parametrize(("body", "field"), BAD_UPDATE_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        agent = await factory.user(tenant, Role.agent, full_name="Kept Name")

        response = await client.patch(f"/v1/users/{agent.id}", headers=headers, json={"sip_user": "agent_new"} | body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.full_name, stored.sip_user, stored.updated_at) == ("Kept Name", None, agent.updated_at)

    @pytest.mark.parametrize("content", MALFORMED_BODIES)
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        content: bytes,
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.patch(f"/v1/users/{agent.id}", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert stored.updated_at == agent.updated_at

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        agent = await factory.user(tenant, Role.agent, full_name="Kept Name")

        response = await client.patch(
            f"/v1/users/{agent.id}",
            headers=headers,
            json={"full_name": "Moved", "tenant_id": str(other_tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.tenant_id, stored.full_name) == (tenant.id, "Kept Name")
        assert await db.user(other_tenant.id, agent.id) is None


class TestCreateTeamInput:
    @pytest.mark.parametrize(("body", "field"), BAD_TEAM_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post("/v1/teams", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {field}
        assert await db.teams(tenant.id) == []

    @pytest.mark.parametrize("content", MALFORMED_BODIES)
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_written(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        response = await client.post("/v1/teams", headers=headers | JSON, content=content)

        assert_problem(response, 400, "malformed-json")
        assert await db.teams(tenant.id) == []

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        response = await client.post(
            "/v1/teams", headers=headers, json={"name": "Sales", "tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.teams(tenant.id) == []
        assert await db.teams(other_tenant.id) == []


class TestPathIds:
    async def test_a_well_formed_but_unknown_id_is_404_not_400(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.patch(f"/v1/users/{uuid.uuid4()}", headers=headers, json={"full_name": "X"})

        assert_problem(response, 404, "user-not-found")
