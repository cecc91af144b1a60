"""The read side's one adapter to the database: bare DB-API connections (sqlite3 or psycopg), and
every difference between SQLite and PostgreSQL that the read models meet, said here once:

- placeholders: all read-side SQL is written with named parameters, `:name` (`sql` turns it into
  the driver's style; `execute`, `fetch` and `execute_many` run it);
- bulk writes: `insert_rows`, PostgreSQL's COPY or SQLite's executemany;
- the events table's position column (`POSITION`: SQLite's rowid, PostgreSQL's notification_id),
  and a page of stored events as the projector takes them (`events_page`);
- the read models' state row (`state_sql`), transactions and their write lock (`begin`), the
  settings of a replay's index builds (`INDEXING`), SQLite's WITHOUT ROWID tables;
- errors: the driver's (`db_errors`), read models that are not there for this session (`absent`:
  none yet, of another layout, not this role's to read) and what can only be damage (`damage`),
  never a busy or lost server.

No SQLAlchemy here: a CLI command is a new process, and the read path and the bulk commands are
measured against raw sqlite3 (see README, "Measuring"); importing an ORM toolkit would cost them
more than their whole start-up.

On PostgreSQL the read models live in their own schema, `ledger_read` (`ledger.store.storage`): the
connection looks names up there only, and names the events table with its schema; but a session
more privileged than that schema's owner never touches it (`take_read_role`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from ledger.store.settings import Settings
from ledger.store.storage import READ_SCHEMA

# Read models are derived data: a commit that a power cut loses is redone by the next catch-up,
# so their connection does not wait for the disk at each commit (in WAL mode the database itself
# stays consistent). A bounded page cache, the same at every ledger size, and checkpoints every
# 40 MB rather than every 4 MB, for the bulk writes of an import or a replay. The SQLite this
# runs on may be built to zero every page it frees (Debian's is: SECURE_DELETE), so that a
# replay's drop of the old generation wrote all its pages again (0.27 s of a replay of 100,000
# incidents); FAST zeroes what it deletes only in pages it writes anyway (0.05 s). What the read
# models free holds nothing the file does not keep: it was all derived from the log beside them.
SQLITE_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-8192", "PRAGMA wal_autocheckpoint=10000",
                  "PRAGMA secure_delete=FAST")


def connect(settings: Settings | None, read_only: bool = False) -> Any:
    """A connection to the ledger's database; without settings, a throw-away in-memory one.
    SQLite connections are in autocommit mode: callers say BEGIN themselves. On PostgreSQL the
    connection is marked as the read models' (no event can be inserted through it), and looks
    names up in the read models' schema only when this session may trust it (`take_read_role`;
    `read_role(conn)` tells what was found; `read_only`: no SET ROLE, the light read path)."""
    if settings is None:
        return sqlite3.connect(":memory:", isolation_level=None)
    if settings.backend == "sqlite":
        if read_only:
            from ledger.store.settings import sqlite_read_uri

            return sqlite3.connect(sqlite_read_uri(settings.sqlite_path), uri=True, timeout=30,
                                   isolation_level=None)
        conn = sqlite3.connect(settings.sqlite_path, timeout=30, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(pragma)
        return conn
    conn = settings.connect_postgres(search_path=SAFE_PATH, read_models=True)
    try:
        _roles[conn] = take_read_role(conn, act=not read_only)
    except BaseException:
        conn.close()
        raise
    return conn


class ReadRole(NamedTuple):
    may_write: bool  # may write the read models (their schema's owner, or acting as it)
    foreign: bool  # their schema holds tables another role owns: made before it was given to the group
    wary: bool  # more privileged than their owner: never touches them (builds its reads in memory)


# Where a PostgreSQL read-model connection looks names up before its role is known, and always for
# a session that must not touch the read models: the system catalog only (the events table is
# always named with its schema).
SAFE_PATH = "pg_catalog"

# A session with any right beyond a plain login's (a superuser; a role that may create roles or
# databases, bypass row security or replicate; one that may act as the owner of the events table)
# and not itself the read models' schema's owner is wary: whoever owns that schema (the writers'
# group) may plant there a trigger, a view, a function or an operator that would run in this
# session, with its rights (a RESET ROLE, then anything it may do). Such a session keeps the
# search path above and never reads those tables. (Plain writers and readers still read them: what
# planted code may do in their sessions is what a plain login may, on itself; README.)
WARY = ("(u.rolsuper OR u.rolcreaterole OR u.rolcreatedb OR u.rolbypassrls OR u.rolreplication "
        "OR COALESCE(pg_has_role(u.oid, e.relowner, 'USAGE'), false)) "
        "AND n.nspowner IS DISTINCT FROM u.oid")

# the session's role against the read models' schema: its owner, whether this session is it, or a
# member of it, whether it may create tables there, whether the schema holds tables some other role
# owns, and whether this session is wary; the same query sets the search path the session uses
# (run with the search path above: every name in it is the system catalog's)
READ_SCHEMA_ROLE = (
    "SELECT o.rolname, n.nspowner = u.oid, pg_has_role(u.oid, n.nspowner, 'MEMBER'), "
    "has_schema_privilege(n.oid, 'CREATE'), "
    "EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p') "
    "AND c.relowner <> n.nspowner), "
    f"set_config('search_path', CASE WHEN {WARY} THEN %(safe)s ELSE %(read)s END, false) = %(safe)s "
    "FROM pg_roles u LEFT JOIN pg_namespace n ON n.nspname = %(read)s "
    "LEFT JOIN pg_roles o ON o.oid = n.nspowner LEFT JOIN pg_class e ON e.oid = to_regclass(%(events)s) "
    "WHERE u.rolname = session_user")

_roles: WeakKeyDictionary[Any, ReadRole] = WeakKeyDictionary()


def read_role(conn: Any) -> ReadRole:
    """What `connect` found this PostgreSQL connection's session may do with the read models."""
    return _roles[conn]


