"""Compliance: national DNC registries (platform-wide), consents, dial attempts (for frequency caps) and the
tamper-evident audit log of every compliance decision.

The audit log is one chain for the installation. A BEFORE INSERT trigger, running as the schema owner, locks
the chain head, gives the row the next `seq` (so `AUD-<seq>` is unique and increasing, in chain order) and
stores `hash = sha256(prev_hash || the row's canonical JSON)`. Other triggers refuse UPDATE, DELETE and
TRUNCATE, and the app role is granted SELECT and INSERT only. `engage audit verify` recomputes the chain.

Revision ID: 20261127_0830
Revises: 20261127_0800
Create Date: 2026-11-27 08:30:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from engage.core.db import APP_ROLE
from engage.core.rls import tenant_rls

revision = "20261127_0830"
down_revision = "20261127_0800"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# The canonical content of an audit row: jsonb's text form is deterministic (keys sorted, no insignificant
# whitespace), the instant is written in UTC to the microsecond.
AUDIT_DIGEST = """
CREATE FUNCTION engage_audit_digest(prev_hash text, r compliance_audit) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, public
AS $$
  SELECT encode(sha256(convert_to(coalesce(prev_hash, '') || jsonb_build_object(
    'seq', r.seq,
    'tenant_id', r.tenant_id,
    'decided_at', to_char(r.decided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'channel', r.channel,
    'actor_user_id', r.actor_user_id,
    'campaign_id', r.campaign_id,
    'phone', r.phone,
    'jurisdiction', r.jurisdiction,
    'rule_version', r.rule_version,
    'allowed', r.allowed,
    'blocking_rule', r.blocking_rule,
    'blocking_reason', r.blocking_reason,
    'checks', r.checks,
    'request', r.request
  )::text, 'UTF8')), 'hex')
$$
"""

AUDIT_CHAIN = """
CREATE FUNCTION engage_audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  head record;
BEGIN
  -- Waits for any other transaction that is appending, then reads the head it left.
  SELECT last_seq, last_hash INTO head FROM compliance_audit_head WHERE id = 1 FOR UPDATE;
  NEW.seq := head.last_seq + 1;
  NEW.prev_hash := head.last_hash;
  NEW.hash := engage_audit_digest(head.last_hash, NEW);
  UPDATE compliance_audit_head SET last_seq = NEW.seq, last_hash = NEW.hash WHERE id = 1;
  RETURN NEW;
END
$$
"""

AUDIT_REFUSE = """
CREATE FUNCTION engage_audit_refuse() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'compliance_audit is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _id() -> sa.Column[object]:
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _tenant() -> sa.Column[object]:
    return sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("tenants.id"), nullable=False)


def upgrade() -> None:
    # National registries: platform data, the same for every tenant; the app role only reads them.
    op.create_table(
        "registry_numbers",
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("jurisdiction", "phone", name="pk_registry_numbers"),
    )
    op.create_table(
        "registry_loads",
        sa.Column("jurisdiction", sa.String(2), primary_key=True),
        sa.Column("loaded_at", TS, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("source", sa.String(500), nullable=False),
        sa.CheckConstraint("mode IN ('append', 'replace')", name="ck_registry_loads_mode"),
    )
    for table in ("registry_numbers", "registry_loads"):
        op.execute(f"GRANT SELECT ON {table} TO {APP_ROLE}")

    op.create_table(
        "consents",
        _id(),
        _tenant(),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("recorded_by", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("expires_at IS NULL OR expires_at > granted_at", name="ck_consents_expiry"),
    )
    op.create_index("ix_consents_tenant_id_phone", "consents", ["tenant_id", "phone"])

    # What the frequency cap counts: one row per call attempt to a number, written when the attempt ends.
    op.create_table(
        "dial_attempts",
        _id(),
        _tenant(),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=True),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("answered", sa.Boolean, nullable=False),
        sa.Column("disposition", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_dial_attempts_tenant_id_phone_attempted_at", "dial_attempts", ["tenant_id", "phone", "attempted_at"]
    )
    for table in ("consents", "dial_attempts"):
        for statement in tenant_rls(table):
            op.execute(statement)

    op.create_table(
        "compliance_audit",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        _tenant(),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("actor_user_id", UUID(as_uuid=True), nullable=True),
        sa.Column("campaign_id", UUID(as_uuid=True), nullable=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=True),
        sa.Column("rule_version", sa.String(32), nullable=True),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("blocking_rule", sa.String(32), nullable=True),
        sa.Column("blocking_reason", sa.Text, nullable=True),
        sa.Column("checks", JSONB, nullable=False),
        sa.Column("request", JSONB, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("channel IN ('api', 'originate', 'dialer')", name="ck_compliance_audit_channel"),
    )
    op.create_index("ix_compliance_audit_tenant_id_seq", "compliance_audit", ["tenant_id", "seq"])
    op.create_table(
        "compliance_audit_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_compliance_audit_head_single_row"),
    )
    op.execute("INSERT INTO compliance_audit_head (id, last_seq, last_hash) VALUES (1, 0, NULL)")
    op.execute(AUDIT_DIGEST)
    op.execute(AUDIT_CHAIN)
    op.execute(AUDIT_REFUSE)
    op.execute(
        "CREATE TRIGGER compliance_audit_chain BEFORE INSERT ON compliance_audit "
        "FOR EACH ROW EXECUTE FUNCTION engage_audit_chain()"
    )
    op.execute(
        "CREATE TRIGGER compliance_audit_append_only BEFORE UPDATE OR DELETE ON compliance_audit "
        "FOR EACH ROW EXECUTE FUNCTION engage_audit_refuse()"
    )
    op.execute(
        "CREATE TRIGGER compliance_audit_no_truncate BEFORE TRUNCATE ON compliance_audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION engage_audit_refuse()"
    )
    op.execute("ALTER TABLE compliance_audit ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_read ON compliance_audit FOR SELECT USING (tenant_id = engage_current_tenant())")
    op.execute(
        "CREATE POLICY tenant_append ON compliance_audit FOR INSERT WITH CHECK (tenant_id = engage_current_tenant())"
    )
    op.execute(f"GRANT SELECT, INSERT ON compliance_audit TO {APP_ROLE}")
    op.execute("REVOKE ALL ON FUNCTION engage_audit_chain() FROM PUBLIC")


def downgrade() -> None:
    # The digest function takes the table's row type: it goes first.
    op.execute("DROP FUNCTION IF EXISTS engage_audit_digest(text, compliance_audit)")
    op.drop_table("compliance_audit")
    op.drop_table("compliance_audit_head")
    op.execute("DROP FUNCTION IF EXISTS engage_audit_chain()")
    op.execute("DROP FUNCTION IF EXISTS engage_audit_refuse()")
    for table in ("dial_attempts", "consents", "registry_loads", "registry_numbers"):
        op.drop_table(table)
