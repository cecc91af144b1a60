"""The application and its read models on a real SQLite file."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from ledger.app import inputs as m
from ledger.app.importer import import_lines
from ledger.domain.chain import verify
from ledger.errors import ImportRejected, NoDatabase
from ledger.store.settings import Settings, open_ledger
from projections import queries
from projections.readmodels import ReadModels
from tests.conftest import STORY


@pytest.fixture
def ledger(settings):
    app = open_ledger(settings, create=True)
    read_models = ReadModels(settings)
    yield app, read_models
    app.close()
    app.factory.close()
    read_models.close()


def _read(read_models, app, name, *args):
    read_models.catch_up()
    with read_models.reading() as (db, _position):
        return getattr(queries, name)(db, *args)


def _table_names(rm) -> list[str]:
    if rm.dialect == "sqlite":
        return [r[0] for r in rm.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows = rm.conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
    rm.conn.rollback()
    return [r[0] for r in rows]


def test_a_read_of_a_missing_ledger_creates_nothing(tmp_path):
    settings = Settings(db=str(tmp_path / "missing.db"))
    with pytest.raises(NoDatabase):
        open_ledger(settings)
    assert not (tmp_path / "missing.db").exists()


def test_the_story_imports_and_reads(ledger):
    app, rm = ledger
    result = import_lines(app, STORY.read_text().splitlines(), "tester")
    assert (result.imported, result.skipped) == (36, 0)
    assert result.position == app.recorder.max_notification_id()
    case = _read(rm, app, "case_show", "chiba-lexus")
    raid = next(i for i in case["incidents"] if i["kind"] == "raid")
    assert raid["roles"]["authority"] == ["chiba-police"] and raid["status"] == "active"  # the accepted claim: its own
    seizure = next(i for i in case["incidents"] if i["kind"] == "seizure")
    assert (seizure["value"], seizure["currency"]) == (10_000_000, "JPY")
    han = _read(rm, app, "entity_show", "h-t-song")  # the duplicate shows as the survivor
    assert han["id"] == "han-tae-song" and han["merged_from"] == ["h-t-song"]
    assert {(i["kind"], i["role"]) for i in han["incidents"]} == {("recall", "envoy"), ("probe", "subject"),
                                                                  ("expulsion", "person")}
    assert verify(app.recorder.chain_rows()).ok


def test_a_second_import_records_nothing(ledger):
    app, _ = ledger
    lines = STORY.read_text().splitlines()
    import_lines(app, lines, "tester")
    head = app.recorder.max_notification_id()
    again = import_lines(app, lines, "tester")
    assert (again.imported, again.skipped) == (0, 36)
    assert app.recorder.max_notification_id() == head


def test_a_bad_line_rejects_the_whole_file(ledger):
    app, _ = ledger
    lines = STORY.read_text().splitlines()
    lines.insert(3, json.dumps({"op": "record.raid", "case": "chiba-lexus", "on": "2023-12-07",
                                "sources": ["asahi-2023-12-07"], "authority": "nobody", "target": "JP"}))
    with pytest.raises(ImportRejected) as rejected:
        import_lines(app, lines, "tester")
    # line 4 names a case opened later in the file and an entity that never exists
    assert [n for n, _ in rejected.value.problems] == [4]
    assert "no case chiba-lexus" in rejected.value.problems[0][1]
    assert app.recorder.max_notification_id() is None


def test_a_key_repeated_further_down_the_file_is_skipped_or_refused(ledger):
    app, _ = ledger
    setup = STORY.read_text().splitlines()[:15]  # sources, entities and the case
    raid = {"op": "record.raid", "key": "raid-1", "case": "chiba-lexus", "on": "2023-12-07",
            "sources": ["asahi-2023-12-07"], "authority": "JP", "target": "JP"}
    # 2,000 lines apart: the first is long settled (let go of) when the second is checked
    filler = [json.dumps({**raid, "key": f"other-{n}"}) for n in range(2000)]
    result = import_lines(app, [*setup, json.dumps(raid), *filler, json.dumps(raid)], "tester")
    assert (result.imported, result.skipped) == (15 + 1 + 2000, 1)
    head = app.recorder.max_notification_id()
    other = [json.dumps({**raid, "key": "raid-2"}), *filler[:5], json.dumps({**raid, "key": "raid-2", "on": "2023-12"})]
    with pytest.raises(ImportRejected) as rejected:
        import_lines(app, other, "tester")
    assert rejected.value.problems == [(7, "this incident's key was recorded with other data earlier in the file")]
    assert app.recorder.max_notification_id() == head  # nothing of the file was stored


def test_an_op_name_written_with_json_escapes_is_still_seen_to_correct_an_incident_of_the_file(ledger):
    """An amend further down the file keeps the incident it names whole while validating, however
    its op's name is spelled in JSON (`am\\u0065nd` is `amend`)."""
    app, _ = ledger
    setup = STORY.read_text().splitlines()[:15]  # sources, entities and the case
    raid = {"op": "record.raid", "key": "raid-esc", "case": "chiba-lexus", "on": "2023-12-07",
            "sources": ["asahi-2023-12-07"], "authority": "JP", "target": "JP"}
    filler = [json.dumps({**raid, "key": f"esc-{n}"}) for n in range(2500)]  # the raid long let go of
    amend = json.dumps({"op": "amend", "incident": "raid-esc", "reason": "a later report", "set": {"on": "2023-12"},
                        "key": "fix-esc"}).replace('"amend"', '"am\\u0065nd"')
    assert "\\u0065" in amend
    result = import_lines(app, [*setup, json.dumps(raid), *filler, amend], "tester")
    assert (result.imported, result.skipped) == (15 + 1 + 2500 + 1, 0)
    assert app.repository.get(app.incident_uuid("raid-esc")).fields["on"] == "2023-12"


