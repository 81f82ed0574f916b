"""Webhooks: subscriptions, one delivery row per (event, subscription), and the outbox's fan-out mark.

The dispatcher works across tenants, which row-level security forbids the app role. It does so only through
three SECURITY DEFINER functions that return and touch the rows of its own work and nothing else:
- `engage_webhook_fan_out(batch, now)`: takes outbox events not yet fanned out (oldest first, FOR UPDATE SKIP
  LOCKED, so several dispatchers share the work), creates a pending delivery for every active subscription of
  the event's tenant that wants its type, and marks the events fanned out; returns how many events it took.
- `engage_webhook_claim(batch, lease_seconds, now)`: leases due deliveries (FOR UPDATE SKIP LOCKED) by setting
  `leased_until`, and returns what sending needs: the envelope's fields, the URL and the signing secrets.
- `engage_webhook_settle(delivery_id, ...)`: records one attempt's result and the next retry (or the end).
A dispatcher killed mid-batch leaves its leases to expire: those deliveries are sent again (at-least-once).

Revision ID: 20261127_0930
Revises: 20261127_0830
Create Date: 2026-11-27 09:30:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from engage.core.db import APP_ROLE
from engage.core.rls import tenant_rls

revision = "20261127_0930"
down_revision = "20261127_0830"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# A UUIDv7 (time-ordered, like every id Engage makes) from SQL: PostgreSQL 15 has only v4. The first 48 bits
# become the Unix time in milliseconds; bits 52 and 53 turn v4's version nibble (0100) into 7 (0111).
UUID7 = """
CREATE FUNCTION engage_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
    FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$
"""

FAN_OUT = """
-- p_now is the dispatcher's clock, like the claim's: a delivery made "now" is due by the same clock that claims it.
CREATE FUNCTION engage_webhook_fan_out(p_batch integer, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  taken integer;
BEGIN
  WITH batch AS (
    SELECT id, tenant_id, event_type, occurred_at
    FROM outbox_events
    WHERE fanned_out_at IS NULL
    ORDER BY occurred_at, id
    LIMIT p_batch
    FOR UPDATE SKIP LOCKED
  ), deliveries AS (
    INSERT INTO webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, occurred_at, status,
                                    attempts, next_attempt_at, created_at)
    SELECT engage_uuid7(), b.tenant_id, s.id, b.id, b.event_type, b.occurred_at, 'pending', 0, p_now, p_now
    FROM batch b
    JOIN webhook_subscriptions s
      ON s.tenant_id = b.tenant_id AND s.is_active AND b.event_type = ANY (s.events)
    ON CONFLICT (subscription_id, event_id) DO NOTHING
  ), marked AS (
    UPDATE outbox_events o SET fanned_out_at = p_now FROM batch b WHERE o.id = b.id RETURNING o.id
  )
  SELECT count(*) INTO taken FROM marked;
  RETURN taken;
