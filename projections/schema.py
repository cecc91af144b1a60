"""The read-model tables: SQLAlchemy Core tables in the ledger's own database.

Every set of read models is a numbered generation (`rm1_cases`, `rm1_incidents`, ...). A replay
builds the next generation beside the live one and swaps it in by moving one pointer in
`ledger_projection`, in the same transaction that drops the old tables, so readers see either
the old read models or the new ones, never a half-built set.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

META = MetaData()
projection_state = Table(
    "ledger_projection", META,
    Column("name", String(40), primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("position", Integer, nullable=False),
)
NAME = "read_models"


@lru_cache(maxsize=8)
def tables(generation: int) -> SimpleNamespace:
    p = f"rm{generation}_"
    md = MetaData()
    t = SimpleNamespace(metadata=md, generation=generation)
    t.streams = Table(  # which case, entity or source each stream of the log belongs to
        p + "streams", md,
        Column("stream", String(32), primary_key=True),
        Column("kind", String(10), nullable=False),
        Column("ref", String(80), nullable=False),
    )
    t.cases = Table(
        p + "cases", md,
        Column("id", String(80), primary_key=True),
        Column("title", Text, nullable=False),
        Column("status", String(20), nullable=False),
        Column("jurisdiction", String(2)),
        Column("regime", Text),
        Column("summary", Text),
        Column("recorded_at", String(40)),
        Column("recorded_by", Text),
        Column("position", Integer, nullable=False),
    )
    t.case_status = Table(
        p + "case_status", md,
        Column("case_id", String(80), primary_key=True),
        Column("position", Integer, primary_key=True),
        Column("status", String(20), nullable=False),
        Column("previous", String(20), nullable=False),
        Column("reason", Text, nullable=False),
        Column("recorded_at", String(40)),
        Column("recorded_by", Text),
    )
    t.sources = Table(
        p + "sources", md,
        Column("id", String(80), primary_key=True),
        Column("publisher", Text, nullable=False),
        Column("title", Text, nullable=False),
        Column("url", Text),
        Column("published", String(40)),
        Column("reliability", String(1)),
        Column("credibility", Integer),
        Column("position", Integer, nullable=False),
    )
    t.entities = Table(
        p + "entities", md,
        Column("id", String(80), primary_key=True),
        Column("kind", String(20), nullable=False),
        Column("name", Text, nullable=False),
        Column("country", String(2)),
        Column("aliases", Text, nullable=False),  # JSON list
        Column("identifiers", Text, nullable=False),  # JSON object
        Column("merged_into", String(80)),
        Column("merge_reason", Text),
        Column("position", Integer, nullable=False),
    )
    t.incidents = Table(
        p + "incidents", md,
        Column("id", String(36), primary_key=True),
        Column("case_id", String(80), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("key", Text),
        Column("on_date", String(40), nullable=False),
        Column("precision", String(8), nullable=False),
        Column("on_start", String(20), nullable=False),
        Column("precision_rank", Integer, nullable=False),
        Column("status", String(10), nullable=False),
        Column("place", Text),
        Column("country", String(2)),
        Column("note", Text),
        Column("value", Float),
        Column("currency", String(3)),
        Column("reason", Text),
        Column("sources", Text, nullable=False),  # JSON list
        Column("roles", Text, nullable=False),  # JSON object role -> [ids]
        Column("recorded_at", String(40)),
        Column("recorded_by", Text),
        Column("position", Integer, nullable=False),  # first recorded
        Index(p + "incidents_case", "case_id"),
        Index(p + "incidents_order", "on_start", "precision_rank", "position"),
    )
    t.roles = Table(
        p + "incident_roles", md,
        Column("incident_id", String(36), primary_key=True),
        Column("role", String(20), primary_key=True),
        Column("entity_id", String(80), primary_key=True),
        Column("case_id", String(80), nullable=False),
        Index(p + "roles_entity", "entity_id"),
    )
    return t
