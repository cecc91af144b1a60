"""Applies stored events to one generation of read-model tables.

The projector is a pure function of the log: the same events in the same order give the same
tables, which is what lets `replay` rebuild them and the property tests compare the two ways.

It reads the events as they are stored, a topic and a JSON state, and never builds the domain's
event objects; and it writes through the bare DB-API connection, new rows buffered and sent with
one bulk insert per table (`projections.database.insert_rows`: COPY or executemany). A replay of
the whole log is then bound by the database, not by object building, and needs neither the
domain model nor pydantic. The topics are the aggregates' event classes (`ledger.domain.aggregates`),
fixed once events are stored; a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from ledger.domain.kinds import DETAILS, KINDS
from ledger.domain.values import PRECISIONS, range_start
from ledger.domain.vocabulary import TOPIC
from projections.database import SQLITE, execute_many, fetch, insert_rows
from projections.schema import table_name


class Stored(NamedTuple):
    """One stored event as the projector takes it: its position, stream (hex), topic and state."""

    position: int
    stream: str
    topic: str
    state: bytes | str | dict[str, Any]


# the columns each new row is written with, in the order the handlers build them
COLUMNS = {
    "streams": ("stream", "kind", "ref"),
    "sources": ("id", "publisher", "title", "url", "published", "reliability", "credibility", "position"),
    "entities": ("id", "kind", "name", "country", "aliases", "identifiers", "position"),
    "cases": ("id", "title", "status", "jurisdiction", "regime", "summary", "recorded_at", "recorded_by",
              "position"),
    "case_status": ("case_id", "position", "status", "previous", "reason", "recorded_at", "recorded_by"),
    "incidents": ("id", "case_id", "kind", "key", "status", "recorded_at", "recorded_by", "position",
                  "on_date", "precision", "on_start", "precision_rank", "place", "country", "note", *DETAILS,
                  "sources", "roles"),
    "incident_roles": ("entity_id", "incident", "role"),
    "incident_sources": ("source_id", "incident"),
    "corrections": ("position", "incident", "kind", "type", "changes", "old", "reason", "sources", "actor",
                    "recorded_at"),
}
# an incident's columns that come from its fields (what an amendment rewrites)
FIELD_COLUMNS = COLUMNS["incidents"][8:]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _when(state: dict[str, Any]) -> str:
    """The event's recording time as ISO 8601 text (orjson wrote it so; the library's own
    transcoder wrapped it as {"_type_": "datetime_iso", "_data_": ...})."""
    stamp = state["timestamp"]
    if isinstance(stamp, dict):
        stamp = stamp["_data_"]
    return stamp.isoformat() if isinstance(stamp, datetime) else stamp


def incident_id(stream: str) -> str:
    """An incident's id, the UUID of its stream in its usual dashed form."""
    s = stream
    return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"


