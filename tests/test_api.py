"""The library API (`ledger.api.Ledger`), driven as a notebook user would, on both backends; and
the command line standing on it alone."""

from __future__ import annotations

import ast
import gc
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from ledger.api import Ledger, Replayed, Written, new_key
from ledger.errors import CaseClosed, InvalidInput, NotFound, Refused
from ledger.store.settings import Settings
from tests.conftest import ROOT, as_attacker, fresh_pg_database, pg_admin, strip_volatile


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    """A ledger URL of its own for each test: a new SQLite file, or a new PostgreSQL database
    (dropped at the end)."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    with fresh_pg_database("ledger_api") as pg_url:
        yield pg_url


@pytest.fixture
def other(url, tmp_path) -> Iterator[str]:
    """A second, empty ledger URL on the same backend."""
    if Settings(db=url).backend == "sqlite":
        yield str(tmp_path / "other.db")
        return
    with fresh_pg_database("ledger_api_other") as pg_url:
        yield pg_url


def _story(ledger: Ledger) -> dict[str, Written]:
    """Sources, entities, cases and one incident of each of the story's kinds, by keyword."""
    done = {
        "source": ledger.add_source("asahi-1207", publisher="Asahi Shimbun", title="Police raid Chiba dealer",
                                    published="2023-12-07", reliability="B", credibility=2),
        "source2": ledger.add_source("scmp-1212", publisher="SCMP", title="Luxury goods to North Korea",
                                     url="https://www.scmp.com/x"),
    }
    for ident, kind, name in [("chiba-police", "organization", "Chiba Prefectural Police"),
                              ("chiba-dealer", "organization", "Used-car dealer, Chiba city"),
                              ("lexus", "vehicle", "Lexus sedan"), ("han", "person", "Han Tae-song"),
                              ("h-t-song", "person", "Han Thae Song"), ("panel", "organization", "1718 Panel")]:
        done[ident] = ledger.add_entity(ident, kind=kind, name=name, identifiers={"make": "Lexus"} if ident == "lexus"
                                        else None)
    done["case"] = ledger.open_case("chiba", title="Lexus seized in Chiba", jurisdiction="JP", regime="UNSCR 1718")
    done["case2"] = ledger.open_case("han", title="Han Tae-song")
    common = {"sources": ["asahi-1207"], "country": "JP"}
    done["raid"] = ledger.record("raid", "chiba", on="2023-12-07", authority="chiba-police", target="chiba-dealer",
                                 key="chiba-raid", **common)
    done["seizure"] = ledger.record("seizure", "chiba", on="2023-12-07", item="lexus", holder="chiba-dealer",
                                    value=70000, currency="USD", key="chiba-seizure", **common)
    done["questioning"] = ledger.record("questioning", "chiba", on="2023-12", subjects=["chiba-dealer"],
                                        key="chiba-questioning", **common)
    done["recall"] = ledger.record("recall", "han", on="2023-12-07", sources=["scmp-1212"], envoy="han",
                                   sending_state="KP", post="CH", reason="UN probe", key="han-recall")
    done["expulsion"] = ledger.record("expulsion", "han", on="1992", sources=["scmp-1212"], persons=["han"],
                                      expelling_state="ZW", key="han-expulsion")
    done["probe"] = ledger.record("probe", "han", on="2023-12", sources=["scmp-1212"], authority="panel",
                                  subjects=["h-t-song"], key="han-probe")
    return done


