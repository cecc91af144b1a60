"""The reads: every answer the CLI gives about cases, entities and incidents, from the read models.

Plain SQL over a small adapter (`Db`) on a bare DB-API connection (sqlite3 or psycopg), so one set
of queries serves the live read models, the in-memory --as-of copy and the light read path. The SQL
is written once, with `:name` parameters; `projections.database` runs it in either dialect. Reports
and exports read through these functions too, never with SQL of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ledger.domain.kinds import DETAILS, KINDS
from ledger.domain.values import COUNTRY_KIND, country_name, is_country_ref
from ledger.errors import NotFound
from projections.database import dialect, execute
from projections.schema import table_name

ORDER = "on_start, precision_rank, position"


class Db:
    """Named-parameter SQL (`:name`, lists expanded for IN) on one of the ledger's connections;
    rows come back as dicts. Table names are the generation's: `db.t("cases")` is `rm3_cases`."""

    def __init__(self, conn: Any, generation: int):
        self.conn, self.generation = conn, generation
        self.dialect = dialect(conn)

    def t(self, name: str) -> str:
        return table_name(self.generation, name)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        for name, value in list(params.items()):
            if isinstance(value, (list, tuple, set)):
                values = list(value) or [None]  # IN (NULL) matches nothing
                names = [f"{name}_{i}" for i in range(len(values))]
                sql = re.sub(rf"(?<![:\w]):{name}\b", ", ".join(f":{n}" for n in names), sql)
                params.pop(name)
                params.update(zip(names, values))
        cursor = self.conn.cursor()
        try:
            execute(cursor, self.dialect, sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r)) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        found = self.rows(sql, **params)
        return found[0] if found else None


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


_DETAILS = {name: tuple(d.name for d in kind.details) for name, kind in KINDS.items()}


def incident(row: dict[str, Any], publishers: dict[str, str] | None = None) -> dict[str, Any]:
    """An INCIDENT from its row; `publishers` (`publishers_of`): each claimant's publisher, which
    says whether a claimed value is corroborated."""
    out = {
        "id": row["id"], "kind": row["kind"], "case": row["case_id"], "on": row["on_date"],
        "precision": row["precision"], "status": row["status"], "roles": json.loads(row["roles"]),
        "sources": json.loads(row["sources"]), "place": row["place"], "country": row["country"],
        "note": row["note"], "recorded_at": row["recorded_at"], "recorded_by": row["recorded_by"], "key": row["key"],
    }
    for name in _DETAILS[row["kind"]]:  # the kind's own fields (ledger.domain.kinds), numbers as given
        out[name] = _number(row[name]) if DETAILS[name] == "amount" else row[name]
    out.update(claims_of(row, out["sources"], publishers))
    return out


def claims_of(row: dict[str, Any], own_sources: list[str], publishers: dict[str, str] | None) -> dict[str, Any]:
    """`"claims"` and `"disputed"` of an incident or a case, from its row's claim state (NULL
    until a source first claims a field of it: `ledger.domain.claims`)."""
    if not row.get("claims"):
        return {"claims": {}, "disputed": []}
    from ledger.domain import claims

    state = json.loads(row["claims"])
    return {"claims": claims.entries(state, publishers or {}), "disputed": claims.disputed(state)}


