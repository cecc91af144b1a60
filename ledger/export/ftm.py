"""The ledger as FollowTheMoney entities, built with the `followthemoney` package's own model.

Mapping: a case is a Project; an incident an Event (its date at its own precision, since FtM dates
are prefixes: 1992, 2023-12, 2023-12-07); a source a Document, cited by the Event's `proof`; a
person, organization, vehicle, vessel, goods or place a Person, Organization, Vehicle, Vessel, Asset
or Address. Every role is an UnknownLink from the Event to the entity with the role's name, because
FtM's `involved` and `organizer` take legal entities only; legal entities are `involved` as well,
and an authority is the `organizer`. Countries in a role go to the Event's `country`.

What FtM cannot say, and how it is handled: corrections and retractions (it holds one current
view) — the Event carries the corrected values, retracted incidents are left out, and `notes` gives
every correction: the fields with their old and new values, the reason, the sources that prompted
it, who made it and when; the Admiralty grading — in the Document's `notes`; recording time and
actor — in `notes` ("recorded by ... at ..."); a seizure's value — the Event's `description` (FtM's
amounts belong to things, and the value is the incident's claim, not the item's); merges — the
duplicate's id and name become the survivor's alias, and an Event's `description` names the
survivor (with the id as recorded); contested claims (FtM keeps one value of a property, and
followthemoney's statements one per source, without a standing) — every claimed value of a field
in `notes`, with its sources, its standing (accepted, standing, refuted), the reason and the
quotes; the sources of claims are Documents too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from ledger.domain.kinds import EVENT_CODES, shown_details
from ledger.domain.values import is_country_ref
from projections.queries import (
    Db,
    case_rows,
    claims_of,
    corrections,
    entity_rows,
    merged_from,
    publishers_of,
    source_rows,
    survivors_of,
    timeline,
)

SCHEMA = {"person": "Person", "organization": "Organization", "vehicle": "Vehicle", "vessel": "Vessel",
          "goods": "Asset", "place": "Address"}
IDENTIFIER_PROPS = {"imo": "imoNumber", "mmsi": "mmsi", "callsign": "callSign", "registration": "registrationNumber",
                    "make": "model", "model": "model", "passport": "passportNumber", "lei": "leiCode"}
PREFIX = "ledger"


def _row(row: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**row)


def _id(kind: str, ident: str) -> str:
    return f"{PREFIX}-{kind}-{ident}"


def chunks(db: Db, case: str | None = None) -> list[str]:
    """The entities as JSON Lines, one entity a line, keys sorted."""
    return [json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in ftm_entities(db, case)]


def ftm_entities(db: Db, case: str | None = None) -> Iterator[dict[str, Any]]:
    from followthemoney import model

    incidents = timeline(db, case=case)  # retracted ones left out: FtM holds the current view
    needed_sources = {s for inc in incidents for s in inc["sources"]}
    needed_sources |= {s for inc in incidents for values in inc["claims"].values() for v in values
                       for s in v["sources"]}
    cases = case_rows(db, case)
    case_claims: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for case_row in cases:
        own = json.loads(case_row["sources"]) if case_row.get("sources") else []
        case_claims[case_row["id"]] = claims_of(case_row, own, publishers_of(db, [case_row]))["claims"]
        needed_sources |= {s for values in case_claims[case_row["id"]].values() for v in values for s in v["sources"]}
    needed_entities = {r for inc in incidents for refs in inc["roles"].values() for r in refs if not is_country_ref(r)}
    survivors = survivors_of(db, needed_entities)
    for row in map(_row, cases):
        project = model.make_entity("Project")
        project.id = _id("case", row.id)
        project.add("name", row.title)
        project.add("projectId", row.id)
        project.add("status", row.status)
        project.add("summary", row.summary)
        project.add("country", row.jurisdiction)
        project.add("program", row.regime)
        project.add("notes", claim_notes(case_claims[row.id]))
        yield project.to_dict()

    for row in map(_row, source_rows(db, sorted(needed_sources))):
        doc = model.make_entity("Document")
        doc.id = _id("source", row.id)
        doc.add("title", row.title)
        doc.add("publisher", row.publisher)
        doc.add("publishedAt", row.published)
        doc.add("sourceUrl", row.url)
        if row.reliability or row.credibility:
            doc.add("notes", f"Admiralty grading {row.reliability or '?'}{row.credibility or '?'} "
                             f"(source reliability {row.reliability or 'not given'}, "
                             f"information credibility {row.credibility or 'not given'})")
        yield doc.to_dict()

    absorbed = {s: merged_from(db, s) for s in set(survivors.values())}
    wanted = set(absorbed) | {d for dups in absorbed.values() for d in dups}
    rows = {r.id: r for r in map(_row, entity_rows(db, sorted(wanted)))}
    for row in rows.values():
        if row.merged_into:
            continue
        thing = model.make_entity(SCHEMA[row.kind])
        thing.id = _id("entity", row.id)
        thing.add("name" if row.kind != "place" else "full", row.name)
        if row.kind == "place":
            thing.add("name", row.name)
        thing.add("alias", json.loads(row.aliases))
        thing.add("country", row.country)
        for scheme, value in json.loads(row.identifiers).items():
            prop = IDENTIFIER_PROPS.get(scheme.lower())
            if prop and prop in thing.schema.properties:
                thing.add(prop, value)
            else:
                thing.add("notes", f"identifier {scheme}={value}")
        for dup in (rows[d] for d in absorbed.get(row.id, []) if d in rows):
            thing.add("alias", dup.name)
            thing.add("notes", f"merged from ledger entity {dup.id}: {dup.merge_reason}")
        yield thing.to_dict()

    legal = {e for e, r in rows.items() if r.kind in ("person", "organization")}
    fixes: dict[str, list[str]] = {}
    for fix in corrections(db, sorted(inc["id"] for inc in incidents)):
        fixes.setdefault(fix["incident"], []).append(_correction_note(fix))
    for inc in incidents:
        yield from _event(model, inc, survivors, legal, rows, fixes.get(inc["id"], []))


def claim_notes(claimed: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every claimed value of a field, with its sources (FtM holds one value of a property; the
    claims that disagree with it, or agree, are kept here): `claim FIELD = VALUE by SOURCES:
    STATUS[, corroborated][; reason: ...][; quote (SOURCE): ...]`."""
    from ledger.domain.claims import shown_value

    notes = []
    for field, values in claimed.items():
        for v in values:
            note = (f"claim {field} = {shown_value(v['value'])} by {', '.join(v['sources']) or 'the case as opened'}: "
                    f"{v['status']}" + (", corroborated" if v["corroborated"] else ""))
            note += f"; reason: {v['reason']}" if v["reason"] else ""
            note += "".join(f"; quote ({b['source']}): {b['quote']}" for b in v["by"] if b["quote"])
            notes.append(note)
    return notes


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _correction_note(fix: dict[str, Any]) -> str:
    """One correction as a note: `amended at position N by ACTOR at TIME: FIELD OLD -> NEW; ...;
    reason: ...; prompted by: SOURCES`."""
    changes, old, sources = fix["changes"], fix["old"], fix["sources"]
    what = "; ".join(f"{field} {_text(old.get(field))} -> {_text(new)}" for field, new in changes.items())
    note = f"{fix['type']} at position {fix['position']} by {fix['recorded_by']} at {fix['recorded_at']}"
    note += f": {what}" if what else ""
    note += f"; reason: {fix['reason']}"
    return note + (f"; prompted by: {', '.join(sources)}" if sources else "")


