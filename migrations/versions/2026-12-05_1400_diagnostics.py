"""Campaign diagnostics: each worker's switch connectivity, the lease holder of one campaign, and an index.

- `dialer_workers.switch_connected`: whether the worker's switch connection was up at its last heartbeat (NULL
  for a row written before this revision).
- `engage_dialer_heartbeat(worker, hostname, pid, now, stale_seconds, switch_connected)` replaces the version
  without the flag (20261205_1000): the same lease work, and the flag recorded on the worker's row.
- `engage_dialer_lease_holder(campaign)`: the worker holding the campaign's lease (id, hostname, pid, when it took
  the lease, its last heartbeat and switch connectivity); no row when nobody holds it. The app role cannot read
  `dialer_workers` or `campaign_leases`, so `GET /v1/campaigns/{id}/diagnostics` asks this SECURITY DEFINER
  function, which answers only for a campaign of the transaction's tenant (`engage_current_tenant()`).
- `ix_compliance_audit_dialer_denials`: the dialer's recent compliance denials of one campaign (diagnostics'
  `blocked` counts), a small partial index on the otherwise tenant-and-sequence-ordered audit log.

Revision ID: 20261205_1400
Revises: 20261205_1000
Create Date: 2026-12-05 14:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engage.core.db import APP_ROLE

revision = "20261205_1400"
down_revision = "20261205_1000"
branch_labels = None
depends_on = None

LIVE = "('dialing', 'ringing', 'answered', 'bridged')"
OLD_HEARTBEAT_SIGNATURE = "engage_dialer_heartbeat(text, text, integer, timestamptz, integer)"
HEARTBEAT_SIGNATURE = "engage_dialer_heartbeat(text, text, integer, timestamptz, integer, boolean)"
LEASE_HOLDER_SIGNATURE = "engage_dialer_lease_holder(uuid)"

# The lease work of 20261205_1000's function, unchanged; only the worker row's upsert differs between the two.
_HEARTBEAT_TEMPLATE = """
CREATE FUNCTION engage_dialer_heartbeat(
    p_worker text, p_hostname text, p_pid integer, p_now timestamptz, p_stale_seconds integer{extra_parameter}
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
  {upsert}

  -- Campaigns that no longer need a pacer: not active and no call of theirs still live.
  DELETE FROM campaign_leases l
  WHERE l.worker_id = p_worker
    AND NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = l.campaign_id AND c.status = 'active')
    AND NOT EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = l.campaign_id AND k.status IN {live});

  SELECT count(*) INTO live_workers FROM dialer_workers w WHERE w.heartbeat_at >= fresh_after;
  SELECT count(*) INTO wanted FROM campaigns c
  WHERE c.status = 'active'
     OR EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = c.id AND k.status IN {live});
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
             OR EXISTS (SELECT 1 FROM calls k WHERE k.campaign_id = c.id AND k.status IN {live}))
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

HEARTBEAT = _HEARTBEAT_TEMPLATE.format(
    extra_parameter=", p_switch_connected boolean",
    upsert="""INSERT INTO dialer_workers AS w (id, hostname, pid, started_at, heartbeat_at, switch_connected)
  VALUES (p_worker, p_hostname, p_pid, p_now, p_now, p_switch_connected)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = p_now, switch_connected = p_switch_connected;""",
    live=LIVE,
)

OLD_HEARTBEAT = _HEARTBEAT_TEMPLATE.format(
    extra_parameter="",
    upsert="""INSERT INTO dialer_workers AS w (id, hostname, pid, started_at, heartbeat_at)
  VALUES (p_worker, p_hostname, p_pid, p_now, p_now)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = p_now;""",
    live=LIVE,
)

LEASE_HOLDER = """
CREATE FUNCTION engage_dialer_lease_holder(p_campaign uuid)
RETURNS TABLE(
    worker_id text, hostname text, pid integer, acquired_at timestamptz, heartbeat_at timestamptz,
    switch_connected boolean
)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  -- The tenant filter is ours to apply: a SECURITY DEFINER function runs as the owner, past row-level security.
  SELECT l.worker_id::text, w.hostname::text, w.pid, l.acquired_at, w.heartbeat_at, w.switch_connected
  FROM campaign_leases l
  LEFT JOIN dialer_workers w ON w.id = l.worker_id
  WHERE l.campaign_id = p_campaign AND l.tenant_id = engage_current_tenant()
$$
"""


def _grant(signature: str) -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {APP_ROLE}")


def upgrade() -> None:
    op.add_column("dialer_workers", sa.Column("switch_connected", sa.Boolean, nullable=True))
    op.execute(f"DROP FUNCTION {OLD_HEARTBEAT_SIGNATURE}")
    op.execute(HEARTBEAT)
    _grant(HEARTBEAT_SIGNATURE)
    op.execute(LEASE_HOLDER)
    _grant(LEASE_HOLDER_SIGNATURE)
    op.execute(
        "CREATE INDEX ix_compliance_audit_dialer_denials ON compliance_audit (campaign_id, decided_at) "
        "WHERE NOT allowed AND channel = 'dialer'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_compliance_audit_dialer_denials")
    op.execute(f"DROP FUNCTION IF EXISTS {LEASE_HOLDER_SIGNATURE}")
    op.execute(f"DROP FUNCTION IF EXISTS {HEARTBEAT_SIGNATURE}")
    op.execute(OLD_HEARTBEAT)
    _grant(OLD_HEARTBEAT_SIGNATURE)
    op.drop_column("dialer_workers", "switch_connected")