END
$$
"""

CLAIM = """
CREATE FUNCTION engage_webhook_claim(p_batch integer, p_lease_seconds double precision, p_now timestamptz)
RETURNS TABLE (
  delivery_id uuid, subscription_id uuid, tenant_id uuid, event_id uuid, event_type text, occurred_at timestamptz,
  correlation_id uuid, payload jsonb, attempts integer, url text, secret text, previous_secret text
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  RETURN QUERY
  WITH due AS (
    SELECT d.id
    FROM webhook_deliveries d
    -- A deactivated subscription's deliveries wait (they go out again if it is switched back on).
    JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.is_active
    WHERE d.status = 'pending' AND d.next_attempt_at <= p_now
      AND (d.leased_until IS NULL OR d.leased_until < p_now)
    ORDER BY d.next_attempt_at, d.occurred_at
    LIMIT p_batch
    FOR UPDATE OF d SKIP LOCKED
  ), leased AS (
    UPDATE webhook_deliveries d
    SET leased_until = p_now + make_interval(secs => p_lease_seconds)
    FROM due WHERE d.id = due.id
    RETURNING d.*
  )
  -- RETURN QUERY wants the declared types exactly: the varchar columns are cast to the declared text.
  SELECT l.id, l.subscription_id, l.tenant_id, l.event_id, l.event_type::text, l.occurred_at, o.correlation_id,
         o.payload, l.attempts, s.url::text, s.secret::text,
         CASE WHEN s.previous_secret_expires_at > p_now THEN s.previous_secret::text END
  FROM leased l
  JOIN webhook_subscriptions s ON s.id = l.subscription_id
  JOIN outbox_events o ON o.id = l.event_id
  ORDER BY l.occurred_at;
END
$$
"""

SETTLE = """
CREATE FUNCTION engage_webhook_settle(
  p_delivery_id uuid, p_succeeded boolean, p_status_code integer, p_error text, p_latency_ms integer,
  p_attempted_at timestamptz, p_next_attempt_at timestamptz
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  UPDATE webhook_deliveries
  SET attempts = attempts + 1,
      last_attempt_at = p_attempted_at,
      last_status_code = p_status_code,
      last_error = p_error,
      last_latency_ms = p_latency_ms,
      leased_until = NULL,
      status = CASE WHEN p_succeeded THEN 'succeeded' WHEN p_next_attempt_at IS NULL THEN 'failed' ELSE 'pending' END,
      delivered_at = CASE WHEN p_succeeded THEN p_attempted_at END,
      next_attempt_at = CASE WHEN p_succeeded THEN NULL ELSE p_next_attempt_at END
  WHERE id = p_delivery_id
$$
"""


def upgrade() -> None:
    op.add_column("outbox_events", sa.Column("fanned_out_at", TS, nullable=True))
    op.execute(
        "CREATE INDEX ix_outbox_events_not_fanned_out ON outbox_events (occurred_at, id) WHERE fanned_out_at IS NULL"
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("events", ARRAY(sa.String(64)), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        # The receiver verifies with it, so it is kept, not hashed; it is returned once, on creation (and rotation).
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("previous_secret", sa.String(128), nullable=True),
        sa.Column("previous_secret_expires_at", TS, nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_webhook_subscriptions_tenant_id", "webhook_subscriptions", ["tenant_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column(
            "subscription_id",
            UUID(as_uuid=True),
            sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_id", UUID(as_uuid=True), sa.ForeignKey("outbox_events.id"), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("leased_until", TS, nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("last_latency_ms", sa.Integer, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_subscription_id_event_id"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="ck_webhook_deliveries_status"),
    )
    op.execute(
        "CREATE INDEX ix_webhook_deliveries_due ON webhook_deliveries (next_attempt_at, occurred_at) "
        "WHERE status = 'pending'"
    )
    op.create_index("ix_webhook_deliveries_subscription_id_id", "webhook_deliveries", ["subscription_id", "id"])
    for table in ("webhook_subscriptions", "webhook_deliveries"):
        for statement in tenant_rls(table):
            op.execute(statement)
    for statement in (UUID7, FAN_OUT, CLAIM, SETTLE):
        op.execute(statement)
    for function in (
        "engage_webhook_fan_out(integer, timestamptz)",
        "engage_webhook_claim(integer, double precision, timestamptz)",
        "engage_webhook_settle(uuid, boolean, integer, text, integer, timestamptz, timestamptz)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {APP_ROLE}")


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS engage_webhook_settle(uuid, boolean, integer, text, integer, timestamptz, timestamptz)"
    )
    op.execute("DROP FUNCTION IF EXISTS engage_webhook_claim(integer, double precision, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS engage_webhook_fan_out(integer, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS engage_uuid7()")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.execute("DROP INDEX IF EXISTS ix_outbox_events_not_fanned_out")
    op.drop_column("outbox_events", "fanned_out_at")
