"""What a case report says, gathered once for every output format.

Everything in it comes from the ledger at one position: the read models at that position (live,
or built for --as-of), the corrections from the event store up to it, and the chain's hash there.
Nothing depends on the clock at rendering time, so the same position gives the same report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ledger.codes import EVENT_CODES
from ledger.values import range_start
from projections.queries import case_show


def report_data(conn: Connection, t: Any, position: int, case_id: str, app: Any, fmt: str) -> dict[str, Any]:
    from ledger.history import corrections

    case = case_show(conn, t, case_id)
    opened = conn.execute(select(t.cases.c.recorded_at, t.cases.c.recorded_by).where(t.cases.c.id == case_id)).one()
    statuses = [dict(r._mapping) for r in conn.execute(
        select(t.case_status).where(t.case_status.c.case_id == case_id).order_by(t.case_status.c.position))]
    cited = {s for inc in case["incidents"] for s in inc["sources"]}
    fixes = corrections(app, case_id, upto=position)
    cited |= {s for c in fixes for s in c["sources"]}
    sources = {r.id: dict(r._mapping) for r in conn.execute(select(t.sources).where(t.sources.c.id.in_(cited)))}
    for source in sources.values():
        source["grading"] = f"{source['reliability'] or '?'}{source['credibility'] or '?'}"
    for inc in case["incidents"]:
        inc["codes"] = EVENT_CODES[inc["kind"]]
        inc["start"] = range_start(inc["on"], inc["precision"])
    return {
        "case": case, "opened": dict(opened._mapping), "statuses": statuses, "sources": sources,
        "corrections": fixes, "position": position, "head": app.recorder.hash_at(position),
        "command": f"ledger report {case_id} --format {fmt} --as-of {position}",
    }
