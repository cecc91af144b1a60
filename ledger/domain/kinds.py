"""Event codes of each incident kind in the two standard event ontologies.

CAMEO (Conflict and Mediation Event Observations) and PLOVER (Political Language Ontology for
Verifiable Event Records, with its mode). A diplomat's expulsion: CAMEO 174, PLOVER SANCTION/expel.
"""

from __future__ import annotations

EVENT_CODES: dict[str, dict[str, str | None]] = {
    "raid": {"cameo": "171", "plover": "COERCE", "plover_mode": None},
    "seizure": {"cameo": "1711", "plover": "COERCE", "plover_mode": "confiscate"},
    "questioning": {"cameo": "091", "plover": "ACCUSE", "plover_mode": "investigate"},
    "probe": {"cameo": "091", "plover": "ACCUSE", "plover_mode": "investigate"},
    "recall": {"cameo": "161", "plover": "SANCTION", "plover_mode": "withdraw"},
    "expulsion": {"cameo": "174", "plover": "SANCTION", "plover_mode": "expel"},
}