def test_a_notebook_session_records_corrects_and_reads_with_exact_answers(url):
    with Ledger(url, actor="analyst") as ledger:
        assert not ledger.exists()
        done = _story(ledger)
        assert [w.position for w in done.values()] == list(range(1, 17))
        assert done["source"] == Written("asahi-1207", False, 1)
        assert done["case"] == Written("chiba", False, 9)
        assert ledger.add_source("asahi-1207", publisher="Asahi Shimbun", title="Police raid Chiba dealer",
                                 published="2023-12-07", reliability="B", credibility=2) == \
            Written("asahi-1207", True, 16)  # the same again: nothing stored
        before_fixes = done["probe"].position

        seizure = done["seizure"].id
        assert ledger.amend("chiba-seizure", reason="Asahi reports 10 million yen", set={"value": 10_000_000,
                            "currency": "JPY"}, sources=["asahi-1207"]) == Written(seizure, False, 17)
        assert ledger.retract("chiba-questioning", reason="not corroborated").position == 18
        # a merge is two events, on the duplicate and the survivor: its position is the last
        assert ledger.merge("h-t-song", "han", reason="another romanisation") == Written("h-t-song", False, 20)
        assert ledger.set_status("chiba", "investigating", reason="owners questioned").position == 21
        assert ledger.add_alias("han", "Han Tae Song").position == 22

        assert ledger.cases() == [
            {"id": "chiba", "title": "Lexus seized in Chiba", "status": "investigating", "incidents": 2},
            {"id": "han", "title": "Han Tae-song", "status": "open", "incidents": 3}]
        assert ledger.cases("open", as_of=before_fixes) == [
            {"id": "chiba", "title": "Lexus seized in Chiba", "status": "open", "incidents": 3},
            {"id": "han", "title": "Han Tae-song", "status": "open", "incidents": 3}]

        case = ledger.case("chiba")
        assert (case["status"], case["jurisdiction"], case["regime"], case["position"]) == (
            "investigating", "JP", "UNSCR 1718", 22)
        assert [(i["kind"], i["status"], i["roles"]) for i in case["incidents"]] == [
            ("questioning", "retracted", {"subject": ["chiba-dealer"]}),  # a role not given is left out
            ("raid", "active", {"authority": ["chiba-police"], "target": ["chiba-dealer"]}),
            ("seizure", "amended", {"item": ["lexus"], "holder": ["chiba-dealer"]})]
        assert [(e["id"], e["roles"]) for e in case["entities"]] == [
            ("chiba-dealer", ["holder", "target"]), ("chiba-police", ["authority"]), ("lexus", ["item"])]
        fixed = next(i for i in case["incidents"] if i["kind"] == "seizure")
        assert (fixed["value"], fixed["currency"], fixed["key"]) == (10_000_000, "JPY", "chiba-seizure")
        then = next(i for i in ledger.case("chiba", as_of=before_fixes)["incidents"] if i["kind"] == "seizure")
        assert (then["value"], then["currency"], then["status"]) == (70000, "USD", "active")

        assert [(i["kind"], i["on"]) for i in ledger.timeline()] == [
            ("expulsion", "1992"), ("probe", "2023-12"), ("raid", "2023-12-07"), ("seizure", "2023-12-07"),
            ("recall", "2023-12-07")]  # by date, a month before its days, then by position
        assert [i["kind"] for i in ledger.timeline(case="chiba", include_retracted=True)] == [
            "questioning", "raid", "seizure"]
        assert [i["kind"] for i in ledger.timeline(entity="han")] == ["expulsion", "probe", "recall"]  # merged in
        assert [i["kind"] for i in ledger.timeline(as_of=done["raid"].position)] == ["raid"]

        han = ledger.entity("h-t-song")  # a merged duplicate answers as its survivor
        assert (han["id"], han["aliases"], han["merged_from"], han["cases"]) == (
            "han", ["Han Tae Song"], ["h-t-song"], ["han"])
        assert ledger.entity("han", as_of=before_fixes)["merged_from"] == []
        assert [e["id"] for e in ledger.entities()] == [
            "CH", "KP", "ZW", "chiba-dealer", "chiba-police", "han", "lexus", "panel"]
        assert [e["id"] for e in ledger.entities("person", as_of=before_fixes)] == ["h-t-song", "han"]

        history = ledger.history("chiba-seizure")
        assert [(r["position"], r["type"]) for r in history] == [(12, "Incident.Recorded"), (17, "Incident.Amended")]
        assert history[1]["changes"] == {"value": {"old": 70000, "new": 10000000},
                                         "currency": {"old": "USD", "new": "JPY"}}
        assert all(r["verified"] and r["recorded_by"] == "analyst" for r in ledger.history())
        assert len(ledger.history()) == 22

        verdict = ledger.verify()
        assert (verdict.ok, verdict.events, verdict.signed, verdict.unsigned) == (True, 22, 0, 22)
        assert ledger.verify(expect=verdict.head.upper()).ok
        assert ledger.replay() == Replayed(22, 22)
        assert ledger.case("chiba") == case


