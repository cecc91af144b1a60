"""What the ledger adds to the event library's table, on SQLite and PostgreSQL, in one place.

- The evidence columns: `signer` and `signature` (a signed write's key id on each of its events,
  its Ed25519 signature on the last; `ledger.app.evidence`), and on PostgreSQL `db_role`, the
  database role that inserted the row, set by a trigger from `session_user`, never by the client.
  That trigger also refuses an event inserted by a session acting as another role (`SET ROLE`:
  code a writer planted in the read models, running in another writer's session) or from the
  read models' connection at all (marked as it opens, `READ_MODELS_MARK`), so that `db_role`
  only ever names a login role that inserted the event itself, through the ledger's own writes.
- Append-only storage: triggers refuse UPDATE and DELETE of stored events (and TRUNCATE on
  PostgreSQL), for every role, the owner included, until the owner drops them: tampering then
  takes a deliberate act, and the chain, the signatures and the receipts say what it changed.
- The receipts table: the signed receipts `ledger checkpoint` issued (`ledger.app.evidence`), kept
  so that a report can name the latest one it is consistent with; append-only too.
- On PostgreSQL, the schema `ledger_read` that holds the read models (derived tables, rebuilt
  from the log whenever needed), so that the owner can give it to the group of writer roles;
  read models an older version left in the events' schema are dropped with the upgrade.

Every statement is idempotent: the recorders run them when they create the table (a new
ledger, `ledger init`, or an upgrade of a ledger made before them), and never on a plain write.
Whether a ledger needs them is told by one cheap query (`sqlite_missing`, `postgres_probe`), which
is all a plain write pays (`ledger.store.settings.Settings.probe`).
"""

from __future__ import annotations

import re
from typing import Any

RECEIPTS_TABLE = "ledger_receipts"
READ_SCHEMA = "ledger_read"  # PostgreSQL: where the read models live
REFUSED = "stored events are append-only"
# The version of the ledger's PostgreSQL trigger functions, in a comment on `ledger_stamp_role`:
# the probe finds a store whose functions are older, and the owner's `init` (or first write)
# replaces them (every function statement is CREATE OR REPLACE).
STORE_VERSION = "ledger store 2"
# The read models' connection sets this at its start (`-c post_auth_delay=0`, the default value:
# no delay): a parameter no session can change or reset once connected, and whose source,
# "client", marks the connection, so the events table can refuse inserts from it whatever code
# runs there (a trigger or function a writer planted in the read models, after a RESET ROLE).
READ_MODELS_MARK = "post_auth_delay"
EVIDENCE = ("signer", "signature")  # SQLite's evidence columns; PostgreSQL adds db_role
PG_EVIDENCE = (*EVIDENCE, "db_role")


def sqlite_triggers(table: str) -> list[str]:
    return [f"{target}_append_only_{operation}" for target in (table, RECEIPTS_TABLE)
            for operation in ("update", "delete")]


def postgres_triggers(table: str) -> list[str]:
    return [*(f"{target}_{kind}" for target in (table, RECEIPTS_TABLE) for kind in ("append_only", "no_truncate")),
            f"{table}_db_role", f"{table}_not_from_read_models"]


# ---------------------------------------------------------------------- is the store up to date?

SQLITE_PROBE = "SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'trigger')"


def sqlite_missing(rows: list[tuple[str, str, str | None]], table: str) -> list[str] | None:
    """From `SQLITE_PROBE`'s rows: None when there is no events table; else what the store lacks
    (nothing: it is up to date). An events table's SQL holds the columns added to it since."""
    tables = {name: sql or "" for kind, name, sql in rows if kind == "table"}
    if table not in tables:
        return None
    triggers = {name for kind, name, _ in rows if kind == "trigger"}
    declared = set(re.findall(r"\w+", tables[table].lower()))
    return _missing([c for c in EVIDENCE if c not in declared], RECEIPTS_TABLE in tables,
                    [t for t in sqlite_triggers(table) if t not in triggers], True)