def test_a_spill_file_that_ends_short_stores_nothing_more(ledger, monkeypatch):
    from ledger.app import importer

    app, _ = ledger
    real = importer._spill

    def short(spill, *args):  # the last line's bytes never reach the file
        real(spill, *args)
        if args[0] == 15:
            spill.truncate(spill.tell() - 5)
            spill.seek(0, 2)

    monkeypatch.setattr(importer, "_spill", short)
    with pytest.raises(OSError, match="spill file ends short"):
        import_lines(app, STORY.read_text().splitlines()[:15], "tester", batch=20)
    assert app.recorder.max_notification_id() is None  # the batch held the short line: nothing stored


def test_identical_status_lines_count_by_their_place_in_the_file(ledger):
    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    flips = [json.dumps({"op": "case.status", "id": "han-ivory", "status": s, "reason": "r"})
             for s in ("closed", "open", "closed")]
    assert import_lines(app, flips, "tester").imported == 3
    assert import_lines(app, flips, "tester").imported == 0  # the same file again: all three skipped
    assert _read(rm, app, "case_show", "han-ivory")["status"] == "closed"


def test_import_and_the_cli_fill_the_same_model():
    line = {"op": "record.questioning", "case": "c", "on": "2023-12", "sources": ["s"], "subjects": ["a", "b"]}
    from ledger.app.importer import parse_line

    from_file = parse_line(json.dumps(line))
    from_cli = m.parse(m.RECORDS["questioning"],
                       {"case": "c", "on": "2023-12", "sources": ("s",), "subjects": ("a", "b")})
    assert from_file.digest() == from_cli.digest()


def test_catch_up_records_its_position_with_the_rows(ledger, settings):
    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    assert rm.catch_up() == app.recorder.max_notification_id()
    assert rm.catch_up() == 0
    app.run(m.CaseStatus(id="han-ivory", status="referred", reason="to the panel"), "tester")
    assert rm.catch_up() == 1
    with rm.reading() as (db, position):
        assert position == app.recorder.max_notification_id()
        rows = db.rows(f"SELECT status FROM {db.t('case_status')} WHERE case_id = :id", id="han-ivory")
        assert rows == [{"status": "referred"}]


def test_replay_swaps_in_a_new_generation_and_drops_the_old(ledger):
    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    before = _read(rm, app, "timeline", None, None, True)
    replayed, position = rm.replay()
    assert replayed == position == app.recorder.max_notification_id()
    assert _read(rm, app, "timeline", None, None, True) == before
    names = _table_names(rm)
    assert any(n.startswith("rm2_") for n in names) and not any(n.startswith("rm1_") for n in names)


