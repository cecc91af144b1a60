"""Asking the ledger: `incidents` with every filter (exact answers on a scenario built here),
`incident show`, `stats`, `--as-of` on `history` and `export`, and the declared SQLAlchemy tables
against the tables the projector creates, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import pytest

from commands.asking import SORTS, STATS_BY, STATUSES
from ledger.export.delimited import CSV_COLUMNS
from tests.conftest import Runner, SharedLedger

# Timeline order of the scenario's incidents (by key), retracted `raid-ret` aside:
#   probe-2016    2016-12-31                   probe in c2, police; subject p-dup (merged into p-han); B2
#   raid-2017     2017 (a year)                raid in c1, JP, police -> dealer; C3
#   expel-2017-09 2017-09 (a month)            expulsion in c2, p-han, expelled by MY; B2; "rhino horn"
#   recall        2017-09-15                   recall in c2, envoy p-dup, KP -> CH; A1
#   raid-ret      2017-09-20                   raid in c2, JP: retracted
#   seizure       2017-10-01                   seizure in c1, JP, the car; C3, then amended: sources + B2
#   question      2018-03-04T10:00:00+09:00    questioning in c1 (01:00 UTC), p-han; ungraded source
SCENARIO = [
    {"op": "source.add", "id": "s-a1", "publisher": "Agency", "title": "Wire", "reliability": "A", "credibility": 1},
    {"op": "source.add", "id": "s-b2", "publisher": "Daily", "title": "Paper", "reliability": "B", "credibility": 2},
    {"op": "source.add", "id": "s-c3", "publisher": "Blog", "title": "Post", "reliability": "C", "credibility": 3},
    {"op": "source.add", "id": "s-none", "publisher": "Rumour", "title": "Overheard"},
    {"op": "entity.add", "id": "p-han", "kind": "person", "name": "Han Tae-song", "country": "KP"},
    {"op": "entity.add", "id": "p-dup", "kind": "person", "name": "H. T. Song"},
    {"op": "entity.merge", "duplicate": "p-dup", "survivor": "p-han", "reason": "same person"},
    {"op": "entity.add", "id": "o-police", "kind": "organization", "name": "Chiba Prefectural Police"},
    {"op": "entity.add", "id": "o-dealer", "kind": "organization", "name": "Used-car dealer"},
    {"op": "entity.add", "id": "v-car", "kind": "vehicle", "name": "Lexus sedan"},
    {"op": "case.open", "id": "c1", "title": "Lexus", "jurisdiction": "JP"},
    {"op": "case.open", "id": "c2", "title": "Ivory"},
    {"op": "record.raid", "case": "c1", "on": "2017", "sources": ["s-c3"], "country": "JP", "place": "Chiba",
     "authority": "o-police", "target": "o-dealer", "key": "raid-2017"},
    {"op": "record.expulsion", "case": "c2", "on": "2017-09", "sources": ["s-b2"], "persons": ["p-han"],
     "expelling_state": "MY", "reason": "Trafficking in rhino horn", "key": "expel-2017-09"},
    {"op": "record.recall", "case": "c2", "on": "2017-09-15", "sources": ["s-a1"], "envoy": "p-dup",
     "sending_state": "KP", "post": "CH", "key": "recall"},
    {"op": "record.raid", "case": "c2", "on": "2017-09-20", "sources": ["s-a1"], "country": "JP",
     "authority": "o-police", "target": "o-dealer", "key": "raid-ret"},
    {"op": "record.seizure", "case": "c1", "on": "2017-10-01", "sources": ["s-c3"], "country": "JP",
     "item": "v-car", "authority": "o-police", "holder": "o-dealer", "value": 70000, "currency": "USD",
     "key": "seizure"},
    {"op": "record.questioning", "case": "c1", "on": "2018-03-04T10:00:00+09:00", "sources": ["s-none"],
     "subjects": ["p-han"], "authority": "o-police", "note": "Questioned at the port", "key": "question"},
    {"op": "record.probe", "case": "c2", "on": "2016-12-31", "sources": ["s-b2"], "authority": "o-police",
     "subjects": ["p-dup"], "key": "probe-2016"},
    {"op": "amend", "incident": "seizure", "reason": "a better source", "set": {"sources": "s-c3,s-b2",
                                                                              "value": 72000}},
    {"op": "retract", "incident": "raid-ret", "reason": "never happened"},
]
ORDER = ["probe-2016", "raid-2017", "expel-2017-09", "recall", "seizure", "question"]
HAS_SEARCH = importlib.util.find_spec("projections.search") is not None


def _ask(run: Runner, folder: Path) -> Runner:
    path = folder / "scenario.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in SCENARIO))
    run("import", str(path))
    history = run.json("history")
    # positions: each incident's recording (by key), the amendment's and the last
    run.at = {r["data"].get("key"): r["position"] for r in history if r["type"] == "Incident.Recorded"}
    run.at["amended"] = next(r["position"] for r in history if r["type"] == "Incident.Amended")
    run.at["last"] = history[-1]["position"]
    return run


@pytest.fixture
def asked(run, tmp_path):
    return _ask(run, tmp_path)


@pytest.fixture(scope="module")
def asked_once(module_db_url, tmp_path_factory) -> SharedLedger:
    return SharedLedger(_ask(Runner(module_db_url), tmp_path_factory.mktemp("asked")))


@pytest.fixture
def asked_read(asked_once: SharedLedger):
    """The scenario of `asked`, recorded once per module and backend, for the many tests that only
    query it (checked unchanged after each)."""
    yield from asked_once.lend()


def keys(run, *args):
    return [i["key"] for i in run.json("incidents", *args)]


@pytest.mark.parametrize("args, expected", [
    ((), ORDER),
    # dates: a year or month overlaps what it shares a day with; --within: lies inside
    (("--from", "2017-09", "--to", "2017-09"), ["raid-2017", "expel-2017-09", "recall"]),
    (("--from", "2017-09", "--to", "2017-09", "--within"), ["expel-2017-09", "recall"]),
    (("--to", "2017-09"), ["probe-2016", "raid-2017", "expel-2017-09", "recall"]),
    (("--to", "2017-09-14"), ["probe-2016", "raid-2017", "expel-2017-09"]),
    (("--to", "2017-09-14", "--within"), ["probe-2016"]),
    (("--from", "2017-10"), ["raid-2017", "seizure", "question"]),
    (("--from", "2017-10", "--within"), ["seizure", "question"]),
    (("--from", "2017-12-31T23:00:00Z"), ["raid-2017", "question"]),
    (("--from", "2018-03-04", "--to", "2018-03-04"), ["question"]),
    (("--to", "2018-03-04T00:59:59Z"), ORDER[:-1]),
    (("--to", "2018-03-04T01:00:00Z", "--from", "2018-03-04T01:00:00Z"), ["question"]),
    (("--from", "2017-01-01", "--to", "2017-12-31", "--within"), ["raid-2017", "expel-2017-09", "recall", "seizure"]),
    # merges followed both ways; --role narrows; OR within an option, AND across
    (("--entity", "p-han"), ["probe-2016", "expel-2017-09", "recall", "question"]),
    (("--entity", "p-dup"), ["probe-2016", "expel-2017-09", "recall", "question"]),
    (("--entity", "p-han", "--role", "subject"), ["probe-2016", "question"]),
    (("--entity", "p-han", "--entity", "v-car"), ["probe-2016", "expel-2017-09", "recall", "seizure", "question"]),
    (("--entity", "p-han", "--kind", "recall", "--kind", "expulsion"), ["expel-2017-09", "recall"]),
    (("--role", "envoy"), ["recall"]),
    (("--entity", "CH"), ["recall"]),
    (("--case", "c1", "--case", "c2", "--kind", "raid"), ["raid-2017"]),
    (("--case", "c1", "--entity", "p-han"), ["question"]),
    # a country: the incident's own or one filling a role, in any case
    (("--country", "jp"), ["raid-2017", "seizure"]),
    (("--country", "CH"), ["recall"]),
    (("--country", "my", "--country", "ch"), ["expel-2017-09", "recall"]),
    # sources as they stand after corrections, and their grading
    (("--source", "s-c3"), ["raid-2017", "seizure"]),
    (("--source", "s-b2"), ["probe-2016", "expel-2017-09", "seizure"]),
    (("--min-grade", "B2"), ["probe-2016", "expel-2017-09", "recall", "seizure"]),
    (("--min-grade", "b"), ["probe-2016", "expel-2017-09", "recall", "seizure"]),
    (("--min-grade", "A1"), ["recall"]),
    (("--min-grade", "C6"), ORDER[:-1]),
    # retracted only when asked for; active: neither amended nor retracted
    (("--status", "retracted"), ["raid-ret"]),
    (("--status", "amended", "--status", "retracted"), ["raid-ret", "seizure"]),
    (("--status", "active"), ["probe-2016", "raid-2017", "expel-2017-09", "recall", "question"]),
    (("--kind", "raid"), ["raid-2017"]),
    (("--recorded-since", "2000-01-01"), ORDER),
    (("--recorded-since", "2999-01-01T00:00:00+02:00"), []),
    # sort and paging
    (("--sort", "-on"), ORDER[::-1]),
    (("--sort", "recorded"), ["raid-2017", "expel-2017-09", "recall", "seizure", "question", "probe-2016"]),
    (("--sort", "-recorded", "--limit", "2"), ["probe-2016", "question"]),
    (("--limit", "2", "--offset", "1"), ["raid-2017", "expel-2017-09"]),
    (("--offset", "5"), ["question"]),
    (("--limit", "0"), []),
])
def test_incidents_answer_exactly(asked_read, args, expected):
    assert keys(asked_read, *args) == expected


def test_recorded_since_a_position_is_what_came_after_it(asked):
    seizure = asked.at["seizure"]
    assert keys(asked, "--recorded-since", str(seizure)) == ["probe-2016", "question"]
    assert keys(asked, "--recorded-since", str(seizure - 1)) == ["probe-2016", "seizure", "question"]


def test_as_of_answers_as_the_ledger_stood(asked):
    before = str(asked.at["amended"] - 1)  # before the amendment and the retraction
    assert keys(asked, "--as-of", before) == ["probe-2016", "raid-2017", "expel-2017-09", "recall", "raid-ret",
                                              "seizure", "question"]
    assert keys(asked, "--as-of", before, "--source", "s-b2") == ["probe-2016", "expel-2017-09"]
    assert keys(asked, "--as-of", before, "--status", "amended") == []
    assert keys(asked, "--as-of", str(asked.at["amended"]), "--status", "amended") == ["seizure"]
    assert asked.json("incidents", "--as-of", before, "--kind", "seizure")[0]["value"] == 70000


def test_each_incident_is_the_one_timeline_gives(asked):
    timeline = {i["id"]: i for i in asked.json("timeline", "--include-retracted")}
    for found in asked.json("incidents", "--status", "active", "--status", "amended", "--status", "retracted"):
        assert found == timeline[found["id"]]


@pytest.mark.parametrize("args, code, message", [
    (("--entity", "nobody"), 1, "no entity nobody"),
    (("--case", "c9"), 1, "no case c9"),
    (("--source", "s-x"), 1, "no source s-x"),
    (("--country", "ZZ"), 2, "ZZ"),
    (("--min-grade", "G7"), 2, "--min-grade"),
    (("--from", "2017-13"), 2, "--from"),
    (("--kind", "picnic"), 2, "picnic"),
    (("--status", "lost"), 2, "lost"),
    (("--recorded-since", "yesterday"), 2, "--recorded-since"),
    (("--limit", "-1"), 2, "--limit"),
])
def test_bad_filters_are_said(asked_read, args, code, message):
    assert message in asked_read("incidents", *args, code=code).stderr


@pytest.mark.skipif(not HAS_SEARCH, reason="projections.search (incident_text_clause) is not there yet")
def test_text_finds_words_in_the_text_and_in_the_names_in_roles(asked):
    assert keys(asked, "--text", "RHÍNO") == ["expel-2017-09"]
    assert keys(asked, "--text", "port") == ["question"]
    assert keys(asked, "--text", "lexus", "--kind", "seizure") == ["seizure"]


def test_the_formats_of_incidents(asked):
    rows = list(csv.DictReader(io.StringIO(asked("incidents", "--format", "csv").stdout)))
    assert [r["key"] for r in rows] == ORDER
    assert list(rows[0]) == CSV_COLUMNS
    seizure = rows[ORDER.index("seizure")]
    assert (seizure["sources"], seizure["item"], seizure["value"]) == ("s-c3;s-b2", "v-car", "72000")
    tsv = asked("incidents", "--format", "tsv", "--kind", "recall").stdout.splitlines()
    assert tsv[0].split("\t") == CSV_COLUMNS and len(tsv) == 2
    assert asked.json("incidents") == json.loads(asked("incidents", "--format", "json").stdout)
    text = asked("incidents", "--entity", "p-han").stdout
    assert "Han Tae-song (p-han)" in text and "recall" in text and "expel-2017-09" in text
    assert max(map(len, text.splitlines())) <= 80


def test_incident_show(asked):
    shown = asked.json("incident", "show", "seizure")
    assert (shown["key"], shown["status"], shown["value"], shown["sources"]) == ("seizure", "amended", 72000,
                                                                                  ["s-c3", "s-b2"])
    assert shown["names"] == {"v-car": "Lexus sedan", "o-police": "Chiba Prefectural Police",
                              "o-dealer": "Used-car dealer"}
    assert [h["type"] for h in shown["history"]] == ["Incident.Recorded", "Incident.Amended"]
    assert shown["position"] == asked.at["last"]
    assert asked.json("incident", "show", shown["id"])["history"] == shown["history"]
    earlier = asked.json("incident", "show", "seizure", "--as-of", str(asked.at["amended"] - 1))
    assert (earlier["status"], earlier["value"], len(earlier["history"])) == ("active", 70000, 1)
    assert asked.json("incident", "show", "recall")["names"] == {
        "p-dup": "Han Tae-song", "KP": "Korea, Democratic People's Republic of", "CH": "Switzerland"}
    assert asked.json("incident", "show", "raid-ret")["status"] == "retracted"
    text = asked("incident", "show", "seizure").stdout
    assert "Lexus sedan (v-car)" in text and "a better source" in text and "72000" in text
    assert "no incident nothing" in asked("incident", "show", "nothing", code=1).stderr
    asked("incident", "show", "question", "--as-of", str(asked.at["question"] - 1), code=1)


def test_stats(asked):
    def counts(*args):
        return {r["key"]: r["incidents"] for r in asked.json("stats", *args)}

    assert counts() == {"probe": 1, "raid": 1, "expulsion": 1, "recall": 1, "seizure": 1, "questioning": 1}
    assert counts("--by", "case") == {"c1": 3, "c2": 3}
    assert counts("--by", "country") == {"JP": 2, None: 4}
    assert counts("--by", "source") == {"s-b2": 3, "s-c3": 2, "s-a1": 1, "s-none": 1}
    assert counts("--by", "actor") == {"tester": 6}
    assert asked.json("stats", "--by", "year") == [
        {"key": "2016", "incidents": 1, "first": "2016-12-31", "last": "2016-12-31"},
        {"key": "2017", "incidents": 4, "first": "2017", "last": "2017-10-01"},
        {"key": "2018", "incidents": 1, "first": "2018-03-04T10:00:00+09:00", "last": "2018-03-04T10:00:00+09:00"}]
    assert asked.json("stats", "--by", "source", "--limit", "1", "--offset", "1") == [
        {"key": "s-c3", "incidents": 2, "first": "2017", "last": "2017-10-01"}]
    assert counts("--by", "case", "--entity", "p-han") == {"c1": 1, "c2": 3}
    assert counts("--by", "kind", "--as-of", str(asked.at["amended"]))["raid"] == 2  # before the retraction
    text = asked("stats", "--by", "case").stdout
    assert text.splitlines()[0].split() == ["key", "incidents", "first", "last"]
    asked("stats", "--status", "retracted", code=2)


def test_history_and_export_as_of(asked):
    amended = asked.at["amended"]
    assert len(asked.json("history")) == asked.at["last"]
    assert [h["position"] for h in asked.json("history", "--as-of", "5")] == [1, 2, 3, 4, 5]
    assert [h["type"] for h in asked.json("history", "seizure", "--as-of", str(amended - 1))] == ["Incident.Recorded"]
    asked("history", "seizure", "--as-of", "3", code=1)
    ops = [json.loads(line)["op"] for line in asked("export", "--as-of", str(amended)).stdout.splitlines()]
    assert ops.count("amend") == 1 and "retract" not in ops
    assert [json.loads(line)["op"] for line in asked("export").stdout.splitlines()].count("retract") == 1
    at = str(asked.at["raid-2017"])
    csv_rows = list(csv.DictReader(io.StringIO(asked("export", "--format", "csv", "--as-of", at).stdout)))
    assert [r["key"] for r in csv_rows] == ["raid-2017"]


def test_the_api_answers_as_the_cli(asked):
    from ledger.api import Ledger

    with Ledger(asked.db) as ledger:
        assert [i["key"] for i in ledger.incidents(entity="p-dup", role=["subject"])] == ["probe-2016", "question"]
        assert [i["key"] for i in ledger.incidents(date_from="2017-09", date_to="2017-09", within=True)] == [
            "expel-2017-09", "recall"]
        assert ledger.incident("seizure")["history"][1]["type"] == "Incident.Amended"
        assert ledger.stats("case", kind="raid") == [{"key": "c1", "incidents": 1, "first": "2017", "last": "2017"}]
        from sqlalchemy import func, select

        t = ledger.tables()
        with ledger.engine().connect() as conn:
            counted = conn.execute(select(t.incidents.c.kind, func.count()).where(t.incidents.c.country == "JP")
                                   .group_by(t.incidents.c.kind).order_by(t.incidents.c.kind)).all()
        assert [tuple(r) for r in counted] == [("raid", 2), ("seizure", 1)]


def test_the_cli_choices_are_the_queries():
    from projections import asking

    assert (STATUSES, SORTS, STATS_BY) == (asking.STATUSES, asking.SORTS, asking.STATS_BY)


def test_the_declared_tables_are_the_tables_the_projector_creates(asked):
    """projections/tables.py against the DDL of projections/schema.py, as the database has it:
    every table, its columns in order, their nullability, type family and length, its key."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.pool import NullPool

    from ledger.api import Ledger
    from projections import schema
    from projections.database import connect
    from projections.tables import read_tables

    with Ledger(asked.db) as ledger:
        t = ledger.tables()
        settings = ledger.settings
    url = "sqlite://" if settings.backend == "sqlite" else "postgresql+psycopg://"
    engine = create_engine(url, creator=lambda: connect(settings, read_only=True), poolclass=NullPool)
    schema_name = None if settings.backend == "sqlite" else "ledger_read"
    inspector = inspect(engine)
    generation = int(next(iter(t.incidents.name[2:].split("_"))))
    assert t is read_tables(generation)
    for name in schema.TABLES:
        declared = getattr(t, name, None)
        assert declared is not None, f"{name} is created by schema.TABLES but not declared in projections/tables.py"
        columns = inspector.get_columns(declared.name, schema=schema_name)
        assert [c["name"] for c in columns] == [c.name for c in declared.columns], name
        for found, column in zip(columns, declared.columns):
            assert bool(found["nullable"]) == bool(column.nullable), (name, column.name)
            assert found["type"].python_type is column.type.python_type, (name, column.name, found["type"])
            assert getattr(found["type"], "length", None) == getattr(column.type, "length", None), (name, column.name)
        key = inspector.get_pk_constraint(declared.name, schema=schema_name)["constrained_columns"]
        assert key == [c.name for c in declared.primary_key.columns], name
    engine.dispose()