def _event(model: Any, inc: dict[str, Any], survivors: dict[str, str], legal: set[str],
           rows: dict[str, Any], corrections: list[str]) -> Iterator[dict[str, Any]]:
    codes = EVENT_CODES[inc["kind"]]
    event = model.make_entity("Event")
    event.id = _id("incident", inc["id"])
    event.add("name", f"{inc['kind'].capitalize()}, {inc['on']}")
    event.add("date", inc["on"])
    event.add("summary", inc.get("note"))
    event.add("location", inc.get("place"))
    event.add("country", inc.get("country"))
    event.add("recordId", inc["id"])
    event.add("keywords", [inc["kind"], f"CAMEO:{codes['cameo']}", f"PLOVER:{codes['plover']}"]
              + ([f"PLOVER-mode:{codes['plover_mode']}"] if codes["plover_mode"] else []))
    event.add("proof", [_id("source", s) for s in inc["sources"]])
    def named(ref: str) -> str:  # a merged duplicate stands for its survivor
        survivor = survivors.get(ref, ref)
        return ref if survivor == ref else f"{survivor} (recorded as {ref})"

    details = [f"{role}: {', '.join(map(named, refs))}" for role, refs in inc["roles"].items()]
    details += [f"{d['name']}: {d['plain']}" for d in shown_details(inc["kind"], inc)]
    event.add("description", "; ".join(details))
    event.add("notes", f"case {inc['case']}; precision {inc['precision']}; status {inc['status']}; "
                       f"recorded by {inc['recorded_by']} at {inc['recorded_at']}")
    for note in corrections:
        event.add("notes", note)
    event.add("notes", claim_notes(inc["claims"]))
    links = []
    for role, refs in inc["roles"].items():
        for ref in refs:
            if is_country_ref(ref):
                event.add("country", ref)
                continue
            target = survivors.get(ref, ref)
            if target in legal:
                event.add("organizer" if role == "authority" else "involved", _id("entity", target))
            link = model.make_entity("UnknownLink")
            link.id = _id("role", f"{inc['id']}-{role}-{target}")
            link.add("subject", event.id)
            link.add("object", _id("entity", target))
            link.add("role", role)
            link.add("date", inc["on"])
            links.append(link.to_dict())
    case = model.make_entity("UnknownLink")
    case.id = _id("in-case", inc["id"])
    case.add("subject", _id("case", inc["case"]))
    case.add("object", event.id)
    case.add("role", "incident")
    yield event.to_dict()
    yield case.to_dict()
    yield from links

