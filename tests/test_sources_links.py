"""Asking the ledger about sources and links: `sources` (cited_by as the incidents stand after
corrections, retracted ones left out; publisher and grade filters; paging), `source show`,
`source amend` (its event in history, the report, idempotent with a key, refused bad values and
amendments that change nothing, an export that imports back to the same answers) and `links`
(depth 1 and 2, merges followed, a retracted incident links nobody). Both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import Runner, SharedLedger, fresh_pg_database

SOURCES = [  # id, publisher, reliability, credibility
    ("s-a", "Asahi Shimbun", "B", "2"),
    ("s-lm", "Le Monde", "A", "1"),
    ("s-lmd", "Le Monde diplomatique", "B", "3"),
    ("s-sz", "Süddeutsche Zeitung", "C", "3"),
    ("s-x", "Yonhap", None, None),
]
ENTITIES = [("police", "organization", "Prefectural Police"), ("other-police", "organization", "Other Police"),
            ("firm", "organization", "Trading firm"), ("ship", "vessel", "Cargo ship"),
            ("panel", "organization", "Panel of Experts"), ("p1", "person", "Pak One"),
            ("p2-dup", "person", "Pak 1")]


def _scenario(run: Runner) -> dict[str, str]:
    """Two cases, seven incidents (one amended to rest on another source, one retracted), a
    merged duplicate; the incidents' ids by key."""
    for sid, publisher, reliability, credibility in SOURCES:
        grading = [*(["--reliability", reliability] if reliability else []),
                   *(["--credibility", credibility] if credibility else [])]
        run("source", "add", sid, "--publisher", publisher, "--title", f"Report of {publisher}", *grading)
    for eid, kind, name in ENTITIES:
        run("entity", "add", eid, "--kind", kind, "--name", name)
    run("case", "open", "c1", "--title", "First case")
    run("case", "open", "c2", "--title", "Second case")
    records = [
        ("raid", "c1", "2020-01-02", ["s-a"], ["--authority", "police", "--target", "firm"], "i1"),
        ("seizure", "c1", "2020-02", ["s-a", "s-lm"], ["--item", "ship", "--authority", "police", "--holder", "firm"],
         "i2"),
        ("questioning", "c1", "2020-03-05", ["s-lm"], ["--subject", "p2-dup", "--authority", "police"], "i3"),
        ("probe", "c2", "2021", ["s-sz"], ["--authority", "panel", "--subject", "firm"], "i4"),
        ("raid", "c2", "2021-06-01", ["s-sz"], ["--authority", "other-police", "--target", "firm"], "i5"),
        ("questioning", "c2", "2021-07", ["s-x"], ["--subject", "p1", "--authority", "panel"], "i6"),
        ("recall", "c2", "2022", ["s-x", "s-lm"], ["--envoy", "p1", "--sending-state", "KP", "--post", "JP"], "i7"),
    ]
    ids = {}
    for kind, case, on, sources, roles, key in records:
        sourced = [a for s in sources for a in ("--source", s)]
        ids[key] = run.json("record", kind, case, "--on", on, *sourced, *roles, "--key", key)["incident"]
    run("amend", "i1", "--reason", "also in the SZ", "--set", "sources=s-a,s-sz")
    run("retract", "i5", "--reason", "never happened")
    run("entity", "merge", "p2-dup", "p1", "--reason", "the same man")
    return ids


@pytest.fixture
def scenario(run: Runner) -> tuple[Runner, dict[str, str]]:
    return run, _scenario(run)


@pytest.fixture(scope="module")
def scenario_once(module_db_url) -> SharedLedger:
    run = Runner(module_db_url)
    return SharedLedger(run, _scenario(run))


@pytest.fixture
def scenario_read(scenario_once: SharedLedger):
    """The scenario, made once per module and backend, for the tests that only read it or are
    refused a write (checked unchanged after each)."""
    yield from scenario_once.lend()


def _cited(docs: list[dict]) -> dict[str, int]:
    return {d["id"]: d["cited_by"] for d in docs}