# ---------------------------------------------------------------------- the SQL against a model in Python

GRADES = {line["id"]: (line.get("reliability"), line.get("credibility")) for line in SCENARIO
          if line["op"] == "source.add"}
SURVIVOR = {"p-dup": "p-han"}
DATES = ["2016", "2016-12-31", "2017", "2017-09", "2017-09-15", "2017-09-20", "2017-10", "2017-12-31T23:00:00Z",
         "2018", "2018-03-04", "2018-03-04T00:59:59+00:00", "2018-03-04T01:00:00Z", "2018-03-04T10:00:00+09:00"]


@pytest.fixture(scope="module")
def model_ledger(tmp_path_factory):
    from ledger.api import Ledger

    path = tmp_path_factory.mktemp("model") / "scenario.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in SCENARIO))
    ledger = Ledger(path.with_suffix(".db"), actor="tester")
    ledger.import_file(path)
    everything = ledger.timeline(include_retracted=True)
    yield ledger, everything
    ledger.close()


def _range(on: str, precision: str) -> tuple[object, object, bool]:
    """(start, end, is a moment) of a date's range, as naive UTC datetimes."""
    from datetime import UTC, datetime

    from projections.asking import _next_start

    if precision == "time":
        moment = datetime.fromisoformat(on)
        moment = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
        return moment, moment, True
    start = datetime.fromisoformat({"year": f"{on}-01-01", "month": f"{on}-01", "day": on}[precision])
    return start, _next_start(start, precision), False


