"""Builders and read-backs for the call-control and preview tests: agents made ready through the API (state via
POST /v1/agents/me/state, SIP registration as the worker records it), campaigns through the real services, and
the rows and events a request left behind, read through the app role scoped to one tenant."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from engage.agents.models import AgentState
from engage.calls.models import Call
from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignAgentsAssign, CampaignUpdate, DialingMode
from engage.compliance.models import AuditEntry
from engage.contacts import service as contacts
from engage.contacts.models import Contact
from engage.contacts.schemas import ContactIn, ContactUpload
from engage.core.clock import ManualClock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.outbox import OutboxEvent
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.dialer import repository as dialer_repository
from engage.dnc.models import DncEntry
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory

# Sunday 29 November 2026, 10:00 in Dubai: inside the AE window (09:00-18:00 Sun-Thu), no holiday, not Ramadan.
OPEN_IN_DUBAI = datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Asia/Dubai")).astimezone(UTC)


def move_to(clock: ManualClock, instant: datetime) -> None:
    clock.advance((instant - clock.now()).total_seconds())


def random_ae_mobile() -> str:
    return f"+97150{secrets.randbelow(10_000_000):07d}"


@dataclass
class Desk:
    """One tenant's floor, driven through the API where the API has a route and through services where not."""

    runtime: Runtime
    factory: Factory
    client: httpx.AsyncClient
    tenant: Tenant

    @property
    def sessions(self) -> Any:
        return self.runtime.sessions

    async def agent(self, *, available: bool = True, registered: bool = True, sip: bool = True) -> User:
        user = await self.factory.user(
            self.tenant,
            Role.agent,
            full_name=f"Agent {secrets.token_hex(2)}",
            sip_user=f"a{secrets.token_hex(5)}" if sip else None,
        )
        if available:
            await self.set_state(user, "available")
        if registered and user.sip_user is not None:
            await self.register(user.sip_user)
        return user

    async def set_state(self, user: User, state: str) -> None:
        response = await self.client.post(
            "/v1/agents/me/state", headers=self.factory.headers(user), json={"state": state}
        )
        assert response.status_code == 200, response.text

    async def register(self, sip_user: str, *, registered: bool = True) -> None:
        async with unscoped_transaction(self.sessions) as session:
            await dialer_repository.record_registration(
                session, sip_user, registered=registered, at=self.runtime.clock.now()
            )

    async def campaign(
        self,
        *,
        mode: DialingMode = DialingMode.progressive,
        phones: Sequence[str] = (),
        agents: Sequence[User] = (),
        start: bool = False,
    ) -> uuid.UUID:
        campaign_id = await self.factory.campaign(self.tenant)
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            if mode is not DialingMode.progressive:
                await campaigns.update_campaign(
                    session, campaign_id, CampaignUpdate(dialing_mode=mode), clock=self.runtime.clock
                )
            if phones:
                upload = ContactUpload(
                    contacts=[ContactIn(phone=p, first_name=f"C{i}", last_name="Saleh") for i, p in enumerate(phones)]
                )
                await contacts.upload(session, self.tenant.id, campaign_id, upload, clock=self.runtime.clock)
            if agents:
                await campaigns.assign_agents(
                    session,
                    campaign_id,
                    CampaignAgentsAssign(agent_ids=[a.id for a in agents]),
                    clock=self.runtime.clock,
                )
            if start:
                await campaigns.start_campaign(session, campaign_id, clock=self.runtime.clock)
        return campaign_id

    # -- reading back ------------------------------------------------------------------------------------------------

    async def calls(self) -> list[Call]:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            return list((await session.scalars(select(Call).order_by(Call.id))).all())

    async def call(self, call_id: uuid.UUID | str) -> Call:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            found = await session.get(Call, uuid.UUID(str(call_id)))
            assert found is not None
            return found

    async def audit(self) -> list[AuditEntry]:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())

    async def events(self, event_type: str) -> list[OutboxEvent]:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            query = select(OutboxEvent).where(OutboxEvent.event_type == event_type).order_by(OutboxEvent.id)
            return list((await session.scalars(query)).all())

    async def state(self, user: User) -> AgentState:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            found = await session.get(AgentState, user.id)
            assert found is not None
            return found

    async def contacts(self, campaign_id: uuid.UUID) -> list[Contact]:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            query = select(Contact).where(Contact.campaign_id == campaign_id).order_by(Contact.id)
            return list((await session.scalars(query)).all())

    async def contact(self, contact_id: uuid.UUID | str) -> Contact:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            found = await session.get(Contact, uuid.UUID(str(contact_id)))
            assert found is not None
            return found

    async def dnc(self, phone: str) -> list[DncEntry]:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            return list((await session.scalars(select(DncEntry).where(DncEntry.phone == phone))).all())

    async def count(self, model: type[Any]) -> int:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def campaign_cli(self, campaign_id: uuid.UUID) -> str:
        async with tenant_transaction(self.sessions, self.tenant.id) as session:
            campaign = await dialer_repository.get_campaign(session, campaign_id)
            assert campaign is not None
            [number] = await dialer_repository.cli_numbers(session, campaign.cli_group_id)
            return number

    async def originate(self, user: User, destination: str | None = None, **body: Any) -> dict[str, Any]:
        """A manual call the agent places for itself; the 202 body."""
        payload = {"agent_id": str(user.id), "destination": destination or random_ae_mobile()} | body
        response = await self.client.post("/v1/calls/originate", headers=self.factory.headers(user), json=payload)
        assert response.status_code == 202, response.text
        result: dict[str, Any] = response.json()
        return result
