"""DDL for row-level security, shared by every migration that adds a tenant-owned table.

The policy reads `app.tenant_id` through `engage_current_tenant()`: NULL when the setting is absent or
empty (a pooled connection keeps the GUC defined as '' after a transaction-local set), so a transaction
that never scoped itself matches no row instead of failing on a cast.
"""

from __future__ import annotations

from .db import APP_ROLE

CURRENT_TENANT_FUNCTION = """
CREATE OR REPLACE FUNCTION engage_current_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$
"""

# A constant role name, no input.
CREATE_APP_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$
"""  # noqa: S608

# The login that runs migrations must be able to act as the app role (a superuser already can; a
# CREATEROLE owner in production gets membership here), because the app sets `role=engage_app` on connect.
GRANT_APP_ROLE_TO_OWNER = f"GRANT {APP_ROLE} TO CURRENT_USER"


def tenant_rls(table: str, column: str = "tenant_id") -> list[str]:
    """Statements that hide every row of `table` whose `column` is not the transaction's tenant,
    for reads (USING) and for writes (WITH CHECK)."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        # Table and column names are our own constants from migrations, never input.
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = engage_current_tenant()) WITH CHECK ({column} = engage_current_tenant())",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}",
    ]
