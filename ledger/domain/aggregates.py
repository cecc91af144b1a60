"""The aggregates of the ledger and their events: Source, Entity, Case and Incident.

Events are past-tense classes nested in their aggregate; their topics (module path and class
name) are stored with every event, so these names are fixed once and for all. Each public method
checks its rules first and only then calls the `@event` method, which changes state and nothing
else, because it runs again on every replay.

Incidents are aggregates of their own that name their case: a case can gather thousands of
incidents, and recording or correcting one must not replay them all. The case's rule (no
recording on a closed case) is checked by the application against the case before an incident is
recorded.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic, register_topic

from ledger.domain import claims
from ledger.domain.versions import UPCASTERS, class_version
from ledger.domain.vocabulary import CASE_STATUSES, TOPIC
from ledger.errors import AlreadyExists, CaseClosed, InvalidInput, InvalidTransition, Refused


class Keyed(Aggregate):
    """An aggregate that remembers which operation keys it has applied, with their data digest.

    This is what makes an import idempotent: a line whose key is known with the same digest is
    skipped, with another digest it is refused.
    """

    op_keys: dict[str, str]

    def seen(self, op_key: str | None, digest: str) -> bool:
        if op_key is None or op_key not in self.op_keys:
            return False
        if self.op_keys[op_key] != digest:
            raise AlreadyExists(f"key {op_key!r} was already recorded with other data")
        return True

    def _remember(self, op_key: str | None, digest: str | None) -> None:
        if op_key is not None:
            self.op_keys[op_key] = digest or ""


def differences(stored: dict[str, Any], given: dict[str, Any]) -> str:
    """Which fields differ, for a refusal: `title: stored 'A', given 'B'; ...`."""
    from ledger.domain.values import shown

    names = [k for k in dict.fromkeys([*stored, *given]) if stored.get(k) != given.get(k)]
    def value(v: Any) -> str:
        return "(none)" if v in (None, [], {}) else shown(v, 40)

    parts = [f"{k}: stored {value(stored.get(k))}, given {value(given.get(k))}" for k in names[:3]]
    if len(names) > 3:
        parts.append(f"and {len(names) - 3} more")
    return "; ".join(parts)


def _check_same(what: str, ident: str, stored_digest: str, digest: str,
                stored: dict[str, Any] | None = None, given: dict[str, Any] | None = None) -> bool:
    """True when re-adding with the same data (a no-op); refused with other data, saying which."""
    if stored_digest != digest:
        which = differences(stored, given) if stored is not None and given is not None else ""
        raise AlreadyExists(f"{what} {ident} already exists with other data" + (f" ({which})" if which else ""))
    return True


class Source(Keyed):
    class Added(Aggregate.Created):
        source_id: str
        data: dict[str, Any]
        digest: str
        actor: str

    @event(Added)
    def __init__(self, source_id: str, data: dict[str, Any], digest: str, actor: str):
        self.source_id = source_id
        self.data = data
        self.digest = digest
        self.amended: dict[str, Any] = {}
        self.op_keys = {}

    def same_as(self, digest: str, data: dict[str, Any] | None = None) -> bool:
        # compared with the source as added (its digest is of that data), whatever amended it since
        return _check_same("source", self.source_id, self.digest, digest, self.data, data)

    @property
    def fields(self) -> dict[str, Any]:
        """The source's fields as they stand now, after every amendment."""
        return {**self.data, **self.amended}

    class Amended(Aggregate.Event):
        changes: dict[str, Any]  # every field the amendment set, in its stored form
        reason: str
        actor: str
        op_key: str | None
        digest: str

    def amend(self, changes: dict[str, Any], reason: str, actor: str, op_key: str | None, digest: str) -> bool:
        """Correct fields of the source; the caller has validated the corrected source as a whole
        (as `source add` validates one). Refused when it would change nothing."""
        if self.seen(op_key, digest):
            return False
        current = self.fields
        if all(current.get(k) == v for k, v in changes.items()):
            raise Refused(f"source {self.source_id} already has these values: nothing to amend")
        self._amended(changes=changes, reason=reason, actor=actor, op_key=op_key, digest=digest)
        return True

    @event(Amended)
    def _amended(self, changes: dict[str, Any], reason: str, actor: str, op_key: str | None, digest: str) -> None:
        self.amended = {**self.amended, **changes}
        self._remember(op_key, digest)


