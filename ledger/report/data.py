"""What a case report says, gathered once for every output format.

Everything in it comes from the ledger at one position: the read models at that position (live,
or built for --as-of), with the corrections the projector keeps, and the chain's hash there,
given only once every link of the chain up to that position has been checked (a report of a log
that does not verify is refused).
Nothing depends on the clock at rendering time, so the same position gives the same report.
"""

from __future__ import annotations

from typing import Any

from ledger.domain.kinds import EVENT_CODES, ROLES, shown_details
from ledger.domain.values import range_start
from projections.queries import (
    Db,
    case_rows,
    case_show,
    corrections,
    names_of,
    source_amendments,
    source_rows,
    status_changes,
)


def report_data(db: Db, position: int, case_id: str, head: str, receipt: dict[str, Any] | None,
                fmt: str) -> dict[str, Any]:
    """`head`: the chain's head at `position`, verified (`projections.integrity.latest_receipt`
    gives it, with the latest receipt the log still passes through)."""
    case = case_show(db, case_id, names=True)
    row = case_rows(db, case_id)[0]
    opened = {"recorded_at": row["recorded_at"], "recorded_by": row["recorded_by"]}
    statuses = status_changes(db, case_id)
    cited = {s for inc in case["incidents"] for s in inc["sources"]}
    fixes = corrections(db, [inc["id"] for inc in case["incidents"]])
    cited |= {s for c in fixes for s in c["sources"]}
    # `names`: each entity id the report names, to the name shown beside it (`name (id)`, as
    # `projections.queries.names_of` gives them); a correction's `roles`: which of its fields are roles
    names = {ref: name for inc in case["incidents"] for ref, name in inc.pop("names").items()}
    for fix in fixes:
        fix["roles"] = [field for field in fix["changes"] if field in ROLES]
    corrected = {ref for fix in fixes for field in fix["roles"]
                 for value in (fix["old"].get(field), fix["changes"][field]) for ref in _refs(value)}
    if corrected - set(names):
        names |= names_of(db, corrected - set(names))
    contested = _contested(case)
    cited |= {b["source"] for fact in contested for v in fact["values"] for b in v["by"] if b["source"]}
    claimed = {ref for fact in contested if fact["roles"] for v in fact["values"] for ref in _refs(v["value"])}
    if claimed - set(names):
        names |= names_of(db, claimed - set(names))
    sources = {r["id"]: r for r in source_rows(db, sorted(cited))}
    for source in sources.values():
        source["grading"] = f"{source['reliability'] or '?'}{source['credibility'] or '?'}"
    # each cited source's amendments (the lines above show it as it stands after them)
    source_fixes = source_amendments(db, sorted(sources))
    for inc in case["incidents"]:
        inc["codes"] = EVENT_CODES[inc["kind"]]
        inc["details"] = shown_details(inc["kind"], inc)
        inc["start"] = range_start(inc["on"], inc["precision"])
    return {
        "case": case, "opened": opened, "statuses": statuses, "sources": sources, "names": names,
        "corrections": fixes, "source_corrections": source_fixes, "contested": contested, "position": position,
        "head": head, "receipt": receipt,
        "command": f"ledger report {case_id} --format {fmt} --as-of {position}",
    }


def _contested(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Every claimed field of the case and of its incidents (retracted ones left out), with each
    value as the claims give it (`ledger.domain.claims.entries`): `{"label", "target", "field",
    "disputed", "roles" (whether its values are entity ids), "values"}`, the case's first, then in
    timeline order."""
    out = []
    targets = [(f"Case {case['id']}", f"case:{case['id']}", case, None)] + [
        (f"{inc['on']} {inc['kind']} {inc['key'] or inc['id']}", inc["id"], inc, inc["kind"])
        for inc in case["incidents"] if inc["status"] != "retracted"]
    for label, target, item, kind in targets:
        for field, values in item["claims"].items():
            out.append({"label": label, "target": target, "field": field, "disputed": field in item["disputed"],
                        "roles": kind is not None and field in ROLES, "values": values})
    return out


def _refs(value: Any) -> list[str]:
    """The entity ids of a role's value as a correction keeps it: a list of ids (or one, or none)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [value] if isinstance(value, str) else []
