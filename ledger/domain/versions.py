"""Event shapes that changed, and how a stored event of an older shape is read as the newest.

A stored event is never rewritten: when an event class changes shape, it gets a `class_version`,
and an upcaster for each step turns an older stored state into the next (the event library's
own mechanism: it stores `class_version` with every event of a class past version 1 and calls
`upcast_v1_v2`, ... when it reads an older one back). The upcasters are declared here, once, in
plain functions over the stored state, because two readers use them: the aggregates (through the
library) and the projector, which reads stored states without building the domain's events
(`upcast`). A test holds a ledger made before each change to reading exactly as before.

- `Case.Opened` v2 (contested claims): the sources the case's fields rest on (`case open
  --source`), so that the case as opened is their claim; v1 named none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

State = dict[str, Any]


def case_opened_v1_v2(state: State) -> None:
    state["sources"] = []


# each changed event, by its qualified name in the aggregates, with its upcasters in order: its
# class_version is one more than their number
UPCASTERS: dict[str, tuple[Callable[[State], None], ...]] = {
    "Case.Opened": (case_opened_v1_v2,),
}


def class_version(qualname: str) -> int:
    return len(UPCASTERS.get(qualname, ())) + 1


def upcast(qualname: str, state: State) -> State:
    """A stored state of any version as the newest shape of its event (in place)."""
    upcasters = UPCASTERS.get(qualname)
    if upcasters:
        version = state.pop("class_version", 1)
        for step in upcasters[version - 1:]:
            step(state)
    return state
