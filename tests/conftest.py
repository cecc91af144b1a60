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
MAX_WORKERS = 4  # each worker makes its own PostgreSQL database and up to ~25 connections (max_connections: 100)


# ---------------------------------------------------------------------- parallel runs (pytest-xdist)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Without `-n`, the suite runs on `-n auto` workers (see below), tests handed out by work
    stealing (a few take tens of seconds); `-n 0`, `--pdb`, `-p no:xdist` or a pytest without
    pytest-xdist run it in this process, as does naming only single tests (`file::test`). Runs
    before xdist's own hook, which turns `auto` into workers."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return  # no xdist, or this is a worker (which must not start workers of its own)
    if config.option.numprocesses is not None:
        return  # -n given: as asked
    if config.args and all("::" in arg for arg in config.args):
        return  # single tests: starting workers would cost more than it saves
    config.option.numprocesses = "auto"
    if config.option.dist == "no" and not config.option.distload:
        config.option.dist = "worksteal"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: one worker per CPU this process may run on, at most MAX_WORKERS; none (this
    process) on one CPU. PYTEST_XDIST_AUTO_NUM_WORKERS=N still says N (xdist's own hook)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cpus, MAX_WORKERS) if cpus > 1 else 0


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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(request, tmp_path_factory) -> Iterator[str]:
    """A new ledger database on each backend, kept for all the tests of one module: for a ledger
    filled once that many tests only read (`SharedLedger`). A new SQLite file, a new PostgreSQL
    database (dropped at the module's end)."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("module-ledger") / "ledger.db")
        return
    with fresh_pg_database("ledger_module") as url:
        yield url


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


class SharedLedger:
    """A ledger filled once (on `module_db_url`) for the tests of a module that only read it or
    are refused a write: `lend()` hands its runner to one test and, after it, checks that the
    ledger still holds exactly the events it held (their number and head hash), so that no test
    sees what another stored."""

    def __init__(self, run: Runner, *extra: Any):
        self.run, self.extra = run, extra
        self.stored = self._stored()

    def _stored(self) -> tuple[bool, int, str]:
        verdict = self.run.json("verify")
        return verdict["ok"], verdict["events"], verdict["head"]

    def lend(self) -> Iterator[Any]:
        yield (self.run, *self.extra) if self.extra else self.run
        assert self._stored() == self.stored, "a test given the module's shared ledger changed it"


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


@pytest.fixture(scope="module")
def story_once(module_db_url) -> SharedLedger:
    run = Runner(module_db_url)
    run("import", str(STORY))
    return SharedLedger(run)


@pytest.fixture
def story_read(story_once: SharedLedger) -> Iterator[Runner]:
    """`story`, imported once per module and backend, for the tests that only read it or are
    refused a write (checked unchanged after each)."""
    yield from story_once.lend()
