"""Append-only storage, and the PostgreSQL side of who may write: triggers refuse UPDATE,
DELETE (and TRUNCATE) of stored events and receipts, for the owner too; `ledger init` creates or
upgrades the store once, and a plain write runs no DDL; on PostgreSQL, writer roles with only the
README's grants do every write, a second writer replays what the first built, a reader role
answers every read, and `db_role` says who wrote each event. Each PostgreSQL test makes its own
roles and databases (`Cluster`) and drops them at its end."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.store.settings import Settings
from tests.conftest import PG_SERVER, ROOT, STORY, Runner

STORY_EVENTS = 37  # what `import ledger/story.jsonl` stores (the merge is two events)
FIXTURES = Path(__file__).resolve().parent / "fixtures"
APPEND_ONLY = "stored events are append-only"
SUPERUSER, _, HOSTPORT = PG_SERVER.partition("@")


# ---------------------------------------------------------------------- the triggers, on both backends


def _owner_connection(db_url: str) -> Any:
    """The ledger's database as its owner (here the superuser) opens it, triggers in place."""
    settings = Settings(db=db_url)
    if settings.backend == "sqlite":
        return sqlite3.connect(settings.sqlite_path, isolation_level=None)
    import psycopg

    pg = settings.postgres
    return psycopg.connect(dbname=pg["dbname"], user=pg["user"], host=pg["host"], port=pg["port"], autocommit=True)


def test_stored_events_and_receipts_are_append_only_for_the_owner_too(story, db_url):
    import psycopg

    before = story.json("verify")
    postgres = Settings(db=db_url).backend == "postgresql"
    events, pos = ("public.ledger_events", "notification_id") if postgres else ("stored_events", "rowid")
    receipts = "public.ledger_receipts" if postgres else "ledger_receipts"
    refused = (psycopg.Error, sqlite3.Error)
    con = _owner_connection(db_url)
    try:
        con.execute(f"INSERT INTO {receipts} (position, head, receipt) VALUES (28, 'h', '{{}}')")  # appending is fine
        for sql in (f"UPDATE {events} SET topic = 'x:Y' WHERE {pos} = 3", f"DELETE FROM {events} WHERE {pos} = 28",
                    f"DELETE FROM {events}", f"UPDATE {receipts} SET head = 'forged'", f"DELETE FROM {receipts}",
                    *((f"TRUNCATE {events}", f"TRUNCATE {receipts}", f"TRUNCATE {events}, {receipts} CASCADE")
                      if postgres else ())):
            with pytest.raises(refused) as caught:
                con.execute(sql)
            assert APPEND_ONLY in str(caught.value), (sql, caught.value)
        assert con.execute(f"SELECT COUNT(*) FROM {receipts}").fetchone()[0] == 1
    finally:
        con.close()
    assert story.json("verify") == before
    story("case", "open", "still-writable", "--title", "Appending still works")


def _statements_traced(monkeypatch) -> list[str]:
    """Every SQL statement any sqlite3 connection of this process runs from now on."""
    statements: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        con = connect(*args, **kwargs)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(sqlite3, "connect", traced)
    return statements


DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.IGNORECASE)
SMALL_IMPORT = "\n".join(json.dumps(line) for line in (
    {"op": "source.add", "id": "kyodo-2023-12-10", "publisher": "Kyodo", "title": "More on the Lexus"},
    {"op": "record.raid", "case": "chiba-lexus", "on": "2023-12-10", "sources": ["kyodo-2023-12-10"],
     "authority": "chiba-police", "target": "dealer-owners", "key": "second-raid"},
)) + "\n"


def every_kind_of_write(run, tmp_path) -> None:
    """A source, a case status, an import, an amendment, then a read (which catches up)."""
    (tmp_path / "more.jsonl").write_text(SMALL_IMPORT)
    run("source", "add", "mainichi", "--publisher", "Mainichi", "--title", "T")
    run("case", "status", "han-ivory", "investigating", "--reason", "new reports")
    run("import", str(tmp_path / "more.jsonl"))
    run("amend", "second-raid", "--reason", "the date was wrong", "--set", "on=2023-12-11")
    run("cases")