def _model(everything, f):
    from ledger.domain.values import parse_date

    out = []
    for inc in everything:
        refs = {(role, ref) for role, ids in inc["roles"].items() for ref in ids}
        if (f["status"] and inc["status"] not in f["status"]) or (not f["status"] and inc["status"] == "retracted"):
            continue
        if (f["kind"] and inc["kind"] not in f["kind"]) or (f["case"] and inc["case"] not in f["case"]):
            continue
        if f["entity"] or f["role"]:
            wanted = {SURVIVOR.get(e, e) for e in f["entity"]}
            if not any((not f["entity"] or SURVIVOR.get(ref, ref) in wanted) and (not f["role"] or role in f["role"])
                       for role, ref in refs):
                continue
        if f["country"] and inc["country"] not in f["country"] and not {ref for _, ref in refs} & set(f["country"]):
            continue
        if f["source"] and not set(inc["sources"]) & set(f["source"]):
            continue
        if f["min_grade"]:
            letter, digit = f["min_grade"][0], int(f["min_grade"][1])
            if not any((GRADES[s][0] or "Z") <= letter and (GRADES[s][1] or 9) <= digit for s in inc["sources"]):
                continue
        start, end, point = _range(inc["on"], inc["precision"])
        if f["date_from"]:
            low, _, _ = _range(*parse_date(f["date_from"]))
            if (start < low) if (f["within"] or point) else (end <= low):
                continue
        if f["date_to"]:
            _start, high, moment = _range(*parse_date(f["date_to"]))
            last = end if not point else start
            if f["within"] and not point:
                if last > high:
                    continue
            elif (start > high) if moment else (start >= high):
                continue
        out.append(inc)
    return out


