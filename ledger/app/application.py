"""The ledger application: one method per use case, over a unit of work.

A `Unit` holds the aggregates one command (or one whole import file) touches, and the new events
in the order they were triggered. Nothing reaches the event store until `commit`, so an import
is validated whole, against the ledger and against its own earlier lines, before anything is
written. Every rule that spans aggregates (references exist, no recording on a closed case) is
checked here; rules within one aggregate live in its public methods (`ledger.domain.aggregates`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from ledger.app import claiming
from ledger.app import inputs as m
from ledger.domain.aggregates import Case, Entity, Incident, Key, Policy, Source
from ledger.domain.chain import ChainRow, stream_hex
from ledger.domain.kinds import a, amendable_fields
from ledger.domain.values import (
    as_incident_id,
    country_name,
    derived_id,
    incident_uuid_for_key,
    is_country_ref,
    is_future,
    parse_date,
    parse_moment,
    shown,
)
from ledger.errors import AlreadyExists, InvalidInput, NotFound, Refused
from ledger.store.transcoder import OrjsonTranscoder

if TYPE_CHECKING:
    from ledger.store.pgrecorders import ChainedPostgresApplicationRecorder
    from ledger.store.recorders import ChainedSQLiteApplicationRecorder

A = TypeVar("A", bound=Aggregate)
R = TypeVar("R")


@dataclass
class Outcome:
    """What one operation did: the id it names, whether it was skipped, its last event."""

    id: str
    skipped: bool
    events: list[Any] = field(default_factory=list)
    position: int | None = None
    warnings: list[str] = field(default_factory=list)  # stored all the same, said on stderr
    stream: UUID | None = None  # an incident's id as a UUID (`id` as text), for an import to let it go


_UNKNOWN = object()


def _dated_later(on: str) -> list[str]:
    """"An incident dated after the moment it is recorded is stored, with a warning"."""
    date = parse_date(on)
    if is_future(date.text, date.precision):
        return [f"the incident is dated {on}, after the moment it is recorded; stored as given"]
    return []


class Settled:
    """The incidents a bulk import has recorded (in its unit, not yet stored) and let go of: 16
    bytes of each one's digest, enough to recognise its key again further down the file (same
    data: skipped; other data: a bad line) while the memory per incident stays small."""

    def __init__(self) -> None:
        self.digests: dict[int, bytes] = {}

    def add(self, incident_id: UUID, digest: str) -> None:
        self.digests[incident_id.int] = bytes.fromhex(digest[:32])

    def seen(self, incident_id: UUID, digest: str) -> bool:
        """True when this incident was settled with the same data; refused with other data."""
        settled = self.digests.get(incident_id.int)
        if settled is None:
            return False
        if settled != bytes.fromhex(digest[:32]):
            raise AlreadyExists("this incident's key was recorded with other data earlier in the file")
        return True


class Unit:
    """The aggregates and new events of one command or one import."""

    def __init__(self, app: LedgerApplication):
        self.app = app
        self.loaded: dict[UUID, Aggregate | None] = {}
        self.created: dict[UUID, Any] = {}  # incidents recorded here, as their event, built when wanted
        self.events: list[Any] = []
        # streams a rule read, each at the version it saw, checked again under the write lock when
        # the events are stored: (index of the first event that relied on it, stream, version)
        self.preconditions: list[tuple[int, str, int]] = []
        self.recorded: list[tuple[int, str, str, bytes]] = []
        self.settled = Settled()  # incidents an import validated and let go
        self.skipped = 0  # lines an import found already stored
        self.signed_tail = False  # signatures are required: the events are sealed only onto a signed one
        self.found: set[str | tuple[str, str]] = set()  # entities (by id) and sources found to exist

    def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        found = self.loaded.get(aggregate_id, _UNKNOWN)
        if found is _UNKNOWN:
            found = self.loaded[aggregate_id] = self._load(aggregate_id)
        if found is not None and not isinstance(found, cls):
            return None
        return found

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        created = self.created.pop(aggregate_id, None)
        if created is not None:
            built: Aggregate = created.mutate(None)
            return built
        try:
            return self.app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def know_absent(self, aggregate_ids: list[UUID]) -> None:
        """Settle in one pass which of these aggregates do not exist yet, so that a bulk import
        does not ask the store about each new id on its own."""
        unknown = [i for i in dict.fromkeys(aggregate_ids) if i not in self.loaded]
        if unknown:
            present = self.app.recorder.existing_streams(unknown)
            self.loaded.update((i, None) for i in unknown if i not in present)

    def relies_on(self, aggregate: Aggregate) -> None:
        """The next event is allowed by this aggregate's state as it is now: it is stored only if
        no other writer has changed the aggregate meanwhile."""
        self.preconditions.append((len(self.events), aggregate.id.hex, aggregate.version))

    def add(self, aggregate: Aggregate) -> None:
        self.loaded[aggregate.id] = aggregate

    def collect(self, *aggregates: Aggregate) -> list[Any]:
        new = [e for agg in aggregates for e in agg.collect_events()]
        self.events.extend(new)
        return new


class LedgerApplication(Application[UUID]):
    name = "ledger"
    recorder: ChainedSQLiteApplicationRecorder | ChainedPostgresApplicationRecorder  # one of CHAINED

    def construct_transcoder(self) -> OrjsonTranscoder:
        return OrjsonTranscoder()

    # the recorder of each backend: the library's, sealing every event into the hash chain
    CHAINED: ClassVar[dict[str, str]] = {
        "eventsourcing.sqlite": "ledger.store.recorders:ChainedSQLiteApplicationRecorder",
        "eventsourcing.postgres": "ledger.store.pgrecorders:ChainedPostgresApplicationRecorder"}

    def construct_env(self, name: str, env: Any = None) -> Environment:
        """Only what the caller gives (no stray PERSISTENCE_MODULE from the user's shell), and
        whatever it gives, the chain: the recorder is the chained one of its backend. A ledger
        built with no backend, or the library's in-memory one (which keeps no positions to chain),
        lives in an in-memory SQLite database."""
        values = {str(k): str(v) for k, v in dict(env or {}).items()}
        module = values.get("PERSISTENCE_MODULE") or "eventsourcing.popo"
        if module not in self.CHAINED:
            if module != "eventsourcing.popo":
                raise InvalidInput(
                    f"a ledger is stored by eventsourcing.sqlite or eventsourcing.postgres, not {module}")
            module = "eventsourcing.sqlite"
            values.update(PERSISTENCE_MODULE=module,
                          SQLITE_DBNAME=f"file:ledger-{uuid4().hex}?mode=memory&cache=shared", CREATE_TABLE="y")
        values["APPLICATION_RECORDER_TOPIC"] = self.CHAINED[module]
        return Environment(name, values)

    # the library's `log` is a deprecated property (its notification log, now `notification_log`):
    # the ledger's own log is the chain, and the ledger never reads the library's
    def log(self, after: int = 0, upto: int | None = None, streams: list[str] | None = None,  # type: ignore[override]
            page: int = 1000) -> Iterator[tuple[ChainRow, Any]]:
        """The stored events with their positions and hashes, decoded, in position order."""
        for row in self.recorder.chain_rows(after, upto, streams, page):
            stored = StoredEvent(UUID(row.originator_id), row.originator_version, row.topic, row.state)
            yield row, self.mapper.to_domain_event(stored)

    # ------------------------------------------------------------------ running ops

    def unit(self) -> Unit:
        return Unit(self)

    def commit(self, unit: Unit) -> list[int]:
        """Store the unit's events in one transaction; their positions, in order. The unit keeps
        them as stored, (position, stream, topic, state) rows, in `recorded`, for a projection that
        wants them without a read."""
        if not unit.events:
            return []
        self._check_signing(unit)
        # The event store itself: Application.save would only wrap these events in a processing
        # event (checking each against a runtime Protocol, slow in bulk) for snapshots and
        # notifications this application does not use.
        recordings = self.events.put(unit.events, preconditions=unit.preconditions, signed_tail=unit.signed_tail)
        unit.events, unit.preconditions = [], []
        unit.recorded = [(n.id, stream_hex(n.originator_id), n.topic, n.state)
                         for n in (r.notification for r in recordings)]
        return [position for position, *_ in unit.recorded]

    # ------------------------------------------------------------------ signatures

    POLICY_ID = derived_id("policy", "require-signatures")

    @staticmethod
    def key_stream(key_id: str) -> UUID:
        return derived_id("key", key_id)

    def key(self, key_id: str) -> Key | None:
        """A registered key, as it stands now."""
        try:
            found: Aggregate = self.repository.get(self.key_stream(key_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Key) else None

    def key_registry(self) -> dict[str, Any]:
        """Every key registered in the ledger, revoked or not, from the keys' events in the log
        (`ledger.app.evidence.RegisteredKey`, keyed by id)."""
        from ledger.app.evidence import KEY_ADDED, KEY_REVOKED, Audit, register

        registry = Audit()
        for row in self.recorder.chain_rows(topics=[KEY_ADDED, KEY_REVOKED]):
            register(registry, row)
        return registry.keys

    def _check_signing(self, unit: Unit) -> None:
        """The rules of signed writes, checked against the ledger as stored when the events are
        (the policy's and the key's streams are preconditions of the write, so a policy adopted
        or a key revoked by another writer meanwhile makes this write try again):

        - once `require-signatures` is adopted, every write is signed, and adopting it is too;
        - a write is signed with a key registered in this ledger and not revoked, or, before the
          policy, with the key it registers itself;
        - every event of a signed write is recorded by the key's actor."""
        adopting = any(isinstance(e, Policy.Adopted) for e in unit.events)
        signer = getattr(self.recorder, "signer", None)  # none on the library's in-memory recorder
        registering = next((e.owner for e in unit.events
                            if isinstance(e, Key.Added) and signer is not None and e.key_id == signer.key_id), None)
        revoking = signer is not None and any(
            isinstance(e, Key.Revoked) and e.originator_id == self.key_stream(signer.key_id) for e in unit.events)
        self._signing_rules(unit, {str(getattr(e, "actor", None)) for e in unit.events}, adopting, registering,
                            revoking)

    def may_write(self, actor: str) -> Unit:
        """Refused now, as a write by `actor` would be at its commit: a bulk write says so before
        it validates a whole file. Returns an empty unit with what such a write relies on (its
        preconditions: the policy's and the key's streams at the versions seen; `signed_tail`),
        for a write stored without a unit: an import's batches, which another writer's policy or
        revocation in between makes check again, and refuse."""
        unit = self.unit()
        self._signing_rules(unit, {actor}, adopting=False, registering=None)
        return unit

    def _signing_rules(self, unit: Unit, actors: set[str], adopting: bool, registering: str | None,
                       revoking: bool = False) -> None:
        """`revoking`: this write revokes the signer's own key, which it may still sign."""
        signer = getattr(self.recorder, "signer", None)
        policy = unit.get(Policy, self.POLICY_ID)
        stored_policy = policy is not None and not adopting
        unit.signed_tail = stored_policy
        version = policy.version if policy is not None and stored_policy else 0
        unit.preconditions.insert(0, (0, self.POLICY_ID.hex, version))
        if signer is None:
            if stored_policy:
                raise Refused("this ledger requires signed writes (policy require-signatures): give --key KEYFILE "
                              "or set LEDGER_KEY; nothing was stored")
            if adopting:
                raise Refused("policy require-signatures must itself be signed, by a registered key: give --key "
                              "KEYFILE; nothing was stored")
            return
        key = None if registering is not None else unit.get(Key, self.key_stream(signer.key_id))
        if key is None and registering is None:
            raise Refused(f"key {signer.key_id} is not registered in this ledger: register its public key first "
                          "(ledger key add ACTOR PUBLIC_KEY --reason ...); nothing was stored")
        if key is None and stored_policy:
            raise Refused(f"key {signer.key_id} is not registered, and under require-signatures a key is "
                          "registered by a write signed with another registered key; nothing was stored")
        if key is not None:
            if key.revoked and not revoking:
                raise Refused(f"key {signer.key_id} was revoked: it signs nothing more; nothing was stored")
            stored = key.version - sum(1 for e in unit.events if e.originator_id == key.id)  # before this write
            unit.preconditions.insert(0, (0, key.id.hex, stored))
        owner = key.owner if key is not None else registering
        others = sorted(actors - {owner})
        if others:
            raise Refused(f"key {signer.key_id} is registered to {owner!r}; a write signed with it cannot be "
                          f"recorded as {', '.join(map(repr, others))}; nothing was stored")

    def apply(self, unit: Unit, op: m.Op, actor: str) -> Outcome:
        if op.key is None and type(op) not in self.ADDS and not isinstance(op, m.Record):
            # Every change carries a key, stored with its event, so that an export of this
            # ledger imported back into it is recognised line by line.
            op = op.model_copy(update={"key": f"op-{uuid4().hex}"})
        # every kind of incident has the one handler; each other op its own, by its name
        if isinstance(op, m.Record):
            return self._record_incident(unit, op, actor)
        outcome: Outcome = getattr(self, "_" + op.op.replace(".", "_"))(unit, op, actor)
        return outcome

    def run(self, op: m.Op, actor: str) -> Outcome:
        """Apply one op and store its events; the outcome carries its ledger position."""

        def attempt() -> Outcome:
            unit = self.unit()
            outcome = self.apply(unit, op, actor)
            positions = self.commit(unit)
            outcome.position = positions[-1] if positions else self.recorder.max_notification_id() or 0
            return outcome

        return self.retrying(attempt)

    def retrying(self, attempt: Callable[[], R], tries: int = 8) -> R:
        """Run `attempt` again, from scratch, when another writer stored events on the same
        aggregates first (an optimistic-concurrency conflict): the rules are checked again against
        what is stored now, so a repeated record becomes a no-op and a clash a clear refusal."""
        for n in range(tries):
            try:
                return attempt()
            except IntegrityError as error:
                if n == tries - 1:
                    raise Refused("other writers kept changing the same records; nothing was stored, "
                                  "try again") from error
                time.sleep(0.05 * (n + 1))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ lookups

    def _existing(self, unit: Unit, cls: type[A], kind: str, ident: str) -> A:
        found = unit.get(cls, derived_id(kind, ident))
        if found is None:
            raise NotFound(f"no {kind} {ident}")
        return found

    def _source(self, unit: Unit, source_id: str) -> Source:
        return self._existing(unit, Source, "source", source_id)

    def _entity(self, unit: Unit, entity_id: str) -> Entity:
        try:
            return self._existing(unit, Entity, "entity", entity_id)
        except NotFound:
            if is_country_ref(entity_id.upper()):
                try:
                    name = country_name(entity_id.upper())
                except InvalidInput:
                    raise NotFound(f"no entity {entity_id}") from None
                raise NotFound(f"no entity {entity_id} (for the country {name}, write {entity_id.upper()})") from None
            raise

    def _case(self, unit: Unit, case_id: str) -> Case:
        return self._existing(unit, Case, "case", case_id)

    ADDS: ClassVar[dict[type[m.Op], str]] = {m.SourceAdd: "source", m.EntityAdd: "entity", m.CaseOpen: "case"}

    def target_id(self, op: m.Op) -> UUID | None:
        """The aggregate an add or a record creates, when it can be known before running it."""
        if type(op) in self.ADDS:
            return derived_id(self.ADDS[type(op)], op.id)  # type: ignore[attr-defined]
        if isinstance(op, m.Record) and (op.key is not None or op.id is not None):
            return self._incident_id_of(op)
        return None

    @staticmethod
    def _incident_id_of(op: m.Record) -> UUID:
        """From the key when given (and then a given id must agree), else the given id, else new."""
        if op.key is not None:
            incident_id = incident_uuid_for_key(op.key)
            if op.id is not None and UUID(op.id) != incident_id:
                raise InvalidInput(f"id {op.id} is not the id of key {op.key!r} ({incident_id})")
            return incident_id
        return UUID(op.id) if op.id is not None else uuid4()

    def position_at(self, when: str) -> int:
        """`--as-of WHEN`: a position, or the last event recorded at or before an ISO 8601 date
        (its whole day) or date-time (UTC when no zone is given)."""
        head = self.recorder.max_notification_id() or 0
        text = str(when).strip()
        if text.isdigit():
            position = int(text)
            if position > head:
                raise Refused(f"--as-of {position}: the ledger has only {head} events")
            return position
        moment = parse_moment(text)
        low, high = 0, head  # timestamps grow with positions: find the last one not after WHEN
        while low < high:
            middle = (low + high + 1) // 2
            if self.event_at(middle).timestamp <= moment:
                low = middle
            else:
                high = middle - 1
        return low

    def event_at(self, position: int) -> Any:
        for _row, event in self.log(after=position - 1, upto=position, page=1):
            return event
        # a gap (a position whose event is gone) counts as the one before it
        return self.event_at(position - 1) if position > 1 else None

    def incident_uuid(self, ref: str) -> UUID:
        """An incident named by its id or by the key it was recorded with."""
        canonical = as_incident_id(ref)
        return UUID(canonical) if canonical else incident_uuid_for_key(ref)

    def _incident(self, unit: Unit, ref: str) -> Incident:
        incident = unit.get(Incident, self.incident_uuid(ref))
        if incident is None:
            raise NotFound(f"no incident {ref}")
        return incident

    def _check_refs(self, unit: Unit, refs: list[str], sources: list[str]) -> None:
        """Every entity and source named exists (an import names the same ones again and again:
        the unit remembers those it has found, as nothing removes an entity or a source)."""
        found = unit.found
        for ref in refs:
            if ref not in found and not is_country_ref(ref):  # countries always exist; their codes were validated
                self._entity(unit, ref)
                found.add(ref)
        for source_id in sources:
            if ("source", source_id) not in found:
                self._source(unit, source_id)
                found.add(("source", source_id))

    # ------------------------------------------------------------------ sources, entities, cases

    def _add(self, unit: Unit, cls: type[A], kind: str, op: m.Op, actor: str, created: type, **fields: Any) -> Outcome:
        ident = op.id  # type: ignore[attr-defined]
        existing = unit.get(cls, derived_id(kind, ident))
        if existing is not None:
            existing.same_as(op.digest(), op.data())  # type: ignore[attr-defined]
            return Outcome(ident, skipped=True)
        data = {k: v for k, v in op.data().items() if k not in fields}  # (a case's sources: their own field)
        aggregate = cls._create(created, id=derived_id(kind, ident), data=data, digest=op.digest(),
                                actor=actor, **fields)
        unit.add(aggregate)
        return Outcome(ident, False, unit.collect(aggregate))

    def _source_add(self, unit: Unit, op: m.SourceAdd, actor: str) -> Outcome:
        return self._add(unit, Source, "source", op, actor, Source.Added, source_id=op.id)

    def _source_amend(self, unit: Unit, op: m.SourceAmend, actor: str) -> Outcome:
        source = self._source(unit, op.id)
        changes = m.corrected_source(source.fields, op.set)  # valid as `source add` would take it, or refused
        done = source.amend(changes, op.reason, actor, op.key, m.source_amend_digest(op, changes))
        return Outcome(op.id, not done, unit.collect(source))

    def _entity_add(self, unit: Unit, op: m.EntityAdd, actor: str) -> Outcome:
        return self._add(unit, Entity, "entity", op, actor, Entity.Added, entity_id=op.id)

    def _case_open(self, unit: Unit, op: m.CaseOpen, actor: str) -> Outcome:
        existing = unit.get(Case, derived_id("case", op.id))
        if existing is None:
            self._check_refs(unit, [], op.sources)
        return self._add(unit, Case, "case", op, actor, Case.Opened, case_id=op.id, sources=op.sources)

    def _key_add(self, unit: Unit, op: m.KeyAdd, actor: str) -> Outcome:
        from ledger.app.evidence import key_id_of, parse_public_key, public_text

        raw = parse_public_key(op.public_key)
        key_id = key_id_of(raw)
        existing = unit.get(Key, self.key_stream(key_id))
        if existing is not None:
            existing.same_as(op.owner)
            if existing.revoked:
                raise Refused(f"key {key_id} was revoked: a revoked key is never registered again; make a new one "
                              "(ledger key new)")
            return Outcome(key_id, skipped=True)
        from ledger.app.evidence import may_register

        allowed = may_register(self.key_registry(), op.owner)
        signer = getattr(self.recorder, "signer", None)
        if allowed is not None and (signer is None or signer.key_id not in allowed):
            raise Refused(f"{op.owner} has or had a key: a new key for them is registered in a write signed with "
                          "one of their own keys, or by whoever registered their first key (--key); nothing was stored")
        key = Key._create(Key.Added, id=self.key_stream(key_id), key_id=key_id, public_key=public_text(raw),
                          owner=op.owner, reason=op.reason, actor=actor)
        unit.add(key)
        return Outcome(key_id, False, unit.collect(key))

    def _key_revoke(self, unit: Unit, op: m.KeyRevoke, actor: str) -> Outcome:
        from ledger.app.evidence import may_revoke

        key = unit.get(Key, self.key_stream(op.key_id))
        if key is None:
            raise NotFound(f"no key {op.key_id} in this ledger")
        if key.revoked:
            return Outcome(op.key_id, skipped=True)
        registry = self.key_registry()
        signer = getattr(self.recorder, "signer", None)
        if signer is None or signer.key_id not in may_revoke(registry, registry[op.key_id]):
            sponsor = registry[op.key_id].by
            raise Refused(f"key {op.key_id} is revoked in a write signed with a key of its owner ({key.owner})"
                          + (f" or of its sponsor ({sponsor})" if sponsor and sponsor != key.owner else "")
                          + " (--key); nothing was stored")
        left = [k for k in registry.values() if k.revoked is None and k.key_id != op.key_id]
        if not left and unit.get(Policy, self.POLICY_ID) is not None:
            raise Refused(f"key {op.key_id} is the last key not revoked, and every write must be signed: revoking "
                          "it would leave nobody able to write; register another key first; nothing was stored")
        done = key.revoke(op.reason, actor)
        return Outcome(op.key_id, not done, unit.collect(key))

    def _policy_adopt(self, unit: Unit, op: m.PolicyAdopt, actor: str) -> Outcome:
        if unit.get(Policy, self.POLICY_ID) is not None:
            return Outcome(op.policy, skipped=True)
        policy = Policy._create(Policy.Adopted, id=self.POLICY_ID, policy=op.policy, reason=op.reason, actor=actor)
        unit.add(policy)
        return Outcome(op.policy, False, unit.collect(policy))

    def _entity_alias(self, unit: Unit, op: m.EntityAlias, actor: str) -> Outcome:
        entity = self._entity(unit, op.id)
        done = entity.add_alias(op.alias, actor, op.key, op.digest())
        return Outcome(op.id, not done, unit.collect(entity))

    def _entity_merge(self, unit: Unit, op: m.EntityMerge, actor: str) -> Outcome:
        duplicate, survivor = self._entity(unit, op.duplicate), self._entity(unit, op.survivor)
        done = Entity.merge(duplicate, survivor, op.reason, actor, op.key, op.digest())
        return Outcome(op.duplicate, not done, unit.collect(duplicate, survivor))

    def _case_status(self, unit: Unit, op: m.CaseStatus, actor: str) -> Outcome:
        case = self._case(unit, op.id)
        done = case.change_status(op.status, op.reason, actor, op.key, op.digest())
        return Outcome(op.id, not done, unit.collect(case))

    # ------------------------------------------------------------------ contested claims (ledger/app/claiming.py)

    _claim = claiming.claim
    _accept = claiming.accept
    _refute = claiming.refute

    # ------------------------------------------------------------------ incidents

    def _record_incident(self, unit: Unit, op: m.Record, actor: str) -> Outcome:
        incident_id = self._incident_id_of(op)
        # A repeated key is recognised before any other rule, so re-recording succeeds even
        # when the case has since been closed.
        if unit.settled.seen(incident_id, op.digest()):
            return Outcome(str(incident_id), skipped=True, stream=incident_id)
        existing = unit.get(Incident, incident_id)
        if existing is not None:
            if existing.kind != op.kind or existing.case != op.case:
                raise AlreadyExists(f"incident {op.key or op.id} was already recorded with other data "
                                    f"({a(existing.kind)} in case {existing.case})")
            existing.same_as(op.digest(), op.fields())
            return Outcome(str(incident_id), skipped=True, stream=incident_id)
        case = self._case(unit, op.case)
        case.check_accepts_incidents()
        unit.relies_on(case)  # a close by another writer before this is stored makes it try again
        self._check_refs(unit, op.role_refs(), op.sources)
        recorded = Incident.recorded(incident_id, case=op.case, kind=op.kind, key=op.key, fields=op.fields(),
                                     digest=op.digest(), actor=actor)
        unit.loaded.pop(incident_id, None)  # known absent until now
        unit.created[incident_id] = recorded
        unit.events.append(recorded)
        return Outcome(str(incident_id), False, [recorded], warnings=_dated_later(op.on), stream=incident_id)

    def _amend(self, unit: Unit, op: m.Amend, actor: str) -> Outcome:
        incident = self._incident(unit, op.incident)
        changes = self._changes(incident, op.set)
        digest = m.correction_digest(op, incident.incident_id, changes)
        if incident.seen(op.key, digest):
            return Outcome(incident.incident_id, skipped=True)
        corrected = self._validate_corrected(incident, changes)
        self._check_refs(unit, corrected.role_refs(), [*corrected.sources, *op.sources])
        fields = corrected.fields()
        changes = {k: fields[k] for k in fields if k in changes or (k == "precision" and "on" in changes)}
        done = incident.amend(changes, op.reason, op.sources, actor, op.key, digest)
        return Outcome(incident.incident_id, not done, unit.collect(incident),
                       warnings=_dated_later(changes["on"]) if done and "on" in changes else [])

    def _changes(self, incident: Incident, values: dict[str, Any], verb: str = "amend") -> dict[str, Any]:
        """`--set FIELD=VALUE` pairs as stored fields, each value in its normal form."""
        allowed = amendable_fields(incident.kind)
        aliases = {field: role for role, field in m.RECORDS[incident.kind].roles.items()}
        changes: dict[str, Any] = {}
        for given, value in values.items():
            name = aliases.get(given, given)
            if name not in allowed:
                raise InvalidInput(
                    f"cannot {verb} {shown(name)} of {a(incident.kind)}: {verb} one of {', '.join(allowed)}")
            changes[name] = m.normal_value(incident.kind, name, value)
        return changes

    def _validate_corrected(self, incident: Incident, changes: dict[str, Any]) -> m.Record:
        """The corrected incident must be a valid incident of its kind, as a whole."""
        fields = {**incident.fields, **changes}
        return m.record_from_fields(incident.kind, incident.case, fields)

    def _retract(self, unit: Unit, op: m.Retract, actor: str) -> Outcome:
        incident = self._incident(unit, op.incident)
        digest = m.correction_digest(op, incident.incident_id, {})
        if incident.seen(op.key, digest):
            return Outcome(incident.incident_id, skipped=True)
        self._check_refs(unit, [], op.sources)
        done = incident.retract(op.reason, op.sources, actor, op.key, digest)
        return Outcome(incident.incident_id, not done, unit.collect(incident))
