"""What a case report says, gathered once for every output format.

Everything in it comes from the ledger at one position: the read models at that position (live,
or built for --as-of), with the corrections the projector keeps, and the chain's hash there,
given only once every link of the chain up to that position has been checked (a report of a log
that does not verify is refused).
Nothing depends on the clock at rendering time, so the same position gives the same report.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.kinds import EVENT_CODES, shown_details
from ledger.domain.values import range_start
from projections.queries import Db, case_rows, case_show, corrections, source_rows, status_changes


def report_data(db: Db, position: int, case_id: str, head: str, receipt: dict[str, Any] | None,
                fmt: str) -> dict[str, Any]:
    """`head`: the chain's head at `position`, verified (`projections.integrity.latest_receipt`
    gives it, with the latest receipt the log still passes through)."""
    case = case_show(db, case_id)
    row = case_rows(db, case_id)[0]
    opened = {"recorded_at": row["recorded_at"], "recorded_by": row["recorded_by"]}
    statuses = status_changes(db, case_id)
    cited = {s for inc in case["incidents"] for s in inc["sources"]}
    fixes = corrections(db, [inc["id"] for inc in case["incidents"]])
    cited |= {s for c in fixes for s in c["sources"]}
    sources = {r["id"]: r for r in source_rows(db, sorted(cited))}
    for source in sources.values():
        source["grading"] = f"{source['reliability'] or '?'}{source['credibility'] or '?'}"
    for inc in case["incidents"]:
        inc["codes"] = EVENT_CODES[inc["kind"]]
        inc["details"] = shown_details(inc["kind"], inc)
        inc["start"] = range_start(inc["on"], inc["precision"])
    return {
        "case": case, "opened": opened, "statuses": statuses, "sources": sources,
        "corrections": fixes, "position": position, "head": head, "receipt": receipt,
        "command": f"ledger report {case_id} --format {fmt} --as-of {position}",
    }
