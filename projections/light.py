"""The light read path: when the read models are up to date with the log, a read needs neither
eventsourcing nor the domain model, only a bare connection (sqlite3, read-only; or psycopg). Start-up is
most of a CLI read's time, so this is what keeps `case show` fast on any size of ledger.

`open_light` answers None whenever the read models are missing or behind, and the caller takes
the ordinary path, which catches up first: a read never shows a stale view.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger.settings import Settings
from projections.database import connect
from projections.schema import NAME

STATE = f"SELECT generation, position FROM ledger_projection WHERE name = '{NAME}'"


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
    try:
        cursor = conn.cursor()
        if settings.backend == "sqlite":
            cursor.execute("BEGIN")  # one snapshot for the check and the queries
        column = "rowid" if settings.backend == "sqlite" else "notification_id"
        try:
            cursor.execute(STATE)
        except Exception:  # no read models yet
            conn.close()
            return None
        state = cursor.fetchone()
        cursor.execute(f"SELECT MAX({column}) FROM {settings.events_table}")
        head = cursor.fetchone()[0] or 0
        cursor.close()
    except BaseException:
        conn.close()
        raise
    if state is None or state[1] < head:
        conn.close()
        return None
    return LightRead(conn, state[0], state[1])