def test_every_kind_goes_through_record_and_bad_input_is_refused_in_one_line(url):
    with Ledger(url, actor="analyst") as ledger:
        _story(ledger)
        assert set(Ledger.kinds()) >= {"raid", "seizure", "questioning", "recall", "expulsion", "probe"}
        with pytest.raises(InvalidInput, match="unknown kind 'arson'"):
            ledger.record("arson", "chiba", on="2023", sources=["asahi-1207"])
        with pytest.raises(InvalidInput, match=r"^target: missing$"):
            ledger.record("raid", "chiba", on="2023", sources=["asahi-1207"], authority="chiba-police")
        with pytest.raises(NotFound, match="no case nowhere"):
            ledger.record("raid", "nowhere", on="2023", sources=["asahi-1207"], authority="JP", target="JP")
        with pytest.raises(InvalidInput, match="cannot amend"):
            ledger.amend("chiba-raid", reason="x", set={"colour": "red"})
        ledger.set_status("han", "closed", reason="done")
        with pytest.raises(CaseClosed):
            ledger.record("probe", "han", on="2024", sources=["scmp-1212"], authority="panel", subjects=["han"])
        assert ledger.verify(expect="f" * 64).ok is False  # a head the chain never passed through
        with pytest.raises(InvalidInput, match="64 hex digits"):
            ledger.verify(expect="abc")


def test_warnings_are_returned_and_handed_to_the_callback_never_printed(tmp_path, capsys):
    heard: list[str] = []
    with Ledger(tmp_path / "l.db", actor="analyst", on_warning=heard.append) as ledger:
        ledger.add_source("s", publisher="P", title="T")
        ledger.open_case("c", title="C")
        done = ledger.record("raid", "c", on="2999-01-01", sources=["s"], authority="JP", target="KP")
    assert done.warnings == ("the incident is dated 2999-01-01, after the moment it is recorded; stored as given",)
    assert heard == list(done.warnings)
    assert capsys.readouterr() == ("", "")


def test_a_tampered_event_fails_verify_and_the_reads_refuse(url):
    with Ledger(url, actor="analyst") as ledger:
        _story(ledger)
        head = ledger.verify().head
    sqlite = Settings(db=url).backend == "sqlite"
    with as_attacker(url) as con:
        if sqlite:
            con.execute("UPDATE stored_events SET state = CAST(REPLACE(CAST(state AS TEXT), 'Lexus seized', "
                        "'Nothing seized') AS BLOB) WHERE rowid = 9")
        else:
            con.execute("UPDATE public.ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), "
                        "'Lexus seized', 'Nothing seized'), 'UTF8') WHERE notification_id = 9")
    with Ledger(url, actor="analyst") as ledger:
        verdict = ledger.verify()
        assert (verdict.ok, verdict.first_bad_position) == (False, 9)
        assert verdict.head != head
        assert [r["position"] for r in ledger.history() if not r["verified"]] == [9]
        for made in (lambda: ledger.report("chiba"), lambda: ledger.export("jsonl"), ledger.cases):
            with pytest.raises(Refused, match=r"position 9 .*run ledger verify"):
                made()


def test_export_then_import_into_a_new_ledger_gives_the_same_timeline_and_report_and_copy_keep_the_head(url, other):
    with Ledger(url, actor="analyst") as ledger:
        _story(ledger)
        ledger.amend("chiba-raid", reason="a day earlier", set={"on": "2023-12-06"})
        ledger.retract("han-probe", reason="not him")
        ledger.merge("h-t-song", "han", reason="same person")
        lines = ledger.export("jsonl")
        assert len(lines) == 19 and all(line.endswith("\n") for line in lines)
        head = ledger.verify().head
        report = ledger.report("chiba")
        assert f"Made from ledger position 20, head hash {head}." in report
        assert ledger.report("chiba", as_of=9) != report
        assert "<svg" in ledger.report("chiba", "html")
        csv = "".join(ledger.export("csv", case="chiba"))
        assert csv.splitlines()[0].startswith("id,") and len(csv.splitlines()) == 4
        assert len(ledger.export("ftm", case="han")) > 3
        timeline = ledger.timeline(include_retracted=True)
        case = ledger.case("han")

        copied = ledger.copy(other)
        assert (copied.copied, copied.events, copied.head) == (20, 20, head)
    with Ledger(other, actor="someone-else") as copy:
        assert copy.verify().head == head
        assert copy.timeline(include_retracted=True) == timeline  # the same events: even times and actors
        assert copy.report("chiba") == report

    sqlite = Settings(db=url).backend == "sqlite"
    fresh = nullcontext(str(Path(url).with_name("imported.db"))) if sqlite else fresh_pg_database("ledger_api_new")
    with fresh as target, Ledger(target, actor="importer") as again:
        result = again.import_lines(lines)
        assert (result.imported, result.skipped, result.warnings) == (19, 0, [])
        assert strip_volatile(again.timeline(include_retracted=True)) == strip_volatile(timeline)
        assert strip_volatile(again.case("han")) == strip_volatile(case)
        assert again.import_lines(lines).skipped == 19  # imported back: nothing recorded


