"""What makes a read trustworthy: the read models are tied to the log they were built from.

- The state row remembers the position and the chain hash the read models were built up to;
  every read checks, with one indexed lookup, that the log still holds that event there
  (`check_state`). A log cut or rewritten under them is refused, never shown or hidden.
- Catch-up and replay apply only events whose chain links hold, from the remembered hash
  (`linked`), so the read models only ever hold events that passed the chain.
- Reports and exports verify the whole chain up to the position they are made from
  (`verified_head`), and print that head only then.
- `verify --deep` rebuilds the read models in memory and compares them, table by table and row
  by row, with the live ones (`compare_read_models`).

The state check itself lives in `projections.light`, which must not import even hashlib (about
10 ms of a `case show`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from ledger.domain.chain import link
from ledger.errors import LedgerError, LogChanged, Unprojectable
from projections.light import REMEDY, check_state, damage_said

__all__ = ["REMEDY", "check_state", "compare_read_models", "damage_said", "deep_problem", "linked", "verified_head"]


def broken_link(position: int) -> LogChanged:
    return LogChanged(f"the event at position {position} does not match the hash chain (an event was edited, "
                      "removed or inserted at or just before it); nothing of it was applied to the read models; "
                      "run ledger verify")


def linked(rows: Iterable[tuple[Any, ...]], previous: str) -> tuple[list[tuple[int, str, str, Any]], str]:
    """Check each row's chain link from `previous` (rows: position, stream, version, topic,
    state, hash); the rows as the projector takes them, and the last hash."""
    out: list[tuple[int, str, str, Any]] = []
    for position, stream, version, topic, state, hashed in rows:
        if link(previous, stream, version, topic, state) != hashed:
            raise broken_link(position)
        previous = hashed
        out.append((position, stream, topic, state))
    return out, previous


def verified_head(app: Any, position: int) -> str:
    """The chain's head at `position`, after checking every link and signature up to it; refused
    if one fails."""
    head: str = verified(app, position).head
    return head


def verified(app: Any, position: int, receipts: list[tuple[str, dict[str, Any]]] | None = None) -> Any:
    """The audit of the log up to `position` (`ledger.app.evidence.audit`: the chain, the signatures,
    the policy), refused if it fails; with `receipts`, each is checked without failing it."""
    from ledger.app.evidence import audit

    # read on past `position` only while a signed write goes on, so that its signature is judged
    result = audit(app.recorder.chain_rows(after=0), receipts=receipts or (), upto=position,
                   receipts_decide=False)
    if not result.ok:
        where = f" at position {result.first_bad_position}" if result.first_bad_position else ""
        raise LogChanged(f"the log does not verify{where}: {result.problem}; refused, since what it "
                         "shows could not be vouched for; run ledger verify")
    return result


def latest_receipt(app: Any, position: int) -> tuple[str, dict[str, Any] | None]:
    """The head at `position` (verified as `verified` does), and the latest receipt kept in the
    ledger (`ledger checkpoint`) that this log still passes through, at or before `position`."""
    from ledger.app.evidence import parse_receipt
    from ledger.errors import InvalidInput

    kept = []
    for n, text in enumerate(app.recorder.stored_receipts()):
        try:
            receipt = parse_receipt(text, f"kept receipt {n + 1}")
        except InvalidInput:
            continue  # not a receipt: nothing to name
        if receipt["position"] <= position:
            kept.append((f"kept receipt {n + 1}", receipt))
    result = verified(app, position, kept)
    holding = [check.receipt for check in result.receipts if check.ok]
    return result.head, max(holding, key=lambda r: (r["position"], r["at"]), default=None)


# ---------------------------------------------------------------------- verify --deep


def _norm(value: Any) -> str:
    """A value as text the same on SQLite and PostgreSQL (floats and integers alike)."""
    if value is None:
        return "\0null"
    if isinstance(value, (int, float)):  # bool too
        return f"\0n{float(value)!r}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\0b" + bytes(value).hex()
    return str(value)


def _table_rows(conn: Any, table: str) -> list[tuple[str, ...]]:
    cursor = conn.cursor()
    try:
        cursor.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        rows = sorted(tuple(_norm(v) for v in row) for row in cursor.fetchall())
    finally:
        cursor.close()
    return [tuple(columns)] + rows


def _plain(value: str) -> str:
    """A value `_norm` made, as a person reads it: null, 70000, text."""
    if value == "\0null":
        return "null"
    if value.startswith("\0n"):
        number = float(value[2:])
        return str(int(number)) if number.is_integer() else str(number)
    return value.replace("\0b", "0x", 1) if value.startswith("\0b") else value


def _shown(row: tuple[str, ...], columns: tuple[str, ...]) -> str:
    text = ", ".join(f"{c}={_plain(v)}" for c, v in zip(columns, row))
    return text if len(text) <= 300 else text[:297] + "..."


def compare_read_models(live_conn: Any, live_generation: int, fresh_conn: Any, fresh_generation: int) -> str | None:
    """The first difference between two generations of read models, table by table, or None."""
    from projections.database import damage, db_errors
    from projections.schema import TABLES, table_name

    for name in TABLES:
        live_table, fresh_table = table_name(live_generation, name), table_name(fresh_generation, name)
        try:
            live = _table_rows(live_conn, live_table)
        except db_errors(live_conn) as error:
            if not damage(error):  # busy, unreachable: not an answer about the read models
                raise
            return f"read-model table {live_table} cannot be read: {str(error).strip().splitlines()[0]}"
        fresh = _table_rows(fresh_conn, fresh_table)
        if live[0] != fresh[0]:
            return f"read-model table {live_table} has columns {', '.join(live[0])}, not {', '.join(fresh[0])}"
        columns = live[0]
        for index, (got, want) in enumerate(zip(live[1:], fresh[1:])):
            if got != want:
                return (f"read-model table {live_table} differs from a fresh projection of the log at its row "
                        f"{index + 1} (in sorted order): it holds ({_shown(got, columns)}), the log gives "
                        f"({_shown(want, columns)})")
        if len(live) != len(fresh):
            extra = live[len(fresh)] if len(live) > len(fresh) else None
            missing = fresh[len(live)] if len(fresh) > len(live) else None
            what = (f"a row the log does not give: ({_shown(extra, columns)})" if extra is not None else
                    f"no row ({_shown(missing, columns)}) that the log gives")  # type: ignore[arg-type]
            return f"read-model table {live_table} holds {len(live) - 1} rows, not {len(fresh) - 1}: {what}"
    return None


def deep_problem(read_models: Any, app: Any) -> str | None:
    """`verify --deep`: the live read models against the same log projected afresh in memory, up
    to the position they were built to, and the rest of the log projected on from there (a log
    that no projection can read fails too); None when all agree (or when there are no read
    models yet)."""
    from projections.readmodels import ReadModels

    stored = read_models._stored_state()  # None: none yet, or of an older layout; the next read builds them
    fresh = ReadModels(None, ReadModels.log_of(app))
    try:
        problem = _projected(fresh, app, stored.position if stored is not None else 0)
        if problem is None and stored is not None:
            with read_models._transaction(write=False) as conn:
                try:
                    read_models._state(check=True)
                except LogChanged as error:
                    return f"read-model state (table ledger_projection): {error}"
                with fresh.reading() as (db, _):
                    problem = compare_read_models(conn, stored.generation, db.conn, db.generation)
        return problem or _projected(fresh, app, app.recorder.max_notification_id() or 0)
    finally:
        fresh.close()


def _projected(fresh: Any, app: Any, upto: int) -> str | None:
    """Project the log into read models built in memory, up to `upto`: what stops it, or None."""
    try:
        fresh.catch_up(upto=upto)
    except Unprojectable as error:
        return (f"the log cannot be projected at position {error.position} ({type(error.cause).__name__}: "
                f"{(str(error.cause).strip().splitlines() or [''])[0][:200]}): an event no read can show")
    except LedgerError as error:
        return str(error)
    except sqlite3.Error as error:  # what the projector cannot store, though the chain holds (a repeated id)
        with fresh.reading() as (_, reached):  # the last page that went in whole
            pass
        return (f"the log cannot be projected at position {_first_unprojectable(app, reached)} "
                f"({type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:200]}): "
                "an event no read can show")
    return None


def _first_unprojectable(app: Any, after: int) -> int | None:
    """The first event after `after` that the projector fails on, applied one at a time."""
    from projections.readmodels import ReadModels

    probe = ReadModels.as_of(app, after)
    try:
        for row in ReadModels.log_of(app)(after, None):
            try:
                probe.catch_up(upto=row[0])
            except (LedgerError, sqlite3.Error):  # what `_projected` met (in memory: SQLite), at this event
                return row[0]
    finally:
        probe.close()
    return None
