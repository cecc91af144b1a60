"""The chained recorder on PostgreSQL (imported only for a postgresql:// ledger: it needs psycopg)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier

from ledger.store.recorders import ChainReads, Precondition, Signed, check_preconditions, seal, sealed_tail, signatures

STORE_DDL_LOCK = 0x1ED6E401  # a PostgreSQL advisory lock of the ledger's own
# Writers take this advisory lock, not the library's LOCK TABLE ... IN EXCLUSIVE MODE: that lock
# mode needs UPDATE, DELETE or TRUNCATE rights on the table, and a writer role has only SELECT and
# INSERT on stored events (README, "A shared ledger on PostgreSQL").
WRITE_LOCK = 0x1ED6E403


class ChainedPostgresApplicationRecorder(ChainReads, PostgresApplicationRecorder):
    position_column, placeholder = "notification_id", "%s"

    def create_table(self) -> None:
        """The library's table creation, one process at a time: concurrent CREATE ... IF NOT
        EXISTS statements race in PostgreSQL's catalog ("tuple concurrently updated")."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (STORE_DDL_LOCK,))
            try:
                super().create_table()
                from ledger.store.storage import prepare_postgres

                with self.datastore.transaction(commit=True) as curs:
                    prepare_postgres(curs, self.datastore.schema, self.events_table_name)
                self._evidence = None
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (STORE_DDL_LOCK,))

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{0}.{1}").format(Identifier(datastore.schema), Identifier(self.events_table_name))
        self.sql_create_statements[self.create_table_statement_index] = SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, "
            "notification_id bigserial, hash text NOT NULL, signer text, signature text, db_role text, "
            "PRIMARY KEY (originator_id, originator_version))"
        ).format(table=table)
        self.sealed_insert = SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state, hash, signer, signature) "
            # %b: the arrays go in binary, without text-escaping every element
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::text[], %b::text[], "
            "%b::text[]) "
            "RETURNING notification_id"
        ).format(table=table)
        self.versions_statement = SQL(
            "SELECT originator_id, MAX(originator_version) AS version FROM {table} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(table=table)
        self.tail_statement = SQL("SELECT originator_id, originator_version, topic, state, hash, signer, signature "
                                  "FROM {table} ORDER BY notification_id DESC LIMIT 2").format(table=table)

    @property
    def _table(self) -> str:
        return f'"{self.datastore.schema}"."{self.events_table_name}"'

    def insert_events(self, stored_events: Sequence[StoredEvent], preconditions: Sequence[Precondition] = (),
                      signed: Sequence[Signed | None] | None = None, signed_tail: bool = False,
                      **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return None
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(self.lock_table_statements[0])  # the library's lock timeout
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            if preconditions:
                streams = sorted({_uuid(stream) for _, stream, _ in preconditions})
                curs.execute(self.versions_statement, (streams,))
                check_preconditions(stored_events, preconditions,
                                    {r["originator_id"].hex: r["version"] for r in curs.fetchall()})
            curs.execute(self.tail_statement)
            previous = sealed_tail([(r["originator_id"].hex, r["originator_version"], r["topic"], r["state"], r["hash"],
                                     r["signer"], r["signature"]) for r in curs.fetchall()], signed_tail)
            hashes = seal(previous, stored_events)
            marks = [mark or (None, None) for mark in signatures(self.signer, previous, hashes, signed)]
            curs.execute(self.sealed_insert, (
                [_uuid(s.originator_id) for s in stored_events], [s.originator_version for s in stored_events],
                [s.topic for s in stored_events], [s.state for s in stored_events], hashes,
                [m[0] for m in marks], [m[1] for m in marks]))
            return [r["notification_id"] for r in curs.fetchall()]

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(sql, list(params))
            return [tuple(r.values()) for r in curs.fetchall()]

    def _id_param(self, originator_id: UUID) -> Any:
        return originator_id

    @property
    def _receipts(self) -> str:
        from ledger.store.storage import RECEIPTS_TABLE

        return f'"{self.datastore.schema}"."{RECEIPTS_TABLE}"'

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(sql, list(params))

    def _may_not_keep(self, error: Exception) -> bool:
        """A role that may not insert there, a read-only transaction, or no receipts table."""
        from psycopg import errors

        causes = (error, error.__cause__)  # the library wraps psycopg's errors in its own
        return any(isinstance(e, (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction, errors.UndefinedTable))
                   for e in causes)

    def _has_receipts(self) -> bool:
        return bool(self._fetch("SELECT to_regclass(%s)", [self._receipts])[0][0])

    def _column_names(self) -> set[str]:
        rows = self._fetch("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                           "AND table_name = %s", [self.datastore.schema, self.events_table_name])
        return {r[0] for r in rows}


class ChainedPostgresAggregateRecorder(ChainedPostgresApplicationRecorder, PostgresAggregateRecorder):
    def insert_events(self, stored_events: Sequence[StoredEvent], preconditions: Sequence[Precondition] = (),
                      signed: Sequence[Signed | None] | None = None, signed_tail: bool = False,
                      **kwargs: Any) -> None:
        super().insert_events(stored_events, preconditions, signed, signed_tail, **kwargs)


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))

