"""Recordings: one row per recorded call, from the moment the switch starts recording to the object in storage,
and a per-tenant retention setting.

`recordings` is tenant-owned (row-level security). A row is `pending` while its audio is a local file the
switch wrote (`local_path`); the uploader makes it `stored` (an object under `object_key`, which is never shown
to clients), or `failed` when the file is gone for good; DELETE and the retention purge make it `deleted`, and
the row stays as the trace of who removed it, when and why. `next_attempt_at` is when the uploader may next try
a pending row: NULL while the switch is still recording.

The uploader and the purge work across tenants, so the app role reaches other tenants' rows only through two
SECURITY DEFINER functions that hand out ids, nothing else:
- `engage_recording_claim(batch, lease_seconds, now)`: pending rows that are due, oldest first, each leased
  (its `next_attempt_at` pushed past the lease, its `attempts` counted) so no other uploader takes it meanwhile
  and a crashed uploader's rows come back when the lease runs out.
- `engage_recording_expired(now, batch)`: stored recordings older than their tenant's retention.

Revision ID: 20261207_1000
Revises: 20261207_0900
Create Date: 2026-12-07 10:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from engage.core.db import APP_ROLE
from engage.core.rls import tenant_rls

revision = "20261207_1000"
down_revision = "20261207_0900"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

CLAIM = """
CREATE FUNCTION engage_recording_claim(p_batch integer, p_lease_seconds double precision, p_now timestamptz)
RETURNS TABLE(tenant_id uuid, recording_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH due AS (
    SELECT r.id FROM recordings r
    WHERE r.status = 'pending' AND r.next_attempt_at <= p_now
    ORDER BY r.next_attempt_at
    LIMIT p_batch
    FOR UPDATE SKIP LOCKED
  )
  UPDATE recordings r
  SET next_attempt_at = p_now + make_interval(secs => p_lease_seconds), attempts = r.attempts + 1
  FROM due WHERE r.id = due.id
  RETURNING r.tenant_id, r.id;
END $$
"""

EXPIRED = """
CREATE FUNCTION engage_recording_expired(p_now timestamptz, p_batch integer)
RETURNS TABLE(tenant_id uuid, recording_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  SELECT r.tenant_id, r.id
  FROM recording_settings s
  JOIN recordings r ON r.tenant_id = s.tenant_id
  WHERE s.retention_days IS NOT NULL
    AND r.status = 'stored'
    AND r.recorded_at < p_now - make_interval(days => s.retention_days)
  ORDER BY r.recorded_at
  LIMIT p_batch
$$
"""

FUNCTIONS = (
    ("engage_recording_claim(integer, double precision, timestamptz)", CLAIM),
    ("engage_recording_expired(timestamptz, integer)", EXPIRED),
)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("call_id", UUID(as_uuid=True), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("agent_name", sa.String(200), nullable=True),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=True),
        sa.Column("contact_phone", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("object_key", sa.String(512), nullable=False),
        sa.Column("local_path", sa.String(1024), nullable=True),
        sa.Column("duration_seconds", sa.Integer, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("stored_at", TS, nullable=True),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("deleted_by", UUID(as_uuid=True), nullable=True),
        sa.Column("deletion_reason", sa.String(16), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("call_id", name="uq_recordings_call_id"),
        sa.CheckConstraint("status IN ('pending', 'stored', 'failed', 'deleted')", name="ck_recordings_status"),
        sa.CheckConstraint(
            "deletion_reason IS NULL OR deletion_reason IN ('admin', 'retention')", name="ck_recordings_deletion"
        ),
    )
    # The listing: newest first within the tenant (RLS adds `tenant_id = …`).
    op.create_index("ix_recordings_tenant_id_id", "recordings", ["tenant_id", "id"])
    # The uploader's claim reads only due pending rows; the purge only stored ones, oldest first.
    op.execute("CREATE INDEX ix_recordings_due ON recordings (next_attempt_at) WHERE status = 'pending'")
    op.execute(
        "CREATE INDEX ix_recordings_stored_recorded_at ON recordings (tenant_id, recorded_at) WHERE status = 'stored'"
    )
    op.create_table(
        "recording_settings",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("retention_days", sa.Integer, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "retention_days IS NULL OR retention_days BETWEEN 1 AND 3650", name="ck_recording_settings_retention"
        ),
    )
    for table in ("recordings", "recording_settings"):
        for statement in tenant_rls(table):
            op.execute(statement)
    for signature, body in FUNCTIONS:
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for signature, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.drop_table("recording_settings")
    op.drop_table("recordings")
