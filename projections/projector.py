"""Applies stored events to one generation of read-model tables.

The projector is a pure function of the log: the same events in the same order give the same
tables, which is what lets `replay` rebuild them and the property tests compare the two ways.
"""

from __future__ import annotations

import json

import orjson
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from ledger.aggregates import Case, Entity, Incident, Source
from ledger.inputs import RECORDS
from ledger.values import range_start, PRECISIONS


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _when(event: Any) -> str:
    return event.timestamp.isoformat()


class Projector:
    def __init__(self, tables: Any):
        self.t = tables
        self.refs: dict[Any, str] = {}
        self.pending: dict[Any, list[dict[str, Any]]] = {}
        self.compiled: dict[tuple[str, str], tuple[str, list[str]]] = {}
        self.handlers: dict[type, Callable[[Connection, Any, int], None]] = {
            Source.Added: self._source_added,
            Entity.Added: self._entity_added,
            Entity.AliasAdded: self._alias_added,
            Entity.MergedInto: self._merged_into,
            Entity.Absorbed: lambda *_: None,
            Case.Opened: self._case_opened,
            Case.StatusChanged: self._status_changed,
            Incident.Recorded: self._incident_recorded,
            Incident.Amended: self._incident_amended,
            Incident.Retracted: self._incident_retracted,
        }

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Apply one event. New rows are buffered: call `flush` before the transaction ends."""
        handler = self.handlers.get(type(event))
        if handler is None:
            raise LookupError(f"no projection for event {type(event).__qualname__} at position {position}")
        handler(conn, event, position)

    def _insert(self, table: Any, **row: Any) -> None:
        self.pending.setdefault(table, []).append(row)

    def flush(self, conn: Connection) -> None:
        """Write the buffered rows, one executemany per table (a handler that reads or updates
        rows flushes first, so it always sees every earlier event). The INSERT is compiled once
        per table and the rows go straight to the driver."""
        for table, rows in self.pending.items():
            if rows:
                sql, columns = self._insert_sql(conn, table)
                conn.exec_driver_sql(sql, [tuple(row.get(c) for c in columns) for row in rows])
        self.pending = {}

    def _insert_sql(self, conn: Connection, table: Any) -> tuple[str, list[str]]:
        key = (conn.dialect.name, table.name)
        if key not in self.compiled:
            columns = [c.name for c in table.columns]
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            quote = conn.dialect.identifier_preparer.quote
            self.compiled[key] = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                                  f"VALUES ({', '.join([mark] * len(columns))})", columns)
        return self.compiled[key]

    # ------------------------------------------------------------------ sources, entities, cases

    def _source_added(self, conn: Connection, e: Source.Added, position: int) -> None:
        d = e.data
        self._stream(conn, e, "source", e.source_id)
        self._insert(
            self.t.sources, id=e.source_id, publisher=d["publisher"], title=d["title"], url=d.get("url"),
            published=d.get("published"), reliability=d.get("reliability"),
            credibility=d.get("credibility"), position=position)

    def _entity_added(self, conn: Connection, e: Entity.Added, position: int) -> None:
        d = e.data
        self._stream(conn, e, "entity", e.entity_id)
        self._insert(
            self.t.entities, id=e.entity_id, kind=d["kind"], name=d["name"], country=d.get("country"),
            aliases=_dumps(d.get("aliases") or []), identifiers=_dumps(d.get("identifiers") or {}),
            position=position)

    def _alias_added(self, conn: Connection, e: Entity.AliasAdded, position: int) -> None:
        self.flush(conn)
        ent = self.t.entities
        entity_id = self._ref(conn, e)
        aliases = json.loads(conn.execute(select(ent.c.aliases).where(ent.c.id == entity_id)).scalar_one())
        conn.execute(update(ent).where(ent.c.id == entity_id).values(aliases=_dumps([*aliases, e.alias])))

    def _merged_into(self, conn: Connection, e: Entity.MergedInto, position: int) -> None:
        self.flush(conn)
        ent = self.t.entities
        conn.execute(update(ent).where(ent.c.id == self._ref(conn, e))
                     .values(merged_into=e.survivor, merge_reason=e.reason))

    def _case_opened(self, conn: Connection, e: Case.Opened, position: int) -> None:
        d = e.data
        self._stream(conn, e, "case", e.case_id)
        self._insert(
            self.t.cases, id=e.case_id, title=d["title"], status="open", jurisdiction=d.get("jurisdiction"),
            regime=d.get("regime"), summary=d.get("summary"), recorded_at=_when(e),
            recorded_by=e.actor, position=position)

    def _status_changed(self, conn: Connection, e: Case.StatusChanged, position: int) -> None:
        self.flush(conn)
        cases = self.t.cases
        case_id = self._ref(conn, e)
        conn.execute(update(cases).where(cases.c.id == case_id).values(status=e.status))
        self._insert(
            self.t.case_status, case_id=case_id, position=position, status=e.status, previous=e.previous,
            reason=e.reason, recorded_at=_when(e), recorded_by=e.actor)

    # ------------------------------------------------------------------ incidents

    def _incident_recorded(self, conn: Connection, e: Incident.Recorded, position: int) -> None:
        incident_id = str(e.originator_id)
        row = incident_row(e.kind, e.fields)
        self._insert(
            self.t.incidents, id=incident_id, case_id=e.case, kind=e.kind, key=e.key, status="active",
            recorded_at=_when(e), recorded_by=e.actor, position=position, **row)
        self._write_roles(conn, incident_id, e.case, e.kind, e.fields)

    def _incident_amended(self, conn: Connection, e: Incident.Amended, position: int) -> None:
        self.flush(conn)
        inc = self.t.incidents
        incident_id = str(e.originator_id)
        current = conn.execute(select(inc).where(inc.c.id == incident_id)).one()
        fields = {**stored_fields(current), **e.changes}
        row = incident_row(current.kind, fields)
        conn.execute(update(inc).where(inc.c.id == incident_id).values(status="amended", **row))
        if set(e.changes) & set(RECORDS[current.kind].roles):
            conn.execute(delete(self.t.roles).where(self.t.roles.c.incident_id == incident_id))
            self._write_roles(conn, incident_id, current.case_id, current.kind, fields)

    def _incident_retracted(self, conn: Connection, e: Incident.Retracted, position: int) -> None:
        self.flush(conn)
        inc = self.t.incidents
        conn.execute(update(inc).where(inc.c.id == str(e.originator_id)).values(status="retracted"))

    def _write_roles(self, conn: Connection, incident_id: str, case_id: str, kind: str, fields: dict) -> None:
        rows = [{"incident_id": incident_id, "role": role, "entity_id": ref, "case_id": case_id}
                for role in RECORDS[kind].roles for ref in dict.fromkeys(fields.get(role) or [])]
        self.pending.setdefault(self.t.roles, []).extend(rows)

    # ------------------------------------------------------------------ stream lookups

    def _stream(self, conn: Connection, e: Any, kind: str, ref: str) -> None:
        self._insert(self.t.streams, stream=e.originator_id.hex, kind=kind, ref=ref)
        self.refs[e.originator_id] = ref

    def _ref(self, conn: Connection, e: Any) -> str:
        """The user id (case, entity or source id) of the stream that `e` belongs to."""
        ref = self.refs.get(e.originator_id)
        if ref is None:
            streams = self.t.streams
            ref = conn.execute(select(streams.c.ref).where(streams.c.stream == e.originator_id.hex)).scalar_one()
            self.refs[e.originator_id] = ref
        return ref


def incident_row(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    roles = {role: list(fields.get(role) or []) for role in RECORDS[kind].roles if fields.get(role)}
    return {
        "on_date": fields["on"], "precision": fields["precision"],
        "on_start": range_start(fields["on"], fields["precision"]),
        "precision_rank": PRECISIONS.index(fields["precision"]),
        "place": fields.get("place"), "country": fields.get("country"), "note": fields.get("note"),
        "value": fields.get("value"), "currency": fields.get("currency"), "reason": fields.get("reason"),
        "sources": _dumps(fields.get("sources") or []), "roles": _dumps(roles),
    }


def stored_fields(row: Any) -> dict[str, Any]:
    """An incident row back to the stored field form (roles flat, under their role name)."""
    fields = {"on": row.on_date, "precision": row.precision, "place": row.place, "country": row.country,
              "note": row.note, "value": row.value, "currency": row.currency, "reason": row.reason,
              "sources": json.loads(row.sources)}
    fields.update(json.loads(row.roles))
    return fields