def test_import_a_file_and_a_bad_file_stores_nothing(tmp_path):
    story = ROOT / "ledger" / "story.jsonl"
    with Ledger(tmp_path / "l.db", actor="analyst") as ledger:
        result = ledger.import_file(story)
        assert (result.imported, result.skipped, result.position) == (36, 0, 37)  # a merge is two events
        assert ledger.import_file(story).skipped == 36
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(story.read_bytes() + b'{"op": "record.raid", "case": "nowhere"}\n\xff\n')
    from ledger.errors import ImportRejected

    with Ledger(tmp_path / "new.db", actor="analyst") as ledger, pytest.raises(ImportRejected) as rejected:
        ledger.import_file(bad)
    assert [n for n, _ in rejected.value.problems] == [37, 38]
    assert not (tmp_path / "new.db").exists()


def test_a_refused_write_into_a_ledger_that_does_not_exist_leaves_nothing(url):
    with Ledger(url, actor="analyst") as ledger:
        with pytest.raises(NotFound, match="no case chiba"):
            ledger.record("raid", "chiba", on="2023", sources=["s"], authority="JP", target="KP")
        with pytest.raises(InvalidInput):
            ledger.add_source("Not An Id", publisher="P", title="T")
        with pytest.raises(Refused, match="no ledger"):
            ledger.cases()
    if Settings(db=url).backend == "sqlite":
        assert list(Path(url).parent.iterdir()) == []
    else:
        assert not Settings(db=url).exists()
        with Settings(db=url).connect_postgres() as con:
            assert con.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN "
                               "('pg_catalog', 'information_schema')").fetchone() == (0,)


def _open_files(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (Linux)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def _connections(url: str, settle: bool = False) -> int:
    """Sessions open on the database; `settle`: wait (2 s at most) for closed ones to be gone, as
    a server process lingers a moment after its client closed the connection."""
    dbname = Settings(db=url).postgres["dbname"]
    with pg_admin() as admin:
        for _ in range(40 if settle else 1):
            count = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                  "AND pid <> pg_backend_pid()", (dbname,)).fetchone()[0]
            if count == 0:
                break
            time.sleep(0.05)
        return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="open files are listed from /proc")
def test_the_context_manager_closes_every_connection_it_opened(url, other, tmp_path):
    sqlite = Settings(db=url).backend == "sqlite"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Ledger(url, actor="analyst") as ledger:
            _story(ledger)  # the first write: checked in an empty ledger in memory, then stored
            ledger.timeline(as_of=3)  # read models built for one read
            ledger.cases()  # the live read models
            ledger.verify(deep=True)
            ledger.report("chiba")
            ledger.export("csv")
            ledger.copy(other)
            ledger.replay()
            if sqlite:
                assert _open_files(tmp_path)
            else:
                assert _connections(url) > 0
        if sqlite:
            assert _open_files(tmp_path) == []
        else:
            assert _connections(url, settle=True) == 0
            assert _connections(other, settle=True) == 0
        del ledger
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_the_actor_is_the_keys_owner_and_an_actor_who_disagrees_is_refused(tmp_path):
    made = new_key(tmp_path / "alice.key")
    db = tmp_path / "l.db"
    with Ledger(db, key=tmp_path / "alice.key") as ledger:
        added = ledger.add_key("alice", tmp_path / "alice.key.pub", reason="her own")  # a key registering itself
        assert (added.id, added.skipped) == (made.key_id, False)
        ledger.add_source("s", publisher="P", title="T")
        assert ledger.actor == "alice"
        assert ledger.require_signatures(reason="from now on").position == 3
        assert ledger.keys() == [{"key": made.key_id, "actor": "alice", "public_key": made.public_key,
                                  "registered_at": 1, "registered_by": "alice", "revoked_at": None}]
        published: list[str] = []
        receipt = ledger.checkpoint(publish=published.append)
        assert (receipt.position, receipt.owner, receipt.kept, published) == (3, "alice", True, [receipt.text])
        (tmp_path / "r.json").write_text(receipt.text)
        verdict = ledger.verify(receipts=[tmp_path / "r.json"])
        assert (verdict.ok, verdict.signed, verdict.policy, verdict.receipts[0].ok) == (True, 3, 3, True)
    with Ledger(db, actor="bob", key=tmp_path / "alice.key") as ledger, \
            pytest.raises(Refused, match="disagrees with --key"):
        ledger.add_source("t", publisher="P", title="T")
    with Ledger(db, actor="alice") as ledger, pytest.raises(Refused, match="requires signed writes"):
        ledger.add_source("t", publisher="P", title="T")
    with Ledger(db, key=tmp_path / "alice.key") as ledger:
        assert ledger.history("s")[0]["recorded_by"] == "alice"
        with pytest.raises(Refused, match="the last key not revoked"):
            ledger.revoke_key(made.key_id, reason="lost")


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    """The README's "Using it from Python" example, as written, in a fresh folder."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    assert re.fullmatch(r"6 events, head [0-9a-f]{64}\n", capsys.readouterr().out)
    assert (tmp_path / "notebook.db").is_file()


def test_the_readme_asking_example_runs_twice(tmp_path, monkeypatch, capsys):
    """The README's "Asking the ledger" example, as written: the API's incidents, and the read
    models as SQLAlchemy Core tables queried by a notebook; run again, the same answer."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Asking the ledger", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
        assert capsys.readouterr().out == "[(None, 4), ('JP', 2)]\n"


