"""Two tenants for the isolation matrix: A, whose data B must never see or touch, and B, whose admin, supervisor and
agent make every request. A's data is made through A's own API calls (and, where only the dialer writes, the rows
the dialer leaves), each kind on first use, so a test seeds only what its route needs.

Every name, email and reason of A carries A's random `mark`, and every phone of A is random: `markers()` is the
list of strings that must never appear in anything B reads. `snapshot()` is every row of A in every tenant-owned
table, read as the database owner (no row-level security), so "nothing of A changed" is one comparison.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from engage.calls.models import CallStatus
from engage.core.clock import ManualClock
from engage.core.db import unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.recordings.uploader import Uploader
from engage.tenancy.models import Tenant
from engage.users.models import User
from engage.webhooks.repository import fan_out

from ...calls.conftest import Calls
from ...factories import Factory
from ...recordings.conftest import Recorder, stored
from ...webhooks.conftest import PUBLIC_URL, WebhookDb


def random_mobile() -> str:
    """A random UAE mobile in E.164: no two tenants' numbers meet by chance."""
    return f"+97150{secrets.randbelow(10_000_000):07d}"


@dataclass
class Staff:
    """A tenant with a user of each role."""

    tenant: Tenant
    admin: User
    supervisor: User
    agent: User
    factory: Factory

    def headers(self, role: Role = Role.admin) -> dict[str, str]:
        user = {Role.admin: self.admin, Role.supervisor: self.supervisor, Role.agent: self.agent}[role]
        return self.factory.headers(user)

    @classmethod
    async def create(cls, factory: Factory, name: str, mark: str) -> Staff:
        tenant = await factory.tenant(name=f"{name} {mark}")
        return cls(
            tenant=tenant,
            admin=await factory.user(
                tenant, Role.admin, email=f"admin-{mark}@{name.lower()}.test", full_name=f"Admin {mark}"
            ),
            supervisor=await factory.user(
                tenant, Role.supervisor, email=f"supervisor-{mark}@{name.lower()}.test", full_name=f"Sara {mark}"
            ),
            agent=await factory.user(
                tenant,
                Role.agent,
                email=f"agent-{mark}@{name.lower()}.test",
                full_name=f"Omar {mark}",
                sip_user=f"agent_{mark}",
            ),
            factory=factory,
        )


