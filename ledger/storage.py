"""What the ledger adds to the event library's table, on SQLite and PostgreSQL, in one place.

- The evidence columns: `signer` and `signature` (a signed write's key id on each of its events,
  its Ed25519 signature on the last; `ledger.evidence`), and on PostgreSQL `db_role`, the
  database role that inserted the row, set by a trigger from `session_user`, never by the client.
- Append-only storage: triggers refuse UPDATE and DELETE of stored events (and TRUNCATE on
  PostgreSQL), for every role, the owner included, until the owner drops them: tampering then
  takes a deliberate act, and the chain, the signatures and the receipts say what it changed.
- The receipts table: the signed receipts `ledger checkpoint` issued (`ledger.evidence`), kept
  so that a report can name the latest one it is consistent with; append-only too.

Every statement is idempotent: the recorders run them when they create the table (a new
ledger, `ledger init`, or an upgrade of a ledger made before them), and never on a plain write.
"""

from __future__ import annotations

from typing import Any

RECEIPTS_TABLE = "ledger_receipts"
REFUSED = "stored events are append-only"


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
        f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS signer text, ADD COLUMN IF NOT EXISTS signature text, "
        "ADD COLUMN IF NOT EXISTS db_role text",
        f"CREATE TABLE IF NOT EXISTS {r} (position bigint NOT NULL, head text NOT NULL, receipt text NOT NULL)",
        f"CREATE OR REPLACE FUNCTION {s}.ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{REFUSED}: % on % refused', TG_OP, TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$",
        f"CREATE OR REPLACE FUNCTION {s}.ledger_stamp_role() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN NEW.db_role := session_user; RETURN NEW; END $$",
        *(statement for target, name in ((t, table), (r, RECEIPTS_TABLE)) for statement in (
            f'CREATE OR REPLACE TRIGGER "{name}_append_only" BEFORE UPDATE OR DELETE ON {target} '
            f"FOR EACH ROW EXECUTE FUNCTION {s}.ledger_refuse_change()",
            f'CREATE OR REPLACE TRIGGER "{name}_no_truncate" BEFORE TRUNCATE ON {target} '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.ledger_refuse_change()",
        )),
        f'CREATE OR REPLACE TRIGGER "{table}_db_role" BEFORE INSERT ON {t} '
        f"FOR EACH ROW EXECUTE FUNCTION {s}.ledger_stamp_role()",
    ]


def prepare_postgres(cursor: Any, schema: str, table: str) -> None:
    for statement in postgres_statements(schema, table):
        cursor.execute(statement)
