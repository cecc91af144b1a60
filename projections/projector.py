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
from typing import Any, NamedTuple

import orjson

from ledger.domain.kinds import DETAILS, KINDS
from ledger.domain.values import PRECISIONS, range_start
from ledger.domain.versions import UPCASTERS, upcast
from ledger.domain.vocabulary import TOPIC
from projections import terms
from projections.claiming import ClaimsProjection
from projections.database import SQLITE, execute_many, fetch, fts5_insert, fts5_replace, insert_rows
from projections.schema import FTS_TABLES, table_name


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
    "cases": ("id", "title", "status", "jurisdiction", "regime", "summary", "sources", "recorded_at", "recorded_by",
              "position"),
    "case_status": ("case_id", "position", "status", "previous", "reason", "recorded_at", "recorded_by"),
    "incidents": ("id", "case_id", "kind", "key", "status", "recorded_at", "recorded_by", "position",
                  "on_date", "precision", "on_start", "precision_rank", "place", "country", "note", *DETAILS,
                  "sources", "roles", "words"),
    "incident_roles": ("entity_id", "incident", "role"),
    "incident_sources": ("source_id", "incident"),
    "search_names": ("position", "type", "words", "sounds"),
    "source_amendments": ("position", "source_id", "changes", "old", "reason", "actor", "recorded_at"),
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


