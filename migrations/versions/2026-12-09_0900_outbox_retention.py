"""Outbox retention: old events, and their finished webhook deliveries, are deleted in batches.

The outbox is a transport, not a record (calls, contacts and the compliance audit log are the records): once an
event has been fanned out and none of its deliveries is still pending, nothing needs it after the retention
period (`ENGAGE_EVENTS_RETENTION_DAYS`). Without this, `outbox_events` and `webhook_deliveries` grow by every
state change for ever.

- `engage_outbox_purge(before, batch)`: up to `batch` events older than `before`, fanned out, with no pending
  delivery, are deleted with their deliveries; returns how many events went (SECURITY DEFINER: it runs for every
  tenant, from the worker). Rows are locked SKIP LOCKED, so two workers purging at once share the work; a delivery
  redelivered (set pending again) meanwhile keeps its event.
- An index on `webhook_deliveries (event_id)`: the purge's look-up, and the foreign key's check when an event is
  deleted, which otherwise scans the whole table per event. A plain CREATE INDEX in the migration's transaction:
  it blocks writes to `webhook_deliveries` while it builds (seconds per million rows; see docs/operations.md).

Revision ID: 20261209_0900
Revises: 20261208_0900
Create Date: 2026-12-09 09:00:00 UTC
"""

from __future__ import annotations

from alembic import op

from engage.core.db import APP_ROLE

revision = "20261209_0900"
down_revision = "20261208_0900"
branch_labels = None
depends_on = None

SIGNATURE = "engage_outbox_purge(timestamptz, integer)"
PURGE = """
CREATE FUNCTION engage_outbox_purge(p_before timestamptz, p_batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  ids uuid[];
  gone integer;
BEGIN
  SELECT array_agg(id) INTO ids FROM (
    SELECT o.id FROM outbox_events o
    WHERE o.occurred_at < p_before AND o.fanned_out_at IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id AND d.status = 'pending')
    ORDER BY o.occurred_at
    LIMIT p_batch
    FOR UPDATE OF o SKIP LOCKED
  ) old;
  IF ids IS NULL THEN
    RETURN 0;
  END IF;
  -- Re-checked row by row as it deletes: a delivery made pending again since the look-up stays, and so does its event.
  DELETE FROM webhook_deliveries WHERE event_id = ANY (ids) AND status <> 'pending';
  DELETE FROM outbox_events o
  WHERE o.id = ANY (ids) AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = o.id);
  GET DIAGNOSTICS gone = ROW_COUNT;
  RETURN gone;
END
$$
"""


def upgrade() -> None:
    op.execute("CREATE INDEX ix_webhook_deliveries_event_id ON webhook_deliveries (event_id)")
    op.execute(PURGE)
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
    op.execute("DROP INDEX IF EXISTS ix_webhook_deliveries_event_id")