def test_any_mix_of_filters_answers_as_a_filter_in_python(model_ledger):
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import strategies as st

    ledger, everything = model_ledger
    some = lambda values: st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True)  # noqa: E731
    options = {
        "case": some(["c1", "c2"]), "kind": some(["raid", "recall", "seizure", "probe", "expulsion", "questioning"]),
        "entity": some(["p-han", "p-dup", "o-police", "v-car", "CH", "MY"]),
        "role": some(["subject", "authority", "post"]),
        "country": some(["JP", "CH", "KP"]), "source": some(["s-a1", "s-b2", "s-c3", "s-none"]),
        "min_grade": st.sampled_from(["A1", "B2", "C3", "C6"]), "date_from": st.sampled_from(DATES),
        "date_to": st.sampled_from(DATES), "within": st.just(True), "status": some(["active", "amended", "retracted"])}
    empty = {"min_grade": None, "date_from": None, "date_to": None, "within": False}

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data(), chosen=st.sets(st.sampled_from(sorted(options)), min_size=1, max_size=3),
           sort=st.sampled_from(["on", "-on"]), offset=st.integers(0, 2), limit=st.none() | st.integers(0, 4))
    def check(data, chosen, sort, offset, limit):
        f = {name: data.draw(options[name], label=name) if name in chosen else empty.get(name, [])
             for name in options}
        if f["date_from"] is not None and f["date_to"] is not None:
            from ledger.errors import InvalidInput
            from projections.asking import filters

            # a --to that ends before --from starts (a date-time before a year, too) is refused as
            # bad input, tested on its own
            try:
                filters(date_from=f["date_from"], date_to=f["date_to"])
            except InvalidInput:
                assume(False)
        expected = [inc["id"] for inc in _model(everything, f)]
        expected = (expected[::-1] if sort == "-on" else expected)[offset:]
        expected = expected[:limit] if limit is not None else expected
        found = [inc["id"] for inc in ledger.incidents(**f, sort=sort, limit=limit, offset=offset)]
        assert found == expected, f

    check()


@pytest.mark.parametrize(("args", "says"), [
    (("--limit", "100000000000000000000"), "not in the range"),
    (("--offset", "100000000000000000000"), "not in the range"),
    (("--text", "   "), "--text: no words to look for"),
    (("--from", "2024", "--to", "2017"), "--to 2017 ends before --from 2024"),
])
def test_out_of_range_paging_blank_text_and_a_backward_range_are_bad_input(story, args, says):
    result = story("incidents", *args, code=2)
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_to_that_ends_after_from_starts_is_a_range(story):
    assert story.json("incidents", "--from", "2023-12-06", "--to", "2023") == story.json(
        "incidents", "--from", "2023-12-06", "--to", "2023-12-31")
