"""Campaign data: CLI groups and their numbers, campaigns, campaign agents, agent states, contacts (with
their search text and indexes) and the tenant DNC list.

Revision ID: 20261127_0610
Revises: 20261127_0500
Create Date: 2026-11-27 06:10:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from engage.core.rls import tenant_rls

revision = "20261127_0610"
down_revision = "20261127_0500"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _tenant() -> sa.Column[object]:
    return sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False)


# Search matches Arabic the way people type it and Latin without case or accents. The same function
# normalises the stored text and the query, so they always agree. unaccent() is only STABLE (its dictionary
# could change), so it is wrapped with its dictionary named: the usual way to use it in an index.
SEARCH_FUNCTIONS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    r"""
    CREATE OR REPLACE FUNCTION engage_search_normalize(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$
      SELECT lower(public.unaccent('public.unaccent'::regdictionary,
        translate(
          regexp_replace(value, '[\u064B-\u065F\u0670\u0640]', '', 'g'),
          'أإآٱىة',
          'اااايه'
        )))
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION engage_contact_search_text(
        first_name text, last_name text, phone text, custom_fields jsonb
    ) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
      SELECT engage_search_normalize(concat_ws(' ',
        first_name, last_name, phone, ltrim(phone, '+'),
        (SELECT string_agg(value, ' ') FROM jsonb_each_text(coalesce(custom_fields, '{}'::jsonb)))
      ))
    $$
    """,
]


# The tenant DNC list and contacts meet in the database, so neither domain calls the other and both paths are
# atomic with the write that causes them: a contact inserted with a listed number is stored as `dnc`; a number
# added to the list turns that number's not-yet-final contacts (pending, dialing) into `dnc` in every campaign
# of the tenant, in the same statement. Both run as the caller, under the caller's RLS scope.
DNC_TRIGGERS = [
    """
    CREATE FUNCTION engage_contacts_mark_dnc_on_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status = 'pending' AND EXISTS (
          SELECT 1 FROM dnc_entries d WHERE d.tenant_id = NEW.tenant_id AND d.phone = NEW.phone) THEN
        NEW.status := 'dnc';
      END IF;
      RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER contacts_mark_dnc_on_insert BEFORE INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION engage_contacts_mark_dnc_on_insert()
    """,
    """
    CREATE FUNCTION engage_dnc_mark_contacts() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE contacts c SET status = 'dnc'
      FROM added a
      WHERE c.tenant_id = a.tenant_id AND c.phone = a.phone AND c.status IN ('pending', 'dialing');
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER dnc_entries_mark_contacts AFTER INSERT ON dnc_entries
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION engage_dnc_mark_contacts()
    """,
]


def upgrade() -> None:
    for statement in SEARCH_FUNCTIONS:
        op.execute(statement)

    op.create_table(
        "cli_groups",
        _id(),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_cli_groups_tenant_id_name"),
        sa.UniqueConstraint("tenant_id", "id", name="uq_cli_groups_tenant_id_id"),
    )
    op.create_table(
        "cli_numbers",
        _id(),
        _tenant(),
        sa.Column("cli_group_id", UUID(as_uuid=True), nullable=False),
        sa.Column("number", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "cli_group_id"],
            ["cli_groups.tenant_id", "cli_groups.id"],
            name="fk_cli_numbers_tenant_id_cli_group_id_cli_groups",
            ondelete="CASCADE",
        ),
        # A caller ID belongs to one group of one tenant.
        sa.UniqueConstraint("tenant_id", "number", name="uq_cli_numbers_tenant_id_number"),
    )
    op.create_index("ix_cli_numbers_cli_group_id", "cli_numbers", ["cli_group_id"])

    op.create_table(
        "campaigns",
        _id(),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dialing_mode", sa.String(16), nullable=False),
        sa.Column("cli_group_id", UUID(as_uuid=True), nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("retry_delay_minutes", sa.Integer, nullable=False),
        sa.Column("dial_ratio", sa.Numeric(4, 2), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("wrap_up_seconds", sa.Integer, nullable=False),
        sa.Column("abandon_rate_target", sa.Numeric(5, 2), nullable=False),
        sa.Column("calling_window_start", sa.Time, nullable=True),
        sa.Column("calling_window_end", sa.Time, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("paused_at", TS, nullable=True),
        sa.Column("completed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "cli_group_id"],
            ["cli_groups.tenant_id", "cli_groups.id"],
            name="fk_campaigns_tenant_id_cli_group_id_cli_groups",
        ),
        sa.UniqueConstraint("tenant_id", "id", name="uq_campaigns_tenant_id_id"),
        sa.CheckConstraint("status IN ('draft', 'active', 'paused', 'completed')", name="ck_campaigns_status"),
        sa.CheckConstraint(
            "dialing_mode IN ('preview', 'progressive', 'power', 'predictive')", name="ck_campaigns_dialing_mode"
        ),
        sa.CheckConstraint("max_attempts BETWEEN 1 AND 20", name="ck_campaigns_max_attempts"),
        sa.CheckConstraint("dial_ratio BETWEEN 1.0 AND 5.0", name="ck_campaigns_dial_ratio"),
        sa.CheckConstraint("retry_delay_minutes > 0", name="ck_campaigns_retry_delay"),
        sa.CheckConstraint(
            "(calling_window_start IS NULL) = (calling_window_end IS NULL)", name="ck_campaigns_calling_window"
        ),
    )
    op.create_index("ix_campaigns_tenant_id_status", "campaigns", ["tenant_id", "status"])

    op.create_table(
        "campaign_agents",
        _tenant(),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=False),
        sa.Column("agent_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "agent_id", name="pk_campaign_agents"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_campaign_agents_tenant_id_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_campaign_agents_agent_id", "campaign_agents", ["agent_id"])

    op.create_table(
        "agent_states",
        _tenant(),
        sa.Column("agent_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_since", TS, nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.CheckConstraint(
            "state IN ('offline', 'available', 'reserved', 'on_call', 'wrap_up', 'break', 'lunch', 'training')",
            name="ck_agent_states_state",
        ),
    )
    op.create_index("ix_agent_states_tenant_id_state", "agent_states", ["tenant_id", "state"])

    op.create_table(
        "contacts",
        _id(),
        _tenant(),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("first_name", sa.String(200), nullable=True),
        sa.Column("last_name", sa.String(200), nullable=True),
        sa.Column("custom_fields", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_call_at", TS, nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("disposition", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column(
            "search_text",
            sa.Text,
            sa.Computed("engage_contact_search_text(first_name, last_name, phone, custom_fields)", persisted=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_contacts_tenant_id_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
        # One contact per number per campaign: the upload's duplicate check is this constraint.
        sa.UniqueConstraint("campaign_id", "phone", name="uq_contacts_campaign_id_phone"),
        sa.CheckConstraint(
            "status IN ('pending', 'dialing', 'connected', 'completed', 'failed', 'dnc')", name="ck_contacts_status"
        ),
    )
    op.create_index("ix_contacts_campaign_id_status", "contacts", ["campaign_id", "status"])
    op.create_index("ix_contacts_tenant_id_phone", "contacts", ["tenant_id", "phone"])
    op.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
    op.execute("CREATE INDEX ix_contacts_search_fts ON contacts USING gin (to_tsvector('simple', search_text))")

    op.create_table(
        "dnc_entries",
        _id(),
        _tenant(),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("added_by", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.UniqueConstraint("tenant_id", "phone", name="uq_dnc_entries_tenant_id_phone"),
    )

    for table in (
        "cli_groups",
        "cli_numbers",
        "campaigns",
        "campaign_agents",
        "agent_states",
        "contacts",
        "dnc_entries",
    ):
        for statement in tenant_rls(table):
            op.execute(statement)
    for statement in DNC_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "dnc_entries",
        "contacts",
        "agent_states",
        "campaign_agents",
        "campaigns",
        "cli_numbers",
        "cli_groups",
    ):
        op.drop_table(table)
    op.execute("DROP FUNCTION IF EXISTS engage_dnc_mark_contacts()")
    op.execute("DROP FUNCTION IF EXISTS engage_contacts_mark_dnc_on_insert()")
    op.execute("DROP FUNCTION IF EXISTS engage_contact_search_text(text, text, text, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS engage_search_normalize(text)")
