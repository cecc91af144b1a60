"""Search: names, aliases and ids of entities, titles (and ids) of cases and sources, the text of
incidents (notes, places, reasons, charges...) and, through the entities in their roles, the
names of who took part; `ledger search`, `incidents --text`, `entity show NAME`.

Words are compared as `projections.terms` normalises them (rigour and normality: case, accents,
punctuation and script do not matter), and the words of names and titles also by sound (a
romanisation spelled otherwise: `han thae-song` finds `Han Tae-song`). The projector keeps the
search index: read-model table `search_names` (a row per entity, case and source: words and
Soundex keys), in which each database's full-text index finds the candidates (SQLite's FTS5,
PostgreSQL's GIN indexes over tsvectors: `projections.schema.FULL_TEXT`, `_matching`), and each
incident's `words` (of its note, place and text details), read whole (`_has_words`). Every word
asked must be there, whole, as the start of a word (three letters or more) or, in names and
titles, by its Soundex key.

The candidates (at most `CANDIDATES` of each type, or four times what the page reaches, the
latest recorded first) are then scored here, the same on both databases, from the text as the
read models hold it, field by field: each word asked counts 1 found whole, 0.8 by sound
(`projections.terms.alike`: the same Soundex key and at most one edit in three letters), 0.6 as
the start of a word; the field's score is their mean, times 0.5 plus half the share of the
field's words that were asked (a name matched whole beats a title that mentions it); an id counts
0.8 of a name. An entity merged into another answers as its survivor (field `merged_from`). An
incident found through an entity (or one merged into it) in one of its roles scores 0.8 of that
entity (field: the role). Retracted incidents are left out. Best first; ties by type (entities,
cases, sources, incidents), label and id.

The statements are SQLAlchemy Core over `projections.tables`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    cast,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy.sql.expression import CTE

from ledger.domain.kinds import DETAILS
from ledger.domain.values import shown
from ledger.errors import InvalidInput, NotFound, Refused
from projections import terms
from projections.asking import fetch_rows
from projections.database import FTS5_KEY, SQLITE
from projections.queries import Db, survivors_of
from projections.tables import read_tables

TYPES = ("entity", "case", "source", "incident")
EXACT, SOUND, PREFIX = 1.0, 0.8, 0.6
ROLE = 0.8  # an incident found through an entity in one of its roles: that entity's score times this
ID = 0.8  # a match of an id (of an entity, case or source) counts this much of a name's or title's
CANDIDATES = 250  # of each type, before scoring; more when a page reaches further
PREFIX_FROM = 3  # a word this long or longer also matches the words it begins
TEXT_DETAILS = tuple(name for name, kind in DETAILS.items() if kind in ("text", "para"))
ENTITY_FIELDS = ("name", "alias", "id", "merged_from")  # their order breaks ties within an entity


@dataclass(frozen=True)
class Word:
    """A word asked for: as the index holds words, its Soundex key (None: not matched by sound),
    and whether it also matches the words it begins."""

    text: str
    sound: str | None
    prefix: bool


def asked(text: str, sounds: bool = True, prefixes: bool = True) -> list[Word]:
    """The words of a search, each once, in order."""
    return [Word(word, terms.sound(word) if sounds else None, prefixes and len(word) >= PREFIX_FROM)
            for word in dict.fromkeys(terms.words(text))]


# ---------------------------------------------------------------------- the full-text match


def _matching(names: Any, dialect: str, words: list[Word]) -> Select[Any]:
    """The positions of the rows of search_names (`names`) that hold every word (by sound too, for
    a word with a sound key), through the database's full-text index."""
    if dialect == SQLITE:
        fts = table(names.name + "_fts", column(FTS5_KEY))
        query = " AND ".join(f'(words : "{w.text}"{"*" if w.prefix else ""}'
                             + (f' OR sounds : "{w.sound}")' if w.sound else ")") for w in words)
        return select(fts.c[FTS5_KEY]).where(literal_column(fts.name).op("MATCH")(query))
    # PostgreSQL: the expressions of the GIN indexes (projections.schema.FULL_TEXT), as tsqueries of
    # words normalised already (letters and digits only)
    from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

    def has(column: Any, query: str) -> ColumnElement[bool]:
        return cast(column, TSVECTOR).op("@@")(cast(literal(query), TSQUERY))

    c = names.c
    plain = [w.text + (":*" if w.prefix else "") for w in words]
    return select(c.position).where(and_(*(or_(has(c.words, text), has(c.sounds, w.sound)) if w.sound
                                           else has(c.words, text) for w, text in zip(words, plain))))