class Projector(ClaimsProjection):
    def __init__(self, generation: int, dialect: str = SQLITE, before_lookup: Callable[[], None] | None = None):
        self.generation, self.dialect = generation, dialect
        self.before_lookup = before_lookup  # a replay's fresh tables get their indexes then
        self.refs: dict[str, str] = {}
        self.pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        self.handlers: dict[str, Callable[[Any, int, str, dict[str, Any]], None]] = {
            TOPIC + "Source.Added": self._source_added,
            TOPIC + "Source.Amended": self._source_amended,
            TOPIC + "Entity.Added": self._entity_added,
            TOPIC + "Entity.AliasAdded": self._alias_added,
            TOPIC + "Entity.MergedInto": self._merged_into,
            TOPIC + "Entity.Absorbed": lambda *_: None,
            TOPIC + "Case.Opened": self._case_opened,
            TOPIC + "Case.StatusChanged": self._status_changed,
            TOPIC + "Incident.Recorded": self._incident_recorded,
            TOPIC + "Incident.Amended": self._incident_amended,
            TOPIC + "Incident.Retracted": self._incident_retracted,
            TOPIC + "Incident.Claimed": self._incident_claimed,
            TOPIC + "Incident.ClaimAccepted": self._incident_claim_accepted,
            TOPIC + "Incident.ClaimRefuted": self._incident_claim_refuted,
            TOPIC + "Case.Claimed": self._case_claimed,
            TOPIC + "Case.ClaimAccepted": self._case_claim_accepted,
            TOPIC + "Case.ClaimRefuted": self._case_claim_refuted,
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
            e = state if isinstance(state, dict) else orjson.loads(state)
            if topic in _UPCAST:  # a stored event of an older shape, read as the newest (ledger.domain.versions)
                e = upcast(_UPCAST[topic], e)
            handler(conn, position, stream, e)
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
                if name in FTS_TABLES:
                    self._full_text(cursor, name, rows)
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
        self._index_source(conn, ref, d["title"], position)

    def _source_amended(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref, changes = self._ref(conn, stream), e["changes"]
        names = [name for name in COLUMNS["sources"][1:-1] if name in changes]  # the fields a source has
        if not names:
            raise ValueError("an amendment of a source that sets none of its fields")
        (*before,), = self._execute(conn, f"SELECT {', '.join(names)} FROM {self.t('sources')} WHERE id = :id",
                                    {"id": ref})
        old = dict(zip(names, before, strict=True))
        self._execute(conn, f"UPDATE {self.t('sources')} SET {', '.join(f'{n} = :{n}' for n in names)} "
                      "WHERE id = :id", {**{n: changes[n] for n in names}, "id": ref})
        self.pending["source_amendments"].append((position, ref, _dumps(changes), _dumps(old), e["reason"],
                                                  e.get("actor"), _when(e)))
        # a read model kept on a source's fields elsewhere (search: its title) hears of the change
        changed = getattr(self, "_source_changed", None)
        if changed is not None:
            changed(conn, ref, {n: changes[n] for n in names})

    def _entity_added(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        d, ref = e["data"], e["entity_id"]
        self._stream(stream, "entity", ref)
        self.pending["entities"].append((ref, d["kind"], d["name"], d.get("country"), _dumps(d.get("aliases") or []),
                                         _dumps(d.get("identifiers") or {}), position))
        self._index_entity(position, ref, d)

    def _alias_added(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref = self._ref(conn, stream)
        (aliases,), = self._execute(conn, f"SELECT aliases FROM {self.t('entities')} WHERE id = :id", {"id": ref})
        self._execute(conn, f"UPDATE {self.t('entities')} SET aliases = :aliases WHERE id = :id",
                      {"aliases": _dumps([*orjson.loads(aliases), e["alias"]]), "id": ref})
        self._index_alias(conn, ref, e["alias"])

    def _merged_into(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        self._execute(conn, f"UPDATE {self.t('entities')} SET merged_into = :survivor, merge_reason = :reason "
                      "WHERE id = :id", {"survivor": e["survivor"], "reason": e["reason"],
                                         "id": self._ref(conn, stream)})

    def _case_opened(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        d, ref = e["data"], e["case_id"]
        self._stream(stream, "case", ref)
        self.pending["cases"].append((ref, d["title"], "open", d.get("jurisdiction"), d.get("regime"),
                                      d.get("summary"), _dumps(e["sources"]), _when(e), e["actor"], position))
        self._index_case(position, ref, d["title"])

    def _status_changed(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref = self._ref(conn, stream)
        self._execute(conn, f"UPDATE {self.t('cases')} SET status = :status WHERE id = :id",
                      {"status": e["status"], "id": ref})
        self.pending["case_status"].append((ref, position, e["status"], e["previous"], e["reason"], _when(e),
                                            e["actor"]))

    # ------------------------------------------------------------------ incidents

    def _incident_recorded(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        kind, fields, pending = e["kind"], e["fields"], self.pending
        # (its role rows are written as incident_row walks its roles: one walk, not two)
        pending["incidents"].append((incident_id(stream), e["case"], kind, e["key"], "active", _when(e), e["actor"],
                                     position, *incident_row(kind, fields, position, pending["incident_roles"])))
        self._write_sources(position, fields)

    def _incident_amended(self, conn: Any, position: int, stream: str, e: dict[str, Any],
                          type_: str = "amended") -> None:
        """An amendment (or, `type_` accepted, an accepted claim that changes values: its changes)."""
        incident = incident_id(stream)
        (recorded, kind, claimed, *current), = self._execute(
            conn, f"SELECT position, kind, claims, {', '.join(FIELD_COLUMNS)} FROM {self.t('incidents')} "
            "WHERE id = :id", {"id": incident})
        before = stored_fields(dict(zip(FIELD_COLUMNS, current)))
        fields = {**before, **e["changes"]}
        old = {name: _plain_number(before.get(name)) for name in e["changes"]}
        self._correction(position, incident, kind, type_, e, old)
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
        if claimed and type_ == "amended":  # the analyst's correction of a claimed field
            self._claims_amended(conn, stream, e["changes"], e.get("sources") or [], position)

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
        sources = fields["sources"]
        if type(sources) is list and len(sources) == 1:  # most incidents rest on one source
            self.pending["incident_sources"].append((sources[0], incident))
        else:
            self.pending["incident_sources"] += [(source, incident) for source in dict.fromkeys(sources)]

    # ------------------------------------------------------------------ the search index (projections.terms)

    def _index_entity(self, position: int, ref: str, d: dict[str, Any]) -> None:
        names = (d["name"], *(d.get("aliases") or ()))
        self.pending["search_names"].append((position, "entity", terms.words_text((*names, ref)),
                                             terms.sounds_text(names)))

    def _index_alias(self, conn: Any, ref: str, alias: str) -> None:
        position = self._position(conn, "entities", ref)
        self._reindex(conn, "search_names", position, lambda words, sounds: (
            f"{words} {terms.words_text((alias,))}".strip(), f"{sounds} {terms.sounds_text((alias,))}".strip()))

    def _index_case(self, position: int, ref: str, title: str) -> None:
        self.pending["search_names"].append((position, "case", terms.words_text((title, ref)),
                                             terms.sounds_text((title,))))

    def _index_source(self, conn: Any, source_id: str, title: str, position: int | None = None) -> None:
        """A source's title in the search index: a new source's (`position`, that of the event that
        added it), or, without one, the new title of a source already there (`source amend`)."""
        words, sounds = terms.words_text((title, source_id)), terms.sounds_text((title,))
        if position is not None:
            self.pending["search_names"].append((position, "source", words, sounds))
        else:
            position = self._position(conn, "sources", source_id)
            self._reindex(conn, "search_names", position, lambda *_: (words, sounds))

    def _source_changed(self, conn: Any, source_id: str, changes: dict[str, Any]) -> None:
        """Called by `_source_amended` with the fields an amendment set."""
        if "title" in changes:
            self._index_source(conn, source_id, changes["title"])

    def _position(self, conn: Any, table: str, ref: str) -> int:
        """The position of the event that added an entity, case or source: its search index row's."""
        (position,), = self._execute(conn, f"SELECT position FROM {self.t(table)} WHERE id = :id", {"id": ref})
        return int(position)

    def _reindex(self, conn: Any, index: str, position: int, new: Callable[..., tuple[str, ...]]) -> None:
        """Replace the terms of one row of search_names (`index`), `new(*old terms)` making them
        from the old, in its SQLite full-text table too."""
        columns = _FULL_TEXT_COLUMNS[index]
        (*old,), = self._execute(conn, f"SELECT {', '.join(columns)} FROM {self.t(index)} "
                                 "WHERE position = :position", {"position": position})
        values = new(*old)
        if self.dialect == SQLITE:
            self._full_text_replace(conn, index, position, columns, tuple(old), values)
        assignments = ", ".join(f"{c} = :v{n}" for n, c in enumerate(columns))
        self._execute(conn, f"UPDATE {self.t(index)} SET {assignments} WHERE position = :position",
                      {"position": position, **{f"v{n}": v for n, v in enumerate(values)}})

    def _full_text_replace(self, conn: Any, index: str, position: int, columns: tuple[str, ...],
                           old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        """SQLite: one row's terms out of a full-text table, with the values it was given (the
        'delete' of an FTS5 table whose content is another table), and its new terms in. (The
        table is there: a lookup made the indexes first.)"""
        out, into = fts5_replace(self.t(FTS_TABLES[index]), columns)
        self._execute(conn, out, {"position": position, **{f"v{n}": v for n, v in enumerate(old)}})
        self._execute(conn, into, {"position": position, **{f"v{n}": v for n, v in enumerate(new)}})

    def _full_text(self, cursor: Any, index: str, rows: list[tuple[Any, ...]]) -> None:
        """New rows of search_names into SQLite's full-text table too, once it is there (a replay
        makes it at the end, from the whole table, or at its first lookup); PostgreSQL's GIN
        indexes keep themselves. (An incident's words are its row's: `incident_row`.)"""
        if self.dialect == SQLITE and self.before_lookup is None:
            columns, at = _FULL_TEXT_COLUMNS[index], _FULL_TEXT_AT[index]
            cursor.executemany(fts5_insert(self.t(FTS_TABLES[index]), columns),
                               [tuple(row[i] for i in at) for row in rows])

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


# the topics of events whose shape changed, to the name their upcasters are declared under
_UPCAST = {TOPIC + name: name for name in UPCASTERS}
# the columns of each table SQLite's full-text tables index, and where its position and they are in a row
_FULL_TEXT_COLUMNS = {"search_names": ("words", "sounds")}
_FULL_TEXT_AT = {name: tuple(COLUMNS[name].index(c) for c in ("position", *columns))
                 for name, columns in _FULL_TEXT_COLUMNS.items()}
# an incident's fields whose words the search index holds: its note, place and text details
_TEXT_FIELDS = ("note", "place", *(name for name, kind in DETAILS.items() if kind in ("text", "para")))


def incident_words(fields: dict[str, Any]) -> str:
    """The words of an incident's note, place and text details (a reason, a charge...), as the
    search index holds them (names of the entities in its roles are found through the entities)."""
    return terms.words_text([text for text in map(fields.get, _TEXT_FIELDS) if text])


def _plain_number(value: Any) -> Any:
    """A value read back from a FLOAT column as it was given (70000, not 70000.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _role_rows(incident: int, kind: str, fields: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(ref, incident, role) for role in _ROLES[kind] for ref in dict.fromkeys(fields.get(role) or ())]


_RANK = {precision: rank for rank, precision in enumerate(PRECISIONS)}
_ROLES = {name: tuple(role.name for role in kind.roles) for name, kind in KINDS.items()}


def incident_row(kind: str, fields: dict[str, Any], incident: int = 0,
                 role_rows: list[tuple[Any, ...]] | None = None) -> tuple[Any, ...]:
    """The values of an incident's FIELD_COLUMNS, from its stored fields; with `role_rows`, its
    rows of incident_roles (`_role_rows`, as `incident`) added to them on the way."""
    get = fields.get
    on, precision = fields["on"], fields["precision"]
    roles = {}
    for role in _ROLES[kind]:
        refs = get(role)
        if refs:
            roles[role] = refs
            if role_rows is not None:
                if type(refs) is list and len(refs) == 1:
                    role_rows.append((refs[0], incident, role))
                else:
                    role_rows += [(ref, incident, role) for ref in dict.fromkeys(refs)]
    return (on, precision, range_start(on, precision), _RANK[precision], get("place"), get("country"), get("note"),
            *map(get, DETAILS), _dumps(get("sources") or []), _dumps(roles), incident_words(fields))


def stored_fields(row: dict[str, Any]) -> dict[str, Any]:
    """An incident row back to the stored field form (roles flat, under their role name)."""
    fields = {"on": row["on_date"], "precision": row["precision"], "place": row["place"], "country": row["country"],
              "note": row["note"], **{name: row[name] for name in DETAILS}, "sources": orjson.loads(row["sources"])}
    fields.update(orjson.loads(row["roles"]))
    return fields
