"""As-of reads, history differences, the case report (Markdown, HTML in a real browser) and the
exports (JSON Lines round trip, FollowTheMoney, CSV)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import Runner, strip_volatile

INJECTION = "<script>alert(1)</script>"


READS = [("cases",), ("timeline", "--include-retracted"), ("entities",), ("case", "show", "chiba-lexus"),
         ("case", "show", "han-ivory"), ("case", "show", "han-zimbabwe-1992"), ("entity", "show", "han-tae-song"),
         ("entity", "show", "chiba-police"), ("entity", "show", "KP")]


# ---------------------------------------------------------------------- as-of


def test_as_of_the_head_answers_as_the_live_read_models(story):
    head = story.json("verify")["events"]
    for args in READS:
        assert story.json(*args, "--as-of", str(head)) == story.json(*args), args


def test_as_of_before_a_correction_shows_the_first_report(story):
    history = story.json("history", "chiba-seizure")  # recorded, three claims of its value, an accept
    recorded, amended = history[0]["position"], history[-1]["position"]
    assert history[-1]["type"] == "Incident.ClaimAccepted"
    disputed = story.json("case", "show", "chiba-lexus", "--as-of", str(amended - 1))
    assert [(i["status"], i["disputed"]) for i in disputed["incidents"] if i["kind"] == "seizure"] == [
        ("disputed", ["value"])]
    then = story.json("case", "show", "chiba-lexus", "--as-of", str(recorded))
    seizure = next(i for i in then["incidents"] if i["kind"] == "seizure")
    assert (seizure["value"], seizure["currency"], seizure["status"]) == (70000, "USD", "active")
    assert then["position"] == recorded
    after = story.json("case", "show", "chiba-lexus", "--as-of", str(amended))
    assert next(i for i in after["incidents"] if i["kind"] == "seizure")["currency"] == "JPY"
    assert story.json("cases", "--as-of", "0") == []


def test_as_of_a_recording_time(story):
    history = story.json("history")
    tenth = history[9]["recorded_at"]
    assert story.json("timeline", "--as-of", tenth) == story.json("timeline", "--as-of", "10")
    assert story.json("cases", "--as-of", "1999-01-01") == []
    assert story.json("cases", "--as-of", "2999-01-01") == story.json("cases")
    assert story("cases", "--as-of", "100", code=1).stderr == "Error: --as-of 100: the ledger has only 37 events\n"
    assert "give a position" in story("cases", "--as-of", "last tuesday", code=2).stderr


# ---------------------------------------------------------------------- history


def test_history_gives_every_changed_field_with_old_and_new(story):
    questioning = story.json("history", "chiba-questioning")
    assert "changes" not in questioning[0]
    assert questioning[1]["changes"] == {"on": {"old": "2023-12-07", "new": "2023-12"},
                                         "precision": {"old": "day", "new": "month"}}
    assert questioning[1]["data"]["reason"].startswith("SCMP gives no day")
    text = story("history", "chiba-questioning").stdout
    assert "on: 2023-12-07 -> 2023-12" in text and "recorded" in text
    # a claim is what a source says, not a change; an accepted claim that sets a value is one
    seizure = story.json("history", "chiba-seizure")
    assert ["changes" in h for h in seizure] == [False, False, False, False, True]
    assert seizure[-1]["changes"] == {"value": {"old": 70000, "new": 10000000},
                                      "currency": {"old": "USD", "new": "JPY"}}
    story("amend", "chiba-raid", "--reason", "second look", "--set", "on=2023-12")
    last = story.json("history", "chiba-raid")[-1]
    assert last["changes"] == {"on": {"old": "2023-12-07", "new": "2023-12"},
                               "precision": {"old": "day", "new": "month"}}


# ---------------------------------------------------------------------- the report


def _noted_story(story):
    story("record", "raid", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-07",
          "--authority", "chiba-police", "--target", "chiba-dealer", "--note", f"Dealer HQ {INJECTION} & co")
    return story


def test_the_markdown_report(story):
    _noted_story(story)
    head = story.json("verify")["head"]
    report = story("report", "chiba-lexus").stdout
    assert report.startswith("# Case report: chiba-lexus: Lexus bound for North Korea seized in Chiba\n")
    assert INJECTION not in report and "Dealer HQ &lt;script&gt;alert\\(1\\)&lt;/script&gt; &amp; co" not in report
    assert "Dealer HQ &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in report
    for needle in ("graded B2 (reliability B, credibility 2)", "### 2023-12 (month): questioning",
                   "Reason: Asahi Shimbun (B2) gives the figure in yen", "value: 70000 to 10000000",
                   "on: 2023-12-07 to 2023-12", "## Contested facts", "JPY 10,000,000: **accepted**",
                   "CAMEO 1711, PLOVER COERCE (confiscate)",
                   f"head hash {head}", "`ledger report chiba-lexus --format md --as-of 38`",
                   "open to **investigating** by tester"):
        assert needle in report, needle


def test_the_same_position_gives_a_byte_identical_report(story, tmp_path):
    live = story("report", "chiba-lexus", "--format", "html").stdout
    story("case", "status", "chiba-lexus", "referred", "--reason", "to prosecutors")
    then = story("report", "chiba-lexus", "--format", "html", "--as-of", "37").stdout
    story("replay")
    again = story("report", "chiba-lexus", "--format", "html", "--as-of", "37").stdout
    assert live == then == again
    out = tmp_path / "r.md"
    story("report", "chiba-lexus", "-o", str(out))
    assert out.read_text() == story("report", "chiba-lexus").stdout
    assert story("report", "nope", code=1).stderr == "Error: no case nope\n"


def test_the_html_report_escapes_and_draws_partial_dates_as_spans(story):
    _noted_story(story)
    page = story("report", "han-zimbabwe-1992", "--format", "html").stdout
    assert page.count('class="span"') == 1 and 'class="point"' not in page  # 1992: a year, a span
    page = story("report", "chiba-lexus", "--format", "html").stdout
    assert INJECTION not in page and "Dealer HQ &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert page.count('class="span"') == 1 and page.count('class="point"') == 3  # 2023-12: a span
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.split("<body>")[0])  # fetches nothing


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None and not os.environ.get("LEDGER_REQUIRE_BROWSER"),
                    reason="no chromium here (CI installs it and sets LEDGER_REQUIRE_BROWSER)")
def test_the_html_report_renders_in_a_real_browser(story, tmp_path):
    _noted_story(story)
    page = tmp_path / "report.html"
    story("report", "chiba-lexus", "--format", "html", "-o", str(page))
    profile = tempfile.mkdtemp()
    result = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    shutil.rmtree(profile, ignore_errors=True)
    dom = result.stdout
    assert '<svg id="timeline-chart"' in dom and dom.count("incident-mark") == 4
    assert dom.count('<section class="incident') == 4
    assert "Dealer HQ &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in dom  # shown as text, not run
    assert "<script>" not in dom


# ---------------------------------------------------------------------- exports


def test_jsonl_export_imports_into_an_empty_ledger_with_the_same_reads(story, tmp_path):
    story("retract", "chiba-questioning", "--reason", "duplicate", "--source", "asahi-2023-12-08")
    story("case", "status", "han-ivory", "closed", "--reason", "done")
    story("case", "status", "han-ivory", "open", "--reason", "new facts")
    dump = tmp_path / "dump.jsonl"
    story("export", "-o", str(dump))
    other = Runner(tmp_path / "other.db")
    assert other.json("import", str(dump))["skipped"] == 0
    for args in READS:
        assert strip_volatile(other.json(*args)) == strip_volatile(story.json(*args)), args
    before = len(story.json("history"))
    assert story.json("import", str(dump))["imported"] == 0  # back into its own ledger: nothing new
    assert len(story.json("history")) == before


def test_jsonl_lines_carry_the_event_codes_and_import_checks_them(story, tmp_path):
    lines = [json.loads(x) for x in story("export").stdout.splitlines()]
    seizure = next(x for x in lines if x["op"] == "record.seizure")
    assert (seizure["cameo"], seizure["plover"], seizure["plover_mode"]) == ("1711", "COERCE", "confiscate")
    expulsion = next(x for x in lines if x["op"] == "record.expulsion")
    assert (expulsion["cameo"], expulsion["plover"], expulsion["plover_mode"]) == ("174", "SANCTION", "expel")
    wrong = dict(seizure, cameo="171", key="other")
    result = story("import", "-", input=json.dumps(wrong) + "\n", code=2)
    assert "cameo '171' is not the code of a seizure (1711)" in result.stderr


def test_a_case_export_brings_what_it_needs(story, tmp_path):
    dump = tmp_path / "case.jsonl"
    story("export", "--case", "han-ivory", "-o", str(dump))
    ops = [json.loads(x)["op"] for x in dump.read_text().splitlines()]
    assert ops.count("case.open") == 1 and "entity.merge" in ops
    other = Runner(tmp_path / "other.db")
    other("import", str(dump))
    assert (strip_volatile(other.json("case", "show", "han-ivory"))
            == strip_volatile(story.json("case", "show", "han-ivory")))
    assert story("export", "--case", "nope", code=1).stderr == "Error: no case nope\n"


def test_every_ftm_entity_validates_with_followthemoney(story):
    from followthemoney import model

    entities = [json.loads(x) for x in story("export", "--format", "ftm").stdout.splitlines()]
    for data in entities:
        schema = model.get(data["schema"])
        assert schema.validate(data) is None, data
        model.get_proxy(data, cleaned=False)
    by_id = {e["id"]: e for e in entities}
    assert "ledger-entity-h-t-song" not in by_id  # merged into the survivor
    han = by_id["ledger-entity-han-tae-song"]["properties"]
    assert "Han Thae Song" in han["alias"]
    events = [e for e in entities if e["schema"] == "Event"]
    story("retract", "chiba-questioning", "--reason", "duplicate")
    after = [json.loads(x) for x in story("export", "--format", "ftm").stdout.splitlines()]
    assert len(events) == 6 and len([e for e in after if e["schema"] == "Event"]) == 5  # FtM: the current view
    expulsion = next(e["properties"] for e in events if "expulsion" in e["properties"]["keywords"])
    assert expulsion["date"] == ["1992"] and "zw" in expulsion["country"]
    assert {"CAMEO:174", "PLOVER:SANCTION", "PLOVER-mode:expel"} <= set(expulsion["keywords"])
    seizure = next(e["properties"] for e in events if "seizure" in e["properties"]["keywords"])
    assert seizure["organizer"] == ["ledger-entity-chiba-police"]
    assert "ledger-source-ndtv-2023-12-12" in seizure["proof"]
    links = {(e["properties"]["role"][0], e["properties"]["object"][0])
             for e in entities if e["schema"] == "UnknownLink"}
    assert ("item", "ledger-entity-lexus-sedan") in links  # a vehicle cannot be `involved`: a link names its role


def test_csv_has_one_row_per_incident_with_roles_flattened(story):
    story("retract", "chiba-questioning", "--reason", "duplicate")
    rows = list(csv.DictReader(io.StringIO(story("export", "--format", "csv").stdout)))
    assert len(rows) == 6  # the retracted one included, with its status
    recall = next(r for r in rows if r["kind"] == "recall")
    assert (recall["envoy"], recall["sending_state"], recall["post"]) == ("han-tae-song", "KP", "CH")
    assert (recall["cameo"], recall["plover"], recall["plover_mode"]) == ("161", "SANCTION", "withdraw")
    questioning = next(r for r in rows if r["kind"] == "questioning")
    assert questioning["subject"] == "dealer-owners" and questioning["precision"] == "month"
    assert questioning["status"] == "retracted"
    raid = next(r for r in rows if r["kind"] == "raid")
    assert (raid["authority"], raid["status"], raid["disputed"]) == ("chiba-police", "active", "")
    assert rows[0].keys() >= {"disputed"}
    assert raid["sources"] == "asahi-2023-12-07"
