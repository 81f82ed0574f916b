"""Contact upload and search speed (issue 3's benchmarks): a cheaper search text with one index, no redundant
foreign key, and a tenant-scoped view through which search can use its index.

- `engage_search_normalize` and `engage_contact_search_text` become PL/pgSQL. They cannot be inlined as SQL
  (unaccent is only STABLE), and a non-inlined SQL function costs about 10 µs a call, twice per row; PL/pgSQL
  evaluates them as simple expressions. Same normalisation as before: one `translate` maps the hamza forms of
  alef, alef maqsura and ta marbuta and deletes tashkeel and tatweel.
- The search text drops the `+`-prefixed copy of the phone (digit runs are matched without the `+`) and reads
  custom field values from `jsonb_path_query_array`, an expression instead of a per-row subquery.
- The full-text index goes: a short word is matched as a word prefix by a regular expression that the trigram
  index serves. One GIN index to maintain per insert instead of two.
- `contacts.tenant_id → tenants` goes: the (tenant_id, campaign_id) key to campaigns already implies it, and each
  foreign key is a per-row check on upload.
- `contact_search`: the tenant's contacts, filtered by `engage_current_tenant()` in the view and read with the
  view owner's rights. Under row-level security PostgreSQL evaluates the policy before any operator that is not
  leakproof, and LIKE, `~` and `similarity` are not, so the trigram index was never used for the app role: a
  1,000,000-row tenant was scanned on every search. The view applies the same predicate as the policy, and the
  app role only reads it with the repository's own queries.

Rewrites `contacts` (the generated column is recomputed).

Revision ID: 20261127_0800
Revises: 20261127_0610
Create Date: 2026-11-27 08:00:00 UTC
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engage.core.db import APP_ROLE

revision = "20261127_0800"
down_revision = "20261127_0610"
branch_labels = None
depends_on = None

# Tashkeel (U+064B to U+065F), superscript alef (U+0670) and tatweel (U+0640): deleted, being past the end of
# the replacement list; then the hamza forms of alef and alef wasla become alef, alef maqsura ya, ta marbuta ha.
_ARABIC_FROM = "أإآٱىة" + "".join(chr(c) for c in range(0x064B, 0x0660)) + "\u0670\u0640"
_ARABIC_TO = "اااايه"

NORMALIZE = f"""
CREATE OR REPLACE FUNCTION engage_search_normalize(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
BEGIN
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, translate(value, '{_ARABIC_FROM}', '{_ARABIC_TO}')));
END
$$
"""

# Custom field values are scalars (the API refuses anything else): their JSON array, with the brackets, quotes
# and escape backslashes turned into spaces, is the values separated by spaces.
SEARCH_TEXT = """
CREATE FUNCTION engage_contact_search_text(first_name text, last_name text, phone text, custom_fields jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  RETURN engage_search_normalize(concat_ws(' ', first_name, last_name, ltrim(phone, '+'),
    translate(jsonb_path_query_array(coalesce(custom_fields, '{}'::jsonb), '$.*')::text, '[]"\\', '    ')));
END
$$
"""

SEARCH_VIEW = """
CREATE VIEW contact_search AS
SELECT id, tenant_id, campaign_id, phone, first_name, last_name, status, search_text
FROM contacts
WHERE tenant_id = engage_current_tenant()
"""

_GENERATED = "engage_contact_search_text(first_name, last_name, phone, custom_fields)"


def upgrade() -> None:
    op.execute("DROP INDEX ix_contacts_search_fts")
    op.execute("DROP INDEX ix_contacts_search_trgm")
    op.drop_column("contacts", "search_text")
    op.execute("DROP FUNCTION engage_contact_search_text(text, text, text, jsonb)")
    op.execute(NORMALIZE)
    op.execute(SEARCH_TEXT)
    op.add_column("contacts", sa.Column("search_text", sa.Text, sa.Computed(_GENERATED, persisted=True)))
    op.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
    op.drop_constraint("fk_contacts_tenant_id_tenants", "contacts", type_="foreignkey")
    op.execute(SEARCH_VIEW)
    op.execute(f"GRANT SELECT ON contact_search TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP VIEW contact_search")
    op.create_foreign_key("fk_contacts_tenant_id_tenants", "contacts", "tenants", ["tenant_id"], ["id"])
    op.execute("DROP INDEX ix_contacts_search_trgm")
    op.drop_column("contacts", "search_text")
    op.execute("DROP FUNCTION engage_contact_search_text(text, text, text, jsonb)")
    op.execute(
        r"""
        CREATE OR REPLACE FUNCTION engage_search_normalize(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$
          SELECT lower(public.unaccent('public.unaccent'::regdictionary,
            translate(regexp_replace(value, '[\u064B-\u065F\u0670\u0640]', '', 'g'), 'أإآٱىة', 'اااايه')))
        $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION engage_contact_search_text(first_name text, last_name text, phone text, custom_fields jsonb)
        RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
          SELECT engage_search_normalize(concat_ws(' ',
            first_name, last_name, phone, ltrim(phone, '+'),
            (SELECT string_agg(value, ' ') FROM jsonb_each_text(coalesce(custom_fields, '{}'::jsonb)))))
        $$
        """
    )
    op.add_column("contacts", sa.Column("search_text", sa.Text, sa.Computed(_GENERATED, persisted=True)))
    op.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
    op.execute("CREATE INDEX ix_contacts_search_fts ON contacts USING gin (to_tsvector('simple', search_text))")
