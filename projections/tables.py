"""The read models declared as SQLAlchemy Core tables: the query layer of the list reads.

The reads that answer an analyst's questions (`incidents` with any mix of filters, `sources`,
`links`, `stats`, `search`) are SQLAlchemy statements composed from the options, over these
tables, and run unchanged on SQLite and PostgreSQL. Users get the same tables from Python:

    from sqlalchemy import select
    from projections.tables import read_tables

    t = read_tables(generation)  # the live generation: ledger.api.Ledger.tables()
    select(t.incidents.c.kind, t.incidents.c.on_date).where(t.incidents.c.country == "JP")

Where a hot path is faster on hand-written SQL (the projector's bulk writes and DDL in
`projections/schema.py`, the light read of `case show` in `projections/queries.py`), that SQL is
kept, and `tests/test_tables.py` checks that the tables it creates are the tables declared here,
column for column, on both databases, so the two cannot drift.

Importing this module imports SQLAlchemy (a quarter of a second of a cold process): only the
list reads do, never `--help`, a write, the projector or `case show`.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text
from sqlalchemy.types import TypeEngine

from ledger.domain.kinds import DETAILS
from projections.schema import SQL_TYPES, table_name

_TYPES: dict[str, TypeEngine[Any]] = {"TEXT": Text(), "FLOAT": Float(), "VARCHAR(3)": String(3)}


def _detail_columns() -> list[Column[Any]]:
    """One column per detail a kind declares, of its type's SQL type (as schema.DETAIL_COLUMNS)."""
    return [Column(name, _TYPES[SQL_TYPES[kind]]) for name, kind in DETAILS.items()]


@cache
def read_tables(generation: int) -> SimpleNamespace:
    """The tables of one generation of read models (`rm3_incidents`, ...), by their short name."""
    metadata = MetaData()

    def table(name: str, *columns: Column[Any] | PrimaryKeyConstraint) -> Table:
        return Table(table_name(generation, name), metadata, *columns)

    return SimpleNamespace(
        metadata=metadata,
        streams=table("streams", Column("stream", String(32), primary_key=True),
                      Column("kind", String(10), nullable=False), Column("ref", String(80), nullable=False)),
        cases=table("cases", Column("id", String(80), primary_key=True), Column("title", Text, nullable=False),
                    Column("status", String(20), nullable=False), Column("jurisdiction", String(2)),
                    Column("regime", Text), Column("summary", Text),
                    Column("sources", Text, nullable=False), Column("claims", Text), Column("recorded_at", String(40)),
                    Column("recorded_by", Text), Column("position", Integer, nullable=False)),
        case_status=table("case_status", Column("case_id", String(80), nullable=False),
                          Column("position", Integer, nullable=False), Column("status", String(20), nullable=False),
                          Column("previous", String(20), nullable=False), Column("reason", Text, nullable=False),
                          Column("recorded_at", String(40)), Column("recorded_by", Text),
                          PrimaryKeyConstraint("case_id", "position")),
        sources=table("sources", Column("id", String(80), primary_key=True), Column("publisher", Text, nullable=False),
                      Column("title", Text, nullable=False), Column("url", Text), Column("published", String(40)),
                      Column("reliability", String(1)), Column("credibility", Integer),
                      Column("position", Integer, nullable=False)),
        entities=table("entities", Column("id", String(80), primary_key=True),
                       Column("kind", String(20), nullable=False),
                       Column("name", Text, nullable=False), Column("country", String(2)),
                       Column("aliases", Text, nullable=False), Column("identifiers", Text, nullable=False),
                       Column("merged_into", String(80)), Column("merge_reason", Text),
                       Column("position", Integer, nullable=False)),
        incidents=table("incidents", Column("id", String(36), nullable=False),
                        Column("case_id", String(80), nullable=False), Column("kind", String(20), nullable=False),
                        Column("key", Text), Column("on_date", String(40), nullable=False),
                        Column("precision", String(8), nullable=False), Column("on_start", String(20), nullable=False),
                        Column("precision_rank", Integer, nullable=False), Column("status", String(10), nullable=False),
                        Column("place", Text), Column("country", String(2)), Column("note", Text),
                        *_detail_columns(),
                        Column("sources", Text, nullable=False), Column("roles", Text, nullable=False),
                        Column("words", Text, nullable=False),  # for the search index (projections.search)
                        Column("claims", Text),  # the claim state (ledger.domain.claims), NULL when none
                        Column("recorded_at", String(40)), Column("recorded_by", Text),
                        Column("position", Integer, primary_key=True, autoincrement=False)),
        corrections=table("corrections", Column("position", Integer, primary_key=True, autoincrement=False),
                          Column("incident", String(36), nullable=False), Column("kind", String(20), nullable=False),
                          Column("type", String(10), nullable=False), Column("changes", Text, nullable=False),
                          Column("old", Text, nullable=False), Column("reason", Text, nullable=False),
                          Column("sources", Text, nullable=False), Column("actor", Text),
                          Column("recorded_at", String(40))),
        incident_roles=table("incident_roles", Column("entity_id", String(80), nullable=False),
                             Column("incident", Integer, nullable=False), Column("role", String(20), nullable=False),
                             PrimaryKeyConstraint("entity_id", "incident", "role")),
        incident_sources=table("incident_sources", Column("source_id", String(80), nullable=False),
                               Column("incident", Integer, nullable=False),
                               PrimaryKeyConstraint("source_id", "incident")),
        source_amendments=table("source_amendments",
                                Column("position", Integer, primary_key=True, autoincrement=False),
                                Column("source_id", String(80), nullable=False),
                                Column("changes", Text, nullable=False), Column("old", Text, nullable=False),
                                Column("reason", Text, nullable=False), Column("actor", Text),
                                Column("recorded_at", String(40))),
        # the search index of names (projections.search; incidents' own words are their `words`)
        search_names=table("search_names", Column("position", Integer, primary_key=True, autoincrement=False),
                           Column("type", String(10), nullable=False), Column("words", Text, nullable=False),
                           Column("sounds", Text, nullable=False)),
    )
