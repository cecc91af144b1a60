"""Application recorders that seal every stored event into the hash chain, on SQLite and PostgreSQL.

The hash is computed and written in the same transaction as the event, in position order, so no
event is ever stored unsealed. Writers take the table's write lock before they read the previous
hash (SQLite: BEGIN IMMEDIATE; PostgreSQL: LOCK TABLE ... IN EXCLUSIVE MODE, as the library does to
keep its notification ids in order), so two writers never fork the chain: the second waits, within
the lock timeout, then seals after the first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteTransaction,
)

from ledger.domain.chain import GENESIS, ChainRow, link, stored_bytes, stream_hex

PAGE = 5000
EVIDENCE_COLUMNS = ("signer", "signature", "db_role")  # beside the library's columns; old ledgers lack them


class Signer(Protocol):
    """What signs a write: its key id, and a signature over (hash before the write, hash of its
    last event). `ledger.app.evidence.Signer` is the one the ledger uses."""

    key_id: str

    def sign_write(self, previous: str, last: str) -> str: ...


Signed = tuple[str, str | None]  # (signer, signature) of one stored row, as a copy carries it over


def signatures(signer: Signer | None, previous: str, hashes: Sequence[str],
               given: Sequence[Signed | None] | None = None) -> list[Signed | None]:
    """Each row's (signer, signature): the signer's key id on every event of a signed write, its
    signature on the last one. A copy passes the source's own (`given`)."""
    if given is not None:
        return list(given)
    if signer is None or not hashes:
        return [None] * len(hashes)
    rows: list[Signed | None] = [(signer.key_id, None)] * (len(hashes) - 1)
    rows.append((signer.key_id, signer.sign_write(previous, hashes[-1])))
    return rows


def seal(previous: str, stored_events: Sequence[StoredEvent]) -> list[str]:
    """The chain hashes of events stored after `previous`, in order."""
    hashes = []
    for s in stored_events:
        previous = link(previous, s.originator_id, s.originator_version, s.topic, s.state)
        hashes.append(previous)
    return hashes


Precondition = tuple[int, str, int]  # (index in the batch, stream, version the stream must be at)


def sealed_tail(rows: Sequence[Sequence[Any]], signed: bool = False) -> str:
    """The hash a write seals onto: the last stored row's, once it is seen to be one the ledger
    could have written (rows: the last two stored, newest first, as (stream, version, topic,
    state, hash, signer, signature)): its link holds; a signer's write ends with its signature;
    and, once signatures are required (`signed`), it is signed. A row an intruder inserted by hand
    is never built on, so it stays at the tail, where the owner can take it out without breaking
    the chain of anything written since."""
    if not rows:
        return GENESIS
    from ledger.errors import LogChanged

    last = rows[0]
    previous = rows[1][4] if len(rows) > 1 else GENESIS
    problem = None
    if link(previous, last[0], last[1], last[2], stored_bytes(last[3])) != last[4]:
        problem = "does not match the hash chain"
    elif last[5] is not None and last[6] is None:
        problem = f"claims signer {last[5]} but no write of the ledger ends without its signature"
    elif signed and last[5] is None:
        problem = "is unsigned, though signatures are required"
    if problem:
        raise LogChanged(f"the last stored event {problem} (edited or inserted by hand): nothing is appended "
                         "to it; run ledger verify")
    hashed: str = last[4]
    return hashed


def check_preconditions(stored_events: Sequence[StoredEvent], preconditions: Sequence[Precondition],
                        stored_versions: dict[str, int]) -> None:
    """Under the write lock, before a batch is inserted: each stream a rule read must still be at
    the version the rule saw, counting the batch's own earlier events on it. Another writer's
    change in between (a case closed while an incident was being recorded on it) makes the whole
    batch fail as a conflict, and the writer checks its rules again against what is stored now."""
    wanted: dict[int, list[tuple[str, int]]] = {}
    for index, stream, version in preconditions:
        wanted.setdefault(index, []).append((stream, version))
    watched = {stream for _, stream, _ in preconditions}  # only their versions are followed through the batch
    current = dict(stored_versions)
    for index, event in enumerate(stored_events):
        for stream, version in wanted.get(index, ()):
            if current.get(stream, 0) != version:
                raise IntegrityError(f"stream {stream} changed after it was read (version "
                                     f"{current.get(stream, 0)}, not {version})")
        name = stream_hex(event.originator_id)
        if name in watched:
            current[name] = event.originator_version


