"""Export of the ledger as JSON Lines that `ledger import` accepts.

The lines replay the log: every add, status change, alias, merge, recording and correction, in
position order, each with the key its event was stored with. Imported into an empty ledger they
give the same answers to every read; imported back into the same ledger they record nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from ledger import inputs as m
from ledger.aggregates import Case, Entity, Incident, Source
from ledger.codes import EVENT_CODES
from ledger.errors import NotFound


def export_ops(app: Any, case_id: str | None = None) -> Iterator[dict[str, Any]]:
    keep = _case_scope(app, case_id) if case_id is not None else None
    refs: dict[str, str] = {}
    for row, event in app.log():
        stream = row.originator_id
        if keep is not None and stream not in keep:
            continue
        for op in _ops(event, stream, refs):
            yield op


def _ops(event: Any, stream: str, refs: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(event, (Source.Added, Entity.Added, Case.Opened)):
        refs[stream] = event.data["id"]
        op = {Source.Added: "source.add", Entity.Added: "entity.add", Case.Opened: "case.open"}[type(event)]
        return [{"op": op, **_compact(event.data)}]
    if isinstance(event, Entity.AliasAdded):
        return [{"op": "entity.alias", "id": refs[stream], "alias": event.alias, "key": event.op_key}]
    if isinstance(event, Entity.MergedInto):
        return [{"op": "entity.merge", "duplicate": refs[stream], "survivor": event.survivor,
                 "reason": event.reason, "key": event.op_key}]
    if isinstance(event, Case.StatusChanged):
        return [{"op": "case.status", "id": refs[stream], "status": event.status, "reason": event.reason,
                 "key": event.op_key}]
    if isinstance(event, Incident.Recorded):
        model = m.record_from_fields(event.kind, event.case, event.fields)
        line = {"op": model.op, "id": str(UUID(stream)), **({"key": event.key} if event.key else {}),
                **_compact(model.data()), **_codes(event.kind)}
        return [line]
    if isinstance(event, Incident.Amended):
        changes = {k: v for k, v in event.changes.items() if k != "precision"}
        return [_compact({"op": "amend", "incident": str(UUID(stream)), "reason": event.reason, "set": changes,
                          "sources": event.sources, "key": event.op_key}, keep=("set",))]
    if isinstance(event, Incident.Retracted):
        return [_compact({"op": "retract", "incident": str(UUID(stream)), "reason": event.reason,
                          "sources": event.sources, "key": event.op_key})]
    return []  # Entity.Absorbed: the merge line carries it


def _codes(kind: str) -> dict[str, str]:
    return {k: v for k, v in EVENT_CODES[kind].items() if v is not None}


def _compact(data: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in keep or v not in (None, [], {})}


def _case_scope(app: Any, case_id: str) -> set[str]:
    """The streams an export of one case needs: the case, its incidents, and every source and
    entity they name (with the entities those were merged with), so that it imports on its own."""
    from ledger.values import derived_id, is_country_ref

    case_stream = derived_id("case", case_id).hex
    incidents: dict[str, str] = {}  # stream -> kind
    sources: set[str] = set()
    entities: set[str] = set()
    merges: list[tuple[str, str]] = []
    refs: dict[str, str] = {}
    found = False
    for row, event in app.log():
        if row.originator_id == case_stream:
            found = True
        if isinstance(event, Entity.Added):
            refs[row.originator_id] = event.entity_id
        if isinstance(event, Entity.MergedInto):
            merges.append((refs[row.originator_id], event.survivor))
        if isinstance(event, Incident.Recorded) and event.case == case_id:
            incidents[row.originator_id] = event.kind
        if row.originator_id in incidents:
            fields = getattr(event, "fields", None) or getattr(event, "changes", {})
            sources.update(fields.get("sources") or [])
            sources.update(getattr(event, "sources", None) or [])
            for role in m.RECORDS[incidents[row.originator_id]].roles:
                entities.update(r for r in fields.get(role) or [] if not is_country_ref(r))
    if not found:
        raise NotFound(f"no case {case_id}")
    changed = True
    while changed:  # a merged entity brings its partner, so that the merge line imports
        changed = False
        for duplicate, survivor in merges:
            if (duplicate in entities) != (survivor in entities):
                entities.update((duplicate, survivor))
                changed = True
    return ({case_stream} | set(incidents) | {derived_id("source", s).hex for s in sources}
            | {derived_id("entity", e).hex for e in entities})

