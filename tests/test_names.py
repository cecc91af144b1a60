"""Names beside ids (issue 11): wherever a person reads an entity in a role, it is `name (id)`
(`authority: Chiba Prefectural Police (chiba-police)`); a country is its name and code
(`post: Switzerland (CH)`); a merged duplicate keeps the id recorded, beside the name of the
entity it was merged into (`subject: Han Tae-song (h-t-song)`). In `case show`, `entity show`,
the `timeline` table and both reports; JSON keeps ids only. Names are stored text: escaped for
the terminal, Markdown and HTML like any other."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STORY

HOSTILE = "<script>alert(1)</script> | *x* _y_"


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _block(*lines: str) -> str:
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------- terminal


def test_case_show_names_each_entity_in_a_role_and_a_duplicate_by_its_survivor(story):
    out = story("case", "show", "han-ivory").stdout
    assert _block("roles     authority: UN Security Council 1718 Committee Panel of Experts",
                  "          (unsc-1718-panel)",
                  "          subject: Han Tae-song (h-t-song)") in out
    assert _block("roles     envoy: Han Tae-song (han-tae-song)",
                  "          sending_state: Korea, Democratic People's Republic of (KP)",
                  "          post: Switzerland (CH)") in out
    out = story("case", "show", "chiba-lexus").stdout
    assert _block("roles     authority: Chiba Prefectural Police (chiba-police)",
                  "          target: Used-car dealer, Chiba city (chiba-dealer)") in out
    assert _block("roles     subject: Owners of the Chiba dealer (unnamed) (dealer-owners)",
                  "          authority: Chiba Prefectural Police (chiba-police)") in out


def test_a_retracted_incident_in_case_show_names_its_entities_too(story):
    story("record", "raid", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-07",
          "--authority", "JP", "--target", "kanagawa-police", "--key", "names-jp")
    story("retract", "names-jp", "--reason", "wrong case")
    out = story("case", "show", "chiba-lexus").stdout
    assert _block("status    retracted",
                  "roles     authority: Japan (JP)",
                  "          target: Kanagawa Prefectural Police (kanagawa-police)") in out
    assert "kanagawa-police" not in out.split("Entities")[1]  # a retracted incident's entities are not the case's


def test_the_timeline_table_names_each_entity_in_a_role(story):
    out = story("timeline", "--case", "han-ivory").stdout
    assert _block("roles     authority: UN Security Council 1718 Committee Panel of Experts",
                  "          (unsc-1718-panel)",
                  "          subject: Han Tae-song (h-t-song)") in out
    assert _block("roles     envoy: Han Tae-song (han-tae-song)",
                  "          sending_state: Korea, Democratic People's Republic of (KP)",
                  "          post: Switzerland (CH)") in out
    assert "person: Han Tae-song (han-tae-song)\n          expelling_state: Zimbabwe (ZW)\n" in \
        story("timeline", "--entity", "h-t-song").stdout


def test_a_wide_table_wraps_names_between_words_and_never_inside_an_id(story, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = story("case", "show", "han-ivory").stdout
    assert max(map(len, out.splitlines())) <= 160
    assert "(unsc-1718-panel)" in out and "(h-t-song)" in out and "(han-tae-song)" in out
    # the roles share the room with the note, which is not squeezed to its least width
    assert "With Swiss officials; alleged" in out


def test_entity_show_names_what_was_merged_into_it_and_its_country(story):
    out = story("entity", "show", "h-t-song").stdout
    assert out.startswith(_block("han-tae-song (person): Han Tae-song",
                                 "aliases: Han Tae Song",
                                 "merged from: Han Thae Song (h-t-song)",
                                 "cases: han-ivory, han-zimbabwe-1992",
                                 "country: Korea, Democratic People's Republic of (KP)"))
    assert "country: Japan (JP)\n" in story("entity", "show", "chiba-police").stdout
    assert "country: Switzerland (CH)\n" in story("entity", "show", "CH").stdout


def test_a_merge_chain_names_the_last_survivor_and_as_of_before_the_merge_the_duplicate_itself(story):
    merged_at = story.json("history", "h-t-song")[-1]["position"]
    before = story("case", "show", "han-ivory", "--as-of", str(merged_at - 1)).stdout
    assert "          subject: Han Thae Song (h-t-song)\n" in before
    story("entity", "add", "han-ts", "--kind", "person", "--name", "Han T. S.")
    story("entity", "merge", "han-tae-song", "han-ts", "--reason", "one person")
    out = story("case", "show", "han-ivory").stdout
    assert "          subject: Han T. S. (h-t-song)\n" in out and "roles     envoy: Han T. S. (han-tae-song)\n" in out


# ---------------------------------------------------------------------- reports


def test_both_reports_name_each_entity_in_a_role_line(story):
    md = story("report", "han-ivory").stdout
    for line in ("- authority: UN Security Council 1718 Committee Panel of Experts (unsc-1718-panel)",
                 "- subject: Han Tae-song (h-t-song)", "- envoy: Han Tae-song (han-tae-song)",
                 "- sending\\_state: Korea, Democratic People's Republic of (KP)", "- post: Switzerland (CH)"):
        assert f"\n{line}\n" in md, line
    html = story("report", "han-ivory", "--format", "html").stdout
    for line in (("<tr><th>authority</th><td>UN Security Council 1718 Committee Panel of Experts (unsc-1718-panel)"
                  "</td></tr>"), "<tr><th>subject</th><td>Han Tae-song (h-t-song)</td></tr>",
                 "<tr><th>envoy</th><td>Han Tae-song (han-tae-song)</td></tr>",
                 "<tr><th>sending_state</th><td>Korea, Democratic People&#39;s Republic of (KP)</td></tr>",
                 "<tr><th>post</th><td>Switzerland (CH)</td></tr>"):
        assert f"\n{line}\n" in html, line


def test_a_correction_of_a_role_names_the_entities_before_and_after(story):
    story("amend", "chiba-raid", "--reason", "the force and its source, corrected", "--set",
          "authority=kanagawa-police", "--set", "sources=asahi-2023-12-07,newsonjapan-2023-12-09")
    md = story("report", "chiba-lexus").stdout
    assert ("\n  - authority: Chiba Prefectural Police (chiba-police) to Kanagawa Prefectural Police "
            "(kanagawa-police)\n") in md
    assert "\n  - sources: asahi-2023-12-07 to asahi-2023-12-07, newsonjapan-2023-12-09\n" in md
    html = story("report", "chiba-lexus", "--format", "html").stdout
    assert ("<li>authority: Chiba Prefectural Police (chiba-police) to Kanagawa Prefectural Police "
            "(kanagawa-police)</li>") in html


# ---------------------------------------------------------------------- JSON keeps ids


def test_json_keeps_ids_only(story):
    story("record", "raid", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-07",
          "--authority", "JP", "--target", "chiba-dealer", "--key", "names-jp")
    case = story.json("case", "show", "han-ivory")
    assert set(case) == {"id", "title", "status", "jurisdiction", "regime", "summary", "sources", "claims",
                         "disputed", "incidents", "entities", "position"}
    probe = next(i for i in case["incidents"] if i["kind"] == "probe")
    assert "names" not in probe and probe["roles"] == {"authority": ["unsc-1718-panel"], "subject": ["h-t-song"]}
    assert all("names" not in i for i in story.json("timeline"))
    raid = next(i for i in story.json("timeline") if i["key"] == "names-jp")
    assert raid["roles"] == {"authority": ["JP"], "target": ["chiba-dealer"]}
    han = story.json("entity", "show", "h-t-song")
    assert set(han) == {"id", "kind", "name", "aliases", "identifiers", "country", "merged_from", "cases",
                        "incidents", "position"}
    assert (han["merged_from"], han["country"]) == (["h-t-song"], "KP")
    rows = story("timeline", "--case", "han-ivory", "--format", "csv").stdout
    assert "Han Tae-song" not in rows and "Switzerland" not in rows


def test_the_api_gives_names_only_when_asked(story):
    from ledger.api import Ledger

    with Ledger(story.db, actor="tester") as ledger:
        assert "names" not in ledger.case("han-ivory")["incidents"][0]
        probe = ledger.case("han-ivory", names=True)["incidents"][0]
        assert probe["names"] == {"unsc-1718-panel": "UN Security Council 1718 Committee Panel of Experts",
                                  "h-t-song": "Han Tae-song"}
        recall = ledger.timeline("han-ivory", names=True)[1]
        assert recall["names"] == {"han-tae-song": "Han Tae-song", "KP": "Korea, Democratic People's Republic of",
                                   "CH": "Switzerland"}
        assert ledger.entity("h-t-song", names=True)["names"] == {
            "h-t-song": "Han Thae Song", "KP": "Korea, Democratic People's Republic of"}
        assert "names" not in ledger.entity("h-t-song")
        data = ledger.report_data("han-ivory")
        assert data["names"]["h-t-song"] == "Han Tae-song" and "names" not in data["case"]["incidents"][0]


def test_names_of_looks_names_up_in_batches_and_leaves_out_what_it_does_not_hold(story, monkeypatch):
    from ledger.api import Ledger
    from projections import queries

    with Ledger(story.db, actor="tester") as ledger:
        whole = [i["names"] for i in ledger.timeline(names=True)]
        monkeypatch.setattr(queries, "NAMES_AT_ONCE", 1)
        assert [i["names"] for i in ledger.timeline(names=True)] == whole
        with ledger._reading(None) as (db, _position):
            assert queries.names_of(db, ["h-t-song", "JP", "nobody", "XX"]) == {"h-t-song": "Han Tae-song",
                                                                                 "JP": "Japan"}


# ---------------------------------------------------------------------- hostile names


def _hostile(run):
    run("import", str(STORY))
    run("entity", "add", "zq-evil", "--kind", "person", "--name", HOSTILE)
    run("record", "raid", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-07",
        "--authority", "JP", "--target", "zq-evil", "--key", "zq-raid")
    return run


def test_a_name_with_markup_is_text_in_every_view(run):
    _hostile(run)
    out = run("case", "show", "chiba-lexus").stdout
    assert _block("roles     authority: Japan (JP)", f"          target: {HOSTILE} (zq-evil)") in out
    md = run("report", "chiba-lexus").stdout
    assert "\n- target: &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*x\\* \\_y\\_ (zq-evil)\n" in md
    assert "<script>" not in md
    html = run("report", "chiba-lexus", "--format", "html").stdout
    assert ("<tr><th>target</th><td>&lt;script&gt;alert(1)&lt;/script&gt; | *x* _y_ (zq-evil)</td></tr>"
            in html)
    assert "<script>" not in html


def test_a_name_with_control_characters_in_the_read_models_is_shown_escaped(run, db_url):
    """Names are checked on the way in, so only someone editing the read models behind the
    ledger's back can store one: the terminal still shows it escaped, on one line."""
    from tests.test_trusted_reads import _state, _tamper

    _hostile(run)
    run("cases")
    table = f"rm{_state(db_url)[0]}_entities"
    evil = "\x1b[31mRed\u202e\nauthority: Fake (fake)"
    assert _tamper(db_url, f"UPDATE {table} SET name = ? WHERE id IN ('zq-evil', 'h-t-song')", (evil,)) == 2
    shown = "\\x1b[31mRed\\u202e\\nauthority: Fake (fake)"
    for args in (("case", "show", "chiba-lexus"), ("timeline", "--case", "chiba-lexus")):
        out = run(*args).stdout
        assert "\x1b" not in out and "\u202e" not in out
        assert f"target: {shown} (zq-evil)\n" in out, args
    out = run("entity", "show", "han-tae-song").stdout
    assert f"merged from: {shown} (h-t-song)\n" in out and "\x1b" not in out


def test_the_report_templates_escape_a_hostile_name_in_a_role_line(run):
    from ledger.api import Ledger
    from ledger.report.render import render

    _hostile(run)
    with Ledger(run.db, actor="tester") as ledger:
        data = ledger.report_data("chiba-lexus")
    data["names"]["zq-evil"] = "\x1b[31m<b>bold</b> | *x*"
    md = render(data, "md")  # the terminal's `\x1b`, its backslash escaped for Markdown: read as `\x1b`
    assert "\x1b" not in md and "\n- target: \\\\x1b\\[31m&lt;b&gt;bold&lt;/b&gt; \\| \\*x\\* (zq-evil)\n" in md
    html = render(data, "html")
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt; | *x* (zq-evil)</td>" in html


def test_json_of_a_hostile_name_is_the_stored_text(run):
    _hostile(run)
    raid = next(i for i in run.json("timeline") if i["key"] == "zq-raid")
    assert raid["roles"]["target"] == ["zq-evil"]
    assert json.loads(run("entity", "show", "zq-evil", "--json").stdout)["name"] == HOSTILE