def take_read_role(conn: Any, act: bool = True) -> ReadRole:
    """On PostgreSQL, before the read models are touched (the connection's search path is still
    `SAFE_PATH`): a wary session (above) keeps that path and will build its reads in memory from
    the log; any other looks names up in the read models' schema, and (`act`) acts as the owner of
    that schema when its role is a member of it (a login role of the writers' group), so that
    every read-model table belongs to that group, whoever created it, and any member can replay.
    Says whether this role may write the read models, whether their schema holds tables another
    role owns (made before the schema was given to the group, to be rebuilt), and whether it is wary."""
    import psycopg

    from ledger.store.settings import PG_EVENTS_TABLE, PG_SCHEMA

    conn.autocommit = True  # the search path and the role stay set for the session
    try:
        row = conn.execute(READ_SCHEMA_ROLE, {"safe": SAFE_PATH, "read": READ_SCHEMA,
                                              "events": f'"{PG_SCHEMA}"."{PG_EVENTS_TABLE}"'}).fetchone()
        owner, is_owner, member, may_create, foreign, wary = row
        if wary:
            return ReadRole(False, False, True)
        if owner is None:  # a ledger made before the schema: its owner's first write or init makes it
            return ReadRole(False, False, False)
        if is_owner:
            return ReadRole(True, foreign, False)
        if member and act:
            try:
                conn.execute(f'SET ROLE "{owner}"')
                return ReadRole(True, foreign, False)
            except psycopg.Error:  # a member without the right to act as it (PostgreSQL 16's SET option)
                pass
        return ReadRole(bool(may_create), False, False)
    finally:
        conn.autocommit = False




class Checkpointer:
    """Copies committed pages from SQLite's write-ahead log into the database file on a second
    connection and thread (a second core), while a bulk write goes on: the copy, and its wait for
    the disk, otherwise falls on the writer's next commit or on its close. PASSIVE checkpoints
    never block the writer. `poke()` after each commit; `close()` when done."""

    def __init__(self, settings: Settings):
        import threading

        self.conn = sqlite3.connect(settings.sqlite_path, timeout=30, isolation_level=None,
                                    check_same_thread=False)
        self.wanted = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="ledger-checkpoint", daemon=True)
        self.thread.start()

    def poke(self) -> None:
        self.wanted.set()

    def _run(self) -> None:
        while True:
            self.wanted.wait()
            self.wanted.clear()
            if self.stopping:
                return
            try:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                pass  # a checkpoint is an optimisation: the writer's own close does it anyway

    def close(self) -> None:
        self.stopping = True
        self.wanted.set()
        self.thread.join()
        self.conn.close()


# ---------------------------------------------------------------------- the two dialects

SQLITE, POSTGRESQL = "sqlite", "postgresql"

# the events table's position column: SQLite's rowid, PostgreSQL's bigserial
POSITION = {SQLITE: "rowid", POSTGRESQL: "notification_id"}
# what follows a table whose key is the whole row (SQLite stores it as that key alone)
WITHOUT_ROWID = {SQLITE: " WITHOUT ROWID", POSTGRESQL: ""}
# set before a replay builds its indexes (PostgreSQL: the sorts stay in memory)
INDEXING = {SQLITE: (), POSTGRESQL: ("SET LOCAL maintenance_work_mem = '128MB'",)}
PROJECTION_LOCK = 0x1ED6E402  # a PostgreSQL advisory lock of the ledger's own: the read models' write lock


