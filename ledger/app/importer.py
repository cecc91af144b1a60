"""Bulk import of JSON Lines: validated whole before anything is written, idempotent on re-run.

Every line has an idempotency key: its `key` when given, for adds their id, otherwise one derived
from the line's parsed content and how many identical lines come before it in the file. A line
whose key is already recorded with the same data is skipped; with other data it is a bad line.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

import orjson
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.app import inputs as m
from ledger.domain.chain import stream_hex
from ledger.domain.values import as_incident_id, incident_id_for_key, shown
from ledger.errors import ImportRejected, InvalidInput, LedgerError, Refused
from ledger.store.bulk import paused_gc

if TYPE_CHECKING:
    from ledger.app.application import LedgerApplication

ADDS = ("source.add", "entity.add", "case.open")


@dataclass
class ImportResult:
    imported: int
    skipped: int
    position: int
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, warning): stored all the same


def decoded(line: str | bytes) -> str:
    """A line of an import file as text: files must be UTF-8 ("text in")."""
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"not UTF-8 (byte 0x{line[error.start]:02x} at byte {error.start + 1})") from None


def parse_line(line: str | bytes) -> m.Op:
    line = decoded(line)
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"not JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInput("not a JSON object")
    op = data.pop("op", None)
    if not isinstance(op, str) or op not in m.OPS:
        raise InvalidInput(f"unknown op {shown(op)}: use one of {', '.join(m.OPS)}")
    return m.parse(m.OPS[op], data)


def with_key(op: m.Op, identical: Counter[str]) -> m.Op:
    if op.op in ADDS or op.key is not None:
        return op
    digest = op.digest()
    derived = f"line:{digest[:32]}:{identical[digest]}"
    identical[digest] += 1
    if isinstance(op, m.Record):
        return op if op.id is not None else op.model_copy(update={"id": incident_id_for_key(derived)})
    return op.model_copy(update={"key": derived})


Lines = Iterable[str] | Iterable[bytes]


def import_lines(app: LedgerApplication, lines: Lines | Callable[[], Lines], actor: str,
                 progress: Callable[..., None] | None = None, batch: int = 5000,
                 after_batch: Callable[[list[Any]], None] | None = None,
                 store: Callable[[], LedgerApplication] | None = None) -> ImportResult:
    """Import JSON Lines (text, or bytes that must be UTF-8): all validated first against `app`,
    then stored in batches of `batch` lines into `store()` (default: `app` itself; a new ledger
    is checked against an empty one in memory and created only once the file has passed).

    `lines` is a list of lines or a callable that reads them afresh (the file is read twice and
    never held whole). Each batch is one transaction, handed to `after_batch` once stored as
    (position, stream, topic, state) rows. An import killed part-way leaves whole batches; run again, it
    completes. `progress(done, total, phase)` hears how far validation and storing have got.
    """
    read = lines if callable(lines) else (lambda: lines)
    report = progress or (lambda done, total, phase: None)
    with paused_gc(), tempfile.TemporaryFile() as spill:
        total, corrected = _scan(read())
        warnings: list[tuple[int, str]] = []
        problems = _validate(app, read(), actor, corrected, spill, total, report, warnings)
        if problems:
            raise ImportRejected(sorted(problems))
        spill.seek(0)
        result = _store(store() if store else app, spill, actor, batch, total, report,
                        after_batch or (lambda recorded: None))
        result.warnings = warnings
        return result


# the ops that name an incident recorded earlier, and the field that names it
_NAMING = {"amend": "incident", "retract": "incident", "claim": "target", "accept": "target", "refute": "target"}
# a line that may be one of them (one search a line): the op's name as written, or a line with a JSON
# escape, which could spell it (`"am\u0065nd"`) and is then read to see
_QUOTED = re.compile('"(?:' + "|".join(_NAMING) + ')"|\\\\u')
_QUOTED_BYTES = re.compile(_QUOTED.pattern.encode())


def _scan(lines: Lines) -> tuple[int, set[UUID]]:
    """Pass 0: how many lines, and which incidents later lines amend, retract, claim or rule on
    (only those are kept whole while validating)."""
    total = 0
    corrected: set[UUID] = set()
    for line in lines:
        if not line.strip():
            continue
        total += 1
        if (_QUOTED if isinstance(line, str) else _QUOTED_BYTES).search(line):  # type: ignore[arg-type]
            try:
                data = orjson.loads(line)
                ref = data.get(_NAMING.get(data.get("op"), ""))
                if isinstance(ref, str) and not ref.startswith("case:"):
                    corrected.add(UUID(as_incident_id(ref) or incident_id_for_key(ref)))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                pass  # the validation pass names the bad line
    return total, corrected


def _validate(app: LedgerApplication, lines: Lines, actor: str, corrected: set[UUID], spill: IO[bytes], total: int,
              report: Callable[..., None], warnings: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Pass 1: every line against the ledger and the lines before it; nothing is stored. Each
    valid op goes to the spill file with the events it makes, already encoded (`_spill`), so that
    the store pass has only to insert them."""
    unit = app.unit()
    problems: list[tuple[int, str]] = []
    identical: Counter[str] = Counter()
    done = 0
    for chunk in _chunks(enumerate(lines, start=1), 2000):
        parsed = []
        for lineno, raw in chunk:
            if not raw.strip():
                continue
            try:
                line = decoded(raw)
                if lineno == 1:
                    line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
                parsed.append((lineno, line, with_key(parse_line(line), identical)))
            except InvalidInput as error:
                problems.append((lineno, str(error)))
        unit.know_absent([t for t in (app.target_id(op) for _, _, op in parsed) if t is not None])
        encode = app.mapper.to_stored_event
        for lineno, line, op in parsed:
            done += 1
            report(done, total, "lines validated")
            try:
                outcome = app.apply(unit, op, actor)
            except LedgerError as error:
                problems.append((lineno, str(error)))
                continue
            warnings.extend((lineno, warning) for warning in outcome.warnings)
            events = [encode(e) for e in unit.events]
            preconditions = unit.preconditions  # their indexes count from this line's first event
            unit.events, unit.preconditions = [], []
            if (incident_id := outcome.stream) is not None and incident_id not in corrected:
                # let go of the incident; a new one leaves a marker (a stored one can be read again)
                unit.loaded.pop(incident_id, None)
                unit.created.pop(incident_id, None)
                if not outcome.skipped:
                    unit.settled.add(incident_id, op.digest())
            if not problems:  # once a line is bad nothing will be stored: stop spilling
                _spill(spill, lineno, outcome.skipped, events, op, line, preconditions)
    return problems


