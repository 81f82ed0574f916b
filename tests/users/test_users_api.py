"""/v1/users: create, list, read and update users of the caller's tenant (DESIGN.md §2, issue 2 point 8)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.core.principal import Role
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import PASSWORD, Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

USER_FIELDS = {
    "id",
    "tenant_id",
    "email",
    "full_name",
    "role",
    "sip_user",
    "team_id",
    "is_active",
    "created_at",
    "updated_at",
    "last_login_at",
}


def new_user(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": f"agent-{uuid.uuid4().hex[:10]}@acme.test",
        "password": "a long enough secret",
        "full_name": "Omar Haddad",
        "role": "agent",
    }
    body.update(overrides)
    return body


class TestCreateUser:
    async def test_admin_creates_an_agent_with_sip_user_and_team(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], clock: ManualClock
    ) -> None:
        team_id = await factory.team(tenant, "Renewals")

        sip_user = f"agent_{secrets.token_hex(4)}"  # SIP users are unique in the installation, which tests share

        response = await client.post(
            "/v1/users", headers=headers, json=new_user(sip_user=sip_user, team_id=str(team_id))
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == USER_FIELDS
        assert uuid.UUID(body["id"]).version == 7
        assert body["tenant_id"] == str(tenant.id)
        assert body["full_name"] == "Omar Haddad"
        assert body["role"] == "agent"
        assert body["sip_user"] == sip_user
        assert body["team_id"] == str(team_id)
        assert body["is_active"] is True
        assert datetime.fromisoformat(body["created_at"]) == clock.now()
        assert datetime.fromisoformat(body["updated_at"]) == clock.now()
        assert body["last_login_at"] is None

    async def test_created_user_is_stored_in_the_callers_tenant(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        sip_user = f"agent_{secrets.token_hex(4)}"
        response = await client.post("/v1/users", headers=headers, json=new_user(sip_user=sip_user))

        stored = await db.user(tenant.id, uuid.UUID(response.json()["id"]))
        assert stored is not None
        assert stored.tenant_id == tenant.id
        assert stored.role == "agent"
        assert stored.sip_user == sip_user

    async def test_password_is_never_returned_and_only_its_argon2_hash_is_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post("/v1/users", headers=headers, json=new_user(password="never echo this one"))

        assert response.status_code == 201
        assert not any("password" in key for key in response.json())
        assert "never echo this one" not in response.text
        stored = await db.user(tenant.id, uuid.UUID(response.json()["id"]))
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert "never echo this one" not in stored.password_hash

    async def test_email_is_stored_trimmed_and_lower_case(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        # Emails are unique across the installation, and the test database is shared by the whole run.
        local = f"Layla.Ahmed.{secrets.token_hex(4)}"
        response = await client.post("/v1/users", headers=headers, json=new_user(email=f"  {local}@ACME.Test "))

        assert response.status_code == 201
        assert response.json()["email"] == f"{local.lower()}@acme.test"
        stored = await db.user(tenant.id, uuid.UUID(response.json()["id"]))
        assert stored is not None
        assert stored.email == f"{local.lower()}@acme.test"

    async def test_password_is_kept_exactly_as_typed_including_surrounding_spaces(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        email = f"spaces-{uuid.uuid4().hex[:8]}@acme.test"
        # 14 characters as typed; only 10 without the spaces, so trimming would also break the length rule.
        password = "  p4ssw0rd!!  "
        created = await client.post("/v1/users", headers=headers, json=new_user(email=email, password=password))
        assert created.status_code == 201, created.text

        as_typed = await client.post("/v1/auth/login", json={"email": email, "password": password})
        trimmed = await client.post("/v1/auth/login", json={"email": email, "password": password.strip()})

        assert as_typed.status_code == 200, as_typed.text
        assert trimmed.status_code == 401

    async def test_a_user_without_sip_user_or_team_has_them_null(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.post("/v1/users", headers=headers, json=new_user(role="supervisor"))

        assert response.status_code == 201
        assert response.json()["sip_user"] is None
        assert response.json()["team_id"] is None
        assert response.json()["role"] == "supervisor"

    @pytest.mark.parametrize("role", [Role.supervisor, Role.agent])
    async def test_only_an_admin_may_create_users(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, role: Role, db: Db
    ) -> None:
        caller = await factory.user(tenant, role)
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=factory.headers(caller), json=new_user())

        assert_problem(response, 403, "forbidden")
        assert await db.count_users(tenant.id) == before

    async def test_creating_a_user_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/users", json=new_user())

        assert_problem(response, 401, "unauthorized")


class TestEmailIsUniqueAcrossTheInstallation:
    async def test_email_used_in_another_tenant_is_409_email_taken_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        other_headers: dict[str, str],
        db: Db,
    ) -> None:
        await factory.user(tenant, Role.agent, email="shared@acme.test")
        before = await db.count_users(other_tenant.id)

        response = await client.post("/v1/users", headers=other_headers, json=new_user(email="shared@acme.test"))

        assert_problem(response, 409, "email-taken")
        assert await db.count_users(other_tenant.id) == before

    async def test_email_used_in_another_tenant_is_taken_whatever_its_case(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        other_headers: dict[str, str],
        db: Db,
    ) -> None:
        await factory.user(tenant, Role.agent, email="mixed.case@acme.test")
        before = await db.count_users(other_tenant.id)

        response = await client.post("/v1/users", headers=other_headers, json=new_user(email="Mixed.CASE@Acme.Test"))

        assert_problem(response, 409, "email-taken")
        assert await db.count_users(other_tenant.id) == before

    async def test_email_used_in_the_same_tenant_is_409_email_taken(
        self, client: httpx.AsyncClient, admin: User, headers: dict[str, str], tenant: Tenant, db: Db
    ) -> None:
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=new_user(email=admin.email.upper()))

        assert_problem(response, 409, "email-taken")
        assert await db.count_users(tenant.id) == before


class TestSipUserIsUniqueInTheInstallation:
    async def test_sip_user_taken_in_the_same_tenant_is_409_and_nothing_is_written(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        taken = f"agent_{secrets.token_hex(4)}"
        await factory.user(tenant, Role.agent, sip_user=taken)
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=new_user(sip_user=taken))

        assert_problem(response, 409, "sip-user-taken")
        assert await db.count_users(tenant.id) == before

    async def test_sip_user_of_another_tenant_is_409_too_for_every_tenant_shares_the_switch(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        """Allowed before the hardening suite found it: B's agent then showed A's phone and could get A's calls."""
        taken = f"agent_{secrets.token_hex(4)}"
        await factory.user(other_tenant, Role.agent, sip_user=taken)
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=new_user(sip_user=taken))

        assert_problem(response, 409, "sip-user-taken")
        assert await db.count_users(tenant.id) == before

    async def test_patching_to_a_sip_user_taken_is_409_and_nothing_is_written(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        taken, kept = f"agent_{secrets.token_hex(4)}", f"agent_{secrets.token_hex(4)}"
        await factory.user(tenant, Role.agent, sip_user=taken)
        other = await factory.user(tenant, Role.agent, sip_user=kept, full_name="Sara Nasser")

        response = await client.patch(
            f"/v1/users/{other.id}", headers=headers, json={"sip_user": taken, "full_name": "Renamed"}
        )

        assert_problem(response, 409, "sip-user-taken")
        stored = await db.user(tenant.id, other.id)
        assert stored is not None
        assert (stored.sip_user, stored.full_name) == (kept, "Sara Nasser")


class TestListUsers:
    async def test_lists_the_users_of_the_callers_tenant_only(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        admin: User,
        headers: dict[str, str],
    ) -> None:
        mine = await factory.user(tenant, Role.agent)
        theirs = await factory.user(other_tenant, Role.agent)

        response = await client.get("/v1/users", headers=headers)

        assert response.status_code == 200
        body = response.json()
        ids = {item["id"] for item in body["items"]}
        assert ids == {str(admin.id), str(mine.id)}
        assert str(theirs.id) not in ids
        assert body["total"] == 2
        assert all(set(item) == USER_FIELDS for item in body["items"])

    async def test_role_filter_returns_only_users_with_that_role(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        agents = {(await factory.user(tenant, Role.agent)).id for _ in range(2)}
        await factory.user(tenant, Role.supervisor)

        response = await client.get("/v1/users", headers=headers, params={"role": "agent"})

        assert response.status_code == 200
        assert {uuid.UUID(item["id"]) for item in response.json()["items"]} == agents
        assert response.json()["total"] == 2

    async def test_team_filter_returns_only_members_of_that_team(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        team_a = await factory.team(tenant)
        team_b = await factory.team(tenant)
        member = await factory.user(tenant, Role.agent, team_id=team_a)
        await factory.user(tenant, Role.agent, team_id=team_b)
        await factory.user(tenant, Role.agent)

        response = await client.get("/v1/users", headers=headers, params={"team_id": str(team_a)})

        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [str(member.id)]
        assert response.json()["total"] == 1

    async def test_is_active_filter_separates_active_from_deactivated_users(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, admin: User, headers: dict[str, str]
    ) -> None:
        gone = await factory.user(tenant, Role.agent)
        await client.patch(f"/v1/users/{gone.id}", headers=headers, json={"is_active": False})

        inactive = await client.get("/v1/users", headers=headers, params={"is_active": "false"})
        active = await client.get("/v1/users", headers=headers, params={"is_active": "true"})

        assert [item["id"] for item in inactive.json()["items"]] == [str(gone.id)]
        assert [item["id"] for item in active.json()["items"]] == [str(admin.id)]

    async def test_filters_combine(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        team = await factory.team(tenant)
        agent = await factory.user(tenant, Role.agent, team_id=team)
        await factory.user(tenant, Role.supervisor, team_id=team)

        response = await client.get(
            "/v1/users", headers=headers, params={"role": "agent", "team_id": str(team), "is_active": "true"}
        )

        assert [item["id"] for item in response.json()["items"]] == [str(agent.id)]

    async def test_team_filter_with_another_tenants_team_lists_nothing(
        self, client: httpx.AsyncClient, factory: Factory, other_tenant: Tenant, headers: dict[str, str]
    ) -> None:
        their_team = await factory.team(other_tenant)
        await factory.user(other_tenant, Role.agent, team_id=their_team)

        response = await client.get("/v1/users", headers=headers, params={"team_id": str(their_team)})

        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "next_cursor": None, "has_more": False}

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"role": "owner"}, "role"), ({"team_id": "not-a-uuid"}, "team_id"), ({"is_active": "maybe"}, "is_active")],
    )
    async def test_a_bad_filter_value_is_400_naming_the_parameter(
        self, client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], field: str
    ) -> None:
        response = await client.get("/v1/users", headers=headers, params=params)

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {field}

    async def test_a_supervisor_may_not_list_users(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)

        response = await client.get("/v1/users", headers=factory.headers(supervisor))

        assert_problem(response, 403, "forbidden")


