"""The read models: kept up to date by a pull-based catch-up, rebuilt whole by a replay.

Catch-up reads the events after the tracked position and applies them page by page; each page's
rows and the new position are written in one transaction, under the write lock, so two processes
catching up at once never apply an event twice. Every read catches up first.

The state remembers the position and the chain hash the read models were built up to: every read
checks that the log still holds that event (one indexed lookup), and catch-up and replay apply
only events whose chain links hold (`projections.integrity`). A ledger file the user may only
read, or a PostgreSQL role that may not write the read models (a reader), gets read models built
in memory for the read when the stored ones are missing or behind.

On PostgreSQL the read models live in the schema `ledger_read`; a role that is a member of its
owner (the writers' group) acts as that owner (`projections.database.take_read_role`), so that
every member can catch up and replay whatever another member built. A session more privileged than
that owner (a superuser, or the events table's owner), unless it owns the schema itself, is wary:
any member may plant code there that would run with its rights, so it never touches those tables,
builds every read in memory from the log, and may not replay.

The events are read straight from the event store's table in the same database, as stored rows:
catching up and replaying need neither the application nor the domain model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from itertools import islice
from typing import Any, NamedTuple

from ledger.domain.chain import GENESIS
from ledger.errors import LogChanged, NoReadModels, Refused
from ledger.store.settings import Settings, read_only_file
from ledger.store.storage import READ_SCHEMA
from projections.database import (
    INDEXING,
    POSITION,
    POSTGRESQL,
    SQLITE,
    Checkpointer,
    absent,
    begin,
    connect,
    db_errors,
    dialect,
    events_page,
    fetch,
    read_role,
    state_sql,
)
from projections.integrity import check_state, damage_said, linked
from projections.projector import Projector
from projections.queries import Db
from projections.schema import (
    KEYS_LATER,
    NAME,
    STATE_TABLE,
    drop_statements,
    index_statements,
    key_statements,
    statistics_statements,
    table_statements,
)

PAGE = 5000
REPLAY_PAGE = 10_000  # the fresh tables are not live yet: fewer, larger transactions
RECORDED_PAGE = 10_000  # events this process just stored (an import batch): one transaction


# a stored row as catch-up reads it: (position, stream hex, version, topic, state, chain hash)
Row = tuple[int, str, int, str, bytes, str]


class State(NamedTuple):
    """The read models' state row: their live generation, the position they were built up to and
    the chain hash there; with it, when it was checked against the log, the log's head (else 0)."""

    generation: int
    position: int
    hash: str
    head: int


