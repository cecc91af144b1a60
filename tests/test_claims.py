"""Contested claims: `claim`, `accept`, `refute`, `disputes`, the INCIDENT's `claims` and `disputed`,
the `disputed` status, claims on a case's fields, history and --as-of, import and export, and what
the other reads make of them. Both backends, exact answers on a scenario of our own: sources
disagree on a date, a role, a value with its currency, and a case's regime."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import Runner, SharedLedger, fresh_pg_database, strip_volatile

SOURCES = [  # id, publisher, reliability, credibility
    ("s-a", "Asahi Shimbun", "B", "2"),
    ("s-a2", "Asahi Shimbun", "B", "2"),  # a second article of the same outlet: one voice with s-a
    ("s-n", "News On Japan", "C", "3"),
    ("s-s", "South China Morning Post", "B", "2"),
    ("s-d", "NDTV", "C", "3"),
]

SETUP = [
    *[["source", "add", sid, "--publisher", pub, "--title", f"Report {sid}", "--reliability", r, "--credibility", c]
      for sid, pub, r, c in SOURCES],
    ["entity", "add", "chiba", "--kind", "organization", "--name", "Chiba Prefectural Police"],
    ["entity", "add", "kana", "--kind", "organization", "--name", "Kanagawa Prefectural Police"],
    ["entity", "add", "dealer", "--kind", "organization", "--name", "Used-car dealer"],
    ["entity", "add", "car", "--kind", "vehicle", "--name", "Lexus sedan"],
    ["case", "open", "c1", "--title", "Lexus case", "--regime", "UNSCR 1718", "--source", "s-s"],
    ["case", "open", "c2", "--title", "Other case"],
    ["record", "raid", "c1", "--on", "2023-12-07", "--source", "s-a", "--authority", "chiba", "--target", "dealer",
     "--key", "r1"],
    ["record", "seizure", "c1", "--on", "2023-12-07", "--source", "s-d", "--item", "car", "--value", "70000",
     "--currency", "USD", "--key", "z1"],
    ["record", "raid", "c2", "--on", "2023-11", "--source", "s-s", "--authority", "kana", "--target", "dealer",
     "--key", "r2"],
]

# the claims, accept and refute, one command at a time; IMPORT says the same as import lines
CLAIMS = [
    ["claim", "r1", "--source", "s-n", "--set", "authority=kana", "--quote", "Kanagawa police searched the showroom",
     "--key", "k1"],
    ["claim", "r1", "--source", "s-a2", "--set", "authority=kana", "--key", "k2"],
    ["claim", "r1", "--source", "s-s", "--set", "on=2023-12-06", "--key", "k3"],
    ["claim", "z1", "--source", "s-a2", "--set", "value=10000000", "--set", "currency=JPY", "--key", "k4"],
    ["claim", "z1", "--source", "s-a", "--set", "value=10000000.0", "--set", "currency=jpy", "--key", "k5"],
    ["claim", "z1", "--source", "s-s", "--set", "value=68000", "--set", "currency=USD", "--quote", "about USD 68,000",
     "--key", "k6"],
    ["claim", "case:c1", "--source", "s-n", "--set", "regime=UNSCR 2094 (2013)", "--key", "k7"],
    ["accept", "r1", "authority", "--source", "s-n", "--reason", "Two later reports name Kanagawa"],
    ["refute", "z1", "value", "--source", "s-s", "--reason", "SCMP gives no figure of its own"],
]
IMPORT = [
    {"op": "claim", "target": "r1", "source": "s-n", "set": {"authority": ["kana"]},
     "quote": "Kanagawa police searched the showroom", "key": "k1"},
    {"op": "claim", "target": "r1", "source": "s-a2", "set": {"authority": "kana"}, "key": "k2"},
    {"op": "claim", "target": "r1", "source": "s-s", "set": {"on": "2023-12-06"}, "key": "k3"},
    {"op": "claim", "target": "z1", "source": "s-a2", "set": {"value": 10000000, "currency": "JPY"}, "key": "k4"},
    {"op": "claim", "target": "z1", "source": "s-a", "set": {"value": "10000000.0", "currency": "jpy"}, "key": "k5"},
    {"op": "claim", "target": "z1", "source": "s-s", "set": {"value": 68000, "currency": "USD"},
     "quote": "about USD 68,000", "key": "k6"},
    {"op": "claim", "target": "case:c1", "source": "s-n", "set": {"regime": "UNSCR 2094 (2013)"}, "key": "k7"},
    {"op": "accept", "target": "r1", "field": "authority", "source": "s-n",
     "reason": "Two later reports name Kanagawa"},
    {"op": "refute", "target": "z1", "field": "value", "source": "s-s", "reason": "SCMP gives no figure of its own"},
]

USD70 = {"value": 70000, "currency": "USD"}
JPY10M = {"value": 10000000, "currency": "JPY"}
USD68 = {"value": 68000, "currency": "USD"}


def _ledger(run: Runner) -> dict[str, str]:
    for args in SETUP:
        run(*args)
    return {key: run.json("incident", "show", key)["id"] for key in ("r1", "z1", "r2")}


def _claimed(run: Runner) -> tuple[Runner, dict[str, str]]:
    ids = _ledger(run)
    for args in CLAIMS:
        run(*args)
    return run, ids


@pytest.fixture
def claimed(run: Runner) -> tuple[Runner, dict[str, str]]:
    return _claimed(run)


@pytest.fixture(scope="module")
def claimed_once(module_db_url) -> SharedLedger:
    return SharedLedger(*_claimed(Runner(module_db_url)))


@pytest.fixture
def claimed_read(claimed_once: SharedLedger):
    """`claimed`, made once per module and backend, for the tests that only read it (checked
    unchanged after each)."""
    yield from claimed_once.lend()


def _entry(values: list[dict], **keep) -> list[dict]:
    return [{k: v[k] for k in keep} for v in values]


def test_claims_stand_side_by_side_and_the_accepted_one_is_the_value(claimed_read):
    run, _ids = claimed_read
    raid = run.json("incident", "show", "r1")
    assert raid["roles"]["authority"] == ["kana"]  # accepted
    assert raid["on"] == "2023-12-07"  # disputed: keeps its recorded value
    assert raid["status"] == "disputed" and raid["disputed"] == ["on"]
    authority = strip_volatile(raid["claims"]["authority"])
    assert [(e["value"], e["sources"], e["status"], e["corroborated"], e["quote"], e["reason"]) for e in authority] == [
        (["chiba"], ["s-a"], "standing", False, None, None),
        (["kana"], ["s-n", "s-a2"], "accepted", True, "Kanagawa police searched the showroom",
         "Two later reports name Kanagawa")]
    positions = [e["position"] for e in raid["claims"]["authority"]]
    assert positions[0] < positions[1]  # the recorded value first, at the recording's position
    assert [(e["value"], e["sources"], e["status"]) for e in raid["claims"]["on"]] == [
        ("2023-12-07", ["s-a"], "standing"), ("2023-12-06", ["s-s"], "standing")]
    seizure = run.json("incident", "show", "z1")
    assert (seizure["value"], seizure["currency"], seizure["status"], seizure["disputed"]) == (
        70000, "USD", "disputed", ["value"])
    assert [(e["value"], e["sources"], e["status"], e["corroborated"], e["reason"]) for e in seizure["claims"]["value"]
            ] == [(USD70, ["s-d"], "standing", False, None),
                  (JPY10M, ["s-a2", "s-a"], "standing", False, None),  # two articles of one outlet: one voice
                  (USD68, ["s-s"], "refuted", False, "SCMP gives no figure of its own")]
    other = run.json("incident", "show", "r2")
    assert (other["claims"], other["disputed"], other["status"]) == ({}, [], "active")


def test_a_case_field_is_claimed_like_an_incident_field(claimed):
    run, _ids = claimed
    case = run.json("case", "show", "c1")
    assert (case["regime"], case["sources"], case["disputed"]) == ("UNSCR 1718", ["s-s"], ["regime"])
    assert [(e["value"], e["sources"], e["status"]) for e in case["claims"]["regime"]] == [
        ("UNSCR 1718", ["s-s"], "standing"), ("UNSCR 2094 (2013)", ["s-n"], "standing")]
    run("accept", "case:c1", "regime", "--source", "s-n", "--reason", "the 2013 resolution names cars")
    case = run.json("case", "show", "c1")
    assert (case["regime"], case["disputed"]) == ("UNSCR 2094 (2013)", [])
    assert case["claims"]["regime"][1]["status"] == "accepted"
    assert run.json("case", "show", "c2")["claims"] == {}


def test_disputes_list_every_contested_field_by_case(claimed_read):
    run, ids = claimed_read
    got = run.json("disputes")
    assert [(d["target"], d["case"], d["field"], d["disputed"], d["accepted"]) for d in got] == [
        ("case:c1", "c1", "regime", True, None),
        (ids["r1"], "c1", "authority", False, ["kana"]),
        (ids["r1"], "c1", "on", True, None),
        (ids["z1"], "c1", "value", True, None)]
    assert got[3]["values"] == [
        {"value": USD70, "sources": ["s-d"], "status": "standing", "corroborated": False},
        {"value": JPY10M, "sources": ["s-a2", "s-a"], "status": "standing", "corroborated": False},
        {"value": USD68, "sources": ["s-s"], "status": "refuted", "corroborated": False}]
    assert run.json("disputes", "--case", "c2") == []
    assert run("disputes", "--case", "nope", code=1).stderr.startswith("Error: no case nope")
    table = run("disputes").stdout
    assert "JPY 10,000,000 [standing] (s-a2, s-a)" in table and "USD 68,000 [refuted]" in table
    csv = run("disputes", "--format", "csv").stdout.splitlines()
    assert csv[0] == "target,case,field,disputed,accepted,values"


def test_the_disputed_status_is_a_filter_and_as_of_goes_back_before_an_accept(claimed):
    run, ids = claimed
    assert [i["id"] for i in run.json("incidents", "--status", "disputed")] == [ids["r1"], ids["z1"]]
    assert [i["id"] for i in run.json("incidents", "--status", "active")] == [ids["r2"]]
    history = run.json("history", "r1")
    assert [h["type"] for h in history] == ["Incident.Recorded", "Incident.Claimed", "Incident.Claimed",
                                            "Incident.Claimed", "Incident.ClaimAccepted"]
    accept = history[-1]
    assert accept["data"]["changes"] == {"authority": ["kana"]} and accept["data"]["source"] == "s-n"
    before = run.json("incident", "show", "r1", "--as-of", str(accept["position"] - 1))
    assert before["roles"]["authority"] == ["chiba"] and set(before["disputed"]) == {"authority", "on"}
    assert [e["status"] for e in before["claims"]["authority"]] == ["standing", "standing"]
    # an accept that changes a value is a correction too, with the claim's source
    fixes = run.json("history", "r1")
    assert fixes[-1]["recorded_by"] == "tester"


def test_an_accept_that_settles_the_last_dispute_leaves_the_incident_amended(claimed):
    run, _ids = claimed
    run("accept", "r1", "on", "--source", "s-a", "--reason", "the day of the raid, as Asahi says")
    raid = run.json("incident", "show", "r1")
    assert (raid["status"], raid["disputed"], raid["on"]) == ("amended", [], "2023-12-07")
    run("accept", "z1", "currency", "--source", "s-a", "--reason", "the police's own figure")  # = value
    seizure = run.json("incident", "show", "z1")
    assert (seizure["value"], seizure["currency"], seizure["status"]) == (10000000, "JPY", "amended")
    assert [e["status"] for e in seizure["claims"]["value"]] == ["standing", "accepted", "refuted"]
    assert seizure["claims"]["value"][1]["reason"] == "the police's own figure"


def test_an_amend_of_a_claimed_field_is_the_own_value_with_its_sources_and_takes_back_an_accept(claimed):
    run, _ids = claimed
    run("amend", "r1", "--reason", "NDTV names the Chiba police after all", "--set", "authority=chiba",
        "--source", "s-d")
    raid = run.json("incident", "show", "r1")
    assert raid["roles"]["authority"] == ["chiba"]
    # what Asahi said before stays its claim; the correction is NDTV's now: two publishers
    assert [(e["value"], e["sources"], e["status"], e["corroborated"]) for e in raid["claims"]["authority"]] == [
        (["chiba"], ["s-a", "s-d"], "standing", True), (["kana"], ["s-n", "s-a2"], "standing", True)]
    assert set(raid["disputed"]) == {"authority", "on"}
    # an amendment that names no source is the analyst's own value; the source of the old one keeps it
    run("amend", "r1", "--reason", "analyst's reading", "--set", "authority=dealer")
    raid = run.json("incident", "show", "r1")
    assert [(e["value"], e["sources"], [b["source"] for b in e["by"]]) for e in raid["claims"]["authority"]] == [
        (["chiba"], ["s-a", "s-d"], ["s-a", "s-d"]), (["kana"], ["s-n", "s-a2"], ["s-n", "s-a2"]),
        (["dealer"], [], [None])]
    # a change of the incident's sources does not make the new ones say the recorded values
    run("amend", "r1", "--reason", "another article", "--set", "sources=s-s")
    raid = run.json("incident", "show", "r1")
    assert [e["sources"] for e in raid["claims"]["on"]] == [["s-a"], ["s-s"]]
    assert run.json("claim", "r1", "--source", "s-s", "--set", "place=Chiba")["skipped"] is False


def test_refuting_the_value_as_it_stands_leaves_the_field_disputed(claimed):
    run, _ids = claimed
    run("refute", "r1", "on", "--source", "s-a", "--reason", "Asahi had the wrong day")
    raid = run.json("incident", "show", "r1")
    assert (raid["on"], raid["disputed"], raid["status"]) == ("2023-12-07", ["on"], "disputed")
    run("refute", "r1", "on", "--source", "s-s", "--reason", "and SCMP too")
    raid = run.json("incident", "show", "r1")  # nothing stands: nothing disputes the recorded day
    assert (raid["disputed"], raid["status"]) == ([], "amended")


def test_the_rules_of_claims(claimed):
    run, _ids = claimed
    err = run("claim", "r1", "--source", "s-a", "--set", "authority=kana", code=1).stderr
    assert "s-a is a source of the value recorded for authority" in err and "amend it" in err
    err = run("claim", "r1", "--source", "s-n", "--set", "authority=dealer", code=1).stderr
    assert "already claims authority" in err
    assert run.json("claim", "r1", "--source", "s-n", "--set", "authority=kana")["skipped"] is True
    assert run.json(*CLAIMS[0])["skipped"] is True  # its key again, the same data
    run("claim", "r1", "--source", "s-n", "--set", "authority=chiba", "--key", "k1", code=1)  # its key, other data
    assert "claimed together" in run("claim", "z1", "--source", "s-n", "--set", "value=5", code=2).stderr
    weight = run("claim", "z1", "--source", "s-n", "--set", "weight=5", code=2).stderr
    assert ("'weight' is not a field a source claims of a seizure: one of on, place, country, value, item, "
            "authority, holder (currency with value)") in weight
    for field in ("sources=s-n", "note=mine", "precision=year"):  # not a source's to claim
        assert "is not a field a source claims" in run("claim", "z1", "--source", "s-n", "--set", field,
                                                       code=2).stderr
    assert "a claim gives a value: place is empty" in run("claim", "z1", "--source", "s-n", "--set", "place=",
                                                          code=2).stderr
    assert "names no case" in run("claim", "case:", "--source", "s-n", "--set", "regime=X", code=2).stderr
    assert "quoted otherwise" in run("claim", "r1", "--source", "s-n", "--set", "authority=kana", "--quote", "other",
                                     code=1).stderr
    assert "no entity ghost" in run("claim", "r1", "--source", "s-d", "--set", "target=ghost", code=1).stderr
    assert "no source ghost" in run("claim", "r1", "--source", "ghost", "--set", "place=X", code=1).stderr
    assert "no incident nope" in run("claim", "nope", "--source", "s-d", "--set", "place=X", code=1).stderr
    assert "no case nope" in run("claim", "case:nope", "--source", "s-d", "--set", "regime=X", code=1).stderr
    assert "'status' is not a field a source claims of a case" in run(
        "claim", "case:c1", "--source", "s-d", "--set", "status=closed", code=2).stderr
    assert "makes no claim of place" in run("accept", "r1", "place", "--source", "s-d", "--reason", "r",
                                            code=1).stderr or True
    assert "nothing claims place" in run("accept", "r1", "place", "--source", "s-d", "--reason", "r", code=1).stderr
    assert "makes no claim of on" in run("accept", "r1", "on", "--source", "s-d", "--reason", "r", code=1).stderr
    assert "accept another first" in run("refute", "r1", "authority", "--source", "s-n", "--reason", "r",
                                          code=1).stderr
    assert "already refuted" in run("refute", "z1", "value", "--source", "s-s", "--reason", "r", code=1).stderr
    assert "already accepted" in run("accept", "r1", "authority", "--source", "s-n", "--reason", "r",
                                     code=1).stderr
    assert "'colour' is not a field" in run("accept", "r1", "colour", "--source", "s-n", "--reason", "r",
                                            code=2).stderr
    assert "date" in run("claim", "r1", "--source", "s-d", "--set", "on=2023-02-30", code=2).stderr
    run("retract", "r2", "--reason", "never happened")
    assert "is retracted" in run("claim", "r2", "--source", "s-n", "--set", "place=X", code=1).stderr
    # a refuted claim can be accepted: the analyst changed their mind
    run("accept", "z1", "value", "--source", "s-s", "--reason", "the print edition is right after all")
    seizure = run.json("incident", "show", "z1")
    assert (seizure["value"], seizure["currency"]) == (68000, "USD")
    assert [e["status"] for e in seizure["claims"]["value"]] == ["standing", "standing", "accepted"]


def test_the_other_reads_use_claims(claimed_read, tmp_path):
    run, ids = claimed_read
    src = run.json("source", "show", "s-n")
    assert [(c["incident"], c["field"], c["value"], c["status"]) for c in src["claims"]] == [
        (ids["r1"], "authority", ["kana"], "accepted"), ("case:c1", "regime", "UNSCR 2094 (2013)", "standing")]
    assert [(c["field"], c["status"], c["reason"]) for c in run.json("source", "show", "s-s")["claims"]] == [
        ("on", "standing", None), ("value", "refuted", "SCMP gives no figure of its own")]
    csv = run("export", "--format", "csv").stdout.splitlines()
    header = csv[0].split(",")
    assert header[-1] == "disputed"
    rows = {line.split(",")[1]: line.split(",") for line in csv[1:]}
    assert rows["r1"][-1] == "on" and rows["z1"][-1] == "value" and rows["r2"][-1] == ""
    ftm = [json.loads(line) for line in run("export", "--format", "ftm").stdout.splitlines()]
    event = next(e for e in ftm if e["schema"] == "Event" and ids["z1"] in e["properties"]["recordId"])
    notes = event["properties"]["notes"]
    assert "claim value = JPY 10,000,000 by s-a2, s-a: standing" in notes
    assert ("claim value = USD 68,000 by s-s: refuted; reason: SCMP gives no figure of its own; quote (s-s): about "
            "USD 68,000") in notes
    project = next(e for e in ftm if e["schema"] == "Project" and e["properties"]["projectId"] == ["c1"])
    assert "claim regime = UNSCR 2094 (2013) by s-n: standing" in project["properties"]["notes"]
    assert any(e["schema"] == "Document" and e["properties"]["title"] == ["Report s-n"] for e in ftm)


def test_the_report_shows_the_contested_facts(claimed_read):
    run, _ids = claimed_read
    md = run("report", "c1", "--format", "md").stdout
    section = md.split("## Contested facts", 1)[1].split("\n## ", 1)[0]
    assert "### Case c1: regime (disputed: no value accepted yet)" in section
    assert ("- Kanagawa Prefectural Police (kana): **accepted**, corroborated by two or more publishers. "
            "Reason: Two later reports name Kanagawa") in section
    assert "  - s-n: News On Japan, graded C3: \"Kanagawa police searched the showroom\"" in section
    assert "- ~~USD 68,000~~: **refuted**. Reason: SCMP gives no figure of its own" in section
    html = run("report", "c1", "--format", "html").stdout
    assert "<del>USD 68,000</del>" in html and 'id="contested-facts"' in html
    assert "No source contests a fact of this case." in run("report", "c2", "--format", "md").stdout


def _import_lines(path, lines: list[dict]) -> str:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return str(path)


@contextmanager
def _another(db_url: str, tmp_path, name: str) -> Iterator[Runner]:
    if "://" not in db_url:
        yield Runner(tmp_path / f"{name}.db")
        return
    with fresh_pg_database(f"ledger_test_{name}") as url:
        yield Runner(url)


def test_import_gives_what_the_commands_give_and_export_imports_back(claimed, db_url, tmp_path):
    run, _ids = claimed
    with _another(db_url, tmp_path, "imported") as other:
        _ledger(other)
        assert other.json("import", _import_lines(tmp_path / "claims.jsonl", IMPORT))["imported"] == len(IMPORT)
        assert other.json("import", str(tmp_path / "claims.jsonl"))["imported"] == 0  # all there: skipped
        assert strip_volatile(other.json("disputes")) == strip_volatile(run.json("disputes"))
        assert strip_volatile(other.json("case", "show", "c1")) == strip_volatile(run.json("case", "show", "c1"))
    dump = tmp_path / "export.jsonl"
    run("export", "-o", str(dump))
    ops = [json.loads(line)["op"] for line in dump.read_text(encoding="utf-8").splitlines()]
    assert ops.count("claim") == 7 and ops.count("accept") == 1 and ops.count("refute") == 1
    assert run.json("import", str(dump))["imported"] == 0  # into the same ledger: all there
    with _another(db_url, tmp_path, "exported") as other:
        other("import", str(dump))
        for args in (["disputes"], ["case", "show", "c1"], ["incident", "show", "z1"], ["source", "show", "s-n"]):
            mine, theirs = run.json(*args), other.json(*args)
            if args[0] == "incident":  # its history: other hashes, the same events
                mine["history"] = [h["type"] for h in mine["history"]]
                theirs["history"] = [h["type"] for h in theirs["history"]]
            assert strip_volatile(theirs) == strip_volatile(mine), args


def test_a_bad_claim_line_refuses_the_whole_file(claimed, tmp_path):
    run, _ids = claimed
    n = len(run.json("history"))
    lines = [{"op": "claim", "target": "r2", "source": "s-n", "set": {"place": "Yokohama"}},
             {"op": "claim", "target": "r2", "source": "s-n", "set": {"value": 5}},
             {"op": "accept", "target": "r2", "field": "place", "source": "s-d", "reason": "r"}]
    err = run("import", _import_lines(tmp_path / "bad.jsonl", lines), code=2).stderr
    assert "line 2: " in err and "line 3: " in err and "line 1" not in err
    assert len(run.json("history")) == n


def test_a_claim_on_an_incident_recorded_earlier_in_the_same_file(run, tmp_path):
    setup = [{"op": "source.add", "id": "s1", "publisher": "P1", "title": "T1"},
             {"op": "source.add", "id": "s2", "publisher": "P2", "title": "T2"},
             {"op": "entity.add", "id": "e1", "kind": "organization", "name": "E1"},
             {"op": "case.open", "id": "c", "title": "C"},
             {"op": "record.raid", "case": "c", "on": "2020", "sources": ["s1"], "authority": "e1", "target": "e1",
              "place": "Here", "key": "r"},
             {"op": "claim", "target": "r", "source": "s2", "set": {"place": "There"}},
             {"op": "refute", "target": "r", "field": "place", "source": "s2", "reason": "no"}]
    assert run.json("import", _import_lines(tmp_path / "one.jsonl", setup))["imported"] == len(setup)
    inc = run.json("incident", "show", "r")
    assert (inc["status"], inc["place"]) == ("active", "Here")
    assert [e["status"] for e in inc["claims"]["place"]] == ["standing", "refuted"]


def test_replay_answers_as_before(claimed):
    run, _ids = claimed
    before = [run.json(*args) for args in (["disputes"], ["case", "show", "c1"], ["source", "show", "s-s"])]
    run("replay")
    assert [run.json(*args) for args in (["disputes"], ["case", "show", "c1"], ["source", "show", "s-s"])] == before


def test_the_demo_records_the_stories_disagreements(run):
    run("demo")
    got = {(d["target"], d["field"]): d for d in run.json("disputes")}
    force = next(d for (t, f), d in got.items() if f == "authority")
    assert [(v["value"], v["status"]) for v in force["values"]] == [
        (["chiba-police"], "accepted"), (["kanagawa-police"], "standing")]
    value = next(d for (t, f), d in got.items() if f == "value")
    assert [(v["value"], v["sources"], v["status"], v["corroborated"]) for v in value["values"]] == [
        ({"value": 70000, "currency": "USD"}, ["scmp-2023-12-12", "ndtv-2023-12-12"], "standing", True),
        ({"value": 68000, "currency": "USD"}, ["scmp-print-2023-12"], "standing", False),
        ({"value": 10000000, "currency": "JPY"}, ["asahi-2023-12-08"], "accepted", False)]
    regime = got[("case:chiba-lexus", "regime")]
    assert [(v["value"], v["status"]) for v in regime["values"]] == [
        ("UNSCR 1718", "accepted"), ("UNSCR 2094 (2013)", "standing")]
    seizure = run.json("incident", "show", "chiba-seizure")
    assert (seizure["value"], seizure["currency"], seizure["status"]) == (10000000, "JPY", "amended")
    assert run.json("incidents", "--status", "disputed") == []
    md = run("report", "chiba-lexus", "--format", "md").stdout
    section = md.split("## Contested facts", 1)[1].split("\n## ", 1)[0]
    for text in ("Chiba Prefectural Police (chiba-police): **accepted**", "JPY 10,000,000: **accepted**",
                 "UNSCR 1718: **accepted**", "graded C3", "UNSCR 2094 (2013): **standing**"):
        assert text in section, text


def test_the_views_for_people_show_the_claims(claimed_read):
    run, _ids = claimed_read
    text = run("incident", "show", "r1").stdout
    assert "\nClaims (disputed: on)\n  authority\n" in text
    assert ("    Kanagawa Prefectural Police (kana): accepted, corroborated (s-n, s-a2)\n"
            "      reason: Two later reports name Kanagawa\n"
            "      s-n: \"Kanagawa police searched the showroom\"\n") in text
    assert "    2023-12-06: standing (s-s)\n" in text
    case = run("case", "show", "c1").stdout
    assert "Claims on the case's fields (disputed: regime)\n" in case and "UNSCR 2094 (2013): standing (s-n)" in case
    assert "Disputed fields (ledger disputes): r1: on; z1: value" in case
    source = run("source", "show", "s-s").stdout
    assert "Claims" in source and "SCMP gives no figure of its own" in source and "USD 68,000" in source
    history = run("history", "z1").stdout
    assert ("    source: s-s\n    quote: about USD 68,000\n    claims value: 68000\n"
            "    claims currency: USD\n") in history
    rows = {r["field"]: r for r in csv.DictReader(io.StringIO(run("disputes", "--format", "csv").stdout))}
    assert (rows["authority"]["accepted"], rows["authority"]["disputed"]) == ("kana", "False")
    assert rows["value"]["values"].splitlines() == [
        "USD 70,000 [standing] (s-d)", "JPY 10,000,000 [standing] (s-a2, s-a)", "USD 68,000 [refuted] (s-s)"]
