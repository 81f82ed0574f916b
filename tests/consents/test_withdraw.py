"""POST /v1/consents/{id}/withdraw: supervisors and admins withdraw a record of their own tenant (now, or at
the instant given), once; one `consent.withdrawn` event. A second withdrawal is a 409, another tenant's or an
unknown record a 404, and neither changes anything."""

from __future__ import annotations

import uuid

import httpx
import pytest

from engage.core.clock import ManualClock
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..problems import assert_problem, error_fields
from .conftest import Db, Record


def _withdraw_path(consent_id: object) -> str:
    return f"/v1/consents/{consent_id}/withdraw"


class TestWithdraw:
    async def test_withdrawing_without_a_body_is_200_with_the_record_withdrawn_now(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        admin: User,
        headers: dict[str, str],
        db: Db,
        record: Record,
        clock: ManualClock,
    ) -> None:
        created = await record(phone="0509876543", scope="service", source="ivr")
        clock.advance(3600)

        response = await client.post(_withdraw_path(created["id"]), headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == created | {"withdrawn_at": "2026-06-12T11:00:00Z"}
        stored = await db.consent(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.withdrawn_at == clock.now()

    async def test_an_empty_body_also_means_now(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        created = await record()

        response = await client.post(_withdraw_path(created["id"]), headers=headers, json={})

        assert response.status_code == 200, response.text
        assert response.json()["withdrawn_at"] == "2026-06-12T10:00:00Z"

    async def test_a_withdrawal_may_be_dated_in_the_past_and_comes_back_in_utc(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        created = await record(granted_at="2026-06-01T00:00:00Z")

        response = await client.post(
            _withdraw_path(created["id"]), headers=headers, json={"withdrawn_at": "2026-06-10T13:00:00+04:00"}
        )

        assert response.status_code == 200, response.text
        assert response.json()["withdrawn_at"] == "2026-06-10T09:00:00Z"

    async def test_a_withdrawal_at_the_instant_of_the_grant_is_accepted(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        created = await record(granted_at="2026-06-01T00:00:00Z")

        response = await client.post(
            _withdraw_path(created["id"]), headers=headers, json={"withdrawn_at": "2026-06-01T00:00:00Z"}
        )

        assert response.status_code == 200, response.text

    async def test_a_supervisor_may_withdraw(
        self, client: httpx.AsyncClient, supervisor_headers: dict[str, str], record: Record
    ) -> None:
        created = await record()

        response = await client.post(_withdraw_path(created["id"]), headers=supervisor_headers)

        assert response.status_code == 200, response.text

    async def test_withdrawing_writes_one_consent_withdrawn_event(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        supervisor: User,
        supervisor_headers: dict[str, str],
        db: Db,
        record: Record,
        clock: ManualClock,
    ) -> None:
        created = await record(phone="0509876543", scope="all")
        clock.advance(60)

        await client.post(_withdraw_path(created["id"]), headers=supervisor_headers)

        recorded, withdrawn = await db.events(tenant.id)
        assert recorded.event_type == "consent.recorded"
        assert withdrawn.event_type == "consent.withdrawn"
        assert str(withdrawn.correlation_id) == created["id"]
        assert withdrawn.payload == {
            "consent_id": created["id"],
            "phone": "+971509876543",
            "scope": "all",
            "withdrawn_at": "2026-06-12T10:01:00Z",
            "withdrawn_by": str(supervisor.id),
        }


class TestWithdrawRefused:
    async def test_withdrawing_twice_is_409_and_keeps_the_first_withdrawal(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        record: Record,
        clock: ManualClock,
    ) -> None:
        created = await record()
        await client.post(_withdraw_path(created["id"]), headers=headers)
        clock.advance(60)

        response = await client.post(_withdraw_path(created["id"]), headers=headers)

        problem = assert_problem(response, 409, "consent-already-withdrawn")
        assert problem["title"] == "Consent already withdrawn"
        assert problem["withdrawn_at"] == "2026-06-12T10:00:00Z"
        stored = await db.consent(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.withdrawn_at is not None
        assert stored.withdrawn_at.isoformat() == "2026-06-12T10:00:00+00:00"
        assert [e.event_type for e in await db.events(tenant.id)] == ["consent.recorded", "consent.withdrawn"]

    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(_withdraw_path(uuid.uuid4()), headers=headers)

        problem = assert_problem(response, 404, "consent-not-found")
        assert problem["title"] == "Consent not found"

    async def test_another_tenants_consent_is_404_and_stays_unwithdrawn(
        self,
        client: httpx.AsyncClient,
        other_tenant: Tenant,
        headers: dict[str, str],
        other_headers: dict[str, str],
        db: Db,
        record: Record,
    ) -> None:
        theirs = await record(as_=other_headers)

        response = await client.post(_withdraw_path(theirs["id"]), headers=headers)

        assert_problem(response, 404, "consent-not-found")
        stored = await db.consent(other_tenant.id, uuid.UUID(theirs["id"]))
        assert stored is not None
        assert stored.withdrawn_at is None
        assert [e.event_type for e in await db.events(other_tenant.id)] == ["consent.recorded"]

    async def test_a_malformed_id_is_400_naming_it(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(_withdraw_path("not-a-uuid"), headers=headers)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"consent_id"}

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            pytest.param(
                {"withdrawn_at": "2026-05-31T23:59:59Z"},
                "must not be before granted_at (2026-06-01T00:00:00Z)",
                id="before-the-grant",
            ),
            pytest.param(
                {"withdrawn_at": "2026-06-12T10:05:01Z"},
                "must not be more than 5 minutes in the future",
                id="more-than-five-minutes-ahead",
            ),
            pytest.param({"withdrawn_at": "2026-06-10T09:00:00"}, None, id="naive"),
            pytest.param({"withdrawn_at": "soon"}, None, id="not-a-time"),
        ],
    )
    async def test_a_bad_withdrawn_at_is_400_naming_it_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        record: Record,
        body: dict[str, str],
        message: str | None,
    ) -> None:
        created = await record(granted_at="2026-06-01T00:00:00Z")

        response = await client.post(_withdraw_path(created["id"]), headers=headers, json=body)

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"withdrawn_at"}
        if message is not None:
            assert problem["errors"] == [{"field": "withdrawn_at", "message": message}]
        stored = await db.consent(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.withdrawn_at is None
        assert [e.event_type for e in await db.events(tenant.id)] == ["consent.recorded"]

    async def test_an_unknown_field_is_400(
        self, client: httpx.AsyncClient, headers: dict[str, str], record: Record
    ) -> None:
        created = await record()

        response = await client.post(_withdraw_path(created["id"]), headers=headers, json={"reason": "asked"})

        problem = assert_problem(response, 400, "validation-error")
        assert error_fields(problem) == {"reason"}

    async def test_a_body_carrying_tenant_id_is_422_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        db: Db,
        record: Record,
    ) -> None:
        created = await record()

        response = await client.post(
            _withdraw_path(created["id"]), headers=headers, json={"tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")
        stored = await db.consent(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.withdrawn_at is None

    async def test_an_agent_may_not_withdraw_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        agent_headers: dict[str, str],
        db: Db,
        record: Record,
    ) -> None:
        created = await record()

        response = await client.post(_withdraw_path(created["id"]), headers=agent_headers)

        problem = assert_problem(response, 403, "forbidden")
        assert problem["detail"] == "Your role (agent) does not allow consents:write."
        stored = await db.consent(tenant.id, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.withdrawn_at is None

    async def test_without_a_token_it_is_401(self, client: httpx.AsyncClient, record: Record) -> None:
        created = await record()

        response = await client.post(_withdraw_path(created["id"]))

        assert_problem(response, 401, "unauthorized")
