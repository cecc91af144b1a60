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

import re
import zlib

from ledger.domain.kinds import DETAILS

VERSION = 7  # 3: the state remembers the chain hash at its position; corrections table; 4: incident_sources;
# 5: source_amendments; 6: the search index: search_names, incidents' words; 7: contested claims: the claim
# state of incidents and cases (`claims`, JSON, NULL until a source claims one of their fields:
# projections.claiming), the sources a case's fields rest on

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
    sources TEXT NOT NULL,
    claims TEXT,
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
    words TEXT NOT NULL,
    claims TEXT,
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
    # the search index of names (projections.terms, projections.search), under the position of the
    # event that added each thing: the words of the names, aliases and ids of entities and of the
    # titles and ids of cases and sources, with the Soundex keys of their names and titles;
    # FULL_TEXT indexes it. (An incident's words, of its note, place and text details, are its
    # row's `words`: a table of their own cost a replay 5% more.)
    "search_names": """(
    position INTEGER NOT NULL PRIMARY KEY,
    type VARCHAR(10) NOT NULL,
    words TEXT NOT NULL,
    sounds TEXT NOT NULL)""",
    # every amendment of a source (`source amend`), with the values it replaced (JSON), for reports
    "source_amendments": """(
    position INTEGER NOT NULL PRIMARY KEY,
    source_id VARCHAR(80) NOT NULL,
    changes TEXT NOT NULL,
    old TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT,
    recorded_at VARCHAR(40))""",
}

# secondary indexes: a replay creates them once the fresh tables are full (one sort each), or as
# soon as it has to look an incident up (an amendment)
INDEXES = {
    "incidents_id": "UNIQUE INDEX {p}incidents_id ON {p}incidents (id)",
    "incidents_case": "INDEX {p}incidents_case ON {p}incidents (case_id)",
    # timeline order; with the columns `incidents` filters on most, which SQLite checks in the index
    # as it walks it in that order: a filter few incidents pass (`--status amended`, a kind never
    # recorded) costs 10-20 ms on 100,000 incidents instead of 200, and the index no more to build
    "incidents_order": ("INDEX {p}incidents_order ON {p}incidents (on_start, precision_rank, position, status, "
                        "kind, country)"),
    "entities_merged": "INDEX {p}entities_merged ON {p}entities (merged_into)",
    "corrections_incident": "INDEX {p}corrections_incident ON {p}corrections (incident)",
    # an incident's sources, by incident: `incidents --min-grade` walks the timeline and looks each
    # one's sources up (on PostgreSQL 130 ms become 2 on 100,000 incidents), and a correction of
    # `sources` deletes an incident's rows without scanning them all
    "incident_sources_incident": "INDEX {p}incident_sources_incident ON {p}incident_sources (incident, source_id)",
}


# The full-text indexes over the search index of names, in each database's own kind, made with
# the other indexes. SQLite: an FTS5 table whose content is search_names (its rows are written
# beside it by the projector, not by triggers: FTS5 under a trigger costs five times as much),
# filled by 'rebuild' when a replay indexes its fresh tables. PostgreSQL: GIN indexes over the
# words and the sound keys read as tsvectors (`words::tsvector`: they are normalised already,
# lowercase letters and digits between spaces, so no text search configuration parses them again;
# a third cheaper to build than `to_tsvector`). Neither needs an extension, nor so a right beyond
# a table owner's (pg_trgm would need CREATE EXTENSION).
# The incidents' words are not indexed so: read whole, the words of 100,000 incidents take 25 ms
# (PostgreSQL) to 45 ms (SQLite) a word, well inside a search's time; a full-text index over them
# took a replay 7% (SQLite's FTS5) and 14% (PostgreSQL's GIN) more time on top of this index's 7-10%.
FULL_TEXT = {
    "sqlite": [("CREATE VIRTUAL TABLE {p}search_names_fts USING fts5(words, sounds, content='{p}search_names', "
                "content_rowid='position', detail=column, columnsize=0, tokenize='ascii')"),
               "INSERT INTO {p}search_names_fts ({p}search_names_fts) VALUES ('rebuild')"],
    "postgresql": ["CREATE INDEX {p}search_names_words ON {p}search_names USING gin ((words::tsvector))",
                   "CREATE INDEX {p}search_names_sounds ON {p}search_names USING gin ((sounds::tsvector))"],
}
# SQLite's full-text tables, by the table they index
FTS_TABLES = {"search_names": "search_names_fts"}