def test_sources_count_the_incidents_that_rest_on_them_as_they_stand(scenario_read):
    run, _ids = scenario_read
    docs = run.json("sources")
    assert [d["id"] for d in docs] == ["s-a", "s-lm", "s-lmd", "s-sz", "s-x"]
    # s-sz: the probe, and the raid amended to rest on it; not the retracted raid
    assert _cited(docs) == {"s-a": 2, "s-lm": 3, "s-lmd": 0, "s-sz": 2, "s-x": 2}
    assert docs[0] == {"id": "s-a", "publisher": "Asahi Shimbun", "title": "Report of Asahi Shimbun", "url": None,
                       "published": None, "reliability": "B", "credibility": 2, "cited_by": 2}
    assert docs[-1]["reliability"] is None and docs[-1]["credibility"] is None


@pytest.mark.parametrize(("args", "ids"), [
    (["--min-grade", "B2"], ["s-a", "s-lm"]),
    (["--min-grade", "c"], ["s-a", "s-lm", "s-lmd", "s-sz"]),
    (["--min-grade", "A1"], ["s-lm"]),
    (["--publisher", "le monde"], ["s-lm", "s-lmd"]),
    (["--publisher", "LÉ  MONDÉ"], ["s-lm", "s-lmd"]),
    (["--publisher", "monde-diplomatique"], ["s-lmd"]),
    (["--publisher", "suddeutsche"], ["s-sz"]),
    (["--publisher", "mond"], []),  # words, not parts of them
    (["--publisher", "le monde", "--min-grade", "A2"], ["s-lm"]),
    (["--limit", "2", "--offset", "1"], ["s-lm", "s-lmd"]),
    (["--offset", "4"], ["s-x"]),
    (["--limit", "0"], []),
])
def test_sources_filters_and_paging(scenario_read, args, ids):
    run, _ids = scenario_read
    assert [d["id"] for d in run.json("sources", *args)] == ids


def test_sources_refuse_a_bad_grade_and_speak_every_format(scenario_read):
    run, _ids = scenario_read
    bad = run("sources", "--min-grade", "B9", code=2)
    assert bad.stderr.startswith("Error: --min-grade") and len(bad.stderr.splitlines()) == 1
    run("sources", "--limit", "-1", code=2)
    csv_lines = run("sources", "--format", "csv").stdout.splitlines()
    assert csv_lines[0] == "id,publisher,title,url,published,reliability,credibility,cited_by"
    assert csv_lines[1] == "s-a,Asahi Shimbun,Report of Asahi Shimbun,,,B,2,2"
    table = run("sources").stdout
    assert max(map(len, table.splitlines())) <= 80
    assert "s-sz  " in table and "C3" in table


def test_source_show_lists_the_incidents_in_timeline_order(scenario_read):
    run, ids = scenario_read
    doc = run.json("source", "show", "s-sz")
    assert doc["incidents"] == [ids["i1"], ids["i4"]]
    assert doc["cited_by"] == 2 and doc["claims"] == [] and doc["amendments"] == []
    assert run.json("source", "show", "s-lm")["incidents"] == [ids["i2"], ids["i3"], ids["i7"]]
    assert "no source nope" in run("source", "show", "nope", code=1).stderr
    text = run("source", "show", "s-sz").stdout
    assert "publisher Süddeutsche Zeitung" in text and ids["i4"] in text


