"""The ledger's fixed words that the command line needs at start-up: this module imports nothing
heavier than `typing`, so `ledger --help` may use it (`ledger.domain.values` re-exports them)."""

from __future__ import annotations

from typing import Literal, get_args

# Every stored event's topic begins so: the module ledger/domain/aggregates.py had when the first ledgers were
# written, which its classes keep wherever they live (aggregates._keep_stored_topics). Stored topics
# are contracts: the projector and the audit read events by them, without the domain's classes.
TOPIC = "ledger.aggregates:"

CaseStatusName = Literal["open", "investigating", "referred", "closed"]  # the one list of a case's statuses
CASE_STATUSES: tuple[str, ...] = get_args(CaseStatusName)
