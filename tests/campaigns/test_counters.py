"""A campaign's counters: total_contacts, contacted and connected as the database keeps them (`campaign_stats`,
maintained by triggers on `contacts`) through uploads, DNC marking and the dialer's status changes; abandon_rate
over the last 24 h of hourly call figures (`campaign_hourly`). Seed "Campaigns", DESIGN.md §3."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from engage.campaigns.models import CampaignHourly
from engage.campaigns.service import abandon_rate
from engage.contacts.models import Contact
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant

from .conftest import Builder

COUNTERS = ("total_contacts", "contacted", "connected", "abandon_rate")


async def counters(client: httpx.AsyncClient, headers: dict[str, str], campaign_id: uuid.UUID) -> tuple[Any, ...]:
    """The counters as GET /v1/campaigns/{id} shows them, checked equal to the list's."""
    one = (await client.get(f"/v1/campaigns/{campaign_id}", headers=headers)).json()
    listed = {item["id"]: item for item in (await client.get("/v1/campaigns", headers=headers)).json()["items"]}
    assert tuple(listed[str(campaign_id)][k] for k in COUNTERS) == tuple(one[k] for k in COUNTERS)
    return tuple(one[k] for k in COUNTERS)


async def dial(runtime: Runtime, tenant: Tenant, contact_ids: Sequence[uuid.UUID], **values: Any) -> None:
    """What the dialer does to contacts: one UPDATE statement over them, in the tenant's transaction."""
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await session.execute(update(Contact).where(Contact.id.in_(contact_ids)).values(**values))


async def hourly(
    runtime: Runtime, tenant: Tenant, campaign_id: uuid.UUID, hour: datetime, *, answered: int, abandoned: int
) -> None:
    """One hour's figures as the dialer keeps them."""
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        session.add(
            CampaignHourly(
                tenant_id=tenant.id,
                campaign_id=campaign_id,
                hour=hour,
                dialled=answered * 3,
                answered=answered,
                abandoned=abandoned,
                connected=answered - abandoned,
            )
        )


