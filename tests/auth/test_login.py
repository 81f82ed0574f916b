"""POST /v1/auth/login: the seed's body, the access token's claims, and who may not sign in."""

from __future__ import annotations

import secrets
import uuid

import httpx
import jwt

from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import PASSWORD, Factory
from ..problems import SEED_INVALID_CREDENTIALS, assert_problem, without_instance
from .conftest import Db, login, login_ok


def decode(runtime: Runtime, token: str) -> dict[str, object]:
    """The claims of a token this service issued, checked with its own key and algorithm.

    Expiry is left to the service (it uses the injected clock, which is not the wall clock)."""
    assert runtime.settings.jwt.secret is not None
    claims: dict[str, object] = jwt.decode(
        token,
        runtime.settings.jwt.secret.get_secret_value(),
        algorithms=[runtime.settings.jwt.algorithm],
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


class TestLogin:
    async def test_login_returns_exactly_the_seeds_fields(self, client: httpx.AsyncClient, agent: User) -> None:
        response = await login(client, agent.email)

        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 86400
        assert body["user"] == {
            "id": str(agent.id),
            "email": agent.email,
            "full_name": "Omar Haddad",
            "role": "agent",
            "tenant_id": str(agent.tenant_id),
        }
        assert body["access_token"] != body["refresh_token"]

    async def test_access_token_names_user_tenant_and_role_and_lives_24_hours(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User, clock: ManualClock
    ) -> None:
        body = await login_ok(client, agent)

        assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
        claims = decode(runtime, body["access_token"])
        assert set(claims) == {"sub", "tenant_id", "role", "exp", "iat", "jti"}
        assert claims["sub"] == str(agent.id)
        assert claims["tenant_id"] == str(agent.tenant_id)
        assert claims["role"] == "agent"
        assert claims["iat"] == int(clock.now().timestamp())
        assert claims["exp"] == int(clock.now().timestamp()) + 86400
        assert uuid.UUID(str(claims["jti"]))

    async def test_every_login_mints_a_token_with_its_own_jti(
        self, client: httpx.AsyncClient, runtime: Runtime, agent: User
    ) -> None:
        first = await login_ok(client, agent)
        second = await login_ok(client, agent)

        assert decode(runtime, first["access_token"])["jti"] != decode(runtime, second["access_token"])["jti"]
        assert first["refresh_token"] != second["refresh_token"]

    async def test_access_token_from_login_is_accepted_by_the_api(self, client: httpx.AsyncClient, admin: User) -> None:
        body = await login_ok(client, admin)

        response = await client.get("/v1/users", headers={"Authorization": f"Bearer {body['access_token']}"})

        assert response.status_code == 200
        assert str(admin.id) in {item["id"] for item in response.json()["items"]}

    async def test_email_matches_whatever_its_case_and_surrounding_spaces(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        # Unique per test: emails are unique across the installation and the run shares one database.
        tag = secrets.token_hex(4)
        user = await factory.user(tenant, email=f"layla.ahmed.{tag}@acme.test")

        response = await login(client, f"  Layla.AHMED.{tag.upper()}@Acme.Test ")

        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == str(user.id)
        assert response.json()["user"]["email"] == f"layla.ahmed.{tag}@acme.test"

    async def test_wrong_password_gets_the_seeds_invalid_credentials_problem(
        self, client: httpx.AsyncClient, agent: User
    ) -> None:
        response = await login(client, agent.email, "not the password")

        body = assert_problem(response, 401, "invalid-credentials")
        assert without_instance(body) == SEED_INVALID_CREDENTIALS

    async def test_unknown_email_gets_the_same_problem_as_a_wrong_password(
        self, client: httpx.AsyncClient, agent: User
    ) -> None:
        wrong_password = await login(client, agent.email, "not the password")
        unknown_email = await login(client, f"nobody-{uuid.uuid4().hex}@acme.test", PASSWORD)

        assert_problem(unknown_email, 401, "invalid-credentials")
        assert without_instance(unknown_email.json()) == without_instance(wrong_password.json())
        assert unknown_email.headers.get("www-authenticate") == wrong_password.headers.get("www-authenticate")

    async def test_password_is_case_sensitive(self, client: httpx.AsyncClient, agent: User) -> None:
        response = await login(client, agent.email, PASSWORD.upper())

        assert_problem(response, 401, "invalid-credentials")

    async def test_password_is_compared_exactly_as_typed_spaces_included(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        user = await factory.user(tenant, password="  padded secret phrase  ")

        assert_problem(await login(client, user.email, "padded secret phrase"), 401, "invalid-credentials")
        assert (await login(client, user.email, "  padded secret phrase  ")).status_code == 200

    async def test_deactivated_user_cannot_log_in_even_with_the_right_password(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, agent: User
    ) -> None:
        deactivated = await client.patch(
            f"/v1/users/{agent.id}", json={"is_active": False}, headers=factory.headers(admin)
        )
        assert deactivated.status_code == 200

        response = await login(client, agent.email)

        body = assert_problem(response, 401, "invalid-credentials")
        assert without_instance(body) == SEED_INVALID_CREDENTIALS

    async def test_successful_login_records_last_login_at(
        self, client: httpx.AsyncClient, db: Db, agent: User, clock: ManualClock
    ) -> None:
        clock.advance(3600)

        await login_ok(client, agent)

        assert (await db.user(agent)).last_login_at == clock.now()

    async def test_failed_login_records_nothing(self, client: httpx.AsyncClient, db: Db, agent: User) -> None:
        await login(client, agent.email, "not the password")

        assert (await db.user(agent)).last_login_at is None
        assert await db.refresh_tokens(agent.tenant_id) == []

    async def test_login_stores_one_refresh_token_for_the_user(
        self, client: httpx.AsyncClient, runtime: Runtime, db: Db, agent: User, clock: ManualClock
    ) -> None:
        await login_ok(client, agent)

        [stored] = await db.refresh_tokens(agent.tenant_id)
        assert stored.user_id == agent.id
        assert stored.issued_at == clock.now()
        assert stored.expires_at.timestamp() == clock.now().timestamp() + runtime.settings.jwt.refresh_ttl_seconds
        assert stored.used_at is None
        assert stored.revoked_at is None