class ChainReads:
    """Reading the chain back, the same on both backends; each says how to run one query."""

    position_column: str
    placeholder: str
    signer: Signer | None = None  # set by whoever opens the ledger with a key
    _evidence: tuple[str, ...] | None = None

    def evidence_columns(self) -> tuple[str, ...]:
        """Which of signer, signature and db_role this events table has (a ledger made before
        them has none until `ledger init` or a write upgrades it)."""
        if self._evidence is None:
            found = self._column_names()
            self._evidence = tuple(c for c in EVIDENCE_COLUMNS if c in found)
        return self._evidence

    def _column_names(self) -> set[str]:
        raise NotImplementedError

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    @property
    def _table(self) -> str:
        table: str = self.events_table_name  # type: ignore[attr-defined]  # the recorder's this is mixed into
        return table

    def head(self) -> tuple[int, str]:
        p = self.position_column
        rows = self._fetch(f"SELECT {p}, hash FROM {self._table} ORDER BY {p} DESC LIMIT 1", [])
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def stored_receipts(self) -> list[str]:
        """The receipts `ledger checkpoint` kept in the ledger, newest position first (none in a
        ledger made before receipts)."""
        if not self._has_receipts():
            return []
        return [r[0] for r in self._fetch(f"SELECT receipt FROM {self._receipts} ORDER BY position DESC", [])]

    def keep_receipt(self, position: int, head: str, receipt: str) -> bool:
        """Keep a receipt in the ledger; False when this ledger cannot keep it here: one made
        before receipts, or one this user may only read. Any other failure is raised."""
        q = self.placeholder
        try:
            self._execute(f"INSERT INTO {self._receipts} (position, head, receipt) VALUES ({q}, {q}, {q})",
                          [position, head, receipt])
        except Exception as error:  # each driver's own errors, sorted by _may_not_keep (it re-raises the rest)
            if self._may_not_keep(error):
                return False
            raise
        return True

    def _may_not_keep(self, error: Exception) -> bool:
        raise NotImplementedError

    @property
    def _receipts(self) -> str:
        from ledger.store.storage import RECEIPTS_TABLE

        return RECEIPTS_TABLE

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        raise NotImplementedError

    def _has_receipts(self) -> bool:
        raise NotImplementedError

    def count(self) -> int:
        counted: int = self._fetch(f"SELECT COUNT(*) FROM {self._table}", [])[0][0]
        return counted

    def hash_at(self, position: int) -> str:
        """The chain's hash after the event at `position` (the head, as the ledger stood then)."""
        p, q = self.position_column, self.placeholder
        rows = self._fetch(f"SELECT hash FROM {self._table} WHERE {p}<={q} ORDER BY {p} DESC LIMIT 1", [position])
        hashed: str = rows[0][0] if rows else GENESIS
        return hashed

    def existing_streams(self, originator_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these streams hold any event: one query per 500 ids, for bulk imports."""
        found: set[UUID] = set()
        ids = list(originator_ids)
        for start in range(0, len(ids), 500):
            chunk = [self._id_param(i) for i in ids[start:start + 500]]
            marks = ",".join([self.placeholder] * len(chunk))
            rows = self._fetch(f"SELECT DISTINCT originator_id FROM {self._table} WHERE originator_id IN ({marks})",
                               chunk)
            found.update(r[0] if isinstance(r[0], UUID) else UUID(r[0]) for r in rows)
        return found

    def _id_param(self, originator_id: UUID) -> Any:
        return originator_id.hex

    def chain_rows(self, after: int = 0, upto: int | None = None, streams: Sequence[str] | None = None,
                   page: int = PAGE, topics: Sequence[str] | None = None) -> Iterator[ChainRow]:
        """Stored rows in position order, with their hashes, page by page; `streams`, `topics`:
        only those (the keys' events, for instance)."""
        p, q = self.position_column, self.placeholder
        present = self.evidence_columns()
        extra = "".join(f", {c}" if c in present else f", NULL AS {c}" for c in EVIDENCE_COLUMNS)
        while True:
            sql = (f"SELECT {p}, originator_id, originator_version, topic, state, hash{extra} FROM {self._table} "
                   f"WHERE {p}>{q}")
            params: list[Any] = [after]
            if upto is not None:
                sql += f" AND {p}<={q}"
                params.append(upto)
            if streams is not None:
                sql += f" AND originator_id IN ({','.join([q] * len(streams))})"
                params.extend(self._id_param(UUID(s)) for s in streams)
            if topics is not None:
                sql += f" AND topic IN ({','.join([q] * len(topics))})"
                params.extend(topics)
            sql += f" ORDER BY {p} LIMIT {q}"
            params.append(page)
            rows = self._fetch(sql, params)
            for r in rows:
                yield ChainRow(r[0], stream_hex(r[1]), r[2], r[3], stored_bytes(r[4]), r[5], r[6], r[7], r[8])
            if len(rows) < page:
                return
            after = rows[-1][0]


# ---------------------------------------------------------------------- SQLite


class _ImmediateTransaction(SQLiteTransaction):
    """The library's transaction (it translates sqlite3's errors), begun with the write lock."""

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # e.g. still locked after the lock timeout
            raise OperationalError(error) from error
        return cursor


class ChainedSQLiteApplicationRecorder(ChainReads, SQLiteApplicationRecorder):
    """The ledger's recorder on SQLite: the library's application recorder, every event sealed."""

    position_column, placeholder = "rowid", "?"

    def __init__(self, datastore: Any, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, hash, signer, signature) "
            "VALUES (?,?,?,?,?,?,?)"
        )
        self.select_events_statement = (
            f"SELECT originator_id, originator_version, topic, state FROM {table} WHERE originator_id=? "
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            (f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
             "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
             "hash TEXT NOT NULL, signer TEXT, signature TEXT, "
             "PRIMARY KEY (originator_id, originator_version))")
        ]

    def create_table(self) -> None:
        """The library's table, then what the ledger adds to it (`ledger.store.storage`): the evidence
        columns on a table made before them, the append-only triggers, the receipts table."""
        from ledger.store.storage import prepare_sqlite

        with self.datastore.transaction(commit=True) as c:
            self._create_table(c)
            prepare_sqlite(c, self.events_table_name)
        self._evidence = None

    def _column_names(self) -> set[str]:
        return {r[1] for r in self._fetch(f"PRAGMA table_info({self.events_table_name})", [])}

    def _has_receipts(self) -> bool:
        return bool(self._fetch("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [self._receipts]))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return None  # nothing to seal, nothing to lock
        with self.datastore.get_connection(commit=True) as conn, \
                _ImmediateTransaction(conn, commit=True) as cursor, cursor:
            return self._insert_events(cursor, stored_events, **kwargs)

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       preconditions: Sequence[Precondition] = (), signed: Sequence[Signed | None] | None = None,
                       signed_tail: bool = False, **_: Any) -> Sequence[int]:
        """Seal and insert in one statement. Under the write lock a rowid table numbers new rows
        on from its largest rowid, so the positions are the ones after the head; checked."""
        if preconditions:
            streams = sorted({stream for _, stream, _ in preconditions})
            c.execute(f"SELECT originator_id, MAX(originator_version) FROM {self.events_table_name} "
                      f"WHERE originator_id IN ({','.join('?' * len(streams))}) GROUP BY originator_id", streams)
            check_preconditions(stored_events, preconditions, {r[0]: r[1] for r in c.fetchall()})
        c.execute(f"SELECT originator_id, originator_version, topic, state, hash, signer, signature, rowid "
                  f"FROM {self.events_table_name} ORDER BY rowid DESC LIMIT 2")
        tail = c.fetchall()
        last, previous = (tail[0][7] if tail else 0), sealed_tail(tail, signed_tail)
        hashes = seal(previous, stored_events)
        marks = signatures(self.signer, previous, hashes, signed)  # before the commit, under the lock
        c.executemany(self.insert_events_statement, [
            (stream_hex(s.originator_id), s.originator_version, s.topic, s.state, sealed, *(mark or (None, None)))
            for s, sealed, mark in zip(stored_events, hashes, marks, strict=True)])
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        if c.fetchone()[0] != last + len(stored_events):
            raise OperationalError("the events were not numbered on from the head")  # rolled back
        return list(range(last + 1, last + len(stored_events) + 1))

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(sql, list(params))
            rows: list[Any] = c.fetchall()
            return rows

    def _execute(self, sql: str, params: Sequence[Any]) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(sql, list(params))

    def _may_not_keep(self, error: Exception) -> bool:
        """A read-only file or folder, or no receipts table (the library wraps sqlite3's errors)."""
        text = str(error)
        return isinstance(error, (OperationalError, sqlite3.OperationalError)) and (
            "readonly" in text or "no such table" in text)


class ChainedSQLiteAggregateRecorder(ChainedSQLiteApplicationRecorder, SQLiteAggregateRecorder):
    """The same chain for a plain aggregate recorder (snapshots, if ever enabled), which by the
    library's contract returns no notification ids."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super().insert_events(stored_events, **kwargs)
