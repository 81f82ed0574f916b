"""Agent state history: one row per state an agent entered, written by the database as `agent_states` changes, so
reports can sum the time each agent spent available, on calls, in wrap-up or on a break over any period.

A trigger on `agent_states` (every writer: the API's state changes, the dialer's reservations and wrap-ups, a
new agent's first state) appends `(tenant, agent, state, started_at = state_since)` whenever the state or its
start changes; a state lasts until the agent's next row. It runs as the writer, under its row-level security
(the history is tenant-owned like the states). Existing agents get their current state as a first row.

Revision ID: 20261207_1100
Revises: 20261207_1000
Create Date: 2026-12-07 11:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from engage.core.db import APP_ROLE
from engage.core.rls import tenant_rls

revision = "20261207_1100"
down_revision = "20261207_1000"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

TRIGGER_FUNCTION = """
CREATE FUNCTION engage_agent_state_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state OR NEW.state_since IS DISTINCT FROM OLD.state_since THEN
    INSERT INTO agent_state_history (tenant_id, agent_id, state, started_at)
    VALUES (NEW.tenant_id, NEW.agent_id, NEW.state, NEW.state_since);
  END IF;
  RETURN NULL;
END $$
"""

TRIGGER = """
CREATE TRIGGER agent_states_history AFTER INSERT OR UPDATE ON agent_states
FOR EACH ROW EXECUTE FUNCTION engage_agent_state_history()
"""


def upgrade() -> None:
    op.create_table(
        "agent_state_history",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("agent_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
    )
    op.create_index("ix_agent_state_history_agent_id_started_at", "agent_state_history", ["agent_id", "started_at"])
    for statement in tenant_rls("agent_state_history"):
        op.execute(statement)
    # The identity column's sequence: the app role inserts through the trigger, as the writer.
    op.execute(f"GRANT USAGE ON SEQUENCE agent_state_history_id_seq TO {APP_ROLE}")
    op.execute(
        "INSERT INTO agent_state_history (tenant_id, agent_id, state, started_at) "
        "SELECT tenant_id, agent_id, state, state_since FROM agent_states"
    )
    op.execute(TRIGGER_FUNCTION)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS agent_states_history ON agent_states")
    op.execute("DROP FUNCTION IF EXISTS engage_agent_state_history()")
    op.drop_table("agent_state_history")
