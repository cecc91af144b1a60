"""The signing recorders (a key set on the chained recorder) still pass the event library's own
recorder test cases, on SQLite and PostgreSQL, and every write they stored is signed: the key's
id on each of its rows, one signature on its last row, over the chain hashes around the write."""

from __future__ import annotations

import pytest
from eventsourcing.tests.persistence import AggregateRecorderTestCase, ApplicationRecorderTestCase

from ledger.app.evidence import Signer, new_key, signature_holds, write_message
from ledger.domain.chain import GENESIS, verify
from tests.test_recorder import _FileDatabase, _pg, _PostgresDatabase, pg_case  # noqa: F401  (a fixture)


def signed_writes(rows) -> int:
    """The number of signed writes in these rows, each checked; fails on any row not covered."""
    previous, start, run, writes = GENESIS, GENESIS, [], 0
    for row in rows:
        assert row.signer is not None, f"row {row.position} is not signed"
        if not run:
            start = previous
        run.append(row)
        previous = row.hash
        if row.signature is not None:
            assert {r.signer for r in run} == {row.signer}
            assert signature_holds(_SIGNER.public_raw, write_message(start, row.hash), row.signature), row.position
            writes, run = writes + 1, []
    assert not run, "a write's last row carries no signature"
    return writes


_SIGNER: Signer = None  # type: ignore[assignment]  (made by the module fixture below)


@pytest.fixture(autouse=True, scope="module")
def _signer(tmp_path_factory):
    global _SIGNER  # noqa: PLW0603 -- one signer for the module, made once by this fixture
    _SIGNER = Signer(new_key(tmp_path_factory.mktemp("key") / "recorder.key").private_file)


class _Signing:
    def create_recorder(self):
        recorder = super().create_recorder()
        recorder.signer = _SIGNER
        return recorder


class _WritesSigned:
    def test_insert_select(self) -> None:
        super().test_insert_select()
        rows = list(self.create_recorder().chain_rows())
        assert verify(rows).ok and signed_writes(rows) >= 1

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)
        rows = list(self.create_recorder().chain_rows())
        assert verify(rows).ok
        assert signed_writes(rows) >= 2  # many writers, each write signed over the chain as it found it


class TestSigningAggregateRecorder(_Signing, _FileDatabase, AggregateRecorderTestCase):
    from ledger.store.recorders import ChainedSQLiteAggregateRecorder as recorder_class

    def test_insert_and_select(self) -> None:
        super().test_insert_and_select()
        rows = list(self.create_recorder().chain_rows())
        assert verify(rows).ok and signed_writes(rows) >= 1


class TestSigningApplicationRecorder(_WritesSigned, _Signing, _FileDatabase, ApplicationRecorderTestCase):
    from ledger.store.recorders import ChainedSQLiteApplicationRecorder as recorder_class


@pytest.mark.usefixtures("pg_case")
class TestSigningPostgresApplicationRecorder(_WritesSigned, _Signing, _PostgresDatabase, ApplicationRecorderTestCase):
    @property
    def recorder_class(self):
        return _pg("ChainedPostgresApplicationRecorder")