def test_a_source_amendment_is_an_event_that_every_read_follows(scenario):
    run, _ids = scenario
    done = run.json("source", "amend", "s-sz", "--reason", "their own spelling", "--set",
                    "publisher=Sueddeutsche Zeitung", "--set", "reliability=b", "--set", "credibility=2",
                    "--set", "url=https://www.sueddeutsche.de/x")
    assert done["id"] == "s-sz" and not done["skipped"]
    doc = run.json("source", "show", "s-sz")
    assert (doc["publisher"], doc["reliability"], doc["credibility"]) == ("Sueddeutsche Zeitung", "B", 2)
    assert doc["amendments"] == [{
        "position": done["position"], "reason": "their own spelling", "recorded_by": "tester",
        "recorded_at": doc["amendments"][0]["recorded_at"],
        "changes": {"publisher": {"old": "Süddeutsche Zeitung", "new": "Sueddeutsche Zeitung"},
                    "url": {"old": None, "new": "https://www.sueddeutsche.de/x"},
                    "reliability": {"old": "C", "new": "B"}, "credibility": {"old": 3, "new": 2}}}]
    assert [d["id"] for d in run.json("sources", "--min-grade", "B2")] == ["s-a", "s-lm", "s-sz"]
    assert [d["id"] for d in run.json("sources", "--publisher", "sueddeutsche")] == ["s-sz"]

    history = run.json("history", "s-sz")
    assert [h["type"] for h in history] == ["Source.Added", "Source.Amended"]
    assert history[1]["data"]["reason"] == "their own spelling"
    assert history[1]["changes"]["publisher"] == {"old": "Süddeutsche Zeitung", "new": "Sueddeutsche Zeitung"}

    report = run("report", "c2").stdout
    assert "## Source corrections" in report
    assert f"- Source s-sz, position {done['position']}" in report and "by tester: amended" in report
    assert "  - publisher: Süddeutsche Zeitung to Sueddeutsche Zeitung\n  - reliability: C to B\n" in report
    assert "  - Reason: their own spelling" in report
    html = run("report", "c2", "--format", "html").stdout
    assert "<h2>Source corrections</h2>" in html and "credibility: 3 to 2" in html
    # c1's raid was amended to rest on s-sz: its report names the source, and so its corrections
    assert "  - publisher: Süddeutsche Zeitung to Sueddeutsche Zeitung\n" in run("report", "c1").stdout
    assert run.json("verify", "--deep")["ok"]
    before = run.json("sources")
    run("replay")
    assert run.json("sources") == before


def test_a_report_shows_no_source_corrections_section_without_any(scenario_read):
    run, _ids = scenario_read
    assert "Source corrections" not in run("report", "c2").stdout


def test_a_source_amendment_is_idempotent_with_its_key_and_refused_when_it_changes_nothing(scenario):
    run, _ids = scenario
    args = ("source", "amend", "s-x", "--reason", "graded", "--set", "reliability=C", "--key", "grade-x")
    first, again = run.json(*args), run.json(*args)
    assert not first["skipped"] and again["skipped"] and again["position"] == first["position"]
    other = run("source", "amend", "s-x", "--reason", "graded", "--set", "reliability=D", "--key", "grade-x", code=1)
    assert "key 'grade-x' was already recorded with other data" in other.stderr
    same = run("source", "amend", "s-x", "--reason", "again", "--set", "reliability=c", code=1)
    assert same.stderr == "Error: source s-x already has these values: nothing to amend\n"
    assert len(run.json("history", "s-x")) == 2


@pytest.mark.parametrize(("assignment", "says"), [
    ("credibility=9", "credibility"),
    ("credibility=two", "credibility"),
    ("reliability=Z", "invalid reliability 'Z'"),
    ("url=ftp://example.org/x", "only http:// and https:// URLs"),
    ("published=2023-02-30", "published"),
    ("publisher=", "publisher"),
    ("title=\x1b[31mred", "U+001B"),
    ("colour=red", "cannot amend 'colour' of a source"),
    ("no-equals", "use FIELD=VALUE"),
])
def test_a_source_amendment_with_a_bad_value_is_refused_as_bad_input(scenario_read, assignment, says):
    run, _ids = scenario_read
    bad = run("source", "amend", "s-a", "--reason", "r", "--set", assignment, code=2)
    assert bad.stderr.startswith("Error: ") and len(bad.stderr.splitlines()) == 1 and says in bad.stderr
    assert "Traceback" not in bad.output
    assert len(run.json("history", "s-a")) == 1


