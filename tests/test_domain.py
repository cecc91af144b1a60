"""Domain rules, in memory: the aggregates and the application on the library's in-memory store."""

from __future__ import annotations

import pytest

from ledger.app import inputs as m
from ledger.app.application import LedgerApplication
from ledger.domain.aggregates import Case, Entity, Incident
from ledger.domain.values import derived_id
from ledger.errors import AlreadyExists, CaseClosed, InvalidInput, InvalidTransition, NotFound, Refused


def _case() -> Case:
    return Case._create(Case.Opened, id=derived_id("case", "c"), case_id="c", data={"title": "T"}, digest="d",
                        actor="a", sources=[])


def test_case_status_rules():
    case = _case()
    assert case.change_status("investigating", "why", "a", None, "x")
    with pytest.raises(InvalidTransition, match="already investigating"):
        case.change_status("investigating", "why", "a", None, "x")
    assert case.change_status("closed", "done", "a", None, "x")
    with pytest.raises(InvalidTransition, match="only be reopened"):
        case.change_status("referred", "why", "a", None, "x")
    with pytest.raises(CaseClosed, match="closed"):
        case.check_accepts_incidents()
    assert case.change_status("open", "new facts", "a", None, "x")
    case.check_accepts_incidents()
    assert [type(e).__name__ for e in case.collect_events()] == [
        "Opened", "StatusChanged", "StatusChanged", "StatusChanged"]


def test_a_refused_change_triggers_no_event():
    case = _case()
    case.collect_events()
    with pytest.raises(InvalidTransition):
        case.change_status("open", "why", "a", None, "x")
    assert case.collect_events() == []


def test_op_keys_skip_the_same_and_refuse_other_data():
    case = _case()
    assert case.change_status("referred", "r", "a", "k1", "digest-1")
    assert not case.change_status("referred", "r", "a", "k1", "digest-1")  # replayed line: skipped
    with pytest.raises(AlreadyExists):
        case.change_status("closed", "r", "a", "k1", "digest-2")


def _incident() -> Incident:
    fields = m.parse(m.RECORDS["seizure"], {"case": "c", "on": "2023-12-07", "sources": ["s"], "item": "car",
                                       "value": 70000, "currency": "USD"}).fields()
    return Incident._create(Incident.Recorded, id=derived_id("incident", "x"), case="c", kind="seizure",
                            key=None, fields=fields, digest="d", actor="a")


def test_corrections_are_events_and_a_retracted_incident_stays_retracted():
    inc = _incident()
    assert inc.amend({"value": 10_000_000, "currency": "JPY"}, "Asahi", ["asahi"], "a", None, "x")
    assert inc.status == "amended" and inc.fields["currency"] == "JPY"
    with pytest.raises(Refused, match="nothing to amend"):
        inc.amend({"currency": "JPY"}, "again", [], "a", None, "y")
    assert inc.retract("duplicate", [], "a", None, "z")
    for attempt in (lambda: inc.retract("again", [], "a", None, "w"),
                    lambda: inc.amend({"note": "x"}, "late", [], "a", None, "v")):
        with pytest.raises(Refused, match="retracted"):
            attempt()
    assert [type(e).__name__ for e in inc.collect_events()] == ["Recorded", "Amended", "Retracted"]


def test_replaying_the_events_gives_the_same_state():
    inc = _incident()
    inc.amend({"note": "n"}, "r", [], "a", None, "x")
    events = inc.collect_events()
    copy = None
    for e in events:
        copy = e.mutate(copy)
    assert copy.fields == inc.fields and copy.status == inc.status and copy.version == inc.version


def _entity(eid: str, kind: str = "person") -> Entity:
    return Entity._create(Entity.Added, id=derived_id("entity", eid), entity_id=eid,
                          data={"kind": kind, "name": eid}, digest=eid, actor="a")


def test_merge_rules():
    a, b, car = _entity("a"), _entity("b"), _entity("car", "vehicle")
    with pytest.raises(Refused, match="itself"):
        Entity.merge(a, a, "r", "x", None, "d")
    with pytest.raises(Refused, match="cannot merge a vehicle"):
        Entity.merge(car, a, "r", "x", None, "d")
    assert Entity.merge(a, b, "same person", "x", None, "d")
    assert a.merged_into == "b" and b.merged_from == ["a"]
    assert not Entity.merge(a, b, "again", "x", None, "d")  # already there: a no-op
    with pytest.raises(Refused, match="merged into b"):
        Entity.merge(b, a, "r", "x", None, "d")
    with pytest.raises(Refused, match="merged into b"):
        a.add_alias("A.", "x", None, "d")


# ---------------------------------------------------------------------- the application, in memory


@pytest.fixture
def app():
    ledger = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    for op in (m.SourceAdd(id="s", publisher="P", title="T"),
               m.EntityAdd(id="police", kind="organization", name="Police"),
               m.EntityAdd(id="dealer", kind="organization", name="Dealer"),
               m.CaseOpen(id="c", title="Case")):
        ledger.run(op, "tester")
    return ledger


def _raid(**extra) -> m.Record:
    data = {"case": "c", "on": "2023-12-07", "sources": ["s"], "authority": "police", "target": "dealer", **extra}
    return m.parse(m.RECORDS["raid"], data)


