"""Bare DB-API connections to the ledger's database, for the read models: sqlite3 or psycopg.

No SQLAlchemy here: a CLI command is a new process, and the read path and the bulk commands are
measured against raw sqlite3 (see README, "Measuring"); importing an ORM toolkit would cost them
more than their whole start-up.

On PostgreSQL the read models live in their own schema, `ledger_read` (`ledger.storage`): the
connection looks names up there only, and names the events table with its schema.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ledger.settings import Settings
from ledger.storage import READ_SCHEMA

# Read models are derived data: a commit that a power cut loses is redone by the next catch-up,
# so their connection does not wait for the disk at each commit (in WAL mode the database itself
# stays consistent). A bounded page cache, the same at every ledger size, and checkpoints every
# 40 MB rather than every 4 MB, for the bulk writes of an import or a replay.
SQLITE_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-8192", "PRAGMA wal_autocheckpoint=10000")


def connect(settings: Settings | None, read_only: bool = False) -> Any:
    """A connection to the ledger's database; without settings, a throw-away in-memory one.
    SQLite connections are in autocommit mode: callers say BEGIN themselves."""
    if settings is None:
        return sqlite3.connect(":memory:", isolation_level=None)
    if settings.backend == "sqlite":
        if read_only:
            from ledger.settings import sqlite_read_uri

            return sqlite3.connect(sqlite_read_uri(settings.sqlite_path), uri=True, timeout=30,
                                   isolation_level=None)
        conn = sqlite3.connect(settings.sqlite_path, timeout=30, isolation_level=None)
        for pragma in SQLITE_PRAGMAS:
            conn.execute(pragma)
        return conn
    return settings.connect_postgres(search_path=READ_SCHEMA)


# the read models' schema: its owner, whether this session is it, or a member of it, whether it may
# create tables there, and whether the schema holds tables some other role owns
READ_SCHEMA_ROLE = (
    "SELECT o.rolname, o.rolname = session_user, pg_has_role(session_user, n.nspowner, 'MEMBER'), "
    "has_schema_privilege(n.oid, 'CREATE'), "
    "EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p') "
    "AND c.relowner <> n.nspowner) "
    "FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner WHERE n.nspname = %s")


def take_read_role(conn: Any) -> tuple[bool, bool]:
    """On PostgreSQL, before the read models are touched: act as the owner of their schema when
    this session's role is a member of it (a login role of the writers' group), so that every
    read-model table belongs to that group, whoever created it, and any member can replay.
    Returns (whether this role may write the read models, whether their schema holds tables
    another role owns: made before the schema was given to the group, to be rebuilt)."""
    import psycopg

    row = conn.execute(READ_SCHEMA_ROLE, (READ_SCHEMA,)).fetchone()
    conn.commit()
    if row is None:  # a ledger made before the schema: its owner's first write or init makes it
        return False, False
    owner, is_owner, member, may_create, foreign = row
    if is_owner:
        return True, foreign
    if member:
        try:
            conn.execute(f'SET ROLE "{owner}"')
            conn.commit()  # a SET is undone with its transaction
            return True, foreign
        except psycopg.Error:  # a member without the right to act as it (PostgreSQL 16's SET option)
            conn.rollback()
    return may_create, False


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
