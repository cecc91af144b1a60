"""What a case report says, gathered once for every output format.

Everything in it comes from the ledger at one position: the read models at that position (live,
or built for --as-of), with the corrections the projector keeps, and the chain's hash there,
given only once every link of the chain up to that position has been checked (a report of a log
that does not verify is refused).
Nothing depends on the clock at rendering time, so the same position gives the same report.
"""

from __future__ import annotations

import json
from typing import Any

from ledger.domain.kinds import EVENT_CODES
from ledger.domain.values import range_start
from projections.queries import Db, case_show


def corrections(db: Db, incidents: list[str]) -> list[dict[str, Any]]:
    """Every amendment and retraction of these incidents, with the values it replaced, from the
    read models (the projector keeps them as it applies each correction)."""
    rows = db.rows(f"SELECT * FROM {db.t('corrections')} WHERE incident IN (:ids) ORDER BY position", ids=incidents)
    return [{"position": r["position"], "incident": r["incident"], "kind": r["kind"], "type": r["type"],
             "changes": json.loads(r["changes"]), "old": json.loads(r["old"]), "reason": r["reason"],
             "sources": json.loads(r["sources"]), "recorded_by": r["actor"], "recorded_at": r["recorded_at"]}
            for r in rows]


def report_data(db: Db, position: int, case_id: str, head: str, receipt: dict[str, Any] | None,
                fmt: str) -> dict[str, Any]:
    """`head`: the chain's head at `position`, verified (`projections.integrity.latest_receipt`
    gives it, with the latest receipt the log still passes through)."""
    case = case_show(db, case_id)
    opened = db.one(f"SELECT recorded_at, recorded_by FROM {db.t('cases')} WHERE id = :id", id=case_id)
    statuses = db.rows(f"SELECT * FROM {db.t('case_status')} WHERE case_id = :id ORDER BY position", id=case_id)
    cited = {s for inc in case["incidents"] for s in inc["sources"]}
    fixes = corrections(db, [inc["id"] for inc in case["incidents"]])
    cited |= {s for c in fixes for s in c["sources"]}
    sources = {r["id"]: r for r in db.rows(f"SELECT * FROM {db.t('sources')} WHERE id IN (:ids)", ids=sorted(cited))}
    for source in sources.values():
        source["grading"] = f"{source['reliability'] or '?'}{source['credibility'] or '?'}"
    for inc in case["incidents"]:
        inc["codes"] = EVENT_CODES[inc["kind"]]
        inc["start"] = range_start(inc["on"], inc["precision"])
    return {
        "case": case, "opened": opened, "statuses": statuses, "sources": sources,
        "corrections": fixes, "position": position, "head": head, "receipt": receipt,
        "command": f"ledger report {case_id} --format {fmt} --as-of {position}",
    }