async def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class TenantData:
    """One tenant's data, made through its own API on first use (each `async` accessor seeds once)."""

    staff: Staff
    client: httpx.AsyncClient
    runtime: Runtime
    clock: ManualClock
    recordings_dir: Path
    uploader: Uploader
    mark: str = field(default_factory=lambda: secrets.token_hex(5))
    phones: list[str] = field(default_factory=list)
    seeded: dict[str, Any] = field(default_factory=dict)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.staff.tenant.id

    @classmethod
    async def create(
        cls,
        name: str,
        factory: Factory,
        client: httpx.AsyncClient,
        runtime: Runtime,
        clock: ManualClock,
        recordings_dir: Path,
        uploader: Uploader,
    ) -> TenantData:
        mark = secrets.token_hex(5)
        staff = await Staff.create(factory, name, mark)
        return cls(staff, client, runtime, clock, recordings_dir, uploader, mark=mark)

    def _phone(self) -> str:
        phone = random_mobile()
        self.phones.append(phone)
        return phone

    async def _post(self, path: str, body: dict[str, Any] | None = None, role: Role = Role.admin) -> dict[str, Any]:
        return await created(await self.client.post(path, json=body, headers=self.staff.headers(role)))

    async def campaign_id(self) -> uuid.UUID:
        """A draft campaign (with its own CLI group), A's agent assigned, two contacts uploaded."""
        if "campaign" not in self.seeded:
            campaign_id = await self.staff.factory.campaign(self.staff.tenant, name=f"Campaign {self.mark}")
            self.seeded["campaign"] = campaign_id
            await self._post(f"/v1/campaigns/{campaign_id}/agents", {"agent_ids": [str(self.staff.agent.id)]})
            contacts: list[dict[str, Any]] = [
                {
                    "phone": self._phone(),
                    "first_name": f"Ahmad{self.mark}",
                    "last_name": f"Rashid {self.mark}",
                    "custom_fields": {"account_number": f"ACC-{self.mark}"},
                },
                {"phone": self._phone(), "first_name": f"Sara{self.mark}", "last_name": "Hassan"},
            ]
            uploaded = await self._post(f"/v1/campaigns/{campaign_id}/contacts", {"contacts": contacts})
            assert uploaded["imported"] == len(contacts), uploaded
            self.seeded["contact_phones"] = [contact["phone"] for contact in contacts]
        campaign: uuid.UUID = self.seeded["campaign"]
        return campaign

    async def contact_ids(self) -> list[uuid.UUID]:
        if "contacts" not in self.seeded:
            campaign_id = await self.campaign_id()
            response = await self.client.get(f"/v1/campaigns/{campaign_id}/contacts", headers=self.staff.headers())
            self.seeded["contacts"] = [uuid.UUID(item["id"]) for item in (await created(response))["items"]]
        contacts: list[uuid.UUID] = self.seeded["contacts"]
        return contacts

    async def cli_group_id(self) -> uuid.UUID:
        if "cli_group" not in self.seeded:
            campaign_id = await self.campaign_id()
            response = await self.client.get(f"/v1/campaigns/{campaign_id}", headers=self.staff.headers())
            self.seeded["cli_group"] = uuid.UUID((await created(response))["cli_group_id"])
            group = await created(
                await self.client.get(f"/v1/cli-groups/{self.seeded['cli_group']}", headers=self.staff.headers())
            )
            self.phones.extend(group["numbers"])
            self.seeded["cli_numbers"] = group["numbers"]
            self.seeded["cli_group_name"] = group["name"]
        cli_group: uuid.UUID = self.seeded["cli_group"]
        return cli_group

    async def team_id(self) -> uuid.UUID:
        if "team" not in self.seeded:
            self.seeded["team"] = uuid.UUID((await self._post("/v1/teams", {"name": f"Team {self.mark}"}))["id"])
        team: uuid.UUID = self.seeded["team"]
        return team

    async def user_id(self) -> uuid.UUID:
        """A's agent (a user the admin manages)."""
        return self.staff.agent.id

    async def agent_id(self) -> uuid.UUID:
        """A's agent, logged in (`available`) by its own request."""
        if "agent_state" not in self.seeded:
            await self._post("/v1/agents/me/state", {"state": "available", "reason": f"Ready {self.mark}"}, Role.agent)
            self.seeded["agent_state"] = True
        return self.staff.agent.id

    async def entry_id(self) -> uuid.UUID:
        """An entry of A's own DNC list."""
        if "dnc" not in self.seeded:
            await self._post("/v1/dnc", {"phones": [self._phone()], "reason": f"Opt-out {self.mark}"}, Role.supervisor)
            listed = await created(await self.client.get("/v1/dnc", headers=self.staff.headers()))
            self.seeded["dnc"] = uuid.UUID(listed["items"][0]["id"])
        entry: uuid.UUID = self.seeded["dnc"]
        return entry

    async def consent_id(self) -> uuid.UUID:
        if "consent" not in self.seeded:
            body = {"phone": self._phone(), "source": f"form-{self.mark}"}
            self.seeded["consent_phone"] = body["phone"]
            self.seeded["consent"] = uuid.UUID((await self._post("/v1/consents", body, Role.supervisor))["id"])
        consent: uuid.UUID = self.seeded["consent"]
        return consent

    async def audit_ref(self) -> str:
        """The audit reference of a compliance decision A asked for."""
        if "audit" not in self.seeded:
            body = {"phone": self._phone(), "campaign_id": str(await self.campaign_id())}
            self.seeded["audit"] = (await self._post("/v1/compliance/check", body, Role.agent))["audit_ref"]
        audit: str = self.seeded["audit"]
        return audit

    async def webhook_id(self) -> uuid.UUID:
        if "webhook" not in self.seeded:
            body = {"url": PUBLIC_URL, "events": ["dnc.added", "call.completed"], "description": f"Hook {self.mark}"}
            self.seeded["webhook"] = uuid.UUID((await self._post("/v1/webhooks", body))["id"])
        webhook: uuid.UUID = self.seeded["webhook"]
        return webhook

    async def delivery_id(self) -> uuid.UUID:
        """A delivery of A's webhook that succeeded (so redelivering it would change it)."""
        if "delivery" not in self.seeded:
            webhook_id = await self.webhook_id()
            now = self.clock.now()
            delivery = await WebhookDb(self.runtime).add_delivery(
                self.tenant_id,
                webhook_id,
                clock=self.clock,
                status="succeeded",
                attempts=1,
                next_attempt_at=None,
                last_attempt_at=now,
                last_status_code=204,
                last_latency_ms=40,
                delivered_at=now,
            )
            self.seeded["delivery"] = delivery.id
            self.seeded["delivery_event"] = delivery.event_id
        delivery_id: uuid.UUID = self.seeded["delivery"]
        return delivery_id

    async def recording_id(self) -> uuid.UUID:
        """A stored recording of a completed call of A's agent in A's campaign."""
        if "recording" not in self.seeded:
            recorder = Recorder(self.runtime, self.recordings_dir, self.clock)
            recorded = await stored(
                recorder,
                self.uploader,
                self.staff.tenant,
                agent=self.staff.agent,
                campaign_id=await self.campaign_id(),
                phone=self._phone(),
            )
            self.seeded["recording"] = recorded.recording_id
            self.seeded["recorded_call"] = recorded.call.id
        recording: uuid.UUID = self.seeded["recording"]
        return recording

    async def call_id(self) -> uuid.UUID:
        """A call of A's agent, live (bridged): hanging it up or dispositioning it would change it."""
        if "call" not in self.seeded:
            now = self.clock.now()
            calls = Calls(self.runtime)
            call = await calls.add(
                self.staff.tenant,
                started_at=now,
                status=CallStatus.bridged,
                campaign_id=await self.campaign_id(),
                agent_id=(await self.agent_id()),
                contact_phone=self._phone(),
                answered_at=now,
                bridged_at=now,
            )
            await calls.agent_on_call(self.staff.agent, call.id)
            self.seeded["call"] = call.id
        call_id: uuid.UUID = self.seeded["call"]
        return call_id

    async def everything(self) -> None:
        """Every kind of data, for the collection routes."""
        await self.team_id()
        await self.agent_id()
        await self.cli_group_id()
        await self.contact_ids()
        await self.entry_id()
        await self.consent_id()
        await self.audit_ref()
        await self.delivery_id()
        await self.recording_id()
        await self.call_id()
        response = await self.client.put(
            "/v1/recordings/retention", json={"retention_days": 33}, headers=self.staff.headers()
        )
        assert response.status_code == 200, response.text
        # Active, in preview mode: a contact of A is there to be handed out, so an agent of another tenant asking
        # for a preview (or the dialer's claim behind it) would find it if the claim crossed tenants.
        campaign_path = f"/v1/campaigns/{await self.campaign_id()}"
        preview = await self.client.patch(campaign_path, json={"dialing_mode": "preview"}, headers=self.staff.headers())
        assert preview.status_code == 200, preview.text
        await self._post(f"{campaign_path}/start")

    async def references(self) -> dict[str, str]:
        """The values a request of another tenant may name (the placeholders of `routes.READS` and `WRITES`)."""
        await self.everything()
        return {
            "campaign_id": str(await self.campaign_id()),
            "agent_id": str(await self.agent_id()),
            "team_id": str(await self.team_id()),
            "team_name": f"Team {self.mark}",
            "cli_group_id": str(await self.cli_group_id()),
            "cli_group_name": self.seeded["cli_group_name"],
            "cli_number": self.seeded["cli_numbers"][0],
            "contact_id": str((await self.contact_ids())[0]),
            "contact_phone": self.seeded["contact_phones"][0],
            "consent_phone": self.seeded["consent_phone"],
            "mark": self.mark,
        }

    def markers(self) -> list[str]:
        """What must never appear in a response to another tenant: every id, phone (with and without its `+`) and
        the mark its names, emails and reasons carry."""
        ids = [
            self.staff.tenant.id,
            self.staff.admin.id,
            self.staff.supervisor.id,
            self.staff.agent.id,
            *[value for value in self.seeded.values() if isinstance(value, uuid.UUID)],
            *self.seeded.get("contacts", []),
        ]
        audit = [self.seeded["audit"]] if "audit" in self.seeded else []
        return [
            self.mark,
            *audit,
            *(str(value) for value in ids),
            *self.phones,
            *(phone.removeprefix("+") for phone in self.phones),
        ]

    def leaks(self, text: str) -> list[str]:
        return [marker for marker in self.markers() if marker in text]


