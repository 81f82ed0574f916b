"""A SIP user is unique in the installation, not only within a tenant.

Every tenant shares the switch: its registrations are keyed by SIP user alone (`sip_registrations`) and the dialer
rings an agent at `user/<sip_user>`. With the old per-tenant constraint, tenant B could name an agent after tenant
A's: B's agents board then showed A's phone as B's (its registration time and user agent), and B's calls could be
bridged to A's agent (found by the tenant-isolation matrix of tests/hardening/isolation).

An installation where two tenants already share a SIP user stops at this migration with a unique violation naming
it: rename one of them (`PATCH /v1/users/{id}`), then migrate again.

Revision ID: 20261210_0900
Revises: 20261209_0900
Create Date: 2026-12-10 09:00:00 UTC
"""

from __future__ import annotations

from alembic import op

revision = "20261210_0900"
down_revision = "20261209_0900"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint("uq_users_sip_user", "users", ["sip_user"])
    op.drop_constraint("uq_users_tenant_id_sip_user", "users", type_="unique")


def downgrade() -> None:
    op.create_unique_constraint("uq_users_tenant_id_sip_user", "users", ["tenant_id", "sip_user"])
    op.drop_constraint("uq_users_sip_user", "users", type_="unique")
