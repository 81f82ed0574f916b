"""Access tokens on the API: only an unexpired JWT signed with the configured key and algorithm, carrying
every required claim and a known role, is accepted; anything else is a 401 problem with a Bearer challenge."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from engage.core.clock import ManualClock
from engage.core.runtime import Runtime
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem

MISSING = "Send an access token: Authorization: Bearer <token>."
INVALID = "The access token is invalid or has expired."


def claims_for(user: User, clock: ManualClock, **overrides: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "tenant_id": str(user.tenant_id),
        "role": user.role,
        "iat": now,
        "exp": now + 86400,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def secret_of(runtime: Runtime) -> str:
    assert runtime.settings.jwt.secret is not None
    return runtime.settings.jwt.secret.get_secret_value()


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token, as an attacker writes it by hand (no signature part)."""
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


async def get_teams(client: httpx.AsyncClient, authorization: str | bytes | None) -> httpx.Response:
    if authorization is None:
        return await client.get("/v1/teams")
    value = authorization.encode("latin-1") if isinstance(authorization, str) else authorization
    return await client.get("/v1/teams", headers={b"Authorization": value})


def assert_unauthorized(response: httpx.Response, detail: str) -> None:
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == detail
    assert response.headers["www-authenticate"] == "Bearer"


def signed(runtime: Runtime, claims: dict[str, Any], *, key: str | None = None, algorithm: str = "HS256") -> str:
    """A token signed with this service's key (or `key`)."""
    return jwt.encode(claims, key or secret_of(runtime), algorithm=algorithm)


def swapped_payload(runtime: Runtime, claims: dict[str, Any]) -> str:
    """A real agent token whose payload was replaced by `claims`, keeping the agent token's signature."""
    header, _, signature = signed(runtime, {**claims, "role": "agent"}).split(".")
    return f"{header}.{b64(claims)}.{signature}"


# Tokens an attacker without the key can make, from the claims of a valid admin token.
FORGERIES: dict[str, Callable[[Runtime, dict[str, Any]], str]] = {
    "alg none": lambda runtime, claims: unsigned(claims),
    "alg none made by PyJWT": lambda runtime, claims: jwt.encode(claims, None, algorithm="none"),
    "HS256 header with no signature": lambda runtime, claims: f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims)}.",
    "another key": lambda runtime, claims: signed(runtime, claims, key=secrets.token_urlsafe(40)),
    "the right key with HS384": lambda runtime, claims: signed(runtime, claims, algorithm="HS384"),
    "the right key with HS512": lambda runtime, claims: signed(runtime, claims, algorithm="HS512"),
    "a payload swapped under a real signature": swapped_payload,
}

# Claims no token of ours carries, signed with the right key: refused all the same, never a 500.
BAD_CLAIMS: dict[str, dict[str, Any]] = {
    "an unknown role": {"role": "superadmin"},
    "a role in another case": {"role": "Admin"},
    "a role that is not a string": {"role": ["admin"]},
    "a sub that is not a uuid": {"sub": "admin"},
    "a tenant_id that is not a uuid": {"tenant_id": "*"},
    "a jti that is not a uuid": {"jti": "1"},
    "an exp that is not a number": {"exp": "later"},
    "an exp given as a numeric string": {"exp": "4102444800"},
    "an exp of true": {"exp": True},
    "an exp beyond any date": {"exp": 10**20},
    "an iat beyond any date": {"iat": 10**20},
    "a negative iat": {"iat": -1},
}


class TestAccessTokens:
    async def test_a_token_as_login_issues_it_is_accepted(
        self, client: httpx.AsyncClient, factory: Factory, admin: User
    ) -> None:
        response = await client.get("/v1/teams", headers=factory.headers(admin))

        assert response.status_code == 200

    async def test_request_without_authorization_header_gets_401_with_bearer_challenge(
        self, client: httpx.AsyncClient
    ) -> None:
        assert_unauthorized(await get_teams(client, None), MISSING)

    @pytest.mark.parametrize("authorization", ["Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Token abc"])
    async def test_authorization_header_without_a_bearer_token_gets_401(
        self, client: httpx.AsyncClient, authorization: str
    ) -> None:
        assert_unauthorized(await get_teams(client, authorization), MISSING)

    @pytest.mark.parametrize(
        "garbage", [b"garbage", b"a.b.c", b"eyJhbGciOiJIUzI1NiJ9..", b"...", "\u00e9.\u00e9.\u00e9".encode("latin-1")]
    )
    async def test_malformed_token_gets_401(self, client: httpx.AsyncClient, garbage: bytes) -> None:
        assert_unauthorized(await get_teams(client, b"Bearer " + garbage), INVALID)

    # The suite's 54-byte key is short for HS512, which PyJWT warns about; the forgery needs exactly that key.
    @pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
    @pytest.mark.parametrize("forgery", list(FORGERIES))
    async def test_forged_token_gets_401(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: User, clock: ManualClock, forgery: str
    ) -> None:
        token = FORGERIES[forgery](runtime, claims_for(admin, clock))

        assert_unauthorized(await get_teams(client, f"Bearer {token}"), INVALID)

    @pytest.mark.parametrize("case", list(BAD_CLAIMS))
    async def test_token_with_a_claim_we_never_issue_gets_401(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: User, clock: ManualClock, case: str
    ) -> None:
        token = signed(runtime, claims_for(admin, clock, **BAD_CLAIMS[case]))

        assert_unauthorized(await get_teams(client, f"Bearer {token}"), INVALID)

    @pytest.mark.parametrize("claim", ["sub", "tenant_id", "role", "exp", "iat", "jti"])
    async def test_token_missing_a_required_claim_gets_401(
        self, client: httpx.AsyncClient, runtime: Runtime, admin: User, clock: ManualClock, claim: str
    ) -> None:
        claims = claims_for(admin, clock)
        del claims[claim]
        token = signed(runtime, claims)

        assert_unauthorized(await get_teams(client, f"Bearer {token}"), INVALID)

    async def test_token_is_accepted_until_its_last_second(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, clock: ManualClock
    ) -> None:
        headers = factory.headers(admin)
        clock.advance(86400 - 1)

        response = await client.get("/v1/teams", headers=headers)

        assert response.status_code == 200

    async def test_token_is_refused_once_24_hours_have_passed(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, clock: ManualClock
    ) -> None:
        token = factory.token(admin)
        clock.advance(86400)

        assert_unauthorized(await get_teams(client, f"Bearer {token}"), INVALID)

    async def test_bearer_scheme_is_case_insensitive(
        self, client: httpx.AsyncClient, factory: Factory, admin: User
    ) -> None:
        response = await get_teams(client, f"bearer {factory.token(admin)}")

        assert response.status_code == 200
