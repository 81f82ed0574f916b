"""Builders for test data, going through the real services (never around them)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from engage.campaigns import service as campaigns
from engage.campaigns.schemas import CampaignCreate, DialingMode
from engage.cli_groups import service as cli_groups
from engage.cli_groups.schemas import CliGroupCreate
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy import service as tenancy
from engage.tenancy.models import Tenant
from engage.users import service as users
from engage.users.models import User
from engage.users.schemas import TeamCreate, UserCreate

PASSWORD = "correct horse battery"


@dataclass
class Factory:
    runtime: Runtime

    async def tenant(self, *, name: str = "Acme", rate_limit_per_minute: int = 2000) -> Tenant:
        async with unscoped_transaction(self.runtime.sessions) as session:
            return await tenancy.create(
                session,
                name=name,
                timezone="Asia/Dubai",
                country="AE",
                rate_limit_per_minute=rate_limit_per_minute,
                clock=self.runtime.clock,
            )

    async def user(
        self,
        tenant: Tenant,
        role: Role = Role.admin,
        *,
        email: str | None = None,
        password: str = PASSWORD,
        full_name: str = "Layla Ahmed",
        sip_user: str | None = None,
        team_id: uuid.UUID | None = None,
    ) -> User:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            return await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=email or f"{role.value}-{secrets.token_hex(6)}@acme.test",
                    password=password,
                    full_name=full_name,
                    role=role,
                    sip_user=sip_user,
                    team_id=team_id,
                ),
                clock=self.runtime.clock,
            )

    async def team(self, tenant: Tenant, name: str | None = None) -> uuid.UUID:
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            team = await users.create_team(
                session, tenant.id, TeamCreate(name=name or f"Team {secrets.token_hex(3)}"), clock=self.runtime.clock
            )
            return team.id

    async def campaign(self, tenant: Tenant, *, name: str = "Q3 Insurance Renewal") -> uuid.UUID:
        """A draft campaign with a CLI group of its own, made by the campaigns and CLI-groups services."""
        # CLI numbers are unique within a tenant, so each group gets a random UAE mobile.
        number = f"+97150{secrets.randbelow(10_000_000):07d}"
        async with tenant_transaction(self.runtime.sessions, tenant.id) as session:
            group = await cli_groups.create_group(
                session,
                tenant.id,
                CliGroupCreate(name=f"{name} {secrets.token_hex(4)}", numbers=[number]),
                clock=self.runtime.clock,
            )
            view = await campaigns.create_campaign(
                session,
                tenant.id,
                CampaignCreate(name=name, dialing_mode=DialingMode.progressive, cli_group_id=group.id),
                clock=self.runtime.clock,
            )
            return view.campaign.id

    def token(self, user: User) -> str:
        """An access token as login would issue it (login itself is tested in tests/auth)."""
        return self.runtime.tokens.issue(
            user_id=user.id, tenant_id=user.tenant_id, role=user.role, now=self.runtime.clock.now()
        )

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}