def test_a_source_amendment_of_no_source_is_refused(scenario_read):
    run, _ids = scenario_read
    assert "no source nope" in run("source", "amend", "nope", "--reason", "r", "--set", "title=T", code=1).stderr


@contextmanager
def _another_ledger(db_url: str, tmp_path) -> Iterator[Runner]:
    if "://" not in db_url:
        yield Runner(tmp_path / "other.db")
        return
    with fresh_pg_database("ledger_test_other") as url:
        yield Runner(url)


def test_an_export_with_source_amendments_imports_to_the_same_sources(scenario, db_url, tmp_path):
    run, _ids = scenario
    run("source", "amend", "s-a", "--reason", "full name", "--set", "publisher=The Asahi Shimbun", "--set", "url=")
    run("source", "amend", "s-lmd", "--reason", "no url", "--set", "url=https://www.monde-diplomatique.fr/")
    run("source", "amend", "s-lmd", "--reason", "no url after all", "--set", "url=")
    export = tmp_path / "export.jsonl"
    run("export", "-o", str(export))
    lines = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    amends = [line for line in lines if line["op"] == "source.amend"]
    assert [(a["id"], a["set"]) for a in amends] == [
        ("s-a", {"publisher": "The Asahi Shimbun", "url": None}),
        ("s-lmd", {"url": "https://www.monde-diplomatique.fr/"}), ("s-lmd", {"url": None})]
    assert run.json("import", str(export))["imported"] == 0  # back into the same ledger: all there already
    with _another_ledger(db_url, tmp_path) as other:
        assert other.json("import", str(export))["skipped"] == 0
        assert other.json("sources") == run.json("sources")
        assert [h["type"] for h in other.json("history", "s-lmd")] == ["Source.Added", "Source.Amended",
                                                                        "Source.Amended"]
        assert other.json("import", str(export))["imported"] == 0


def test_a_source_amendment_imports_from_json_lines(scenario, tmp_path):
    run, _ids = scenario
    path = tmp_path / "amend.jsonl"
    path.write_text(json.dumps({"op": "source.amend", "id": "s-x", "reason": "graded",
                                "set": {"reliability": "e", "credibility": 5}}) + "\n", encoding="utf-8")
    assert run.json("import", str(path))["imported"] == 1
    assert run.json("import", str(path))["skipped"] == 1  # the same line again: its derived key
    doc = run.json("source", "show", "s-x")
    assert (doc["reliability"], doc["credibility"]) == ("E", 5)
    path.write_text(json.dumps({"op": "source.amend", "id": "s-x", "reason": "r", "set": {"credibility": True}})
                    + "\n" + json.dumps({"op": "source.amend", "id": "s-x", "reason": "r", "set": {}}) + "\n",
                    encoding="utf-8")
    bad = run("import", str(path), code=2)
    assert "line 1: " in bad.stderr and "line 2: " in bad.stderr


def _linked(docs: list[dict]) -> list[tuple]:
    return [(d["id"], d["incidents"], d["depth"]) for d in docs]


def test_links_at_depth_one_follow_merges_and_skip_retracted_incidents(scenario_read):
    run, _ids = scenario_read
    docs = run.json("links", "police")
    assert _linked(docs) == [("firm", 2, 1), ("p1", 1, 1), ("ship", 1, 1)]
    assert docs[0] == {"id": "firm", "name": "Trading firm", "kind": "organization", "incidents": 2,
                       "cases": ["c1"], "roles": ["holder", "target"], "first": "2020-01-02", "last": "2020-02",
                       "depth": 1, "via": []}
    assert docs[1]["name"] == "Pak One" and docs[1]["roles"] == ["subject"]  # the duplicate counts as its survivor
    # a duplicate's id stands for its survivor, whose incidents are both of theirs
    for who in ("p1", "p2-dup"):
        docs = run.json("links", who)
        assert _linked(docs) == [("JP", 1, 1), ("KP", 1, 1), ("panel", 1, 1), ("police", 1, 1)]
        assert docs[0]["name"] == "Japan" and docs[0]["kind"] == "country" and docs[0]["roles"] == ["post"]
    # the retracted raid links other-police to nobody, and firm to other-police neither
    assert run.json("links", "other-police") == []
    assert "other-police" not in [d["id"] for d in run.json("links", "firm")]
    assert _linked(run.json("links", "firm")) == [("police", 2, 1), ("panel", 1, 1), ("ship", 1, 1)]