def test_read_models_of_an_older_layout_are_rebuilt_from_the_log(ledger, settings):
    from projections.readmodels import ReadModels
    from projections.schema import NAME

    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    before = [_read(rm, app, *read)
              for read in (("cases",), ("timeline", None, None, True), ("case_show", "chiba-lexus"))]
    with rm.writing():  # as an earlier version of the ledger left them
        rm._sql("UPDATE ledger_projection SET name = 'read_models' WHERE name = :name", {"name": NAME})
    newer = ReadModels(settings)
    try:
        after = [_read(newer, app, *read) for read in (("cases",), ("timeline", None, None, True),
                                                       ("case_show", "chiba-lexus"))]
        assert after == before
        names = _table_names(newer)
        assert any(n.startswith("rm2_") for n in names) and not any(n.startswith("rm1_") for n in names)
        with newer.reading() as (_db, position):
            assert position == app.recorder.max_notification_id()
    finally:
        newer.close()


def test_a_failed_replay_leaves_the_live_read_models(ledger, monkeypatch):
    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    before = _read(rm, app, "cases")
    from projections import projector

    def broken(self, conn, event):
        if event[0] > 10:
            raise RuntimeError("disk full")
        return original(self, conn, event)

    original = projector.Projector.apply
    monkeypatch.setattr(projector.Projector, "apply", broken)
    with pytest.raises(RuntimeError):
        rm.replay()
    monkeypatch.setattr(projector.Projector, "apply", original)
    assert _read(rm, app, "cases") == before
    assert not any(n.startswith("rm2_") for n in _table_names(rm))


def test_an_import_projects_what_it_stored_without_reading_it_back(ledger, monkeypatch):
    app, rm = ledger
    rm.ensure()

    def no_log(*_):
        raise AssertionError("the log was read back")

    applied: list[int] = []
    with monkeypatch.context() as patched:
        patched.setattr(rm, "_events", no_log)
        import_lines(app, STORY.read_text().splitlines(), "tester", batch=10,
                     after_batch=lambda recorded: applied.append(rm.catch_up(recorded=recorded)))
    assert applied == [10, 10, 11, 6]  # 36 lines in batches of 10; the merge is two events
    before = _read(rm, app, "timeline", None, None, True)
    rm.replay()
    assert _read(rm, app, "timeline", None, None, True) == before


def test_recorded_events_behind_another_writer_fall_back_to_the_log(ledger):
    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines()[:5], "tester")
    later: list = []
    import_lines(app, STORY.read_text().splitlines()[5:], "tester", after_batch=later.append)  # 1-5 unprojected
    assert rm.catch_up(recorded=later[0]) == 37
    assert len(_read(rm, app, "cases")) == 3


def test_the_light_read_path_answers_as_the_catching_up_one(ledger, settings):
    from projections.light import open_light

    app, rm = ledger
    assert open_light(settings) is None  # no read models yet: the caller takes the catching-up path
    import_lines(app, STORY.read_text().splitlines(), "tester")
    rm.catch_up()
    reads = [("cases",), ("entities",), ("timeline", None, None, True), ("timeline", "han-ivory", "h-t-song"),
             ("case_show", "chiba-lexus"), ("entity_show", "han-tae-song"), ("entity_show", "KP")]
    light = open_light(settings)
    assert light is not None and light.position == app.recorder.max_notification_id()
    try:
        for name, *args in reads:
            bare = getattr(queries, name)(queries.Db(light.conn, light.generation), *args)
            assert bare == _read(rm, app, name, *args), name
    finally:
        light.close()
    app.run(m.CaseStatus(id="han-ivory", status="referred", reason="r"), "tester")
    assert open_light(settings) is None  # behind the log: never a stale answer


RAID = {"case": "han-ivory", "on": "2023-12-07", "sources": ["asahi-2023-12-07"], "authority": "JP", "target": "KP"}


@pytest.fixture
def other_writer(settings):
    app = open_ledger(settings)
    yield app
    app.close()
    app.factory.close()