class TestGetUser:
    async def test_returns_a_user_of_the_callers_tenant(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        agent = await factory.user(
            tenant, Role.agent, sip_user=f"agent_5_{secrets.token_hex(4)}", full_name="Huda Saleh"
        )

        response = await client.get(f"/v1/users/{agent.id}", headers=headers)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == USER_FIELDS
        assert (body["id"], body["email"], body["full_name"], body["sip_user"]) == (
            str(agent.id),
            agent.email,
            "Huda Saleh",
            agent.sip_user,
        )

    async def test_a_user_of_another_tenant_is_404(
        self, client: httpx.AsyncClient, other_admin: User, headers: dict[str, str]
    ) -> None:
        response = await client.get(f"/v1/users/{other_admin.id}", headers=headers)

        body = assert_problem(response, 404, "user-not-found")
        assert other_admin.email not in response.text
        assert "errors" not in body

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.get(f"/v1/users/{uuid.uuid4()}", headers=headers)

        assert_problem(response, 404, "user-not-found")

    @pytest.mark.parametrize("method", ["GET", "PATCH"])
    async def test_a_non_uuid_id_is_400_naming_user_id(
        self, client: httpx.AsyncClient, headers: dict[str, str], method: str
    ) -> None:
        response = await client.request(method, "/v1/users/not-a-uuid", headers=headers, json={})

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"user_id"}