class Entity(Keyed):
    class Added(Aggregate.Created):
        entity_id: str
        data: dict[str, Any]
        digest: str
        actor: str

    @event(Added)
    def __init__(self, entity_id: str, data: dict[str, Any], digest: str, actor: str):
        self.entity_id = entity_id
        self.data = data
        self.kind = data["kind"]
        self.digest = digest
        self.aliases: list[str] = list(data.get("aliases") or [])
        self.merged_into: str | None = None
        self.merged_from: list[str] = []
        self.op_keys = {}

    def same_as(self, digest: str, data: dict[str, Any] | None = None) -> bool:
        return _check_same("entity", self.entity_id, self.digest, digest, self.data, data)

    def _check_not_merged(self) -> None:
        if self.merged_into is not None:
            raise Refused(f"entity {self.entity_id} was merged into {self.merged_into}; use that id")

    class AliasAdded(Aggregate.Event):
        alias: str
        actor: str
        op_key: str | None
        digest: str

    def add_alias(self, alias: str, actor: str, op_key: str | None, digest: str) -> bool:
        """Add an alias; False (nothing recorded) when the entity already has it."""
        if self.seen(op_key, digest):
            return False
        self._check_not_merged()
        if alias in self.aliases:
            return False
        self._alias_added(alias=alias, actor=actor, op_key=op_key, digest=digest)
        return True

    @event(AliasAdded)
    def _alias_added(self, alias: str, actor: str, op_key: str | None, digest: str) -> None:
        self.aliases.append(alias)
        self._remember(op_key, digest)

    class MergedInto(Aggregate.Event):
        survivor: str
        reason: str
        actor: str
        op_key: str | None
        digest: str

    class Absorbed(Aggregate.Event):
        duplicate: str
        reason: str
        actor: str
        op_key: str | None
        digest: str

    @staticmethod
    def merge(duplicate: Entity, survivor: Entity, reason: str, actor: str,
              op_key: str | None, digest: str) -> bool:
        """Merge `duplicate` into `survivor`; False when it is already merged there."""
        if duplicate.seen(op_key, digest):
            return False
        if duplicate.entity_id == survivor.entity_id:
            raise Refused(f"cannot merge entity {duplicate.entity_id} into itself")
        if duplicate.merged_into == survivor.entity_id:
            return False
        duplicate._check_not_merged()
        survivor._check_not_merged()
        if duplicate.kind != survivor.kind:
            raise Refused(f"cannot merge a {duplicate.kind} ({duplicate.entity_id}) into a "
                          f"{survivor.kind} ({survivor.entity_id})")
        duplicate._merged_into(survivor=survivor.entity_id, reason=reason, actor=actor,
                               op_key=op_key, digest=digest)
        survivor._absorbed(duplicate=duplicate.entity_id, reason=reason, actor=actor,
                           op_key=op_key, digest=digest)
        return True

    @event(MergedInto)
    def _merged_into(self, survivor: str, reason: str, actor: str, op_key: str | None, digest: str) -> None:
        self.merged_into = survivor
        self._remember(op_key, digest)

    @event(Absorbed)
    def _absorbed(self, duplicate: str, reason: str, actor: str, op_key: str | None, digest: str) -> None:
        self.merged_from.append(duplicate)


