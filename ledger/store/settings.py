"""The one place that turns `--db` into a ledger: where the events live and how to open them.

Nothing here connects at import time. A write opens the event store with the library's
CREATE_TABLE only when one cheap query (`Settings.probe`) finds the store missing or older than
this version of the ledger (`ledger.store.storage`): a plain write runs no DDL, so a role that may only
insert into the events table can write. Reads never run the store's DDL.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.errors import InvalidInput, NoDatabase, Refused

if TYPE_CHECKING:
    from ledger.app.application import LedgerApplication

EVENTS_TABLE = "stored_events"  # SQLite; on PostgreSQL the library names it after the application
PG_EVENTS_TABLE = "ledger_events"
PG_SCHEMA = "public"  # the events' schema on PostgreSQL (the library's default)


@dataclass(frozen=True)
class Store:
    """What one probe found: whether the events table is there, what the store lacks (nothing:
    up to date), and on PostgreSQL what the connected role may do."""

    present: bool
    missing: tuple[str, ...] = ()
    may_change: bool = True  # may run the DDL that creates or upgrades it
    may_insert: bool = True
    role: str | None = None  # PostgreSQL: the session user

    @property
    def current(self) -> bool:
        return self.present and not self.missing


@dataclass(frozen=True)
class Settings:
    db: str = "ledger.db"
    actor: str = "unknown"
    # the last probe, kept for the open that follows it at once (`open_ledger(checked=True)`)
    _probed: list[Store] = field(default_factory=list, init=False, compare=False, repr=False)

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
    def events_relation(self) -> str:
        """The events table as the read models' connection names it (on PostgreSQL its search
        path is the read models' schema, so the events table is named with its own)."""
        return f"{PG_SCHEMA}.{PG_EVENTS_TABLE}" if self.backend == "postgresql" else EVENTS_TABLE

    @property
    def where(self) -> str:
        """The ledger as said in a message: its file, or host:port/database (never a password)."""
        if self.backend == "sqlite":
            return str(self.sqlite_path)
        pg = self.postgres
        return f"{pg['host']}:{pg['port']}/{pg['dbname']}"

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
        return self.probe().present

    def require(self) -> None:
        if not self.exists():
            raise NoDatabase(f"no ledger at {self.db}: record something first, or give --db")

    def probe(self) -> Store:
        """One cheap look at the store: is there a ledger, is it up to date, what may this role
        do. SQLite: sqlite_master (tables, triggers, the events table's SQL); PostgreSQL: one
        catalog query. A folder, another program's SQLite file, an unreachable server: refused."""
        store = self._postgres_probe() if self.backend == "postgresql" else self._sqlite_probe()
        self._probed[:] = [store]
        return store

    def _sqlite_probe(self) -> Store:
        from ledger.store.storage import SQLITE_PROBE, sqlite_missing

        path = self.sqlite_path
        if path.is_dir():
            raise NoDatabase(f"{path} is a folder, not a ledger: give --db a file path")
        if not path.is_file() or path.stat().st_size == 0:
            return Store(False)
        con = sqlite3.connect(sqlite_read_uri(path), uri=True)
        try:
            rows = con.execute(SQLITE_PROBE).fetchall()
        except sqlite3.DatabaseError as error:
            raise NoDatabase(f"{path} is not a ledger: {error}") from None
        finally:
            con.close()
        missing = sqlite_missing(rows, EVENTS_TABLE)
        if missing is None and any(kind == "table" for kind, _, _ in rows):
            # never add a ledger into another program's data
            raise NoDatabase(f"{path} holds another program's tables, not a ledger: give --db a new file")
        return Store(missing is not None, tuple(missing or ()))

    def _postgres_probe(self) -> Store:
        from ledger.store.storage import postgres_missing, postgres_probe

        sql, params = postgres_probe(PG_SCHEMA, PG_EVENTS_TABLE)
        with self.connect_postgres() as con:
            row = con.execute(sql, params).fetchone()
        missing = postgres_missing(row, PG_EVENTS_TABLE)
        return Store(missing is not None, tuple(missing or ()), may_change=row[5], may_insert=row[6], role=row[7])

    def connect_postgres(self, search_path: str | None = None, read_models: bool = False) -> Any:
        """A psycopg connection to the ledger's PostgreSQL database; unreachable, a clear error.
        `search_path`: the schemas unqualified names are looked up in (set as the connection opens,
        no extra round trip). `read_models`: the read models' connection, marked as it opens with a
        parameter no session can change, so that the events table refuses inserts from it
        (`ledger.store.storage.READ_MODELS_MARK`)."""
        import psycopg

        from ledger.store.storage import READ_MODELS_MARK

        pg = self.postgres
        # (jit off for the read models: their reads are short, and a plan the estimates of tables not
        # yet analysed make look costly would spend more compiling than running, 20-70 ms a query)
        settings = ([f"search_path={search_path}"] if search_path else []) + (
            [f"{READ_MODELS_MARK}=0", "jit=off"] if read_models else [])
        options: dict[str, Any] = {"options": " ".join(f"-c {setting}" for setting in settings)} if settings else {}
        try:
            return psycopg.connect(dbname=pg["dbname"], host=pg["host"], port=pg["port"], user=pg["user"],
                                   password=pg["password"] or None, connect_timeout=10, **options)
        except psycopg.OperationalError as error:
            raise NoDatabase(f"cannot reach the ledger at {pg['host']}:{pg['port']}/{pg['dbname']}: "
                             f"{str(error).strip().splitlines()[0]}") from None

    def store_for_writing(self, checked: bool = False) -> Store:
        """The store as a write finds it (`checked`: as the probe just made found it), or a clear
        refusal when this role may not write it, or may not create or upgrade it when it must."""
        store = self._probed[0] if checked and self._probed else self.probe()
        self._probed.clear()  # the ledger is about to be created or changed: the next look is afresh
        if self.backend == "postgresql":
            if not store.current and not store.may_change:
                raise self.needs_init(store)
            if store.present and not store.may_insert:
                raise Refused(f"role {store.role} may read the ledger at {self.where} but not write to it (no "
                              f"INSERT on {PG_SCHEMA}.{PG_EVENTS_TABLE}): nothing was stored")
        return store

    def needs_init(self, store: Store) -> Refused:
        """The refusal of a write that would have to create or upgrade the store, by a role that
        may not: one line, with the remedy."""
        what = (f"there is no ledger at {self.where} yet, and role {store.role} may not create its tables"
                if not store.present else
                f"the ledger at {self.where} was made by an older version (it lacks {'; '.join(store.missing)}), "
                f"and role {store.role} may not bring it up to date")
        return Refused(f"{what}: the database owner must run `ledger --db postgresql+psycopg://OWNER@{self.where} "
                       "init` once; nothing was stored")

    def app_env(self, create: bool, checked: bool = False) -> dict[str, str]:
        """The event library's settings. A write (`create`) has the library create the table, and
        `ledger.store.storage` add what the ledger adds to it, only when the store is missing or out of
        date: a plain write runs no DDL."""
        store = self.store_for_writing(checked) if create else None
        ddl = "y" if store is not None and not store.current else "n"
        if self.backend == "postgresql":
            pg = self.postgres
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": pg["dbname"], "POSTGRES_HOST": pg["host"], "POSTGRES_PORT": pg["port"],
                "POSTGRES_USER": pg["user"], "POSTGRES_PASSWORD": pg["password"],
                "POSTGRES_LOCK_TIMEOUT": "30", "POSTGRES_POOL_SIZE": "2", "POSTGRES_MAX_OVERFLOW": "2",
                "CREATE_TABLE": ddl,
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
            "CREATE_TABLE": ddl,
        }


