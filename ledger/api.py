"""The ledger as one Python object: open it by URL, call a method per use case, close it.

    from ledger.api import Ledger

    with Ledger("ledger.db", actor="analyst") as ledger:
        ledger.add_source("src-1", publisher="Kyodo", title="Raid in Chiba")
        ledger.open_case("chiba", title="Lexus seizure")
        ledger.record("raid", "chiba", on="2024-03-01", sources=["src-1"], authority="JP", target="JP")
        ledger.timeline(case="chiba", as_of=3)
        ledger.verify().ok

`db` is what `ledger --db` takes (a SQLite file path, sqlite:///PATH, or postgresql+psycopg://...),
`actor` who records (default: the OS login name) and `key` the private key file every write is
signed with (`ledger --key`). The command-line interface (`commands/`) is a thin layer over this
class: each command parses its options, calls one method and prints what it returns.

Writes take the field names of the import's JSON lines (`record("seizure", case, item=..., on=...,
sources=[...])`) and return a `Written`. A write to a ledger that does not exist yet is checked
against an empty one in memory first, so a refused write creates nothing. Warnings (an incident
dated in the future) are stored all the same: they are in `Written.warnings` and handed to
`on_warning`. Refusals and bad input raise the errors of `ledger.errors`.

Reads (`cases`, `case`, `entities`, `entity`, `timeline`) answer from the read models, caught up
first, or as of a position or recording time (`as_of`); `history` and `verify` read the stored
events themselves.

Nothing heavy is imported here: the event library, pydantic and the read models are imported by
the methods that need them, so a read of an up-to-date ledger (and `ledger --help`) stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ledger.errors import InvalidInput, Refused, VerificationFailed
from ledger.export import FORMATS as EXPORT_FORMATS
from ledger.report import FORMATS as REPORT_FORMATS
from ledger.store.settings import Settings, default_actor

if TYPE_CHECKING:
    from ledger.app.application import LedgerApplication
    from ledger.app.evidence import Audit, NewKey, Signer
    from ledger.app.importer import ImportResult, Lines
    from ledger.app.inputs import KeyAdd, Op
    from ledger.store.copying import Copied
    from projections.queries import Db
    from projections.readmodels import ReadModels

T = TypeVar("T")
Progress = Callable[..., None]  # progress(done, total=None, phase=None): how far a long operation has got
Where = str | PathLike[str]

# the ops of the ledger's own evidence, beside the import's (`ledger.app.inputs.OPS`)
EVIDENCE_OPS = ("key.add", "key.revoke", "policy.adopt")


@dataclass(frozen=True)
class Written:
    """What one write did: the id it names (for an incident its UUID, for a key its key id),
    whether it was already recorded (nothing stored), its ledger position, and its warnings."""

    id: str
    skipped: bool
    position: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Replayed:
    replayed: int
    position: int


@dataclass(frozen=True)
class Receipt:
    """A signed receipt of the ledger's position and head (`checkpoint`). `text` is the receipt as
    published; `kept`: whether it is also kept in the ledger (where reports name it)."""

    receipt: dict[str, Any]
    text: str
    position: int
    head: str
    owner: str
    key_id: str
    kept: bool


@dataclass(frozen=True)
class Demo:
    result: ImportResult
    report: str


def new_key(path: Where) -> NewKey:
    """Make an Ed25519 key pair: the private key in `path` (mode 0600, never over an existing
    file), the public key beside it in `path`.pub."""
    from ledger.app.evidence import new_key as make

    return make(Path(path))


def parse_op(name: str, data: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Op:
    """Validate `data` into the input model of op `name` (`source.add`, `record.raid`, ... as an
    import line names it, or `key.add`, `key.revoke`, `policy.adopt`): InvalidInput, in one line,
    when it is not valid. `names` renames fields in that message (the CLI names its options)."""
    from ledger.app import inputs
    from ledger.domain.values import shown

    models: dict[str, type[inputs.Op]] = {**inputs.OPS, inputs.KeyAdd.op: inputs.KeyAdd,
                                          inputs.KeyRevoke.op: inputs.KeyRevoke,
                                          inputs.PolicyAdopt.op: inputs.PolicyAdopt}
    model = models.get(name)
    if model is None:
        raise InvalidInput(f"unknown op {shown(name)}: use one of {', '.join(models)}")
    return inputs.parse(model, dict(data), dict(names) if names else None)


def public_key_text(given: str | PathLike[str]) -> str:
    """A public key as `ledger key new` printed it, or the content of the file it names (a .pub
    file, or a PEM public key file)."""
    path = Path(given)
    try:
        if len(str(given)) < 4096 and path.is_file():
            from ledger.app.evidence import read_small

            return read_small(path, "PUBLIC_KEY").decode("utf-8", errors="replace")
    except OSError:
        pass
    return str(given)


def _given(**values: Any) -> dict[str, Any]:
    """The values given: None means not given, as an absent field of an import line."""
    return {name: list(value) if isinstance(value, tuple) else value
            for name, value in values.items() if value is not None}


class Ledger:
    """One ledger, opened by URL, with the actor who records. Use it as a context manager (or
    call `close`): it holds the event store's connections and the read models'."""

    def __init__(self, db: Where = "ledger.db", actor: str | None = None, key: Where | None = None,
                 on_warning: Callable[[str], None] | None = None):
        self.settings = Settings(db=str(db), actor=actor or default_actor())
        self.actor_given = actor is not None  # an actor named by the caller, not the login name
        self.key_file = str(key) if key else None
        self.on_warning = on_warning
        self._signer: Signer | None = None
        self._app: LedgerApplication | None = None
        self._read_models: ReadModels | None = None
        self._scratch: list[LedgerApplication] = []  # empty ledgers in memory that checked a first write

    # ------------------------------------------------------------------ opening and closing

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this object opened: the application's (its recorder's and its
        factory's), the scratch ledgers' and every read model's. It may be used again afterwards."""
        apps = [app for app in (self._app, *self._scratch) if app is not None]
        read_models = [self._read_models] if self._read_models is not None else []
        self._app, self._read_models, self._scratch = None, None, []
        for app in apps:
            app.close()
            app.factory.close()
        for rm in read_models:
            rm.close()

    @property
    def where(self) -> str:
        """The ledger as a message names it: its file, or host:port/database."""
        return self.settings.where

    @property
    def backend(self) -> str:
        return self.settings.backend

    def exists(self) -> bool:
        """Whether a ledger is stored there yet (known once it is open, else one probe)."""
        return self._app is not None or self.settings.exists()

    def application(self, create: bool = False, checked: bool = False) -> LedgerApplication:
        """The event-sourced application (built once): a write (`create`) creates the ledger,
        everything else needs it to exist. `checked`: the store was probed just now."""
        if self._app is None:
            from ledger.store.settings import open_ledger

            self._app = open_ledger(self.settings, create=create, checked=checked)
        if create:
            self._app.recorder.signer = self.signer()
        return self._app

    def signer(self) -> Signer | None:
        """The key every write is signed with, when one is given."""
        if self._signer is None and self.key_file:
            from ledger.app.evidence import Signer

            self._signer = Signer(self.key_file)
        return self._signer

    # ------------------------------------------------------------------ who writes

    @property
    def actor(self) -> str:
        """Who records. With a key, the actor is the one the key is registered to, and an actor
        given that names someone else is refused."""
        from ledger.store.settings import check_actor

        name = check_actor(self.settings.actor)
        signer = self.signer()
        if signer is None:
            return name
        key = self.application(create=True, checked=True).key(signer.key_id) if self.exists() else None
        return name if key is None else self._actor_of_key(key.owner, signer.key_id)

    def _actor_of_key(self, owner: str, key_id: str) -> str:
        from ledger.store.settings import check_actor

        if self.actor_given and check_actor(self.settings.actor) != owner:
            raise Refused(f"--actor {self.settings.actor!r} disagrees with --key: key {key_id} is registered "
                          f"to {owner!r}; nothing was stored")
        return owner

    def _writer(self) -> tuple[LedgerApplication, Callable[[], LedgerApplication]]:
        """(the application a write is checked against, a callable giving the one it is stored
        in). While no ledger exists, the write is checked against an empty one in memory and the
        ledger is created only to store it: a refused write leaves no new ledger behind."""
        if self.exists():
            app = self.application(create=True, checked=True)
            return app, lambda: app
        from ledger.store.settings import open_scratch

        scratch = open_scratch()
        self._scratch.append(scratch)
        scratch.recorder.signer = self.signer()
        return scratch, lambda: self.application(create=True, checked=True)

    # ------------------------------------------------------------------ writes

    def run(self, op: Op) -> Written:
        """Apply one validated op (`parse_op`) and store its events."""
        from ledger.app import inputs

        if isinstance(op, inputs.KeyRevoke):
            self.settings.require()
        actor = self._key_adder(op) if isinstance(op, inputs.KeyAdd) else self.actor
        check, store = self._writer()
        if check is not self._app:
            check.run(op, actor)  # in the empty ledger in memory: refused here, nothing is created
        outcome = store().run(op, actor)
        if self.on_warning is not None:
            for warning in outcome.warnings:
                self.on_warning(warning)
        return Written(outcome.id, outcome.skipped, outcome.position or 0, tuple(outcome.warnings))

    def _key_adder(self, op: KeyAdd) -> str:
        """Who registers a key: a key registering itself is signed by its own holder."""
        from ledger.app.evidence import key_id_of, parse_public_key

        key_id = key_id_of(parse_public_key(op.public_key))
        signer = self.signer()
        if signer is not None and signer.key_id == key_id and (
                not self.exists() or self.application(create=True, checked=True).key(key_id) is None):
            return self._actor_of_key(op.owner, key_id)
        return self.actor

    def write(self, op: str, **fields: Any) -> Written:
        """Any op by its import name, with the import line's fields (None: not given)."""
        return self.run(parse_op(op, _given(**fields)))

    def add_source(self, id: str, *, publisher: str, title: str, url: str | None = None,
                   published: str | None = None, reliability: str | None = None, credibility: int | None = None,
                   key: str | None = None) -> Written:
        return self.write("source.add", id=id, publisher=publisher, title=title, url=url, published=published,
                          reliability=reliability, credibility=credibility, key=key)

    def add_entity(self, id: str, *, kind: str, name: str, aliases: Sequence[str] = (), country: str | None = None,
                   identifiers: Mapping[str, str] | Sequence[str] | None = None, key: str | None = None) -> Written:
        """`identifiers`: {scheme: value}, or "SCHEME=VALUE" strings."""
        ids = dict(identifiers) if isinstance(identifiers, Mapping) else list(identifiers or [])
        return self.write("entity.add", id=id, kind=kind, name=name, aliases=list(aliases), country=country,
                          identifiers=ids, key=key)

    def add_alias(self, entity: str, alias: str, *, key: str | None = None) -> Written:
        return self.write("entity.alias", id=entity, alias=alias, key=key)

    def merge(self, duplicate: str, survivor: str, *, reason: str, key: str | None = None) -> Written:
        """Merge a duplicate entity into the one that survives."""
        return self.write("entity.merge", duplicate=duplicate, survivor=survivor, reason=reason, key=key)

    def open_case(self, id: str, *, title: str, jurisdiction: str | None = None, regime: str | None = None,
                  summary: str | None = None, sources: Sequence[str] = (), key: str | None = None) -> Written:
        """Open a case; `sources`: what its fields rest on (the case as opened is their claim)."""
        return self.write("case.open", id=id, title=title, jurisdiction=jurisdiction, regime=regime,
                          summary=summary, sources=list(sources), key=key)

    def set_status(self, case: str, status: str, *, reason: str, key: str | None = None) -> Written:
        """Change a case's status (a closed case can only be reopened)."""
        return self.write("case.status", id=case, status=status, reason=reason, key=key)

    def record(self, kind: str, case: str, **fields: Any) -> Written:
        """Record an incident of any kind (`kinds()`), with the fields of its import line:
        `on`, `sources`, its roles (`authority`, `subjects`, ...) and its own fields."""
        from ledger.app.inputs import RECORDS
        from ledger.domain.values import shown

        if kind not in RECORDS:
            raise InvalidInput(f"unknown kind {shown(kind)}: use one of {', '.join(RECORDS)}")
        return self.write(f"record.{kind}", case=case, **fields)

    @staticmethod
    def kinds() -> list[str]:
        """The kinds of incident `record` takes."""
        from ledger.app.inputs import RECORDS

        return list(RECORDS)

    def amend(self, incident: str, *, reason: str, set: Mapping[str, Any], sources: Sequence[str] = (),
              key: str | None = None) -> Written:
        """Correct an incident (by its id or key): `set` the corrected fields. A new event; the
        stored one is never changed."""
        return self.write("amend", incident=incident, reason=reason, set=dict(set), sources=list(sources), key=key)

    def retract(self, incident: str, *, reason: str, sources: Sequence[str] = (), key: str | None = None) -> Written:
        """Retract an incident: it stays in history, out of the timeline."""
        return self.write("retract", incident=incident, reason=reason, sources=list(sources), key=key)

    # ---- contested claims (ledger.domain.claims holds the rules)

    def claim(self, target: str, *, source: str, set: Mapping[str, Any], quote: str | None = None,
              key: str | None = None) -> Written:
        """What `source` says about fields of `target` (an incident's id or key, or `case:ID`),
        kept beside what the others say: `set` {FIELD: value}, several fields one claim."""
        return self.write("claim", target=target, source=source, set=dict(set), quote=quote, key=key)

    def accept(self, target: str, field: str, *, source: str, reason: str, key: str | None = None) -> Written:
        """Make `source`'s claim of `field` the target's value, with the reason."""
        return self.write("accept", target=target, field=field, source=source, reason=reason, key=key)

    def refute(self, target: str, field: str, *, source: str, reason: str, key: str | None = None) -> Written:
        """Mark `source`'s claim of `field` wrong, with the reason: kept and shown, no longer counted."""
        return self.write("refute", target=target, field=field, source=source, reason=reason, key=key)

    def disputes(self, cases: str | Iterable[str] | None = None, *, as_of: str | int | None = None
                 ) -> list[dict[str, Any]]:
        """Every field sources contest (their claims give more than one value), settled or not:
        `{"target", "case", "field", "values": [{"value", "sources", "status", "corroborated"}],
        "disputed", "accepted", "key"}`, of `cases` only when given."""
        from projections import queries

        wanted = [cases] if isinstance(cases, str) else list(cases or [])
        return self._query(queries.disputes, wanted, as_of=as_of)

    def import_lines(self, lines: Lines | Callable[[], Lines], *, batch: int = 5000,
                     progress: Progress | None = None) -> ImportResult:
        """Import JSON Lines (text, or bytes that must be UTF-8; or a callable that reads them
        afresh, as they are read twice): validated whole, then stored `batch` lines per
        transaction. Bad lines: ImportRejected, with each line's problem, and nothing stored.
        Warnings come back in the result as (line, warning)."""
        from ledger.app.importer import import_lines

        actor = self.actor
        check, store = self._writer()
        check.may_write(actor)  # a ledger that refuses this signer (or its absence) says so before the lines are read
        def caught_up(recorded: list[Any]) -> None:  # each batch stored: the read models follow
            self._live(recorded=recorded)

        return import_lines(check, lines, actor, progress, batch=batch, store=store, after_batch=caught_up)

    def import_file(self, path: Where, *, batch: int = 5000, progress: Progress | None = None) -> ImportResult:
        """Import a JSON Lines file."""

        def lines() -> Iterator[bytes]:  # bytes: the importer says which line is not UTF-8
            with open(path, "rb") as f:
                yield from f

        return self.import_lines(lines, batch=batch, progress=progress)

    def demo(self) -> Demo:
        """Record the Chiba Lexus story (skipping what is there) and give the seizure case's report."""
        from importlib.resources import files

        lines = files("ledger").joinpath("story.jsonl").read_text(encoding="utf-8").splitlines()
        result = self.import_lines(lines)
        return Demo(result, self.report("chiba-lexus"))

    # ------------------------------------------------------------------ evidence

    def add_key(self, owner: str, public_key: str | PathLike[str], *, reason: str) -> Written:
        """Register `owner`'s public key (the key as `new_key` made it, or its .pub file): writes
        signed with it are theirs. `Written.id` is the key id."""
        return self.run(parse_op("key.add", {"owner": owner, "public_key": public_key_text(public_key),
                                             "reason": reason}))

    def revoke_key(self, key_id: str, *, reason: str) -> Written:
        return self.run(parse_op("key.revoke", {"key_id": key_id.strip(), "reason": reason}))

    def require_signatures(self, *, reason: str) -> Written:
        """From now on, every write must be signed with its actor's registered key (for good)."""
        return self.run(parse_op("policy.adopt", {"policy": "require-signatures", "reason": reason}))

    def keys(self) -> list[dict[str, Any]]:
        """The keys registered in the ledger, read from its log (which must verify)."""
        from ledger.app.evidence import audit, public_text

        result = audit(self.application().recorder.chain_rows())
        if not result.ok:
            raise VerificationFailed(f"the log does not verify ({result.problem}): run ledger verify")
        return [{"key": k.key_id, "actor": k.owner, "public_key": public_text(k.public_raw), "registered_at": k.added,
                 "registered_by": k.by, "revoked_at": k.revoked} for k in result.keys.values()]

    def checkpoint(self, publish: Callable[[str], None] | None = None) -> Receipt:
        """Sign a receipt of the ledger's position and head with the key: `publish(text)` is
        called first (a receipt that could not be published is not kept either), then the receipt
        is kept in the ledger, when this user may write there."""
        import json

        from ledger.app.evidence import audit, make_receipt

        signer = self.signer()
        if signer is None:
            raise Refused("a receipt is signed: give --key KEYFILE (or set LEDGER_KEY)")
        app = self.application()
        result = audit(app.recorder.chain_rows())
        if not result.ok:
            where = f" at position {result.first_bad_position}" if result.first_bad_position else ""
            raise VerificationFailed(f"verification failed{where}: {result.problem}; no receipt is signed for a "
                                     "log that does not verify")
        if result.ledger is None:
            raise Refused("the ledger holds no events yet: nothing to sign a receipt of")
        key = result.keys.get(signer.key_id)
        if key is None or key.revoked is not None:
            state = "revoked" if key is not None else "not registered in this ledger"
            raise Refused(f"key {signer.key_id} is {state}: a receipt is signed with a registered key")
        owner = self._actor_of_key(key.owner, key.key_id)
        receipt = make_receipt(signer, owner, result.ledger, result.position, result.head)
        text = json.dumps(receipt, indent=1) + "\n"
        if publish is not None:
            publish(text)
        kept = app.recorder.keep_receipt(result.position, result.head, text)  # False: this user may only read
        return Receipt(receipt, text, result.position, result.head, owner, key.key_id, kept)

    # ------------------------------------------------------------------ reads

    def _live(self, recorded: list[Any] | None = None, catch_up: bool = True) -> ReadModels:
        """The live read models, caught up with the ledger (every read calls this first)."""
        if self._read_models is None:
            self.settings.require()
            from projections.readmodels import ReadModels

            self._read_models = ReadModels(self.settings)
        if catch_up:
            self._read_models.catch_up(recorded=recorded)
        return self._read_models

    @contextmanager
    def _as_of(self, position: int) -> Iterator[ReadModels]:
        """Read models built in memory from the events up to `position`, for one read: let go
        when it is done, so an open `Ledger` does not grow with every as-of read or report."""
        from projections.readmodels import ReadModels

        read_models = ReadModels.as_of(self.application(), position)
        try:
            yield read_models
        finally:
            read_models.close()

    def position_at(self, when: str | int) -> int:
        """A ledger position, or the last one recorded at or before an ISO 8601 date or time."""
        return self.application().position_at(str(when))

    @contextmanager
    def _reading(self, as_of: str | int | None) -> Iterator[tuple[Db, int]]:
        """(a query connection, its position): a bare connection when the read models are up to
        date, else the read models caught up first, or built as of a position."""
        if as_of is None:
            from projections.light import damage_said, open_light

            light = open_light(self.settings)
            if light is not None:
                from projections.queries import Db

                try:
                    with damage_said():
                        yield Db(light.conn, light.generation), light.position
                finally:
                    light.close()
                return
            with self._live().reading() as read:
                yield read
            return
        with self._as_of(self.position_at(as_of)) as read_models, read_models.reading() as read:
            yield read

    def _query(self, query: Callable[..., T], *args: Any, as_of: str | int | None = None) -> T:
        with self._reading(as_of) as (db, position):
            result = query(db, *args)
        if isinstance(result, dict):
            result["position"] = position
        return result

    def cases(self, status: str | None = None, *, as_of: str | int | None = None) -> list[dict[str, Any]]:
        """Every case with its count of incidents (retracted ones left out)."""
        from projections import queries

        return self._query(queries.cases, status, as_of=as_of)

    def case(self, case: str, *, as_of: str | int | None = None, names: bool = False) -> dict[str, Any]:
        """A case, its incidents and the entities in them; `position`: the ledger's it answers at.
        `names`: each incident also has `"names"`, {ENTITY_ID: name} for the entities in its roles
        (a merged duplicate under the name of the entity it was merged into), for people to read."""
        from projections import queries

        return self._query(queries.case_show, _named(case, "case"), names, as_of=as_of)

    def entities(self, kind: str | None = None, *, as_of: str | int | None = None) -> list[dict[str, Any]]:
        """Entities (merged duplicates left out) and the countries in a role."""
        from projections import queries

        return self._query(queries.entities, kind, as_of=as_of)

    def entity(self, entity: str, *, as_of: str | int | None = None, names: bool = False) -> dict[str, Any]:
        """An entity, what was merged into it, and its incidents. `names`: also `"names"`, each
        duplicate merged into it by its own name and its country by the country's name."""
        from projections import queries

        def read(db: Db, entity: str) -> dict[str, Any]:
            found = queries.entity_show(db, entity)
            if names:
                found["names"] = queries.entity_names(db, found)
            return found

        return self._query(read, _named(entity, "entity"), as_of=as_of)

    def timeline(self, case: str | None = None, entity: str | None = None, *, include_retracted: bool = False,
                 as_of: str | int | None = None, names: bool = False) -> list[dict[str, Any]]:
        """Incidents in the order they happened: all, a case's, or those an entity (or a
        duplicate merged into it) is in. `names`: each with `"names"`, as `case` gives them."""
        from projections import queries

        return self._query(queries.timeline, case, entity, include_retracted, names, as_of=as_of)

    def history(self, ident: str | None = None, *, as_of: str | int | None = None) -> list[dict[str, Any]]:
        """The stored events in position order, all or of one case, entity, source, key or
        incident, each with its hash and whether its chain link holds (`verified`); `as_of`: only
        those up to that position (or recording time)."""
        from ledger.app.history import history

        upto = self.position_at(as_of) if as_of is not None else None
        return history(self.application(), ident, upto=upto)

    # ------------------------------------------------------------------ asking the ledger: incidents, stats

    def incidents(self, *, case: str | Iterable[str] | None = None, kind: str | Iterable[str] | None = None,
                  entity: str | Iterable[str] | None = None, role: str | Iterable[str] | None = None,
                  country: str | Iterable[str] | None = None, source: str | Iterable[str] | None = None,
                  min_grade: str | None = None, date_from: str | None = None, date_to: str | None = None,
                  within: bool = False, status: str | Iterable[str] | None = None, text: str | None = None,
                  recorded_since: str | int | None = None, sort: str = "on", limit: int | None = None,
                  offset: int | None = None, as_of: str | int | None = None,
                  names: bool = False) -> list[dict[str, Any]]:
        """INCIDENTs that pass every filter given (a list is any of its values; different filters
        all hold), in timeline order or `sort` (`on`, `-on`, `recorded`, `-recorded`), paged.
        `entity` follows merges; `country` is the incident's or one filling a role; `date_from` /
        `date_to` (`--from`/`--to`): the incident's date range overlaps theirs, or with `within`
        lies inside it; `min_grade` (`B2`): one of its sources graded that well; `status`:
        `active`, `amended`, `retracted` (left out unless asked for), `disputed`; `text`: words in
        its text and the names of the entities in its roles; `recorded_since`: a position (what
        came after it) or an ISO 8601 recording date or time. `names`: each with `"names"`, as
        `case` gives them."""
        from projections import asking

        found = asking.filters(case=case, kind=kind, entity=entity, role=role, country=country, source=source,
                               min_grade=min_grade, date_from=date_from, date_to=date_to, within=within,
                               status=status, text=text, recorded_since=recorded_since)
        return self._query(asking.incidents, found, sort, limit, offset, names, as_of=as_of)

    def incident(self, ref: str, *, as_of: str | int | None = None) -> dict[str, Any]:
        """One INCIDENT by id or key (retracted ones too), with `"names"` ({ENTITY_ID: name} for
        the entities in its roles), `"history"` (its events, as `history` gives them) and
        `"position"`."""
        from ledger.app.history import history
        from projections import asking

        with self._reading(as_of) as (db, position):
            found = asking.incident_show(db, _named(ref, "incident"))
        found["history"] = history(self.application(), found["id"], upto=position)
        found["position"] = position
        return found

    def stats(self, by: str = "kind", *, limit: int | None = None, offset: int | None = None,
              as_of: str | int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Incidents counted by `kind`, `country`, `year`, `case`, `source` or `actor`:
        `{"key", "incidents", "first", "last"}`, most first (years in order); retracted ones count
        nowhere. `filters`: those of `incidents`, to count only some."""
        from projections import asking

        return self._query(asking.stats, by, asking.filters(**filters), limit, offset, as_of=as_of)

    def tables(self) -> Any:
        """The read models' tables of the live generation as SQLAlchemy Core tables, by short name
        (`incidents`, `cases`, `entities`, `sources`, `incident_roles`, ...), for `select(...)`;
        run it on `engine()`. A replay moves to a new generation: ask again after one."""
        from projections.tables import read_tables

        with self._reading(None) as (db, _position):
            return read_tables(db.generation)

    def engine(self) -> Any:
        """A SQLAlchemy engine whose connections read this ledger's read models (caught up now;
        on PostgreSQL in their own schema, as the ledger's reads see them), for
        `pandas.read_sql(select(...), ledger.engine())`. Read them only: the projector writes them."""
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from projections.database import connect

        self._live()
        settings = self.settings
        url = "sqlite://" if settings.backend == "sqlite" else "postgresql+psycopg://"
        return create_engine(url, creator=lambda: connect(settings, read_only=True), poolclass=NullPool)

    # ------------------------------------------------------------------ asking the ledger: sources, links

    def sources(self, *, publisher: str | None = None, min_grade: str | None = None, limit: int | None = None,
                offset: int | None = None, as_of: str | int | None = None) -> list[dict[str, Any]]:
        """Sources by id, as they stand after amendments: `{"id", "publisher", "title", "url",
        "published", "reliability", "credibility", "cited_by"}` (`cited_by`: the incidents not
        retracted that rest on it). `publisher`: words of the publisher's name, case, accents and
        punctuation aside; `min_grade` (`B2`): graded at least that well; paged."""
        from projections import asking

        return self._query(asking.sources, publisher, min_grade, limit, offset, as_of=as_of)

    def source(self, source: str, *, as_of: str | int | None = None) -> dict[str, Any]:
        """One source as `sources` gives it, with `"incidents"` (ids, timeline order, retracted
        ones left out), `"amendments"`, `"claims"` and `"position"`."""
        from projections import asking

        return self._query(asking.source_show, _named(source, "source"), as_of=as_of)

    def amend_source(self, source: str, *, reason: str, set: Mapping[str, Any], key: str | None = None) -> Written:
        """Correct a source's fields (`publisher`, `title`, `url`, `published`, `reliability`,
        `credibility`; an empty value clears an optional one): a new event, validated as `add_source`
        validates a source; refused when it changes nothing."""
        return self.write("source.amend", id=source, reason=reason, set=dict(set), key=key)

    def links(self, entity: str, *, depth: int = 1, cases: str | Iterable[str] | None = None,
              limit: int | None = None, offset: int | None = None,
              as_of: str | int | None = None) -> list[dict[str, Any]]:
        """The entities that share incidents (not retracted; of `cases` when given) with `entity`,
        merges followed, and at depth 2 theirs: `{"id", "name", "kind", "incidents", "cases",
        "roles", "first", "last", "depth", "via"}`, nearer first, then most shared, then by id."""
        from projections import asking

        return self._query(asking.links, _named(entity, "entity"), depth, cases, limit, offset, as_of=as_of)

    # ------------------------------------------------------------------ asking the ledger: search

    def search(self, text: str, types: str | Iterable[str] = (), *, limit: int | None = 20, offset: int | None = 0,
               as_of: str | int | None = None) -> list[dict[str, Any]]:
        """What matches every word of `text`, best first: names, aliases and ids of entities,
        titles of cases and sources, the text of incidents and the names of the entities in their
        roles (retracted incidents left out), without regard to case, accents, script or the
        spelling of a name (`han thae-song` finds Han Tae-song). Each `{"type", "id", "label",
        "field", "score"}`; `types`: only these (`entity`, `case`, `source`, `incident`)."""
        from projections import search

        wanted = [types] if isinstance(types, str) else list(types)
        return self._query(search.search, text, wanted, limit, offset, as_of=as_of)

    # ------------------------------------------------------------------ audit and upkeep

    def verify(self, expect: str | None = None, receipts: Iterable[Where] = (), deep: bool = False) -> Audit:
        """Check the hash chain, every signature and the signature policy over every stored event
        (`expect`: a head the chain must pass through), and each receipt file; `deep`: also rebuild
        the read models in memory and compare them with the live ones. The verdict's `ok` says
        whether it all holds; `head` is the chain's head."""
        from ledger.app.evidence import audit, parse_receipt, read_small

        if expect is not None:
            expect = expect.strip().lower()
            if len(expect) != 64 or any(c not in "0123456789abcdef" for c in expect):
                raise InvalidInput(f"--expect {expect!r}: a head is 64 hex digits, as verify printed it")
        given = [(str(name), parse_receipt(read_small(str(name), "--receipt"), str(name))) for name in receipts]
        app = self.application()
        verdict = audit(app.recorder.chain_rows(), expect, given)
        if deep and verdict.ok:
            from projections.integrity import deep_problem

            problem = deep_problem(self._live(catch_up=False), app)
            if problem is not None:
                verdict.fail(None, problem)
        return verdict

    def replay(self, *, force: bool = False, progress: Progress | None = None) -> Replayed:
        """Rebuild every read model from the first event; swapped in only when complete. `force`:
        even when the log no longer holds what they were built from."""
        from ledger.store.bulk import paused_gc

        read_models = self._live(catch_up=False)  # a replay rebuilds them whole anyway
        with paused_gc():
            replayed, position = read_models.replay(progress, force=force)
        return Replayed(replayed, position)

    def copy(self, to: Where) -> Copied:
        """Copy the stored events as they are into another database (empty, or an earlier copy):
        same chain, same head."""
        from ledger.store.copying import copy_events

        with Ledger(to, actor=self.settings.actor) as target:
            return copy_events(self.application(), target.application(create=True))

    def init(self) -> dict[str, Any]:
        """Create or upgrade the ledger's tables (by the database's owner); what was done."""
        from ledger.store.settings import EVENTS_TABLE, PG_EVENTS_TABLE
        from ledger.store.storage import everything

        settings = self.settings
        postgres = settings.backend == "postgresql"
        # a folder, a missing folder, another program's SQLite file, an unreachable server: refused
        before = settings.probe()
        changes: list[str]
        if before.current:
            done, changes = "nothing", []
        else:
            if postgres and not before.may_change:
                raise Refused(f"role {before.role} may not create or change the ledger's tables at {settings.where}: "
                              "run ledger init as the database owner")
            self.application(create=True, checked=True)  # the library's table, then ledger.store.storage's additions
            after = settings.probe()
            if not after.current:
                raise Refused(f"the ledger at {settings.where} still lacks {'; '.join(after.missing)}")
            done = "upgraded" if before.present else "created"
            changes = list(before.missing) if before.present else everything(
                PG_EVENTS_TABLE if postgres else EVENTS_TABLE, postgres)
        read_models = self._live()  # created, or of an older layout rebuilt, and caught up
        with read_models.reading() as (_db, position):
            pass
        return {"ledger": settings.where, "backend": settings.backend, "done": done, "changes": changes,
                "read_models": {"position": position, "stored": not read_models.read_only}}

    # ------------------------------------------------------------------ export and report

    @contextmanager
    def _from_the_log(self, as_of: str | int | None) -> Iterator[tuple[Db, int, str, dict[str, Any] | None]]:
        """What a report or an export is made from: (a query connection, position, head, latest
        receipt).

        The live read models are checked first (a log cut or rewritten under them is refused);
        then the log up to the head (or `as_of`) is audited, chain, signatures and policy (refused
        unless it holds), and the read models are built afresh from it, in memory, never taken
        from the live tables: whoever can write the database can edit those (on PostgreSQL every
        writer owns them), and what goes out to people who never had the database must show what
        the verified, signed log says. The receipt is the latest kept in the ledger that the log
        still passes through."""
        from projections.integrity import latest_receipt

        self._live()
        app = self.application()
        position = app.position_at(str(as_of)) if as_of is not None else (app.recorder.max_notification_id() or 0)
        head, receipt = latest_receipt(app, position)
        with self._as_of(position) as read_models:
            if read_models.built_to()[1] != head:  # two reads of the log, which must have seen the same rows
                from ledger.errors import LogChanged

                raise LogChanged("the log read to build the report is not the log that was audited (it does not "
                                 f"end at head {head}); run ledger verify")
            with read_models.reading() as (db, _position):
                yield db, position, head, receipt

    def export(self, fmt: str = "jsonl", case: str | None = None, as_of: str | int | None = None) -> list[str]:
        """The ledger (or one case, with the sources and entities it needs) as text, in chunks to
        be written one after the other: JSON Lines for `import_lines` (one line each), FollowTheMoney
        entities (JSON Lines), or CSV. Made only from a log that verifies; `as_of`: from the log up
        to that position (or recording time)."""
        import json

        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(f"unknown export format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
        if fmt == "jsonl":
            from ledger.export.jsonl import export_ops
            from projections.integrity import verified_head

            app = self.application()
            self._live()  # the read models' check: a log cut or rewritten under them is refused
            position = app.position_at(str(as_of)) if as_of is not None else (app.recorder.max_notification_id() or 0)
            head = verified_head(app, position)  # refused, before any output, unless it holds
            return [json.dumps(op, ensure_ascii=False) + "\n"  # that log, not a later one
                    for op in export_ops(app, case, upto=position, head=head)]
        with self._from_the_log(as_of) as (db, _position, _head, _receipt):
            if case is not None:
                from projections.queries import case_show

                case_show(db, case)  # refuses an unknown case
            from ledger.export import from_read_models

            return from_read_models(db, fmt, case)

    def report_data(self, case: str, fmt: str = "md", as_of: str | int | None = None) -> dict[str, Any]:
        """What a case report says (timeline, sources, entities, corrections, position, verified
        head, latest receipt), before it is rendered."""
        from ledger.report.data import report_data

        with self._from_the_log(as_of) as (db, position, head, receipt):
            return report_data(db, position, case, head, receipt, fmt)

    def report(self, case: str, fmt: str = "md", as_of: str | int | None = None) -> str:
        """An auditable case report, Markdown or one self-contained HTML page."""
        if fmt not in REPORT_FORMATS:
            raise InvalidInput(f"unknown report format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")
        from ledger.report.render import render

        return render(self.report_data(case, fmt, as_of), fmt)


def _named(ref: str, what: str) -> str:
    """The id (or key, or name) a read is asked for: a blank one names nothing, and is bad input."""
    if not isinstance(ref, str) or not ref.strip():
        from ledger.errors import InvalidInput

        raise InvalidInput(f"an empty {what} id names no {what}: give one")
    return ref
