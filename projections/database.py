"""Bare DB-API connections to the ledger's database, for the read models: sqlite3 or psycopg.

No SQLAlchemy here: a CLI command is a new process, and the read path and the bulk commands are
measured against raw sqlite3 (see README, "Measuring"); importing an ORM toolkit would cost them
more than their whole start-up.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ledger.settings import Settings

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
    return settings.connect_postgres()


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
