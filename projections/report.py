"""What a case report says, gathered once for every output format.

Everything in it comes from the ledger at one position: the read models at that position (live,
or built for --as-of), the corrections from the event store up to it, and the chain's hash there,
given only once every link of the chain up to that position has been checked (a report of a log
that does not verify is refused).
Nothing depends on the clock at rendering time, so the same position gives the same report.
"""

from __future__ import annotations

from typing import Any

from ledger.codes import EVENT_CODES
from ledger.values import range_start
from projections.queries import Db, case_show


def report_data(db: Db, position: int, case_id: str, app: Any, fmt: str) -> dict[str, Any]:
    from ledger.history import corrections
    from projections.integrity import verified_head

    head = verified_head(app, position)  # first: nothing is shown of a log that does not verify
    case = case_show(db, case_id)
    opened = db.one(f"SELECT recorded_at, recorded_by FROM {db.t('cases')} WHERE id = :id", id=case_id)
    statuses = db.rows(f"SELECT * FROM {db.t('case_status')} WHERE case_id = :id ORDER BY position", id=case_id)
    cited = {s for inc in case["incidents"] for s in inc["sources"]}
    fixes = corrections(app, case_id, upto=position)
    cited |= {s for c in fixes for s in c["sources"]}
    sources = {r["id"]: r for r in db.rows(f"SELECT * FROM {db.t('sources')} WHERE id IN (:ids)", ids=sorted(cited))}
    for source in sources.values():
        source["grading"] = f"{source['reliability'] or '?'}{source['credibility'] or '?'}"
    for inc in case["incidents"]:
        inc["codes"] = EVENT_CODES[inc["kind"]]
        inc["start"] = range_start(inc["on"], inc["precision"])
    return {
        "case": case, "opened": opened, "statuses": statuses, "sources": sources,
        "corrections": fixes, "position": position, "head": head,
        "command": f"ledger report {case_id} --format {fmt} --as-of {position}",
    }
