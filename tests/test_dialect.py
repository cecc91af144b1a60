"""The read side's one adapter (projections.database): SQL written once, with `:name` parameters, run
the same on SQLite and PostgreSQL; bulk writes; and what a database error is taken for."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from ledger.app.importer import import_lines
from ledger.errors import LedgerError, NoReadModels, ReadModelsDamaged
from projections import database
from projections.database import absent, connect, damage, fetch, insert_rows, sql
from projections.light import damage_said, open_light
from projections.queries import Db
from projections.readmodels import ReadModels
from tests.conftest import STORY

PROJECTIONS = Path(__file__).resolve().parent.parent / "projections"


def test_read_side_sql_is_written_with_named_parameters_and_turned_into_each_drivers_style():
    text = "SELECT x::text, '12:30', '5%' FROM t WHERE a = :a AND b IN (:b_0, :b_1) AND c = :a"
    assert sql(text, "sqlite") == text
    assert sql(text, "postgresql") == ("SELECT x::text, '12:30', '5%%' FROM t WHERE a = %(a)s "
                                       "AND b IN (%(b_0)s, %(b_1)s) AND c = %(a)s")


def test_no_module_of_the_read_side_but_the_adapter_speaks_a_dialect():
    """Placeholders, COPY, the events' position column and the table prefix are said in
    projections/database.py (and the prefix in schema.py) only."""
    dialect_words = re.compile(r"%s|%\(|= \?|\(\?[,)]|COPY \{|FROM STDIN|\bnotification_id\b|\browid\b|FOR UPDATE|"
                               r"[\"']BEGIN|[\"']rm")
    for path in sorted(PROJECTIONS.glob("*.py")):
        if path.name in ("database.py", "schema.py"):
            continue
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        found = [m.group(0) for m in dialect_words.finditer(code)]
        assert not found, (path.name, found)
    assert len(re.findall(r"rm\{", (PROJECTIONS / "schema.py").read_text())) == 1  # prefix(), once


def test_bulk_writes_and_named_reads_give_the_same_rows_on_both_backends(settings):
    conn = connect(settings)
    try:
        kind = database.dialect(conn)
        fetch(conn, kind, "CREATE TEMP TABLE t (id INTEGER, name TEXT, note TEXT)")
        cursor = conn.cursor()
        rows = [(1, "Ōsaka", None), (2, "50% off", "a:b"), (3, "it's", "::x")]
        insert_rows(cursor, kind, "t", ("id", "name", "note"), rows)
        cursor.close()
        db = Db(conn, 1)
        assert db.rows("SELECT * FROM t WHERE id IN (:ids) AND name NOT LIKE '%zz%' ORDER BY id", ids=[3, 1]) == [
            {"id": 1, "name": "Ōsaka", "note": None}, {"id": 3, "name": "it's", "note": "::x"}]
        assert db.rows("SELECT id FROM t WHERE id IN (:id) OR name = :idname", id=[], idname="50% off") == [{"id": 2}]
        assert fetch(conn, kind, "SELECT COUNT(*) FROM t WHERE note = :note", {"note": "a:b"}) == [(1,)]
    finally:
        conn.rollback()
        conn.close()


def test_no_read_models_is_one_of_the_ledgers_own_errors():
    assert issubclass(NoReadModels, LedgerError) and NoReadModels("x").exit_code == 1


# ---------------------------------------------------------------------- errors: said, never taken for "none yet"


@pytest.fixture
def broken_state(tmp_path):
    """A SQLite ledger whose state row cannot be read for a reason other than a missing table
    (reading it overflows): its settings."""
    from ledger.store.settings import Settings, open_ledger

    settings = Settings(db=str(tmp_path / "ledger.db"))
    app = open_ledger(settings, create=True)
    read_models = ReadModels(settings)
    try:
        import_lines(app, STORY.read_text().splitlines(), "tester")
        read_models.catch_up()
    finally:
        read_models.close()
        app.close()
        app.factory.close()
    con = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    con.execute("ALTER TABLE ledger_projection RENAME TO kept")
    con.execute("CREATE VIEW ledger_projection AS SELECT name, generation, "
                "position + abs(-9223372036854775808) AS position, hash FROM kept")
    con.close()
    return settings


def test_a_state_row_that_fails_to_read_is_said_not_taken_for_no_read_models(broken_state):
    with pytest.raises(ReadModelsDamaged, match=r"\(OperationalError: integer overflow\)"):
        open_light(broken_state)  # not None: the light path does not take it for "none yet"
    read_models = ReadModels(broken_state)
    try:
        with pytest.raises(ReadModelsDamaged, match="integer overflow"):
            read_models.catch_up()  # nor does catch-up, which would build new ones over them
    finally:
        read_models.close()


def test_the_cli_says_a_state_row_that_fails_to_read(broken_state):
    from tests.conftest import Runner

    result = Runner(broken_state.sqlite_path)("case", "show", "chiba-lexus", code=1)
    assert result.stderr.startswith("Error: the read models could not be read (OperationalError: integer overflow)")
    assert "Traceback" not in result.stderr


def test_missing_read_models_are_absent_and_only_they(settings):
    conn = connect(settings)
    try:
        for text in ("SELECT * FROM no_such_table", "SELECT no_such_column FROM (SELECT 1 AS a) s"):
            with pytest.raises(database.db_errors(conn)) as caught:
                fetch(conn, database.dialect(conn), text)
            assert absent(caught.value) and damage(caught.value)
            conn.rollback()
    finally:
        conn.close()


def test_a_busy_database_is_neither_absent_read_models_nor_damage(tmp_path):
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (a)")
    holder.execute("BEGIN EXCLUSIVE")
    reader = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked") as caught, damage_said():
            reader.execute("SELECT * FROM t").fetchall()  # not said as damaged read models
        assert not absent(caught.value) and not damage(caught.value)
    finally:
        reader.close()
        holder.execute("ROLLBACK")
        holder.close()


def test_a_lost_postgresql_connection_is_not_damage(settings):
    if settings.backend != "postgresql":
        pytest.skip("PostgreSQL's")
    import psycopg

    conn = connect(settings, read_only=True)
    conn.close()
    with pytest.raises(psycopg.OperationalError) as caught, damage_said():
        conn.execute("SELECT 1")
    assert not absent(caught.value) and not damage(caught.value)


@pytest.mark.parametrize("error, said", [(ValueError("not JSON"), True), (KeyError("roles"), True),
                                         (RuntimeError("a fault of the code"), False)])
def test_only_what_damage_causes_is_said_as_damage(error, said):
    with pytest.raises(ReadModelsDamaged if said else type(error)), damage_said():
        raise error


def test_a_file_that_is_no_database_is_said_to_be_no_ledger_not_damaged_read_models(tmp_path):
    from tests.conftest import Runner

    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 40)
    result = Runner(path)("cases", code=1)
    assert result.stderr == f"Error: {path} is not a ledger: file is not a database\n"
