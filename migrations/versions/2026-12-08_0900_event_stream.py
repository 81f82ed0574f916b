"""The live event stream: each outbox event's transaction id, the order in which the stream delivers, exactly.

Event ids are UUIDv7 made in Python before commit, so ordering by id alone can miss an event whose transaction
commits after a later id was delivered. `outbox_events.xid` is the writing transaction's id (`xid8`, filled by
the column default, the top-level transaction even inside a savepoint). Any snapshot's `xmin` is a horizon: every
transaction below it has ended, so the committed rows with `xid < xmin` are final and no transaction can add one
below it later. The stream reads in `(xid, id)` order, only below the horizon, and its cursor is `(xid, id)`.

- `engage_events_after(xid, id, limit)`: the rows of every tenant after the cursor and below the horizon, in
  cursor order (SECURITY DEFINER: the API process's hub fans them out to the tenants' streams; the app role
  cannot read across tenants otherwise).
- `engage_events_horizon()`: the horizon now, the hub's starting cursor `(xmin, nil uuid)`.
- A statement-level trigger `pg_notify('engage_events', '')` on insert: one notification per statement,
  delivered at commit, folded into one per transaction by PostgreSQL, so the hubs read at once rather than at
  their next poll.

Adding a column with a volatile default rewrites `outbox_events` (a brief exclusive lock); the rows written
before it all carry this migration's transaction id, below every later one.

Revision ID: 20261208_0900
Revises: 20261207_1100
Create Date: 2026-12-08 09:00:00 UTC
"""

from __future__ import annotations

from alembic import op

from engage.core.db import APP_ROLE

revision = "20261208_0900"
down_revision = "20261207_1100"
branch_labels = None
depends_on = None

AFTER = """
CREATE FUNCTION engage_events_after(p_xid xid8, p_id uuid, p_limit integer)
RETURNS TABLE (
  xid xid8, id uuid, tenant_id uuid, event_type text, payload jsonb, correlation_id uuid, occurred_at timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  -- One statement, one snapshot: the horizon and the rows come from the same one.
  SELECT o.xid, o.id, o.tenant_id, o.event_type::text, o.payload, o.correlation_id, o.occurred_at
  FROM outbox_events o
  WHERE (o.xid, o.id) > (p_xid, p_id) AND o.xid < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY o.xid, o.id
  LIMIT p_limit
$$
"""

HORIZON = """
CREATE FUNCTION engage_events_horizon() RETURNS TABLE (xid xid8, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$ SELECT pg_snapshot_xmin(pg_current_snapshot()), '00000000-0000-0000-0000-000000000000'::uuid $$
"""

NOTIFY_FUNCTION = """
CREATE FUNCTION engage_events_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM pg_notify('engage_events', '');
  RETURN NULL;
END $$
"""

NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
FOR EACH STATEMENT EXECUTE FUNCTION engage_events_notify()
"""

FUNCTIONS = (
    ("engage_events_after(xid8, uuid, integer)", AFTER),
    ("engage_events_horizon()", HORIZON),
)


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    # The hub reads across tenants in cursor order; a stream's replay reads its tenant's range.
    op.execute("CREATE INDEX ix_outbox_events_xid_id ON outbox_events (xid, id)")
    op.execute("CREATE INDEX ix_outbox_events_tenant_id_xid_id ON outbox_events (tenant_id, xid, id)")
    for signature, body in FUNCTIONS:
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")
    op.execute(NOTIFY_FUNCTION)
    op.execute(NOTIFY_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events")
    op.execute("DROP FUNCTION IF EXISTS engage_events_notify()")
    for signature, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP INDEX IF EXISTS ix_outbox_events_tenant_id_xid_id")
    op.execute("DROP INDEX IF EXISTS ix_outbox_events_xid_id")
    op.execute("ALTER TABLE outbox_events DROP COLUMN IF EXISTS xid")
