"""Asking the ledger: the list reads composed as SQLAlchemy Core statements over the declared
read-model tables (`projections.tables`), one statement per question, running unchanged on SQLite
and PostgreSQL.

A statement is compiled for the dialect of the bare DB-API connection the reads already hold
(`projections.queries.Db`: the light read path's, the live read models', or the in-memory --as-of
copy), with its IN lists expanded, and run there with its parameters: no engine, no pool, no
second connection. Compiling costs a millisecond or two; importing SQLAlchemy about 0.2 s of a
cold process, which is why only these reads import this module.

`incidents`: any mix of filters (OR within one option, AND across options), sort and paging.
`stats`: counts of incidents grouped by kind, country, year, case, source or recording actor.
Retracted incidents count nowhere unless asked for (`status=["retracted"]` on `incidents`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import ColumnElement, Select

from ledger.domain.kinds import DETAILS, KINDS, ROLES
from ledger.domain.values import (
    PRECISIONS,
    RELIABILITY,
    PartialDate,
    check_country,
    check_entity_ref,
    is_country_ref,
    parse_date,
    shown,
)
from ledger.errors import InvalidInput, NotFound, Refused
from projections.database import SQLITE, statement_dialect
from projections.queries import Db, incident, incidents_of, merged_from, publishers_of, survivors_of
from projections.tables import read_tables

STATUSES = ("active", "amended", "retracted", "disputed")
SORTS = ("on", "-on", "recorded", "-recorded")
STATS_BY = ("kind", "country", "year", "case", "source", "actor")
_RANK = {precision: rank for rank, precision in enumerate(PRECISIONS)}  # year 0, month 1, day 2, time 3


# ---------------------------------------------------------------------- running a statement


def compiled(db: Db, statement: Any) -> tuple[str, dict[str, Any]]:
    """A statement as the SQL text and parameters of `db`'s driver (IN lists expanded)."""
    done = statement.compile(dialect=statement_dialect(db.dialect), compile_kwargs={"render_postcompile": True})
    return str(done), dict(done.params)


