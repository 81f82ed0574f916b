"""The campaign lifecycle: draft → active ↔ paused, active | paused → completed; every other transition a 409;
start needs a dialable contact and a logged-in assigned agent; each transition's outbox event (DESIGN.md §3,
seed "Start dialing" and "Pause dialing", issue 3 points 2 and 8)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from engage.campaigns.schemas import CampaignStatus
from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Builder, Db

SEED_NO_CONTACTS = {
    "type": "https://engage.broadnet.me/errors/campaign-no-contacts",
    "title": "Campaign has no contacts",
    "status": 409,
    "detail": "Upload contacts before starting the campaign.",
}

LEGAL = {
    ("start", CampaignStatus.draft),
    ("start", CampaignStatus.paused),
    ("pause", CampaignStatus.active),
    ("complete", CampaignStatus.active),
    ("complete", CampaignStatus.paused),
}
ILLEGAL = [
    pytest.param(action, status, id=f"{action}-{status.value}")
    for action in ("start", "pause", "complete")
    for status in CampaignStatus
    if (action, status) not in LEGAL
]


async def ready_to_start(build: Builder, tenant: Tenant) -> uuid.UUID:
    campaign = await build.campaign(tenant)
    await build.contacts(tenant, campaign, 2)
    await build.agent(tenant, campaign, state="available")
    return campaign


class TestStart:
    async def test_a_draft_with_contacts_and_a_logged_in_agent_starts_with_the_seeds_body(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await ready_to_start(build, tenant)
        clock.advance(1800)

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": str(campaign),
            "status": "active",
            "started_at": isoformat_z(clock.now()),
            "message": "Campaign dialing started.",
        }
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert (stored.status, stored.started_at, stored.updated_at) == ("active", clock.now(), clock.now())

    async def test_start_writes_a_campaign_started_event_a_crm_can_use(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await ready_to_start(build, tenant)

        await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        [event] = await db.events(tenant.id)
        assert (event.event_type, event.correlation_id, event.occurred_at) == (
            "campaign.started",
            campaign,
            clock.now(),
        )
        assert event.payload == {
            "campaign_id": str(campaign),
            "name": "Q3 Insurance Renewal",
            "status": "active",
            "previous_status": "draft",
            "dialing_mode": "progressive",
            "started_at": isoformat_z(clock.now()),
            "total_contacts": 2,
            "contacted": 0,
            "connected": 0,
        }

    @pytest.mark.parametrize("state", ["available", "break", "lunch", "training", "on_call", "wrap_up"])
    async def test_any_agent_state_but_offline_counts_as_logged_in(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, state: str
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 1)
        await build.agent(tenant, campaign, state=state)

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert response.status_code == 200, response.text

    async def test_without_contacts_it_is_the_seeds_409_and_nothing_changes(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, db: Db
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.agent(tenant, campaign, state="available")

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        body = assert_problem(response, 409, "campaign-no-contacts")
        assert {k: v for k, v in body.items() if k != "instance"} == SEED_NO_CONTACTS
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert (stored.status, stored.started_at) == ("draft", None)
        assert await db.events(tenant.id) == []

    @pytest.mark.parametrize(
        ("status", "attempts"),
        [
            pytest.param("dnc", 0, id="only-dnc"),
            pytest.param("failed", 3, id="only-failed"),
            pytest.param("completed", 1, id="only-completed"),
            pytest.param("pending", 3, id="pending-without-attempts-left"),
        ],
    )
    async def test_contacts_that_cannot_be_dialled_count_as_no_contacts(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        status: str,
        attempts: int,
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 2, status=status, attempts=attempts)
        await build.agent(tenant, campaign, state="available")

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert_problem(response, 409, "campaign-no-contacts")

    async def test_without_assigned_agents_it_is_409_campaign_no_agents(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, db: Db
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 1)
        await build.agent(tenant, None, state="available")  # logged in, but not assigned

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert_problem(response, 409, "campaign-no-agents")
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert stored.status == "draft"
        assert await db.events(tenant.id) == []

    @pytest.mark.parametrize("state", [None, "offline"], ids=["no-state-yet", "offline"])
    async def test_when_every_assigned_agent_is_offline_it_is_409_campaign_no_agents(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder, state: str | None
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 1)
        await build.agent(tenant, campaign, state=state)

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        body = assert_problem(response, 409, "campaign-no-agents")
        assert "logged in" in body["detail"]

    async def test_an_assigned_agent_since_deactivated_does_not_count(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        await build.contacts(tenant, campaign, 1)
        agent = await build.agent(tenant, campaign, state="available")
        await client.patch(f"/v1/users/{agent.id}", headers=headers, json={"is_active": False})

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert_problem(response, 409, "campaign-no-agents")

    async def test_a_paused_campaign_resumes_and_says_so_in_its_event(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant, CampaignStatus.paused)
        clock.advance(600)

        response = await client.post(f"/v1/campaigns/{campaign}/start", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json()["started_at"] == isoformat_z(clock.now())
        last = (await db.events(tenant.id))[-1]
        assert (last.event_type, last.payload["previous_status"]) == ("campaign.started", "paused")


class TestPauseAndComplete:
    async def test_pause_has_the_seeds_body_and_writes_campaign_paused(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
    ) -> None:
        campaign = await build.campaign(tenant, CampaignStatus.active)
        clock.advance(3600)

        response = await client.post(f"/v1/campaigns/{campaign}/pause", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"id": str(campaign), "status": "paused", "paused_at": isoformat_z(clock.now())}
        last = (await db.events(tenant.id))[-1]
        assert (last.event_type, last.correlation_id) == ("campaign.paused", campaign)
        assert last.payload["paused_at"] == isoformat_z(clock.now())
        assert (last.payload["status"], last.payload["previous_status"], last.payload["total_contacts"]) == (
            "paused",
            "active",
            1,
        )

    @pytest.mark.parametrize("status", [CampaignStatus.active, CampaignStatus.paused])
    async def test_complete_from_active_or_paused_writes_campaign_completed(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
        db: Db,
        status: CampaignStatus,
    ) -> None:
        campaign = await build.campaign(tenant, status)
        clock.advance(60)

        response = await client.post(f"/v1/campaigns/{campaign}/complete", headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": str(campaign),
            "status": "completed",
            "completed_at": isoformat_z(clock.now()),
        }
        last = (await db.events(tenant.id))[-1]
        assert (last.event_type, last.payload["completed_at"]) == ("campaign.completed", isoformat_z(clock.now()))
        stored = await db.campaign(tenant.id, campaign)
        assert stored is not None
        assert (stored.status, stored.completed_at) == ("completed", clock.now())


class TestIllegalTransitions:
    @pytest.mark.parametrize(("action", "status"), ILLEGAL)
    async def test_every_illegal_transition_is_409_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        action: str,
        status: CampaignStatus,
    ) -> None:
        campaign = await build.campaign(tenant, status)
        before = await db.campaign(tenant.id, campaign)
        events_before = len(await db.events(tenant.id))

        response = await client.post(f"/v1/campaigns/{campaign}/{action}", headers=headers)

        body = assert_problem(response, 409, "invalid-campaign-transition")
        assert body["campaign_status"] == status.value
        assert status.value in body["detail"]
        after = await db.campaign(tenant.id, campaign)
        assert before is not None
        assert after is not None
        assert (after.status, after.updated_at) == (before.status, before.updated_at)
        assert len(await db.events(tenant.id)) == events_before


class TestTransitionsAcrossTenantsAndRoles:
    @pytest.mark.parametrize("action", ["start", "pause", "complete"])
    async def test_another_tenants_campaign_is_404_and_nothing_changes(
        self,
        client: httpx.AsyncClient,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        db: Db,
        action: str,
    ) -> None:
        theirs = await build.campaign(other_tenant, CampaignStatus.paused)
        events_before = len(await db.events(other_tenant.id))

        response = await client.post(f"/v1/campaigns/{theirs}/{action}", headers=headers)

        assert_problem(response, 404, "campaign-not-found")
        stored = await db.campaign(other_tenant.id, theirs)
        assert stored is not None
        assert stored.status == "paused"
        assert len(await db.events(other_tenant.id)) == events_before

    async def test_a_supervisor_may_start_pause_and_complete(
        self, client: httpx.AsyncClient, tenant: Tenant, supervisor_headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await ready_to_start(build, tenant)

        for action in ("start", "pause", "complete"):
            response = await client.post(f"/v1/campaigns/{campaign}/{action}", headers=supervisor_headers)
            assert response.status_code == 200, response.text

    @pytest.mark.parametrize("action", ["start", "pause", "complete"])
    async def test_an_agent_may_not_change_a_campaigns_status(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, build: Builder, db: Db, action: str
    ) -> None:
        campaign = await build.campaign(tenant, CampaignStatus.paused if action == "start" else CampaignStatus.active)
        before = await db.campaign(tenant.id, campaign)
        agent = await factory.user(tenant, Role.agent)

        response = await client.post(f"/v1/campaigns/{campaign}/{action}", headers=factory.headers(agent))

        body = assert_problem(response, 403, "forbidden")
        assert body["detail"] == "Your role (agent) does not allow campaigns:write."
        after = await db.campaign(tenant.id, campaign)
        assert before is not None
        assert after is not None
        assert after.status == before.status
