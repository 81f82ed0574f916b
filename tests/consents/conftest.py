"""Fixtures for consents: callers of each role in two tenants, a helper recording through the API, and a
read-back of what the database holds (through the app role, scoped to one tenant, as the service sees it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from engage.consents.models import Consent
from engage.core.db import tenant_transaction
from engage.core.outbox import OutboxEvent
from engage.core.runtime import Runtime


@dataclass
class Db:
    """Reads rows directly, each call in a transaction of its own."""

    runtime: Runtime

    async def consents(self, tenant_id: uuid.UUID) -> Sequence[Consent]:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return (await session.scalars(select(Consent).order_by(Consent.id))).all()

    async def consent(self, tenant_id: uuid.UUID, consent_id: uuid.UUID) -> Consent | None:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return await session.get(Consent, consent_id)

    async def count(self, tenant_id: uuid.UUID) -> int:
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            return int(await session.scalar(select(func.count()).select_from(Consent)) or 0)

    async def events(self, tenant_id: uuid.UUID) -> Sequence[OutboxEvent]:
        """The tenant's `consent.*` events, oldest first."""
        async with tenant_transaction(self.runtime.sessions, tenant_id) as session:
            query = select(OutboxEvent).where(OutboxEvent.event_type.like("consent.%")).order_by(OutboxEvent.id)
            return (await session.scalars(query)).all()


@pytest.fixture
def db(runtime: Runtime) -> Db:
    return Db(runtime)


Record = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def record(client: httpx.AsyncClient, headers: dict[str, str]) -> Record:
    """POST /v1/consents as the tenant's admin (or `as_=` other headers); the 201 body."""

    async def post(as_: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
        body.setdefault("phone", "+971509876543")
        body.setdefault("source", "web_form")
        response = await client.post("/v1/consents", headers=as_ or headers, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return post