def _has_words(incidents: Any, dialect: str, words: list[Word]) -> ColumnElement[bool]:
    """True for the incidents whose `words` hold every word (or, for a word with `prefix`, a word
    it begins): read whole, row by row (projections.schema.FULL_TEXT says why)."""
    padded = literal(" ") + incidents.c.words + literal(" ")
    find = func.instr if dialect == SQLITE else func.strpos
    return and_(*(find(padded, f" {w.text}" + ("" if w.prefix else " ")) > 0 for w in words))


# ---------------------------------------------------------------------- scoring


def score(words: list[Word], text: str | None, by_sound: bool) -> float:
    """How well one field matches every word asked (0: not every word is there)."""
    tokens = list(dict.fromkeys(terms.words(text)))
    if not tokens:
        return 0.0
    total = 0.0
    for w in words:
        best = 0.0
        for token in tokens:
            if token == w.text:
                best = EXACT
                break
            if by_sound and w.sound is not None and terms.alike(w.text, token):
                best = max(best, SOUND)
            elif w.prefix and token.startswith(w.text):
                best = max(best, PREFIX)
        if not best:
            return 0.0
        total += best
    return round(total / len(words) * (0.5 + 0.5 * min(1.0, len(words) / len(tokens))), 3)


def _best(words: list[Word], fields: Iterable[tuple[str, str | None]], by_sound: bool) -> tuple[float, str]:
    """The best-matching field: (score, field); the first of equal ones. An id counts `ID` of a
    name: a name that matches as well is the better answer to show."""
    found = (0.0, "")
    for name, text in fields:
        s = round(score(words, text, by_sound) * (ID if name == "id" else 1.0), 3)
        if s > found[0]:
            found = (s, name)
    return found


@dataclass
class Hit:
    type: str
    id: str
    label: str
    field: str
    score: float

    def row(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "label": self.label, "field": self.field, "score": self.score}


# ---------------------------------------------------------------------- search


def search(db: Db, text: str, types: Iterable[str] = (), limit: int | None = 20,
           offset: int | None = 0) -> list[dict[str, Any]]:
    """`ledger search`: `{"type", "id", "label", "field", "score"}` of what matches every word of
    `text`, best first; `types`: only these (entity, case, source, incident)."""
    wanted = list(dict.fromkeys(types)) or list(TYPES)
    for kind in wanted:
        if kind not in TYPES:
            raise InvalidInput(f"--type {shown(kind)}: use one of {', '.join(TYPES)}")
    words = asked(text)
    if not words:
        raise InvalidInput(f"search {shown(text)}: no words to look for")
    offset = offset or 0
    many = max(CANDIDATES, 4 * (offset + limit)) if limit is not None else None
    t = read_tables(db.generation)
    hits: list[Hit] = []
    entities: dict[str, Hit] = {}
    if "entity" in wanted or "incident" in wanted:
        entities = _entities(db, t, words, many)
    if "entity" in wanted:
        hits += entities.values()
    for kind, things in (("case", t.cases), ("source", t.sources)):
        if kind in wanted:
            statement = select(things.c.id, things.c.title)
            rows = fetch_rows(db, _candidates(statement, things, db, t, words, many))
            hits += [Hit(kind, r["id"], r["title"], field, s) for r in rows
                     for s, field in [_best(words, (("title", r["title"]), ("id", r["id"])), by_sound=True)] if s]
    if "incident" in wanted:
        hits += _incidents(db, t, words, entities, many)
    hits.sort(key=lambda h: (-h.score, TYPES.index(h.type), h.label, h.id))
    return [h.row() for h in hits[offset:None if limit is None else offset + limit]]


