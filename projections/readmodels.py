"""The read models: kept up to date by a pull-based catch-up, rebuilt whole by a replay.

Catch-up reads the events after the tracked position and applies them page by page; each page's
rows and the new position are written in one transaction, under the write lock, so two processes
catching up at once never apply an event twice. Every read catches up first.

The events are read straight from the event store's table in the same database, as stored rows:
catching up and replaying need neither the application nor the domain model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from ledger.settings import Settings
from projections.database import Checkpointer, connect, dialect
from projections.projector import Projector, Stored
from projections.queries import Db
from projections.schema import NAME, STATE_TABLE, drop_statements, index_statements, table_statements

PAGE = 5000
REPLAY_PAGE = 10_000  # the fresh tables are not live yet: fewer, larger transactions
RECORDED_PAGE = 10_000  # events this process just stored (an import batch): one transaction
PROJECTION_LOCK = 0x1ED6E402  # a PostgreSQL advisory lock of the ledger's own


class ReadModels:
    """The read models of one database. `source(after, upto)` gives stored events from
    elsewhere (the --as-of copy reads another ledger's log); by default they are read from the
    events table beside the read models."""

    def __init__(self, settings: Settings | None,
                 source: Callable[[int, int | None], Iterable[Stored]] | None = None):
        self.settings = settings
        self.source = source
        self.conn = connect(settings)
        self.dialect = dialect(self.conn)
        self.mark = "?" if self.dialect == "sqlite" else "%s"
        self.column = "rowid" if self.dialect == "sqlite" else "notification_id"
        self.ready = False
        self.checkpointer: Checkpointer | None = None

    @classmethod
    def as_of(cls, app: Any, position: int) -> ReadModels:
        """The read models as the ledger stood at `position`, built by the same projector into a
        throw-away in-memory database, never by rewinding the live ones."""

        def source(after: int, upto: int | None) -> Iterator[Stored]:
            for row in app.recorder.chain_rows(after, upto):
                yield Stored(row.position, row.originator_id, row.topic, row.state)

        read_models = cls(None, source)
        read_models.catch_up(upto=position)
        return read_models

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.conn.close()

    def _written(self) -> None:
        """After a bulk write's commit (a replay's page, an import's batch): on SQLite, have the
        write-ahead log checkpointed on a second core meanwhile."""
        if self.dialect == "sqlite" and self.settings is not None:
            if self.checkpointer is None:
                self.checkpointer = Checkpointer(self.settings)
            self.checkpointer.poke()

    # ------------------------------------------------------------------ transactions

    def _sql(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self.conn.execute(sql.replace("?", self.mark), params)
        try:
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Any]:
        """One transaction on the read models' connection; a writing one holds the write lock
        (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock, which also keeps table creation
        from racing)."""
        if self.dialect == "sqlite":
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            if write and self.dialect == "postgresql":
                self._sql("SELECT pg_advisory_xact_lock(?)", (PROJECTION_LOCK,))
                # derived data, its position in the same transaction: a commit lost in a crash
                # is redone by the next catch-up, so it need not wait for the disk
                self._sql("SET LOCAL synchronous_commit = off")
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def writing(self) -> Any:
        return self._transaction(write=True)

    @contextmanager
    def reading(self) -> Iterator[tuple[Db, int]]:
        """A read transaction on the live generation: (queries' Db, position)."""
        with self._transaction(write=False) as conn:
            generation, position = self._state()
            yield Db(conn, generation), position

    def _state(self, lock: bool = False) -> tuple[int, int]:
        """(generation, position); `lock` holds the row until the transaction ends (on SQLite the
        whole database is already held by BEGIN IMMEDIATE)."""
        sql = "SELECT generation, position FROM ledger_projection WHERE name = ?"
        rows = self._sql(sql + (" FOR UPDATE" if lock and self.dialect == "postgresql" else ""), (NAME,))
        if not rows:
            raise LookupError("read models not created")
        return rows[0][0], rows[0][1]

    def _move(self, position: int, generation: int | None = None) -> None:
        if generation is None:
            self._sql("UPDATE ledger_projection SET position = ? WHERE name = ?", (position, NAME))
        else:
            self._sql("UPDATE ledger_projection SET position = ?, generation = ? WHERE name = ?",
                      (position, generation, NAME))

    # ------------------------------------------------------------------ the log

    def head(self) -> int:
        if self.source is not None:
            return 0  # a copy is told how far to go
        assert self.settings is not None
        return self._sql(f"SELECT MAX({self.column}) FROM {self.settings.events_table}")[0][0] or 0

    def _events(self, after: int, upto: int | None, limit: int) -> list[Stored]:
        """Up to `limit` stored events after a position (and up to `upto`), in position order."""
        if self.source is not None:
            return list(islice(self.source(after, upto), limit))
        assert self.settings is not None
        column = self.column
        sql = f"SELECT {column}, originator_id, topic, state FROM {self.settings.events_table} WHERE {column} > ?"
        params: tuple = (after,)
        if upto is not None:
            sql += f" AND {column} <= ?"
            params += (upto,)
        sql = f"{sql} ORDER BY {column} LIMIT {int(limit)}"
        if self.dialect == "sqlite":
            return [Stored(*row) for row in self._sql(sql, params)]
        # binary results: the states come back as they are, not hex-encoded and decoded again
        with self.conn.execute(sql.replace("?", self.mark), params, binary=True) as cursor:
            return [Stored(p, o.hex, t, bytes(s)) for p, o, t, s in cursor.fetchall()]

    def _gap(self, after: int, before: int) -> bool:
        """Whether any event lies strictly between two positions (PostgreSQL's ids may skip)."""
        assert self.settings is not None
        return bool(self._sql(f"SELECT 1 FROM {self.settings.events_table} WHERE {self.column} > ? "
                              f"AND {self.column} < ? LIMIT 1", (after, before)))

    def _projector(self, generation: int, before_lookup: Callable[[], None] | None = None) -> Projector:
        return Projector(generation, self.dialect, before_lookup)

    # ------------------------------------------------------------------ keeping up

    def ensure(self) -> None:
        """Create the read-model tables on first use, or when their layout has changed."""
        if self.ready:
            return
        try:
            with self._transaction(write=False):
                self._state()
            self.ready = True
            return
        except Exception:  # no state table yet, or no row of this version in it
            pass
        with self.writing():
            self._sql(STATE_TABLE)
            if not self._sql("SELECT 1 FROM ledger_projection WHERE name = ?", (NAME,)):
                older = [row[0] for row in self._sql("SELECT generation FROM ledger_projection")]
                generation = max(older, default=0) + 1
                for statement in [*(s for g in older for s in drop_statements(g)), *drop_statements(generation),
                                  *table_statements(generation, self.dialect), *index_statements(generation)]:
                    self._sql(statement)
                self._sql("DELETE FROM ledger_projection")
                self._sql("INSERT INTO ledger_projection (name, generation, position) VALUES (?, ?, 0)",
                          (NAME, generation))
        self.ready = True

    def behind(self) -> bool:
        with self._transaction(write=False):
            return self._state()[1] < self.head()

    def catch_up(self, upto: int | None = None, recorded: list[Stored] | None = None) -> int:
        """Apply every event after the tracked position (up to `upto`); the number applied.

        `recorded`: events this process has just stored; when they follow the tracked position
        directly they are applied as they are, without reading them back."""
        self.ensure()
        applied = self._apply_recorded(recorded) if recorded else 0
        if upto is None and not self.behind():
            return applied
        projector: Projector | None = None
        while True:
            with self.writing() as conn:
                generation, position = self._state(lock=True)
                if projector is None or projector.generation != generation:
                    projector = self._projector(generation)
                page = self._events(position, upto, PAGE)
                if not page:
                    return applied
                for stored in page:
                    projector.apply(conn, stored)
                projector.flush(conn)
                self._move(page[-1][0])
                applied += len(page)

    def _apply_recorded(self, recorded: list[Stored]) -> int:
        applied = 0
        for start in range(0, len(recorded), RECORDED_PAGE):
            page = recorded[start:start + RECORDED_PAGE]
            with self.writing() as conn:
                generation, position = self._state(lock=True)
                if page[0][0] <= position:
                    page = [stored for stored in page if stored[0] > position]
                if not page or page[0][0] != position + 1 and self._gap(position, page[0][0]):
                    return applied  # another writer came in between: the ordinary catch-up reads the log
                projector = self._projector(generation)
                for stored in page:
                    projector.apply(conn, stored)
                projector.flush(conn)
                self._move(page[-1][0])
                applied += len(page)
            self._written()
        return applied

    def replay(self, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Rebuild every read model from position 1 into fresh tables, then swap them in.

        Returns (events replayed, position). If anything fails, the fresh tables are dropped and
        the live read models stay as they were. The fresh tables get their secondary indexes
        once they are full (one sort each, not an update per row), or at the first event that
        needs to find a row. A second connection checkpoints the write-ahead log meanwhile.
        """
        assert self.settings is not None
        self.ensure()
        with self._transaction(write=False):
            live, _ = self._state()
            total = self._sql(f"SELECT COUNT(*) FROM {self.settings.events_table}")[0][0]
        fresh = live + 1
        with self.writing():
            for statement in [*drop_statements(fresh), *table_statements(fresh, self.dialect)]:
                self._sql(statement)  # leftovers of a replay that died go first
        indexed = False

        def index() -> None:  # once the tables are full, or when the projector must look something up
            nonlocal indexed
            if not indexed:
                if self.dialect == "postgresql":
                    self._sql("SET LOCAL maintenance_work_mem = '128MB'")  # sorts in memory
                for statement in index_statements(fresh):
                    self._sql(statement)
                indexed = True

        projector = self._projector(fresh, before_lookup=index)
        replayed, position = 0, 0
        try:
            while True:
                with self.writing() as conn:
                    page = self._events(position, None, REPLAY_PAGE)
                    if not page:
                        # caught up with the log, under the write lock: index and swap in this transaction
                        index()
                        current, _ = self._state(lock=True)
                        if current != live:
                            raise RuntimeError("another replay swapped the read models meanwhile")
                        self._move(position, generation=fresh)
                        for statement in drop_statements(live):
                            self._sql(statement)
                        return replayed, position
                    for stored in page:
                        projector.apply(conn, stored)
                    projector.flush(conn)
                position = page[-1][0]
                replayed += len(page)
                if progress:
                    progress(replayed, total)
                self._written()
        except BaseException:
            with self.writing():
                for statement in drop_statements(fresh):
                    self._sql(statement)
            raise
