"""The read-model tables, in the ledger's own database, as plain SQL for SQLite and PostgreSQL.

Every set of read models is a numbered generation (`rm1_cases`, `rm1_incidents`, ...). A replay
builds the next generation beside the live one and swaps it in by moving one pointer in
`ledger_projection`, in the same transaction that drops the old tables, so readers see either
the old read models or the new ones, never a half-built set.

The tables were first declared as SQLAlchemy Core tables; these statements are what SQLAlchemy
compiled them to, and ledgers made then read on unchanged. They are written out because every
bulk command creates tables (an import into a new ledger, a replay), and importing SQLAlchemy
costs such a command 0.16-0.25 s on this machine, more than its whole start-up otherwise.
"""

from __future__ import annotations

NAME = "read_models"

STATE_TABLE = """CREATE TABLE IF NOT EXISTS ledger_projection (
    name VARCHAR(40) NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL,
    position INTEGER NOT NULL)"""

# {p} is the generation's prefix; {without_rowid} is SQLite's, for a table whose key is the row
TABLES = {
    # which case, entity or source each stream of the log belongs to
    "streams": """(
    stream VARCHAR(32) NOT NULL PRIMARY KEY,
    kind VARCHAR(10) NOT NULL,
    ref VARCHAR(80) NOT NULL)""",
    "cases": """(
    id VARCHAR(80) NOT NULL PRIMARY KEY,
    title TEXT NOT NULL,
    status VARCHAR(20) NOT NULL,
    jurisdiction VARCHAR(2),
    regime TEXT,
    summary TEXT,
    recorded_at VARCHAR(40),
    recorded_by TEXT,
    position INTEGER NOT NULL)""",
    "case_status": """(
    case_id VARCHAR(80) NOT NULL,
    position INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    previous VARCHAR(20) NOT NULL,
    reason TEXT NOT NULL,
    recorded_at VARCHAR(40),
    recorded_by TEXT,
    PRIMARY KEY (case_id, position))""",
    "sources": """(
    id VARCHAR(80) NOT NULL PRIMARY KEY,
    publisher TEXT NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    published VARCHAR(40),
    reliability VARCHAR(1),
    credibility INTEGER,
    position INTEGER NOT NULL)""",
    "entities": """(
    id VARCHAR(80) NOT NULL PRIMARY KEY,
    kind VARCHAR(20) NOT NULL,
    name TEXT NOT NULL,
    country VARCHAR(2),
    aliases TEXT NOT NULL,
    identifiers TEXT NOT NULL,
    merged_into VARCHAR(80),
    merge_reason TEXT,
    position INTEGER NOT NULL)""",
    "incidents": """(
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    case_id VARCHAR(80) NOT NULL,
    kind VARCHAR(20) NOT NULL,
    "key" TEXT,
    on_date VARCHAR(40) NOT NULL,
    precision VARCHAR(8) NOT NULL,
    on_start VARCHAR(20) NOT NULL,
    precision_rank INTEGER NOT NULL,
    status VARCHAR(10) NOT NULL,
    place TEXT,
    country VARCHAR(2),
    note TEXT,
    value FLOAT,
    currency VARCHAR(3),
    reason TEXT,
    sources TEXT NOT NULL,
    roles TEXT NOT NULL,
    recorded_at VARCHAR(40),
    recorded_by TEXT,
    position INTEGER NOT NULL)""",
    "incident_roles": """(
    incident_id VARCHAR(36) NOT NULL,
    role VARCHAR(20) NOT NULL,
    entity_id VARCHAR(80) NOT NULL,
    case_id VARCHAR(80) NOT NULL,
    PRIMARY KEY (incident_id, role, entity_id)){without_rowid}""",
}

# secondary indexes: a replay creates them once the fresh tables are full (one sort each)
INDEXES = {
    "incidents_case": "incidents (case_id)",
    "incidents_order": "incidents (on_start, precision_rank, position)",
    "roles_entity": "incident_roles (entity_id)",
}


def prefix(generation: int) -> str:
    return f"rm{generation}_"


def table_statements(generation: int, dialect: str) -> list[str]:
    p = prefix(generation)
    without_rowid = " WITHOUT ROWID" if dialect == "sqlite" else ""
    return [f"CREATE TABLE {p}{name} " + body.format(without_rowid=without_rowid) for name, body in TABLES.items()]


def index_statements(generation: int) -> list[str]:
    p = prefix(generation)
    return [f"CREATE INDEX {p}{name} ON {p}{target}" for name, target in INDEXES.items()]


def drop_statements(generation: int) -> list[str]:
    p = prefix(generation)
    return [f"DROP TABLE IF EXISTS {p}{name}" for name in TABLES]