async def fan_out_webhooks(runtime: Runtime) -> None:
    """What the webhook dispatcher does first, for every tenant: each outbox event becomes a delivery for each
    subscription of its tenant that wants it (run to the end, in batches)."""
    for _ in range(100):
        async with unscoped_transaction(runtime.sessions) as session:
            if await fan_out(session, 500, runtime.clock.now()) == 0:
                return
    raise AssertionError("the outbox was still fanning out after 100 batches")


async def tenant_tables(owner: asyncpg.Connection) -> list[str]:
    """Every table with a `tenant_id` column: found, not listed, so a new table is covered the day it appears."""
    rows = await owner.fetch(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_name = 'tenant_id' "
        "AND table_name IN (SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE') ORDER BY table_name"
    )
    return [row["table_name"] for row in rows]


async def snapshot(owner: asyncpg.Connection, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of the tenant, table by table, as sorted JSON texts (and its `tenants` row)."""
    taken: dict[str, list[str]] = {}
    for table in [*await tenant_tables(owner), "tenants"]:
        column = "id" if table == "tenants" else "tenant_id"
        statement = f'SELECT to_jsonb(t)::text AS row FROM "{table}" t WHERE {column} = $1'  # noqa: S608 - catalogue names
        rows = await owner.fetch(statement, tenant_id)
        taken[table] = sorted(row["row"] for row in rows)
    return taken


def changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """Per table, the rows that went and the rows that came (empty: nothing changed)."""
    found: dict[str, dict[str, list[str]]] = {}
    for table in sorted(set(before) | set(after)):
        gone = sorted(set(before.get(table, [])) - set(after.get(table, [])))
        came = sorted(set(after.get(table, [])) - set(before.get(table, [])))
        if gone or came:
            found[table] = {"gone": gone, "came": came}
    return found
