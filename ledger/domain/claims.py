"""Contested claims: what each source says about a field, side by side, and which value stands.

Every rule of claims is here, as pure functions over a small JSON state, so that the aggregates
(which check the rules before an event) and the projector (which builds the read models from the
stored events, without the domain's objects) apply the same ones and cannot drift apart.

- A *claim* is what one source says about one or more fields of an incident or a case. The fields
  a claim can set are those `amend` takes (a case's: title, jurisdiction, regime, summary); some
  go together and count as one *field* of a claim: an amount and its currency (`value`), a date
  and its precision (`on`).
- The target as recorded is the claim of its own sources (a case's, of the sources it was opened
  with, or of nobody when it names none): its *own* value of a field is snapshotted when the field
  is first claimed, with the sources it then rests on (a later change of the incident's sources
  does not make them say it). An `amend` of a claimed field is the analyst's own correction: it
  becomes the own value, the prompting sources' (none named: the analyst's alone), it takes back
  an earlier accept, and what the sources of the old value said stays theirs, as their claims.
  An empty value is no claim: a source claims something.
- One source says one thing about a field: a second claim by the same source with another value
  is refused (a corrected article is a new source), and so is a claim by one of the target's own
  sources that contradicts the recorded value (that is an `amend`, with a reason).
- `accept` makes one source's claim the field's value, with a reason; `refute` marks one source's
  claim wrong, with a reason: it is kept and shown, and no longer counts. The accepted claim
  cannot be refuted (accept another first); a refuted claim can be accepted (the analyst changed
  their mind).
- A field is *disputed* while no claim of it is accepted and the claims that stand give more than
  one value, or its value as it stands rests only on refuted claims while another claim stands.
  It is *contested* when its claims give more than one value at all (refuted ones too):
  `disputes` and the report's "Contested facts" list those.
- *Corroborated*: a value given by sources of two different publishers (two articles of one outlet
  are one voice). Publishers are the sources' as they stand, so it is worked out when read.

The state is `{"claims": [...], "own": {field: value}, "own_sources": {field: [source...]},
"own_at": {field: position}, "accepted": {field: {...}}, "refuted": {field: {source: {...}}},
"amended": bool}`; values are in their stored form (a role's: a list of entity ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledger.domain.kinds import KINDS, a, amendable_fields
from ledger.errors import InvalidInput, Refused

CASE_FIELDS = ("title", "jurisdiction", "regime", "summary")
CASE_TARGET = "case:"
NOT_CLAIMED = ("sources", "note")  # a claim's TARGET that names a case: `case:chiba-lexus`


def fields_of(kind: str | None) -> dict[str, tuple[str, ...]]:
    """The fields a claim on an incident of this kind (None: a case) can set, each with the stored
    fields it sets together: `value` with `currency`, `on` with `precision`. Those `amend` takes
    but its sources (which sources an incident rests on is no source's claim) and its note (the
    analyst's own words)."""
    if kind is None:
        return {name: (name,) for name in CASE_FIELDS}
    units = {d.unit_of: d.name for d in KINDS[kind].details if d.unit_of}
    unit_names = set(units.values())
    out: dict[str, tuple[str, ...]] = {}
    for name in amendable_fields(kind):
        if name in unit_names or name in NOT_CLAIMED:
            continue
        out[name] = (name, "precision") if name == "on" else (name, units[name]) if name in units else (name,)
    return out


def field_named(kind: str | None, name: str) -> str:
    """A claim's field from a name the user gave: `currency` is claimed with `value`."""
    fields = fields_of(kind)
    for field, stored in fields.items():
        if name == field or (name in stored and name != "precision"):
            return field
    what = "a case" if kind is None else a(kind)
    raise InvalidInput(f"{name!r} is not a field a source claims of {what}: one of {', '.join(fields)}"
                       + (" (currency with value)" if "value" in fields else ""))


def claimed_fields(kind: str | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The claim's fields and each one's value, from its changes in stored form. Fields that go
    together are claimed together (an amount with its currency): one alone is refused."""
    out: dict[str, Any] = {}
    for field, stored in fields_of(kind).items():
        given = [name for name in stored if name in changes]
        if not given:
            continue
        missing = [name for name in stored if name not in changes and name != "precision"]
        if missing:
            raise InvalidInput(f"{' and '.join(stored)} are claimed together: give {', '.join(missing)} too")
        out[field] = value_of(stored, changes)
    return out


def value_of(stored: tuple[str, ...], values: Mapping[str, Any]) -> Any:
    """A field's value as a claim shows it: the one stored field's, or, for an amount, `{"value":
    70000, "currency": "USD"}` (a date's precision goes without saying: it is in its text)."""
    shown = [name for name in stored if name != "precision"]
    if len(shown) == 1:
        return values.get(shown[0])
    return {name: values.get(name) for name in shown}


def changes_of(kind: str | None, field: str, value: Any) -> dict[str, Any]:
    """The stored fields a field's value sets (the inverse of `value_of`, but for precision, which
    the caller derives from the date)."""
    stored = [name for name in fields_of(kind)[field] if name != "precision"]
    return dict(value) if len(stored) > 1 else {stored[0]: value}


def same(a: Any, b: Any) -> bool:
    """Two values of a field are the same claim: ids in any order, numbers of equal value."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


# ------------------------------------------------------------------ the state and its changes


def new_state() -> dict[str, Any]:
    return {"claims": [], "own": {}, "own_sources": {}, "own_at": {}, "accepted": {}, "refuted": {},
            "amended": False}


def _claimants(state: Mapping[str, Any], field: str) -> dict[str, Any]:
    """Source -> the value its explicit claim gives for a field."""
    return {c["source"]: c["fields"][field] for c in state["claims"] if field in c["fields"]}


def _quote(state: Mapping[str, Any], field: str, source: str) -> str | None:
    return next((c.get("quote") for c in state["claims"] if c["source"] == source and field in c["fields"]), None)


def _behind(state: Mapping[str, Any], field: str, own_sources: Iterable[str],
            own_by: Mapping[str, list[str] | None] | None) -> list[str]:
    """The sources of a field's own value: as remembered once it is claimed; before that, those an
    amendment of it named (`own_by`; none named: the analyst's own value), else the target's."""
    if field in state["own"]:
        return list(state["own_sources"][field])
    by = (own_by or {}).get(field)
    return list(by if by is not None else own_sources)


def check_claim(state: Mapping[str, Any], claimed: Mapping[str, Any], source: str, quote: str | None,
                own_sources: Iterable[str], own: Mapping[str, Any],
                own_by: Mapping[str, list[str] | None] | None = None) -> bool:
    """Whether a claim adds anything (False: every field already claimed so by this source, with
    the same quote); refused when the source already claims a field otherwise (or quotes it
    otherwise), or is a source of the field's own value and contradicts it (`own_by`: the sources
    an amendment of a field named)."""
    own_sources, new = list(own_sources), False
    for field, value in claimed.items():
        if value is None or value == []:
            raise InvalidInput(f"a claim gives a value: {field} is empty")
        before = _claimants(state, field).get(source)
        if before is not None:
            if not same(before, value):
                raise Refused(f"source {source} already claims {field} = {shown_value(before)}: a source says "
                              "one thing about a field (a corrected report is a source of its own)")
            if quote is not None and quote != _quote(state, field, source):
                raise Refused(f"source {source} already claims {field} = {shown_value(before)}, quoted otherwise: "
                              "a claim is recorded once, with its quote")
            continue
        if source in _behind(state, field, own_sources, own_by):
            recorded = state["own"].get(field, own.get(field))
            if recorded is not None and recorded != [] and not same(recorded, value):  # (empty: said nothing)
                raise Refused(f"source {source} is a source of the value recorded for {field}, "
                              f"{shown_value(recorded)}: to correct that, amend it with a reason")
        new = True
    return new


def claimed(state: dict[str, Any], claimed: Mapping[str, Any], source: str, quote: str | None,
            own: Mapping[str, Any], own_sources: Iterable[str], own_by: Mapping[str, list[str] | None] | None = None,
            position: int | None = None, own_position: int | None = None,
            own_at: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The state with a claim added. The own value of each field claimed for the first time is
    remembered as it stands, with its sources (`_behind`) and the position it was recorded at
    (`own_position`, or where an amendment set it, `own_at`): later changes of the target's
    sources do not make them say it."""
    for field in claimed:
        if field not in state["own"]:
            state["own_sources"][field] = _behind(state, field, own_sources, own_by)
            state["own"][field] = own.get(field)
            state["own_at"][field] = (own_at or {}).get(field, own_position)
    state["claims"].append({"source": source, "fields": dict(claimed), "quote": quote, "position": position})
    return state


def _values(state: Mapping[str, Any], field: str) -> dict[str | None, Any]:
    """Source -> value for every claim of a field, the own value's first (None: a value recorded
    without a source, the analyst's own, or a case's opened without one); an own value that is
    empty is no claim."""
    explicit = _claimants(state, field)
    out: dict[str | None, Any] = {}
    own = state["own"][field]
    if own is not None and own != []:
        out.update((s, own) for s in state["own_sources"][field] or [None] if s not in explicit)
    out.update(explicit)
    return out


def check_ruling(state: Mapping[str, Any], field: str, source: str, ruling: str) -> None:
    """`accept` or `refute` of one source's claim of a field: it must have one."""
    if field not in state["own"]:
        raise Refused(f"nothing claims {field} here: claim it first (ledger claim ... --source ... --set {field}=...)")
    if source not in _values(state, field):
        raise Refused(f"source {source} makes no claim of {field} here")
    accepted = state["accepted"].get(field, {}).get("source")
    if ruling == "accept" and accepted == source:
        raise Refused(f"the claim of source {source} on {field} is already accepted")
    if ruling == "refute" and accepted == source:
        raise Refused(f"the claim of source {source} on {field} is the accepted one: accept another first")
    if ruling == "refute" and source in state["refuted"].get(field, {}):
        raise Refused(f"the claim of source {source} on {field} is already refuted")


def accepted(state: dict[str, Any], field: str, source: str, reason: str, position: int | None = None) -> Any:
    """The state with one source's claim of a field accepted (no longer refuted, if it was);
    returns the value the field takes."""
    value = _values(state, field)[source]
    state["refuted"].get(field, {}).pop(source, None)
    state["accepted"][field] = {"source": source, "reason": reason, "position": position}
    return value


def refuted(state: dict[str, Any], field: str, source: str, reason: str, position: int | None = None) -> None:
    state["refuted"].setdefault(field, {})[source] = {"reason": reason, "position": position}


def amended(state: dict[str, Any], values: Mapping[str, Any], sources: list[str], position: int | None = None) -> None:
    """The analyst corrected fields (`values`: each corrected field's value now; `sources`: what
    prompted it). For a claimed field the correction is the own value now, the prompting sources'
    (none named: the analyst's own), and an earlier accept of it is taken back; what the own
    value's sources said before stays theirs, as their claims: nobody's word is lost."""
    state["amended"] = True
    for field, value in values.items():
        if field not in state["own"]:
            continue
        old, explicit = state["own"][field], _claimants(state, field)
        if old is not None and old != []:
            for source in state["own_sources"][field]:
                if source not in explicit:
                    state["claims"].append({"source": source, "fields": {field: old}, "quote": None,
                                            "position": state["own_at"].get(field)})
        state["own"][field] = value
        state["own_sources"][field] = list(sources)
        state["own_at"][field] = position
        state["accepted"].pop(field, None)


def amended_by(fields: Iterable[str], sources: list[str], before: Mapping[str, list[str] | None]
               ) -> dict[str, list[str] | None]:
    """The sources behind each field's own value after an amendment of `fields` (kept for fields
    not yet claimed, so that a first claim knows them): the prompting sources (none: the analyst's)."""
    out = dict(before)
    for field in fields:
        out[field] = list(sources)
    return out


# ------------------------------------------------------------------ what the state says


def disputed(state: Mapping[str, Any] | None) -> list[str]:
    """The fields no accepted claim settles whose standing claims differ, or whose value as it
    stands rests only on refuted claims while another stands."""
    if not state:
        return []
    out = []
    for field in state["own"]:
        if field in state["accepted"]:
            continue
        refuted_by = state["refuted"].get(field, {})
        values = _values(state, field)
        standing = [v for s, v in values.items() if s not in refuted_by]
        shown = [s for s, v in values.items() if same(v, state["own"][field])]
        if any(not same(v, standing[0]) for v in standing[1:]) or (
                standing and shown and all(s in refuted_by for s in shown)):
            out.append(field)
    return out


def status(base: str, state: Mapping[str, Any] | None) -> str:
    """An incident's status: retracted if it is, else disputed while any field is, else amended
    when a correction or an accepted claim changed a field, else active (`base`: what the
    incident's own events say, active, amended or retracted)."""
    if base == "retracted":
        return base
    if state and disputed(state):
        return "disputed"
    return "amended" if base == "amended" or (state and state.get("amended")) else "active"


def entries(state: Mapping[str, Any] | None, publishers: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each claimed field's values, one entry per distinct value, in the order first claimed:
    `{"value", "sources", "status", "corroborated", "quote", "reason", "position", "by"}`; `by`
    says what each source's claim is (`{"source", "quote", "position", "status", "reason"}`;
    source None: a value recorded without one). `publishers`: each source's, as it stands."""
    if not state:
        return {}
    quotes: dict[tuple[str, str], tuple[str | None, int | None]] = {}
    for c in state["claims"]:
        for field in c["fields"]:
            quotes[(field, c["source"])] = (c.get("quote"), c.get("position"))
    out: dict[str, list[dict[str, Any]]] = {}
    for field in state["own"]:
        accept = state["accepted"].get(field)
        refuted_by = state["refuted"].get(field, {})
        groups: list[dict[str, Any]] = []
        for source, value in _values(state, field).items():
            quote, position = quotes.get((field, source or ""), (None, state.get("own_at", {}).get(field)))
            ruling = ("accepted" if accept and accept["source"] == source
                      else "refuted" if source in refuted_by else "standing")
            reason = (accept["reason"] if ruling == "accepted" and accept
                      else refuted_by[source]["reason"] if ruling == "refuted" and source is not None else None)
            one = {"source": source, "quote": quote, "position": position, "status": ruling, "reason": reason}
            group = next((g for g in groups if same(g["value"], value)), None)
            if group is None:
                group = {"value": value, "by": []}
                groups.append(group)
            group["by"].append(one)
        for group in groups:
            by = sorted(group["by"], key=lambda b: (b["position"] is None, b["position"] or 0))
            rulings = {b["status"] for b in by}
            standing = "accepted" if "accepted" in rulings else "standing" if "standing" in rulings else "refuted"
            voices = {publishers.get(b["source"], b["source"]) for b in by
                      if b["source"] is not None and b["status"] != "refuted"}
            positions = [b["position"] for b in by if b["position"] is not None]
            out.setdefault(field, []).append({
                "value": group["value"], "sources": [b["source"] for b in by if b["source"] is not None],
                "status": standing, "corroborated": len(voices) >= 2,
                "quote": next((b["quote"] for b in by if b["quote"]), None),
                "reason": next((b["reason"] for b in by if b["status"] == standing and b["reason"]), None),
                "position": min(positions) if positions else None, "by": by})
        if field in out:
            out[field].sort(key=lambda e: (e["position"] is None, e["position"] or 0))
    return out


def contested(claims: Mapping[str, list[dict[str, Any]]]) -> list[str]:
    """The fields whose claims give more than one value, refuted ones too."""
    return [field for field, values in claims.items() if len(values) > 1]


def shown_value(value: Any) -> str:
    """A claimed value as a person reads it: ids comma-separated, an amount with its currency."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        amount, unit = value.get("value"), value.get("currency")
        number = f"{amount:,}" if isinstance(amount, (int, float)) and not isinstance(amount, bool) else str(amount)
        return f"{unit} {number}" if unit else number
    return "(none)" if value is None else str(value)