class Contested(Keyed):
    """An aggregate whose fields sources may contest (`ledger.domain.claims` holds every rule):
    an incident, a case. The subclass says what its fields are and what its own sources are."""

    claims: dict[str, Any] | None
    kind_of_fields: str | None  # the incident's kind; None for a case
    amended_by: dict[str, list[str] | None]  # the sources an amendment of a field named (claims.amended_by)

    def current(self) -> dict[str, Any]:
        """Its fields as they stand, in stored form."""
        raise NotImplementedError

    @property
    def own_sources(self) -> list[str]:
        raise NotImplementedError

    @property
    def claim_state(self) -> dict[str, Any]:
        return self.claims if self.claims is not None else claims.new_state()

    def _own(self, claimed: dict[str, Any]) -> dict[str, Any]:
        """The target's own value of each field a claim names, as it stands."""
        declared = claims.fields_of(self.kind_of_fields)
        return {field: claims.value_of(declared[field], self.current()) for field in claimed}

    def check_claim(self, changes: dict[str, Any], source: str, quote: str | None = None) -> dict[str, Any]:
        """The claim's fields and values; refused when a rule of claims forbids it. Empty when it
        adds nothing (the source already says so)."""
        claimed = claims.claimed_fields(self.kind_of_fields, changes)
        if not claimed:
            raise InvalidInput("a claim sets at least one field")
        new = claims.check_claim(self.claim_state, claimed, source, quote, self.own_sources, self._own(claimed),
                                 self.amended_by)
        return claimed if new else {}

    def _apply_claim(self, changes: dict[str, Any], source: str, quote: str | None) -> None:
        claimed = claims.claimed_fields(self.kind_of_fields, changes)
        self.claims = claims.claimed(self.claim_state, claimed, source, quote, self._own(claimed), self.own_sources,
                                     self.amended_by)

    def accepted_changes(self, field: str, source: str) -> dict[str, Any]:
        """What accepting a source's claim of a field changes (empty: its value is the field's already)."""
        claims.check_ruling(self.claim_state, field, source, "accept")
        value = claims._values(self.claim_state, field)[source]
        changes = claims.changes_of(self.kind_of_fields, field, value)
        if "on" in changes:
            from ledger.domain.values import parse_date

            changes["precision"] = parse_date(changes["on"]).precision
        current = self.current()
        return {k: v for k, v in changes.items() if current.get(k) != v}

    def _apply_ruling(self, ruling: str, field: str, source: str, reason: str, changes: dict[str, Any]) -> None:
        state = self.claim_state
        if ruling == "accept":
            claims.accepted(state, field, source, reason)
            if changes:
                state["amended"] = True
                self._changed(changes)
        else:
            claims.refuted(state, field, source, reason)
        self.claims = state

    def _changed(self, changes: dict[str, Any]) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        """Refused when the target takes no claims (a retracted incident)."""

    # each aggregate's @event methods, with its own event classes (Incident.Claimed, Case.Claimed, ...)
    _claimed: Any
    _claim_accepted: Any
    _claim_refuted: Any

    def claim(self, changes: dict[str, Any], source: str, quote: str | None, actor: str,
              op_key: str | None, digest: str) -> bool:
        """What a source says about fields of the target, beside what the others say; False when
        it adds nothing (the same key and data, or the source already says so)."""
        if self.seen(op_key, digest):
            return False
        self._check_open()
        if not self.check_claim(changes, source, quote):
            return False
        self._claimed(source=source, changes=changes, quote=quote, actor=actor, op_key=op_key, digest=digest)
        return True

    def rule(self, ruling: str, field: str, source: str, reason: str, actor: str, op_key: str | None,
             digest: str) -> bool:
        """`accept` or `refute` one source's claim of a field."""
        if self.seen(op_key, digest):
            return False
        self._check_open()
        if ruling == "accept":
            changes = self.accepted_changes(field, source)
            self._claim_accepted(field=field, source=source, reason=reason, changes=changes, actor=actor,
                                 op_key=op_key, digest=digest)
        else:
            claims.check_ruling(self.claim_state, field, source, "refute")
            self._claim_refuted(field=field, source=source, reason=reason, actor=actor, op_key=op_key, digest=digest)
        return True


