"""Reads you can trust: the read models are
tied to the log they were built from, reports and exports verify the chain they cite, `verify
--deep` compares the read models with a fresh projection, a read-only ledger file answers, and the
FtM export keeps corrections and merges. Each test tampers as whoever holds the database can: with
sqlite3, or with psycopg on PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ledger.store.settings import Settings
from projections.integrity import REMEDY

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEDGER = Path(sys.executable).parent / "ledger"


def _tamper(db_url: str, sql: str, params: tuple = ()) -> int:
    """Run SQL on the ledger's database behind its back, as its owner, the append-only triggers
    dropped first (`tests.conftest.as_attacker`). `{events}` and `{pos}` name the event table and
    its position column; `?` marks a parameter. Returns the rows changed."""
    from tests.conftest import as_attacker

    sqlite = Settings(db=db_url).backend == "sqlite"
    with as_attacker(db_url) as con:
        if sqlite:
            return con.execute(sql.format(events="stored_events", pos="rowid"), params).rowcount
        sql = sql.format(events="public.ledger_events", pos="notification_id").replace("?", "%s")
        return con.execute(sql, params).rowcount


def _query(db_url: str, sql: str) -> list[tuple]:
    settings = Settings(db=db_url)
    if settings.backend == "sqlite":
        con = sqlite3.connect(settings.sqlite_path)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    with settings.connect_postgres(search_path="ledger_read") as con:
        return con.execute(sql).fetchall()


def _state(db_url: str) -> tuple[int, int, str]:
    return _query(db_url, "SELECT generation, position, hash FROM ledger_projection")[0]


def _rewrite(db_url: str, position: int, old: str, new: str) -> None:
    """Rewrite text inside the stored state of the event at `position`, bytes kept as bytes."""
    if Settings(db=db_url).backend == "sqlite":
        sql = "UPDATE {events} SET state = CAST(REPLACE(CAST(state AS TEXT), ?, ?) AS BLOB) WHERE {pos} = ?"
    else:
        sql = ("UPDATE {events} SET state = convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8') "
               "WHERE {pos} = ?")
    assert _tamper(db_url, sql, (old, new, position)) == 1


def _opened(story) -> int:
    """The position of the event that opened the Chiba case: a middle event whose text reads show."""
    rows = story.json("history", "chiba-lexus")
    position = next(r["position"] for r in rows if r["type"] == "Case.Opened")
    assert 1 < position < len(story.json("history"))
    return position


def _cut_message(position: int) -> str:
    return (f"Error: the log no longer holds position {position}, which the read models were built up to: "
            f"events were cut or removed under them; {REMEDY}\n")


def _rewritten_message(position: int) -> str:
    return (f"Error: the event at position {position} is not the one the read models were built up to "
            f"(its hash changed): the log was rewritten under them; {REMEDY}\n")


def _link_message(position: int) -> str:
    return (f"Error: the event at position {position} does not match the hash chain (an event was edited, "
            "removed or inserted at or just before it); nothing of it was applied to the read models; "
            "run ledger verify\n")


def _chain_message(position: int) -> str:
    return (f"Error: the log does not verify at position {position}: event at position {position} does not "
            "match the chain: an event was edited, removed or inserted here or just before; refused, since "
            "what it shows could not be vouched for; run ledger verify\n")


# ---------------------------------------------------------------------- defect 12: a cut log


def test_a_log_cut_under_the_read_models_is_refused_and_a_later_write_is_not_hidden(story, db_url):
    n = story.json("verify")["events"]
    assert _tamper(db_url, "DELETE FROM {events} WHERE {pos} = (SELECT MAX({pos}) FROM {events})") == 1
    for read in (("case", "show", "chiba-lexus"), ("cases",), ("timeline",), ("entities",)):
        assert story(*read, code=1).stderr == _cut_message(n)
    assert story("export", "--format", "csv", code=1).stderr == _cut_message(n)
    assert story("export", "--format", "jsonl", code=1).stderr == _cut_message(n)
    assert story("report", "chiba-lexus", code=1).stderr == _cut_message(n)
    assert story("report", "chiba-lexus", "--as-of", "20", code=1).stderr == _cut_message(n)

    story("case", "open", "after-the-cut", "--title", "Opened after the cut")
    shown = story("case", "show", "after-the-cut", code=1).stderr
    assert "no case" not in shown
    # SQLite numbers the new event where the cut one was; PostgreSQL's sequence goes on
    sqlite = Settings(db=db_url).backend == "sqlite"
    assert shown == (_rewritten_message(n) if sqlite else _cut_message(n))
    assert story("replay", code=1).stderr == shown
    assert story.json("replay", "--force") == {"replayed": n, "position": n if sqlite else n + 1}
    case = story.json("case", "show", "after-the-cut")
    assert (case["title"], case["position"]) == ("Opened after the cut", n if sqlite else n + 1)
    assert story.json("verify", "--deep")["ok"] is True


def test_an_import_after_a_cut_is_stored_and_the_next_read_refuses(story, db_url, tmp_path):
    n = story.json("verify")["events"]
    _tamper(db_url, "DELETE FROM {events} WHERE {pos} = (SELECT MAX({pos}) FROM {events})")
    lines = tmp_path / "more.jsonl"
    lines.write_text('{"op": "case.open", "id": "imported-late", "title": "Imported after the cut"}\n')
    assert story("import", str(lines)).stdout == "imported 1, skipped 0\n"
    assert story("case", "show", "imported-late", code=1).stderr.startswith("Error: ")
    assert "no case" not in story("case", "show", "imported-late", code=1).stderr
    story("replay", "--force")
    assert story.json("case", "show", "imported-late")["title"] == "Imported after the cut"
    assert story.json("verify")["events"] == n


def test_an_edited_read_model_position_is_refused_not_hidden(story, db_url):
    n = story.json("verify")["events"]
    _tamper(db_url, "UPDATE ledger_projection SET position = position + 5")
    assert story("cases", code=1).stderr == _cut_message(n + 5)
    story("case", "open", "later", "--title", "Later")
    assert story("case", "show", "later", code=1).stderr == _cut_message(n + 5)

    _tamper(db_url, "UPDATE ledger_projection SET position = ?", (n - 3,))  # would apply 3 events twice
    assert story("case", "show", "later", code=1).stderr == _rewritten_message(n - 3)
    story("replay", "--force")
    assert story.json("case", "show", "later")["position"] == n + 1


def test_the_ordinary_read_path_checks_too(story, db_url):
    from ledger.errors import LogChanged
    from projections.readmodels import ReadModels

    n = story.json("verify")["events"]
    _tamper(db_url, "DELETE FROM {events} WHERE {pos} = (SELECT MAX({pos}) FROM {events})")
    read_models = ReadModels(Settings(db=db_url))
    try:
        with pytest.raises(LogChanged) as caught:
            read_models.catch_up()
        assert f"Error: {caught.value}\n" == _cut_message(n)
        with pytest.raises(LogChanged), read_models.reading():
            pass
    finally:
        read_models.close()


# ---------------------------------------------------------------------- defect 11: an edited or deleted event


def test_an_edited_event_fails_replay_report_and_export_and_history_warns(story, db_url, tmp_path):
    position = _opened(story)
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    _rewrite(db_url, position, "Lexus", "Lexxs")
    assert story("verify", code=1).stderr.startswith(f"Error: verification failed at position {position}: ")
    assert story("replay", code=1).stderr == _link_message(position)
    assert story("replay", "--force", code=1).stderr == _link_message(position)
    assert story("report", "chiba-lexus", code=1).stderr == _chain_message(position)
    assert story("report", "chiba-lexus", "--as-of", str(position), code=1).stderr == _chain_message(position)
    for fmt in ("jsonl", "ftm", "csv"):
        out = tmp_path / f"export.{fmt}"
        assert story("export", "--format", fmt, "-o", str(out), code=1).stderr == _chain_message(position)
        assert not out.exists()
    out = tmp_path / "report.html"
    assert story("report", "chiba-lexus", "--format", "html", "-o", str(out), code=1).stderr == _chain_message(position)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left either

    warning = (f"warning: the hash chain does not hold at position {position}: edited, removed or inserted "
               "events, marked below; run ledger verify\n")
    whole = story("history", "--json")
    assert whole.stderr == warning
    assert [r["position"] for r in json.loads(whole.stdout) if not r["verified"]] == [position]
    one = story("history", "chiba-lexus")
    assert one.stderr == warning
    assert f"#{position}  Case.Opened  [CHAIN BROKEN]  case:chiba-lexus" in one.stdout


def test_a_report_as_of_before_an_edit_still_answers(story, db_url):
    position = _opened(story)
    later = [h for h in story.json("history") if "Asahi" in json.dumps(h["data"])][-1]["position"]
    _rewrite(db_url, later, "Asahi", "Asaxi")
    text = story("report", "chiba-lexus", "--as-of", str(later - 1)).stdout
    assert f"Made from ledger position {later - 1}, head hash " in text
    assert story("report", "chiba-lexus", code=1).stderr == _chain_message(later)
    assert position < later


def test_catch_up_applies_only_events_whose_chain_holds(story, db_url):
    story("case", "open", "fresh", "--title", "Fresh case")  # stored; the read models are behind now
    last = story.json("history")[-1]["position"]
    _rewrite(db_url, last, "Fresh case", "Fakes case")
    assert story("case", "show", "fresh", code=1).stderr == _link_message(last)
    assert story("cases", code=1).stderr == _link_message(last)
    assert _state(db_url)[1] == last - 1  # nothing of it applied


def test_a_deleted_middle_event_fails_replay_without_a_traceback(story, db_url):
    position = _opened(story)
    assert _tamper(db_url, "DELETE FROM {events} WHERE {pos} = ?", (position,)) == 1
    for args in (("replay",), ("replay", "--force"), ("replay", "--json")):
        result = story(*args, code=1)
        assert result.stderr == _link_message(position + 1)
        assert result.stdout == ""
    assert story("export", code=1).stderr == (
        f"Error: the log does not verify at position {position + 1}: event at position {position + 1} does "
        "not match the chain: an event was edited, removed or inserted here or just before; refused, since what "
        "it shows could not be vouched for; run ledger verify\n")


# ---------------------------------------------------------------------- defect 13: verify --deep


def test_the_light_path_knows_the_chain_genesis_without_importing_hashlib():
    from ledger.domain.chain import GENESIS
    from projections import light

    assert light.GENESIS == GENESIS


def test_verify_deep_passes_on_an_untouched_ledger(story):
    plain = story.json("verify")
    assert story.json("verify", "--deep") == plain == {
        "ok": True, "events": plain["events"], "head": plain["head"], "first_bad_position": None, "problem": None,
        "signed": 0, "unsigned": plain["events"], "ledger": story.json("history")[0]["hash"],
        "signatures_required_since": None, "receipts": []}
    assert story("verify", "--deep").stdout == (f"ok: {plain['events']} events, head {plain['head']}\n"
                                                f"signatures: 0 events signed, {plain['events']} unsigned\n")


def test_verify_deep_fails_on_an_edited_read_model_table_and_names_it(story, db_url):
    story("cases")
    generation = _state(db_url)[0]
    table = f"rm{generation}_cases"
    assert _tamper(db_url, f"UPDATE {table} SET title = 'A title nobody recorded' WHERE id = 'chiba-lexus'") == 1
    result = story("verify", "--deep", "--json", code=1)
    out = json.loads(result.stdout)
    assert (out["ok"], out["first_bad_position"]) == (False, None)
    assert out["problem"].startswith(f"read-model table {table} differs from a fresh projection of the log at its "
                                     "row 1 (in sorted order): it holds (id=chiba-lexus, title=A title nobody "
                                     "recorded, status=investigating, ")
    assert "the log gives (id=chiba-lexus, title=Lexus bound for North Korea seized in Chiba, " in out["problem"]
    assert result.stderr == f"Error: verification failed: {out['problem']}\n"
    assert story.json("verify")["ok"] is True  # the chain itself holds


def test_verify_deep_finds_a_deleted_read_model_row(story, db_url):
    story("cases")
    table = f"rm{_state(db_url)[0]}_incident_roles"
    assert _tamper(db_url, f"DELETE FROM {table} WHERE entity_id = 'chiba-police'") >= 1
    out = json.loads(story("verify", "--deep", "--json", code=1).stdout)
    assert out["problem"].startswith(f"read-model table {table} ")


# ---------------------------------------------------------------------- the layout before the hash


def test_a_ledger_with_the_previous_read_model_layout_opens_and_answers(tmp_path):
    from projections.schema import NAME, VERSION
    from tests.conftest import Runner

    db = tmp_path / "old.db"
    shutil.copy(FIXTURES / "ledger-v2-readmodels.sqlite", db)
    con = sqlite3.connect(db)
    assert [r[1] for r in con.execute("PRAGMA table_info(ledger_projection)")] == ["name", "generation", "position"]
    con.close()
    run = Runner(db)
    assert [(c["id"], c["status"], c["incidents"]) for c in run.json("cases")] == [
        ("chiba-lexus", "investigating", 3), ("han-ivory", "open", 2), ("han-zimbabwe-1992", "closed", 1)]
    verdict = run.json("verify", "--deep")
    assert (verdict["ok"], verdict["events"]) == (True, 28)
    con = sqlite3.connect(db)
    try:
        # the read models of today's layout (their name says its version and the kinds' columns)
        assert con.execute("SELECT * FROM ledger_projection").fetchall() == [(NAME, 1, 28, verdict["head"])]
        assert NAME.startswith(f"read_models.v{VERSION}.")
        tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()
    assert tables == {"stored_events", "ledger_projection", *(f"rm1_{t}" for t in (
        "streams", "cases", "case_status", "sources", "entities", "incidents", "corrections", "incident_roles",
        "incident_sources", "source_amendments", "search_names")), *(
        f"rm1_search_names_fts{part}" for part in ("", "_data", "_idx", "_config"))}
    assert run.json("case", "show", "chiba-lexus")["position"] == 28
    assert "head hash " + verdict["head"] in run("report", "chiba-lexus").stdout


# ---------------------------------------------------------------------- defect 14: a read-only file


def _as_nobody() -> list[str] | None:
    if os.geteuid() != 0:
        return None
    setpriv = shutil.which("setpriv")
    if setpriv is None or not LEDGER.exists():
        return None
    probe = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", str(LEDGER), "--help"],
                           capture_output=True, text=True, check=False)
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if probe.returncode == 0 else None


def test_a_ledger_file_the_user_may_only_read_answers_every_read():
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("cannot run the CLI as another user here (needs root and setpriv)")
    folder = Path(tempfile.mkdtemp(prefix="ledger-ro-", dir="/tmp"))
    try:
        db = folder / "ledger.db"
        story = Path(__file__).resolve().parent.parent / "ledger" / "story.jsonl"

        def ledger(*args: str, user: list[str]) -> subprocess.CompletedProcess:
            return subprocess.run([*user, str(LEDGER), "--db", str(db), "--actor", "owner", *args],
                                  capture_output=True, text=True, cwd=folder, check=False)

        assert ledger("import", str(story), user=[]).returncode == 0
        assert ledger("case", "open", "late", "--title", "Recorded after the last read", user=[]).returncode == 0
        # the read models are one event behind now; the owner's connections are closed
        folder.chmod(0o755)
        db.chmod(0o644)
        files = sorted(p.name for p in folder.iterdir())
        before = db.read_bytes()
        reads = [("verify", "--json"), ("verify", "--deep", "--json"), ("cases", "--json"),
                 ("case", "show", "late", "--json"), ("case", "show", "chiba-lexus", "--as-of", "20", "--json"),
                 ("entity", "show", "han-tae-song", "--json"), ("timeline", "--json"), ("history", "--json"),
                 ("history", "chiba-lexus", "--json"), ("report", "chiba-lexus"),
                 ("export",), ("export", "--format", "csv"), ("export", "--format", "ftm")]
        answers = {}
        for args in reads:
            result = ledger(*args, user=prefix)
            assert (args, result.returncode, result.stderr) == (args, 0, "")
            answers[args] = result.stdout
        assert json.loads(answers[("case", "show", "late", "--json")])["title"] == "Recorded after the last read"
        assert json.loads(answers[("verify", "--deep", "--json")])["ok"] is True
        assert db.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == files  # nothing written
        write = ledger("case", "open", "nope", "--title", "T", user=prefix)
        assert (write.returncode, write.stderr) == (1, ("Error: the ledger is read-only here (no write access to its "
                                                        "file or folder): nothing was stored\n"))
        refused = ledger("replay", user=prefix)
        assert (refused.returncode, refused.stderr) == (1, (f"Error: replay rebuilds the read models, and {db} is "
                                                             "read-only here\n"))
        # the owner's answers are the same (read after the reads above, which changed nothing)
        for args in reads:
            if args[0] not in ("verify", "history"):
                assert ledger(*args, user=[]).stdout == answers[args], args
    finally:
        shutil.rmtree(folder)


# ---------------------------------------------------------------------- defect 19: FtM


def test_ftm_events_carry_every_correction_and_name_a_merged_survivor(story):
    entities = [json.loads(line) for line in story("export", "--format", "ftm").stdout.splitlines()]
    events = {e["properties"]["recordId"][0]: e for e in entities if e["schema"] == "Event"}
    recorded, amended = story.json("history", "chiba-questioning")
    notes = events[recorded["stream"].split(":", 1)[1]]["properties"]["notes"]
    assert notes[1:] == [
        (f"amended at position {amended['position']} by tester at {amended['recorded_at']}: on 2023-12-07 -> "
         f"2023-12; precision day -> month; reason: {amended['data']['reason']}; prompted by: "
         f"{', '.join(amended['data']['sources'])}")]
    *_, accepted = story.json("history", "chiba-seizure")  # an accepted claim's value is a correction too
    notes = events[accepted["stream"].split(":", 1)[1]]["properties"]["notes"]
    assert (f"accepted at position {accepted['position']} by tester at {accepted['recorded_at']}: value 70000 -> "
            f"10000000; currency USD -> JPY; reason: {accepted['data']['reason']}; prompted by: "
            "asahi-2023-12-08") in notes
    described = [e["properties"]["description"][0] for e in events.values()
                 if "h-t-song" in e["properties"]["description"][0]]
    assert described and all("han-tae-song (recorded as h-t-song)" in d for d in described)
    assert not any("h-t-song" in d.replace("(recorded as h-t-song)", "") for d in described)


def test_verify_deep_shows_a_differing_row_as_a_person_reads_it():
    from projections.integrity import _norm, _shown

    row = tuple(_norm(v) for v in (None, 70000, 1.5, "chiba"))
    assert _shown(row, ("jurisdiction", "value", "rate", "id")) == "jurisdiction=null, value=70000, rate=1.5, id=chiba"



# ---------------------------------------------------------------------- damaged read models

DAMAGED = ("Error: the read models could not be read ({what}): they were edited or damaged; ledger verify --deep "
           "says where, ledger replay --force rebuilds them from the log\n")


INCIDENT_READS = (("case", "show", "chiba-lexus"), ("timeline",))
FROM_THE_LOG = (("report", "chiba-lexus"), ("export", "--format", "csv"), ("export", "--format", "ftm"))


@pytest.mark.parametrize("damage, reads", [
    ("DROP TABLE {p}incidents", INCIDENT_READS + (("entity", "show", "han-tae-song"),)),
    ("UPDATE {p}incidents SET roles = 'not json'", INCIDENT_READS),
    ("UPDATE {p}entities SET aliases = 'not json'", (("entity", "show", "han-tae-song"),)),
])
def test_damaged_read_models_are_said_to_be_damaged_and_replay_force_mends_them(story, db_url, damage, reads):
    before = story.json("case", "show", "chiba-lexus")
    made = [story(*args).stdout for args in FROM_THE_LOG]
    generation = _state(db_url)[0]
    _tamper(db_url, damage.format(p=f"rm{generation}_"))
    # reports and exports are made from the log itself, never from the live tables: unchanged
    assert [story(*args).stdout for args in FROM_THE_LOG] == made
    for read in reads:
        result = story(*read, code=1)
        assert result.stderr.startswith("Error: the read models could not be read (")
        assert "Traceback" not in result.stderr
        assert result.stderr.endswith(DAMAGED.split("): ", 1)[1]), result.stderr
    story.json("replay", "--force")
    after = story.json("case", "show", "chiba-lexus")
    assert {**after, "position": 0} == {**before, "position": 0}


def test_read_models_moved_back_under_the_log_are_said_to_be_damaged(story, db_url):
    story("cases")
    _tamper(db_url, "UPDATE ledger_projection SET position = 20, hash = (SELECT hash FROM {events} WHERE {pos} = 20)")
    result = story("case", "show", "chiba-lexus", code=1)
    assert result.stderr.startswith("Error: the read models could not be read (") and "rebuilds them" in result.stderr
    story.json("replay", "--force")
    assert story.json("case", "show", "chiba-lexus")["id"] == "chiba-lexus"


def _rechain_after_rewrite(db_url: str, position: int, state: bytes) -> None:
    """Put `state` in the event at `position` and recompute every hash from there, as whoever holds
    a SQLite file could: the chain holds again, and only what it holds is wrong."""
    from ledger.domain.chain import link
    from tests.conftest import as_attacker

    with as_attacker(db_url) as con:
        con.execute("BEGIN")
        con.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (state, position))
        previous = con.execute("SELECT hash FROM stored_events WHERE rowid = ?", (position - 1,)).fetchone()[0]
        rows = con.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                           "WHERE rowid >= ? ORDER BY rowid", (position,)).fetchall()
        for rowid, stream, version, topic, blob in rows:
            previous = link(previous, stream, version, topic, blob)
            con.execute("UPDATE stored_events SET hash = ? WHERE rowid = ?", (previous, rowid))
        con.execute("DELETE FROM ledger_projection")
        con.execute("COMMIT")


def test_verify_deep_fails_on_a_rechained_log_that_no_projection_can_read(tmp_path):
    from tests.conftest import STORY, Runner

    db = tmp_path / "l.db"
    story = Runner(db)
    story("import", str(STORY))
    _rechain_after_rewrite(str(db), 10, b"{not json")
    assert story.json("verify")["ok"] is True  # the chain was recomputed: only a projection sees it
    out = json.loads(story("verify", "--deep", "--json", code=1).stdout)
    assert out["ok"] is False and out["problem"].startswith("the log cannot be projected at position 10 (")
