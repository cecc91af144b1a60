"""The one validation boundary: what a user types or a file holds is checked once, the same way for
the CLI and for import, before anything is stored ("text in", "date range", "URLs")."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.conftest import STORY, Runner

RAID = ("record", "raid", "chiba-lexus", "--source", "asahi-2023-12-08", "--authority", "JP", "--target", "JP")


def positions(run: Runner) -> int:
    return len(run.json("history"))


def still_readable(run: Runner, tmp_path) -> None:
    """Every read, replay and both reports still work."""
    for args in [("cases",), ("entities",), ("timeline",), ("timeline", "--include-retracted"), ("history",),
                 ("verify",), ("replay",), ("case", "show", "chiba-lexus"), ("entity", "show", "han-tae-song")]:
        run.json(*args)
    run("report", "chiba-lexus", "--format", "md")
    run("report", "chiba-lexus", "--format", "html", "-o", str(tmp_path / "r.html"))


def refused(run: Runner, *args: str, code: int = 2, input: str | None = None) -> str:
    """The command is refused with `code`, one `Error:` line (after click's usage lines), no traceback,
    and nothing stored."""
    before = positions(run)
    result = run(*args, code=code, input=input)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert positions(run) == before
    return result.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------------- defect 1


def test_entity_alias_from_the_cli_records_the_alias(story):
    out = story.json("entity", "alias", "han-tae-song", "Some Alias")
    assert out["id"] == "han-tae-song" and out["skipped"] is False
    assert "Some Alias" in story.json("entity", "show", "han-tae-song")["aliases"]
    assert story.json("entity", "alias", "han-tae-song", "Some Alias")["skipped"] is True


# ---------------------------------------------------------------------- defects 2 and 3: the date range


@pytest.mark.parametrize("on, message", [
    ("9999-12-31T23:00:00-05:00", "out of range"),  # 10000-01-01 in UTC
    ("0001-01-01T00:00:00+01:00", "out of range"),  # year 0 in UTC
    ("9999", "out of range"), ("9999-12", "out of range"), ("9999-01-01", "out of range"),
    ("0000", "out of range"), ("2023-02-30", "no such day"), ("2023-13", "no such month"),
    ("2023-13-01", "no such month"), ("2023-00-10", "no such month"),
    ("٢٠٢٣", "use YYYY"),  # digits of another script are not a year
])
def test_a_date_outside_the_range_is_bad_input_and_stores_nothing(story, tmp_path, on, message):
    line = refused(story, *RAID, "--on", on)
    assert line.startswith("Error: --on: ") and message in line
    still_readable(story, tmp_path)


def test_the_first_and_last_days_of_the_range_are_stored_and_a_future_date_is_warned_about(story, tmp_path):
    first = story(*RAID, "--on", "0001-01-01", "--key", "first-day")
    assert first.stderr == ""
    last = story(*RAID, "--on", "9998-12-31", "--key", "last-day")
    assert last.stderr.startswith("Warning: the incident is dated 9998-12-31, after the moment it is recorded")
    ons = [i["on"] for i in story.json("timeline", "--case", "chiba-lexus")]
    assert ons[0] == "0001-01-01" and ons[-1] == "9998-12-31"
    still_readable(story, tmp_path)


def test_a_source_published_after_the_range_is_refused(story):
    assert "out of range" in refused(story, "source", "add", "late", "--publisher", "P", "--title", "T",
                                     "--published", "9999-01-01")


def test_an_amendment_out_of_the_range_is_refused_before_anything_is_stored(story, tmp_path):
    line = refused(story, "amend", "chiba-seizure", "--reason", "r", "--set", "on=9999-06-01")
    assert "out of range" in line
    still_readable(story, tmp_path)


def test_an_import_with_a_date_out_of_the_range_stores_nothing(story, tmp_path):
    lines = [{"op": "source.add", "id": "fine", "publisher": "P", "title": "T"},
             {"op": "record.raid", "case": "chiba-lexus", "on": "9999-12-31T23:00:00-05:00",
              "sources": ["asahi-2023-12-08"], "authority": "JP", "target": "JP"},
             {"op": "amend", "incident": "chiba-seizure", "reason": "r", "set": {"on": "9999"}}]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = story("import", str(path), code=2)
    assert "line 2: on: date '9999-12-31T23:00:00-05:00' out of range" in result.stderr
    assert "line 3: on: date '9999' out of range" in result.stderr
    assert positions(story) == len(STORY.read_text().splitlines()) + 1  # the merge is two events
    still_readable(story, tmp_path)


# ---------------------------------------------------------------------- defects 4, 5, 8, 10: text in


@pytest.mark.parametrize("what, args", [
    ("an escape in a name", ("entity", "add", "e1", "--kind", "person", "--name", "Han\x1b[31m Tae")),
    ("an OSC title in a name", ("entity", "add", "e1", "--kind", "person", "--name", "\x1b]0;pwned\x07")),
    ("a bidi override in a name", ("entity", "add", "e1", "--kind", "person", "--name", "Han \u202egnos")),
    ("a newline in a name", ("entity", "add", "e1", "--kind", "person", "--name", "Han\nTae")),
    ("a tab in a title", ("case", "open", "c1", "--title", "a\tb")),
    ("a bidi isolate in a note", RAID + ("--on", "2023-12-09", "--note", "searched \u2066evil")),
    ("a C1 control in a place", RAID + ("--on", "2023-12-09", "--place", "Chiba\x85")),
    ("DEL in an alias", ("entity", "alias", "han-tae-song", "Han\x7f")),
    ("a line separator in a reason", ("case", "status", "chiba-lexus", "referred", "--reason", "a\u2028b")),
    ("10,001 characters", ("case", "open", "long", "--title", "x" * 10_001)),
    ("a 10,001-character identifier", ("entity", "add", "car", "--kind", "vehicle", "--name", "Car",
                                       "--identifier", "vin=" + "1" * 10_001)),
    ("a 10,001-character identifier scheme", ("entity", "add", "car", "--kind", "vehicle", "--name", "Car",
                                              "--identifier", "v" * 10_001 + "=1")),
    ("an escape in a key", RAID + ("--on", "2023-12-09", "--key", "k\x1b")),
])
def test_hostile_text_is_bad_input(story_read, what, args):
    line = refused(story_read, *args)
    assert "\x1b" not in line and "\u202e" not in line  # the message shows what it refuses, escaped


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox",
    "file:///etc/passwd", "//evil.example/x", "java\tscript:alert(1)", " javascript:alert(1)", "http:/nohost",
    "https://", "ftp://x.example/", "http://a b.example/", "http://a\u200b.example/", "http://a.example:99999/",
])
def test_only_http_and_https_urls_are_accepted(story_read, url):
    assert "--url" in refused(story_read, "source", "add", "s9", "--publisher", "P", "--title", "T", "--url", url)


def test_an_http_url_is_kept_with_its_scheme_in_lower_case(story):
    story("source", "add", "s9", "--publisher", "P", "--title", "T", "--url", "HTTPS://example.org/a?b=1")
    assert story.json("history", "s9")[0]["data"]["data"]["url"] == "https://example.org/a?b=1"


def test_newline_and_tab_are_kept_where_the_contract_allows_them(story):
    story(*RAID, "--on", "2023-12-09", "--note", "line one\n\tline two", "--key", "multi")
    note = next(i["note"] for i in story.json("timeline") if i["on"] == "2023-12-09")
    assert note == "line one\n\tline two"
    story("case", "open", "long-title", "--title", "y" * 10_000)
    assert story.json("case", "show", "long-title")["title"] == "y" * 10_000


@pytest.mark.parametrize("what, line, message", [
    ("a NUL in a name", {"op": "entity.add", "id": "n", "kind": "person", "name": "Han\u0000Tae"}, "U+0000"),
    ("a NUL in an identifier", {"op": "entity.add", "id": "n", "kind": "vessel", "name": "Ship",
                                "identifiers": {"imo": "1\u00002"}}, "U+0000"),
    ("a NUL in a key", {"op": "source.add", "id": "n", "publisher": "P", "title": "T", "key": "\u0000"}, "U+0000"),
    ('"credibility": true', {"op": "source.add", "id": "n", "publisher": "P", "title": "T", "credibility": True},
     "credibility: true and false are not numbers"),
    ('"value": true', {"op": "record.seizure", "case": "chiba-lexus", "on": "2023-12-09",
                       "sources": ["asahi-2023-12-08"], "item": "lexus-sedan", "value": True, "currency": "USD"},
     "value: invalid amount"),
    ("an identifier that is a number", {"op": "entity.add", "id": "n", "kind": "vessel", "name": "Ship",
                                        "identifiers": {"imo": 9876543}}, "is not text"),
    ("a bidi override in an alias", {"op": "entity.alias", "id": "han-tae-song", "alias": "Han\u202eTae"}, "U+202E"),
    ("a JavaScript: URL", {"op": "source.add", "id": "n", "publisher": "P", "title": "T", "url": "JavaScript:x"},
     "only http:// and https://"),
    ("an amended note with an escape", {"op": "amend", "incident": "chiba-seizure", "reason": "r",
                                        "set": {"note": "a\u001b[2J"}}, "U+001B"),
    ("an amended place that is a list", {"op": "amend", "incident": "chiba-seizure", "reason": "r",
                                         "set": {"place": ["a"]}}, "is not text"),
])
def test_an_import_line_with_hostile_values_is_a_bad_line_and_stores_nothing(story, tmp_path, what, line, message):
    path = tmp_path / "hostile.jsonl"
    ok = {"op": "source.add", "id": "hostile-ok", "publisher": "P", "title": "T"}
    path.write_text(json.dumps(ok) + "\n" + json.dumps(line) + "\n")
    before = positions(story)
    result = story("import", str(path), code=2)
    assert result.stderr.startswith("line 2: ") and message in result.stderr, result.stderr
    assert "\x00" not in result.stderr and "\x1b" not in result.stderr
    assert positions(story) == before
    still_readable(story, tmp_path)


def test_an_import_that_is_not_utf8_names_its_line(story, tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"op": "source.add", "id": "a", "publisher": "P", "title": "T"}\n'
                     b'{"op": "source.add", "id": "b", "publisher": "P\xff\xfe", "title": "T"}\n')
    result = story("import", str(path), code=2)
    assert result.stderr == ("line 2: not UTF-8 (byte 0xff at byte 48)\n"
                             "Error: 1 bad line(s); nothing was imported\n")
    piped = story("import", "-", input=path.read_bytes(), code=2)
    assert piped.stderr == result.stderr


def test_an_import_may_start_with_a_byte_order_mark(run, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"op": "source.add", "id": "a", "publisher": "P", "title": "T"}\n')
    assert run("import", str(path)).stdout == "imported 1, skipped 0\n"


@pytest.mark.parametrize("actor, message", [
    (" ", "--actor (LEDGER_ACTOR) is blank"),
    ("mallory\n\x1b[2Jalice", "--actor (LEDGER_ACTOR): a newline or tab"),
    ("a\u202eb", "--actor (LEDGER_ACTOR): the bidirectional control U+202E"),
    ("\u200b", "--actor (LEDGER_ACTOR) is blank"),  # invisible is blank too
])
def test_the_actor_is_checked_like_any_text(db_url, actor, message):
    from click.testing import CliRunner

    from commands.cli import cli

    result = CliRunner().invoke(cli, ["--db", db_url, "--actor", actor, "source", "add", "s", "--publisher", "P",
                                      "--title", "T"])
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: {message}")
    padded = CliRunner().invoke(cli, ["--db", db_url, "--actor", "  analyst ", "source", "add", "s",
                                      "--publisher", "P", "--title", "T"])
    assert padded.exit_code == 0
    assert Runner(db_url).json("history")[0]["recorded_by"] == "analyst"


# ---------------------------------------------------------------------- defect 14: where the ledger lives


def test_a_folder_given_as_the_ledger_is_said_to_be_a_folder(tmp_path):
    run = Runner(tmp_path)
    assert run("cases", code=1).stderr == f"Error: {tmp_path} is a folder, not a ledger: give --db a file path\n"
    assert run("case", "open", "c", "--title", "T", code=1).stderr.startswith(f"Error: {tmp_path} is a folder")


def test_a_write_into_a_missing_folder_creates_no_folder(tmp_path):
    run = Runner(tmp_path / "x" / "y" / "z.db")
    result = run("case", "open", "c", "--title", "T", code=1)
    assert result.stderr == f"Error: cannot create a ledger at {tmp_path}/x/y/z.db: there is no folder {tmp_path}/x/y\n"
    assert not (tmp_path / "x").exists()


def test_a_refused_write_or_import_leaves_no_new_ledger(tmp_path):
    db = tmp_path / "new.db"
    run = Runner(db)
    run("record", "raid", "c", "--on", "2023", "--source", "s", "--authority", "JP", "--target", "JP", code=1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"op": "case.open", "id": "c", "title": "T"}\n{"op": "case.status", "id": "nope", '
                   '"status": "closed", "reason": "r"}\n')
    assert run("import", str(bad), code=2).stderr.startswith("line 2: no case nope")
    run("amend", "k", "--reason", "r", "--set", "note=x", code=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]
    # and an accepted one creates it, checked against the empty ledger first
    assert run.json("case", "open", "c", "--title", "T") == {"id": "c", "position": 1, "skipped": False}
    bad.write_text('{"op": "case.open", "id": "d", "title": "T"}\n')
    assert run("import", str(bad)).stdout == "imported 1, skipped 0\n"


def test_a_postgresql_database_that_does_not_exist_is_said_at_once(pg_database):
    missing = pg_database.rsplit("/", 1)[0] + "/ledger_no_such_database"
    run = Runner(missing)
    for args in [("case", "open", "c", "--title", "T"), ("cases",)]:
        started = time.monotonic()
        result = run(*args, code=1)
        assert time.monotonic() - started < 10
        assert result.stderr.startswith("Error: cannot reach the ledger at ") and "does not exist" in result.stderr
    wrong_port = Runner("postgresql+psycopg://postgres@127.0.0.1:5/ledger")
    assert wrong_port("case", "open", "c", "--title", "T", code=1).stderr.startswith("Error: cannot reach the ledger")


# ---------------------------------------------------------------------- defect 18: help and messages


def test_help_marks_required_options_and_says_what_each_takes(run):
    raid = run("record", "expulsion", "--help").stdout
    assert "Record an expulsion." in raid
    for option in ("--on", "--source", "--person", "--expelling-state"):
        block = raid.split(option, 1)[1].split("\n  --", 1)[0]
        assert "[required]" in block, option
    assert "[required]" not in raid.split("--reason", 1)[1].split("\n  --", 1)[0]
    assert "Where it happened" in raid
    source = run("source", "add", "--help").stdout
    assert "http:// or https:// URL" in source and "[required]" in source.split("--publisher", 1)[1].split("--title")[0]
    assert "The name it is best known by" in run("entity", "add", "--help").stdout


def test_the_required_options_are_the_input_models_required_fields():
    from commands.writes import COMMON, PLURALS, record_options
    from ledger.app.inputs import RECORDS
    from ledger.domain.kinds import KINDS

    for kind, declared in KINDS.items():
        options = record_options(declared)
        fields = RECORDS[kind].model_fields
        for decl, _help, multiple, required in COMMON + options:
            name = decl[2:].replace("-", "_")
            assert fields[PLURALS.get(name, name) if multiple else name].is_required() == required, (kind, decl)


def test_errors_name_the_options_a_user_typed(story):
    assert story("source", "add", "s9", "--publisher", "P", "--title", "T", "--credibility", "9",
                 code=2).stderr == "Error: --credibility: Input should be less than or equal to 6\n"
    assert story(*RAID, "--on", "2023-12-09", "--source", "NOT AN ID", code=2).stderr.startswith(
        "Error: --source.1: invalid id 'NOT AN ID'")
    assert story("record", "recall", "chiba-lexus", "--on", "2023", "--source", "asahi-2023-12-08", "--envoy",
                 "han-tae-song", "--sending-state", "kp", "--post", "xx",
                 code=2).stderr == "Error: --post: unknown country code 'XX' (ISO 3166-1 alpha-2)\n"


def test_an_entity_that_is_a_country_in_lower_case_gets_a_hint(story):
    assert story("record", "raid", "chiba-lexus", "--on", "2023", "--source", "asahi-2023-12-08", "--authority", "eg",
                 "--target", "JP", code=1).stderr == "Error: no entity eg (for the country Egypt, write EG)\n"


def test_other_data_under_a_taken_id_says_which_fields_differ(story):
    result = story("case", "open", "chiba-lexus", "--title", "Another title", code=1)
    assert result.stderr.startswith("Error: case chiba-lexus already exists with other data (title: stored ")
    assert "given 'Another title'" in result.stderr
    again = story("record", "seizure", "chiba-lexus", "--on", "2023-12-08", "--source", "asahi-2023-12-08",
                  "--item", "lexus-sedan", "--key", "chiba-seizure", code=1)
    assert "on: stored '2023-12-07', given '2023-12-08'" in again.stderr


def test_a_real_process_refuses_hostile_input_with_one_line(tmp_path):
    env = dict(os.environ, LEDGER_DB=str(tmp_path / "l.db"), LEDGER_ACTOR="tester")
    p = subprocess.run(["ledger", "entity", "add", "x", "--kind", "person", "--name", "a\x1b]0;pwned\x07b"],
                       env=env, capture_output=True, text=True, check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == "Error: --name: the control character U+001B at character 2 is not allowed here\n"
    assert not (tmp_path / "l.db").exists()


def test_a_key_with_the_form_of_an_incident_id_is_refused(story):
    other = story.json("timeline")[0]["id"]
    line = refused(story, *RAID, "--on", "2023-12-09", "--key", other)
    assert line == f"Error: --key: key '{other}' has the form of an incident id: choose another key"


@pytest.mark.parametrize("amount", ["1_000", "\u0661\u0662\u0663", "inf", "nan", "1e400", "12abc"])
def test_an_amount_is_digits_0_to_9_not_whatever_float_reads(story_read, amount):
    line = refused(story_read, "amend", "chiba-seizure", "--reason", "r", "--set", f"value={amount}")
    assert "invalid amount" in line


def test_a_field_set_twice_or_a_date_set_to_nothing_is_refused(story):
    assert refused(story, "amend", "chiba-seizure", "--reason", "r", "--set", "note=a", "--set", "note=b") == \
        "Error: --set 'note' given twice: give each field once"
    assert refused(story, "amend", "chiba-seizure", "--reason", "r", "--set", "on=") == \
        "Error: on: an incident keeps a date: give one"


def test_a_database_of_something_else_is_never_made_into_a_ledger(tmp_path):
    import sqlite3

    other = tmp_path / "app.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    run = Runner(other)
    message = f"Error: {other} holds another program's tables, not a ledger: give --db a new file\n"
    assert run("case", "open", "c", "--title", "T", code=1).stderr == message
    assert run("cases", code=1).stderr == message
    con = sqlite3.connect(other)
    assert [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["users"]
    con.close()


@pytest.mark.parametrize("read", [("case", "show"), ("incident", "show"), ("source", "show"), ("entity", "show"),
                                  ("links",)])
def test_a_read_of_an_empty_id_is_bad_input(story_read, read):
    what = "source" if "source" in read else "case" if "case" in read else "incident" if "incident" in read \
        else "entity"
    for blank in ("", "   "):
        assert story_read(*read, blank, code=2).stderr == f"Error: an empty {what} id names no {what}: give one\n"