def publishers_of(db: Db, rows: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The publisher of every source that claims something of these rows (incidents or cases),
    as it stands: one query, and none when nothing is claimed."""
    ids: set[str] = set()
    for row in rows:
        if row.get("claims"):
            state = json.loads(row["claims"])
            ids.update(c["source"] for c in state["claims"])
            ids.update(json.loads(row["sources"]) if row.get("sources") else [])
    if not ids:
        return {}
    return {r["id"]: r["publisher"] for r in db.rows(f"SELECT id, publisher FROM {db.t('sources')} "
                                                     "WHERE id IN (:ids)", ids=sorted(ids))}


def incidents_of(db: Db, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """INCIDENTs from rows, with what their claims need looked up once."""
    publishers = publishers_of(db, rows)
    return [incident(r, publishers) for r in rows]


def cases(db: Db, status: str | None = None) -> list[dict[str, Any]]:
    sql = (f"SELECT c.id, c.title, c.status, COALESCE(n.n, 0) AS n FROM {db.t('cases')} c "
           f"LEFT JOIN (SELECT case_id, COUNT(*) AS n FROM {db.t('incidents')} WHERE status <> 'retracted' "
           f"GROUP BY case_id) n ON n.case_id = c.id")
    if status:
        sql += " WHERE c.status = :status"
    rows = db.rows(sql + " ORDER BY c.id", **({"status": status} if status else {}))
    return [{"id": r["id"], "title": r["title"], "status": r["status"], "incidents": r["n"]} for r in rows]


def _entity_names(db: Db, ids: set[str]) -> dict[str, tuple[str, str]]:
    """id -> (kind, name), for user entities and countries alike."""
    found = {i: (COUNTRY_KIND, country_name(i)) for i in ids if is_country_ref(i)}
    users = [i for i in ids if i not in found]
    if users:
        for r in db.rows(f"SELECT id, kind, name FROM {db.t('entities')} WHERE id IN (:ids)", ids=users):
            found[r["id"]] = (r["kind"], r["name"])
    return found


NAMES_AT_ONCE = 5000  # ids in one IN list: well under SQLite's and PostgreSQL's limits on parameters


def names_of(db: Db, ids: Iterable[str]) -> dict[str, str]:
    """Each entity id to the name a person reads beside it: a country's name (`JP`: Japan), an
    entity's name, and for a merged duplicate the name of the entity it was merged into (the id
    stays as recorded). One query for up to 5,000 ids, and one more per step of a merge chain;
    an id the read models do not hold is left out."""
    out: dict[str, str] = {}
    users = []
    for i in set(ids):
        if not is_country_ref(i):
            users.append(i)
        elif (country := _country_or_none(i)) is not None:
            out[i] = country
    known: dict[str, tuple[str, str | None]] = {}  # id -> (name, merged_into)
    frontier = sorted(users)
    while frontier:
        for at in range(0, len(frontier), NAMES_AT_ONCE):
            rows = db.rows(f"SELECT id, name, merged_into FROM {db.t('entities')} WHERE id IN (:ids)",
                           ids=frontier[at:at + NAMES_AT_ONCE])
            known.update((r["id"], (r["name"], r["merged_into"])) for r in rows)
        frontier = sorted({into for _name, into in known.values() if into is not None} - set(known))
    for i in users:
        seen, current = {i}, i
        while current in known:
            into = known[current][1]
            if into is None or into not in known or into in seen:
                break
            current = into
            seen.add(current)
        if current in known:
            out[i] = known[current][0]
    return out


def _country_or_none(code: str) -> str | None:
    try:
        return country_name(code)
    except ValueError:
        return None


def named(incidents: list[dict[str, Any]], names: dict[str, str]) -> None:
    """Give each incident `"names"`, {ENTITY_ID: name} for the entities in its roles (as
    `names_of` gives them), for the views people read; the JSON of a read leaves it out."""
    for inc in incidents:
        inc["names"] = {ref: names[ref] for refs in inc["roles"].values() for ref in refs if ref in names}


def survivors_of(db: Db, ids: set[str]) -> dict[str, str]:
    """Each id to the entity it was (eventually) merged into, or itself. Looks up only these
    ids and their merge chains: a read does not grow with the ledger."""
    merged: dict[str, str] = {}
    frontier = {i for i in ids if not is_country_ref(i)}
    while frontier:
        rows = db.rows(f"SELECT id, merged_into FROM {db.t('entities')} WHERE id IN (:ids) AND merged_into IS NOT NULL",
                       ids=sorted(frontier))
        merged.update((r["id"], r["merged_into"]) for r in rows)
        frontier = {r["merged_into"] for r in rows} - set(merged)
    out = {}
    for i in ids:
        seen, current = {i}, i
        while current in merged and merged[current] not in seen:
            current = merged[current]
            seen.add(current)
        out[i] = current
    return out


def case_show(db: Db, case_id: str, names: bool = False) -> dict[str, Any]:
    """`names`: each incident also gets `"names"` (`named`), from the lookups the entities' list
    makes anyway, for the retracted incidents' entities too: no query more."""
    case = db.one(f"SELECT * FROM {db.t('cases')} WHERE id = :id", id=case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    incidents = incidents_of(db, db.rows(
        f"SELECT * FROM {db.t('incidents')} WHERE case_id = :id ORDER BY {ORDER}", id=case_id))
    roles: dict[str, list[str]] = {}
    for inc in incidents:
        if inc["status"] == "retracted":
            continue
        for role, refs in inc["roles"].items():
            for ref in refs:
                roles.setdefault(ref, [])
                if role not in roles[ref]:
                    roles[ref].append(role)
    refs = set(roles) | ({r for inc in incidents for rs in inc["roles"].values() for r in rs} if names else set())
    survivors = survivors_of(db, refs)
    grouped: dict[str, list[str]] = {}
    for ref, rs in roles.items():
        target = grouped.setdefault(survivors[ref], [])
        target.extend(r for r in rs if r not in target)
    found = _entity_names(db, set(survivors.values()))
    entities = [{"id": i, "name": found.get(i, ("", i))[1], "kind": found.get(i, ("", ""))[0],
                 "roles": sorted(grouped[i])} for i in sorted(grouped)]
    if names:
        named(incidents, {ref: found[s][1] for ref, s in survivors.items() if s in found})
    own = json.loads(case["sources"]) if case.get("sources") else []
    return {"id": case["id"], "title": case["title"], "status": case["status"], "jurisdiction": case["jurisdiction"],
            "regime": case["regime"], "summary": case["summary"], "sources": own,
            **claims_of(case, own, publishers_of(db, [case])), "incidents": incidents, "entities": entities}


def entities(db: Db, kind: str | None = None) -> list[dict[str, Any]]:
    out = []
    if kind in (None, COUNTRY_KIND):
        codes = db.rows(f"SELECT DISTINCT r.entity_id FROM {db.t('incident_roles')} r "
                        f"JOIN {db.t('incidents')} i ON i.position = r.incident WHERE i.status <> 'retracted'")
        out += [{"id": c["entity_id"], "kind": COUNTRY_KIND, "name": country_name(c["entity_id"])}
                for c in codes if is_country_ref(c["entity_id"])]
    if kind != COUNTRY_KIND:
        sql = f"SELECT id, kind, name FROM {db.t('entities')} WHERE merged_into IS NULL"
        params = {}
        if kind:
            sql += " AND kind = :kind"
            params["kind"] = kind
        out += [{"id": r["id"], "kind": r["kind"], "name": r["name"]} for r in db.rows(sql, **params)]
    return sorted(out, key=lambda e: e["id"])


def entity_show(db: Db, entity_id: str) -> dict[str, Any]:
    if is_country_ref(entity_id):
        try:
            name = country_name(entity_id)
        except ValueError:
            raise NotFound(f"no entity {entity_id}") from None
        out: dict[str, Any] = {"id": entity_id, "kind": COUNTRY_KIND, "name": name, "aliases": [],
               "identifiers": {"iso3166-1": entity_id}, "country": entity_id, "merged_from": []}
        group = [entity_id]
    else:
        survivor = survivors_of(db, {entity_id})[entity_id]
        row = db.one(f"SELECT * FROM {db.t('entities')} WHERE id = :id", id=survivor)
        if row is None:  # not an id: a name or alias of exactly one entity (the search index; SQLAlchemy)
            from projections.search import entity_named

            survivor = entity_named(db, entity_id)
            row = db.one(f"SELECT * FROM {db.t('entities')} WHERE id = :id", id=survivor)
        if row is None:
            raise NotFound(f"no entity {entity_id}")
        duplicates = merged_from(db, survivor)
        out = {"id": row["id"], "kind": row["kind"], "name": row["name"], "aliases": json.loads(row["aliases"]),
               "identifiers": json.loads(row["identifiers"]), "country": row["country"], "merged_from": duplicates}
        group = [survivor, *duplicates]
    rows = db.rows(f"SELECT i.id, i.kind, i.case_id, r.role, i.on_date, i.precision, i.status "
                   f"FROM {db.t('incidents')} i JOIN {db.t('incident_roles')} r ON r.incident = i.position "
                   f"WHERE r.entity_id IN (:group) ORDER BY i.on_start, i.precision_rank, i.position, r.role",
                   group=group)
    seen = set()
    incidents = []
    for r in rows:
        if (r["id"], r["role"]) in seen:
            continue
        seen.add((r["id"], r["role"]))
        incidents.append({"id": r["id"], "kind": r["kind"], "case": r["case_id"], "role": r["role"],
                          "on": r["on_date"], "precision": r["precision"], "status": r["status"]})
    out["cases"] = sorted({i["case"] for i in incidents if i["status"] != "retracted"})
    out["incidents"] = incidents
    return out


def entity_names(db: Db, entity: dict[str, Any]) -> dict[str, str]:
    """The names `entity show` gives beside the ids it names, for an `entity_show` answer: each
    duplicate merged into it under its own name (the spelling it was recorded with), its country's."""
    out = {i: name for i, (_kind, name) in _entity_names(db, set(entity["merged_from"])).items()}
    if entity.get("country") and (country := _country_or_none(entity["country"])) is not None:
        out[entity["country"]] = country
    return out


def merged_from(db: Db, survivor: str) -> list[str]:
    """Every entity merged (directly or not) into `survivor`."""
    found: list[str] = []
    frontier = [survivor]
    while frontier:
        rows = [r["id"] for r in db.rows(f"SELECT id FROM {db.t('entities')} WHERE merged_into IN (:f)", f=frontier)]
        frontier = [r for r in rows if r not in found and r != survivor]
        found.extend(frontier)
    return sorted(found)


def timeline(db: Db, case: str | None = None, entity: str | None = None,
             include_retracted: bool = False, names: bool = False) -> list[dict[str, Any]]:
    """`names`: each incident also gets `"names"` (`named`), with one query more for them all."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if case is not None:
        if db.one(f"SELECT id FROM {db.t('cases')} WHERE id = :id", id=case) is None:
            raise NotFound(f"no case {case}")
        where.append("case_id = :case")
        params["case"] = case
    if entity is not None:
        group = [entity] if is_country_ref(entity) else None
        if group is None:
            survivor = survivors_of(db, {entity})[entity]
            if db.one(f"SELECT id FROM {db.t('entities')} WHERE id = :id", id=survivor) is None:
                raise NotFound(f"no entity {entity}")
            group = [survivor, *merged_from(db, survivor)]
        where.append(f"position IN (SELECT incident FROM {db.t('incident_roles')} WHERE entity_id IN (:group))")
        params["group"] = group
    if not include_retracted:
        where.append("status <> 'retracted'")
    sql = f"SELECT * FROM {db.t('incidents')}" + (" WHERE " + " AND ".join(where) if where else "")
    incidents = incidents_of(db, db.rows(sql + f" ORDER BY {ORDER}", **params))
    if names:
        named(incidents, names_of(db, {ref for inc in incidents for refs in inc["roles"].values() for ref in refs}))
    return incidents


# ---------------------------------------------------------------------- rows as stored: reports and exports


def case_rows(db: Db, case_id: str | None = None) -> list[dict[str, Any]]:
    """Every case (or only `case_id`) as stored, by id."""
    where, params = ("", {}) if case_id is None else (" WHERE id = :id", {"id": case_id})
    return db.rows(f"SELECT * FROM {db.t('cases')}{where} ORDER BY id", **params)


def status_changes(db: Db, case_id: str) -> list[dict[str, Any]]:
    """A case's status changes as stored, in the order they were recorded."""
    return db.rows(f"SELECT * FROM {db.t('case_status')} WHERE case_id = :id ORDER BY position", id=case_id)


def source_rows(db: Db, ids: list[str]) -> list[dict[str, Any]]:
    """These sources as stored, by id."""
    return db.rows(f"SELECT * FROM {db.t('sources')} WHERE id IN (:ids) ORDER BY id", ids=sorted(ids))


def entity_rows(db: Db, ids: list[str]) -> list[dict[str, Any]]:
    """These entities as stored (merged ones too, with `merged_into`), by id."""
    return db.rows(f"SELECT * FROM {db.t('entities')} WHERE id IN (:ids) ORDER BY id", ids=sorted(ids))


def corrections(db: Db, incidents: list[str]) -> list[dict[str, Any]]:
    """Every amendment and retraction of these incidents, in the order made, with the values it
    replaced (the projector keeps them as it applies each correction)."""
    rows = db.rows(f"SELECT * FROM {db.t('corrections')} WHERE incident IN (:ids) ORDER BY position", ids=incidents)
    return [{"position": r["position"], "incident": r["incident"], "kind": r["kind"], "type": r["type"],
             "changes": json.loads(r["changes"]), "old": json.loads(r["old"]), "reason": r["reason"],
             "sources": json.loads(r["sources"]), "recorded_by": r["actor"], "recorded_at": r["recorded_at"]}
            for r in rows]


def source_amendments(db: Db, sources: list[str]) -> list[dict[str, Any]]:
    """Every amendment of these sources (`source amend`), in the order made, with the values it
    replaced; `changes` keeps only the fields it changed."""
    rows = db.rows(f"SELECT * FROM {db.t('source_amendments')} WHERE source_id IN (:ids) ORDER BY position",
                   ids=sources)
    out = []
    for r in rows:
        old, new = json.loads(r["old"]), json.loads(r["changes"])
        out.append({"position": r["position"], "source": r["source_id"], "reason": r["reason"],
                    "changes": {k: v for k, v in new.items() if old.get(k) != v}, "old": old,
                    "recorded_by": r["actor"], "recorded_at": r["recorded_at"]})
    return out


def disputes(db: Db, cases: list[str] | None = None) -> list[dict[str, Any]]:
    """Every contested field (its claims give more than one value, refuted ones too) of the cases
    and their incidents (not retracted), `cases` only when given: `{"target", "case", "field",
    "values": [{"value", "sources", "status", "corroborated"}], "disputed", "accepted", "key"}`;
    by case, the case's own fields first, then its incidents in timeline order."""
    from ledger.domain.claims import contested

    for case_id in cases or []:
        if db.one(f"SELECT id FROM {db.t('cases')} WHERE id = :id", id=case_id) is None:
            raise NotFound(f"no case {case_id}")
    only = " AND case_id IN (:cases)" if cases else ""
    params = {"cases": list(cases)} if cases else {}
    case_rows_ = db.rows(f"SELECT * FROM {db.t('cases')} WHERE claims IS NOT NULL"
                         + (" AND id IN (:cases)" if cases else "") + " ORDER BY id", **params)
    rows = db.rows(f"SELECT * FROM {db.t('incidents')} WHERE claims IS NOT NULL AND status <> 'retracted'{only} "
                   f"ORDER BY case_id, {ORDER}", **params)
    publishers = publishers_of(db, [*case_rows_, *rows])
    found: dict[str, list[tuple[str, str | None, dict[str, Any]]]] = {}
    for row in case_rows_:
        own = json.loads(row["sources"]) if row.get("sources") else []
        found.setdefault(row["id"], []).append(("case:" + row["id"], None, claims_of(row, own, publishers)))
    for inc in (incident(r, publishers) for r in rows):
        found.setdefault(inc["case"], []).append((inc["id"], inc["key"], inc))
    out = []
    for case_id in sorted(found):
        for target, key, item in found[case_id]:
            for field in contested(item["claims"]):
                values = item["claims"][field]
                accepted = next((v["value"] for v in values if v["status"] == "accepted"), None)
                out.append({"target": target, "case": case_id, "field": field,
                            "values": [{"value": v["value"], "sources": v["sources"], "status": v["status"],
                                        "corroborated": v["corroborated"]} for v in values],
                            "disputed": field in item["disputed"], "accepted": accepted, "key": key})
    return out


def claims_by_source(db: Db, source_id: str) -> list[dict[str, Any]]:
    """What one source claims, in the order claimed: `{"incident" (an incident's id, or
    `case:ID`), "field", "value", "status", "quote", "reason", "position"}` (retracted incidents'
    claims too: a source's record is what it said). Each standing is the one `claims.entries`
    gives the source. The claims are few beside the incidents: the rows that hold any are read
    and searched here rather than indexed by source."""
    from ledger.domain import claims

    out = []
    rows = [("case:" + r["id"], json.loads(r["claims"])) for r in
            db.rows(f"SELECT id, claims FROM {db.t('cases')} WHERE claims IS NOT NULL")]
    rows += [(r["id"], json.loads(r["claims"])) for r in
             db.rows(f"SELECT id, claims FROM {db.t('incidents')} WHERE claims IS NOT NULL")]
    for target, state in rows:
        claimed = {field for c in state["claims"] if c["source"] == source_id for field in c["fields"]}
        for field, values in claims.entries(state, {}).items():
            if field not in claimed:  # (its own value's source, not a claim it made)
                continue
            for v in values:
                for b in v["by"]:
                    if b["source"] == source_id:
                        out.append({"incident": target, "field": field, "value": v["value"], "status": b["status"],
                                    "quote": b["quote"], "reason": b["reason"], "position": b["position"]})
    return sorted(out, key=lambda c: (c["position"] is None, c["position"] or 0))
