"""The chain belongs to the application: however `LedgerApplication` is built, its events are chained."""

from __future__ import annotations

import pytest

from ledger.app import inputs as m
from ledger.app.application import LedgerApplication
from ledger.app.evidence import audit
from ledger.errors import InvalidInput


@pytest.mark.parametrize("env", [
    None,  # the plain way: no settings at all
    {"PERSISTENCE_MODULE": "eventsourcing.popo"},  # the library's in-memory store
    {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"},  # no recorder named
    {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:",  # the library's own recorder named
     "APPLICATION_RECORDER_TOPIC": "eventsourcing.sqlite:SQLiteApplicationRecorder"},
])
def test_a_ledger_built_any_way_chains_its_events(env):
    app = LedgerApplication(env=env) if env is not None else LedgerApplication()
    try:
        app.run(m.SourceAdd(id="s", publisher="P", title="T"), "tester")
        app.run(m.CaseOpen(id="c", title="A case"), "tester")
        result = audit(app.recorder.chain_rows())
        assert result.ok and result.events == 2 and result.head == app.recorder.head()[1]
        assert [row.hash for row, _ in app.log()] == [r.hash for r in app.recorder.chain_rows()]
    finally:
        app.close()


def test_a_ledger_with_a_persistence_module_it_cannot_chain_is_refused():
    with pytest.raises(InvalidInput, match=r"eventsourcing\.sqlite or eventsourcing\.postgres"):
        LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.dcb.popo"})