class ReadModels:
    """The read models of one database. `source(after, upto)` gives stored rows from elsewhere
    (the --as-of copy reads another ledger's log); by default they are read from the events
    table beside the read models."""

    def __init__(self, settings: Settings | None,
                 source: Callable[[int, int | None], Iterable[Row]] | None = None):
        self.settings = settings
        self.source = source
        # a ledger file this user may only read: nothing is written, read models are built in memory
        self.read_only = (settings is not None and settings.backend == "sqlite"
                          and read_only_file(settings.sqlite_path))
        self.memory: ReadModels | None = None
        self.conn = connect(settings, read_only=self.read_only)
        self.dialect = dialect(self.conn)
        self.foreign = False  # PostgreSQL: tables in the read models' schema that its owner does not own
        self.wary = False  # PostgreSQL: a session that must not touch the stored read models at all
        if self.dialect == POSTGRESQL:
            role = read_role(self.conn)
            self.read_only, self.foreign, self.wary = not role.may_write, role.foreign, role.wary
        self.column = POSITION[self.dialect]  # the events table's
        self.ready = False
        self.checkpointer: Checkpointer | None = None

    @classmethod
    def as_of(cls, app: Any, position: int) -> ReadModels:
        """The read models as the ledger stood at `position`, built by the same projector into a
        throw-away in-memory database, never by rewinding the live ones."""
        read_models = cls(None, cls.log_of(app))
        read_models.catch_up(upto=position)
        return read_models

    @staticmethod
    def log_of(app: Any) -> Callable[[int, int | None], Iterator[Row]]:
        """An application's log as a source of stored rows for read models built in memory."""

        def source(after: int, upto: int | None) -> Iterator[Row]:
            for row in app.recorder.chain_rows(after, upto):
                yield row.position, row.originator_id, row.originator_version, row.topic, row.state, row.hash

        return source

    def close(self) -> None:
        if self.memory is not None:
            self.memory.close()
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.conn.close()

    def _written(self) -> None:
        """After a bulk write's commit (a replay's page, an import's batch): on SQLite, have the
        write-ahead log checkpointed on a second core meanwhile."""
        if self.dialect == SQLITE and self.settings is not None:
            if self.checkpointer is None:
                self.checkpointer = Checkpointer(self.settings)
            self.checkpointer.poke()

    # ------------------------------------------------------------------ transactions

    def _sql(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement (`:name` parameters, `projections.database.sql`); its rows."""
        return fetch(self.conn, self.dialect, sql, params)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Any]:
        """One transaction on the read models' connection; a writing one holds the write lock
        (`projections.database.begin`)."""
        try:
            begin(self.conn, self.dialect, write)
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def writing(self) -> Any:
        return self._transaction(write=True)

    @contextmanager
    def reading(self) -> Iterator[tuple[Db, int]]:
        """A read transaction on the live generation: (queries' Db, position), once the log is
        seen to still hold the position they were built up to. What fails to read in them is
        said as damaged read models (`damage_said`)."""
        if self.wary and self.memory is None:
            self._in_memory()
        if self.memory is not None:
            with self.memory.reading() as read:
                yield read
            return
        with self._transaction(write=False) as conn:
            state = self._state(check=True)
            with damage_said():
                yield Db(conn, state.generation), state.position

    def _state(self, lock: bool = False, check: bool = False) -> State:
        """The read models' state; `lock` holds its row until the transaction ends (on SQLite the
        whole database is already held by BEGIN IMMEDIATE). `check`: the log must still hold the
        event at its position, with its hash (one indexed lookup, in the same query, with the
        log's head); a copy built from another log checked that log's chain as it went. A wary
        session has none: it never reads the stored read models."""
        if self.wary:
            raise NoReadModels("this session does not read the stored read models")
        own_log = check and self.source is None and self.settings is not None
        events = self.settings.events_relation if own_log and self.settings is not None else None
        rows = self._sql(state_sql(self.dialect, events, lock), {"name": NAME})
        if not rows:
            raise NoReadModels(f"no read models of layout {NAME} here")
        if events is None:
            generation, position, hashed = rows[0]
            return State(generation, position, hashed, 0)
        generation, position, hashed, head, log_hash = rows[0]
        check_state(position, hashed, log_hash)
        return State(generation, position, hashed, head or 0)

    def _stored_state(self, check: bool = False) -> State | None:
        """The stored state (`check`: checked against the log), in a transaction of its own; None
        when there are no read models of this layout here (yet), or this session does not read
        them. Any other failure to read it (a busy or unreachable database, a lacking right) is
        raised, never taken for none."""
        try:
            with self._transaction(write=False):
                return self._state(check=check)
        except NoReadModels:
            return None
        except db_errors(self.conn) as error:
            if absent(error):  # no state table yet, one of another layout, not this role's to read
                return None
            raise

    def built_to(self) -> tuple[int, str]:
        """(position, chain hash) of the last event these read models hold."""
        with self._transaction(write=False):
            state = self._state()
        return state.position, state.hash

    def _move(self, position: int, hashed: str, generation: int | None = None) -> None:
        params = {"position": position, "hash": hashed, "name": NAME, "generation": generation}
        self._sql("UPDATE ledger_projection SET position = :position, hash = :hash, "
                  "generation = COALESCE(:generation, generation) WHERE name = :name", params)

    # ------------------------------------------------------------------ the log

    def head(self) -> int:
        if self.source is not None:
            return 0  # a copy is told how far to go
        assert self.settings is not None
        head: int = self._sql(f"SELECT MAX({self.column}) FROM {self.settings.events_relation}")[0][0] or 0
        return head

    def _hash_at(self, position: int) -> str | None:
        """The chain hash stored at exactly this position, None when no event is there."""
        assert self.settings is not None
        rows = self._sql(f"SELECT hash FROM {self.settings.events_relation} WHERE {self.column} = :position",
                         {"position": position})
        return rows[0][0] if rows else None

    def _events(self, after: int, upto: int | None, limit: int) -> list[Row]:
        """Up to `limit` stored rows after a position (and up to `upto`), in position order."""
        if self.source is not None:
            return list(islice(self.source(after, upto), limit))
        assert self.settings is not None
        return events_page(self.conn, self.dialect, self.settings.events_relation, after, upto, limit)

    def _log(self, after: int, upto: int | None) -> Iterator[Row]:
        """Every stored row after a position, up to `upto`, page by page."""
        while True:
            rows = self._events(after, upto, PAGE)
            yield from rows
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def _gap(self, after: int, before: int) -> bool:
        """Whether any event lies strictly between two positions (PostgreSQL's ids may skip)."""
        assert self.settings is not None
        return bool(self._sql(f"SELECT 1 FROM {self.settings.events_relation} WHERE {self.column} > :after "
                              f"AND {self.column} < :before LIMIT 1", {"after": after, "before": before}))

    def _projector(self, generation: int, before_lookup: Callable[[], None] | None = None) -> Projector:
        return Projector(generation, self.dialect, before_lookup)

    # ------------------------------------------------------------------ keeping up

    def ensure(self) -> None:
        """Create the read-model tables on first use, or when their layout has changed (layout 2's
        state table had no hash column: it goes, with the generations it names)."""
        if self.ready:
            return
        # (tables another role made are rebuilt below)
        if not self.foreign and self._stored_state() is not None:
            self.ready = True
            return
        with self.writing():
            if self.foreign:
                self._drop_foreign()
            self._sql(STATE_TABLE)
            if "hash" not in self._columns("ledger_projection"):
                for (generation,) in self._sql("SELECT generation FROM ledger_projection"):
                    for statement in drop_statements(generation):
                        self._sql(statement)
                self._sql("DROP TABLE ledger_projection")
                self._sql(STATE_TABLE)
            if not self._sql(state_sql(self.dialect), {"name": NAME}):
                older = [row[0] for row in self._sql("SELECT generation FROM ledger_projection")]
                generation = max(older, default=0) + 1
                for statement in [*(s for g in older for s in drop_statements(g)), *drop_statements(generation),
                                  *table_statements(generation, self.dialect),
                                  *index_statements(generation, self.dialect)]:
                    self._sql(statement)
                self._sql("DELETE FROM ledger_projection")
                self._sql("INSERT INTO ledger_projection (name, generation, position, hash) "
                          "VALUES (:name, :generation, 0, :hash)",
                          {"name": NAME, "generation": generation, "hash": GENESIS})
        self.ready, self.foreign = True, False

    def _drop_foreign(self) -> None:
        """PostgreSQL: the read models' schema holds tables another role made (its owner's, before
        the schema was given to the writers' group): derived data, dropped (as the schema's owner
        may) to be rebuilt as the group's own, which every member may then replace."""
        for (table,) in self._sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                  "AND tableowner <> current_user"):
            self._sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')

    def _columns(self, table: str) -> list[str]:
        cursor = self.conn.execute(f"SELECT * FROM {table} WHERE 1 = 0")
        try:
            return [d[0] for d in cursor.description]
        finally:
            cursor.close()

    def behind(self) -> bool:
        """Whether events follow the read models' position; refused when the log no longer holds it."""
        with self._transaction(write=False):
            state = self._state(check=True)
            return state.position < state.head

    def catch_up(self, upto: int | None = None, recorded: list[tuple[Any, ...]] | None = None) -> int:
        """Apply every event after the tracked position (up to `upto`); the number applied.

        `recorded`: events this process has just stored, (position, stream, topic, state); when
        they follow the tracked position directly they are applied as they are, without reading
        them back. A writer's catch-up never fails the write: when the log no longer holds the
        read models' position, it leaves them, and the next read refuses and says why."""
        if self.read_only:
            if self.wary and recorded:
                return 0  # its own writes: its next read builds the read models from the log anyway
            return self._in_memory()
        # a live read model someone edited can make the projector's writes fail (one built in
        # memory from a log says what in the log it could not read: verify --deep)
        with damage_said() if self.source is None else nullcontext():
            if recorded:
                try:
                    return self._catch_up(upto, recorded)
                except LogChanged:
                    return 0
            return self._catch_up(upto, None)

    def _catch_up(self, upto: int | None, recorded: list[tuple[Any, ...]] | None) -> int:
        self.ensure()
        applied = self._apply_recorded(recorded) if recorded else 0
        if upto is None and not self.behind():
            return applied
        projector: Projector | None = None
        while True:
            with self.writing() as conn:
                generation, position, hashed, _ = self._state(lock=True, check=True)
                if projector is None or projector.generation != generation:
                    projector = self._projector(generation)
                page, hashed = linked(self._events(position, upto, PAGE), hashed)
                if not page:
                    return applied
                for stored in page:
                    projector.apply(conn, stored)
                projector.flush(conn)
                self._move(page[-1][0], hashed)
                applied += len(page)

    def _apply_recorded(self, recorded: list[tuple[Any, ...]]) -> int:
        applied = 0
        for start in range(0, len(recorded), RECORDED_PAGE):
            page = recorded[start:start + RECORDED_PAGE]
            with self.writing() as conn:
                generation, position, _, _ = self._state(lock=True, check=True)
                if page[0][0] <= position:
                    page = [stored for stored in page if stored[0] > position]
                if not page or (page[0][0] != position + 1 and self._gap(position, page[0][0])):
                    return applied  # another writer came in between: the ordinary catch-up reads the log
                projector = self._projector(generation)
                for stored in page:
                    projector.apply(conn, stored)
                projector.flush(conn)
                last = page[-1][0]
                self._move(last, self._hash_at(last) or "")  # sealed by this process: one lookup
                applied += len(page)
            self._written()
        return applied

    def _in_memory(self) -> int:
        """A ledger file this user may only read (or read models this PostgreSQL role may not
        write): the stored read models answer when they are up to date; otherwise (missing, of
        another layout, behind) read models are built in memory from the log for this read, as
        --as-of does, and nothing is written. A wary session always builds them in memory."""
        if self.memory is not None:
            return 0
        head = self.head()
        if self.wary:
            self.memory = ReadModels(None, self._log)
            return self.memory.catch_up(upto=head)
        with damage_said():
            state = self._stored_state(check=True)  # None: none here, of another layout, not this role's
        if state is not None and state.position == head:
            self.ready = True
            return 0
        self.memory = ReadModels(None, self._log)
        return self.memory.catch_up(upto=head)

    def replay(self, progress: Callable[[int, int], None] | None = None, force: bool = False) -> tuple[int, int]:
        """Rebuild every read model from position 1 into fresh tables, then swap them in.

        Returns (events replayed, position). If anything fails, the fresh tables are dropped and
        the live read models stay as they were. The fresh tables get their secondary indexes
        (on PostgreSQL their primary keys too: `schema.KEYS_LATER`) once they are full (one sort
        each, not an update per row), or at the first event that needs to find a row. A second
        connection checkpoints the write-ahead log meanwhile.

        A log that no longer holds the live read models' position is refused unless `force`
        (the remedy once `ledger verify` has said what changed); every event replayed must pass
        the chain, from the first, or nothing is swapped in.
        """
        assert self.settings is not None
        if self.read_only:
            if self.wary:
                raise Refused(f"replay rebuilds the read models, and role {self.settings.postgres['user']} has more "
                              f"rights than a plain login at {self.settings.where} (it may act as the owner, or "
                              "create roles or databases): such a role never touches the read models (schema "
                              f"{READ_SCHEMA}, the writers' group's), its reads are built in memory from the log: "
                              "run replay as a member of the writers' group")
            if self.dialect == POSTGRESQL:
                role = self.settings.postgres["user"]
                raise Refused(f"replay rebuilds the read models, and role {role} may not write them (schema "
                              f"{READ_SCHEMA} at {self.settings.where}): run it as a member of the writers' group")
            raise Refused(f"replay rebuilds the read models, and {self.settings.sqlite_path} is read-only here")
        self.ensure()
        with self._transaction(write=False):
            live = self._state(check=not force).generation
            total = self._sql(f"SELECT COUNT(*) FROM {self.settings.events_relation}")[0][0]
        fresh, keys_later = live + 1, KEYS_LATER[self.dialect]
        with self.writing():
            for statement in [*drop_statements(fresh), *table_statements(fresh, self.dialect, keys_later)]:
                self._sql(statement)  # leftovers of a replay that died go first
        indexed = False

        def index() -> None:  # once the tables are full, or when the projector must look something up
            nonlocal indexed
            if not indexed:
                for statement in [*INDEXING[self.dialect], *(key_statements(fresh) if keys_later else ()),
                                  *index_statements(fresh, self.dialect)]:
                    self._sql(statement)
                indexed = True

        projector = self._projector(fresh, before_lookup=index)
        replayed, position, hashed = 0, 0, GENESIS
        try:
            while True:
                with self.writing() as conn:
                    page, last = linked(self._events(position, None, REPLAY_PAGE), hashed)
                    if not page:
                        # caught up with the log, under the write lock: index and swap in this transaction
                        index()
                        for statement in statistics_statements(fresh, self.dialect):
                            self._sql(statement)
                        if self._state(lock=True).generation != live:
                            raise Refused("another replay finished first and swapped its read models in; this one "
                                          "is dropped (run replay again if the log changed since)")
                        self._move(position, hashed, generation=fresh)
                        for statement in drop_statements(live):
                            self._sql(statement)
                        return replayed, position
                    for stored in page:
                        projector.apply(conn, stored)
                    projector.flush(conn)
                position, hashed = page[-1][0], last
                replayed += len(page)
                if progress:
                    progress(replayed, total)
                self._written()
        except BaseException:
            with self.writing():
                for statement in drop_statements(fresh):
                    self._sql(statement)
            raise