class Projector:
    def __init__(self, generation: int, dialect: str = SQLITE, before_lookup: Callable[[], None] | None = None):
        self.generation, self.dialect = generation, dialect
        self.before_lookup = before_lookup  # a replay's fresh tables get their indexes then
        self.refs: dict[str, str] = {}
        self.pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        self.handlers: dict[str, Callable[[Any, int, str, dict[str, Any]], None]] = {
            TOPIC + "Source.Added": self._source_added,
            TOPIC + "Entity.Added": self._entity_added,
            TOPIC + "Entity.AliasAdded": self._alias_added,
            TOPIC + "Entity.MergedInto": self._merged_into,
            TOPIC + "Entity.Absorbed": lambda *_: None,
            TOPIC + "Case.Opened": self._case_opened,
            TOPIC + "Case.StatusChanged": self._status_changed,
            TOPIC + "Incident.Recorded": self._incident_recorded,
            TOPIC + "Incident.Amended": self._incident_amended,
            TOPIC + "Incident.Retracted": self._incident_retracted,
            # the ledger's evidence (keys, the signature policy) is read from the log itself
            TOPIC + "Key.Added": lambda *_: None,
            TOPIC + "Key.Revoked": lambda *_: None,
            TOPIC + "Policy.Adopted": lambda *_: None,
        }

    def t(self, name: str) -> str:
        return table_name(self.generation, name)

    def apply(self, conn: Any, event: Stored | tuple[Any, ...]) -> None:
        """Apply one stored event on a DB-API connection. New rows are buffered: call `flush`
        before the transaction ends."""
        position, stream, topic, state = event
        handler = self.handlers.get(topic)
        if handler is None:
            from ledger.errors import Unprojectable

            raise Unprojectable(position, topic, LookupError(
                "no projection knows this type of event: a newer version of the ledger wrote it, or it was "
                "inserted by hand"))
        try:
            handler(conn, position, stream, state if isinstance(state, dict) else orjson.loads(state))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            # its link in the chain held (catch-up and replay check it first), so it was stored as it
            # is: an event no write of the ledger makes, inserted by hand
            from ledger.errors import Unprojectable

            raise Unprojectable(position, topic, error) from None

    def flush(self, conn: Any) -> None:
        """Write the buffered rows, one bulk insert per table (PostgreSQL: one COPY); a handler
        that reads or updates rows flushes first, so it always sees every earlier event."""
        cursor = None
        for name, rows in self.pending.items():
            if rows:
                cursor = cursor or conn.cursor()
                insert_rows(cursor, self.dialect, self.t(name), COLUMNS[name], rows)
                rows.clear()
        if cursor is not None:
            cursor.close()

    def _execute(self, conn: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement (`:name` parameters) once every earlier event is written."""
        self._written(conn)
        return fetch(conn, self.dialect, sql, params)

    def _execute_many(self, conn: Any, sql: str, params: list[dict[str, Any]]) -> None:
        self._written(conn)
        execute_many(conn, self.dialect, sql, params)

    def _written(self, conn: Any) -> None:
        self.flush(conn)
        if self.before_lookup is not None:
            self.before_lookup()
            self.before_lookup = None

    # ------------------------------------------------------------------ sources, entities, cases

    def _source_added(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        d, ref = e["data"], e["source_id"]
        self._stream(stream, "source", ref)
        self.pending["sources"].append((ref, d["publisher"], d["title"], d.get("url"), d.get("published"),
                                        d.get("reliability"), d.get("credibility"), position))

    def _entity_added(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        d, ref = e["data"], e["entity_id"]
        self._stream(stream, "entity", ref)
        self.pending["entities"].append((ref, d["kind"], d["name"], d.get("country"), _dumps(d.get("aliases") or []),
                                         _dumps(d.get("identifiers") or {}), position))

    def _alias_added(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref = self._ref(conn, stream)
        (aliases,), = self._execute(conn, f"SELECT aliases FROM {self.t('entities')} WHERE id = :id", {"id": ref})
        self._execute(conn, f"UPDATE {self.t('entities')} SET aliases = :aliases WHERE id = :id",
                      {"aliases": _dumps([*orjson.loads(aliases), e["alias"]]), "id": ref})

    def _merged_into(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        self._execute(conn, f"UPDATE {self.t('entities')} SET merged_into = :survivor, merge_reason = :reason "
                      "WHERE id = :id", {"survivor": e["survivor"], "reason": e["reason"],
                                         "id": self._ref(conn, stream)})

    def _case_opened(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        d, ref = e["data"], e["case_id"]
        self._stream(stream, "case", ref)
        self.pending["cases"].append((ref, d["title"], "open", d.get("jurisdiction"), d.get("regime"),
                                      d.get("summary"), _when(e), e["actor"], position))

    def _status_changed(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref = self._ref(conn, stream)
        self._execute(conn, f"UPDATE {self.t('cases')} SET status = :status WHERE id = :id",
                      {"status": e["status"], "id": ref})
        self.pending["case_status"].append((ref, position, e["status"], e["previous"], e["reason"], _when(e),
                                            e["actor"]))

    # ------------------------------------------------------------------ incidents

    def _incident_recorded(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        kind, fields = e["kind"], e["fields"]
        self.pending["incidents"].append((incident_id(stream), e["case"], kind, e["key"], "active", _when(e),
                                          e["actor"], position, *incident_row(kind, fields)))
        self._write_roles(position, kind, fields)
        self._write_sources(position, fields)

    def _incident_amended(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        incident = incident_id(stream)
        (recorded, kind, *current), = self._execute(
            conn, f"SELECT position, kind, {', '.join(FIELD_COLUMNS)} FROM {self.t('incidents')} WHERE id = :id",
            {"id": incident})
        before = stored_fields(dict(zip(FIELD_COLUMNS, current)))
        fields = {**before, **e["changes"]}
        old = {name: _plain_number(before.get(name)) for name in e["changes"]}
        self._correction(position, incident, kind, "amended", e, old)
        assignments = ", ".join(f"{c} = :v{i}" for i, c in enumerate(FIELD_COLUMNS))
        values = {f"v{i}": value for i, value in enumerate(incident_row(kind, fields))}
        self._execute(conn, f"UPDATE {self.t('incidents')} SET status = 'amended', {assignments} "
                      "WHERE position = :position", {**values, "position": recorded})
        if set(e["changes"]) & set(_ROLES[kind]):
            gone = [dict(zip(COLUMNS["incident_roles"], row)) for row in _role_rows(recorded, kind, before)]
            self._execute_many(conn, f"DELETE FROM {self.t('incident_roles')} WHERE entity_id = :entity_id "
                               "AND incident = :incident AND role = :role", gone)
            self._write_roles(recorded, kind, fields)
        if "sources" in e["changes"]:
            self._execute(conn, f"DELETE FROM {self.t('incident_sources')} WHERE incident = :incident",
                          {"incident": recorded})
            self._write_sources(recorded, fields)

    def _incident_retracted(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        incident = incident_id(stream)
        (kind,), = self._execute(conn, f"SELECT kind FROM {self.t('incidents')} WHERE id = :id", {"id": incident})
        self._execute(conn, f"UPDATE {self.t('incidents')} SET status = 'retracted' WHERE id = :id", {"id": incident})
        self._correction(position, incident, kind, "retracted", e, {})

    def _correction(self, position: int, incident: str, kind: str, type_: str, e: dict[str, Any],
                    old: dict[str, Any]) -> None:
        self.pending["corrections"].append((position, incident, kind, type_, _dumps(e.get("changes") or {}),
                                            _dumps(old), e["reason"], _dumps(e.get("sources") or []),
                                            e.get("actor"), _when(e)))

    def _write_roles(self, incident: int, kind: str, fields: dict[str, Any]) -> None:
        self.pending["incident_roles"].extend(_role_rows(incident, kind, fields))

    def _write_sources(self, incident: int, fields: dict[str, Any]) -> None:
        self.pending["incident_sources"].extend((source, incident) for source in dict.fromkeys(fields["sources"]))

    # ------------------------------------------------------------------ stream lookups

    def _stream(self, stream: str, kind: str, ref: str) -> None:
        self.pending["streams"].append((stream, kind, ref))
        self.refs[stream] = ref

    def _ref(self, conn: Any, stream: str) -> str:
        """The user id (case, entity or source id) of a stream."""
        ref = self.refs.get(stream)
        if ref is None:
            (ref,), = self._execute(conn, f"SELECT ref FROM {self.t('streams')} WHERE stream = :stream",
                                    {"stream": stream})
            self.refs[stream] = ref
        return ref


def _plain_number(value: Any) -> Any:
    """A value read back from a FLOAT column as it was given (70000, not 70000.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _role_rows(incident: int, kind: str, fields: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(ref, incident, role) for role in _ROLES[kind] for ref in dict.fromkeys(fields.get(role) or ())]


_RANK = {precision: rank for rank, precision in enumerate(PRECISIONS)}
_ROLES = {name: tuple(role.name for role in kind.roles) for name, kind in KINDS.items()}
_start = lru_cache(maxsize=4096)(range_start)  # the same dates come again and again


def incident_row(kind: str, fields: dict[str, Any]) -> tuple[Any, ...]:
    """The values of an incident's FIELD_COLUMNS, from its stored fields."""
    get = fields.get
    on, precision = fields["on"], fields["precision"]
    roles = {}
    for role in _ROLES[kind]:
        refs = get(role)
        if refs:
            roles[role] = refs
    return (on, precision, _start(on, precision), _RANK[precision], get("place"), get("country"), get("note"),
            *map(get, DETAILS), _dumps(get("sources") or []), _dumps(roles))


def stored_fields(row: dict[str, Any]) -> dict[str, Any]:
    """An incident row back to the stored field form (roles flat, under their role name)."""
    fields = {"on": row["on_date"], "precision": row["precision"], "place": row["place"], "country": row["country"],
              "note": row["note"], **{name: row[name] for name in DETAILS}, "sources": orjson.loads(row["sources"])}
    fields.update(orjson.loads(row["roles"]))
    return fields