class Case(Contested):
    class Opened(Aggregate.Created):
        case_id: str
        data: dict[str, Any]
        digest: str
        actor: str
        sources: list[str]  # v2: the sources of the case's fields as opened

        upcast_v1_v2 = staticmethod(UPCASTERS["Case.Opened"][0])

    Opened.class_version = class_version("Case.Opened")  # type: ignore[attr-defined]

    @event(Opened)
    def __init__(self, case_id: str, data: dict[str, Any], digest: str, actor: str, sources: list[str]):
        self.case_id = case_id
        self.data = data
        self.digest = digest
        self.sources = list(sources)
        self.status = "open"
        self.op_keys = {}
        self.claims = None
        self.kind_of_fields = None
        self.amended_by = {}
        self.accepted_values: dict[str, Any] = {}

    def same_as(self, digest: str, data: dict[str, Any] | None = None) -> bool:
        stored = {**self.data, **({"sources": self.sources} if self.sources else {})}
        return _check_same("case", self.case_id, self.digest, digest, stored, data)

    def current(self) -> dict[str, Any]:
        """The case's fields as they stand: as opened, and as accepted claims set them."""
        return {**self.data, **self.accepted_values}

    @property
    def own_sources(self) -> list[str]:
        return self.sources

    def _changed(self, changes: dict[str, Any]) -> None:
        self.accepted_values = {**self.accepted_values, **changes}

    class Claimed(Aggregate.Event):
        source: str
        changes: dict[str, Any]
        quote: str | None
        actor: str
        op_key: str | None
        digest: str

    @event(Claimed)
    def _claimed(self, source: str, changes: dict[str, Any], quote: str | None, actor: str,
                 op_key: str | None, digest: str) -> None:
        self._apply_claim(changes, source, quote)
        self._remember(op_key, digest)

    class ClaimAccepted(Aggregate.Event):
        field: str
        source: str
        reason: str
        changes: dict[str, Any]
        actor: str
        op_key: str | None
        digest: str

    class ClaimRefuted(Aggregate.Event):
        field: str
        source: str
        reason: str
        actor: str
        op_key: str | None
        digest: str

    @event(ClaimAccepted)
    def _claim_accepted(self, field: str, source: str, reason: str, changes: dict[str, Any], actor: str,
                        op_key: str | None, digest: str) -> None:
        self._apply_ruling("accept", field, source, reason, changes)
        self._remember(op_key, digest)

    @event(ClaimRefuted)
    def _claim_refuted(self, field: str, source: str, reason: str, actor: str, op_key: str | None,
                       digest: str) -> None:
        self._apply_ruling("refute", field, source, reason, {})
        self._remember(op_key, digest)

    def check_accepts_incidents(self) -> None:
        if self.status == "closed":
            raise CaseClosed(f"case {self.case_id} is closed: reopen it (status open) to record on it")

    class StatusChanged(Aggregate.Event):
        status: str
        previous: str
        reason: str
        actor: str
        op_key: str | None
        digest: str

    def change_status(self, status: str, reason: str, actor: str, op_key: str | None, digest: str) -> bool:
        """Any status to any other, except that a closed case only goes back to open."""
        if self.seen(op_key, digest):
            return False
        if status not in CASE_STATUSES:
            raise InvalidInput(f"unknown status {status!r}: use one of {', '.join(CASE_STATUSES)}")
        if status == self.status:
            raise InvalidTransition(f"case {self.case_id} is already {status}")
        if self.status == "closed" and status != "open":
            raise InvalidTransition(f"case {self.case_id} is closed: it can only be reopened (status open)")
        self._status_changed(status=status, previous=self.status, reason=reason, actor=actor,
                             op_key=op_key, digest=digest)
        return True

    @event(StatusChanged)
    def _status_changed(self, status: str, previous: str, reason: str, actor: str,
                        op_key: str | None, digest: str) -> None:
        self.status = status
        self._remember(op_key, digest)


