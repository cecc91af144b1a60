"""The read-model tables, in the ledger's own database, as plain SQL for SQLite and PostgreSQL.

Every set of read models is a numbered generation (`rm1_cases`, `rm1_incidents`, ...). A replay
builds the next generation beside the live one and swaps it in by moving one pointer in
`ledger_projection`, in the same transaction that drops the old tables, so readers see either
the old read models or the new ones, never a half-built set.

The tables were first declared as SQLAlchemy Core tables. They are plain SQL now because every
bulk command creates tables (an import into a new ledger, a replay), and importing SQLAlchemy
costs such a command 0.16-0.25 s on this machine, more than its whole start-up otherwise.

The read models' layout has a version, part of the name of their row in `ledger_projection`. A
ledger whose read models have another version gets new ones, built from the log by the next
catch-up, and the old tables are dropped: read models are derived data, never migrated.
"""

from __future__ import annotations

import zlib

from ledger.domain.kinds import DETAILS

VERSION = 4  # 3: the state remembers the chain hash at its position; corrections table; 4: incident_sources

# one column for each detail an incident kind declares (ledger.domain.kinds), of its type's SQL type
SQL_TYPES = {"text": "TEXT", "para": "TEXT", "amount": "FLOAT", "currency": "VARCHAR(3)"}
DETAIL_COLUMNS = ",\n    ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in DETAILS.items()) + ","
# the name of the read models' row in ledger_projection: their layout's version and, as a kind
# declares new details, a digest of those columns, so that read models without them are rebuilt
NAME = f"read_models.v{VERSION}.{zlib.crc32(DETAIL_COLUMNS.encode()):08x}"  # zlib: lighter to import than hashlib

# The read models' state: the live generation, the position they were built up to and the chain
# hash of the event there (GENESIS at position 0), which every read checks against the log.
# Layout 2 had no hash column: `ensure` drops such a table, with the generations it names.
STATE_TABLE = """CREATE TABLE IF NOT EXISTS ledger_projection (
    name VARCHAR(40) NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL,
    position INTEGER NOT NULL,
    hash VARCHAR(64) NOT NULL)"""

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
    # keyed by position (the position of the event that recorded the incident): in SQLite the
    # rowid itself, which the role links join on
    "incidents": """(
    id VARCHAR(36) NOT NULL,
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
    {details}
    sources TEXT NOT NULL,
    roles TEXT NOT NULL,
    recorded_at VARCHAR(40),
    recorded_by TEXT,
    position INTEGER NOT NULL PRIMARY KEY)""",
    # every amendment and retraction, with the values it replaced (JSON), for exports that
    # cannot show history otherwise (FtM notes)
    "corrections": """(
    position INTEGER NOT NULL PRIMARY KEY,
    incident VARCHAR(36) NOT NULL,
    kind VARCHAR(20) NOT NULL,
    type VARCHAR(10) NOT NULL,
    changes TEXT NOT NULL,
    old TEXT NOT NULL,
    reason TEXT NOT NULL,
    sources TEXT NOT NULL,
    actor TEXT,
    recorded_at VARCHAR(40))""",
    # who took part in which incident, in which role: looked up by entity
    "incident_roles": """(
    entity_id VARCHAR(80) NOT NULL,
    incident INTEGER NOT NULL,
    role VARCHAR(20) NOT NULL,
    PRIMARY KEY (entity_id, incident, role)){without_rowid}""",
    # which sources an incident rests on, as it stands after corrections: looked up by source
    "incident_sources": """(
    source_id VARCHAR(80) NOT NULL,
    incident INTEGER NOT NULL,
    PRIMARY KEY (source_id, incident)){without_rowid}""",
}

# secondary indexes: a replay creates them once the fresh tables are full (one sort each), or as
# soon as it has to look an incident up (an amendment)
INDEXES = {
    "incidents_id": "UNIQUE INDEX {p}incidents_id ON {p}incidents (id)",
    "incidents_case": "INDEX {p}incidents_case ON {p}incidents (case_id)",
    "incidents_order": "INDEX {p}incidents_order ON {p}incidents (on_start, precision_rank, position)",
    "entities_merged": "INDEX {p}entities_merged ON {p}entities (merged_into)",
    "corrections_incident": "INDEX {p}corrections_incident ON {p}corrections (incident)",
}


def prefix(generation: int) -> str:
    """The one place a generation's tables are named: `rm3_` for generation 3."""
    return f"rm{generation}_"


def table_name(generation: int, name: str) -> str:
    """A read-model table of a generation: `table_name(3, "cases")` is `rm3_cases`."""
    return prefix(generation) + name


def table_statements(generation: int, dialect: str) -> list[str]:
    from projections.database import WITHOUT_ROWID

    p, without_rowid = prefix(generation), WITHOUT_ROWID[dialect]
    return [f"CREATE TABLE {p}{name} " + body.format(without_rowid=without_rowid, details=DETAIL_COLUMNS)
            for name, body in TABLES.items()]


def index_statements(generation: int) -> list[str]:
    return ["CREATE " + index.format(p=prefix(generation)) for index in INDEXES.values()]


def drop_statements(generation: int) -> list[str]:
    return [f"DROP TABLE IF EXISTS {table_name(generation, name)}" for name in TABLES]
