"""The dialer: calls, maintained campaign counters, hourly campaign figures for the rolling abandon rate, the
agents' live fields, the hopper's index and preview reservations on contacts, SIP registrations, dialer
workers and campaign leases.

Leases work across tenants, so the app role reaches `dialer_workers` and `campaign_leases` only through
SECURITY DEFINER functions that touch the rows of their own work:
- `engage_dialer_heartbeat(worker, hostname, pid, now, stale_seconds)`: records the worker's heartbeat, hands
  back its leases on campaigns that are neither active nor holding live calls, takes free or stale leases (a
  worker whose heartbeat is older than `stale_seconds` has lost them) up to a fair share of the live workers,
  and returns every lease the worker holds, with the previous holder of those it has just taken over.
- `engage_dialer_release(worker)`: a graceful stop; the worker's leases are free at once.
- `engage_dialer_orphan_calls(worker, now, stale_seconds, batch)`: calls without a campaign (manual
  originations) that are waiting to be placed, or whose worker is gone, become this worker's.

Revision ID: 20261205_1000
Revises: 20261127_0930
Create Date: 2026-12-05 10:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from engage.core.db import APP_ROLE
from engage.core.rls import tenant_rls

revision = "20261205_1000"
down_revision = "20261127_0930"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
LIVE = "('dialing', 'ringing', 'answered', 'bridged')"

# Campaign counters kept by the database as contacts change, so reading them costs one row per campaign
# whatever the campaign holds. Statement-level triggers with transition tables: one UPDATE per statement,
# not per row (an upload of 10,000 contacts adds one counter update). They run as the caller, under its RLS.
COUNTER_TRIGGERS = [
    """
    CREATE FUNCTION engage_campaign_stats_on_contacts_insert() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO campaign_stats AS s (tenant_id, campaign_id, total_contacts, contacted, connected)
      SELECT n.tenant_id, n.campaign_id, count(*), count(*) FILTER (WHERE n.attempts > 0),
             count(*) FILTER (WHERE n.status IN ('connected', 'completed'))
      FROM added n GROUP BY n.tenant_id, n.campaign_id
      ON CONFLICT (campaign_id) DO UPDATE
        SET total_contacts = s.total_contacts + excluded.total_contacts,
            contacted = s.contacted + excluded.contacted,
            connected = s.connected + excluded.connected;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER contacts_campaign_stats_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION engage_campaign_stats_on_contacts_insert()
    """,
    """
    CREATE FUNCTION engage_campaign_stats_on_contacts_update() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      WITH delta AS (
        SELECT n.campaign_id,
               count(*) FILTER (WHERE n.attempts > 0 AND o.attempts = 0)
                 - count(*) FILTER (WHERE n.attempts = 0 AND o.attempts > 0) AS contacted,
               count(*) FILTER (WHERE n.status IN ('connected', 'completed')
                                  AND o.status NOT IN ('connected', 'completed'))
                 - count(*) FILTER (WHERE n.status NOT IN ('connected', 'completed')
                                      AND o.status IN ('connected', 'completed')) AS connected
        FROM changed_new n JOIN changed_old o ON o.id = n.id
        GROUP BY n.campaign_id
      )
      UPDATE campaign_stats s SET contacted = s.contacted + d.contacted, connected = s.connected + d.connected
      FROM delta d WHERE s.campaign_id = d.campaign_id AND (d.contacted <> 0 OR d.connected <> 0);
      RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION engage_campaign_stats_on_contacts_delete() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      WITH delta AS (
        SELECT o.campaign_id, count(*) AS total, count(*) FILTER (WHERE o.attempts > 0) AS contacted,
               count(*) FILTER (WHERE o.status IN ('connected', 'completed')) AS connected
        FROM removed o GROUP BY o.campaign_id
      )
      UPDATE campaign_stats s SET total_contacts = s.total_contacts - d.total, contacted = s.contacted - d.contacted,
                                  connected = s.connected - d.connected
      FROM delta d WHERE s.campaign_id = d.campaign_id;
      RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER contacts_campaign_stats_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION engage_campaign_stats_on_contacts_delete()
    """,
    """
    CREATE TRIGGER contacts_campaign_stats_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION engage_campaign_stats_on_contacts_update()
    """,
]

HEARTBEAT = f"""
CREATE FUNCTION engage_dialer_heartbeat(
    p_worker text, p_hostname text, p_pid integer, p_now timestamptz, p_stale_seconds integer
) RETURNS TABLE(tenant_id uuid, campaign_id uuid, taken_over_from text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
DECLARE
  fresh_after timestamptz := p_now - make_interval(secs => p_stale_seconds);
  live_workers integer;
  wanted integer;
  held integer;
  share integer;
BEGIN
  INSERT INTO dialer_workers AS w (id, hostname, pid, started_at, heartbeat_at)
  VALUES (p_worker, p_hostname, p_pid, p_now, p_now)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = p_now;

  -- Campaigns that no longer need a pacer: not active and no call of theirs still live.
  DELETE FROM campaign_leases l
  WHERE l.worker_id = p_worker
    AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = l.campaign_id AND c.status = 'active')
    AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = l.campaign_id AND k.status IN {LIVE});

  SELECT count(*) INTO live_workers FROM dialer_workers w WHERE w.heartbeat_at >= fresh_after;
  SELECT count(*) INTO wanted FROM campaigns c
  WHERE c.status = 'active'
     OR EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = c.id AND k.status IN {LIVE});
  SELECT count(*) INTO held FROM campaign_leases l WHERE l.worker_id = p_worker;
  share := greatest(1, ceil(wanted::numeric / greatest(live_workers, 1))::integer);

  IF held < share THEN
    RETURN QUERY
    WITH candidates AS (
      SELECT c.tenant_id, c.id AS campaign_id, l.worker_id::text AS previous
      FROM campaigns c
      LEFT JOIN campaign_leases l ON l.campaign_id = c.id
      LEFT JOIN dialer_workers w ON w.id = l.worker_id
      WHERE (c.status = 'active'
             OR EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = c.id AND k.status IN {LIVE}))
        AND (l.campaign_id IS NULL OR (l.worker_id <> p_worker AND (w.id IS NULL OR w.heartbeat_at < fresh_after)))
      ORDER BY c.started_at NULLS LAST, c.id
      LIMIT share - held
      FOR UPDATE OF c SKIP LOCKED
    ), taken AS (
      INSERT INTO campaign_leases AS l (campaign_id, tenant_id, worker_id, acquired_at)
      SELECT x.campaign_id, x.tenant_id, p_worker, p_now FROM candidates x
      ON CONFLICT (campaign_id) DO UPDATE SET worker_id = p_worker, acquired_at = p_now
        WHERE l.worker_id NOT IN (SELECT w.id FROM dialer_workers w WHERE w.heartbeat_at >= fresh_after)
      RETURNING l.campaign_id
    )
    SELECT x.tenant_id, x.campaign_id, x.previous FROM candidates x JOIN taken t ON t.campaign_id = x.campaign_id;
  END IF;

  RETURN QUERY
  SELECT l.tenant_id, l.campaign_id, NULL::text FROM campaign_leases l
  WHERE l.worker_id = p_worker AND l.acquired_at < p_now;

  -- Workers silent for ten times the stale period are forgotten (their leases were taken long ago).
  DELETE FROM dialer_workers w
  WHERE w.heartbeat_at < p_now - make_interval(secs => p_stale_seconds * 10)
    AND NOT EXISTS (SELECT 1 FROM campaign_leases l WHERE l.worker_id = w.id);
