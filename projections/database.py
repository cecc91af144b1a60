"""Bare DB-API connections to the ledger's database, for the read models: sqlite3 or psycopg.

No SQLAlchemy here: a CLI command is a new process, and the read path and the bulk commands are
measured against raw sqlite3 (see README, "Measuring"); importing an ORM toolkit would cost them
more than their whole start-up.

On PostgreSQL the read models live in their own schema, `ledger_read` (`ledger.store.storage`): the
connection looks names up there only, and names the events table with its schema; but a session
more privileged than that schema's owner never touches it (`take_read_role`).
"""

from __future__ import annotations

import sqlite3
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from ledger.store.settings import Settings
from ledger.store.storage import READ_SCHEMA

# Read models are derived data: a commit that a power cut loses is redone by the next catch-up,
# so their connection does not wait for the disk at each commit (in WAL mode the database itself
# stays consistent). A bounded page cache, the same at every ledger size, and checkpoints every
# 40 MB rather than every 4 MB, for the bulk writes of an import or a replay.
SQLITE_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-8192", "PRAGMA wal_autocheckpoint=10000")


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


def db_errors(conn: Any) -> tuple[type[BaseException], ...]:
    """The errors of this connection's database driver: what a missing or older table raises."""
    if isinstance(conn, sqlite3.Connection):
        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


def dialect(conn: Any) -> str:
    return "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"


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