def prefix(generation: int) -> str:
    """The one place a generation's tables are named: `rm3_` for generation 3."""
    return f"rm{generation}_"


def table_name(generation: int, name: str) -> str:
    """A read-model table of a generation: `table_name(3, "cases")` is `rm3_cases`."""
    return prefix(generation) + name


# PostgreSQL: a replay's fresh tables get their primary keys with the secondary indexes, once they
# are full (`ALTER TABLE ... ADD PRIMARY KEY`: one sort each, the same `{table}_pkey` index as the
# key declared in the table), not an index kept up row by row through each COPY. On 100,000
# incidents the COPY of incident_roles went from 1.76 s to 0.25 s, and its key then takes 0.5 s;
# incident_sources' from 0.54 s to 0.1 s, and 0.15-0.25 s. SQLite keeps its keys in the tables:
# a WITHOUT ROWID table is its key, and the rowid of the others costs nothing to keep.
KEYS_LATER = {"sqlite": False, "postgresql": True}
_TABLE_KEY = re.compile(r",\n\s*PRIMARY KEY \(([^)]*)\)")  # a key of several columns, after them
_COLUMN_KEY = re.compile(r"^\s*(\w+) [^\n]*?( PRIMARY KEY)\b", re.MULTILINE)  # a column that is the key


def unkeyed(body: str) -> tuple[str, str]:
    """A table's body (`TABLES`) without its primary key, and the key's columns."""
    keyed = _TABLE_KEY.search(body)
    if keyed is not None:
        return body[:keyed.start()] + body[keyed.end():], keyed.group(1)
    column = _COLUMN_KEY.search(body)
    if column is None:
        raise ValueError(f"a read-model table without a primary key: {body}")
    return body[:column.start(2)] + body[column.end(2):], column.group(1)


def table_statements(generation: int, dialect: str, keys_later: bool = False) -> list[str]:
    """The generation's tables; `keys_later`: without their primary keys (`key_statements`)."""
    from projections.database import WITHOUT_ROWID

    p, without_rowid = prefix(generation), WITHOUT_ROWID[dialect]
    return [f"CREATE TABLE {p}{name} " + (unkeyed(body)[0] if keys_later else body).format(
        without_rowid=without_rowid, details=DETAIL_COLUMNS) for name, body in TABLES.items()]


def key_statements(generation: int) -> list[str]:
    """The primary keys of tables made with `table_statements(..., keys_later=True)`."""
    p = prefix(generation)
    return [f"ALTER TABLE {p}{name} ADD PRIMARY KEY ({unkeyed(body)[1]})" for name, body in TABLES.items()]


def index_statements(generation: int, dialect: str) -> list[str]:
    p = prefix(generation)
    return ["CREATE " + index.format(p=p) for index in INDEXES.values()] + [
        statement.format(p=p) for statement in FULL_TEXT[dialect]]


# PostgreSQL's planner statistics of the small tables that `incidents --min-grade` and `--source`
# join through, gathered once a replay has filled them (autovacuum may be off, or not there yet):
# without them it takes the graded sources for one row and builds every graded incident before
# the first page (170 ms on 100,000 incidents), with them it walks the timeline (2 ms). 60 ms of a
# replay; the incidents table itself is left to autovacuum (its ANALYZE would cost 0.4 s).
STATISTICS = {"sqlite": [], "postgresql": ["ANALYZE {p}sources", "ANALYZE {p}incident_sources"]}


def statistics_statements(generation: int, dialect: str) -> list[str]:
    return [statement.format(p=prefix(generation)) for statement in STATISTICS[dialect]]


def drop_statements(generation: int) -> list[str]:
    # (SQLite's full-text tables first: they read the search tables)
    return [f"DROP TABLE IF EXISTS {table_name(generation, name)}" for name in (*FTS_TABLES.values(), *TABLES)]