def default_actor() -> str:
    try:
        return os.getlogin()
    except OSError:
        import getpass

        return getpass.getuser()


def check_actor(actor: str | None) -> str:
    """Who records, as stored on every event: a name under the rules of every text ("text in"),
    with a letter or a digit and no invisible characters (`ledger.domain.values.check_name`)."""
    from ledger.domain.values import check_name, check_text

    try:
        if not any(c.isalnum() for c in check_text(actor or "")):
            raise InvalidInput("--actor (LEDGER_ACTOR) is blank: give the name to record as")
        return check_name(actor or "")
    except InvalidInput as error:
        message = str(error)
        raise InvalidInput(message if message.startswith("--actor") else f"--actor (LEDGER_ACTOR): {message}") from None


def open_ledger(settings: Settings, create: bool = False, checked: bool = False) -> LedgerApplication:
    """Build the application on the settings' database; reads refuse a missing ledger. A write
    (`create`) probes the store first (unless the caller has just `checked` it), so an
    unreachable PostgreSQL server or a missing database is said at once, not after the library's
    connection retries, and the store is created or upgraded only when it must be."""
    from ledger.app.application import LedgerApplication

    if not create:
        settings.require()
    env = settings.app_env(create, checked)
    try:
        return LedgerApplication(env=env)
    except Exception as error:
        if env["CREATE_TABLE"] == "y" and settings.backend == "postgresql" and _not_allowed(error):
            # the probe said this role may, but the server said otherwise
            raise settings.needs_init(settings.probe()) from None
        raise


def _not_allowed(error: BaseException) -> bool:
    text = str(error)
    return "permission denied" in text or "must be owner" in text


def open_scratch() -> LedgerApplication:
    """An empty ledger in memory, with the same rules and encoding as a real one: a write to a
    ledger that does not exist yet is checked against it first, so that a refused write leaves
    no new ledger behind."""
    from uuid import uuid4

    from ledger.app.application import LedgerApplication

    return LedgerApplication(env={
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": f"file:scratch-{uuid4().hex}?mode=memory&cache=shared",
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