def test_recording_checks_every_reference(app):
    for bad, message in (({"case": "nope"}, "no case nope"), ({"sources": ["nope"]}, "no source nope"),
                         ({"target": "nobody"}, "no entity nobody")):
        with pytest.raises(NotFound, match=message):
            app.run(_raid(**bad), "tester")
    assert app.run(_raid(target="KP"), "tester").skipped is False  # countries always exist


def test_a_key_is_recognised_before_the_case_rule(app):
    first = app.run(_raid(key="k"), "tester")
    app.run(m.CaseStatus(id="c", status="closed", reason="done"), "tester")
    again = app.run(_raid(key="k"), "tester")
    assert again.skipped and again.id == first.id
    with pytest.raises(AlreadyExists):
        app.run(_raid(key="k", note="other data"), "tester")
    with pytest.raises(CaseClosed):
        app.run(_raid(key="new"), "tester")


def test_adding_again_is_a_no_op_only_with_the_same_data(app):
    assert app.run(m.CaseOpen(id="c", title="Case"), "tester").skipped
    with pytest.raises(AlreadyExists, match="other data"):
        app.run(m.CaseOpen(id="c", title="Another"), "tester")


def test_amendments_are_validated_as_a_whole_incident(app):
    seizure = m.parse(m.RECORDS["seizure"], {"case": "c", "on": "2023-12-07", "sources": ["s"], "item": "dealer",
                                        "value": 70000, "currency": "USD", "key": "sz"})
    app.run(seizure, "tester")
    amend = lambda **s: app.run(m.Amend(incident="sz", reason="r", set=s), "tester")  # noqa: E731
    with pytest.raises(InvalidInput, match="cannot amend 'reason' of a seizure"):
        amend(reason="x")
    with pytest.raises(InvalidInput, match="no such day"):
        amend(on="2023-02-30")
    with pytest.raises(InvalidInput, match="together"):
        amend(currency=None)
    with pytest.raises(NotFound, match="no entity ghost"):
        amend(holder="ghost")
    assert not amend(on="2023-12", holder="police").skipped
    incident = app.repository.get(app.incident_uuid("sz"))
    assert incident.fields["on"] == "2023-12" and incident.fields["precision"] == "month"
    assert incident.fields["holder"] == ["police"]


def test_the_domain_classes_keep_the_topics_stored_ledgers_name_them_by_after_the_module_moved():
    from eventsourcing.utils import get_topic, resolve_topic

    from ledger.domain import aggregates

    assert aggregates.__name__ == "ledger.domain.aggregates"
    for cls, stored in [(Incident, "ledger.aggregates:Incident"),
                        (Incident.Recorded, "ledger.aggregates:Incident.Recorded"),
                        (Entity.MergedInto, "ledger.aggregates:Entity.MergedInto"),
                        (Case.Opened, "ledger.aggregates:Case.Opened"),
                        (aggregates.Key.Revoked, "ledger.aggregates:Key.Revoked")]:
        assert get_topic(cls) == stored  # new events are written with it
        assert resolve_topic(stored) is cls  # and stored ones are read back by it


def test_a_recorded_incident_s_event_is_the_library_s_own_dataclass_field_for_field(app):
    """Incident.recorded sets the event's fields at once (not through the frozen dataclass's
    __init__): the event must be the one the library's constructor makes, fields in the same order,
    encoded to the same bytes, and it must still build the incident and refuse a non-UUID id."""
    from uuid import uuid4

    fields = {"on": "2023-12-07", "precision": "day", "sources": ["s"], "authority": ["police"], "target": ["dealer"]}
    ident = uuid4()
    lean = Incident.recorded(ident, case="c", kind="raid", key="k", fields=fields, digest="d" * 64, actor="tester")
    built = Incident.Recorded(originator_id=ident, originator_version=Incident.INITIAL_VERSION,  # type: ignore[call-arg]
                              timestamp=lean.timestamp, originator_topic=lean.originator_topic, case="c",
                              kind="raid", key="k", fields=fields, digest="d" * 64, actor="tester")
    assert type(lean) is Incident.Recorded and lean == built
    assert list(vars(lean)) == list(vars(built))  # the order the state is encoded in
    mapper = app.mapper
    assert mapper.to_stored_event(lean) == mapper.to_stored_event(built)
    incident = lean.mutate(None)
    assert isinstance(incident, Incident) and incident.id == ident and incident.fields == fields
    with pytest.raises(TypeError):
        Incident.recorded(str(ident), case="c", kind="raid", key=None, fields=fields,  # type: ignore[arg-type]
                          digest="d" * 64, actor="tester")


def test_a_unit_remembers_the_references_it_found_and_still_refuses_an_unknown_one(app):
    unit = app.unit()
    app.apply(unit, _raid(key="a"), "tester")
    assert {"police", "dealer", ("source", "s")} <= unit.found
    for bad, message in (({"sources": ["s", "nope"]}, "no source nope"), ({"target": "nobody"}, "no entity nobody")):
        with pytest.raises(NotFound, match=message):
            app.apply(unit, _raid(key="b", **bad), "tester")
    assert "nobody" not in unit.found and ("source", "nope") not in unit.found
