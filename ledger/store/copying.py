"""`ledger copy --to URL`: the stored events as they are, to another database, so that the hash
chain and its head stay the same (the chain covers each event's bytes, not its position), and with
them the signatures, which sign chain hashes: the copy is the same ledger, with the same id.

A copy that stops half-way is resumed by running it again: the target must hold a prefix of the
source's chain, which is checked, and the rest is appended page by page.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.domain.chain import GENESIS
from ledger.errors import Refused

PAGE = 1000


@dataclass
class Copied:
    copied: int
    events: int
    head: str


def copy_events(source: Any, target: Any) -> Copied:
    already = target.recorder.count()
    _, target_head = target.recorder.head()
    rows = source.recorder.chain_rows()
    if already:
        prefix = list(islice(rows, already))
        if len(prefix) < already or prefix[-1].hash != target_head:
            raise Refused("the target ledger is not empty and is not an earlier copy of this one: "
                          "copy into an empty database")
    copied = 0
    while page := list(islice(rows, PAGE)):
        # as they are, with their signatures: the chain is the same, so they hold in the copy too
        target.recorder.insert_events([StoredEvent(UUID(r.originator_id), r.originator_version, r.topic, r.state)
                                       for r in page],
                                      signed=[(r.signer, r.signature) if r.signer else None for r in page])
        copied += len(page)
        _, sealed = target.recorder.head()
        if sealed != page[-1].hash:
            raise Refused(f"the copy's chain differs from the source's at position {page[-1].position}")
    _, head = target.recorder.head()
    _, source_head = source.recorder.head()
    if head != source_head:
        raise Refused("the copy's head differs from the source's: another writer changed one of them")
    return Copied(copied, already + copied, head or GENESIS)