def _spill(spill: IO[bytes], lineno: int, skipped: bool, events: list[StoredEvent], op: m.Op, line: str,
           preconditions: list[tuple[int, str, int]]) -> None:
    """One validated line in the spill file: a JSON header (the line's number, whether it was
    already stored, its events' streams, versions, topics and sizes, its key or incident id, its
    size and its preconditions), then its events' stored bytes and the line itself, as they are
    (not escaped into the JSON: they are most of the bytes)."""
    text = line.encode()
    spill.write(b"".join((
        orjson.dumps([lineno, skipped, [[stream_hex(e.originator_id), e.originator_version, e.topic, len(e.state)]
                                        for e in events], op.key, getattr(op, "id", None), len(text), preconditions]),
        b"\n", *(e.state for e in events), text)))


@dataclass
class Spilled:
    """One line of the spill file: a validated line's number, whether it was stored already, its
    events as they will be stored, its key or incident id, its text and its preconditions."""

    lineno: int
    skipped: bool
    events: list[StoredEvent]
    key: str | None
    ident: str | None
    line: bytes
    preconditions: list[tuple[int, str, int]]


def _spilled(spill: IO[bytes]) -> Iterator[Spilled]:
    """The spill file's lines, as `_spill` wrote them."""
    def read(size: int) -> bytes:
        data = spill.read(size)
        if len(data) != size:
            raise OSError("the import's spill file ends short: nothing more is stored, run the import again")
        return data

    while header := spill.readline():
        lineno, skipped, events, key, ident, size, preconditions = orjson.loads(header)
        yield Spilled(lineno, skipped, [StoredEvent(stream, version, topic, read(n)) for stream, version, topic, n
                                        in events], key, ident, read(size), preconditions)


def _store(app: LedgerApplication, spill: IO[bytes], actor: str, size: int, total: int, report: Callable[..., None],
           after_batch: Callable[[list[Any]], None]) -> ImportResult:
    """Pass 2: the events pass 1 made, batch by batch, each batch one transaction (the recorder
    seals them into the chain as it inserts them)."""
    result = ImportResult(0, 0, 0)
    done = 0
    for lines in _chunks(_spilled(spill), size):
        events: list[StoredEvent] = []
        rules = app.may_write(actor)  # the signature rules, as of this batch
        preconditions = list(rules.preconditions)
        relied: set[tuple[str, int]] = set()
        for line in lines:
            for index, stream, version in line.preconditions:
                # the first line of the batch to rely on a stream at a version is the one checked:
                # a later line relying on it at that version saw no change of it in between
                if (stream, version) not in relied:
                    relied.add((stream, version))
                    preconditions.append((len(events) + index, stream, version))
            events.extend(line.events)
        try:
            positions = app.recorder.insert_events(
                events, preconditions=preconditions, signed_tail=rules.signed_tail) if events else []
            recorded = [(p, e.originator_id, e.topic, e.state) for p, e in zip(positions or [], events, strict=True)]
            skipped = sum(1 for line in lines if line.skipped)
        except IntegrityError:
            # another writer stored on the same records, or changed one a rule relied on, since
            # pass 1: this batch is checked again against what is stored now (a repeated line
            # then becomes a no-op, a record on a case closed meanwhile a refusal)
            ops = [(line.lineno, _op_again(line)) for line in lines]
            unit = app.retrying(lambda: _store_batch(app, ops, actor))  # noqa: B023 -- called at once, in this pass
            recorded, skipped = unit.recorded, unit.skipped
        result.skipped += skipped
        result.imported += len(lines) - skipped
        done += len(lines)
        report(done, total, "lines stored")
        if recorded:
            result.position = recorded[-1][0]
            after_batch(recorded)
    result.position = result.position or (app.recorder.max_notification_id() or 0)
    return result


def _op_again(spilled: Spilled) -> m.Op:
    """A spilled line's op as pass 1 ran it: parsed again, with the key (or incident id) it had."""
    op = parse_line(spilled.line)
    update = {name: value for name, value in (("key", spilled.key), ("id", spilled.ident))
              if value is not None and getattr(op, name, None) != value}
    return op.model_copy(update=update) if update else op


def _store_batch(app: LedgerApplication, ops: list[tuple[int, m.Op]], actor: str) -> Any:
    unit = app.unit()
    unit.know_absent([t for t in (app.target_id(op) for _, op in ops) if t is not None])
    for lineno, op in ops:
        try:
            outcome = app.apply(unit, op, actor)
        except LedgerError as error:
            raise Refused(f"line {lineno}: {error} (another writer changed the ledger during this import; "
                          f"the lines before it are stored: run the import again)") from None
        unit.skipped += outcome.skipped
    app.commit(unit)
    return unit


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
