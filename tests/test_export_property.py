"""Property: for random ledgers, export to JSON Lines then import into an empty ledger gives the
same answer to every read (positions, recording times and actors aside), and importing the
export back into its own ledger records nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from ledger.app.importer import import_lines
from ledger.errors import LedgerError
from ledger.export.jsonl import export_ops
from ledger.store.settings import Settings, open_ledger
from projections import queries
from projections.readmodels import ReadModels
from tests.conftest import strip_volatile
from tests.test_replay_property import CASES, ENTITIES, SETUP, steps


def _reads(app, read_models) -> dict:
    read_models.catch_up()
    with read_models.reading() as (db, _):
        out = {"cases": queries.cases(db), "entities": queries.entities(db),
               "timeline": queries.timeline(db, include_retracted=True)}
        for c in CASES:
            out[f"case {c}"] = queries.case_show(db, c)
        for e in ENTITIES:
            out[f"entity {e}"] = queries.entity_show(db, e)
    return strip_volatile(out)


class _Ledger:
    def __init__(self, folder: str, name: str):
        self.settings = Settings(db=str(Path(folder) / name), actor="prop")
        self.app = open_ledger(self.settings, create=True)
        self.read_models = ReadModels(self.settings)

    def close(self):
        self.app.close()
        self.app.factory.close()
        self.read_models.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_export_then_import_gives_the_same_reads(script):
    with tempfile.TemporaryDirectory() as folder:
        first, second = _Ledger(folder, "a.db"), _Ledger(folder, "b.db")
        try:
            for op in SETUP:
                first.app.run(op, "prop")
            for op, _ in script:
                try:
                    first.app.run(op, "prop")
                except LedgerError:
                    pass
            lines = [json.dumps(op) for op in export_ops(first.app)]
            result = import_lines(second.app, lines, "other")
            assert result.skipped == 0
            assert _reads(second.app, second.read_models) == _reads(first.app, first.read_models)
            head = first.app.recorder.max_notification_id()
            assert import_lines(first.app, lines, "prop").imported == 0
            assert first.app.recorder.max_notification_id() == head
        finally:
            first.close()
            second.close()