def test_a_sqlite_write_after_init_runs_no_ddl(tmp_path, monkeypatch):
    run = Runner(tmp_path / "l.db")
    assert run.json("init")["done"] == "created"
    run("import", str(STORY))
    statements = _statements_traced(monkeypatch)
    every_kind_of_write(run, tmp_path)
    assert len(statements) > 20  # the trace sees the writes
    assert [s for s in statements if DDL.match(s)] == []
    # whereas the first write into a new file creates the store (what the trace would have caught)
    Runner(tmp_path / "new.db")("source", "add", "mainichi", "--publisher", "Mainichi", "--title", "T")
    assert any(DDL.match(s) for s in statements)


def test_init_creates_then_finds_nothing_to_do_and_refuses_what_is_not_a_ledger(tmp_path):
    run = Runner(tmp_path / "l.db")
    created = run.json("init")
    assert created["done"] == "created" and created["backend"] == "sqlite"
    assert created["changes"][0] == "the events table stored_events"
    assert "the receipts table ledger_receipts" in created["changes"]
    assert created["read_models"] == {"position": 0, "stored": True}
    assert run.json("init") == {**created, "done": "nothing", "changes": []}
    assert run("init").stdout == (f"the ledger at {tmp_path / 'l.db'} is up to date: nothing to create\n"
                                  "read models: up to date at position 0\n")

    missing = Runner(tmp_path / "no" / "such" / "l.db")("init", code=1)
    assert missing.stderr == (f"Error: cannot create a ledger at {tmp_path / 'no/such/l.db'}: there is no folder "
                              f"{tmp_path / 'no/such'}\n")
    assert not (tmp_path / "no").exists()
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()
    refused = Runner(other)("init", code=1)
    assert "another program's tables" in refused.stderr and "Traceback" not in refused.stderr
    con = sqlite3.connect(other)
    assert [n for (n,) in con.execute("SELECT name FROM sqlite_master")] == ["notes"]
    con.close()
    assert "is a folder" in Runner(tmp_path)("init", code=1).stderr


def test_an_old_sqlite_ledger_answers_reads_unchanged_and_is_upgraded_by_its_first_write(tmp_path):
    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "ledger-v2-readmodels.sqlite", db)
    run = Runner(db)
    before = run.json("verify")
    assert before["events"] == 28
    run("cases")
    run("history")

    def store() -> tuple[set[str], set[str], str]:
        con = sqlite3.connect(db)
        try:
            rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        finally:
            con.close()
        return ({n for t, n, _ in rows if t == "table"}, {n for t, n, _ in rows if t == "trigger"},
                next(sql for t, n, sql in rows if n == "stored_events"))

    tables, triggers, sql = store()
    assert "ledger_receipts" not in tables and not triggers and "signer" not in sql  # reads run no store DDL
    run("case", "open", "after-the-upgrade", "--title", "Recorded into an upgraded ledger")
    tables, triggers, sql = store()
    assert "ledger_receipts" in tables and "signer" in sql and "signature" in sql
    assert triggers == {f"{t}_append_only_{o}"
                        for t in ("stored_events", "ledger_receipts") for o in ("update", "delete")}
    after = run.json("verify", "--expect", before["head"])
    assert after["ok"] and after["events"] == 29
    assert run.json("init")["done"] == "nothing"
    con = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
            con.execute("DELETE FROM stored_events WHERE rowid = 29")
    finally:
        con.close()


# ---------------------------------------------------------------------- PostgreSQL: roles