def dialect(conn: Any) -> str:
    return SQLITE if isinstance(conn, sqlite3.Connection) else POSTGRESQL


@lru_cache(maxsize=2)
def statement_dialect(dialect: str) -> Any:
    """The SQLAlchemy dialect that a list read's statement (`projections.asking`) is compiled for,
    to run on this dialect's bare connection: in its driver's paramstyle, sqlite3's named or
    psycopg's pyformat. SQLAlchemy is imported here, when a list read first asks, never before."""
    if dialect == SQLITE:
        from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

        return SQLiteDialect_pysqlite(paramstyle="named")
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    return PGDialect_psycopg()  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------------- placeholders

# `:name`, not a cast (`::text`) nor a time in a literal (`12:30`)
NAMED = r"(?<![:\w]):(\w+)"


def sql(text: str, dialect: str) -> str:
    """Read-side SQL, written with named parameters (`:name`, sqlite3's own style), in the style of
    the dialect's driver: psycopg's `%(name)s`, a literal `%` doubled (run it with parameters,
    even none: `execute`)."""
    if dialect == SQLITE:
        return text
    return re.sub(NAMED, r"%(\1)s", text.replace("%", "%%"))  # (compiled once, on PostgreSQL only)


def execute(cursor: Any, dialect: str, text: str, params: Mapping[str, Any] | None = None) -> None:
    cursor.execute(sql(text, dialect), params or {})


def fetch(conn: Any, dialect: str, text: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement; the rows it gives (none for a statement that gives none)."""
    cursor = conn.cursor()
    try:
        execute(cursor, dialect, text, params)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def execute_many(conn: Any, dialect: str, text: str, params: Iterable[Mapping[str, Any]]) -> None:
    cursor = conn.cursor()
    try:
        cursor.executemany(sql(text, dialect), params)
    finally:
        cursor.close()


# ---------------------------------------------------------------------- bulk writes


@lru_cache(maxsize=256)
def _bulk(dialect: str, table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    if dialect == POSTGRESQL:
        return f"COPY {table} ({names}) FROM STDIN"
    return f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"


def insert_rows(cursor: Any, dialect: str, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """New rows (tuples, in the order of `columns`) into one table: on PostgreSQL one COPY, several
    times faster than inserts row by row; on SQLite one executemany."""
    statement = _bulk(dialect, table, tuple(columns))
    if dialect == POSTGRESQL:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(statement, rows)


# ---------------------------------------------------------------------- transactions, the state row, the log


def begin(conn: Any, dialect: str, write: bool) -> None:
    """Open a transaction on a read-model connection (SQLite's are in autocommit mode; psycopg opens
    one itself). A writing one holds the read models' write lock: SQLite's BEGIN IMMEDIATE;
    PostgreSQL's advisory lock, which also keeps table creation from racing, and no wait for the
    disk at commit (derived data, its position in the same transaction: a commit lost in a crash
    is redone by the next catch-up). On failure the caller rolls back."""
    if dialect == SQLITE:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    elif write:
        fetch(conn, dialect, "SELECT pg_advisory_xact_lock(:lock)", {"lock": PROJECTION_LOCK})
        fetch(conn, dialect, "SET LOCAL synchronous_commit = off")


def state_sql(dialect: str, events: str | None = None, lock: bool = False) -> str:
    """The query of the read models' state row, `:name` (`projections.schema.NAME`): its
    generation, position and chain hash; with `events` (the events table beside them) also, in
    the same query, the log's head and the hash the log holds at that position (None when no
    event is there). `lock` holds the row until the transaction ends (on SQLite BEGIN IMMEDIATE
    already holds the whole database)."""
    columns = "s.generation, s.position, s.hash"
    if events is not None:
        position = POSITION[dialect]
        columns += (f", (SELECT MAX({position}) FROM {events}), "
                    f"(SELECT e.hash FROM {events} e WHERE e.{position} = s.position)")
    text = f"SELECT {columns} FROM ledger_projection s WHERE s.name = :name"
    return text + (" FOR UPDATE OF s" if lock and dialect == POSTGRESQL else "")


def events_page(conn: Any, dialect: str, events: str, after: int, upto: int | None,
                limit: int) -> list[tuple[Any, ...]]:
    """Up to `limit` stored events after a position (and up to `upto`), in position order, as
    (position, stream hex, version, topic, state bytes, chain hash)."""
    position = POSITION[dialect]
    text = (f"SELECT {position}, originator_id, originator_version, topic, state, hash "
            f"FROM {events} WHERE {position} > :after")
    params: dict[str, Any] = {"after": after}
    if upto is not None:
        text += f" AND {position} <= :upto"
        params["upto"] = upto
    text = f"{text} ORDER BY {position} LIMIT {int(limit)}"
    if dialect == SQLITE:
        return fetch(conn, dialect, text, params)
    # binary results: the states come back as they are, not hex-encoded and decoded again
    with conn.execute(sql(text, dialect), params, binary=True) as cursor:
        return [(p, o.hex, v, t, bytes(s), h) for p, o, v, t, s, h in cursor.fetchall()]


# ---------------------------------------------------------------------- errors


def db_errors(conn: Any) -> tuple[type[Exception], ...]:
    """The errors of this connection's database driver."""
    if isinstance(conn, sqlite3.Connection):
        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