class Incident(Contested):
    """One dated act of one of the kinds (ledger.domain.kinds), in one case, citing at least one source."""

    class Recorded(Aggregate.Created):
        case: str
        kind: str
        key: str | None
        fields: dict[str, Any]
        digest: str
        actor: str

    @event(Recorded)
    def __init__(self, case: str, kind: str, key: str | None, fields: dict[str, Any], digest: str, actor: str):
        self.case = case
        self.kind = kind
        self.key = key
        self.fields = dict(fields)
        self.digest = digest
        self.status = "active"
        self.op_keys = {}
        self.claims = None
        self.kind_of_fields = kind
        self.amended_by = {}

    @classmethod
    def recorded(cls, incident_id: UUID, case: str, kind: str, key: str | None, fields: dict[str, Any],
                 digest: str, actor: str) -> Incident.Recorded:
        """The event that records a new incident, as `_create` makes it, without building the
        incident itself: a bulk import lets most of its new incidents go at once. The caller
        has checked the rules; `event.mutate(None)` builds the incident when it is wanted."""
        # The library's event is a frozen dataclass whose generated __init__ sets each field through
        # object.__setattr__ (a third of a bulk import's cost of making and encoding an event): the
        # same fields are set here at once, in the dataclass's order (the order they are encoded in),
        # and the one check of its __post_init__ (a UUID originator id) is made here.
        if not isinstance(incident_id, UUID):
            raise TypeError(f"an incident's id is a UUID, not {incident_id!r}")
        recorded: Incident.Recorded = object.__new__(cls.Recorded)
        recorded.__dict__.update(
            originator_id=incident_id, originator_version=cls.INITIAL_VERSION,
            timestamp=cls.Recorded.create_timestamp(), originator_topic=_INCIDENT_TOPIC,
            case=case, kind=kind, key=key, fields=fields, digest=digest, actor=actor)
        return recorded

    @property
    def incident_id(self) -> str:
        return str(self.id)

    def same_as(self, digest: str, fields: dict[str, Any] | None = None) -> bool:
        if self.digest != digest:
            which = differences(self.fields, fields) if fields is not None else ""
            raise AlreadyExists(f"incident {self.key or self.incident_id} was already recorded with other data"
                                + (f" ({which})" if which else ""))
        return True

    def _check_correctable(self, what: str = "amended or retracted again") -> None:
        if self.status == "retracted":
            raise Refused(f"incident {self.incident_id} is retracted: it cannot be {what}")

    class Amended(Aggregate.Event):
        changes: dict[str, Any]
        reason: str
        sources: list[str]
        actor: str
        op_key: str | None
        digest: str

    def amend(self, changes: dict[str, Any], reason: str, sources: list[str], actor: str,
              op_key: str | None, digest: str) -> bool:
        """Record changed fields; the caller has validated the corrected incident as a whole."""
        if self.seen(op_key, digest):
            return False
        self._check_correctable()
        changes = {k: v for k, v in changes.items() if self.fields.get(k) != v}
        if not changes:
            raise Refused(f"incident {self.incident_id} already has these values: nothing to amend")
        self._amended(changes=changes, reason=reason, sources=sources, actor=actor, op_key=op_key, digest=digest)
        return True

    @event(Amended)
    def _amended(self, changes: dict[str, Any], reason: str, sources: list[str], actor: str,
                 op_key: str | None, digest: str) -> None:
        self.fields.update(changes)
        self.status = "amended"
        touched = {field: claims.value_of(stored, self.fields)
                   for field, stored in claims.fields_of(self.kind).items() if set(stored) & set(changes)}
        self.amended_by = claims.amended_by(touched, sources, self.amended_by)
        if self.claims is not None:
            claims.amended(self.claims, touched, sources)
        self._remember(op_key, digest)

    def current(self) -> dict[str, Any]:
        return self.fields

    @property
    def own_sources(self) -> list[str]:
        return list(self.fields.get("sources") or [])

    def _changed(self, changes: dict[str, Any]) -> None:
        self.fields.update(changes)
        self.status = "amended"

    def _check_open(self) -> None:
        self._check_correctable("claimed or ruled on")

    class Claimed(Aggregate.Event):
        source: str
        changes: dict[str, Any]
        quote: str | None
        actor: str
        op_key: str | None
        digest: str

    @event(Claimed)
    def _claimed(self, source: str, changes: dict[str, Any], quote: str | None, actor: str,
                 op_key: str | None, digest: str) -> None:
        self._apply_claim(changes, source, quote)
        self._remember(op_key, digest)

    class ClaimAccepted(Aggregate.Event):
        field: str
        source: str
        reason: str
        changes: dict[str, Any]  # what the accepted value changed in the incident's fields
        actor: str
        op_key: str | None
        digest: str

    class ClaimRefuted(Aggregate.Event):
        field: str
        source: str
        reason: str
        actor: str
        op_key: str | None
        digest: str

    @event(ClaimAccepted)
    def _claim_accepted(self, field: str, source: str, reason: str, changes: dict[str, Any], actor: str,
                        op_key: str | None, digest: str) -> None:
        self._apply_ruling("accept", field, source, reason, changes)
        self._remember(op_key, digest)

    @event(ClaimRefuted)
    def _claim_refuted(self, field: str, source: str, reason: str, actor: str, op_key: str | None,
                       digest: str) -> None:
        self._apply_ruling("refute", field, source, reason, {})
        self._remember(op_key, digest)

    class Retracted(Aggregate.Event):
        reason: str
        sources: list[str]
        actor: str
        op_key: str | None
        digest: str

    def retract(self, reason: str, sources: list[str], actor: str, op_key: str | None, digest: str) -> bool:
        if self.seen(op_key, digest):
            return False
        self._check_correctable()
        self._retracted(reason=reason, sources=sources, actor=actor, op_key=op_key, digest=digest)
        return True

    @event(Retracted)
    def _retracted(self, reason: str, sources: list[str], actor: str, op_key: str | None, digest: str) -> None:
        self.status = "retracted"
        self._remember(op_key, digest)


