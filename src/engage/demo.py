"""The demo tenant: one admin, one supervisor, two agents in one team, with fresh random passwords.

Idempotent: run again, it finds the demo tenant by its admin's email and gives the demo users new
passwords, so the logins it prints always work.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.core.clock import Clock
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Principal, Role
from engage.tenancy import service as tenancy
from engage.users import repository as users_repository
from engage.users import service as users
from engage.users.schemas import TeamCreate, UserCreate, UserUpdate

DEMO_DOMAIN = "demo.engage.local"


@dataclass(frozen=True, slots=True)
class DemoUser:
    email: str
    full_name: str
    role: Role
    sip_user: str | None


DEMO_USERS = (
    DemoUser(f"admin@{DEMO_DOMAIN}", "Mariam Haddad", Role.admin, None),
    DemoUser(f"supervisor@{DEMO_DOMAIN}", "Karim Nasser", Role.supervisor, None),
    DemoUser(f"layla@{DEMO_DOMAIN}", "Layla Ahmed", Role.agent, "agent_1001"),
    DemoUser(f"omar@{DEMO_DOMAIN}", "Omar Khalil", Role.agent, "agent_1002"),
)


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    role: Role
    full_name: str


@dataclass(frozen=True, slots=True)
class Demo:
    tenant_id: uuid.UUID
    logins: list[DemoLogin]


def _password() -> str:
    return secrets.token_urlsafe(12)


async def seed_demo(sessions: async_sessionmaker[AsyncSession], clock: Clock, *, rate_limit_per_minute: int) -> Demo:
    async with unscoped_transaction(sessions) as session:
        found = await users_repository.find_login(session, DEMO_USERS[0].email)
    logins = [DemoLogin(u.email, _password(), u.role, u.full_name) for u in DEMO_USERS]
    if found is not None:
        tenant_id = found[1]
        async with tenant_transaction(sessions, tenant_id) as session:
            admin = await users.get_user(session, found[0])
            for login in logins:
                match = await users_repository.find_login(session, login.email)
                if match is not None:
                    actor = Principal(user_id=admin.id, tenant_id=tenant_id, role=Role.admin)
                    await users.update_user(session, actor, match[0], UserUpdate(password=login.password), clock=clock)
        return Demo(tenant_id=tenant_id, logins=logins)
    async with unscoped_transaction(sessions) as session:
        tenant = await tenancy.create(
            session,
            name="Demo Contact Centre",
            timezone="Asia/Dubai",
            country="AE",
            rate_limit_per_minute=rate_limit_per_minute,
            clock=clock,
        )
        team = await users.create_team(session, tenant.id, TeamCreate(name="Renewals"), clock=clock)
        for spec, login in zip(DEMO_USERS, logins, strict=True):
            await users.create_user(
                session,
                tenant.id,
                UserCreate(
                    email=spec.email,
                    password=login.password,
                    full_name=spec.full_name,
                    role=spec.role,
                    sip_user=spec.sip_user,
                    team_id=team.id if spec.role is Role.agent else None,
                ),
                clock=clock,
            )
    return Demo(tenant_id=tenant.id, logins=logins)
