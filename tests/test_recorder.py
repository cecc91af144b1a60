"""The chained recorder still passes the library's own recorder test cases, and seals every event."""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import AggregateRecorderTestCase, ApplicationRecorderTestCase

from ledger.domain.chain import GENESIS, link, verify
from ledger.store.recorders import ChainedSQLiteAggregateRecorder, ChainedSQLiteApplicationRecorder


class _FileDatabase:
    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.datastore = SQLiteDatastore(str(Path(self.folder.name) / "events.db"))

    def tearDown(self) -> None:
        self.datastore.close()
        self.folder.cleanup()

    recorder_class: type = ChainedSQLiteApplicationRecorder

    def create_recorder(self):
        recorder = self.recorder_class(self.datastore)
        recorder.create_table()
        return recorder


class TestChainedAggregateRecorder(_FileDatabase, AggregateRecorderTestCase):
    recorder_class = ChainedSQLiteAggregateRecorder

    def test_insert_and_select(self) -> None:
        super().test_insert_and_select()
        # every row the library's test stored is sealed into a chain that verifies
        assert verify(self.create_recorder().chain_rows()).ok


class _ChainHolds:
    """After the library's own application recorder cases, the chain over what they stored holds."""

    def test_insert_select(self) -> None:
        super().test_insert_select()
        assert verify(self.create_recorder().chain_rows()).ok

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)
        verdict = verify(self.create_recorder().chain_rows())
        assert verdict.ok, verdict.problem
        assert verdict.events == self.create_recorder().max_notification_id()


class TestChainedApplicationRecorder(_ChainHolds, _FileDatabase, ApplicationRecorderTestCase):
    pass


def _event(version: int = 1, state: bytes = b'{"a":1}') -> StoredEvent:
    return StoredEvent(originator_id=uuid4(), originator_version=version, topic="t:T", state=state)


@pytest.fixture
def recorder(tmp_path):
    datastore = SQLiteDatastore(str(tmp_path / "events.db"))
    rec = ChainedSQLiteApplicationRecorder(datastore)
    rec.create_table()
    yield rec
    datastore.close()


def test_each_event_is_sealed_over_the_previous_hash(recorder):
    events = [_event(state=f'{{"n":{i}}}'.encode()) for i in range(3)]
    recorder.insert_events(events[:2])
    recorder.insert_events(events[2:])
    rows = list(recorder.chain_rows())
    previous = GENESIS
    for row, stored in zip(rows, events, strict=True):
        previous = link(previous, stored.originator_id, 1, stored.topic, stored.state)
        assert row.hash == previous
    assert recorder.head() == (3, previous)


def test_a_failed_insert_stores_nothing_unsealed(recorder):
    first = _event()
    recorder.insert_events([first])
    with pytest.raises(IntegrityError):
        recorder.insert_events([_event(), first])  # the second one conflicts: whole batch rolls back
    assert [r.position for r in recorder.chain_rows()] == [1]
    assert verify(recorder.chain_rows()).ok


def _tamper(path: Path, sql: str) -> None:
    from tests.conftest import as_attacker

    with as_attacker(path) as con:  # the append-only triggers dropped first
        con.execute(sql)


@pytest.mark.parametrize("sql, bad", [
    ("UPDATE stored_events SET state = CAST('{\"n\":9}' AS BLOB) WHERE rowid = 3", 3),
    ("DELETE FROM stored_events WHERE rowid = 2", 3),
    ("UPDATE stored_events SET topic = 'x:Y' WHERE rowid = 4", 4),
    ("UPDATE stored_events SET hash = '00' WHERE rowid = 5", 5),
])
def test_verify_names_the_first_bad_position(tmp_path, recorder, sql, bad):
    recorder.insert_events([_event(state=f'{{"n":{i}}}'.encode()) for i in range(5)])
    _tamper(tmp_path / "events.db", sql)
    verdict = verify(recorder.chain_rows())
    assert not verdict.ok
    assert verdict.first_bad_position == bad


def test_expect_catches_a_log_cut_back(tmp_path, recorder):
    recorder.insert_events([_event(state=f'{{"n":{i}}}'.encode()) for i in range(4)])
    head = verify(recorder.chain_rows()).head
    assert verify(recorder.chain_rows(), expect=head).ok
    _tamper(tmp_path / "events.db", "DELETE FROM stored_events WHERE rowid = 4")
    plain = verify(recorder.chain_rows())
    assert plain.ok  # a cut-off tail cannot be seen without a head taken earlier
    cut = verify(recorder.chain_rows(), expect=head)
    assert not cut.ok and "expected head" in cut.problem


# ---------------------------------------------------------------------- the same cases on PostgreSQL


@pytest.fixture
def pg_case(request, pg_database):
    from tests.conftest import _fresh_schema

    _fresh_schema(pg_database)
    request.cls.pg_url = pg_database


class _PostgresDatabase:
    pg_url: str
    recorder_class: type

    def setUp(self) -> None:
        from eventsourcing.postgres import PostgresDatastore

        from ledger.store.settings import Settings

        pg = Settings(db=self.pg_url).postgres
        self.datastore = PostgresDatastore(pg["dbname"], pg["host"], pg["port"], pg["user"], pg["password"],
                                           pool_size=12, max_overflow=12, lock_timeout=30)

    def tearDown(self) -> None:
        self.datastore.close()

    def create_recorder(self):
        recorder = self.recorder_class(self.datastore)
        recorder.create_table()
        return recorder


def _pg(cls_name: str) -> type:
    from ledger.store import pgrecorders

    return getattr(pgrecorders, cls_name)


@pytest.mark.usefixtures("pg_case")
class TestChainedPostgresAggregateRecorder(_PostgresDatabase, AggregateRecorderTestCase):
    @property
    def recorder_class(self):
        return _pg("ChainedPostgresAggregateRecorder")


@pytest.mark.usefixtures("pg_case")
class TestChainedPostgresApplicationRecorder(_ChainHolds, _PostgresDatabase, ApplicationRecorderTestCase):
    @property
    def recorder_class(self):
        return _pg("ChainedPostgresApplicationRecorder")