class Cluster:
    """Roles and databases one test makes on the PostgreSQL server: unique names, all dropped at the
    end (the databases first, with whatever they hold and grant, then the roles)."""

    def __init__(self, admin: Any):
        self.admin = admin
        self.tag = f"lt{secrets.token_hex(3)}"
        self.roles: list[str] = []
        self.databases: list[str] = []

    def name(self, base: str) -> str:
        return f"{self.tag}_{base}"

    def role(self, base: str, options: str = "LOGIN") -> str:
        name = self.name(base)
        self.roles.append(name)
        self.admin.execute(f'CREATE ROLE "{name}" {options}')
        return name

    def database(self, owner: str) -> str:
        name = self.name(f"db{len(self.databases)}")
        self.databases.append(name)
        self.admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return name

    def url(self, role: str, database: str) -> str:
        return f"postgresql+psycopg://{role}@{HOSTPORT}/{database}"

    def connect(self, role: str, database: str) -> Any:
        import psycopg

        host, _, port = HOSTPORT.partition(":")
        return psycopg.connect(dbname=database, user=role, host=host, port=port or "5432", autocommit=True)

    def run(self, database: str, sql: str, role: str = SUPERUSER) -> None:
        with self.connect(role, database) as con:
            con.execute(sql)

    def readme_roles(self, database: str, owner: str) -> dict[str, str]:
        """Run the README's roles.sql, word for word but for the names: each role gets this test's."""
        names = {"ledger_owner": owner}
        for base in ("ledger_writer", "ledger_reader", "alice", "bob", "carol"):
            names[base] = self.name(base)
            self.roles.append(names[base])

        def renamed(match: re.Match) -> str:
            word = match.group(0)
            return names.get(word, database if word == "ledger" else word)

        sql = re.sub(r"\b\w+\b", renamed, readme_roles_sql())
        self.run(database, sql)
        return names

    def drop(self) -> None:
        for database in self.databases:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in reversed(self.roles):
            self.admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def readme_roles_sql() -> str:
    """The `roles.sql` the README gives the owner to run (its one ```sql block)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A shared ledger on PostgreSQL", 1)[1]
    return section.split("```sql\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def cluster():
    from tests.conftest import pg_admin

    admin = pg_admin()
    made = Cluster(admin)
    try:
        yield made
    finally:
        made.drop()
        admin.close()


def test_the_readme_grants_name_exactly_the_ledgers_tables():
    sql = readme_roles_sql()
    assert "GRANT SELECT ON public.ledger_events TO ledger_writer;" in sql
    # the columns the ledger's own inserts name (a writer's writes, below, use them): never the
    # position or db_role
    columns = "originator_id, originator_version, topic, state, hash, signer, signature"
    assert f"GRANT INSERT ({columns}) ON public.ledger_events TO ledger_writer;" in sql
    assert "GRANT SELECT, INSERT ON public.ledger_receipts TO ledger_writer;" in sql
    assert "GRANT USAGE ON SEQUENCE public.ledger_events_notification_id_seq TO ledger_writer;" in sql
    assert "ALTER SCHEMA ledger_read OWNER TO ledger_writer;" in sql
    assert not re.search(r"\b(UPDATE|DELETE|TRUNCATE|ALL)\b", sql)  # writers only ever insert
    assert "TO ledger_owner" not in sql  # the owner is no member of the writers' group


class Shared:
    """A ledger on PostgreSQL set up as the README says: an owner that ran init and imported the
    story, then roles.sql; runners for the owner, two writers and a reader."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.owner = cluster.role("owner")
        self.database = cluster.database(self.owner)
        self.as_owner = Runner(cluster.url(self.owner, self.database))
        assert self.as_owner.json("init")["done"] == "created"
        self.as_owner("import", str(STORY))
        self.names = cluster.readme_roles(self.database, self.owner)
        self.alice, self.bob, self.carol = (Runner(cluster.url(self.names[n], self.database))
                                            for n in ("alice", "bob", "carol"))


@pytest.fixture
def shared(cluster) -> Shared:
    return Shared(cluster)


def _one_line_refusal(result: Any, *parts: str) -> None:
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for part in parts:
        assert part in result.stderr, result.stderr


