"""The light read path: when the read models are up to date with the log, a read needs neither
eventsourcing nor the domain model, only a bare connection (sqlite3, read-only; or psycopg). Start-up is
most of a CLI read's time, so this is what keeps `case show` fast on any size of ledger.

`open_light` answers None whenever the read models are missing or behind, and the caller takes
the ordinary path, which catches up first: a read never shows a stale view. In the same query it
checks that the log still holds the event the read models were built up to (position and chain
hash, one indexed lookup), and refuses them when it does not (`projections.integrity`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError, LogChanged, ReadModelsDamaged
from ledger.store.settings import Settings
from projections.database import (
    absent,
    begin,
    connect,
    damage,
    db_errors,
    dialect,
    driver_errors,
    fetch,
    not_a_database,
    state_sql,
)
from projections.schema import NAME

GENESIS = "0" * 64  # ledger.domain.chain's, not imported: the light path does without hashlib

REMEDY = ("run ledger verify to see what changed; ledger replay --force rebuilds the read models from the log as it "
          "stands")


def check_state(position: int, state_hash: str, log_hash: str | None) -> None:
    """Refuse read models whose position (with that hash) the log no longer holds. `log_hash`:
    the hash stored at that position in the log, None when there is no event there."""
    if position == 0:
        if state_hash != GENESIS:
            raise LogChanged(f"the read models' state is inconsistent (position 0, hash {state_hash[:16]}); {REMEDY}")
        return
    if log_hash is None:
        raise LogChanged(f"the log no longer holds position {position}, which the read models were built up to: "
                         f"events were cut or removed under them; {REMEDY}")
    if log_hash != state_hash:
        raise LogChanged(f"the event at position {position} is not the one the read models were built up to "
                         f"(its hash changed): the log was rewritten under them; {REMEDY}")


@contextmanager
def damage_said() -> Iterator[None]:
    """Around a read of the read models: a failure that only edited or damaged read models cause
    (a dropped table, a cell that is not the JSON the projector wrote, a row where there should be
    none) is said as damaged read models, with the remedy, never as an internal error. Anything
    else goes on as it is: the ledger's own answers, a busy, full or unreachable database (said
    by the CLI), a fault of the code."""
    try:
        yield
    except LedgerError:
        raise
    except driver_errors() as error:
        if not damage(error):
            raise
        raise damaged(error) from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        # a cell that is not what the projector wrote, failing to decode (ValueError: not JSON; the
        # others: JSON of another shape)
        raise damaged(error) from None


def damaged(error: Exception) -> ReadModelsDamaged:
    """The error a failure that only damage causes is said as, naming it on one line."""
    first = (str(error).strip().splitlines() or [""])[0][:200]
    return ReadModelsDamaged(f"the read models could not be read ({type(error).__name__}: {first}): they were "
                             "edited or damaged; ledger verify --deep says where, ledger replay --force rebuilds "
                             "them from the log")


@dataclass
class LightRead:
    conn: Any
    generation: int
    position: int

    def close(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self.conn.close()


def open_light(settings: Settings) -> LightRead | None:
    try:
        conn = connect(settings, read_only=True)
    except sqlite3.Error:  # no such file: the ordinary path says so
        return None
    if settings.backend == "postgresql":
        from projections.database import read_role

        if read_role(conn).wary:  # the owner or a superuser: never reads what the writers' group owns
            conn.close()
            return None
    try:
        kind = dialect(conn)
        begin(conn, kind, write=False)  # one snapshot for the check and the queries
        try:
            rows = fetch(conn, kind, state_sql(kind, settings.events_relation), {"name": NAME})
        except db_errors(conn) as error:
            if absent(error) or not_a_database(error):  # none yet, of another layout, not this role's to
                conn.close()  # read, no ledger: the ordinary path sees to it, or says what it is
                return None
            if damage(error):
                raise damaged(error) from None
            raise  # a busy or unreachable database: said as it is, never taken for none
        state = rows[0] if rows else None
        if state is not None:
            generation, position, hashed, head, log_hash = state
            check_state(position, hashed, log_hash)
    except BaseException:
        conn.close()
        raise
    if state is None or position < (head or 0):
        conn.close()
        return None
    return LightRead(conn, generation, position)
