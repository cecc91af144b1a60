"""History: the stored events themselves, read from the event store (never the read models)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.aggregates import stream_kind
from ledger.errors import NotFound
from ledger.values import as_incident_id, derived_id, incident_id_for_key

HIDDEN = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
REF_FIELDS = {"case": "case_id", "entity": "entity_id", "source": "source_id"}


def history(app: Any, ident: str | None = None) -> list[dict[str, Any]]:
    labels: dict[str, str] = {}
    streams: list[str] | None = None
    if ident is not None:
        for kind in ("case", "entity", "source"):
            labels[derived_id(kind, ident).hex] = f"{kind}:{ident}"
        incident = UUID(as_incident_id(ident) or incident_id_for_key(ident))
        labels[incident.hex] = f"incident:{incident}"
        streams = list(labels)
    rows = []
    for row, event in app.log(streams=streams):
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
            "hash": row.hash,
            "data": {k: v for k, v in event.__dict__.items() if k not in HIDDEN},
        })
    if ident is not None and not rows:
        raise NotFound(f"nothing recorded under {ident}")
    return rows
