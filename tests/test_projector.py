"""The projector reads stored events as they are: its topics and its reading of their state must
be the aggregates' own."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import aggregates
from ledger.store.transcoder import OrjsonTranscoder
from projections.projector import Projector, _when, incident_id


def _event_classes() -> set[type]:
    found = set()
    for aggregate in (aggregates.Source, aggregates.Entity, aggregates.Case, aggregates.Incident, aggregates.Key,
                      aggregates.Policy):
        for value in vars(aggregate).values():
            # the library makes an `Event` and a `Created` base class for each aggregate; never stored
            if isinstance(value, type) and issubclass(value, Aggregate.Event) and value.__name__ not in (
                    "Event", "Created"):
                found.add(value)
    return found


def test_the_projector_handles_every_event_of_the_domain_by_its_stored_topic():
    topics = {get_topic(cls) for cls in _event_classes()}
    assert topics == set(Projector(1).handlers)


def test_an_incident_id_is_its_stream_as_a_uuid():
    ident = uuid4()
    assert incident_id(ident.hex) == str(ident)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)))
def test_the_recording_time_reads_as_the_event_wrote_it(moment):
    stamp = moment.replace(tzinfo=UTC)
    state = orjson.loads(OrjsonTranscoder().encode({"timestamp": stamp}))
    assert _when(state) == stamp.isoformat()
    legacy = {"timestamp": {"_type_": "datetime_iso", "_data_": stamp.isoformat()}}  # the library's own transcoder
    assert _when(legacy) == stamp.isoformat()


def test_an_incident_recorded_without_its_aggregate_is_stored_as_the_aggregate_would_store_it():
    from ledger.app.application import LedgerApplication

    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ident = uuid4()
    fields = {"on": "2023-12", "precision": "month", "sources": ["s"], "authority": ["a"], "target": ["b"]}
    made = aggregates.Incident._create(aggregates.Incident.Recorded, id=ident, case="c", kind="raid", key="k",
                                       fields=fields, digest="d", actor="x").collect_events()[0]
    direct = aggregates.Incident.recorded(ident, case="c", kind="raid", key="k", fields=fields, digest="d",
                                          actor="x")
    one, other = app.mapper.to_stored_event(made), app.mapper.to_stored_event(direct)
    assert (one.originator_id, one.originator_version, one.topic) == (other.originator_id, 1, other.topic)
    assert orjson.loads(one.state).keys() == orjson.loads(other.state).keys()
    assert {**orjson.loads(one.state), "timestamp": None} == {**orjson.loads(other.state), "timestamp": None}
    rebuilt = direct.mutate(None)
    assert (rebuilt.id, rebuilt.version, rebuilt.fields, rebuilt.status) == (ident, 1, fields, "active")