def test_the_api_module_and_a_read_of_an_up_to_date_ledger_import_nothing_heavy(tmp_path):
    db = tmp_path / "l.db"
    with Ledger(db, actor="analyst") as ledger:
        ledger.import_file(ROOT / "ledger" / "story.jsonl")
        ledger.cases()  # up to date
    code = ("import sys\nfrom ledger.api import Ledger\n"
            f"with Ledger({str(db)!r}) as ledger:\n"
            "    assert ledger.case('chiba-lexus')['status'] == 'investigating'\n"
            "    assert len(ledger.timeline()) == 6\n"
            "print(','.join(m for m in ('eventsourcing', 'pydantic', 'ledger.domain.aggregates', 'click') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False,
                         cwd=ROOT)
    assert (out.returncode, out.stderr, out.stdout) == (0, "", "\n")


# ---------------------------------------------------------------------- the CLI stands on the API alone

# what a command must not reach around the API for: the application, its wiring, the read models
BYPASSES = ("ledger.app.application", "ledger.app.importer", "ledger.app.history", "ledger.export.jsonl",
            "ledger.app.evidence", "ledger.store", "projections.readmodels", "projections.light",
            "projections.queries", "projections.integrity", "ledger.report.data", "ledger.export.ftm")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_commands_call_only_the_api():
    commands = sorted((ROOT / "commands").glob("*.py"))
    assert not (ROOT / "commands" / "context.py").exists()
    for path in commands:
        reached = {m for m in _imports(path) if m.startswith(BYPASSES) or m.endswith((".open_ledger", ".open_scratch"))}
        assert reached == set(), path.name
        text = path.read_text(encoding="utf-8")
        assert ".application(" not in text and "factory" not in text, path.name
    uses = [p.name for p in commands if "current_ledger()" in p.read_text(encoding="utf-8")]
    assert set(uses) >= {"writes.py", "reads.py", "audit.py", "admin.py", "evidence.py", "exporting.py"}


def test_the_application_is_built_and_closed_in_one_place():
    sources = [p for folder in ("ledger", "commands", "projections") for p in (ROOT / folder).rglob("*.py")]
    closing = sorted(p.relative_to(ROOT).as_posix() for p in sources if "factory.close()" in p.read_text("utf-8"))
    assert closing == ["ledger/api.py"]
    building = sorted(p.relative_to(ROOT).as_posix() for p in sources
                      if re.search(r"\bopen_(ledger|scratch)\(", p.read_text("utf-8")))
    assert building == ["ledger/api.py", "ledger/store/settings.py"]
    assert "import click" not in (ROOT / "ledger" / "api.py").read_text("utf-8")


def test_as_of_reads_and_reports_let_go_of_the_read_models_they_built(tmp_path, monkeypatch):
    """A notebook keeps its Ledger open: each as-of read, report or export builds read models in
    memory from the log, and closes them when it is done, so memory does not grow with each."""
    from projections.readmodels import ReadModels

    built, closed = [], []
    as_of, close = ReadModels.as_of.__func__, ReadModels.close

    def counting_as_of(cls, *args, **kwargs):
        made = as_of(cls, *args, **kwargs)
        built.append(made)
        return made

    def counting_close(self):
        closed.append(self)
        return close(self)

    monkeypatch.setattr(ReadModels, "as_of", classmethod(counting_as_of))
    monkeypatch.setattr(ReadModels, "close", counting_close)
    with Ledger(tmp_path / "l.db", actor="analyst") as ledger:
        _story(ledger)
        for _ in range(3):
            ledger.timeline(as_of=2)
            ledger.report("chiba")
            ledger.export("csv")
        assert len(built) == 9 and all(any(c is b for c in closed) for b in built)