def driver_errors() -> tuple[type[Exception], ...]:
    """The errors of every database driver this process has loaded (psycopg only once a PostgreSQL
    connection was made: a SQLite read never imports it)."""
    import sys

    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if psycopg is None else (sqlite3.Error, psycopg.Error)


# SQLite's primary result codes and PostgreSQL's SQLSTATEs (or their classes) that say what is
# stored is not what the projector wrote: a table or column gone, a value of the wrong type, a
# row where there should be none, a damaged page. SQLite's: ERROR (no such table, column...),
# CORRUPT, SCHEMA, CONSTRAINT, MISMATCH, RANGE; not BUSY, LOCKED, IOERR, FULL, READONLY, NOTADB...
_SQLITE_DAMAGE = {1, 11, 17, 19, 20, 25}
_SQLITE_NOTADB = 26
_PG_DAMAGE = ("22", "23", "42", "XX001", "XX002")  # data, integrity, undefined objects; data corrupted
_PG_NOT_DAMAGE = ("42501",)  # insufficient privilege: the role's rights, not the tables
_PG_ABSENT = ("42P01", "42703", "3F000", "42501")  # undefined table, column, schema; insufficient privilege


def _sqlite_code(error: sqlite3.Error) -> int:
    """SQLite's primary result code of an error (0 for one the driver raised itself)."""
    return (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF


def absent(error: BaseException) -> bool:
    """Whether a driver's error, met reading the read models' state, says there are none for this
    session: a table, column or schema not there (none yet, or of another layout), or on
    PostgreSQL not this role's to read (made by another role, before the schema was given to the
    writers' group; they rebuild them). Nothing else (a busy, damaged or unreachable database) is."""
    if isinstance(error, sqlite3.Error):
        return (_sqlite_code(error) == 1
                and str(error).startswith(("no such table", "no such column")))
    return getattr(error, "sqlstate", None) in _PG_ABSENT


def not_a_database(error: BaseException) -> bool:
    """Whether a driver's error says the file is no database at all (not a ledger: the ordinary
    path, which probes the ledger first, says so)."""
    return isinstance(error, sqlite3.Error) and _sqlite_code(error) == _SQLITE_NOTADB


def damage(error: BaseException) -> bool:
    """Whether a driver's error, met reading the read models, can only mean they were edited or
    damaged; not a lock, a timeout, a lost connection, a full disk or a lacking right."""
    if isinstance(error, sqlite3.Error):
        return _sqlite_code(error) in _SQLITE_DAMAGE
    state = getattr(error, "sqlstate", None) or ""
    return state.startswith(_PG_DAMAGE) and state not in _PG_NOT_DAMAGE


# ---------------------------------------------------------------------- full-text tables (SQLite's FTS5)
#
# The search index's full-text tables on SQLite (projections.schema.FULL_TEXT) take their rows from
# the projector beside the tables they index; PostgreSQL's GIN indexes keep themselves.

FTS5_KEY = "rowid"  # an FTS5 table's key: here, the position of the row it indexes


def fts5_insert(table: str, columns: Sequence[str]) -> str:
    """The insert of new rows into an FTS5 table, for executemany: (key, *columns), positional."""
    return f"INSERT INTO {table} ({FTS5_KEY}, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})"


def fts5_replace(table: str, columns: Sequence[str]) -> tuple[str, str]:
    """One row's terms out of an FTS5 table whose content is another table (its 'delete', given the
    values it was indexed with), and its new terms in: two statements, with `:position` and the
    values as `:v0`, `:v1`..."""
    names, marks = ", ".join(columns), ", ".join(f":v{n}" for n in range(len(columns)))
    return (f"INSERT INTO {table} ({table}, {FTS5_KEY}, {names}) VALUES ('delete', :position, {marks})",
            f"INSERT INTO {table} ({FTS5_KEY}, {names}) VALUES (:position, {marks})")