class TestUpdateUser:
    async def test_only_the_fields_sent_change(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        clock: ManualClock,
        db: Db,
    ) -> None:
        team = await factory.team(tenant)
        agent = await factory.user(
            tenant, Role.agent, sip_user=f"agent_1_{secrets.token_hex(4)}", team_id=team, full_name="Old Name"
        )
        clock.advance(60)

        response = await client.patch(f"/v1/users/{agent.id}", headers=headers, json={"full_name": "New Name"})

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["full_name"] == "New Name"
        assert (body["role"], body["sip_user"], body["team_id"], body["is_active"]) == (
            "agent",
            agent.sip_user,
            str(team),
            True,
        )
        assert datetime.fromisoformat(body["updated_at"]) == clock.now()
        assert datetime.fromisoformat(body["created_at"]) == agent.created_at
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.full_name, stored.sip_user, stored.team_id, stored.email) == (
            "New Name",
            agent.sip_user,
            team,
            agent.email,
        )
        assert stored.password_hash == agent.password_hash

    async def test_role_team_and_active_flag_can_be_changed(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        team = await factory.team(tenant)
        agent = await factory.user(tenant, Role.agent)

        response = await client.patch(
            f"/v1/users/{agent.id}",
            headers=headers,
            json={"role": "supervisor", "team_id": str(team), "is_active": False},
        )

        assert response.status_code == 200, response.text
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.role, stored.team_id, stored.is_active) == ("supervisor", team, False)

    async def test_sip_user_and_team_id_are_cleared_with_null(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        team = await factory.team(tenant)
        agent = await factory.user(tenant, Role.agent, sip_user=f"agent_9_{secrets.token_hex(4)}", team_id=team)

        response = await client.patch(
            f"/v1/users/{agent.id}", headers=headers, json={"sip_user": None, "team_id": None}
        )

        assert response.status_code == 200, response.text
        assert (response.json()["sip_user"], response.json()["team_id"]) == (None, None)
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.sip_user, stored.team_id) == (None, None)

    @pytest.mark.parametrize("field", ["full_name", "role", "is_active", "password"])
    async def test_null_for_a_field_that_cannot_be_cleared_is_400_naming_it_and_nothing_is_written(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str], db: Db, field: str
    ) -> None:
        agent = await factory.user(
            tenant, Role.agent, full_name="Kept Name", sip_user=f"agent_kept_{secrets.token_hex(4)}"
        )

        response = await client.patch(
            f"/v1/users/{agent.id}", headers=headers, json={"sip_user": "agent_changed", field: None}
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {field}
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.full_name, stored.role, stored.is_active, stored.sip_user, stored.password_hash) == (
            "Kept Name",
            "agent",
            True,
            agent.sip_user,
            agent.password_hash,
        )

    async def test_every_field_sent_as_null_that_cannot_be_cleared_is_named(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.patch(
            f"/v1/users/{agent.id}", headers=headers, json={"full_name": None, "role": None, "is_active": None}
        )

        body = assert_problem(response, 400, "validation-error")
        assert error_fields(body) == {"full_name", "role", "is_active"}

    async def test_a_new_password_replaces_the_old_one_and_marks_the_change(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        headers: dict[str, str],
        clock: ManualClock,
        db: Db,
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        clock.advance(60)

        response = await client.patch(f"/v1/users/{agent.id}", headers=headers, json={"password": "a brand new secret"})

        assert response.status_code == 200
        assert "a brand new secret" not in response.text
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert stored.sessions_revoked_at == clock.now()
        new_login = await client.post("/v1/auth/login", json={"email": agent.email, "password": "a brand new secret"})
        old_login = await client.post("/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        assert new_login.status_code == 200
        assert old_login.status_code == 401

    async def test_an_admin_cannot_deactivate_themself(
        self, client: httpx.AsyncClient, admin: User, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.patch(f"/v1/users/{admin.id}", headers=headers, json={"is_active": False})

        assert_problem(response, 409, "self-lockout")
        stored = await db.user(tenant.id, admin.id)
        assert stored is not None
        assert stored.is_active is True

    @pytest.mark.parametrize("role", ["supervisor", "agent"])
    async def test_an_admin_cannot_demote_themself(
        self, client: httpx.AsyncClient, admin: User, tenant: Tenant, headers: dict[str, str], db: Db, role: str
    ) -> None:
        response = await client.patch(
            f"/v1/users/{admin.id}", headers=headers, json={"role": role, "full_name": "Changed Too"}
        )

        assert_problem(response, 409, "self-lockout")
        stored = await db.user(tenant.id, admin.id)
        assert stored is not None
        assert (stored.role, stored.full_name) == ("admin", admin.full_name)

    async def test_an_admin_may_edit_their_own_name_and_keep_their_role(
        self, client: httpx.AsyncClient, admin: User, headers: dict[str, str]
    ) -> None:
        response = await client.patch(
            f"/v1/users/{admin.id}",
            headers=headers,
            json={"full_name": "Still Admin", "role": "admin", "is_active": True},
        )

        assert response.status_code == 200, response.text
        assert (response.json()["full_name"], response.json()["role"]) == ("Still Admin", "admin")

    async def test_an_admin_may_deactivate_another_admin(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        second = await factory.user(tenant, Role.admin)

        response = await client.patch(f"/v1/users/{second.id}", headers=headers, json={"is_active": False})

        assert response.status_code == 200
        assert response.json()["is_active"] is False

    async def test_a_user_of_another_tenant_is_404_and_is_not_changed(
        self, client: httpx.AsyncClient, factory: Factory, other_tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        theirs = await factory.user(other_tenant, Role.agent, full_name="Untouched")

        response = await client.patch(
            f"/v1/users/{theirs.id}", headers=headers, json={"full_name": "Hijacked", "is_active": False}
        )

        assert_problem(response, 404, "user-not-found")
        stored = await db.user(other_tenant.id, theirs.id)
        assert stored is not None
        assert (stored.full_name, stored.is_active, stored.updated_at) == ("Untouched", True, theirs.updated_at)

    async def test_only_an_admin_may_update_users(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, db: Db
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)
        agent = await factory.user(tenant, Role.agent, full_name="Untouched")

        response = await client.patch(
            f"/v1/users/{agent.id}", headers=factory.headers(supervisor), json={"full_name": "Changed"}
        )

        assert_problem(response, 403, "forbidden")
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert stored.full_name == "Untouched"


class TestTeamOfAnotherTenant:
    async def test_creating_a_user_in_another_tenants_team_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        their_team = await factory.team(other_tenant)
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=new_user(team_id=str(their_team)))

        assert_problem(response, 422, "unknown-team")
        assert await db.count_users(tenant.id) == before

    async def test_creating_a_user_in_a_team_that_does_not_exist_is_422(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        before = await db.count_users(tenant.id)

        response = await client.post("/v1/users", headers=headers, json=new_user(team_id=str(uuid.uuid4())))

        assert_problem(response, 422, "unknown-team")
        assert await db.count_users(tenant.id) == before

    async def test_moving_a_user_to_another_tenants_team_is_422_and_nothing_is_written(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
    ) -> None:
        my_team = await factory.team(tenant)
        their_team = await factory.team(other_tenant)
        agent = await factory.user(tenant, Role.agent, team_id=my_team, full_name="Kept Name")

        response = await client.patch(
            f"/v1/users/{agent.id}", headers=headers, json={"team_id": str(their_team), "full_name": "Changed"}
        )

        assert_problem(response, 422, "unknown-team")
        stored = await db.user(tenant.id, agent.id)
        assert stored is not None
        assert (stored.team_id, stored.full_name, stored.updated_at) == (my_team, "Kept Name", agent.updated_at)