def _candidates(statement: Select[Any], things: Any, db: Db, t: Any, words: list[Word],
                many: int | None) -> Select[Any]:
    """A statement over one table, narrowed to the rows that hold every word (incidents: in their
    words; entities, cases, sources: in their row of search_names), the latest first."""
    if things is t.incidents:
        statement = statement.where(_has_words(things, db.dialect, words))
    else:
        statement = statement.where(things.c.position.in_(_matching(t.search_names, db.dialect, words)))
    return statement.order_by(things.c.position.desc()).limit(many)


def _entities(db: Db, t: Any, words: list[Word], many: int | None) -> dict[str, Hit]:
    """The entities that match, by survivor: a duplicate's match counts for the entity it was
    merged into (field `merged_from`)."""
    e = t.entities
    rows = fetch_rows(db, _candidates(select(e.c.id, e.c.name, e.c.aliases), e, db, t, words, many))
    survivors = survivors_of(db, {r["id"] for r in rows})
    names = {r["id"]: r["name"] for r in rows}
    missing = sorted(set(survivors.values()) - set(names))
    if missing:
        names.update((r["id"], r["name"]) for r in fetch_rows(db, select(e.c.id, e.c.name).where(e.c.id.in_(missing))))
    found: dict[str, Hit] = {}
    for r in rows:
        fields = [("name", r["name"]), *(("alias", a) for a in json.loads(r["aliases"])), ("id", r["id"])]
        s, field = _best(words, fields, by_sound=True)
        if not s:
            continue
        survivor = survivors[r["id"]]
        field = field if survivor == r["id"] else "merged_from"
        hit = Hit("entity", survivor, names.get(survivor, survivor), field, s)
        known = found.get(survivor)
        if known is None or (hit.score, -ENTITY_FIELDS.index(field)) > (known.score, -ENTITY_FIELDS.index(known.field)):
            found[survivor] = hit
    return found


def _incidents(db: Db, t: Any, words: list[Word], entities: dict[str, Hit], many: int | None) -> list[Hit]:
    """Incidents whose own text matches (words whole or as prefixes, not by sound), and those with
    a matching entity (or one merged into it) in a role; each once, by its best match."""
    i = t.incidents
    text_columns = ("note", "place", *TEXT_DETAILS)
    plain = [Word(w.text, None, w.prefix) for w in words]
    found: dict[str, Hit] = {}

    def keep(hit: Hit) -> None:
        known = found.get(hit.id)
        if known is None or hit.score > known.score:
            found[hit.id] = hit

    statement = select(i.c.id, i.c.kind, i.c.on_date, *(i.c[name] for name in text_columns))
    statement = _candidates(statement.where(i.c.status != "retracted"), i, db, t, plain, many)
    for r in fetch_rows(db, statement):
        s, field = _best(plain, ((name, r[name]) for name in text_columns), by_sound=False)
        if s:
            keep(Hit("incident", r["id"], f"{r['kind']} {r['on_date']}", field, s))
    if entities:
        group = _merged_into(db, t, set(entities))
        roles = t.incident_roles
        statement = (select(i.c.id, i.c.kind, i.c.on_date, roles.c.role, roles.c.entity_id)
                     .join(roles, roles.c.incident == i.c.position)
                     .where(roles.c.entity_id.in_(sorted(group)), i.c.status != "retracted")
                     .order_by(i.c.position.desc(), roles.c.role, roles.c.entity_id).limit(many))
        for r in fetch_rows(db, statement):
            s = round(entities[group[r["entity_id"]]].score * ROLE, 3)
            keep(Hit("incident", r["id"], f"{r['kind']} {r['on_date']}", r["role"], s))
    return list(found.values())