def fetch_rows(db: Db, statement: Any) -> list[dict[str, Any]]:
    """Run a statement on the read's own connection; its rows as dicts by column name."""
    text, params = compiled(db, statement)
    cursor = db.conn.cursor()
    try:
        cursor.execute(text, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        cursor.close()


# ---------------------------------------------------------------------- the options, checked


@dataclass(frozen=True)
class Grade:
    """A minimum grading (`B2`): reliability this letter or better, credibility this digit or
    better (None: any credibility)."""

    reliability: str
    credibility: int | None

    def clause(self, sources: Any) -> ColumnElement[bool]:
        """Over a sources table: graded at least this well (an ungraded source never is)."""
        letters = list(RELIABILITY[:RELIABILITY.index(self.reliability) + 1])
        found: ColumnElement[bool] = sources.c.reliability.in_(letters)
        if self.credibility is not None:
            found = and_(found, sources.c.credibility <= self.credibility)
        return found


def parse_grade(value: str) -> Grade:
    """`--min-grade B2` (the letter alone: any credibility); any case."""
    m = re.fullmatch(r"([A-Fa-f])([1-6])?", value.strip()) if isinstance(value, str) else None
    if m is None:
        raise InvalidInput(f"--min-grade {shown(value)}: give a reliability A-F and a credibility 1-6, as B2")
    return Grade(m.group(1).upper(), int(m.group(2)) if m.group(2) else None)


def _many(value: str | Iterable[str] | None) -> list[str]:
    """A repeatable option's values: one string or several; none given is an empty list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(dict.fromkeys(value))


def _choices(values: list[str], allowed: Iterable[str], option: str) -> list[str]:
    allowed = tuple(allowed)
    for value in values:
        if value not in allowed:
            raise InvalidInput(f"{option} {shown(value)}: use one of {', '.join(allowed)}")
    return values


def _next_start(start: datetime, precision: str) -> datetime:
    """The start of the range after the one of this precision that starts at `start`."""
    if precision == "year":
        return start.replace(year=start.year + 1)
    if precision == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + timedelta(days=1)


def _truncated(moment: str, precision: str) -> str:
    """A range start (`YYYY-MM-DDTHH:MM:SS`) cut back to the start of its year, month or day."""
    if precision == "year":
        return moment[:4] + "-01-01T00:00:00"
    if precision == "month":
        return moment[:7] + "-01T00:00:00"
    if precision == "day":
        return moment[:10] + "T00:00:00"
    return moment


def _recorded_since(value: str | int) -> tuple[str, Any]:
    """`--recorded-since WHEN`: a position (what was recorded after it) or an ISO 8601 date
    (from the start of that day) or date-time (UTC when no zone is given)."""
    text = str(value).strip()
    if text.isdigit():
        return "position", int(text)
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            moment = datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,+\-Z]+", text, re.IGNORECASE):
                raise ValueError(text)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        # recording times are stored as the ISO text of a UTC time: compared as text
        return "time", moment.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        raise InvalidInput(f"--recorded-since {shown(text)}: give a position, an ISO 8601 date or date-time") from None


@dataclass
class Filters:
    """What `incidents` (and `stats`) filter on; every list is OR within it, the options AND."""

    case: list[str]
    kind: list[str]
    entity: list[str]
    role: list[str]
    country: list[str]
    source: list[str]
    min_grade: Grade | None
    date_from: PartialDate | None
    date_to: PartialDate | None
    within: bool
    status: list[str]
    text: str | None
    recorded_since: tuple[str, Any] | None


def filters(case: str | Iterable[str] | None = None, kind: str | Iterable[str] | None = None,
            entity: str | Iterable[str] | None = None, role: str | Iterable[str] | None = None,
            country: str | Iterable[str] | None = None, source: str | Iterable[str] | None = None,
            min_grade: str | None = None, date_from: str | None = None, date_to: str | None = None,
            within: bool = False, status: str | Iterable[str] | None = None, text: str | None = None,
            recorded_since: str | int | None = None) -> Filters:
    """The options checked (bad input raises InvalidInput, in one line, naming the option)."""
    for value, option in ((date_from, "--from"), (date_to, "--to")):
        if value is not None:
            try:
                parse_date(value)
            except InvalidInput as error:
                raise InvalidInput(f"{option}: {error}") from None
    if text is not None and not text.strip():
        raise InvalidInput("--text: no words to look for")
    start = parse_date(date_from) if date_from is not None else None
    end = parse_date(date_to) if date_to is not None else None
    if start is not None and end is not None and end.precision != "time" and \
            _next_start(datetime.fromisoformat(end.start), end.precision).isoformat() <= start.start:
        raise InvalidInput(f"--to {end.text} ends before --from {start.text}: nothing can lie between them")
    if start is not None and end is not None and end.precision == "time" and end.start < start.start:
        raise InvalidInput(f"--to {end.text} is before --from {start.text}: nothing can lie between them")
    entities = [check_entity_ref(e) for e in _many(entity)]
    return Filters(
        case=_many(case), kind=_choices(_many(kind), KINDS, "--kind"), entity=entities,
        role=_choices(_many(role), ROLES, "--role"), country=[check_country(c) for c in _many(country)],
        source=_many(source), min_grade=parse_grade(min_grade) if min_grade is not None else None,
        date_from=start, date_to=end, within=within,
        status=_choices(_many(status), STATUSES, "--status"), text=text if text and text.strip() else None,
        recorded_since=_recorded_since(recorded_since) if recorded_since is not None else None)


# ---------------------------------------------------------------------- incidents


def _entity_group(db: Db, refs: list[str]) -> list[str]:
    """Every id that stands for these entities: each one's survivor and whatever was merged into
    it (a duplicate's id stands for its survivor); a country is itself. Unknown ids: NotFound."""
    group = [ref for ref in refs if is_country_ref(ref)]
    users = [ref for ref in refs if not is_country_ref(ref)]
    survivors = survivors_of(db, set(users))
    t = read_tables(db.generation)
    known = {r["id"] for r in fetch_rows(db, select(t.entities.c.id).where(
        t.entities.c.id.in_(sorted(set(survivors.values())))))}
    for ref in users:
        survivor = survivors[ref]
        if survivor not in known:
            raise NotFound(f"no entity {ref}")
        group += [survivor, *merged_from(db, survivor)]
    return list(dict.fromkeys(group))


def _known(db: Db, table: Any, ids: list[str], what: str) -> None:
    """NotFound for the first of these ids the table does not hold (a mistyped case or source
    is said, never answered with nothing)."""
    found = {r["id"] for r in fetch_rows(db, select(table.c.id).where(table.c.id.in_(ids)))}
    for ref in ids:
        if ref not in found:
            raise NotFound(f"no {what} {ref}")


def _date_clauses(i: Any, f: Filters) -> list[ColumnElement[bool]]:
    """`--from`/`--to`: the incident's date range (its whole year for `2017`) overlaps the range
    asked; with `--within`, lies inside it. Ranges are compared by their starts (`on_start`, UTC,
    indexed): a range of precision p overlaps [F, ...) when it starts at or after F cut back to
    p, and lies before an end E when it starts before E cut back to p (a moment: at or before)."""
    clauses: list[ColumnElement[bool]] = []
    rank = i.c.precision_rank
    if f.date_from is not None:
        start = f.date_from.start
        if f.within:
            clauses.append(i.c.on_start >= start)
        else:
            clauses.append(i.c.on_start >= _truncated(start, "year"))
            for precision in ("month", "day", "time"):
                clauses.append(or_(rank < _RANK[precision], i.c.on_start >= _truncated(start, precision)))
    if f.date_to is not None:
        to = f.date_to
        point = to.precision == "time"
        end = to.start if point else _next_start(datetime.fromisoformat(to.start), to.precision).isoformat()
        clauses.append(i.c.on_start <= end if point else i.c.on_start < end)
        if f.within:
            for precision in ("day", "month", "year"):
                clauses.append(or_(rank > _RANK[precision], i.c.on_start < _truncated(end, precision)))
    return clauses


def where_clauses(db: Db, f: Filters) -> list[ColumnElement[bool]]:
    """The filters as clauses over the incidents table (AND between them)."""
    t = read_tables(db.generation)
    i, roles, cited, sources = t.incidents, t.incident_roles, t.incident_sources, t.sources
    where: list[ColumnElement[bool]] = []
    if f.case:
        _known(db, t.cases, f.case, "case")
        where.append(i.c.case_id.in_(f.case))
    if f.kind:
        where.append(i.c.kind.in_(f.kind))
    if f.entity or f.role:
        in_role = select(roles.c.incident)
        if f.entity:
            in_role = in_role.where(roles.c.entity_id.in_(_entity_group(db, f.entity)))
        if f.role:
            in_role = in_role.where(roles.c.role.in_(f.role))
        where.append(i.c.position.in_(in_role))
    if f.country:
        where.append(or_(i.c.country.in_(f.country),
                         i.c.position.in_(select(roles.c.incident).where(roles.c.entity_id.in_(f.country)))))
    if f.source:
        _known(db, sources, f.source, "source")
        where.append(i.c.position.in_(select(cited.c.incident).where(cited.c.source_id.in_(f.source))))
    if f.min_grade is not None:
        graded = select(sources.c.id).where(f.min_grade.clause(sources))
        where.append(i.c.position.in_(select(cited.c.incident).where(cited.c.source_id.in_(graded))))
    where += _date_clauses(i, f)
    where.append(i.c.status.in_(f.status) if f.status else i.c.status != "retracted")
    if f.text is not None:
        where.append(_text_clause(db, t, f.text))
    if f.recorded_since is not None:
        how, bound = f.recorded_since
        where.append(i.c.position > bound if how == "position" else i.c.recorded_at >= bound)
    return where


def _text_clause(db: Db, t: Any, words: str) -> ColumnElement[bool]:
    try:
        from projections.search import incident_text_clause
    except ImportError:
        raise Refused("--text needs the search index (projections.search), which this version lacks") from None
    clause: ColumnElement[bool] = incident_text_clause(t, words, db.dialect)
    return clause


def _order(i: Any, sort: str) -> list[Any]:
    if sort not in SORTS:
        raise InvalidInput(f"--sort {shown(sort)}: use one of {', '.join(SORTS)}")
    columns = [i.c.on_start, i.c.precision_rank, i.c.position] if sort.lstrip("-") == "on" else [i.c.position]
    return [c.desc() for c in columns] if sort.startswith("-") else columns


def _paged(statement: Select[Any], limit: int | None, offset: int | None) -> Select[Any]:
    if limit is not None and limit < 0:
        raise InvalidInput("--limit: give a number of 0 or more")
    if offset is not None and offset < 0:
        raise InvalidInput("--offset: give a number of 0 or more")
    if limit is not None:
        statement = statement.limit(limit)
    if offset:
        statement = statement.offset(offset)  # (SQLite's compiler adds LIMIT -1 when there is none)
    return statement


# the columns an INCIDENT is made of (`projections.queries.incident`), not the read models' own
INCIDENT_COLUMNS = ("id", "kind", "case_id", "on_date", "precision", "status", "roles", "sources", "place", "country",
                    "note", "recorded_at", "recorded_by", "key", *DETAILS, "position", "claims")


def incidents_statement(db: Db, f: Filters, sort: str = "on", limit: int | None = None,
                        offset: int | None = None) -> Select[Any]:
    """The incidents that pass the filters, as one statement (for `select` users: the same)."""
    i = read_tables(db.generation).incidents
    statement = select(*(i.c[name] for name in INCIDENT_COLUMNS)).where(*where_clauses(db, f))
    return _paged(statement.order_by(*_order(i, sort)), limit, offset)


def incidents(db: Db, f: Filters, sort: str = "on", limit: int | None = None, offset: int | None = None,
              names: bool = False) -> list[dict[str, Any]]:
    """INCIDENTs that pass the filters, in timeline order (or `sort`), paged; `names`: each with
    `"names"` for the entities in its roles, for the views people read."""
    found = incidents_of(db, fetch_rows(db, incidents_statement(db, f, sort, limit, offset)))
    if names:
        from projections.queries import named, names_of

        named(found, names_of(db, {ref for inc in found for refs in inc["roles"].values() for ref in refs}))
    return found


# ---------------------------------------------------------------------- one incident


def find_incident(db: Db, ref: str) -> dict[str, Any]:
    """An incident by its id or its key, as a read-model row (retracted ones too): NotFound."""
    from ledger.domain.values import as_incident_id, incident_id_for_key

    i = read_tables(db.generation).incidents
    ids = list(dict.fromkeys(x for x in (as_incident_id(ref), incident_id_for_key(ref)) if x))
    rows = fetch_rows(db, select(*(i.c[name] for name in INCIDENT_COLUMNS)).where(i.c.id.in_(ids)))
    if not rows:
        raise NotFound(f"no incident {ref}")
    return rows[0]


def incident_show(db: Db, ref: str) -> dict[str, Any]:
    """One INCIDENT and `"names"`: {ENTITY_ID: name} for every entity in its roles (a country by
    its name; a merged duplicate by the name of its survivor, as every view names it). The caller
    adds `"history"` from the log."""
    from projections.queries import names_of

    row = find_incident(db, ref)
    found = incident(row, publishers_of(db, [row]))
    ids = sorted({e for refs in found["roles"].values() for e in refs}
                 | {e for values in found["claims"].values() for v in values if isinstance(v["value"], list)
                    for e in v["value"]})  # the entities claims name too
    names = names_of(db, ids)
    found["names"] = {e: names.get(e, e) for e in ids}
    return found


# ---------------------------------------------------------------------- stats


def stats(db: Db, by: str = "kind", f: Filters | None = None, limit: int | None = None,
          offset: int | None = None) -> list[dict[str, Any]]:
    """Incidents counted by kind, country, year (of their start, UTC), case, source (each source
    an incident rests on) or actor (who recorded it), with the first and last date in timeline
    order: `{"key", "incidents", "first", "last"}`, most incidents first (years in order).
    Retracted incidents count nowhere; `f` narrows as `incidents` does."""
    if by not in STATS_BY:
        raise InvalidInput(f"--by {shown(by)}: use one of {', '.join(STATS_BY)}")
    f = f or filters()
    if "retracted" in f.status:
        raise InvalidInput("--status retracted: retracted incidents count nowhere in stats")
    t = read_tables(db.generation)
    i = t.incidents
    # the first and last in timeline order: the start (fixed width), then the date as given, whose
    # text puts a coarser date of the same start first (`2023` < `2023-12` < `2023-12-01`)
    ordered = i.c.on_start + i.c.on_date
    # A case or a source is grouped on an expression, not on its indexed column: SQLite would walk
    # that index to spare itself a sort, and fetch every incident at random, in its order; this way
    # it reads the incidents in the order they are stored (a source's: by their index by incident),
    # one and a half to twice as fast
    if by == "source":
        key: Any = t.incident_sources.c.source_id + ""
        source = i.join(t.incident_sources, t.incident_sources.c.incident == i.c.position)
    else:
        key = {"kind": i.c.kind, "country": i.c.country, "case": i.c.case_id + "", "actor": i.c.recorded_by,
               "year": func.substr(i.c.on_start, 1, 4)}[by]
        source = i
    statement = (select(key.label("key"), func.count().label("n"), func.min(ordered).label("first"),
                        func.max(ordered).label("last"))
                 .select_from(source).where(*where_clauses(db, f)).group_by(key))
    rows = [{"key": r["key"], "incidents": r["n"], "first": r["first"][19:], "last": r["last"][19:]}
            for r in fetch_rows(db, statement)]
    if by == "year":
        rows.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
    else:
        rows.sort(key=lambda r: (-r["incidents"], r["key"] is None, r["key"] or ""))
    start = offset or 0
    return rows[start:start + limit if limit is not None else None]


# ---------------------------------------------------------------------- sources


def _matching_publishers(db: Db, text: str) -> list[str]:
    """The publishers (as stored) whose name holds the words of `text` in a row, with case,
    accents, punctuation and script set aside (normality's normal form, transliterated to ASCII).
    Read over the distinct publishers only: far fewer than the sources."""
    from normality import normalize

    wanted = normalize(text, ascii=True)
    if not wanted:
        raise InvalidInput(f"--publisher {shown(text)}: give a name with letters or digits")
    s = read_tables(db.generation).sources
    names = [r["publisher"] for r in fetch_rows(db, select(s.c.publisher).distinct())]
    return [name for name in names if f" {wanted} " in f" {normalize(name, ascii=True) or ''} "]


def _by_id(db: Db, column: Any) -> Any:
    """Ordered by the id's bytes on both databases (PostgreSQL's default collation may not be)."""
    return column.collate("BINARY" if db.dialect == SQLITE else "C")


def _source_statement(db: Db) -> Select[Any]:
    """Each source's fields and `cited_by`: the incidents not retracted that rest on it, as they
    stand after corrections (one indexed count per source, so a page costs only its own)."""
    t = read_tables(db.generation)
    s, cited, i = t.sources, t.incident_sources, t.incidents
    count = (select(func.count()).select_from(cited.join(i, i.c.position == cited.c.incident))
             .where(cited.c.source_id == s.c.id, i.c.status != "retracted").scalar_subquery())
    return select(s.c.id, s.c.publisher, s.c.title, s.c.url, s.c.published, s.c.reliability, s.c.credibility,
                  count.label("cited_by"))


def sources(db: Db, publisher: str | None = None, min_grade: str | None = None, limit: int | None = None,
            offset: int | None = None) -> list[dict[str, Any]]:
    """`{"id", "publisher", "title", "url", "published", "reliability", "credibility", "cited_by"}`
    for every source (by id), or those of a publisher (`publisher`: words of its name, case and
    accents aside) or graded at least `min_grade` (`B2`), paged."""
    s = read_tables(db.generation).sources
    statement = _source_statement(db)
    if publisher is not None:
        statement = statement.where(s.c.publisher.in_(_matching_publishers(db, publisher)))
    if min_grade is not None:
        statement = statement.where(parse_grade(min_grade).clause(s))
    statement = _paged(statement.order_by(_by_id(db, s.c.id)), limit, offset)
    return fetch_rows(db, statement)


def source_show(db: Db, source_id: str) -> dict[str, Any]:
    """One source as `sources` gives it, with `"incidents"` (the ids of those not retracted that
    rest on it, in timeline order), `"amendments"` (each correction of it: the fields it changed,
    old and new, its reason, who and when) and `"claims"` (what it says about incidents' fields:
    none yet)."""
    import json

    t = read_tables(db.generation)
    s, cited, i = t.sources, t.incident_sources, t.incidents
    found = fetch_rows(db, _source_statement(db).where(s.c.id == source_id))
    if not found:
        raise NotFound(f"no source {source_id}")
    out = found[0]
    resting = (select(i.c.id).join(cited, cited.c.incident == i.c.position)
               .where(cited.c.source_id == source_id, i.c.status != "retracted")
               .order_by(i.c.on_start, i.c.precision_rank, i.c.position))
    out["incidents"] = [r["id"] for r in fetch_rows(db, resting)]
    a = t.source_amendments
    out["amendments"] = []
    for r in fetch_rows(db, select(a).where(a.c.source_id == source_id).order_by(a.c.position)):
        old, new = json.loads(r["old"]), json.loads(r["changes"])
        out["amendments"].append({
            "position": r["position"], "reason": r["reason"], "recorded_by": r["actor"],
            "recorded_at": r["recorded_at"],
            "changes": {k: {"old": old.get(k), "new": v} for k, v in new.items() if old.get(k) != v}})
    from projections.queries import claims_by_source

    out["claims"] = claims_by_source(db, source_id)
    return out


# ---------------------------------------------------------------------- links


@dataclass
class _Link:
    """One entity linked to the one asked about, as its shared incidents are gathered."""

    depth: int
    incidents: set[int]
    cases: set[str]
    roles: set[str]
    via: set[str]
    first: tuple[str, int, int, str] | None = None  # (on_start, precision rank, position, on date)
    last: tuple[str, int, int, str] | None = None


def _link_group(db: Db, entity: str) -> tuple[str, list[str]]:
    """(the entity's survivor, every id that stands for it); NotFound when there is none."""
    from ledger.domain.values import country_name

    if is_country_ref(entity):
        try:
            country_name(entity)
        except InvalidInput:
            raise NotFound(f"no entity {entity}") from None
        return entity, [entity]
    try:
        group = _entity_group(db, [entity])
    except InvalidInput:  # not even the form of an id: no such entity
        raise NotFound(f"no entity {entity}") from None
    return group[0], group


def _shared(db: Db, group: list[str], cases: list[str]) -> list[dict[str, Any]]:
    """The incidents not retracted (of these cases, when given) in which any of `group` fills a
    role: their position, case, date and roles."""
    t = read_tables(db.generation)
    i, roles = t.incidents, t.incident_roles
    statement = (select(i.c.position, i.c.case_id, i.c.on_date, i.c.on_start, i.c.precision_rank, i.c.roles)
                 .where(i.c.position.in_(select(roles.c.incident).where(roles.c.entity_id.in_(group))),
                        i.c.status != "retracted"))
    if cases:
        statement = statement.where(i.c.case_id.in_(cases))
    return fetch_rows(db, statement)


def _merge_groups(db: Db, survivors: list[str]) -> list[str]:
    """These entities and every id merged (directly or not) into them."""
    e = read_tables(db.generation).entities
    found = list(survivors)
    frontier = [s for s in survivors if not is_country_ref(s)]
    while frontier:
        rows = fetch_rows(db, select(e.c.id).where(e.c.merged_into.in_(frontier)))
        frontier = [r["id"] for r in rows if r["id"] not in found]
        found += frontier
    return found


def _gather(db: Db, rows: list[dict[str, Any]], depth: int, skip: set[str], links: dict[str, _Link],
            via: set[str] | None = None) -> None:
    """Fold shared incidents into `links`: every entity in their roles (a duplicate as its
    survivor) but those in `skip`; `via`: the entities through which they link (depth 2)."""
    import json

    parsed = [(row, json.loads(row["roles"])) for row in rows]
    survivor = survivors_of(db, {ref for _row, rs in parsed for refs in rs.values() for ref in refs})
    for row, rs in parsed:
        order = (row["on_start"], row["precision_rank"], row["position"], row["on_date"])
        present = {survivor[ref] for refs in rs.values() for ref in refs}
        through = present & via if via is not None else set()
        for role, refs in rs.items():
            for ref in refs:
                linked = survivor[ref]
                if linked in skip:
                    continue
                link = links.setdefault(linked, _Link(depth, set(), set(), set(), set()))
                link.incidents.add(row["position"])
                link.cases.add(row["case_id"])
                link.roles.add(role)
                link.via |= through
                link.first = order if link.first is None else min(link.first, order)
                link.last = order if link.last is None else max(link.last, order)


def links(db: Db, entity: str, depth: int = 1, cases: str | Iterable[str] | None = None,
          limit: int | None = None, offset: int | None = None) -> list[dict[str, Any]]:
    """The entities that share incidents (not retracted; of `cases`, when given) with `entity`,
    following merges (a duplicate counts as its survivor, and `entity` may be a duplicate's id);
    at depth 2 also the entities that share incidents with those. Countries link too, but are
    not followed to depth 2 (most incidents share one): `{"id", "name", "kind", "incidents",
    "cases", "roles", "first", "last", "depth", "via"}`, nearer first, then most shared, then by id;
    `via`: the entities of depth 1 a depth-2 link goes through."""
    if depth not in (1, 2):
        raise InvalidInput(f"--depth {shown(depth)}: use 1 or 2")
    _paged(select(), limit, offset)  # refuses a negative limit or offset, as every list read does
    wanted = _many(cases)
    if wanted:
        _known(db, read_tables(db.generation).cases, wanted, "case")
    survivor, group = _link_group(db, entity)
    found: dict[str, _Link] = {}
    _gather(db, _shared(db, group, wanted), 1, {survivor}, found)
    if depth == 2:
        first = sorted(ref for ref in found if not is_country_ref(ref))
        if first:
            rows = _shared(db, _merge_groups(db, first), wanted)
            _gather(db, rows, 2, {survivor, *found}, found, via=set(first))
    names = _names(db, set(found))
    out: list[dict[str, Any]] = [{"id": ref, "name": names.get(ref, (ref, ""))[0], "kind": names.get(ref, (ref, ""))[1],
            "incidents": len(link.incidents), "cases": sorted(link.cases), "roles": sorted(link.roles),
            "first": link.first[3] if link.first else None, "last": link.last[3] if link.last else None,
            "depth": link.depth, "via": sorted(link.via)}
           for ref, link in found.items()]
    out.sort(key=lambda d: (d["depth"], -d["incidents"], d["id"]))
    start = offset or 0
    return out[start:start + limit if limit is not None else None]


def _names(db: Db, ids: set[str]) -> dict[str, tuple[str, str]]:
    """id -> (name, kind), for entities and countries alike."""
    from ledger.domain.values import COUNTRY_KIND, country_name

    found = {ref: (country_name(ref), COUNTRY_KIND) for ref in ids if is_country_ref(ref)}
    users = sorted(ids - set(found))
    if users:
        e = read_tables(db.generation).entities
        found.update((r["id"], (r["name"], r["kind"]))
                     for r in fetch_rows(db, select(e.c.id, e.c.name, e.c.kind).where(e.c.id.in_(users))))
    return found
