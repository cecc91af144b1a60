"""The read models: kept up to date by a pull-based catch-up, rebuilt whole by a replay.

Catch-up reads the events after the tracked position and applies them page by page; each page's
rows and the new position are written in one transaction, under the write lock, so two processes
catching up at once never apply an event twice. Every read catches up first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, func, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from ledger.settings import Settings
from projections.schema import META, NAME, projection_state, tables

if TYPE_CHECKING:
    from projections.projector import Projector

PAGE = 1000
REPLAY_PAGE = 5000
RECORDED_PAGE = 10_000  # events this process just stored (an import batch): one transaction  # the fresh tables are not live yet: fewer, larger transactions
PROJECTION_LOCK = 0x1ED6E402  # a PostgreSQL advisory lock of the ledger's own


def make_engine(settings: Settings | None) -> Engine:
    """The ledger's own database, or (no settings) a throw-away in-memory one for --as-of."""
    if settings is None:
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif settings.backend == "postgresql":
        # writers serialise on the projection_state row (SELECT ... FOR UPDATE), see ReadModels._state
        return create_engine(settings.sqlalchemy_url, pool_size=2, max_overflow=2)
    else:
        engine = create_engine(settings.sqlalchemy_url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        # Read models are derived data: a commit that a power cut loses is redone by the next
        # catch-up. This connection only; the event store's own connection keeps full fsync.
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writing") else "BEGIN")

    return engine


class ReadModels:
    def __init__(self, settings: Settings | None):
        self.settings = settings
        self.engine = make_engine(settings)

    @classmethod
    def as_of(cls, app: Any, position: int) -> ReadModels:
        """The read models as the ledger stood at `position`, built by the same projector into a
        throw-away in-memory database, never by rewinding the live ones."""
        read_models = cls(None)
        read_models.catch_up(lambda: app, upto=position)
        return read_models

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that changes the read models, one writer at a time (SQLite: BEGIN
        IMMEDIATE; PostgreSQL: an advisory lock, which also keeps table creation from racing)."""
        with self.engine.connect().execution_options(writing=True) as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PROJECTION_LOCK})
            yield conn

    @contextmanager
    def reading(self) -> Iterator[tuple[Connection, Any, int]]:
        """A read transaction on the live generation: (connection, tables, position)."""
        with self.engine.connect() as conn, conn.begin():
            generation, position = self._state(conn)
            yield conn, tables(generation), position

    def _state(self, conn: Connection, lock: bool = False) -> tuple[int, int]:
        """(generation, position); `lock` holds the row until the transaction ends (on SQLite the
        whole database is already held by BEGIN IMMEDIATE)."""
        query = select(projection_state.c.generation, projection_state.c.position).where(projection_state.c.name == NAME)
        if lock and conn.dialect.name != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).one_or_none()
        if row is None:
            raise LookupError("read models not created")
        return row.generation, row.position

    def head(self, conn: Connection) -> int:
        assert self.settings is not None, "an --as-of copy has no events of its own"
        position = "rowid" if conn.dialect.name == "sqlite" else "notification_id"
        return conn.execute(text(f"SELECT MAX({position}) FROM {self.settings.events_table}")).scalar() or 0

    def ensure(self) -> None:
        """Create the read-model tables on first use."""
        if inspect(self.engine).has_table(projection_state.name):
            with self.engine.connect() as conn:
                if conn.execute(select(func.count()).select_from(projection_state)).scalar():
                    return
        with self.writing() as conn:
            META.create_all(conn)
            if conn.execute(select(func.count()).select_from(projection_state)).scalar():
                return
            tables(1).metadata.create_all(conn)
            conn.execute(projection_state.insert().values(name=NAME, generation=1, position=0))

    def behind(self) -> bool:
        with self.engine.connect() as conn, conn.begin():
            return self._state(conn)[1] < self.head(conn)

    def catch_up(self, app_factory: Callable[[], Any], upto: int | None = None,
                 recorded: list[tuple[int, Any]] | None = None) -> int:
        """Apply every event after the tracked position (up to `upto`); the number applied.

        `recorded`: (position, event) pairs this process has just stored; when they follow the
        tracked position directly they are applied as they are, without reading them back."""
        self.ensure()
        applied = self._apply_recorded(recorded) if recorded else 0
        if upto is None and not self.behind():
            return applied
        from projections.projector import Projector  # the domain's event classes: only when there is work

        app = app_factory()
        projector: Projector | None = None
        while True:
            with self.writing() as conn:
                generation, position = self._state(conn, lock=True)
                if projector is None or projector.t.generation != generation:
                    projector = Projector(tables(generation))
                last = position
                for row, domain_event in islice(app.log(after=position, upto=upto), PAGE):
                    projector.apply(conn, domain_event, row.position)
                    last = row.position
                    applied += 1
                if last == position:
                    return applied
                projector.flush(conn)
                self._move(conn, last)

    def _apply_recorded(self, recorded: list[tuple[int, Any]]) -> int:
        from projections.projector import Projector

        applied = 0
        for start in range(0, len(recorded), RECORDED_PAGE):
            page = recorded[start:start + RECORDED_PAGE]
            with self.writing() as conn:
                generation, position = self._state(conn, lock=True)
                if page[0][0] <= position:
                    page = [(p, e) for p, e in page if p > position]
                if not page or page[0][0] != position + 1 and self._gap(conn, position, page[0][0]):
                    return applied  # another writer came in between: the ordinary catch-up reads the log
                projector = Projector(tables(generation))
                for event_position, domain_event in page:
                    projector.apply(conn, domain_event, event_position)
                projector.flush(conn)
                self._move(conn, page[-1][0])
                applied += len(page)
        return applied

    def _gap(self, conn: Connection, after: int, before: int) -> bool:
        """Whether any event lies strictly between two positions (PostgreSQL's ids may skip)."""
        assert self.settings is not None
        column = "rowid" if conn.dialect.name == "sqlite" else "notification_id"
        return bool(conn.execute(text(f"SELECT 1 FROM {self.settings.events_table} WHERE {column} > :a "
                                      f"AND {column} < :b LIMIT 1"), {"a": after, "b": before}).first())

    def _move(self, conn: Connection, position: int, generation: int | None = None) -> None:
        values: dict[str, int] = {"position": position}
        if generation is not None:
            values["generation"] = generation
        conn.execute(update(projection_state).where(projection_state.c.name == NAME).values(**values))

    def replay(self, app: Any, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Rebuild every read model from position 1 into fresh tables, then swap them in.

        Returns (events replayed, position). If anything fails, the fresh tables are dropped and
        the live read models stay as they were.
        """
        from projections.projector import Projector

        self.ensure()
        with self.engine.connect() as conn, conn.begin():
            live, _ = self._state(conn)
        fresh = tables(live + 1)
        with self.writing() as conn:
            fresh.metadata.drop_all(conn)  # leftovers of a replay that died
            fresh.metadata.create_all(conn)
        projector = Projector(fresh)
        replayed, position = 0, 0
        total = app.recorder.count()
        try:
            while True:
                with self.writing() as conn:
                    last = position
                    for row, domain_event in islice(app.log(after=position, page=REPLAY_PAGE), REPLAY_PAGE):
                        projector.apply(conn, domain_event, row.position)
                        last = row.position
                        replayed += 1
                    if progress:
                        progress(replayed, total)
                    projector.flush(conn)
                    if last == position:
                        # caught up with the log, under the write lock: swap in this transaction
                        current, _ = self._state(conn, lock=True)
                        if current != live:
                            raise RuntimeError("another replay swapped the read models meanwhile")
                        self._move(conn, position, generation=fresh.generation)
                        tables(live).metadata.drop_all(conn)
                        return replayed, position
                position = last
        except BaseException:
            with self.writing() as conn:
                fresh.metadata.drop_all(conn)
            raise
