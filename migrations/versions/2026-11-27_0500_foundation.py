"""Foundation: tenants, teams, users, refresh tokens, the outbox; the app role and row-level security.

Revision ID: 20261127_0500
Revises:
Create Date: 2026-11-27 05:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from engage.core.db import APP_ROLE
from engage.core.rls import CREATE_APP_ROLE, CURRENT_TENANT_FUNCTION, GRANT_APP_ROLE_TO_OWNER, tenant_rls

revision = "20261127_0500"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants")


def upgrade() -> None:
    op.execute(CREATE_APP_ROLE)
    op.execute(GRANT_APP_ROLE_TO_OWNER)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(CURRENT_TENANT_FUNCTION)

    op.create_table(
        "tenants",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Dubai"),
        sa.Column("country", sa.String(2), nullable=False, server_default="AE"),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False, server_default="2000"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("rate_limit_per_minute > 0", name="ck_tenants_rate_limit_positive"),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="ck_tenants_country_alpha2"),
    )
    for statement in tenant_rls("tenants", column="id"):
        op.execute(statement)

    op.create_table(
        "teams",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _tenant_fk("teams"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_teams_tenant_id_name"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_teams_tenant_id_id"),
    )
    op.create_index("ix_teams_tenant_id", "teams", ["tenant_id"])
    for statement in tenant_rls("teams"):
        op.execute(statement)

    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sip_user", sa.String(64), nullable=True),
        sa.Column("team_id", UUID(as_uuid=True), nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.Column("sessions_revoked_at", TS, nullable=False),
        _tenant_fk("users"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "team_id"],
            ["teams.tenant_id", "teams.id"],
            name="fk_users_tenant_id_team_id_teams",
        ),
        sa.UniqueConstraint("tenant_id", "sip_user", name="uq_users_tenant_id_sip_user"),
        sa.CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="ck_users_role"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    # Login has no tenant field, so an email names one user in the whole installation, whatever its case.
    op.execute("CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email))")
    for statement in tenant_rls("users"):
        op.execute(statement)

    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        _tenant_fk("refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_tenant_id", "refresh_tokens", ["tenant_id"])
    op.create_index("ix_refresh_tokens_user_id", "refresh_tokens", ["user_id"])
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    for statement in tenant_rls("refresh_tokens"):
        op.execute(statement)

    op.create_table(
        "outbox_events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        _tenant_fk("outbox_events"),
    )
    op.create_index("ix_outbox_events_tenant_id", "outbox_events", ["tenant_id"])
    op.create_index("ix_outbox_events_occurred_at", "outbox_events", ["occurred_at"])
    for statement in tenant_rls("outbox_events"):
        op.execute(statement)

    # The two look-ups that must cross tenants, and nothing more: they return ids only, run as the schema
    # owner (so RLS does not hide the row) and are the only SECURITY DEFINER code the app role may call.
    op.execute(
        """
        CREATE FUNCTION engage_login_lookup(p_email text)
        RETURNS TABLE (user_id uuid, tenant_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$ SELECT id, tenant_id FROM users WHERE lower(email) = lower(p_email) $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION engage_refresh_lookup(p_hash bytea)
        RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
        AS $$ SELECT tenant_id FROM refresh_tokens WHERE token_hash = p_hash $$
        """
    )
    for function in ("engage_login_lookup(text)", "engage_refresh_lookup(bytea)"):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS engage_refresh_lookup(bytea)")
    op.execute("DROP FUNCTION IF EXISTS engage_login_lookup(text)")
    for table in ("outbox_events", "refresh_tokens", "users", "teams", "tenants"):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS engage_current_tenant()")