def test_a_writer_role_with_the_readme_grants_does_every_write_and_cannot_change_what_is_stored(shared, tmp_path):
    alice, names = shared.alice, shared.names
    alice("source", "add", "jiji-2023-12-10", "--publisher", "Jiji", "--title", "Customs look at Kobe")
    alice("entity", "add", "customs-jp", "--kind", "organization", "--name", "Japan Customs", "--country", "JP")
    alice("case", "open", "kobe-port", "--title", "Shipments through Kobe port")
    incident = alice.json("record", "probe", "kobe-port", "--on", "2023-12", "--source", "jiji-2023-12-10",
                          "--authority", "customs-jp", "--subject", "chiba-dealer", "--key", "kobe-probe")
    alice("amend", "kobe-probe", "--reason", "a firmer date", "--set", "on=2023-12-10", "--source", "jiji-2023-12-10")
    alice("retract", "kobe-probe", "--reason", "the report was withdrawn")
    alice("case", "status", "kobe-port", "investigating", "--reason", "new leads")
    (tmp_path / "more.jsonl").write_text(SMALL_IMPORT)
    assert alice.json("import", str(tmp_path / "more.jsonl"))["imported"] == 2
    # one of them as a real process, as the writer runs it
    out = subprocess.run([sys.executable, "-m", "commands.cli", "--db", alice.db, "--actor", "alice",
                          "entity", "alias", "customs-jp", "Japan Customs and Tariff Bureau"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0 and out.stdout.startswith("entity customs-jp: recorded at position "), out.stderr
    events = STORY_EVENTS + 10
    assert alice.json("replay") == {"replayed": events, "position": events}
    assert alice.json("case", "show", "kobe-port")["status"] == "investigating"
    assert incident["incident"] not in {i["id"] for i in alice.json("timeline")}
    assert incident["incident"] in {i["id"] for i in alice.json("timeline", "--include-retracted")}
    assert alice.json("verify")["ok"]

    import psycopg

    with shared.cluster.connect(names["alice"], shared.database) as con:
        for sql in ("UPDATE public.ledger_events SET topic = 'x:Y' WHERE notification_id = 3",
                    "DELETE FROM public.ledger_events WHERE notification_id = 38", "TRUNCATE public.ledger_events",
                    "UPDATE public.ledger_receipts SET head = 'forged'", "DELETE FROM public.ledger_receipts",
                    "TRUNCATE public.ledger_receipts", "DROP TRIGGER ledger_events_append_only ON public.ledger_events",
                    "ALTER TABLE public.ledger_events DISABLE TRIGGER USER"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(sql)
        con.execute("INSERT INTO public.ledger_receipts (position, head, receipt) VALUES (1, 'h', '{}')")
    assert alice.json("verify")["events"] == events

    rows = shared.carol.json("history")
    assert {r["position"]: r["db_role"] for r in rows} == {
        **dict.fromkeys(range(1, STORY_EVENTS + 1), shared.owner),
        **dict.fromkeys(range(STORY_EVENTS + 1, events + 1), names["alice"])}


def test_a_second_writer_replays_what_the_first_built_and_a_reader_answers_every_read(shared):
    alice, bob, carol, names = shared.alice, shared.bob, shared.carol, shared.names
    alice("case", "open", "kobe-port", "--title", "Shipments through Kobe port")
    alice("cases")  # alice's catch-up builds the read models, as the writers' group
    assert bob.json("replay") == {"replayed": STORY_EVENTS + 1, "position": STORY_EVENTS + 1}
    assert alice.json("replay") == {"replayed": STORY_EVENTS + 1, "position": STORY_EVENTS + 1}
    bob("case", "status", "kobe-port", "investigating", "--reason", "bob's leads")
    with shared.cluster.connect(SUPERUSER, shared.database) as con:
        owners = {r[0] for r in con.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'ledger_read'")}
        roles = [r[0] for r in con.execute("SELECT db_role FROM public.ledger_events ORDER BY notification_id")]
    assert owners == {names["ledger_writer"]}  # whoever built them
    assert roles[STORY_EVENTS:] == [names["alice"], names["bob"]]

    # the read models are behind (bob's write): the reader builds them in memory, and writes nothing
    assert carol.json("case", "show", "kobe-port")["status"] == "investigating"
    assert carol.json("case", "show", "kobe-port") == bob.json("case", "show", "kobe-port")
    for read in (("cases",), ("timeline",), ("entities",), ("history",), ("verify",),
                 ("entity", "show", "han-tae-song")):
        assert carol.json(*read) == alice.json(*read), read
    assert carol("report", "chiba-lexus").stdout == alice("report", "chiba-lexus").stdout
    for fmt in ("jsonl", "csv", "ftm"):
        assert carol("export", "--format", fmt).stdout == alice("export", "--format", fmt).stdout, fmt
    assert carol("timeline", "--as-of", "20").stdout == alice("timeline", "--as-of", "20").stdout
    alice("case", "status", "kobe-port", "referred", "--reason", "to the prosecutors")
    assert carol.json("case", "show", "kobe-port")["status"] == "referred"  # behind again: built in memory

    where = Settings(db=carol.db).where
    refusal = carol("case", "open", "by-carol", "--title", "A reader's case", code=1)
    _one_line_refusal(refusal, f"role {names['carol']} may read the ledger", "not write to it", "nothing was stored",
                      where)
    _one_line_refusal(carol("import", str(STORY), code=1), "not write to it")
    _one_line_refusal(carol("replay", code=1), f"role {names['carol']} may not write them", "ledger_read")
    assert carol.json("verify")["events"] == STORY_EVENTS + 3


# ---------------------------------------------------------------------- PostgreSQL: what one role may plant for another


def _as_writers_group(shared: Shared, sql: str) -> None:
    """SQL run as alice acting as the writers' group, which owns the read models' schema."""
    with shared.cluster.connect(shared.names["alice"], shared.database) as con:
        con.execute(f'SET ROLE "{shared.names["ledger_writer"]}"')
        con.execute(sql)


def _events_table(shared: Shared) -> tuple[list[tuple[str, str]], list[str | None]]:
    """The events table's user triggers, (name, enabled), and every stored event's db_role."""
    with shared.cluster.connect(SUPERUSER, shared.database) as con:
        triggers = con.execute("SELECT tgname::text, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal "
                               "AND tgrelid = 'public.ledger_events'::regclass ORDER BY tgname").fetchall()
        roles = [r[0] for r in con.execute("SELECT db_role FROM public.ledger_events ORDER BY notification_id")]
    return triggers, roles


def test_the_owner_and_a_superuser_never_run_what_a_writer_planted_in_the_read_models(shared):
    alice, bob, names, owner = shared.alice, shared.bob, shared.names, shared.owner
    group = names["ledger_writer"]
    # an owner kept in the writers' group (as an older README said) must not act as it either
    shared.cluster.run(shared.database, f'GRANT "{group}" TO "{owner}"')
    alice("case", "open", "kobe-port", "--title", "Shipments through Kobe port")
    alice("cases")  # the read models, built by the writers' group
    triggers_before, _ = _events_table(shared)
    assert triggers_before and all(enabled == "O" for _, enabled in triggers_before)
    # alice plants, in the schema her group owns: code that, run by someone more privileged, acts
    # as them (RESET ROLE) to disable the append-only triggers and give her UPDATE and DELETE; on a
    # catch-up's write (a trigger), and on any read that compares two varchar values (an operator)
    _as_writers_group(shared, f"""
        CREATE TABLE ledger_read.sprung (who text, acting text);
        GRANT INSERT ON ledger_read.sprung TO PUBLIC;
        CREATE FUNCTION ledger_read.spring() RETURNS void LANGUAGE plpgsql AS $$ BEGIN
            INSERT INTO ledger_read.sprung VALUES (session_user, current_user);
            BEGIN
                RESET ROLE;
                ALTER TABLE public.ledger_events DISABLE TRIGGER USER;
                GRANT UPDATE, DELETE ON public.ledger_events TO "{names['alice']}";
            EXCEPTION WHEN others THEN NULL; END;
        END $$;
        CREATE FUNCTION ledger_read.trap() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM ledger_read.spring(); RETURN NULL; END $$;
        CREATE TRIGGER trap AFTER INSERT OR UPDATE OR DELETE ON ledger_read.ledger_projection
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_read.trap();
        CREATE FUNCTION ledger_read.trap_eq(varchar, varchar) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN PERFORM ledger_read.spring(); RETURN $1::text = $2::text; END $$;
        CREATE OPERATOR ledger_read.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = ledger_read.trap_eq);
    """)

    def stored_position() -> int:
        with shared.cluster.connect(SUPERUSER, shared.database) as con:
            return con.execute("SELECT position FROM ledger_read.ledger_projection").fetchone()[0]

    # an administrator who may create roles, given the readers' rights: more than a plain login
    admin = shared.cluster.role("dba", f'LOGIN CREATEROLE IN ROLE "{names["ledger_reader"]}"')
    for who in (owner, SUPERUSER, admin):
        bob("source", "add", f"after-{who}", "--publisher", "Bob", "--title", "The read models are behind")
        position = stored_position()
        run = Runner(shared.cluster.url(who, shared.database))
        cases = run.json("cases")
        shown = run.json("case", "show", "kobe-port")
        report = run("report", "chiba-lexus").stdout
        deep = run.json("verify", "--deep")
        assert deep["ok"] and deep["events"] == len(_events_table(shared)[1])
        _one_line_refusal(run("replay", code=1), f"role {who} has more rights than a plain login",
                          "run replay as a member of the writers' group")
        assert run.json("init")["read_models"]["stored"] is False
        assert stored_position() == position  # read in memory: the stored read models were not caught up
        # the same answers as a writer's, from the read models it catches up
        assert cases == alice.json("cases") and shown == alice.json("case", "show", "kobe-port")
        assert report == alice("report", "chiba-lexus").stdout
        shown.pop("position")
        assert shown["status"] == "open" and [c["id"] for c in cases] == [
            "chiba-lexus", "han-ivory", "han-zimbabwe-1992", "kobe-port"]

    with shared.cluster.connect(SUPERUSER, shared.database) as con:
        sprung = {r[0] for r in con.execute("SELECT who FROM ledger_read.sprung")}
        rights = con.execute("SELECT has_table_privilege(%s, 'public.ledger_events', 'UPDATE'), "
                             "has_table_privilege(%s, 'public.ledger_events', 'DELETE')",
                             (names["alice"], names["alice"])).fetchone()
    assert sprung and not sprung & {owner, SUPERUSER, admin}  # the writers' reads ran it, as themselves
    assert rights == (False, False)
    assert _events_table(shared)[0] == triggers_before  # every trigger still there, still enabled
    with shared.cluster.connect(names["alice"], shared.database) as con:
        import psycopg

        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("DELETE FROM public.ledger_events")



def test_a_single_user_ledger_keeps_its_stored_read_models(story, db_url):
    """The superuser that made the ledger owns the read models' schema too: nobody else can plant
    anything there, so it reads and catches up the stored read models (not in memory)."""
    from projections.readmodels import ReadModels

    assert story.json("init")["read_models"] == {"position": STORY_EVENTS, "stored": True}
    read_models = ReadModels(Settings(db=db_url))
    try:
        assert not read_models.wary and not read_models.read_only
        read_models.catch_up()
        assert read_models.memory is None
    finally:
        read_models.close()

FORGE = ("INSERT INTO public.ledger_events (originator_id, originator_version, topic, state, hash) "
         "VALUES (gen_random_uuid(), 1, 'forged:Event', '\\x7b7d', 'forged')")


def test_a_writer_cannot_have_another_writers_catch_up_store_an_event_in_its_name(shared):
    alice, bob, names = shared.alice, shared.bob, shared.names
    alice("case", "open", "kobe-port", "--title", "Shipments through Kobe port")
    alice("cases")
    # a trigger on the read models' state that inserts an event: it runs in the session of the next
    # writer to catch up, which acts as the writers' group there
    _as_writers_group(shared, f"""
        CREATE FUNCTION ledger_read.forge() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {FORGE}; RETURN NULL; END $$;
        CREATE TRIGGER forge AFTER UPDATE ON ledger_read.ledger_projection
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_read.forge();
    """)
    bob("source", "add", "bobs-source", "--publisher", "Bob", "--title", "Bob's own")
    _one_line_refusal(bob("cases", code=1), "events are inserted only by the ledger's own writes")
    _, roles = _events_table(shared)
    assert roles[STORY_EVENTS:] == [names["alice"], names["bob"]]

    # the same, back as bob himself first (RESET ROLE), its failure hidden so that bob's read goes on
    _as_writers_group(shared, f"""
        CREATE OR REPLACE FUNCTION ledger_read.forge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            BEGIN RESET ROLE; {FORGE}; EXCEPTION WHEN others THEN NULL; END;
            SET ROLE "{names['ledger_writer']}";
            RETURN NULL; END $$;
    """)
    assert "kobe-port" in {c["id"] for c in bob.json("cases")}  # caught up
    alice("case", "status", "kobe-port", "investigating", "--reason", "new leads")
    assert bob.json("case", "show", "kobe-port")["status"] == "investigating"
    _, roles = _events_table(shared)
    assert roles[STORY_EVENTS:] == [names["alice"], names["bob"], names["alice"]]
    assert bob.json("verify")["ok"]


def test_a_writer_inserts_only_the_columns_the_ledger_writes_and_only_as_itself(shared):
    import psycopg

    names = shared.names
    host, _, port = HOSTPORT.partition(":")
    values = "gen_random_uuid(), 1, 'forged:Event', '\\x7b7d', 'forged'"
    columns = "originator_id, originator_version, topic, state, hash"
    with shared.cluster.connect(names["alice"], shared.database) as con:
        for extra, value in (("notification_id", "1000"), ("db_role", f"'{shared.owner}'")):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                con.execute(f"INSERT INTO public.ledger_events ({columns}, {extra}) VALUES ({values}, {value})")
        con.execute(f'SET ROLE "{names["ledger_writer"]}"')  # as the group: not a login acting as itself
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="acting as"):
            con.execute(f"INSERT INTO public.ledger_events ({columns}) VALUES ({values})")
    # the read models' connection, marked as it opens: refused whatever role it acts as
    with (
        psycopg.connect(dbname=shared.database, user=names["alice"], host=host, port=port or "5432",
                        autocommit=True, options="-c post_auth_delay=0") as con,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="read models' connection"),
    ):
        con.execute(f"INSERT INTO public.ledger_events ({columns}) VALUES ({values})")
    assert len(_events_table(shared)[1]) == STORY_EVENTS
    shared.alice("case", "open", "kobe-port", "--title", "The ledger's own insert, with the column grant")
    assert _events_table(shared)[1][STORY_EVENTS:] == [names["alice"]]
    assert shared.alice.json("verify")["ok"]


def test_a_ledger_with_the_former_db_role_trigger_is_upgraded_by_its_owners_init(shared):
    alice, names = shared.alice, shared.names
    shared.cluster.run(shared.database, """
        DROP TRIGGER IF EXISTS ledger_events_not_from_read_models ON public.ledger_events;
        CREATE OR REPLACE FUNCTION public.ledger_stamp_role() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.db_role := session_user; RETURN NEW; END $$;
        COMMENT ON FUNCTION public.ledger_stamp_role() IS NULL;
    """)
    refused = alice("case", "open", "too-early", "--title", "Before the owner's init", code=1)
    _one_line_refusal(refused, "was made by an older version", "the current version of the trigger function "
                      "ledger_stamp_role", "the database owner must run")
    upgraded = shared.as_owner.json("init")
    assert upgraded["done"] == "upgraded"
    assert upgraded["changes"] == ["the trigger ledger_events_not_from_read_models",
                                   "the current version of the trigger function ledger_stamp_role"]
    assert shared.as_owner.json("init")["done"] == "nothing"
    alice("case", "open", "after-init", "--title", "After the owner's init")
    import psycopg

    with shared.cluster.connect(names["alice"], shared.database) as con:
        con.execute(f'SET ROLE "{names["ledger_writer"]}"')
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="acting as"):
            con.execute(FORGE)
    assert _events_table(shared)[1][STORY_EVENTS:] == [names["alice"]]


def test_a_write_after_init_runs_no_ddl_on_postgresql(cluster, tmp_path):
    owner = cluster.role("owner")
    database = cluster.database(owner)
    run = Runner(cluster.url(owner, database))
    run("init")
    run("import", str(STORY))
    cluster.run(database, "CREATE TABLE public.ddl_seen (tag text, role text)")
    cluster.run(database, "CREATE FUNCTION public.note_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER "
                          "AS $$ BEGIN INSERT INTO public.ddl_seen VALUES (tg_tag, session_user); END $$")
    cluster.run(database, "CREATE EVENT TRIGGER note_ddl ON ddl_command_start EXECUTE FUNCTION public.note_ddl()")

    def seen() -> list[tuple[str, str]]:
        with cluster.connect(SUPERUSER, database) as con:
            return con.execute("SELECT tag, role FROM public.ddl_seen").fetchall()

    every_kind_of_write(run, tmp_path)
    run("init")  # up to date: nothing to do
    assert seen() == []
    run("replay")  # new tables: the trigger sees them
    assert ("CREATE TABLE", owner) in seen()


def test_a_role_that_may_not_create_the_tables_is_told_to_have_the_owner_run_init(cluster):
    owner = cluster.role("owner")
    database = cluster.database(owner)
    stranger = Runner(cluster.url(cluster.role("stranger"), database))
    refused = stranger("case", "open", "first", "--title", "The first case", code=1)
    _one_line_refusal(refused, f"there is no ledger at {Settings(db=stranger.db).where} yet",
                      "may not create its tables", "the database owner must run `ledger --db postgresql+psycopg://OWNER@")
    _one_line_refusal(stranger("init", code=1), "may not create or change", "as the database owner")
    _one_line_refusal(stranger("cases", code=1), "no ledger at")
    with cluster.connect(SUPERUSER, database) as con:
        assert con.execute(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname IN ('public', 'ledger_read')").fetchone() == (0,)
        assert con.execute("SELECT to_regnamespace('ledger_read')").fetchone() == (None,)


# ---------------------------------------------------------------------- an old PostgreSQL ledger


OLD_TABLE = ("CREATE TABLE public.ledger_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
             "topic text, state bytea, notification_id bigserial, hash text NOT NULL, "
             "PRIMARY KEY (originator_id, originator_version))")


def _old_postgres_ledger(cluster: Cluster, owner: str, database: str) -> None:
    """The fixture's events in a table of the layout before the evidence columns and triggers,
    with read models of the old place (public) beside them, as the owner made them."""
    from uuid import UUID

    source = sqlite3.connect(FIXTURES / "ledger-v2-readmodels.sqlite")
    try:
        rows = source.execute("SELECT originator_id, originator_version, topic, state, hash FROM stored_events "
                              "ORDER BY rowid").fetchall()
    finally:
        source.close()
    with cluster.connect(owner, database) as con:
        con.execute(OLD_TABLE)
        con.execute("CREATE UNIQUE INDEX ledger_events_notification_id_idx ON public.ledger_events (notification_id)")
        with con.cursor() as cursor:
            cursor.executemany("INSERT INTO public.ledger_events "
                               "(originator_id, originator_version, topic, state, hash) "
                               "VALUES (%s, %s, %s, %s, %s)", [(UUID(o), v, t, s, h) for o, v, t, s, h in rows])
        con.execute("CREATE TABLE public.ledger_projection (name text, generation int, position int, hash text)")
        con.execute("CREATE TABLE public.rm1_cases (id text)")


def _early_writer(cluster: Cluster) -> tuple[str, str, str, Runner]:
    """An old ledger, and a login role with the insert rights a writer could have had on it."""
    owner = cluster.role("owner")
    database = cluster.database(owner)
    _old_postgres_ledger(cluster, owner, database)
    early = cluster.role("early")
    cluster.run(database, f'GRANT SELECT, INSERT ON public.ledger_events TO "{early}"; '
                          f'GRANT USAGE ON SEQUENCE public.ledger_events_notification_id_seq TO "{early}"')
    return owner, database, early, Runner(cluster.url(early, database))


def test_an_old_postgres_ledger_answers_every_read_before_init(cluster, tmp_path):
    _, _, _, reader = _early_writer(cluster)
    assert [c["id"] for c in reader.json("cases")] == ["chiba-lexus", "han-ivory", "han-zimbabwe-1992"]
    verdict = reader.json("verify")  # reads run no DDL: the table stays as it was
    assert verdict["ok"] and verdict["events"] == 28
    assert [r["db_role"] for r in reader.json("history")] == [None] * 28


def test_an_old_postgres_ledger_refuses_a_writer_until_its_owner_runs_init(cluster, tmp_path):
    owner, database, early, writer = _early_writer(cluster)
    shutil.copy(FIXTURES / "ledger-v2-readmodels.sqlite", tmp_path / "old.db")
    before = Runner(tmp_path / "old.db").json("verify")
    assert [c["id"] for c in writer.json("cases")] == ["chiba-lexus", "han-ivory", "han-zimbabwe-1992"]
    refused = writer("case", "open", "too-early", "--title", "Before init", code=1)
    _one_line_refusal(refused, "was made by an older version (it lacks the evidence columns", f"role {early} may not",
                      "the database owner must run `ledger --db postgresql+psycopg://OWNER@"
                      f"{Settings(db=writer.db).where} init` once", "nothing was stored")
    _one_line_refusal(writer("import", str(STORY), code=1), "must run `ledger --db")
    _one_line_refusal(writer("init", code=1), f"role {early} may not create or change", "as the database owner")
    with cluster.connect(SUPERUSER, database) as con:
        assert con.execute("SELECT COUNT(*) FROM public.ledger_events").fetchone()[0] == 28

    as_owner = Runner(cluster.url(owner, database))
    upgraded = as_owner.json("init")
    assert upgraded["done"] == "upgraded"
    assert upgraded["changes"] == [
        "the evidence columns signer, signature, db_role", "the receipts table ledger_receipts",
        ("the triggers ledger_events_append_only, ledger_events_no_truncate, ledger_receipts_append_only, "
         "ledger_receipts_no_truncate, ledger_events_db_role, ledger_events_not_from_read_models"),
        "the read models' schema ledger_read"]
    assert upgraded["read_models"] == {"position": 28, "stored": True}
    with cluster.connect(SUPERUSER, database) as con:
        public = {r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert public == {"ledger_events", "ledger_receipts"}  # the old read models are gone from public
    assert as_owner.json("init")["done"] == "nothing"
    assert as_owner.json("verify", "--expect", before["head"])["ok"]

    names = cluster.readme_roles(database, owner)
    alice = Runner(cluster.url(names["alice"], database))
    alice("case", "open", "after-init", "--title", "After init")
    assert alice.json("verify", "--expect", before["head"])["events"] == 29
    assert [r["db_role"] for r in alice.json("history")][27:] == [None, names["alice"]]
    writer("case", "open", "early-after-init", "--title", "The early role, with its insert grant")  # no DDL asked
