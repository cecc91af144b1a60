"""Tables: tables for people fit the terminal by wrapping free text, never by cutting an
id, a key or a date; every row that names a thing shows its id (and key); the list reads speak
`--format table|json|csv|tsv`, with `--json` the same as `--format json`."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from commands.output import render, width, wrap

UUID = "f6554643-1c2b-5a0e-9d3f-0123456789ab"


def test_a_table_wraps_free_text_and_keeps_ids_and_dates_whole():
    rows = [{"id": "chiba-lexus", "on": "2017-09-30",
             "title": "Lexus bound for North Korea seized in the port of Chiba"}]
    assert render(rows, ["id", "on", "title"], 40) == [
        "id           on          title",
        "-----------  ----------  ---------------",
        "chiba-lexus  2017-09-30  Lexus bound for",
        "                         North Korea",
        "                         seized in the",
        "                         port of Chiba",
    ]


def test_a_table_that_cannot_fit_its_ids_becomes_one_block_per_row():
    rows = [{"id": UUID, "on": "2017-09-30", "case": "chiba-lexus", "note": "Showroom searched"},
            {"id": UUID.replace("f", "e"), "on": "2018", "case": "han-ivory", "note": None}]
    assert render(rows, ["id", "on", "case", "note"], 50, title="Incidents") == [
        "Incidents",
        "-[ 1 ]----------------------------------",
        f"id    {UUID}",
        "on    2017-09-30",
        "case  chiba-lexus",
        "note  Showroom searched",
        "-[ 2 ]----------------------------------",
        f"id    {UUID.replace('f', 'e')}",
        "on    2018",
        "case  han-ivory",
    ]


def test_lists_of_ids_wrap_between_ids_and_wide_characters_count_twice():
    assert wrap("newsonjapan-2023-12-09, asahi-2023-12-07", 25, breakable=False) == [
        "newsonjapan-2023-12-09,", "asahi-2023-12-07"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert width("韓泰成") == 6 and width("café") == 4 and width("e\u0301") == 1
    lines = render([{"id": "han", "name": "韓泰成 韓泰成 韓泰成"}], ["id", "name"], 20)
    assert lines == ["id   name", "---  ---------------", "han  韓泰成 韓泰成", "     韓泰成"]


def test_the_timeline_fits_80_columns_and_shows_every_id_and_key_whole(story):
    out = story("timeline").stdout
    assert max(map(len, out.splitlines())) <= 80
    for incident in story.json("timeline"):
        assert re.search(rf"^id / key\s+{incident['id']}$", out, re.MULTILINE)
        assert re.search(rf"^\s+{incident['key']}$", out, re.MULTILINE)
        assert incident["on"] in out


def test_case_show_names_each_incident_by_id_and_key_and_each_entity_by_id_and_name(story):
    out = story("case", "show", "chiba-lexus").stdout
    assert max(map(len, out.splitlines())) <= 80
    for incident in story.json("case", "show", "chiba-lexus")["incidents"]:
        assert f"id / key  {incident['id']}\n          {incident['key']}\n" in out
    assert "id             name                                 kind          roles\n" in out
    assert "chiba-police   Chiba Prefectural Police             organization  authority\n" in out
    assert ("dealer-owners  Owners of the Chiba dealer           person        subject\n"
            "               (unnamed)\n") in out


def test_at_160_columns_the_incidents_are_a_table_with_full_ids(story, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    out = story("case", "show", "chiba-lexus").stdout
    assert max(map(len, out.splitlines())) <= 160
    seizure = next(i for i in story.json("case", "show", "chiba-lexus")["incidents"] if i["kind"] == "seizure")
    assert re.search(rf"^{seizure['id']}  2023-12-07  seizure  ", out, re.MULTILINE)
    assert re.search(r"^chiba-seizure\s+10,000,000 JPY ", out, re.MULTILINE)
    assert re.search(r"^id / key {30}on {10}kind {12}status ", out, re.MULTILINE)


def test_entities_show_the_name_beside_the_id(story):
    lines = story("entities").stdout.splitlines()
    assert lines[0].split() == ["id", "name", "kind"]
    assert "chiba-police     Chiba Prefectural Police                           organization" in lines


@pytest.mark.parametrize("args", [("cases",), ("entities",), ("timeline",), ("timeline", "--include-retracted"),
                                  ("history",), ("history", "chiba-raid")])
def test_json_is_format_json_and_each_list_read_speaks_every_format(story, args):
    as_json = story(*args, "--json").stdout
    assert story(*args, "--format", "json").stdout == as_json
    rows = json.loads(as_json)
    parsed = list(csv.DictReader(io.StringIO(story(*args, "--format", "csv").stdout)))
    assert ([r["id" if "id" in r else "position"] for r in parsed]
            == [str(r["id" if "id" in r else "position"]) for r in rows])
    tsv = story(*args, "--format", "tsv").stdout.splitlines()
    assert len(tsv) == len(rows) + 1 and tsv[0].split("\t") == list(parsed[0])
    assert story(*args, "--format", "table").stdout == story(*args).stdout
    assert "--json and --format csv ask for two formats" in story(*args, "--json", "--format", "csv", code=2).stderr


def test_the_csv_and_tsv_of_a_list_read_are_safe_for_spreadsheets(story):
    story("case", "open", "formula", "--title", "=HYPERLINK(\"http://x\")")
    cases = {r["id"]: r for r in csv.DictReader(io.StringIO(story("cases", "--format", "csv").stdout))}
    assert cases["formula"] == {"id": "formula", "title": "'=HYPERLINK(\"http://x\")", "status": "open",
                                "incidents": "0"}
    story("record", "raid", "formula", "--on", "2023-12-08", "--source", "asahi-2023-12-07", "--authority", "JP",
          "--target", "JP", "--note", "@SUM(1)\tand\na tab", "--place", "-2+3", "--key", "f1")
    rows = list(csv.DictReader(io.StringIO(story("timeline", "--case", "formula", "--format", "csv").stdout)))
    assert [(r["key"], r["place"], r["note"], r["authority"]) for r in rows] == [
        ("f1", "'-2+3", "'@SUM(1)\tand\na tab", "JP")]
    tsv = story("timeline", "--case", "formula", "--format", "tsv").stdout.splitlines()
    assert len(tsv) == 2 and "\t'-2+3\t\t'@SUM(1)\\tand\\na tab\t" in tsv[1]
    timeline = list(csv.DictReader(io.StringIO(story("timeline", "--format", "csv").stdout)))
    assert timeline[0]["id"] == story.json("timeline")[0]["id"] and timeline[0]["expelling_state"] == "ZW"


def test_marks_and_format_characters_take_no_column():
    from commands.output import width

    assert width("\u0e01\u0e34") == 1  # Thai ko kai with a vowel sign above
    assert width("\u0915\u093f") == 2  # Devanagari ka with a vowel sign that takes its own column (Mc)
    assert width("e\u0301") == 1 and width("\u6f22\u5b57") == 4 and width("a\u200db") == 2
