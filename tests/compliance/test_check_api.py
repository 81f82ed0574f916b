"""POST /v1/compliance/check (both seed shapes, every check through the database), GET /v1/compliance/rules,
GET /v1/compliance/audit/{audit_ref}: roles, tenant isolation, bad input that writes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import phonenumbers
import pytest
from sqlalchemy import func, select

from engage.cli_groups.models import CliNumber
from engage.compliance import service as compliance
from engage.compliance.models import AuditEntry
from engage.consents.models import Consent
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dnc.models import DncEntry
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Registries, random_ae_mobile

SEED_KEYS = {"calling_hours", "dnc_national", "dnc_tenant", "consent", "cli_ownership"}

pytestmark = pytest.mark.usefixtures("open_hours", "registries")


async def check(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/compliance/check", headers=headers, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def audit_count(runtime: Runtime, tenant: Tenant) -> int:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.fixture
async def campaign_id(factory: Factory, tenant: Tenant) -> uuid.UUID:
    return await factory.campaign(tenant)


class TestShapes:
    async def test_an_allowed_call_has_the_seeds_allowed_shape(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign_id: uuid.UUID
    ) -> None:
        result = await check(client, headers, phone=random_ae_mobile(), campaign_id=str(campaign_id), jurisdiction="AE")

        assert set(result) == {"allowed", "rule_version", "audit_ref", "checks", "jurisdiction", "reasons"}
        assert result["allowed"] is True
        assert result["rule_version"] == "2026-06-01"
        assert result["audit_ref"].startswith("AUD-")
        # AE enables the frequency cap: the sixth key.
        assert result["checks"] == dict.fromkeys(SEED_KEYS | {"frequency_cap"}, "passed")
        assert set(result["reasons"]) == set(result["checks"])

    async def test_a_blocked_call_has_the_seeds_blocked_shape_and_reason(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign_id: uuid.UUID, open_hours: ManualClock
    ) -> None:
        open_hours.advance(8 * 3600)  # 18:00 in Dubai

        result = await check(client, headers, phone=random_ae_mobile(), campaign_id=str(campaign_id))

        assert result["allowed"] is False
        assert result["blocking_rule"] == "calling_hours"
        assert result["blocking_reason"] == "Outside permitted calling hours for AE (09:00\u201318:00 Sun\u2013Thu)."
        assert result["checks"]["calling_hours"] == "failed"
        assert result["checks"]["dnc_tenant"] == "passed"
        # Beyond the seed: Monday 09:00 in Dubai, when the calling hours open again.
        assert result["next_permitted_at"] == "2026-11-30T05:00:00Z"

    async def test_only_a_calling_hours_denial_says_when_calls_are_permitted_again(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        result = await check(client, headers, phone=random_ae_mobile(), cli=random_ae_mobile())

        assert (result["allowed"], result["blocking_rule"]) == (False, "cli_ownership")
        assert "next_permitted_at" not in result

    async def test_a_local_number_is_read_in_the_tenants_country(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        result = await check(client, headers, phone="050 123 4567")
        ref = int(result["audit_ref"].removeprefix("AUD-"))

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            entry = await session.get(AuditEntry, ref)
        assert entry is not None
        assert (entry.phone, entry.jurisdiction) == ("+971501234567", "AE")

    async def test_audit_refs_increase(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        first = await check(client, headers, phone=random_ae_mobile())
        second = await check(client, headers, phone=random_ae_mobile())

        assert int(second["audit_ref"][4:]) > int(first["audit_ref"][4:])


class TestEachCheckThroughTheDatabase:
    async def test_a_number_on_the_tenants_dnc_list(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        phone = random_ae_mobile()
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            session.add(
                DncEntry(id=new_id(), tenant_id=tenant.id, phone=phone, source="manual", added_at=runtime.clock.now())
            )

        result = await check(client, headers, phone=phone)

        assert (result["allowed"], result["blocking_rule"]) == (False, "dnc_tenant")

    async def test_another_tenants_dnc_list_does_not_block(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, factory: Factory
    ) -> None:
        other = await factory.tenant(name="Globex")
        phone = random_ae_mobile()
        async with tenant_transaction(runtime.sessions, other.id) as session:
            session.add(
                DncEntry(id=new_id(), tenant_id=other.id, phone=phone, source="manual", added_at=runtime.clock.now())
            )

        assert (await check(client, headers, phone=phone))["checks"]["dnc_tenant"] == "passed"

    async def test_a_number_on_the_national_registry(
        self, client: httpx.AsyncClient, headers: dict[str, str], registries: Registries
    ) -> None:
        phone = random_ae_mobile()
        await registries.loaded("AE", phone)

        result = await check(client, headers, phone=phone)

        assert (result["allowed"], result["blocking_rule"]) == (False, "dnc_national")

    async def test_a_registry_never_loaded_is_skipped_and_blocks_in_the_uae(
        self, client: httpx.AsyncClient, headers: dict[str, str], registries: Registries
    ) -> None:
        await registries.not_loaded("AE")
        try:
            result = await check(client, headers, phone=random_ae_mobile())
        finally:
            await registries.loaded("AE")

        assert result["checks"]["dnc_national"] == "skipped"
        assert result["reasons"]["dnc_national"] == "registry not loaded"
        assert (result["allowed"], result["blocking_rule"]) == (False, "dnc_national")

    async def test_saudi_arabia_needs_a_consent_record(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        phone = "+966551234567"

        before = await check(client, headers, phone=phone)
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            now = runtime.clock.now()
            session.add(
                Consent(
                    id=new_id(),
                    tenant_id=tenant.id,
                    phone=phone,
                    scope="marketing",
                    source="web_form",
                    granted_at=now - timedelta(days=1),
                    created_at=now,
                )
            )
        after = await check(client, headers, phone=phone)

        assert (before["allowed"], before["blocking_rule"]) == (False, "consent")
        assert after["allowed"] is True
        assert "frequency_cap" not in after["checks"]

    async def test_a_caller_id_the_tenant_does_not_own(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        result = await check(client, headers, phone=random_ae_mobile(), cli=random_ae_mobile())

        assert (result["allowed"], result["blocking_rule"]) == (False, "cli_ownership")

    async def test_a_caller_id_of_the_tenants_group_passes(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        runtime: Runtime,
        tenant: Tenant,
        campaign_id: uuid.UUID,
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            owned = await session.scalar(select(func.min(CliNumber.number)))
        result = await check(client, headers, phone=random_ae_mobile(), cli=owned)

        assert result["checks"]["cli_ownership"] == "passed"

    async def test_no_caller_id_and_no_campaign_skips_the_ownership_check(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        result = await check(client, headers, phone=random_ae_mobile())

        assert (result["checks"]["cli_ownership"], result["allowed"]) == ("skipped", True)

    async def test_an_unanswered_number_is_not_called_twice_a_day_in_the_uae(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        phone = random_ae_mobile()
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await compliance.record_attempt(
                session,
                tenant.id,
                phone=phone,
                attempted_at=runtime.clock.now() - timedelta(minutes=30),
                answered=False,
            )

        result = await check(client, headers, phone=phone)

        assert (result["allowed"], result["blocking_rule"]) == (False, "frequency_cap")

    async def test_a_final_disposition_denial_names_the_last_call(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        phone = random_ae_mobile()
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            # Recorded newest first: the reason must follow when they were made, not the order they were stored.
            for days_ago, disposition in ((1, "do_not_call"), (20, "refused")):
                await compliance.record_attempt(
                    session,
                    tenant.id,
                    phone=phone,
                    attempted_at=runtime.clock.now() - timedelta(days=days_ago),
                    answered=True,
                    disposition=disposition,
                )

        result = await check(client, headers, phone=phone)

        assert (result["allowed"], result["blocking_rule"]) == (False, "frequency_cap")
        assert "'do_not_call'" in result["reasons"]["frequency_cap"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "status", "slug", "field"),
        [
            pytest.param({"phone": "12"}, 400, "invalid-phone", "phone", id="invalid-phone"),
            pytest.param({"phone": "+97150"}, 400, "invalid-phone", "phone", id="short-e164"),
            pytest.param({}, 400, "validation-error", "phone", id="missing-phone"),
            pytest.param(
                {"phone": "+971501234567", "jurisdiction": "UAE"},
                400,
                "validation-error",
                "jurisdiction",
                id="three-letter-jurisdiction",
            ),
            pytest.param(
                {"phone": "+971501234567", "campaign_id": "x"},
                400,
                "validation-error",
                "campaign_id",
                id="bad-campaign-id",
            ),
            pytest.param({"phone": "+971501234567", "cli": "abc"}, 400, "invalid-phone", "cli", id="bad-cli"),
            pytest.param({"phone": "+971501234567", "extra": 1}, 400, "validation-error", "extra", id="unknown-field"),
        ],
    )
    async def test_bad_bodies_are_problems_naming_the_field_and_audit_nothing(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        runtime: Runtime,
        tenant: Tenant,
        body: dict[str, Any],
        status: int,
        slug: str,
        field: str,
    ) -> None:
        before = await audit_count(runtime, tenant)

        response = await client.post("/v1/compliance/check", headers=headers, json=body)

        assert field in error_fields(assert_problem(response, status, slug))
        assert await audit_count(runtime, tenant) == before

    async def test_tenant_id_in_the_body_is_422(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        response = await client.post(
            "/v1/compliance/check", headers=headers, json={"phone": "+971501234567", "tenant_id": str(uuid.uuid4())}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_another_tenants_campaign_is_404_and_audits_nothing(
        self, client: httpx.AsyncClient, headers: dict[str, str], factory: Factory, runtime: Runtime, tenant: Tenant
    ) -> None:
        theirs = await factory.campaign(await factory.tenant(name="Globex"))
        before = await audit_count(runtime, tenant)

        response = await client.post(
            "/v1/compliance/check", headers=headers, json={"phone": "+971501234567", "campaign_id": str(theirs)}
        )

        assert_problem(response, 404, "campaign-not-found")
        assert await audit_count(runtime, tenant) == before

    async def test_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post("/v1/compliance/check", json={"phone": "+971501234567"}), 401, "unauthorized")


class TestCost:
    async def test_a_check_parses_the_number_once(
        self, client: httpx.AsyncClient, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # The service parses what the caller typed and hands the parsed number to the engine, which places it
        # (country, time zones) without parsing the E.164 form again.
        parsed: list[str] = []
        parse = phonenumbers.parse

        def counting(number: str, region: str | None = None, *args: Any, **kwargs: Any) -> Any:
            parsed.append(number)
            return parse(number, region, *args, **kwargs)

        monkeypatch.setattr(phonenumbers, "parse", counting)
        local = "0" + random_ae_mobile().removeprefix("+971")  # as typed in the tenant's country

        result = await check(client, headers, phone=local)

        assert result["jurisdiction"] == "AE"
        assert parsed == [local]


class TestRolesAndAudit:
    async def test_an_agent_may_check(self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant) -> None:
        agent = await factory.user(tenant, Role.agent)

        assert "allowed" in await check(client, factory.headers(agent), phone=random_ae_mobile())

    async def test_the_audit_record_holds_the_decision_and_who_asked(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, admin: User, headers: dict[str, str]
    ) -> None:
        supervisor = await factory.user(tenant, Role.supervisor)
        phone = random_ae_mobile()
        decision = await check(client, headers, phone=phone)

        response = await client.get(
            f"/v1/compliance/audit/{decision['audit_ref']}", headers=factory.headers(supervisor)
        )

        assert response.status_code == 200, response.text
        record = response.json()
        assert record["audit_ref"] == decision["audit_ref"]
        assert (record["channel"], record["actor_user_id"], record["phone"]) == ("api", str(admin.id), phone)
        assert record["allowed"] is decision["allowed"]
        assert {k: v["outcome"] for k, v in record["checks"].items()} == decision["checks"]
        assert record["request"]["phone"] == phone
        assert len(record["hash"]) == 64

    async def test_an_agent_cannot_read_the_audit(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, headers: dict[str, str]
    ) -> None:
        agent = await factory.user(tenant, Role.agent)
        decision = await check(client, headers, phone=random_ae_mobile())

        response = await client.get(f"/v1/compliance/audit/{decision['audit_ref']}", headers=factory.headers(agent))

        assert_problem(response, 403, "forbidden")

    async def test_another_tenants_decision_is_404(
        self, client: httpx.AsyncClient, factory: Factory, headers: dict[str, str]
    ) -> None:
        other = await factory.tenant(name="Globex")
        other_admin = await factory.user(other, Role.admin)
        theirs = await check(client, factory.headers(other_admin), phone=random_ae_mobile())

        response = await client.get(f"/v1/compliance/audit/{theirs['audit_ref']}", headers=headers)

        assert_problem(response, 404, "audit-not-found")

    @pytest.mark.parametrize("ref", ["AUD-0", "AUD-999999999999", "AUD-x", "123", "AUD-99999999999999999999"])
    async def test_an_unknown_or_malformed_ref_is_404(
        self, client: httpx.AsyncClient, headers: dict[str, str], ref: str
    ) -> None:
        assert_problem(await client.get(f"/v1/compliance/audit/{ref}", headers=headers), 404, "audit-not-found")


class TestRules:
    async def test_operators_see_what_the_engine_enforces(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        response = await client.get("/v1/compliance/rules", headers=factory.headers(agent))

        assert response.status_code == 200, response.text
        by_code = {item["jurisdiction"]: item for item in response.json()["items"]}
        assert set(by_code) == {"AE", "SA", "EG", "JO", "*"}
        ae = by_code["AE"]
        assert ae["rule_version"] == "2026-06-01"
        assert ae["calling_hours"]["windows"] == [{"start": "09:00", "end": "18:00"}]
        assert ae["calling_hours"]["weekend"] == ["fri", "sat"]
        assert ae["holidays"]["country"] == "AE"
        assert by_code["SA"]["ramadan"]["windows"] == [{"start": "12:00", "end": "01:00"}]
        assert by_code["SA"]["consent"]["required"] is True
        assert by_code["EG"]["confirmed"] is False
        assert ae["frequency_cap"]["unanswered_per_day"] == 1

    async def test_rules_need_a_token(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/v1/compliance/rules"), 401, "unauthorized")
