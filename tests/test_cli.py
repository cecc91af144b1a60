"""The CLI end to end: in-process with CliRunner (exact output) and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import STORY


def test_cases_json_and_text(story):
    assert story.json("cases") == [
        {"id": "chiba-lexus", "title": "Lexus bound for North Korea seized in Chiba", "status": "investigating",
         "incidents": 3},
        {"id": "han-ivory", "title": "Han Tae-song ivory smuggling probe", "status": "open", "incidents": 2},
        {"id": "han-zimbabwe-1992", "title": "Han Tae-song expelled from Zimbabwe", "status": "closed", "incidents": 1},
    ]
    assert "chiba-lexus" in story("cases").stdout
    assert story.json("cases", "--status", "closed") == [
        {"id": "han-zimbabwe-1992", "title": "Han Tae-song expelled from Zimbabwe", "status": "closed", "incidents": 1}]


def test_record_prints_the_id_and_json_gives_the_position(story):
    out = story.json("record", "probe", "han-ivory", "--on", "2024", "--source", "scmp-2023-12-12",
                     "--authority", "unsc-1718-panel", "--subject", "han-tae-song", "--key", "probe-2024")
    assert set(out) == {"incident", "position", "skipped"} and out["skipped"] is False
    assert out["position"] == len(story.json("history"))
    again = story.json("record", "probe", "han-ivory", "--on", "2024", "--source", "scmp-2023-12-12",
                       "--authority", "unsc-1718-panel", "--subject", "han-tae-song", "--key", "probe-2024")
    assert again["incident"] == out["incident"] and again["skipped"] is True
    text = story("record", "probe", "han-ivory", "--on", "2024", "--source", "scmp-2023-12-12",
                 "--authority", "unsc-1718-panel", "--subject", "han-tae-song", "--key", "probe-2024").stdout
    assert text == out["incident"] + "\n"


def test_writes_answer_id_position_skipped(run):
    first = run.json("source", "add", "s1", "--publisher", "P", "--title", "T", "--reliability", "b",
                     "--credibility", "2")
    assert first == {"id": "s1", "position": 1, "skipped": False}
    assert run.json("source", "add", "s1", "--publisher", "P", "--title", "T", "--reliability", "B",
                    "--credibility", "2") == {"id": "s1", "position": 1, "skipped": True}
    result = run("source", "add", "s1", "--publisher", "Q", "--title", "T", code=1)
    assert result.stderr == ("Error: source s1 already exists with other data (publisher: stored 'P', given 'Q'; "
                             "reliability: stored 'B', given (none); credibility: stored 2, given (none))\n")


def test_the_incident_json_shape(story):
    timeline = story.json("timeline")
    assert [(i["kind"], i["on"], i["precision"]) for i in timeline] == [
        ("expulsion", "1992", "year"), ("questioning", "2023-12", "month"), ("probe", "2023-12", "month"),
        ("raid", "2023-12-07", "day"), ("seizure", "2023-12-07", "day"), ("recall", "2023-12-07", "day")]
    seizure = next(i for i in timeline if i["kind"] == "seizure")
    assert {"id", "kind", "case", "on", "precision", "status", "roles", "sources", "place", "country", "note",
            "recorded_at", "recorded_by", "value", "currency"} <= set(seizure)
    assert seizure["roles"] == {"item": ["lexus-sedan"], "authority": ["chiba-police"], "holder": ["chiba-dealer"]}
    assert seizure["recorded_by"] == "tester"
    recall = next(i for i in timeline if i["kind"] == "recall")
    assert recall["reason"] == "UN probe into ivory smuggling" and "value" not in recall
    assert recall["roles"] == {"envoy": ["han-tae-song"], "sending_state": ["KP"], "post": ["CH"]}


def test_entities_lists_countries_in_roles_and_leaves_merged_duplicates_out(story):
    ids = [e["id"] for e in story.json("entities")]
    assert "h-t-song" not in ids and {"KP", "CH", "ZW", "han-tae-song"} <= set(ids)
    assert "JP" not in ids  # JP is a country field here, never a role
    assert story.json("entities", "--kind", "country") == [
        {"id": "CH", "kind": "country", "name": "Switzerland"},
        {"id": "KP", "kind": "country", "name": "Korea, Democratic People's Republic of"},
        {"id": "ZW", "kind": "country", "name": "Zimbabwe"}]
    kp = story.json("entity", "show", "KP")
    assert kp["kind"] == "country"
    assert [(i["kind"], i["role"]) for i in kp["incidents"]] == [("recall", "sending_state")]


def test_corrections_show_in_reads_and_history_keeps_both(story):
    history = story.json("history", "chiba-questioning")
    assert [h["type"] for h in history] == ["Incident.Recorded", "Incident.Amended"]
    assert history[0]["data"]["fields"]["on"] == "2023-12-07"
    assert history[1]["data"]["changes"] == {"on": "2023-12", "precision": "month"}
    assert history[1]["recorded_by"] == "tester" and len(history[1]["hash"]) == 64
    seizure = story.json("history", "chiba-seizure")  # its value: claims, then the one accepted
    assert [h["type"] for h in seizure] == ["Incident.Recorded", *["Incident.Claimed"] * 3, "Incident.ClaimAccepted"]
    assert seizure[-1]["data"]["changes"] == {"value": 10000000, "currency": "JPY"}
    story("retract", "chiba-seizure", "--reason", "duplicate")
    show = story.json("case", "show", "chiba-lexus")
    assert [i["status"] for i in show["incidents"] if i["kind"] == "seizure"] == ["retracted"]
    assert "lexus-sedan" not in [e["id"] for e in show["entities"]]
    assert story("retract", "chiba-seizure", "--reason", "again", code=1).stderr.startswith("Error: incident")


def test_history_of_an_id_shared_by_a_case_and_an_entity_shows_both(run):
    run("case", "open", "x", "--title", "Case x")
    run("entity", "add", "x", "--kind", "place", "--name", "Place x")
    assert [h["stream"] for h in run.json("history", "x")] == ["case:x", "entity:x"]
    assert run("history", "nothing-here", code=1).stderr == "Error: nothing recorded under nothing-here\n"


def test_amend_parses_set_and_refuses_unknown_fields(story):
    out = story.json("amend", "chiba-raid", "--reason", "place", "--set", "place=Chiba city", "--set", "note=")
    assert out["skipped"] is False
    raid = next(i for i in story.json("timeline", "--case", "chiba-lexus") if i["kind"] == "raid")
    assert raid["place"] == "Chiba city" and raid["note"] is None
    refused = story("amend", "chiba-raid", "--reason", "r", "--set", "value=1", code=2)
    assert "cannot amend 'value' of a raid" in refused.stderr
    assert "FIELD=VALUE" in story("amend", "chiba-raid", "--reason", "r", "--set", "value", code=2).stderr


def test_timeline_filters(story):
    han = story.json("timeline", "--entity", "h-t-song")
    assert [i["kind"] for i in han] == ["expulsion", "probe", "recall"]
    assert [i["kind"] for i in story.json("timeline", "--case", "han-ivory")] == ["probe", "recall"]
    assert story("timeline", "--case", "nope", code=1).stderr == "Error: no case nope\n"


def test_verify_json_and_expect(story):
    v = story.json("verify")
    assert v["ok"] is True and v["events"] == 37 and v["first_bad_position"] is None
    assert story("verify", "--expect", v["head"]).stdout == (f"ok: 37 events, head {v['head']}\n"
                                                            "signatures: 0 events signed, 37 unsigned\n")
    other = "f" * 64
    result = story("verify", "--expect", other, "--json", code=1)
    assert json.loads(result.stdout)["ok"] is False
    assert story("verify", "--expect", "nothex", code=2).stderr.startswith("Error: --expect")


def test_import_from_stdin_and_bad_lines(run):
    assert run("import", "-", input=STORY.read_text()).stdout == "imported 36, skipped 0\n"
    assert run.json("import", str(STORY)) == {"imported": 0, "skipped": 36, "position": 37}
    bad = '{"op": "case.open", "id": "ok-case", "title": "fine"}\n{nope\n{"op": "case.open", "id": "Bad"}\n'
    result = run("import", "-", input=bad, code=2)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("line 2: not JSON")
    assert lines[1].startswith("line 3: id: invalid id 'Bad'") and "title: missing" in lines[1]
    assert lines[-1] == "Error: 2 bad line(s); nothing was imported"
    assert len(run.json("history")) == 37  # the merge is two events


def test_demo_twice_records_once(run):
    first = run("demo")
    assert "chiba-lexus" in first.stdout and "Asahi Shimbun (B2) gives the figure in yen" in first.stdout
    n = len(run.json("history"))
    run("demo")
    assert len(run.json("history")) == n


# ---------------------------------------------------------------------- a real process


def _ledger(tmp_path, *args, input=None):
    exe = shutil.which("ledger") or f"{sys.executable} -m commands.cli"
    env = dict(os.environ, LEDGER_DB=str(tmp_path / "l.db"), LEDGER_ACTOR="proc")
    return subprocess.run([*exe.split(), *args], capture_output=True, text=True, env=env, input=input,
                          cwd=tmp_path, timeout=120, check=False)


def test_a_real_process_end_to_end(tmp_path):
    missing = _ledger(tmp_path, "cases")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: no ledger at")
    assert not (tmp_path / "l.db").exists()
    assert _ledger(tmp_path, "import", "-", input=STORY.read_text()).returncode == 0
    show = _ledger(tmp_path, "case", "show", "chiba-lexus", "--json")
    assert show.returncode == 0 and json.loads(show.stdout)["status"] == "investigating"
    bad = _ledger(tmp_path, "record", "raid", "chiba-lexus", "--on", "2023-02-30", "--source", "asahi-2023-12-07",
                  "--authority", "JP", "--target", "JP")
    assert bad.returncode == 2 and bad.stderr == "Error: --on: invalid date '2023-02-30': no such day\n"
    assert "Traceback" not in bad.stderr
    assert json.loads(_ledger(tmp_path, "history", "--json").stdout)[0]["recorded_by"] == "proc"


def _imported_by(args: list[str], modules: tuple[str, ...]) -> tuple[str, list[str]]:
    """Run the CLI with `args` in a fresh interpreter: its output, and which of `modules` it imported."""
    code = ("import sys; from commands.cli import cli\n"
            f"try: cli.main({args!r}, prog_name='ledger')\n"
            "except SystemExit as exit: assert not exit.code, exit.code\n"
            f"print('\\n' + ','.join(m for m in {modules!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout, [m for m in out.stdout.splitlines()[-1].split(",") if m]


@pytest.mark.parametrize("args", [["--help"], ["record", "--help"]])
def test_help_does_not_import_the_heavy_modules(args):
    stdout, imported = _imported_by(args, ("sqlalchemy", "eventsourcing", "pydantic", "rich"))
    assert "Usage: ledger" in stdout
    assert imported == []


@pytest.mark.parametrize("args", [["case", "show", "chiba-lexus", "--json"], ["timeline", "--json"], ["replay"]])
def test_reads_of_an_up_to_date_ledger_and_replay_need_neither_the_domain_nor_pydantic(story, args):
    story("cases")  # up to date
    heavy = ("eventsourcing", "pydantic", "ledger.domain.aggregates")
    _, imported = _imported_by(["--db", str(story.db), *args], heavy)
    assert imported == []


def test_copy_keeps_the_chain_the_head_and_every_answer(story, tmp_path):
    from tests.conftest import Runner

    target = tmp_path / "copy.db"
    head = story.json("verify")["head"]
    assert story.json("copy", "--to", str(target)) == {"copied": 37, "events": 37, "head": head}
    copy = Runner(target)
    assert copy.json("verify")["head"] == head
    for args in (("cases",), ("timeline", "--include-retracted"), ("case", "show", "chiba-lexus"),
                 ("entity", "show", "han-tae-song")):
        assert copy.json(*args) == story.json(*args), args  # same events: even the times and actors

    def inserted_by_whom_aside(rows):  # db_role is the database role that inserted each row: here, the copier
        return [{k: v for k, v in row.items() if k != "db_role"} for row in rows]

    assert inserted_by_whom_aside(copy.json("history")) == inserted_by_whom_aside(story.json("history"))
    assert copy("report", "chiba-lexus").stdout == story("report", "chiba-lexus").stdout
    story("case", "status", "han-ivory", "referred", "--reason", "to the panel")
    assert story.json("copy", "--to", str(target))["copied"] == 1  # an earlier copy is brought up to date
    other = tmp_path / "other.db"
    Runner(other)("source", "add", "x", "--publisher", "P", "--title", "T")
    assert "not an earlier copy" in story("copy", "--to", str(other), code=1).stderr


def test_progress_shows_counts_and_rate_on_a_terminal_only():
    import io

    from commands.output import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        progress = Progress("import", "lines", stream)
        progress(10, 10)
        progress.close()
    assert tty.getvalue().startswith("\rimport: 10/10 lines (") and tty.getvalue().endswith("/s)   \n")
    assert pipe.getvalue() == ""
