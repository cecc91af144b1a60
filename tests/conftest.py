from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commands.cli import cli
from ledger.store.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STORY = ROOT / "ledger" / "story.jsonl"
PG_SERVER = os.environ.get("LEDGER_TEST_PG", "postgres@127.0.0.1:5432")


def _admin():
    import psycopg

    user, _, hostport = PG_SERVER.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(dbname="postgres", user=user, host=host, port=port or "5432", autocommit=True,
                           connect_timeout=5)


def pg_admin() -> Any:
    """An autocommit connection to the server's `postgres` database; the test is skipped when there
    is no server, unless CI, which starts one, says it is required (LEDGER_REQUIRE_PG)."""
    try:
        return _admin()
    except Exception as error:  # any failure to connect means: no server here
        if os.environ.get("LEDGER_REQUIRE_PG"):
            raise
        pytest.skip(f"no PostgreSQL server at {PG_SERVER}: {error}")


@contextmanager
def fresh_pg_database(base: str = "ledger_test") -> Iterator[str]:
    """A new PostgreSQL database, dropped at the end (its URL)."""
    admin = pg_admin()
    name = f"{base}_{os.getpid()}_{secrets.token_hex(3)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_SERVER}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at its end."""
    with fresh_pg_database() as url:
        yield url


def _fresh_schema(url: str) -> None:
    """An empty ledger database: the events' schema and the read models' schema gone."""
    import psycopg

    from ledger.store.settings import Settings
    from ledger.store.storage import READ_SCHEMA

    pg = Settings(db=url).postgres
    with psycopg.connect(dbname=pg["dbname"], user=pg["user"], host=pg["host"], port=pg["port"],
                         autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {READ_SCHEMA} CASCADE")
        con.execute("DROP SCHEMA public CASCADE")
        con.execute("CREATE SCHEMA public")


@contextmanager
def as_attacker(db: str | Path) -> Iterator[Any]:
    """A connection to a ledger's database with its owner's rights, the append-only triggers
    dropped first, as someone holding the database would before tampering with stored events
    (sqlite3 or psycopg, both in autocommit; on PostgreSQL the read models' schema is searched
    first, so `ledger_projection` and `rm1_...` name the read models)."""
    from ledger.store.settings import EVENTS_TABLE, PG_EVENTS_TABLE
    from ledger.store.storage import READ_SCHEMA, RECEIPTS_TABLE, postgres_triggers, sqlite_triggers

    settings = Settings(db=str(db))
    if settings.backend == "sqlite":
        con = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            for name in sqlite_triggers(EVENTS_TABLE):
                con.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            yield con
        finally:
            con.close()
        return
    import psycopg

    pg = settings.postgres
    with psycopg.connect(dbname=pg["dbname"], user=pg["user"], host=pg["host"], port=pg["port"], autocommit=True,
                         options=f"-c search_path={READ_SCHEMA},public") as con:
        for name in postgres_triggers(PG_EVENTS_TABLE):
            if not name.endswith("_db_role"):
                table = PG_EVENTS_TABLE if name.startswith(PG_EVENTS_TABLE) else RECEIPTS_TABLE
                con.execute(f'DROP TRIGGER IF EXISTS "{name}" ON public."{table}"')
        yield con


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """Each test that takes it runs on both backends: a new SQLite file, a clean PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    url = request.getfixturevalue("pg_database")
    _fresh_schema(url)
    return url


@pytest.fixture
def settings(db_url) -> Settings:
    return Settings(db=db_url, actor="tester")


def strip_volatile(doc):
    """Positions, recording times and actors differ between two ledgers; nothing else may."""
    if isinstance(doc, dict):
        return {k: strip_volatile(v) for k, v in doc.items() if k not in ("position", "recorded_at", "recorded_by")}
    if isinstance(doc, list):
        return [strip_volatile(v) for v in doc]
    return doc


class Runner:
    """Drives the real CLI in-process against one ledger file."""

    def __init__(self, db: Path | str):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int = 0):
        result = self.runner.invoke(cli, ["--db", str(self.db), "--actor", "tester", *args], input=input)
        assert result.exit_code == code, (args, result.exit_code, result.output, result.stderr)
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)


class KeyedRunner:
    """The real CLI in-process on one ledger, from a working folder: `key=` names a key file in
    it (for --key), `actor=` gives --actor; LEDGER_KEY and LEDGER_ACTOR of the shell are ignored."""

    def __init__(self, url: str, folder: Path):
        self.url, self.folder, self.runner = url, folder, CliRunner()

    def __call__(self, *args: str, key: str | None = None, actor: str | None = None, code: int = 0):
        head = ["--db", self.url]
        if actor is not None:
            head += ["--actor", actor]
        if key is not None:
            head += ["--key", str(self.folder / key)]
        result = self.runner.invoke(cli, [*head, *args], env={"LEDGER_KEY": None, "LEDGER_ACTOR": None})
        assert result.exit_code == code, (args, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, **kw):
        return json.loads(self(*args, "--json", **kw).stdout)


@pytest.fixture
def run(db_url) -> Runner:
    return Runner(db_url)


@pytest.fixture
def story(run) -> Runner:
    run("import", str(STORY))
    return run
