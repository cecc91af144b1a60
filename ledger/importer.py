"""Bulk import of JSON Lines: validated whole before anything is written, idempotent on re-run.

Every line has an idempotency key: its `key` when given, for adds their id, otherwise one derived
from the line's parsed content and how many identical lines come before it in the file. A line
whose key is already recorded with the same data is skipped; with other data it is a bad line.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ledger import inputs as m
from ledger.errors import ImportRejected, InvalidInput, LedgerError
from ledger.values import incident_id_for_key

ADDS = ("source.add", "entity.add", "case.open")


@dataclass
class ImportResult:
    imported: int
    skipped: int
    position: int
    recorded: list = field(default_factory=list, repr=False)  # (position, event) pairs just stored


def parse_lines(lines: Iterable[str]) -> tuple[list[tuple[int, m.Op]], list[tuple[int, str]]]:
    """Each line into its input model, with its idempotency key settled."""
    ops: list[tuple[int, m.Op]] = []
    problems: list[tuple[int, str]] = []
    identical: Counter[str] = Counter()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ops.append((lineno, with_key(parse_line(line), identical)))
        except InvalidInput as error:
            problems.append((lineno, str(error)))
    return ops, problems


def parse_line(line: str) -> m.Op:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"not JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(data, dict):
        raise InvalidInput("not a JSON object")
    op = data.pop("op", None)
    if op not in m.OPS:
        raise InvalidInput(f"unknown op {op!r}: use one of {', '.join(m.OPS)}")
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


def import_lines(app, lines: Iterable[str], actor: str,
                 progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import JSON Lines; `progress(done, total)` hears how many lines are validated."""
    with paused_gc():
        ops, problems = parse_lines(lines)
        return app.retrying(lambda: _apply_all(app, ops, list(problems), actor, progress or (lambda d, t: None)))


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a bulk operation allocates its many live objects
    (they all live until it ends anyway); reference counting still frees the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _apply_all(app, ops: list[tuple[int, m.Op]], problems: list[tuple[int, str]], actor: str,
               progress: Callable[[int, int], None]) -> ImportResult:
    """Validate every op against the ledger and the lines before it, then store all in one go."""
    unit = app.unit()
    targets = [app.target_id(op) for _, op in ops]
    unit.know_absent([t for t in targets if t is not None])
    imported = skipped = 0
    for done, (lineno, op) in enumerate(ops, start=1):
        progress(done, len(ops))
        try:
            outcome = app.apply(unit, op, actor)
        except LedgerError as error:
            problems.append((lineno, str(error)))
            continue
        if outcome.skipped:
            skipped += 1
        else:
            imported += 1
    if problems:
        raise ImportRejected(sorted(problems))
    positions = app.commit(unit)
    position = positions[-1] if positions else (app.recorder.max_notification_id() or 0)
    return ImportResult(imported, skipped, position, unit.recorded)
