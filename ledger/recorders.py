"""Application recorders that seal every stored event into the hash chain.

The hash is computed and written in the same transaction as the event, in position order, so no
event is ever stored unsealed. SQLite writers take the write lock up front (BEGIN IMMEDIATE), so
two writers never read the same previous hash; they wait for each other within the lock timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)

from ledger.chain import GENESIS, ChainRow, link

PAGE = 5000


class _ImmediateTransaction(SQLiteTransaction):
    """The library's transaction (it translates sqlite3's errors), begun with the write lock."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # e.g. still locked after the lock timeout
            raise OperationalError(error) from error
        return cursor


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The ledger's recorder: the library's SQLite application recorder, with every event sealed."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, hash) "
            "VALUES (?,?,?,?,?)"
        )
        self.select_events_statement = (
            f"SELECT originator_id, originator_version, topic, state FROM {table} WHERE originator_id=? "
        )
        self.select_head_statement = f"SELECT hash FROM {table} ORDER BY rowid DESC LIMIT 1"

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "hash TEXT NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))"
        ]

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return None  # nothing to seal, nothing to lock
        with self.datastore.get_connection(commit=True) as conn, \
                _ImmediateTransaction(conn, commit=True) as cursor, cursor:
            return self._insert_events(cursor, stored_events, **kwargs)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int]:
        c.execute(self.select_head_statement)
        row = c.fetchone()
        previous = row[0] if row else GENESIS
        returning = []
        for s in stored_events:
            stream = s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id
            previous = link(previous, stream, s.originator_version, s.topic, s.state)
            c.execute(self.insert_events_statement, (stream, s.originator_version, s.topic, s.state, previous))
            returning.append(c.lastrowid)
        return returning

    def existing_streams(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these streams hold any event: one query per 500 ids, for bulk imports."""
        found: set[UUID] = set()
        ids = list(originator_ids)
        for start in range(0, len(ids), 500):
            chunk = [i.hex for i in ids[start:start + 500]]
            with self.datastore.transaction(commit=False) as c:
                c.execute(f"SELECT DISTINCT originator_id FROM {self.events_table_name} "
                          f"WHERE originator_id IN ({','.join('?' * len(chunk))})", chunk)
                found.update(UUID(r[0]) for r in c.fetchall())
        return found

    # -------------------------------------------------------------- reading the chain

    def head(self) -> tuple[int, str]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, hash FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 1")
            row = c.fetchone()
            return (row[0], row[1]) if row else (0, GENESIS)

    def hash_at(self, position: int) -> str:
        """The chain's hash after the event at `position` (the head, as the ledger stood then)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT hash FROM {self.events_table_name} WHERE rowid<=? ORDER BY rowid DESC LIMIT 1",
                      (position,))
            row = c.fetchone()
            return row[0] if row else GENESIS

    def chain_rows(self, after: int = 0, upto: int | None = None,
                   streams: Sequence[str] | None = None, page: int = PAGE) -> Iterator[ChainRow]:
        """Stored rows in position order, with their hashes, page by page."""
        table = self.events_table_name
        while True:
            sql = f"SELECT rowid, originator_id, originator_version, topic, state, hash FROM {table} WHERE rowid>?"
            params: list[Any] = [after]
            if upto is not None:
                sql += " AND rowid<=?"
                params.append(upto)
            if streams is not None:
                sql += f" AND originator_id IN ({','.join('?' * len(streams))})"
                params.extend(streams)
            sql += " ORDER BY rowid LIMIT ?"
            params.append(page)
            with self.datastore.transaction(commit=False) as c:
                c.execute(sql, params)
                rows = c.fetchall()
            for r in rows:
                yield ChainRow(r[0], r[1], r[2], r[3], r[4], r[5])
            if len(rows) < page:
                return
            after = rows[-1][0]


class ChainedSQLiteAggregateRecorder(ChainedSQLiteApplicationRecorder, SQLiteAggregateRecorder):
    """The same chain for a plain aggregate recorder (snapshots, if ever enabled), which by the
    library's contract returns no notification ids."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super().insert_events(stored_events, **kwargs)
        return None
