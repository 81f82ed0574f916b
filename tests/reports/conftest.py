"""A small fixed data set whose figures are computed by hand in the tests, and the app with a local object store.

The tenant is in Dubai (UTC+4). Two campaigns, "Renewals" and "حملة الصيف" (an Arabic name), two agents, "ليلى أحمد"
and "Omar Khalil", seven calls between 1 and 12 June 2026 (and one in May, outside every range the tests ask
for), contacts in known states, and each agent's state history written as the trigger would. The clock is the
suite's `ManualClock` (2026-06-12T10:00Z).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from engage.agents.models import AgentStateHistory
from engage.calls.models import Call
from engage.contacts.models import Contact
from engage.core.db import tenant_transaction
from engage.core.ids import new_id
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..local_store_app import client, settings, store  # noqa: F401 - fixtures for this package

RANGE = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-11T23:59:59Z"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Floor:
    tenant: Tenant
    renewals: uuid.UUID
    summer: uuid.UUID
    layla: User
    omar: User
    calls: dict[str, uuid.UUID]


def _call(tenant: Tenant, campaign_id: uuid.UUID, started: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "tenant_id": tenant.id,
        "campaign_id": campaign_id,
        "contact_phone": f"+97150{secrets.randbelow(10_000_000):07d}",
        "direction": "outbound",
        "origin": "dialer",
        "status": "completed",
        "abandoned": False,
        "started_at": at(started),
        **fields,
    }


async def add_calls(runtime: Runtime, tenant: Tenant, rows: list[dict[str, Any]]) -> None:
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await session.execute(insert(Call), rows)


@pytest.fixture
async def floor(factory: Factory, runtime: Runtime, tenant: Tenant) -> Floor:
    renewals = await factory.campaign(tenant, name="Renewals")
    summer = await factory.campaign(tenant, name="حملة الصيف")
    layla = await factory.user(tenant, Role.agent, full_name="ليلى أحمد")
    omar = await factory.user(tenant, Role.agent, full_name="Omar Khalil")

    def bridged(agent: User, talk: int, disposition: str | None, answered: str) -> dict[str, Any]:
        return {
            "agent_id": agent.id,
            "answered_at": at(answered),
            "bridged_at": at(answered),
            "ended_at": at(answered) + timedelta(seconds=talk),
            "talk_time_seconds": talk,
            "duration_seconds": talk + 10,
            "disposition": disposition,
        }

    calls = {
        "c1": _call(tenant, renewals, "2026-06-10T08:00:00Z", **bridged(layla, 120, "sale", "2026-06-10T08:00:10Z")),
        "c2": _call(tenant, renewals, "2026-06-10T08:20:00Z", **bridged(layla, 60, None, "2026-06-10T08:20:10Z")),
        "c3": _call(tenant, renewals, "2026-06-10T09:10:00Z", status="no_answer", duration_seconds=30),
        "c4": _call(
            tenant, renewals, "2026-06-10T09:30:00Z", answered_at=at("2026-06-10T09:30:05Z"), abandoned=True,
            duration_seconds=8,
        ),
        "c5": _call(tenant, summer, "2026-06-11T10:00:00Z", **bridged(omar, 300, "callback", "2026-06-11T10:00:10Z")),
        "c6": _call(tenant, summer, "2026-06-11T10:05:00Z", **bridged(omar, 100, "sale", "2026-06-11T10:05:10Z")),
        "c7": _call(tenant, summer, "2026-06-11T10:10:00Z", status="busy", duration_seconds=3),
        "may": _call(tenant, renewals, "2026-05-20T10:00:00Z", **bridged(layla, 50, "sale", "2026-05-20T10:00:10Z")),
    }  # fmt: skip
    await add_calls(runtime, tenant, list(calls.values()))

    contacts = [(renewals, "completed"), (renewals, "failed"), (renewals, "pending"), (summer, "completed")]
    contacts += [(summer, "completed")]
    history = {
        layla: [
            ("2026-06-10T07:50:00Z", "available"), ("2026-06-10T08:00:00Z", "on_call"),
            ("2026-06-10T08:02:00Z", "wrap_up"), ("2026-06-10T08:03:00Z", "available"),
            ("2026-06-10T08:20:00Z", "on_call"), ("2026-06-10T08:21:00Z", "wrap_up"),
            ("2026-06-10T08:22:00Z", "break"), ("2026-06-10T08:52:00Z", "offline"),
        ],
        omar: [
            ("2026-06-11T09:55:00Z", "available"), ("2026-06-11T10:00:00Z", "on_call"),
            ("2026-06-11T10:05:00Z", "wrap_up"), ("2026-06-11T10:06:00Z", "offline"),
        ],
    }  # fmt: skip
    async with tenant_transaction(runtime.sessions, tenant.id) as session:
        await session.execute(
            insert(Contact),
            [
                {
                    "id": new_id(),
                    "tenant_id": tenant.id,
                    "campaign_id": campaign_id,
                    "phone": f"+97150{secrets.randbelow(10_000_000):07d}",
                    "custom_fields": {},
                    "status": status,
                    "attempts": 1,
                    "created_at": at("2026-06-01T00:00:00Z"),
                }
                for campaign_id, status in contacts
            ],
        )
        await session.execute(
            insert(AgentStateHistory),
            [
                {"tenant_id": tenant.id, "agent_id": agent.id, "state": state, "started_at": at(started)}
                for agent, rows in history.items()
                for started, state in rows
            ],
        )
    return Floor(tenant, renewals, summer, layla, omar, {name: row["id"] for name, row in calls.items()})