class Key(Aggregate):
    """An Ed25519 public key registered for one actor (`ledger key add`); its stream's id derives
    from the key's id. Writes signed with it must be that actor's, until it is revoked.
    `ledger.app.evidence.audit` reads these events straight from the log."""

    class Added(Aggregate.Created):
        key_id: str
        public_key: str
        owner: str
        reason: str
        actor: str

    @event(Added)
    def __init__(self, key_id: str, public_key: str, owner: str, reason: str, actor: str):
        self.key_id = key_id
        self.public_key = public_key
        self.owner = owner
        self.revoked = False

    def same_as(self, owner: str) -> bool:
        """The same key registered again (its id is its public key's): for the same owner, a no-op."""
        if owner != self.owner:
            raise AlreadyExists(f"key {self.key_id} is already registered to {self.owner!r}, not {owner!r}")
        return True

    class Revoked(Aggregate.Event):
        reason: str
        actor: str

    def revoke(self, reason: str, actor: str) -> bool:
        """Revoke the key; False (nothing recorded) when it is revoked already."""
        if self.revoked:
            return False
        self._revoked(reason=reason, actor=actor)
        return True

    @event(Revoked)
    def _revoked(self, reason: str, actor: str) -> None:
        self.revoked = True


class Policy(Aggregate):
    """A policy of the whole ledger, adopted once and never dropped: `require-signatures`, after
    which every write must be signed by its actor's registered key."""

    class Adopted(Aggregate.Created):
        policy: str
        reason: str
        actor: str

    @event(Adopted)
    def __init__(self, policy: str, reason: str, actor: str):
        self.policy = policy


def _keep_stored_topics(*aggregates: type[Aggregate]) -> None:
    """Every stored event names its class by a topic, and the ledgers already written name these
    classes as they were first defined, in the module `ledger.aggregates` (`TOPIC`). So each
    aggregate and event class keeps that topic wherever the module lives now: events are written
    with it and read back by it (the library's explicit `TOPIC`, registered here). A stored topic
    never changes; a new event class added here gets one in the same form."""
    for aggregate in aggregates:
        for cls in [aggregate, *(v for v in vars(aggregate).values() if isinstance(v, type))]:
            cls.TOPIC = TOPIC + cls.__qualname__  # type: ignore[attr-defined]
            register_topic(cls.TOPIC, cls)  # type: ignore[attr-defined]


_keep_stored_topics(Source, Entity, Case, Incident, Key, Policy)
_INCIDENT_TOPIC = get_topic(Incident)


def stream_kind(topic: str) -> str:
    """'case', 'entity', 'source', 'incident', 'key' or 'policy' from a stored event's topic."""
    qualname = topic.split(":", 1)[-1]
    return qualname.split(".", 1)[0].lower()