def test_links_at_depth_two_and_by_case(scenario_read):
    run, _ids = scenario_read
    docs = run.json("links", "police", "--depth", "2")
    assert _linked(docs) == [("firm", 2, 1), ("p1", 1, 1), ("ship", 1, 1),
                             ("panel", 2, 2), ("JP", 1, 2), ("KP", 1, 2)]
    panel = docs[3]
    assert panel["via"] == ["firm", "p1"] and panel["cases"] == ["c2"] and panel["roles"] == ["authority"]
    assert (panel["first"], panel["last"]) == ("2021", "2021-07")
    assert _linked(run.json("links", "police", "--depth", "2", "--case", "c1")) == [
        ("firm", 2, 1), ("p1", 1, 1), ("ship", 1, 1)]
    assert _linked(run.json("links", "p1", "--case", "c2", "--case", "c1")) == _linked(run.json("links", "p1"))
    assert _linked(run.json("links", "p1", "--case", "c2")) == [("JP", 1, 1), ("KP", 1, 1), ("panel", 1, 1)]
    # a country links, and is not followed further (nearly everything shares one)
    assert _linked(run.json("links", "KP", "--depth", "2")) == [
        ("JP", 1, 1), ("p1", 1, 1), ("panel", 1, 2), ("police", 1, 2)]
    assert _linked(run.json("links", "police", "--depth", "2", "--limit", "2", "--offset", "2")) == [
        ("ship", 1, 1), ("panel", 2, 2)]


def test_links_refuse_what_is_not_there(scenario_read):
    run, _ids = scenario_read
    assert run("links", "nobody", code=1).stderr == "Error: no entity nobody\n"
    assert run("links", "XX", code=1).stderr == "Error: no entity XX\n"
    assert "no case c9" in run("links", "police", "--case", "c9", code=1).stderr
    run("links", "police", "--depth", "3", code=2)
    table = run("links", "police", "--depth", "2").stdout
    assert max(map(len, table.splitlines())) <= 80 and "Trading firm" in table


def test_the_story_sources_and_links(story):
    assert _cited(story.json("sources")) == {"asahi-2023-12-07": 1, "asahi-2023-12-08": 0, "ndtv-2023-12-12": 1,
                                             "newsonjapan-2023-12-09": 0, "scmp-2023-12-12": 5,
                                             "scmp-print-2023-12": 0}
    assert [d["id"] for d in story.json("sources", "--publisher", "asahi shimbun")] == [
        "asahi-2023-12-07", "asahi-2023-12-08"]
    assert [d["id"] for d in story.json("sources", "--min-grade", "B2")] == [
        "asahi-2023-12-07", "asahi-2023-12-08", "scmp-2023-12-12", "scmp-print-2023-12"]
    keys = {i["id"]: i["key"] for i in story.json("timeline")}
    assert [keys[i] for i in story.json("source", "show", "scmp-2023-12-12")["incidents"]] == [
        "han-expulsion", "chiba-questioning", "han-probe", "chiba-seizure", "han-recall"]
    docs = story.json("links", "chiba-police")
    assert _linked(docs) == [("chiba-dealer", 2, 1), ("dealer-owners", 1, 1), ("lexus-sedan", 1, 1)]
    assert {d["id"]: d["cases"] for d in docs} == {"chiba-dealer": ["chiba-lexus"], "dealer-owners": ["chiba-lexus"],
                                                   "lexus-sedan": ["chiba-lexus"]}
    # h-t-song, merged into han-tae-song, is the probe's subject: the panel links to the survivor
    assert _linked(story.json("links", "unsc-1718-panel")) == [("han-tae-song", 1, 1)]