class TestContactCounters:
    async def test_a_campaign_that_never_had_a_contact_counts_zeros(
        self, client: httpx.AsyncClient, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)

        assert await counters(client, headers, campaign) == (0, 0, 0, 0.0)

    async def test_contacted_and_connected_follow_the_dialers_status_changes(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        a, b, c, d = await build.contacts(tenant, campaign, 4)

        await dial(runtime, tenant, [a, b, c], status="dialing", attempts=1)
        after_dialing = await counters(client, headers, campaign)
        await dial(runtime, tenant, [a, b], status="connected")
        after_answer = await counters(client, headers, campaign)
        await dial(runtime, tenant, [a], status="completed", disposition="sale")
        await dial(runtime, tenant, [c], status="pending")  # no answer: back in the hopper for a retry
        after_wrap_up = await counters(client, headers, campaign)
        await dial(runtime, tenant, [c], status="dialing", attempts=2)
        await dial(runtime, tenant, [c], status="failed")
        await dial(runtime, tenant, [d], status="dialing", attempts=1)
        at_the_end = await counters(client, headers, campaign)

        assert after_dialing == (4, 3, 0, 0.0)
        assert after_answer == (4, 3, 2, 0.0)
        assert after_wrap_up == (4, 3, 2, 0.0)  # completed still counts as connected; a retry is still contacted
        assert at_the_end == (4, 4, 2, 0.0)

    async def test_one_statement_over_several_campaigns_updates_each_campaigns_counters(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        first, second = await build.campaign(tenant), await build.campaign(tenant)
        ones = await build.contacts(tenant, first, 2)
        twos = await build.contacts(tenant, second, 3)

        await dial(runtime, tenant, [*ones, *twos[:2]], status="connected", attempts=1)

        assert await counters(client, headers, first) == (2, 2, 2, 0.0)
        assert await counters(client, headers, second) == (3, 2, 2, 0.0)

    async def test_uploads_count_each_stored_contact_once_dnc_included(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        await client.post("/v1/dnc", headers=headers, json={"phones": ["+971509876543"]})
        url = f"/v1/campaigns/{campaign}/contacts"
        first = await client.post(
            url,
            headers=headers,
            json={"contacts": [{"phone": p} for p in ("+971501111111", "+971502222222", "+971509876543", "12")]},
        )
        # The second upload repeats a stored number and a number within itself: neither is stored twice.
        second = await client.post(
            url,
            headers=headers,
            json={"contacts": [{"phone": p} for p in ("0501111111", "+971503333333", "+971503333333")]},
        )

        assert first.status_code == 201, first.text
        assert (first.json()["imported"], first.json()["dnc_filtered"]) == (2, 1)
        assert second.json()["total_in_campaign"] == 4
        assert await counters(client, headers, campaign) == (4, 0, 0, 0.0)

    async def test_listing_a_number_later_marks_its_contacts_dnc_and_keeps_every_count(
        self, client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, headers: dict[str, str], build: Builder
    ) -> None:
        campaign = await build.campaign(tenant)
        url = f"/v1/campaigns/{campaign}/contacts"
        await client.post(url, headers=headers, json={"contacts": [{"phone": "+971501111111"}]})
        await client.post(url, headers=headers, json={"contacts": [{"phone": "+971502222222"}]})
        contacts = (await client.get(url, headers=headers)).json()["items"]
        dialled = next(c["id"] for c in contacts if c["phone"] == "+971502222222")
        await dial(runtime, tenant, [uuid.UUID(dialled)], status="dialing", attempts=1)

        listed = await client.post("/v1/dnc", headers=headers, json={"phones": ["+971501111111", "+971502222222"]})

        assert listed.status_code == 201, listed.text
        statuses = {c["phone"]: c["status"] for c in (await client.get(url, headers=headers)).json()["items"]}
        assert statuses == {"+971501111111": "dnc", "+971502222222": "dnc"}
        assert await counters(client, headers, campaign) == (2, 1, 0, 0.0)

    async def test_another_tenants_contacts_never_reach_a_campaigns_counters(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        other_tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
    ) -> None:
        ours = await build.campaign(tenant)
        theirs = await build.campaign(other_tenant)
        await build.contacts(tenant, ours, 1)
        await build.contacts(other_tenant, theirs, 5, status="connected", attempts=1)

        assert await counters(client, headers, ours) == (1, 0, 0, 0.0)


class TestAbandonRate:
    async def test_abandoned_over_answered_of_the_hours_after_now_minus_24_h(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
    ) -> None:
        campaign = await build.campaign(tenant)
        now = clock.now()  # 10:00Z
        await hourly(runtime, tenant, campaign, now - timedelta(hours=1), answered=30, abandoned=1)
        await hourly(runtime, tenant, campaign, now - timedelta(hours=23), answered=10, abandoned=2)
        # Exactly 24 h old, and older: outside the rolling window.
        await hourly(runtime, tenant, campaign, now - timedelta(hours=24), answered=100, abandoned=50)
        await hourly(runtime, tenant, campaign, now - timedelta(hours=30), answered=100, abandoned=50)

        assert (await counters(client, headers, campaign))[3] == 7.5  # 3 / 40

    async def test_an_hour_leaves_the_window_as_the_clock_moves_on(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
    ) -> None:
        campaign = await build.campaign(tenant)
        await hourly(runtime, tenant, campaign, clock.now() - timedelta(hours=2), answered=3, abandoned=1)
        await hourly(runtime, tenant, campaign, clock.now() - timedelta(hours=1), answered=7, abandoned=0)

        before = (await counters(client, headers, campaign))[3]
        clock.advance(22 * 3600)
        after = (await counters(client, headers, campaign))[3]

        assert (before, after) == (10.0, 0.0)

    async def test_no_answered_call_in_the_window_is_0(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
    ) -> None:
        campaign = await build.campaign(tenant)
        await hourly(runtime, tenant, campaign, clock.now() - timedelta(hours=1), answered=0, abandoned=0)
        await hourly(runtime, tenant, campaign, clock.now() - timedelta(hours=48), answered=9, abandoned=9)

        assert (await counters(client, headers, campaign))[3] == 0.0

    async def test_each_campaign_has_its_own_rate(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        headers: dict[str, str],
        build: Builder,
        clock: ManualClock,
    ) -> None:
        first, second = await build.campaign(tenant), await build.campaign(tenant)
        await hourly(runtime, tenant, first, clock.now() - timedelta(hours=1), answered=3, abandoned=1)
        await hourly(runtime, tenant, second, clock.now() - timedelta(hours=1), answered=8, abandoned=1)

        assert (await counters(client, headers, first))[3] == 33.3
        assert (await counters(client, headers, second))[3] == 12.5

    @pytest.mark.parametrize(
        ("abandoned", "answered", "rate"),
        [(0, 0, 0.0), (0, 5, 0.0), (1, 3, 33.3), (2, 3, 66.7), (1, 8, 12.5), (1, 16, 6.3), (3, 3, 100.0)],
    )
    def test_the_rate_is_a_percent_to_one_decimal_rounded_half_up(
        self, abandoned: int, answered: int, rate: float
    ) -> None:
        assert abandon_rate(abandoned, answered) == rate
