"""POST /v1/consents: supervisors and admins record a grant for a number in any format (stored E.164), with
scope `marketing` and granted now unless told; one `consent.recorded` event. Bad input is a 400 naming the
field (a 422 for `tenant_id`), and nothing is stored, no event written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..problems import assert_problem, error_fields
from .conftest import Db

RECORD_FIELDS = {
    "id",
    "phone",
    "scope",
    "source",
    "granted_at",
    "expires_at",
    "withdrawn_at",
    "recorded_by",
    "created_at",
}


class TestRecord:
    async def test_a_grant_with_defaults_is_201_marketing_granted_now_and_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, admin: User, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/consents", headers=headers, json={"phone": "+971509876543", "source": "web_form"}
        )

        assert response.status_code == 201, response.text
        body = response.json()
        [stored] = await db.consents(tenant.id)
        assert body == {
            "id": str(stored.id),
            "phone": "+971509876543",
            "scope": "marketing",
            "source": "web_form",
            "granted_at": "2026-06-12T10:00:00Z",
            "expires_at": None,
            "withdrawn_at": None,
            "recorded_by": str(admin.id),
            "created_at": "2026-06-12T10:00:00Z",
        }
        assert (stored.tenant_id, stored.phone, stored.scope, stored.recorded_by) == (
            tenant.id,
            "+971509876543",
            "marketing",
            admin.id,
        )

    async def test_every_field_given_is_stored_and_instants_come_back_in_utc_with_z(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/v1/consents",
            headers=headers,
            json={
                "phone": "+971509876543",
                "scope": "all",
                "source": "ivr",
                "granted_at": "2026-06-01T12:30:00+04:00",
                "expires_at": "2027-06-01T08:30:00.250000Z",
            },
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == RECORD_FIELDS
        assert (body["scope"], body["source"]) == ("all", "ivr")
        assert body["granted_at"] == "2026-06-01T08:30:00Z"
        assert body["expires_at"] == "2027-06-01T08:30:00.250000Z"

    @pytest.mark.parametrize("scope", ["marketing", "service", "all"])
    async def test_each_scope_is_accepted(self, client: httpx.AsyncClient, headers: dict[str, str], scope: str) -> None:
        response = await client.post(
            "/v1/consents", headers=headers, json={"phone": "+971509876543", "source": "crm", "scope": scope}
        )

        assert response.status_code == 201, response.text
        assert response.json()["scope"] == scope

    @pytest.mark.parametrize("typed", ["0509876543", "050 987 6543", "00971509876543", "+971 50-987-6543"])
    async def test_a_number_in_local_or_international_format_is_stored_in_e164(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, typed: str
    ) -> None:
        response = await client.post("/v1/consents", headers=headers, json={"phone": typed, "source": "agent"})

        assert response.status_code == 201, response.text
        assert response.json()["phone"] == "+971509876543"
        assert [c.phone for c in await db.consents(tenant.id)] == ["+971509876543"]

    async def test_a_supervisor_may_record(
        self, client: httpx.AsyncClient, supervisor: User, supervisor_headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/v1/consents", headers=supervisor_headers, json={"phone": "0509876543", "source": "agent"}
        )

        assert response.status_code == 201, response.text
        assert response.json()["recorded_by"] == str(supervisor.id)

    async def test_a_grant_dated_up_to_five_minutes_ahead_is_accepted_for_client_clock_skew(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        response = await client.post(
            "/v1/consents",
            headers=headers,
            json={"phone": "+971509876543", "source": "web_form", "granted_at": "2026-06-12T10:05:00Z"},
        )

        assert response.status_code == 201, response.text
        assert response.json()["granted_at"] == "2026-06-12T10:05:00Z"

    async def test_recording_writes_one_consent_recorded_event_with_the_number(
        self, client: httpx.AsyncClient, tenant: Tenant, admin: User, headers: dict[str, str], db: Db
    ) -> None:
        body = (
            await client.post(
                "/v1/consents",
                headers=headers,
                json={
                    "phone": "0509876543",
                    "scope": "service",
                    "source": "crm",
                    "expires_at": "2026-12-31T00:00:00Z",
                },
            )
        ).json()

        [event] = await db.events(tenant.id)
        assert event.event_type == "consent.recorded"
        assert str(event.correlation_id) == body["id"]
        assert event.payload == {
            "consent_id": body["id"],
            "phone": "+971509876543",
            "scope": "service",
            "source": "crm",
            "granted_at": "2026-06-12T10:00:00Z",
            "expires_at": "2026-12-31T00:00:00Z",
            "recorded_by": str(admin.id),
        }

    async def test_the_same_number_may_hold_several_records(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        for source in ("web_form", "ivr"):
            response = await client.post(
                "/v1/consents", headers=headers, json={"phone": "0509876543", "source": source}
            )
            assert response.status_code == 201, response.text

        assert await db.count(tenant.id) == 2


BAD_BODIES = [
    pytest.param({"source": "web_form"}, "phone", id="missing-phone"),
    pytest.param({"phone": None, "source": "web_form"}, "phone", id="phone-null"),
    pytest.param({"phone": 971509876543, "source": "web_form"}, "phone", id="phone-not-a-string"),
    pytest.param({"phone": "", "source": "web_form"}, "phone", id="phone-empty"),
    pytest.param({"phone": "12345", "source": "web_form"}, "phone", id="phone-too-short"),
    pytest.param({"phone": "+97150987654", "source": "web_form"}, "phone", id="phone-not-a-valid-number"),
    pytest.param({"phone": "call me", "source": "web_form"}, "phone", id="phone-letters"),
    pytest.param({"phone": "+971509876543"}, "source", id="missing-source"),
    pytest.param({"phone": "+971509876543", "source": "   "}, "source", id="blank-source"),
    pytest.param({"phone": "+971509876543", "source": "x" * 65}, "source", id="overlong-source"),
    pytest.param({"phone": "+971509876543", "source": 7}, "source", id="source-not-a-string"),
    pytest.param({"phone": "+971509876543", "source": "ivr", "scope": "sales"}, "scope", id="unknown-scope"),
    pytest.param({"phone": "+971509876543", "source": "ivr", "scope": "ALL"}, "scope", id="scope-wrong-case"),
    pytest.param(
        {"phone": "+971509876543", "source": "ivr", "granted_at": "2026-06-01T12:00:00"},
        "granted_at",
        id="naive-granted-at",
    ),
    pytest.param(
        {"phone": "+971509876543", "source": "ivr", "granted_at": "yesterday"}, "granted_at", id="granted-at-not-a-time"
    ),
    pytest.param(
        {"phone": "+971509876543", "source": "ivr", "granted_at": "2026-06-12T10:05:00.000001Z"},
        "granted_at",
        id="granted-more-than-five-minutes-ahead",
    ),
    pytest.param(
        {"phone": "+971509876543", "source": "ivr", "expires_at": "2027-01-01T00:00:00"},
        "expires_at",
        id="naive-expires-at",
    ),
    pytest.param(
        {
            "phone": "+971509876543",
            "source": "ivr",
            "granted_at": "2026-06-01T00:00:00Z",
            "expires_at": "2026-06-01T00:00:00Z",
        },
        "expires_at",
        id="expires-at-equal-to-granted-at",
    ),
    pytest.param(
        {
            "phone": "+971509876543",
            "source": "ivr",
            "granted_at": "2026-06-01T00:00:00Z",
            "expires_at": "2026-05-01T00:00:00Z",
        },
        "expires_at",
        id="expires-before-granted",
    ),
    pytest.param(
        {"phone": "+971509876543", "source": "ivr", "expires_at": "2026-06-12T09:59:59Z"},
        "expires_at",
        id="expires-before-the-default-grant-now",
    ),
    pytest.param({"phone": "+971509876543", "source": "ivr", "withdrawn_at": None}, "withdrawn_at", id="withdrawn-at"),
    pytest.param({"phone": "+971509876543", "source": "ivr", "colour": "red"}, "colour", id="extra-field"),
]


class TestRecordInput:
    @pytest.mark.parametrize(("body", "field"), BAD_BODIES)
    async def test_invalid_body_is_400_naming_the_field_and_nothing_is_stored(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        body: dict[str, Any],
        field: str,
    ) -> None:
        response = await client.post("/v1/consents", headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert field in error_fields(problem)
        assert await db.count(tenant.id) == 0
        assert await db.events(tenant.id) == []

    @pytest.mark.parametrize("content", [b'{"phone": ', b"not json", b'["+971509876543"]', b"null"])
    async def test_malformed_or_non_object_json_is_400_and_nothing_is_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], db: Db, content: bytes
    ) -> None:
        response = await client.post(
            "/v1/consents", headers=headers | {"Content-Type": "application/json"}, content=content
        )

        assert_problem(response, 400, "malformed-json")
        assert await db.count(tenant.id) == 0

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_is_stored_in_either_tenant(
        self, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/consents",
            headers=headers,
            json={"phone": "+971509876543", "source": "ivr", "tenant_id": str(other_tenant.id)},
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        assert await db.count(tenant.id) == 0
        assert await db.count(other_tenant.id) == 0
        assert await db.events(other_tenant.id) == []

    async def test_a_grant_too_far_ahead_says_how_far_is_allowed(
        self, client: httpx.AsyncClient, headers: dict[str, str], clock: ManualClock
    ) -> None:
        response = await client.post(
            "/v1/consents",
            headers=headers,
            json={"phone": "+971509876543", "source": "ivr", "granted_at": "2026-06-13T10:00:00Z"},
        )

        problem = assert_problem(response, 400, "validation-error")
        assert problem["errors"] == [
            {"field": "granted_at", "message": "must not be more than 5 minutes in the future"}
        ]


class TestRecordAccess:
    async def test_an_agent_may_not_record_and_nothing_is_stored(
        self, client: httpx.AsyncClient, tenant: Tenant, agent_headers: dict[str, str], db: Db
    ) -> None:
        response = await client.post(
            "/v1/consents", headers=agent_headers, json={"phone": "+971509876543", "source": "agent"}
        )

        problem = assert_problem(response, 403, "forbidden")
        assert problem["detail"] == "Your role (agent) does not allow consents:write."
        assert await db.count(tenant.id) == 0
        assert await db.events(tenant.id) == []

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/consents", json={"phone": "+971509876543", "source": "agent"})

        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