def postgres_probe(schema: str, table: str) -> tuple[str, dict[str, Any]]:
    """One catalog query: whether the events table is there, what of the ledger's additions it has,
    and what this role may do: (present, evidence columns, triggers, receipts table, read-model
    schema, may run the DDL, may insert, session user, the version of the trigger functions);
    the SQL and its parameters."""
    return (("SELECT e.oid IS NOT NULL, "
             "ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = e.oid AND NOT a.attisdropped "
             "AND a.attname = ANY(%(evidence)s)), "
             "ARRAY(SELECT t.tgname::text FROM pg_trigger t WHERE t.tgrelid IN (e.oid, r.oid) AND NOT t.tgisinternal), "
             "r.oid IS NOT NULL, s.oid IS NOT NULL, "
             # the DDL: creating the tables takes CREATE on the schema, changing them their owner's
             # rights, creating the read models' schema CREATE on the database
             "(CASE WHEN e.oid IS NULL THEN has_schema_privilege(%(schema)s, 'CREATE') "
             "ELSE pg_has_role(e.relowner, 'USAGE') END) "
             "AND (s.oid IS NOT NULL OR has_database_privilege(current_database(), 'CREATE')), "
             # a writer's INSERT is granted on the columns the ledger's inserts name, not the table
             "e.oid IS NOT NULL AND has_any_column_privilege(e.oid, 'INSERT'), session_user::text, "
             "(SELECT d.description FROM pg_proc p JOIN pg_description d ON d.objoid = p.oid "
             "AND d.classoid = 'pg_proc'::regclass AND d.objsubid = 0 "
             "WHERE p.pronamespace = e.relnamespace AND p.proname = 'ledger_stamp_role') "
             "FROM (SELECT to_regclass(%(events)s)::oid AS events, to_regclass(%(receipts)s)::oid AS receipts) x "
             "LEFT JOIN pg_class e ON e.oid = x.events LEFT JOIN pg_class r ON r.oid = x.receipts "
             "LEFT JOIN pg_namespace s ON s.nspname = %(read)s"),
            {"evidence": list(PG_EVIDENCE), "schema": schema, "events": f'"{schema}"."{table}"',
             "receipts": f'"{schema}"."{RECEIPTS_TABLE}"', "read": READ_SCHEMA})


def postgres_missing(row: tuple[Any, ...], table: str) -> list[str] | None:
    """From `postgres_probe`'s row: None when there is no events table, else what the store lacks."""
    present, columns, triggers, receipts, read_schema = row[:5]
    if not present:
        return None
    said = _missing([c for c in PG_EVIDENCE if c not in columns], receipts,
                    [t for t in postgres_triggers(table) if t not in triggers], read_schema)
    if f"{table}_db_role" in triggers and row[8] != STORE_VERSION:
        said.append("the current version of the trigger function ledger_stamp_role")
    return said


def everything(table: str, postgres: bool) -> list[str]:
    """What a new ledger's store is made of, as `sqlite_missing` and `postgres_missing` say it."""
    return [f"the events table {table}",
            *_missing(list(PG_EVIDENCE if postgres else EVIDENCE), False,
                      postgres_triggers(table) if postgres else sqlite_triggers(table), not postgres)]


def _missing(columns: list[str], receipts: bool, triggers: list[str], read_schema: bool) -> list[str]:
    said = []
    if columns:
        said.append(f"the evidence column{'s' if len(columns) > 1 else ''} {', '.join(columns)}")
    if not receipts:
        said.append(f"the receipts table {RECEIPTS_TABLE}")
    if triggers:
        said.append(f"the trigger{'s' if len(triggers) > 1 else ''} {', '.join(triggers)}")
    if not read_schema:
        said.append(f"the read models' schema {READ_SCHEMA}")
    return said


def sqlite_statements(table: str, columns: set[str]) -> list[str]:
    """For a SQLite events table with these columns: what brings it up to date."""
    statements = [f"ALTER TABLE {table} ADD COLUMN {name} TEXT"
                  for name in ("signer", "signature") if name not in columns]
    statements.append(f"CREATE TABLE IF NOT EXISTS {RECEIPTS_TABLE} ("
                      "position INTEGER NOT NULL, head TEXT NOT NULL, receipt TEXT NOT NULL)")
    for target in (table, RECEIPTS_TABLE):
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {target}_append_only_{operation.lower()} "
                f"BEFORE {operation} ON {target} "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSED}: {operation} on {target} refused'); END")
    return statements


