"""Contact search by word prefix from a B-tree of terms: the cost of a search no longer grows with its matches.

Search used a trigram GIN index on `contacts.search_text`. A GIN scan cannot stop early: a name shared by ten
thousand contacts of a 1,000,000-contact tenant built a bitmap of every one of them, then read up to 1,000 rows
and scored each by trigram similarity (about 15 ms of PostgreSQL per search, `engage bench api`).

- `engage_search_words(text)`: the text normalised (`engage_search_normalize`) and split into words at spaces
  and punctuation, as an array.
- `engage_contact_terms(first_name, last_name, custom_fields)`: a contact's words (its names and the values of
  its custom fields), each once; an Arabic word written with the definite article joined to it (العتيبي) also
  gives the word without it (عتيبي), so either finds the contact. A loop of simple expressions: as a query
  (`ARRAY(SELECT … UNION …)`) it cost twice as much as the split itself.
- `contact_terms`: one row per contact and term, with the contact's campaign and a `weight` (the length of its
  names: a shorter name is a closer match). Its unique index (tenant, term, weight, contact newest first)
  serves a word prefix as a range, in rank order, from the index alone, so a search reads as many entries as it
  counts (at most 1,000) and the contact rows of one page. Row-level security lets a tenant read its own
  terms; nobody writes them but the triggers below (SECURITY DEFINER), so the app role may only read them.
- Triggers on `contacts` keep it: after each INSERT statement (uploads, COPY) from the inserted rows; after an
  update of a row's names, custom fields or campaign; after each DELETE statement from the deleted rows.
- `contacts.search_text` and `engage_contact_search_text` go (their trigram index with them): the terms replace
  them, and computing the text cost an upload as much as the terms do. A run of digits is still a substring of
  the number, through a trigram index on `phone`, read through `contact_search` (whose LIKE the policy would
  otherwise keep from the index), which no longer shows the text.

Revision ID: 20261206_0900
Revises: 20261205_1400
Create Date: 2026-12-06 09:00:00 UTC
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from engage.core.db import APP_ROLE

revision = "20261206_0900"
down_revision = "20261205_1400"
branch_labels = None
depends_on = None

# Split at whitespace and at ASCII and Arabic punctuation, spelled out so the split does not depend on the
# database's locale (what `\W` means for Arabic letters does).
SEARCH_WORDS = r"""
CREATE FUNCTION engage_search_words(value text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
BEGIN
  RETURN array_remove(regexp_split_to_array(engage_search_normalize(value), '[\s!-/:-@\[-`{-~،؛؟«»]+'), '');
END
$$
"""

CONTACT_TERMS = r"""
CREATE FUNCTION engage_contact_terms(first_name text, last_name text, custom_fields jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  words text[] := engage_search_words(concat_ws(' ', first_name, last_name,
    jsonb_path_query_array(coalesce(custom_fields, '{}'::jsonb), '$.*')::text));
  terms text[] := '{}';
  word text;
BEGIN
  FOREACH word IN ARRAY words LOOP
    IF NOT word = ANY(terms) THEN
      terms := terms || word;
    END IF;
    IF word LIKE 'ال%' AND length(word) >= 5 AND NOT substr(word, 3) = ANY(terms) THEN
      terms := terms || substr(word, 3);
    END IF;
  END LOOP;
  RETURN terms;
END
$$
"""

# The rows of `source` (a transition table or a one-row SELECT of NEW/OLD) as terms.
_TERMS_OF = """
SELECT r.tenant_id, t.term, length(concat_ws(' ', r.first_name, r.last_name)), r.id, r.campaign_id
FROM {source} AS r, unnest(engage_contact_terms(r.first_name, r.last_name, r.custom_fields)) AS t(term)
"""

TRIGGERS = tuple(
    statement.strip()
    for statement in f"""
CREATE FUNCTION engage_contact_terms_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  INSERT INTO contact_terms (tenant_id, term, weight, contact_id, campaign_id)
  {_TERMS_OF.format(source="added")};
  RETURN NULL;
END
$$

CREATE FUNCTION engage_contact_terms_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  DELETE FROM contact_terms c
  USING ({_TERMS_OF.format(source="removed")}) AS gone(tenant_id, term, weight, contact_id, campaign_id)
  WHERE c.tenant_id = gone.tenant_id AND c.term = gone.term COLLATE "C" AND c.weight = gone.weight
    AND c.contact_id = gone.contact_id;
  RETURN NULL;
END
$$

CREATE FUNCTION engage_contact_terms_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
BEGIN
  DELETE FROM contact_terms c
  WHERE c.tenant_id = OLD.tenant_id AND c.contact_id = OLD.id
    AND c.weight = length(concat_ws(' ', OLD.first_name, OLD.last_name))
    AND c.term = ANY(engage_contact_terms(OLD.first_name, OLD.last_name, OLD.custom_fields));
  INSERT INTO contact_terms (tenant_id, term, weight, contact_id, campaign_id)
  {_TERMS_OF.format(source="(SELECT NEW.*)")};
  RETURN NULL;
END
$$

CREATE TRIGGER contacts_terms_added AFTER INSERT ON contacts
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION engage_contact_terms_added()

CREATE TRIGGER contacts_terms_removed AFTER DELETE ON contacts
REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION engage_contact_terms_removed()

CREATE TRIGGER contacts_terms_changed AFTER UPDATE OF tenant_id, campaign_id, first_name, last_name, custom_fields
ON contacts FOR EACH ROW EXECUTE FUNCTION engage_contact_terms_changed()
""".split("\n\n")
)

_FUNCTIONS = (
    "engage_contact_terms_changed()",
    "engage_contact_terms_removed()",
    "engage_contact_terms_added()",
    "engage_contact_terms(text, text, jsonb)",
    "engage_search_words(text)",
)


# The search text, its function and the view as revision 20261127_0800 made them: what the downgrade restores.
def _search_speed() -> ModuleType:
    path = Path(__file__).with_name("2026-11-27_0800_contact_search_speed.py")
    spec = importlib.util.spec_from_file_location("contact_search_speed", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEARCH_VIEW = """
CREATE VIEW contact_search AS
SELECT id, tenant_id, campaign_id, phone, first_name, last_name, status
FROM contacts
WHERE tenant_id = engage_current_tenant()
"""


def _view(definition: str) -> None:
    op.execute("DROP VIEW contact_search")
    op.execute(definition)
    op.execute(f"GRANT SELECT ON contact_search TO {APP_ROLE}")


def upgrade() -> None:
    op.execute(SEARCH_WORDS)
    op.execute(CONTACT_TERMS)
    op.execute(
        """
        CREATE TABLE contact_terms (
            tenant_id uuid NOT NULL,
            term text COLLATE "C" NOT NULL,
            weight integer NOT NULL,
            contact_id uuid NOT NULL,
            campaign_id uuid NOT NULL
        )
        """
    )
    op.execute(f"INSERT INTO contact_terms {_TERMS_OF.format(source='contacts')}")
    op.execute(
        "CREATE UNIQUE INDEX ix_contact_terms_rank ON contact_terms "
        "(tenant_id, term, weight, contact_id DESC) INCLUDE (campaign_id)"
    )
    op.execute("ALTER TABLE contact_terms ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_read ON contact_terms FOR SELECT USING (tenant_id = engage_current_tenant())")
    op.execute(f"GRANT SELECT ON contact_terms TO {APP_ROLE}")
    for statement in TRIGGERS:
        op.execute(statement)
    _view(SEARCH_VIEW)
    op.drop_column("contacts", "search_text")  # and ix_contacts_search_trgm with it
    op.execute("DROP FUNCTION engage_contact_search_text(text, text, text, jsonb)")
    op.execute("CREATE INDEX ix_contacts_phone_trgm ON contacts USING gin (phone gin_trgm_ops)")


def downgrade() -> None:
    before = _search_speed()
    op.execute("DROP INDEX ix_contacts_phone_trgm")
    op.execute(before.SEARCH_TEXT)
    op.add_column("contacts", sa.Column("search_text", sa.Text, sa.Computed(before._GENERATED, persisted=True)))
    op.execute("CREATE INDEX ix_contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops)")
    _view(before.SEARCH_VIEW)
    op.execute("DROP TRIGGER contacts_terms_changed ON contacts")
    op.execute("DROP TRIGGER contacts_terms_removed ON contacts")
    op.execute("DROP TRIGGER contacts_terms_added ON contacts")
    op.execute("DROP TABLE contact_terms")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION {function}")
