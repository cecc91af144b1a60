"""The CSV export, for spreadsheets: one row per incident, from the read models."""

from __future__ import annotations

from typing import Any

from ledger.domain.kinds import DETAILS, EVENT_CODES, ROLES
from projections.queries import Db, timeline

ROLE_COLUMNS = list(ROLES)
# The columns as the CSV was first published, in their places: spreadsheets and scripts read a CSV
# by position, so they never move. The columns of what a kind declared since (an arrest's charge, a
# designation's regime and entry) are appended after them, in the order they were declared.
PUBLISHED = ["id", "key", "case", "kind", "on", "precision", "status", "place", "country", "note", "value", "currency",
             "reason", "authority", "target", "item", "holder", "subject", "envoy", "sending_state", "post", "person",
             "expelling_state", "sources", "cameo", "plover", "plover_mode", "recorded_at", "recorded_by"]
# `disputed`: the fields sources still contest (no claim accepted), `;`-joined (contested claims)
CSV_COLUMNS = PUBLISHED + [c for c in (*DETAILS, *ROLE_COLUMNS) if c not in PUBLISHED] + ["disputed"]


def chunks(db: Db, case: str | None = None) -> list[str]:
    """The whole CSV document, every cell made safe for spreadsheets (`ledger.escaping`)."""
    from ledger.escaping import delimited

    return [delimited(csv_rows(db, case), CSV_COLUMNS, "csv")]


def csv_rows(db: Db, case: str | None = None) -> list[dict[str, Any]]:
    """One row per incident (retracted ones too, with their status), roles flattened to columns."""
    return [flat_incident(inc) for inc in timeline(db, case=case, include_retracted=True)]


def flat_incident(inc: dict[str, Any]) -> dict[str, Any]:
    """An INCIDENT as one CSV row: roles flattened to columns, lists joined by `;`, event codes.
    Cells are made safe for spreadsheets where the document is written (ledger.escaping)."""
    row = {c: inc.get(c) for c in CSV_COLUMNS}
    for role in ROLE_COLUMNS:
        row[role] = ";".join(inc["roles"].get(role, []))
    row["sources"] = ";".join(inc["sources"])
    row["disputed"] = ";".join(inc["disputed"])
    row.update(EVENT_CODES[inc["kind"]])
    return row