def _merged_into(db: Db, t: Any, survivors: set[str]) -> dict[str, str]:
    """Each of these survivors to itself, and every entity merged (directly or not) into one of
    them to that one: one query per step of the merge chains."""
    e = t.entities
    group = {ref: ref for ref in survivors}
    frontier = sorted(survivors)
    while frontier:
        rows = fetch_rows(db, select(e.c.id, e.c.merged_into).where(e.c.merged_into.in_(frontier)))
        frontier = sorted(r["id"] for r in rows if r["id"] not in group)
        group.update((r["id"], group[r["merged_into"]]) for r in rows if r["id"] in frontier)
    return group


# ---------------------------------------------------------------------- incidents --text


def incident_text_clause(t: Any, words: str, dialect: str) -> ColumnElement[bool]:
    """Over `t.incidents` (`t`: `projections.tables.read_tables(generation)`): true for the
    incidents whose note, place or text details (a reason, a charge...), or the names, aliases or
    ids of the entities in their roles (or of those merged with them), hold every one of the
    words, whole, without regard to case, accents or script (`incidents --text`)."""
    wanted = asked(words, sounds=False, prefixes=False)
    if not wanted:
        raise InvalidInput(f"--text {shown(words)}: no words to look for")
    i, e, roles = t.incidents, t.entities, t.incident_roles
    group = _merge_group(e, select(e.c.id).where(e.c.position.in_(_matching(t.search_names, dialect, wanted))))
    named = select(roles.c.incident).where(roles.c.entity_id.in_(select(group.c.id)))
    clause: ColumnElement[bool] = or_(_has_words(i, dialect, wanted), i.c.position.in_(named))
    return clause


def _merge_group(e: Any, matched: Select[Any]) -> CTE:
    """The ids of these entities, of those they were merged into (to the last survivor) and of
    every entity merged into any of those: all the ids that stand for the same things."""
    up = matched.cte("search_merged_up", recursive=True)
    above = e.alias("search_above")
    up = up.union(select(above.c.merged_into).where(above.c.id == up.c.id, above.c.merged_into.is_not(None)))
    down = select(up.c.id).cte("search_merge_group", recursive=True)
    below = e.alias("search_below")
    return down.union(select(below.c.id).where(below.c.merged_into == down.c.id))


# ---------------------------------------------------------------------- entity show NAME


def entity_named(db: Db, name: str) -> str:
    """The one entity (a survivor of merges) that `name` names: a name or alias of it, or of one
    merged into it, equal to `name` word for word once normalised, or failing that word for a
    word that sounds alike (`projections.terms.alike`). NotFound when none does; Refused, listing
    them, when several do."""
    words = [Word(word, terms.sound(word), False) for word in terms.words(name)]
    if not words:
        raise NotFound(f"no entity {name}")
    t = read_tables(db.generation)
    e = t.entities
    for by_sound in (False, True):
        query = words if by_sound else [Word(w.text, None, False) for w in words]
        rows = fetch_rows(db, select(e.c.id, e.c.name, e.c.aliases).where(
            e.c.position.in_(_matching(t.search_names, db.dialect, query))).order_by(e.c.id))
        named = [r["id"] for r in rows
                 if any(_same(words, n, by_sound) for n in (r["name"], *json.loads(r["aliases"])))]
        survivors = sorted(set(survivors_of(db, set(named)).values()))
        if len(survivors) == 1:
            return survivors[0]
        if survivors:
            labels = {r["id"]: r["name"] for r in fetch_rows(db, select(e.c.id, e.c.name).where(
                e.c.id.in_(survivors)))}
            listed = ", ".join(f"{ref} ({labels.get(ref, ref)})" for ref in survivors)
            raise Refused(f"{shown(name)} names {len(survivors)} entities: {listed}; give one of their ids")
    raise NotFound(f"no entity {name}")


def _same(words: list[Word], text: str, by_sound: bool) -> bool:
    tokens = terms.words(text)
    if len(tokens) != len(words):
        return False
    if not by_sound:
        return all(w.text == token for w, token in zip(words, tokens))
    return all(w.text == token or terms.alike(w.text, token) for w, token in zip(words, tokens))
