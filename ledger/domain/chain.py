"""The hash chain over the stored events.

Each stored event's hash is SHA-256 over the previous event's hash and the event's own stored
bytes (stream id, version, topic and state, each length-prefixed). The position is left out on
purpose: a copy of the ledger to another database keeps the chain and its head.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

GENESIS = "0" * 64


def stream_hex(originator_id: UUID | str) -> str:
    """A stream's id as the ledger stores and hashes it (a UUID as its 32 hex digits)."""
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def stored_bytes(state: bytes | bytearray | memoryview | str) -> bytes:
    """A stored state as bytes; a state someone rewrote as text (SQLite lets a BLOB column hold
    text) is taken as its UTF-8 bytes, so that it fails the chain instead of crashing the check."""
    return state.encode("utf-8", "surrogatepass") if isinstance(state, str) else bytes(state)


_length = struct.Struct(">Q").pack  # each part's length, 8 bytes big-endian


def link(previous: str, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """SHA-256 over the previous hash and the event's length-prefixed parts, in one call (this runs
    for every event a catch-up or a replay applies)."""
    stream = stream_hex(originator_id).encode()
    number = b"%d" % version
    name = topic.encode() if isinstance(topic, str) else str(topic).encode()
    data = state if isinstance(state, bytes) else stored_bytes(state)
    try:
        before = bytes.fromhex(previous)
    except (ValueError, TypeError):  # a stored hash rewritten as something else: it links nothing
        before = b"not a hash: " + str(previous).encode("utf-8", "surrogatepass")
    return hashlib.sha256(b"".join((before, _length(len(stream)), stream, _length(len(number)), number,
                                    _length(len(name)), name, _length(len(data)), data))).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    hash: str | None
    signer: str | None = None  # the key id of a signed write's events (ledger.app.evidence)
    signature: str | None = None  # on the last event of a signed write: over the chain's hash there
    db_role: str | None = None  # PostgreSQL: the database role that inserted it, set by the database


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    head: str
    first_bad_position: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "first_bad_position": self.first_bad_position, "problem": self.problem}


def verify(rows: Iterable[ChainRow], expect: str | None = None) -> Verdict:
    """Recompute the chain over rows in position order; report the first that does not hold."""
    previous = GENESIS
    count = 0
    seen_expected = expect is None or expect == GENESIS
    last_position = 0
    for row in rows:
        count += 1
        if row.position <= last_position:
            return Verdict(False, count, previous, row.position, f"position {row.position} is out of order")
        last_position = row.position
        computed = link(previous, row.originator_id, row.originator_version, row.topic, row.state)
        if row.hash != computed:
            return Verdict(
                False, count, previous, row.position,
                f"event at position {row.position} does not match the chain: an event was "
                "edited, removed or inserted here or just before",
            )
        previous = computed
        if not seen_expected and computed == expect:
            seen_expected = True
    if not seen_expected:
        return Verdict(
            False, count, previous, None,
            f"the chain does not pass through the expected head {expect}: the log was cut back "
            "or rewritten since that head was taken",
        )
    return Verdict(True, count, previous)
