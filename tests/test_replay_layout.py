"""A replay builds its fresh tables otherwise than catch-up builds the first ones (on PostgreSQL
without their primary keys, added with the indexes once the tables are full or at the first
lookup: `projections.schema.KEYS_LATER`); the tables it swaps in must be laid out as those,
column for column, key for key, index for index, and hold the same rows."""

from __future__ import annotations

import json
import sqlite3

import pytest

from ledger.store.settings import Settings
from projections.schema import TABLES, key_statements, table_statements, unkeyed

# a ledger with no correction: a replay of it looks nothing up, and keys its tables at the end
PLAIN = [
    {"op": "source.add", "id": "src-a", "publisher": "P", "title": "A report", "reliability": "B", "credibility": 2},
    {"op": "source.add", "id": "src-b", "publisher": "P", "title": "B report"},
    {"op": "entity.add", "id": "ent-a", "kind": "person", "name": "Kim Chol"},
    {"op": "case.open", "id": "case-a", "title": "A case"},
    {"op": "record.raid", "case": "case-a", "on": "2023-12-07", "sources": ["src-a", "src-b", "src-a"],
     "authority": "ent-a", "target": "ent-a", "note": "Noted, here", "key": "k1"},
]


def _layout(db_url: str) -> tuple[int, list[tuple]]:
    """(the live generation, its tables' columns, keys and indexes with the generation's prefix
    taken out)."""
    settings = Settings(db=db_url)
    if settings.backend == "sqlite":
        con = sqlite3.connect(settings.sqlite_path)
        try:
            (generation,), = con.execute("SELECT generation FROM ledger_projection").fetchall()
            p = f"rm{generation}_"
            rows = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name LIKE ? "
                               "ORDER BY name", (p + "%",)).fetchall()
        finally:
            con.close()
    else:
        with settings.connect_postgres(search_path="ledger_read") as con:
            (generation,), = con.execute("SELECT generation FROM ledger_projection").fetchall()
            p = f"rm{generation}_"
            rows = con.execute(
                "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, "
                "is_nullable FROM information_schema.columns WHERE table_schema = 'ledger_read' "
                "AND table_name LIKE %(p)s ORDER BY 1, 3", {"p": p + "%"}).fetchall()
            rows += con.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'ledger_read' "
                                "AND tablename LIKE %(p)s ORDER BY 1", {"p": p + "%"}).fetchall()
            rows += con.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                                "WHERE connamespace = 'ledger_read'::regnamespace AND conname LIKE %(p)s "
                                "ORDER BY 1", {"p": p + "%"}).fetchall()
    assert rows
    return generation, [tuple(str(v).replace(p, "rm_") if v is not None else None for v in row) for row in rows]


def _rows(db_url: str, generation: int) -> dict[str, list[str]]:
    settings = Settings(db=db_url)
    out = {}
    for name in TABLES:
        sql = f"SELECT * FROM rm{generation}_{name}"
        if settings.backend == "sqlite":
            con = sqlite3.connect(settings.sqlite_path)
            try:
                rows = con.execute(sql).fetchall()
            finally:
                con.close()
        else:
            with settings.connect_postgres(search_path="ledger_read") as con:
                rows = con.execute(sql).fetchall()
        out[name] = sorted(repr(row) for row in rows)
    return out


@pytest.mark.parametrize("ledger", ["story", "plain"])
def test_a_replay_swaps_in_tables_laid_out_as_catch_up_makes_them_with_the_same_rows(run, ledger, tmp_path):
    if ledger == "story":
        from tests.conftest import STORY

        run("import", str(STORY))  # an amendment in it: the replay keys its tables at that lookup
    else:
        load = tmp_path / "plain.jsonl"
        load.write_text("".join(json.dumps(line) + "\n" for line in PLAIN))
        run("import", str(load))
    run("cases")
    caught_up, before = _layout(run.db)
    rows = _rows(run.db, caught_up)
    run("replay")
    replayed, after = _layout(run.db)
    assert replayed != caught_up
    assert after == before
    assert _rows(run.db, replayed) == rows


def test_every_table_has_a_primary_key_a_replay_can_add_later():
    for name, body in TABLES.items():
        bare, key = unkeyed(body)
        assert "PRIMARY KEY" not in bare and key, name
    keyed = table_statements(1, "postgresql")
    for later, statement, alter in zip(table_statements(1, "postgresql", keys_later=True), keyed, key_statements(1),
                                       strict=True):
        assert later != statement and alter.startswith("ALTER TABLE rm1_")