def prepare_sqlite(cursor: Any, table: str) -> None:
    cursor.execute(f"PRAGMA table_info({table})")
    columns = {row[1] for row in cursor.fetchall()}
    for statement in sqlite_statements(table, columns):
        cursor.execute(statement)


def postgres_statements(schema: str, table: str) -> list[str]:
    s, t, r = f'"{schema}"', f'"{schema}"."{table}"', f'"{schema}"."{RECEIPTS_TABLE}"'
    return [
        f'CREATE SCHEMA IF NOT EXISTS "{READ_SCHEMA}"',
        # read models an older version built beside the events: derived tables, rebuilt in the new schema
        ("DO $$ DECLARE derived record; BEGIN FOR derived IN SELECT tablename FROM pg_tables "
         f"WHERE schemaname = '{schema}' AND (tablename ~ '^rm[0-9]+_' OR tablename = 'ledger_projection') LOOP "
         f"EXECUTE format('DROP TABLE IF EXISTS {s}.%I CASCADE', derived.tablename); END LOOP; END $$"),
        (f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS signer text, ADD COLUMN IF NOT EXISTS signature text, "
         "ADD COLUMN IF NOT EXISTS db_role text"),
        f"CREATE TABLE IF NOT EXISTS {r} (position bigint NOT NULL, head text NOT NULL, receipt text NOT NULL)",
        (f"CREATE OR REPLACE FUNCTION {s}.ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
         f"BEGIN RAISE EXCEPTION '{REFUSED}: % on % refused', TG_OP, TG_TABLE_NAME "
         "USING ERRCODE = 'insufficient_privilege'; END $$"),
        # the stamp, for each row; before each INSERT statement, the refusal of an insert from the
        # read models' connection (once a statement: pg_settings costs a fraction of a millisecond).
        # Every name is the system catalog's, whatever the inserting session's search path (cheaper,
        # for each row, than a SET search_path on the function)
        (f"CREATE OR REPLACE FUNCTION {s}.ledger_stamp_role() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
         "IF TG_LEVEL OPERATOR(pg_catalog.=) 'STATEMENT' THEN "
         "IF EXISTS (SELECT 1 FROM pg_catalog.pg_settings "
         f"WHERE name OPERATOR(pg_catalog.=) '{READ_MODELS_MARK}' AND source OPERATOR(pg_catalog.=) 'client') THEN "
         "RAISE EXCEPTION 'events are inserted only by the ledger''s own writes: an INSERT into % from the "
         "read models'' connection (role %) refused', TG_TABLE_NAME, session_user "
         "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NULL; END IF; "
         "IF current_user OPERATOR(pg_catalog.<>) session_user THEN "
         "RAISE EXCEPTION 'events are inserted only by a login role acting as itself: role % acting as % refused', "
         "session_user, current_user USING ERRCODE = 'insufficient_privilege'; END IF; "
         "NEW.db_role := session_user; RETURN NEW; END $$"),
        f"COMMENT ON FUNCTION {s}.ledger_stamp_role() IS '{STORE_VERSION}'",
        *(statement for target, name in ((t, table), (r, RECEIPTS_TABLE)) for statement in (
            (f'CREATE OR REPLACE TRIGGER "{name}_append_only" BEFORE UPDATE OR DELETE ON {target} '
             f"FOR EACH ROW EXECUTE FUNCTION {s}.ledger_refuse_change()"),
            (f'CREATE OR REPLACE TRIGGER "{name}_no_truncate" BEFORE TRUNCATE ON {target} '
             f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.ledger_refuse_change()"),
        )),
        (f'CREATE OR REPLACE TRIGGER "{table}_db_role" BEFORE INSERT ON {t} '
         f"FOR EACH ROW EXECUTE FUNCTION {s}.ledger_stamp_role()"),
        (f'CREATE OR REPLACE TRIGGER "{table}_not_from_read_models" BEFORE INSERT ON {t} '
         f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.ledger_stamp_role()"),
    ]


def prepare_postgres(cursor: Any, schema: str, table: str) -> None:
    for statement in postgres_statements(schema, table):
        cursor.execute(statement)