def test_a_case_closed_while_an_incident_is_recorded_on_it_refuses_the_incident(ledger, other_writer):
    from eventsourcing.persistence import IntegrityError

    from ledger.errors import CaseClosed

    app, _ = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    unit = app.unit()
    app.apply(unit, m.RECORDS["raid"](key="late-raid", **RAID), "tester")  # the case is open: allowed
    other_writer.run(m.CaseStatus(id="han-ivory", status="closed", reason="done"), "other")
    head = app.recorder.max_notification_id()
    with pytest.raises(IntegrityError):
        app.commit(unit)  # the rule's premise changed before the event was stored
    assert app.recorder.max_notification_id() == head
    with pytest.raises(CaseClosed):
        app.run(m.RECORDS["raid"](key="late-raid", **RAID), "tester")  # checked again: refused
    assert verify(app.recorder.chain_rows()).ok


def test_an_import_whose_case_is_closed_between_checking_and_storing_stops_at_that_batch(ledger, other_writer,
                                                                                       monkeypatch):
    from ledger.app import importer
    from ledger.errors import Refused

    app, _ = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")
    head = app.recorder.max_notification_id()
    lines = [json.dumps({"op": "record.raid", "key": f"raid-{n}", **RAID}) for n in range(5)]
    validate = importer._validate

    def close_meanwhile(*args, **kwargs):
        problems = validate(*args, **kwargs)
        other_writer.run(m.CaseStatus(id="han-ivory", status="closed", reason="done"), "other")
        return problems

    monkeypatch.setattr(importer, "_validate", close_meanwhile)
    with pytest.raises(Refused, match="line 1: case han-ivory is closed"):
        import_lines(app, lines, "tester", batch=2)
    assert app.recorder.max_notification_id() == head + 1  # the close, and none of the raids
    assert verify(app.recorder.chain_rows()).ok


def test_status_changes_earlier_in_the_same_import_are_not_taken_for_another_writer(ledger, monkeypatch):
    from ledger.app import importer

    app, rm = ledger
    import_lines(app, STORY.read_text().splitlines(), "tester")

    def no_conflict(*_):
        raise AssertionError("a batch was taken for another writer's change")

    monkeypatch.setattr(importer, "_store_batch", no_conflict)
    lines = [json.dumps({"op": "case.status", "id": "han-ivory", "status": "investigating", "reason": "r"}),
             json.dumps({"op": "record.raid", "key": "raid-a", **RAID}),
             json.dumps({"op": "case.status", "id": "han-ivory", "status": "referred", "reason": "r"}),
             json.dumps({"op": "record.raid", "key": "raid-b", **RAID})]
    for batch in (1, 3, 10):  # the precondition falls in the same batch as the change, or a later one
        result = import_lines(app, [line.replace("raid-", f"raid-{batch}-") for line in lines[1::2]] + lines,
                              "tester", batch=batch)
        assert result.imported + result.skipped == 6
    assert _read(rm, app, "case_show", "han-ivory")["status"] == "referred"


@given(st.lists(st.tuples(st.lists(st.binary(max_size=300), max_size=3), st.text(max_size=200),
                          st.booleans(), st.none() | st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True)),
                max_size=20))
@hyp_settings(max_examples=50, deadline=None)
def test_the_spill_file_gives_back_each_line_as_it_was_written(entries):
    """Pass 1 writes each line's events and text raw after a JSON header (`_spill`), pass 2 reads
    them back (`_spilled`): any bytes, newlines included, any text, in order."""
    import tempfile
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent

    from ledger.app.importer import _spill, _spilled

    written = []
    with tempfile.TemporaryFile() as spill:
        for lineno, (states, text, skipped, key) in enumerate(entries, start=1):
            events = [StoredEvent(uuid4(), n + 1, f"topic:{n}", state) for n, state in enumerate(states)]
            op = m.Retract(incident="i", reason="r", key=key)
            preconditions = [(0, events[0].originator_id.hex, 3)] if events else []
            _spill(spill, lineno, skipped, events, op, text, preconditions)
            written.append((lineno, skipped, events, key, text, preconditions))
        spill.seek(0)
        read = list(_spilled(spill))
    assert len(read) == len(written)
    for got, (lineno, skipped, events, key, text, preconditions) in zip(read, written, strict=True):
        assert (got.lineno, got.skipped, got.key, got.ident, got.line.decode()) == (lineno, skipped, key, None, text)
        assert [tuple(p) for p in got.preconditions] == preconditions
        assert [(e.originator_id, e.originator_version, e.topic, e.state) for e in got.events] == [
            (e.originator_id.hex, e.originator_version, e.topic, e.state) for e in events]
