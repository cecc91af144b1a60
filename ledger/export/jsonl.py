"""Export of the ledger as JSON Lines that `ledger import` accepts.

The lines replay the log: every add, status change, alias, merge, recording and correction, in
position order, each with the key its event was stored with. Imported into an empty ledger they
give the same answers to every read; imported back into the same ledger they record nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from ledger.app import inputs as m
from ledger.domain.aggregates import Case, Entity, Incident, Source
from ledger.domain.kinds import EVENT_CODES
from ledger.errors import NotFound


def export_ops(app: Any, case_id: str | None = None, upto: int | None = None,
               head: str | None = None) -> Iterator[dict[str, Any]]:
    """The log up to `upto` as import lines. With `head` (the audited head at `upto`), the rows
    read here are chained again as they go and must end at that head: what is written is what was
    audited, even if the database showed this read other rows than the audit's."""
    keep = _case_scope(app, case_id, upto) if case_id is not None else None
    refs: dict[str, str] = {}
    for row, event in _checked(app.log(upto=upto), head):
        stream = row.originator_id
        if keep is not None and stream not in keep:
            continue
        yield from _ops(event, stream, refs)


def _checked(log: Iterator[tuple[Any, Any]], head: str | None) -> Iterator[tuple[Any, Any]]:
    from ledger.domain.chain import GENESIS, link
    from ledger.errors import LogChanged

    previous = GENESIS
    for row, event in log:
        previous = link(previous, row.originator_id, row.originator_version, row.topic, row.state)
        if head is not None and previous != row.hash:
            raise LogChanged(f"the event at position {row.position} does not match the hash chain the export "
                             "was audited with; run ledger verify")
        yield row, event
    if head is not None and previous != head:
        raise LogChanged("the log read for the export does not end at the head it was audited with; run ledger verify")


def _ops(event: Any, stream: str, refs: dict[str, str]) -> list[dict[str, Any]]:
    if isinstance(event, (Source.Added, Entity.Added, Case.Opened)):
        refs[stream] = event.data["id"]
        op = {Source.Added: "source.add", Entity.Added: "entity.add", Case.Opened: "case.open"}[type(event)]
        return [{"op": op, **_compact({**event.data, "sources": getattr(event, "sources", None)})}]
    if isinstance(event, (Incident.Claimed, Case.Claimed)):
        changes = {k: v for k, v in event.changes.items() if k != "precision"}
        return [_compact({"op": "claim", "target": _target(event, stream, refs), "source": event.source,
                          "set": changes, "quote": event.quote, "key": event.op_key}, keep=("set",))]
    if isinstance(event, (Incident.ClaimAccepted, Case.ClaimAccepted, Incident.ClaimRefuted, Case.ClaimRefuted)):
        op = "accept" if isinstance(event, (Incident.ClaimAccepted, Case.ClaimAccepted)) else "refute"
        return [{"op": op, "target": _target(event, stream, refs), "field": event.field, "source": event.source,
                 "reason": event.reason, "key": event.op_key}]
    if isinstance(event, Source.Amended):
        return [{"op": "source.amend", "id": refs[stream], "reason": event.reason, "set": event.changes,
                 "key": event.op_key}]
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


def _target(event: Any, stream: str, refs: dict[str, str]) -> str:
    """A claim's TARGET as import takes it: the incident's id, or `case:ID`."""
    if isinstance(event, (Case.Claimed, Case.ClaimAccepted, Case.ClaimRefuted)):
        return "case:" + refs[stream]
    return str(UUID(stream))


def _codes(kind: str) -> dict[str, str]:
    return {k: v for k, v in EVENT_CODES[kind].items() if v is not None}


def _compact(data: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in keep or v not in (None, [], {})}


def _case_scope(app: Any, case_id: str, upto: int | None = None) -> set[str]:
    """The streams an export of one case needs: the case, its incidents, and every source and
    entity they name (with the entities those were merged with), so that it imports on its own."""
    from ledger.domain.values import derived_id, is_country_ref

    case_stream = derived_id("case", case_id).hex
    incidents: dict[str, str] = {}  # stream -> kind
    sources: set[str] = set()
    entities: set[str] = set()
    merges: list[tuple[str, str]] = []
    refs: dict[str, str] = {}
    found = False
    for row, event in app.log(upto=upto):
        if row.originator_id == case_stream:
            found = True
            sources.update(getattr(event, "sources", None) or [])  # the case's own (Case.Opened v2)
            sources.update([event.source] if getattr(event, "source", None) else [])  # a claim on the case
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
            sources.update([event.source] if getattr(event, "source", None) else [])  # a claim, an accept
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

