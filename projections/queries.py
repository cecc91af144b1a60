"""The reads: every answer the CLI gives about cases, entities and incidents, from the read models."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from ledger.errors import NotFound
from ledger.values import COUNTRY_KIND, country_name, is_country_ref

TIMELINE_ORDER = ("on_start", "precision_rank", "position")


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def incident(row: Any) -> dict[str, Any]:
    out = {
        "id": row.id, "kind": row.kind, "case": row.case_id, "on": row.on_date, "precision": row.precision,
        "status": row.status, "roles": json.loads(row.roles), "sources": json.loads(row.sources),
        "place": row.place, "country": row.country, "note": row.note,
        "recorded_at": row.recorded_at, "recorded_by": row.recorded_by, "key": row.key,
    }
    if row.kind == "seizure":
        out["value"], out["currency"] = _number(row.value), row.currency
    if row.kind in ("recall", "expulsion"):
        out["reason"] = row.reason
    return out


def _ordered(t: Any):
    return [t.incidents.c[c] for c in TIMELINE_ORDER]


def cases(conn: Connection, t: Any, status: str | None = None) -> list[dict[str, Any]]:
    inc = t.incidents
    counts = (select(inc.c.case_id, func.count().label("n")).where(inc.c.status != "retracted")
              .group_by(inc.c.case_id).subquery())
    query = (select(t.cases.c.id, t.cases.c.title, t.cases.c.status, func.coalesce(counts.c.n, 0).label("n"))
             .outerjoin(counts, counts.c.case_id == t.cases.c.id).order_by(t.cases.c.id))
    if status:
        query = query.where(t.cases.c.status == status)
    return [{"id": r.id, "title": r.title, "status": r.status, "incidents": r.n} for r in conn.execute(query)]


def _entity_names(conn: Connection, t: Any, ids: set[str]) -> dict[str, tuple[str, str]]:
    """id -> (kind, name), for user entities and countries alike."""
    found = {i: (COUNTRY_KIND, country_name(i)) for i in ids if is_country_ref(i)}
    users = [i for i in ids if i not in found]
    if users:
        for r in conn.execute(select(t.entities.c.id, t.entities.c.kind, t.entities.c.name)
                              .where(t.entities.c.id.in_(users))):
            found[r.id] = (r.kind, r.name)
    return found


def survivors_of(conn: Connection, t: Any, ids: set[str]) -> dict[str, str]:
    """Each id to the entity it was (eventually) merged into, or itself."""
    merged = dict(conn.execute(select(t.entities.c.id, t.entities.c.merged_into)
                               .where(t.entities.c.merged_into.is_not(None))).all()) if ids else {}
    out = {}
    for i in ids:
        seen, current = {i}, i
        while current in merged and merged[current] not in seen:
            current = merged[current]
            seen.add(current)
        out[i] = current
    return out


def case_show(conn: Connection, t: Any, case_id: str) -> dict[str, Any]:
    case = conn.execute(select(t.cases).where(t.cases.c.id == case_id)).one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    rows = conn.execute(select(t.incidents).where(t.incidents.c.case_id == case_id).order_by(*_ordered(t))).all()
    incidents = [incident(r) for r in rows]
    roles: dict[str, list[str]] = {}
    for inc in incidents:
        if inc["status"] == "retracted":
            continue
        for role, refs in inc["roles"].items():
            for ref in refs:
                roles.setdefault(ref, [])
                if role not in roles[ref]:
                    roles[ref].append(role)
    survivors = survivors_of(conn, t, set(roles))
    grouped: dict[str, list[str]] = {}
    for ref, rs in roles.items():
        target = grouped.setdefault(survivors[ref], [])
        target.extend(r for r in rs if r not in target)
    names = _entity_names(conn, t, set(grouped))
    entities = [{"id": i, "name": names.get(i, ("", i))[1], "kind": names.get(i, ("", ""))[0],
                 "roles": sorted(grouped[i])} for i in sorted(grouped)]
    return {"id": case.id, "title": case.title, "status": case.status, "jurisdiction": case.jurisdiction,
            "regime": case.regime, "summary": case.summary, "incidents": incidents, "entities": entities}


def entities(conn: Connection, t: Any, kind: str | None = None) -> list[dict[str, Any]]:
    out = []
    if kind in (None, COUNTRY_KIND):
        live = select(t.incidents.c.id).where(t.incidents.c.status != "retracted")
        codes = conn.execute(select(t.roles.c.entity_id).distinct()
                             .where(t.roles.c.incident_id.in_(live))).scalars()
        out += [{"id": c, "kind": COUNTRY_KIND, "name": country_name(c)} for c in codes if is_country_ref(c)]
    if kind != COUNTRY_KIND:
        query = select(t.entities.c.id, t.entities.c.kind, t.entities.c.name).where(t.entities.c.merged_into.is_(None))
        if kind:
            query = query.where(t.entities.c.kind == kind)
        out += [{"id": r.id, "kind": r.kind, "name": r.name} for r in conn.execute(query)]
    return sorted(out, key=lambda e: e["id"])


def entity_show(conn: Connection, t: Any, entity_id: str) -> dict[str, Any]:
    if is_country_ref(entity_id):
        try:
            name = country_name(entity_id)
        except ValueError:
            raise NotFound(f"no entity {entity_id}") from None
        out = {"id": entity_id, "kind": COUNTRY_KIND, "name": name, "aliases": [],
               "identifiers": {"iso3166-1": entity_id}, "country": entity_id, "merged_from": []}
        group = [entity_id]
    else:
        survivor = survivors_of(conn, t, {entity_id})[entity_id]
        row = conn.execute(select(t.entities).where(t.entities.c.id == survivor)).one_or_none()
        if row is None:
            raise NotFound(f"no entity {entity_id}")
        merged_from = _merged_from(conn, t, survivor)
        out = {"id": row.id, "kind": row.kind, "name": row.name, "aliases": json.loads(row.aliases),
               "identifiers": json.loads(row.identifiers), "country": row.country, "merged_from": merged_from}
        group = [survivor, *merged_from]
    inc = t.incidents
    rows = conn.execute(select(inc.c.id, inc.c.kind, inc.c.case_id, t.roles.c.role, inc.c.on_date,
                               inc.c.precision, inc.c.status)
                        .join(t.roles, and_(t.roles.c.incident_id == inc.c.id, t.roles.c.entity_id.in_(group)))
                        .order_by(*_ordered(t), t.roles.c.role)).all()
    seen = set()
    incidents = []
    for r in rows:
        if (r.id, r.role) in seen:
            continue
        seen.add((r.id, r.role))
        incidents.append({"id": r.id, "kind": r.kind, "case": r.case_id, "role": r.role,
                          "on": r.on_date, "precision": r.precision, "status": r.status})
    out["cases"] = sorted({i["case"] for i in incidents if i["status"] != "retracted"})
    out["incidents"] = incidents
    return out


def _merged_from(conn: Connection, t: Any, survivor: str) -> list[str]:
    found: list[str] = []
    frontier = [survivor]
    while frontier:
        rows = conn.execute(select(t.entities.c.id).where(t.entities.c.merged_into.in_(frontier))).scalars().all()
        frontier = [r for r in rows if r not in found and r != survivor]
        found.extend(frontier)
    return sorted(found)


def timeline(conn: Connection, t: Any, case: str | None = None, entity: str | None = None,
             include_retracted: bool = False) -> list[dict[str, Any]]:
    inc = t.incidents
    query = select(inc).order_by(*_ordered(t))
    if case is not None:
        if conn.execute(select(t.cases.c.id).where(t.cases.c.id == case)).one_or_none() is None:
            raise NotFound(f"no case {case}")
        query = query.where(inc.c.case_id == case)
    if entity is not None:
        group = [entity] if is_country_ref(entity) else None
        if group is None:
            survivor = survivors_of(conn, t, {entity})[entity]
            if conn.execute(select(t.entities.c.id).where(t.entities.c.id == survivor)).one_or_none() is None:
                raise NotFound(f"no entity {entity}")
            group = [survivor, *_merged_from(conn, t, survivor)]
        query = query.where(inc.c.id.in_(select(t.roles.c.incident_id).where(t.roles.c.entity_id.in_(group))))
    if not include_retracted:
        query = query.where(inc.c.status != "retracted")
    return [incident(r) for r in conn.execute(query)]
