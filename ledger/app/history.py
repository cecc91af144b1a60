"""History: the stored events themselves, read from the event store (never the read models)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.domain.aggregates import stream_kind
from ledger.domain.chain import GENESIS, link
from ledger.domain.values import as_incident_id, derived_id, incident_id_for_key
from ledger.errors import NotFound

HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
REF_FIELDS = {"case": "case_id", "entity": "entity_id", "source": "source_id", "key": "key_id", "policy": "policy"}


def history(app: Any, ident: str | None = None, upto: int | None = None) -> list[dict[str, Any]]:
    """The stored events (of one case, entity, source, key or incident), up to `upto` when given."""
    labels: dict[str, str] = {}
    streams: list[str] | None = None
    if ident is not None:
        for kind in ("case", "entity", "source", "key", "policy"):
            labels[derived_id(kind, ident).hex] = f"{kind}:{ident}"
        incident = UUID(as_incident_id(ident) or incident_id_for_key(ident))
        labels[incident.hex] = f"incident:{incident}"
        streams = list(labels)
    rows = []
    fields: dict[str, dict[str, Any]] = {}  # each incident's fields as they stood, to diff amendments
    previous = GENESIS  # the stored hash before each row: the whole log's rows follow each other
    for row, event in app.log(streams=streams, upto=upto):
        if streams is not None:  # one stream's rows: the hash stored just before each, one lookup
            previous = app.recorder.hash_at(row.position - 1)
        kind = stream_kind(row.topic)
        if row.originator_id not in labels:
            ref = getattr(event, REF_FIELDS.get(kind, ""), None) or str(UUID(row.originator_id))
            labels[row.originator_id] = f"{kind}:{ref}"
        rows.append({
            "position": row.position,
            "stream": labels[row.originator_id],
            "version": row.originator_version,
            "type": row.topic.split(":", 1)[-1],
            "recorded_at": event.timestamp.isoformat(),
            "recorded_by": getattr(event, "actor", None),
            # the key id of a signed write (verify checks its signature); db_role: PostgreSQL's
            # role that inserted the row, set by the database
            "signer": row.signer or "unsigned",
            "db_role": row.db_role,
            "hash": row.hash,
            "data": {k: v for k, v in event.__dict__.items() if k not in HIDDEN},
            # its link in the chain holds: its stored bytes and the hash before it give its hash
            "verified": link(previous, row.originator_id, row.originator_version, row.topic, row.state) == row.hash,
        })
        previous = row.hash
        if kind == "incident":
            _diff(rows[-1], event, fields.setdefault(row.originator_id, {}))
        elif kind == "source":  # a source's amendments diff the same way, from the data it was added with
            if isinstance(getattr(event, "data", None), dict):
                fields[row.originator_id] = dict(event.data)
            _diff(rows[-1], event, fields.setdefault(row.originator_id, {}))
    if ident is not None and not rows:
        raise NotFound(f"nothing recorded under {ident}")
    claimed = [r for r in rows if r["signer"] != "unsigned"]
    for r in rows:
        r["signed"] = False  # a signature that holds covers it, by the key registered for its actor
    if claimed:  # a signer column is a claim until its write's signature is checked, by the audit verify runs
        from ledger.app.evidence import audit

        checked = audit(app.recorder.chain_rows())
        for r in claimed:
            r["signed"] = checked.signer_at(r["position"]) == r["signer"]
    return rows


# the events that set a record's fields: its recording, an amendment, an accepted claim's value
_CHANGING = frozenset({"Recorded", "Added", "Amended", "ClaimAccepted"})


def _diff(out: dict[str, Any], event: Any, current: dict[str, Any]) -> None:
    """Fold the incident's fields; an amendment's row gets `changes`: FIELD -> {old, new}."""
    fields, changes = getattr(event, "fields", None), getattr(event, "changes", None)
    if type(event).__name__ not in _CHANGING:  # a claim's changes are what a source says, not the incident's
        return
    if isinstance(fields, dict):
        current.update(fields)
    elif isinstance(changes, dict):  # (anything else was stored by hand: shown as it is, in `data`)
        out["changes"] = {f: {"old": current.get(f), "new": new} for f, new in changes.items()}
        current.update(changes)
