"""The one place that turns `--db` into a ledger: where the events live and how to open them.

Nothing here connects at import time.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InvalidInput, NoDatabase

EVENTS_TABLE = "stored_events"  # SQLite; on PostgreSQL the library names it after the application
PG_EVENTS_TABLE = "ledger_events"


@dataclass(frozen=True)
class Settings:
    db: str = "ledger.db"
    actor: str = "unknown"

    @property
    def backend(self) -> str:
        if "://" not in self.db:
            return "sqlite"
        scheme = self.db.split("://", 1)[0]
        if scheme.startswith("sqlite"):
            return "sqlite"
        if scheme.startswith("postgresql"):
            return "postgresql"
        raise InvalidInput(f"unsupported database URL {self.db!r}: use a file path, sqlite:///PATH "
                           "or postgresql+psycopg://...")

    @property
    def events_table(self) -> str:
        return PG_EVENTS_TABLE if self.backend == "postgresql" else EVENTS_TABLE

    @property
    def sqlite_path(self) -> Path:
        if "://" not in self.db:
            return Path(self.db).expanduser().resolve()
        rest = self.db.split("://", 1)[1]
        if not rest.startswith("/") or rest in ("/", "/:memory:"):
            raise InvalidInput(f"unsupported SQLite URL {self.db!r}: give a file, sqlite:///PATH")
        return Path(rest[1:]).expanduser().resolve()

    @property
    def postgres(self) -> dict[str, str]:
        """The connection parts of a postgresql:// URL."""
        from urllib.parse import unquote, urlsplit

        url = urlsplit(self.db)
        dbname = unquote(url.path.lstrip("/"))
        if not dbname:
            raise InvalidInput(f"database URL {self.db!r} names no database")
        return {"dbname": dbname, "host": url.hostname or "127.0.0.1", "port": str(url.port or 5432),
                "user": unquote(url.username or "") or default_actor(), "password": unquote(url.password or "")}

    def exists(self) -> bool:
        """Whether a ledger is stored there (a file, or an empty database, is not a ledger)."""
        if self.backend == "postgresql":
            return self._postgres_exists()
        path = self.sqlite_path
        if path.is_dir():
            raise NoDatabase(f"{path} is a folder, not a ledger: give --db a file path")
        if not path.is_file() or path.stat().st_size == 0:
            return False
        con = sqlite3.connect(sqlite_read_uri(path), uri=True)
        try:
            tables = {name for (name,) in con.execute("select name from sqlite_master where type='table'")}
            if tables and EVENTS_TABLE not in tables:  # never add a ledger into another program's data
                raise NoDatabase(f"{path} holds another program's tables, not a ledger: give --db a new file")
            return EVENTS_TABLE in tables
        except sqlite3.DatabaseError as error:
            raise NoDatabase(f"{path} is not a ledger: {error}") from None
        finally:
            con.close()

    def require(self) -> None:
        if not self.exists():
            raise NoDatabase(f"no ledger at {self.db}: record something first, or give --db")

    def _postgres_exists(self) -> bool:
        with self.connect_postgres() as con:
            row = con.execute("SELECT to_regclass(%s)", (f"public.{PG_EVENTS_TABLE}",)).fetchone()
            return row is not None and row[0] is not None

    def connect_postgres(self) -> Any:
        """A psycopg connection to the ledger's PostgreSQL database; unreachable, a clear error."""
        import psycopg

        pg = self.postgres
        try:
            return psycopg.connect(dbname=pg["dbname"], host=pg["host"], port=pg["port"], user=pg["user"],
                                   password=pg["password"] or None, connect_timeout=10)
        except psycopg.OperationalError as error:
            raise NoDatabase(f"cannot reach the ledger at {pg['host']}:{pg['port']}/{pg['dbname']}: "
                             f"{str(error).strip().splitlines()[0]}") from None

    def app_env(self, create: bool) -> dict[str, str]:
        if self.backend == "postgresql":
            pg = self.postgres
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": pg["dbname"], "POSTGRES_HOST": pg["host"], "POSTGRES_PORT": pg["port"],
                "POSTGRES_USER": pg["user"], "POSTGRES_PASSWORD": pg["password"],
                "POSTGRES_LOCK_TIMEOUT": "30", "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2",
                "APPLICATION_RECORDER_TOPIC": "ledger.pgrecorders:ChainedPostgresApplicationRecorder",
                "CREATE_TABLE": "y" if create else "n",
            }
        path = self.sqlite_path
        if create:
            if path.is_dir():
                raise NoDatabase(f"{path} is a folder, not a ledger: give --db a file path")
            if not path.parent.is_dir():
                raise NoDatabase(f"cannot create a ledger at {path}: there is no folder {path.parent}")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path) if create or not read_only_file(path) else sqlite_read_uri(path),
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "ledger.recorders:ChainedSQLiteApplicationRecorder",
            "CREATE_TABLE": "y" if create else "n",
        }


def default_actor() -> str:
    try:
        return os.getlogin()
    except OSError:
        import getpass

        return getpass.getuser()


def check_actor(actor: str | None) -> str:
    """Who records, as stored on every event: a name under the rules of every text ("text in")."""
    from ledger.values import check_text

    try:
        name = check_text(actor or "")
    except InvalidInput as error:
        raise InvalidInput(f"--actor (LEDGER_ACTOR): {error}") from None
    if not name or not any(c.isalnum() for c in name):
        raise InvalidInput("--actor (LEDGER_ACTOR) is blank: give the name to record as")
    return name


def open_ledger(settings: Settings, create: bool = False, checked: bool = False):
    """Build the application on the settings' database; reads refuse a missing ledger. Unless the
    caller has just `checked` it exists, an unreachable PostgreSQL server or a missing database is
    said at once, not after the library's connection retries."""
    from ledger.application import Ledger

    if not create:
        settings.require()
    elif settings.backend == "postgresql" and not checked:
        settings.exists()
    return Ledger(env=settings.app_env(create))


def open_scratch():
    """An empty ledger in memory, with the same rules and encoding as a real one: a write to a
    ledger that does not exist yet is checked against it first, so that a refused write leaves
    no new ledger behind."""
    from uuid import uuid4

    from ledger.application import Ledger

    return Ledger(env={
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": f"file:scratch-{uuid4().hex}?mode=memory&cache=shared",
        "APPLICATION_RECORDER_TOPIC": "ledger.recorders:ChainedSQLiteApplicationRecorder",
        "CREATE_TABLE": "y",
    })


# ---------------------------------------------------------------------- read-only ledger files
# (trusted reads: a ledger file the user may read but not write answers every read)


def read_only_file(path: Path) -> bool:
    """A ledger file this process may read but not write."""
    return path.is_file() and not os.access(path, os.W_OK)


def sqlite_read_uri(path: Path) -> str:
    """A read-only sqlite3 URI for a ledger file. SQLite reads a file in WAL mode only through its
    shared-memory index (-shm); when that does not exist and cannot be made (a folder the user
    may not write), the file is opened as immutable: no index, no locks."""
    quoted = str(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    uri = f"file:{quoted}?mode=ro"
    if read_only_file(path) and not os.access(path.parent, os.W_OK) and not Path(f"{path}-shm").exists():
        uri += "&immutable=1"
    return uri