END $$
"""

RELEASE = """
CREATE FUNCTION engage_dialer_release(p_worker text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  released integer;
BEGIN
  DELETE FROM campaign_leases l WHERE l.worker_id = p_worker;
  GET DIAGNOSTICS released = ROW_COUNT;
  DELETE FROM dialer_workers w WHERE w.id = p_worker;
  RETURN released;
END $$
"""

ORPHANS = f"""
CREATE FUNCTION engage_dialer_orphan_calls(
    p_worker text, p_now timestamptz, p_stale_seconds integer, p_batch integer
) RETURNS TABLE(tenant_id uuid, call_id uuid, previous_worker text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH orphans AS (
    SELECT k.id, k.tenant_id, k.worker_id::text AS previous
    FROM calls k
    LEFT JOIN dialer_workers w ON w.id = k.worker_id
    WHERE k.campaign_id IS NULL AND k.status IN {LIVE}
      AND (k.worker_id IS NULL
           OR (k.worker_id <> p_worker
               AND (w.id IS NULL OR w.heartbeat_at < p_now - make_interval(secs => p_stale_seconds))))
    ORDER BY k.id
    LIMIT p_batch
    FOR UPDATE OF k SKIP LOCKED
  ), taken AS (
    UPDATE calls k SET worker_id = p_worker FROM orphans o WHERE k.id = o.id RETURNING k.id
  )
  SELECT o.tenant_id, o.id, o.previous FROM orphans o JOIN taken t ON t.id = o.id;
END $$
"""

FUNCTIONS = (
    ("engage_dialer_heartbeat(text, text, integer, timestamptz, integer)", HEARTBEAT),
    ("engage_dialer_release(text)", RELEASE),
    ("engage_dialer_orphan_calls(text, timestamptz, integer, integer)", ORPHANS),
)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=True),
        sa.Column("contact_id", UUID(as_uuid=True), sa.ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("agent_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("contact_phone", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False, server_default="outbound"),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("abandoned", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("disposition", sa.String(64), nullable=True),
        sa.Column("notes", sa.String(2000), nullable=True),
        sa.Column("hangup_cause", sa.String(64), nullable=True),
        sa.Column("cli", sa.String(16), nullable=True),
        sa.Column("compliance_audit_ref", sa.String(32), nullable=True),
        sa.Column("agent_leg_id", sa.String(64), nullable=True),
        sa.Column("worker_id", sa.String(64), nullable=True),
        sa.Column("placed_at", TS, nullable=True),
        sa.Column("hangup_requested_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("bridged_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("duration_seconds", sa.Integer, nullable=True),
        sa.Column("talk_time_seconds", sa.Integer, nullable=True),
        sa.Column("recording_id", UUID(as_uuid=True), nullable=True),
        sa.Column("recording_path", sa.String(1024), nullable=True),
        sa.Column("dispositioned_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_calls_tenant_id_campaign_id_campaigns",
        ),
        sa.CheckConstraint(
            "status IN ('dialing', 'ringing', 'answered', 'bridged', 'completed', 'no_answer', 'busy', 'failed', "
            "'voicemail')",
            name="ck_calls_status",
        ),
        sa.CheckConstraint("origin IN ('dialer', 'manual', 'preview', 'callback')", name="ck_calls_origin"),
    )
    op.create_index("ix_calls_tenant_id_started_at", "calls", ["tenant_id", "started_at"])
    op.create_index("ix_calls_campaign_id_id", "calls", ["campaign_id", "id"])
    op.create_index("ix_calls_agent_id_started_at", "calls", ["agent_id", "started_at"])
    op.create_index("ix_calls_contact_id", "calls", ["contact_id"])
    op.execute(f"CREATE INDEX ix_calls_live ON calls (tenant_id, campaign_id, status) WHERE status IN {LIVE}")

    op.create_table(
        "campaign_stats",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("campaign_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("total_contacts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("contacted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connected", sa.Integer, nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_campaign_stats_tenant_id_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "campaign_hourly",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=False),
        sa.Column("hour", TS, nullable=False),
        sa.Column("dialled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("answered", sa.Integer, nullable=False, server_default="0"),
        sa.Column("abandoned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connected", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("campaign_id", "hour", name="pk_campaign_hourly"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "campaign_id"],
            ["campaigns.tenant_id", "campaigns.id"],
            name="fk_campaign_hourly_tenant_id_campaign_id_campaigns",
            ondelete="CASCADE",
        ),
    )

    op.add_column("campaigns", sa.Column("abandon_lockout_hours", sa.Integer, nullable=False, server_default="72"))
    op.add_column("campaigns", sa.Column("abandon_message", sa.String(256), nullable=True))
    op.create_check_constraint("abandon_lockout", "campaigns", "abandon_lockout_hours BETWEEN 0 AND 720")

    op.add_column("agent_states", sa.Column("current_call_id", UUID(as_uuid=True), nullable=True))
    op.add_column("agent_states", sa.Column("wrap_up_until", TS, nullable=True))

    op.add_column("contacts", sa.Column("reserved_by", UUID(as_uuid=True), nullable=True))
    op.add_column("contacts", sa.Column("reserved_until", TS, nullable=True))
    op.add_column("contacts", sa.Column("callback_agent_id", UUID(as_uuid=True), nullable=True))
    # The hopper: never tried first, then due retries, in upload order (ids are UUIDv7).
    op.execute("CREATE INDEX ix_contacts_hopper ON contacts (campaign_id, (attempts > 0), id) WHERE status = 'pending'")

    op.create_table(
        "sip_registrations",
        sa.Column("sip_user", sa.String(64), primary_key=True),
        sa.Column("registered", sa.Boolean, nullable=False),
        sa.Column("registered_at", TS, nullable=True),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("user_agent", sa.String(200), nullable=True),
    )
    # Platform data (what the switch says), no tenant column: the API joins it to the tenant's own users.
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON sip_registrations TO {APP_ROLE}")

    op.create_table(
        "dialer_workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    op.create_table(
        "campaign_leases",
        sa.Column(
            "campaign_id", UUID(as_uuid=True), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
    )
    op.create_index("ix_campaign_leases_worker_id", "campaign_leases", ["worker_id"])
    # Backfill the counters of campaigns that already exist.
    op.execute(
        """
        INSERT INTO campaign_stats (tenant_id, campaign_id, total_contacts, contacted, connected)
        SELECT c.tenant_id, c.id,
               (SELECT count(*) FROM contacts x WHERE x.campaign_id = c.id),
               (SELECT count(*) FROM contacts x WHERE x.campaign_id = c.id AND x.attempts > 0),
               (SELECT count(*) FROM contacts x WHERE x.campaign_id = c.id AND x.status IN ('connected', 'completed'))
        FROM campaigns c
        """
    )
    for table in ("calls", "campaign_stats", "campaign_hourly"):
        for statement in tenant_rls(table):
            op.execute(statement)
    for statement in COUNTER_TRIGGERS:
        op.execute(statement)
    for signature, body in FUNCTIONS:
        op.execute(body)
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def downgrade() -> None:
    for signature, _ in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    op.execute("DROP TRIGGER IF EXISTS contacts_campaign_stats_update ON contacts")
    op.execute("DROP TRIGGER IF EXISTS contacts_campaign_stats_insert ON contacts")
    op.execute("DROP TRIGGER IF EXISTS contacts_campaign_stats_delete ON contacts")
    op.execute("DROP FUNCTION IF EXISTS engage_campaign_stats_on_contacts_delete()")
    op.execute("DROP FUNCTION IF EXISTS engage_campaign_stats_on_contacts_update()")
    op.execute("DROP FUNCTION IF EXISTS engage_campaign_stats_on_contacts_insert()")
    for table in (
        "campaign_leases",
        "dialer_workers",
        "sip_registrations",
        "campaign_hourly",
        "campaign_stats",
        "calls",
    ):
        op.drop_table(table)
    op.execute("DROP INDEX IF EXISTS ix_contacts_hopper")
    for column in ("callback_agent_id", "reserved_until", "reserved_by"):
        op.drop_column("contacts", column)
    for column in ("wrap_up_until", "current_call_id"):
        op.drop_column("agent_states", column)
    op.drop_constraint("ck_campaigns_abandon_lockout", "campaigns")
    for column in ("abandon_message", "abandon_lockout_hours"):
        op.drop_column("campaigns", column)
