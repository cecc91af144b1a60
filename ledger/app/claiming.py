"""The use cases of contested claims: `claim`, `accept` and `refute`, on an incident or a case.

The rules of claims are the domain's (`ledger.domain.claims`, through the aggregates' methods);
what is checked here spans aggregates or needs the input models: the target named by a user
(an incident's id or key, or `case:ID`), the source and the entities a claim names exist, and a
claimed value is one the field may take (the target with it is valid as a whole, as `amend`
checks a correction). One function per op, each the application's handler of it
(`LedgerApplication._claim`, `_accept`, `_refute`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.app import inputs as m
from ledger.domain import claims
from ledger.domain.aggregates import Case, Contested, Incident
from ledger.domain.values import shown
from ledger.errors import InvalidInput

if TYPE_CHECKING:
    from ledger.app.application import LedgerApplication, Outcome, Unit


def _target(app: LedgerApplication, unit: Unit, target: str) -> tuple[Contested, str]:
    """The aggregate a TARGET names, and the id it is known by in events and digests."""
    if target.startswith(claims.CASE_TARGET):
        if not target[len(claims.CASE_TARGET):]:
            raise InvalidInput(f"{shown(target)} names no case: write case:CASE_ID")
        case = app._case(unit, target[len(claims.CASE_TARGET):])
        return case, claims.CASE_TARGET + case.case_id
    incident = app._incident(unit, target)
    return incident, incident.incident_id

def claim(app: LedgerApplication, unit: Unit, op: m.Claim, actor: str) -> Outcome:
    from ledger.app.application import Outcome

    target, ident = _target(app, unit, op.target)
    changes = _claimed_values(app, target, op.set)
    digest = m.claim_digest(op, ident, changes)
    if target.seen(op.key, digest):
        return Outcome(ident, skipped=True)
    refs = [r for name in (m.RECORDS[target.kind].roles if isinstance(target, Incident) else {})
            for r in changes.get(name) or []]
    app._check_refs(unit, refs, [op.source, *(changes.get("sources") or [])])
    done = target.claim(changes, op.source, op.quote, actor, op.key, digest)
    return Outcome(ident, not done, unit.collect(target))

def accept(app: LedgerApplication, unit: Unit, op: m.Accept, actor: str) -> Outcome:
    return _rule(app, unit, op, actor, "accept")

def refute(app: LedgerApplication, unit: Unit, op: m.Refute, actor: str) -> Outcome:
    return _rule(app, unit, op, actor, "refute")

def _rule(app: LedgerApplication, unit: Unit, op: m.Accept, actor: str, ruling: str) -> Outcome:
    from ledger.app.application import Outcome

    target, ident = _target(app, unit, op.target)
    field = claims.field_named(target.kind_of_fields, op.field)
    digest = m.ruling_digest(op, ident, field)
    if target.seen(op.key, digest):
        return Outcome(ident, skipped=True)
    app._source(unit, op.source)
    if ruling == "accept" and isinstance(target, Incident):
        # the accepted value must make a valid incident, as an amendment must
        app._validate_corrected(target, target.accepted_changes(field, op.source))
    done = target.rule(ruling, field, op.source, op.reason, actor, op.key, digest)
    return Outcome(ident, not done, unit.collect(target))

def _claimed_values(app: LedgerApplication, target: Contested, values: dict[str, Any]) -> dict[str, Any]:
    """A claim's `--set FIELD=VALUE` pairs in stored form, checked as a correction would be: each
    a field a source claims (`claims.fields_of`), none empty, the target with them valid."""
    kind = target.kind_of_fields
    aliases = {field: role for role, field in m.RECORDS[kind].roles.items()} if kind is not None else {}
    for name in values:  # a role by its name or its input field, as amend takes it
        claims.field_named(kind, aliases.get(name, name))
    if isinstance(target, Incident):
        changes = app._changes(target, values, verb="claim")
        empty = [k for k, v in changes.items() if v is None or v == []]
        if empty:
            raise InvalidInput(f"a claim gives a value: {empty[0]} is empty")
        fields = app._validate_corrected(target, changes).fields()
        return {k: fields[k] for k in fields if k in changes or (k == "precision" and "on" in changes)}
    assert isinstance(target, Case)
    given = {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}
    empty = [k for k, v in given.items() if v is None]
    if empty:
        raise InvalidInput(f"a claim gives a value: {empty[0]} is empty")
    corrected = m.parse(m.CaseOpen, {**target.current(), **given})
    return {k: getattr(corrected, k) for k in values}
