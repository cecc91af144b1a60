"""The one place that turns `--db` into a ledger: where the events live and how to open them.

Nothing here connects at import time.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InvalidInput, NoDatabase

EVENTS_TABLE = "stored_events"


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
    def sqlite_path(self) -> Path:
        if "://" not in self.db:
            return Path(self.db).expanduser().resolve()
        rest = self.db.split("://", 1)[1]
        if not rest.startswith("/") or rest in ("/", "/:memory:"):
            raise InvalidInput(f"unsupported SQLite URL {self.db!r}: give a file, sqlite:///PATH")
        return Path(rest[1:]).expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return self.db

    def exists(self) -> bool:
        """Whether a ledger is stored there (a file alone is not a ledger)."""
        if self.backend != "sqlite":
            raise InvalidInput("PostgreSQL ledgers are not supported yet: use a SQLite file")
        path = self.sqlite_path
        if not path.is_file() or path.stat().st_size == 0:
            return False
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return con.execute("select 1 from sqlite_master where type='table' and name=?",
                               (EVENTS_TABLE,)).fetchone() is not None
        except sqlite3.DatabaseError as error:
            raise NoDatabase(f"{path} is not a ledger: {error}") from None
        finally:
            con.close()

    def require(self) -> None:
        if not self.exists():
            raise NoDatabase(f"no ledger at {self.db}: record something first, or give --db")

    def app_env(self, create: bool) -> dict[str, str]:
        if self.backend != "sqlite":
            raise InvalidInput("PostgreSQL ledgers are not supported yet: use a SQLite file")
        path = self.sqlite_path
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
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


def open_ledger(settings: Settings, create: bool = False):
    """Build the application on the settings' database; reads refuse a missing ledger."""
    from ledger.application import Ledger

    if not create:
        settings.require()
    return Ledger(env=settings.app_env(create))
