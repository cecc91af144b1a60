"""A ledger written by an earlier release still opens, verifies and answers as it did then.

`fixtures/ledger-release-2026-12.sqlite` was made by `fixtures/make_release_fixture.py` with the
code of December 2026, before issue 10 moved modules: every stored event names its class by
module and name (`ledger.aggregates:Incident.Amended`), so a move that forgets the stored topics
breaks every existing ledger. `fixtures/ledger-release-2026-12.json` holds what that code
answered: `verify --json`, the JSON of every read, the reports, the exports and the signed
receipt of its `checkpoint`. Later issues keep this test and these files as they are: a change
that makes it fail changes what existing ledgers say.

Each test runs on a copy (the committed file is never opened for writing): on SQLite the file
copied to tmp_path, on PostgreSQL a fresh database filled by `ledger copy --to`, dropped after.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from commands.cli import cli
from tests.conftest import PG_SERVER, fresh_pg_database

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE = FIXTURES / "ledger-release-2026-12.sqlite"
EXPECTED: dict[str, Any] = json.loads((FIXTURES / "ledger-release-2026-12.json").read_text(encoding="utf-8"))
ACTOR = EXPECTED["actor"]
PG_USER = PG_SERVER.partition("@")[0]


class Ledger:
    """The real CLI in-process on one copy of the fixture; LEDGER_* of the shell are ignored."""

    def __init__(self, url: str, backend: str, folder: Path):
        self.url, self.backend, self.folder = url, backend, folder
        self.runner = CliRunner()

    def invoke(self, *args: str, key: Path | None = None):
        head = ["--db", self.url, "--actor", ACTOR, *(["--key", str(key)] if key else [])]
        return self.runner.invoke(cli, [*head, *args],
                                  env={"LEDGER_KEY": None, "LEDGER_ACTOR": None, "LEDGER_DB": None})

    def __call__(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr, result.exception)
        return result.stdout_bytes.decode("utf-8")  # as written: CSV rows end in \r\n

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


def _connect(dbname: str):
    import psycopg

    user, _, hostport = PG_SERVER.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(dbname=dbname, user=user, host=host, port=port or "5432", autocommit=True,
                           connect_timeout=5)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    db = tmp_path / "ledger.db"
    shutil.copy(FIXTURE, db)
    if request.param == "sqlite":
        yield Ledger(str(db), "sqlite", tmp_path)
        return
    with fresh_pg_database("ledger_release") as url:
        name = url.rsplit("/", 1)[1]
        copied = Ledger(str(db), "sqlite", tmp_path).json("copy", "--to", url)
        assert copied["events"] == EXPECTED["verify"]["events"], copied
        # `ledger copy` copies the stored events, not the receipts kept beside them (table
        # ledger_receipts, part of the stored format): put the committed one there, as
        # `checkpoint` did on SQLite, so that the reports' footers name it on both backends.
        receipt = EXPECTED["receipt"]
        with _connect(name) as con:
            if not con.execute("SELECT count(*) FROM public.ledger_receipts").fetchone()[0]:
                con.execute("INSERT INTO public.ledger_receipts (position, head, receipt) VALUES (%s, %s, %s)",
                            (receipt["position"], receipt["head"], EXPECTED["receipt_text"]))
        yield Ledger(url, "postgresql", tmp_path)


def same_backend(ledger: Ledger, args: list[str], doc: Any) -> Any:
    """The answer with what legitimately depends on the backend made as on SQLite: `db_role` in
    history is the database role that inserted each event, stamped by PostgreSQL's trigger (here
    the role that ran `ledger copy`) and null on SQLite, which has no roles."""
    if ledger.backend == "postgresql" and args[0] == "history":
        assert {e["db_role"] for e in doc} == {PG_USER}, doc
        doc = [{**e, "db_role": None} for e in doc]
    return doc


def without_claims(doc: Any) -> Any:
    """The answer without what contested claims (issue 12) added to every read, each checked to
    hold its empty value, since the release had no claims: an INCIDENT's and a case's `"claims"`
    ({}) and `"disputed"` ([]); a case's `"sources"` ([]: `case open --source`, which the release
    did not have); and in `history`, the `"sources"` ([]) of a `Case.Opened` stored as version 1,
    which the upcaster gives it (`ledger.domain.versions`)."""
    if isinstance(doc, list):
        return [without_claims(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    if "disputed" in out and "claims" in out:
        assert (out.pop("claims"), out.pop("disputed")) == ({}, []), doc
        if "entities" in out:  # a case
            assert out.pop("sources") == [], doc
    if out.get("type") == "Case.Opened" and isinstance(out.get("data"), dict):
        data = dict(out["data"])
        assert data.pop("sources") == [], doc
        out["data"] = data
    return {k: without_claims(v) for k, v in out.items()}


def assert_reads_as_recorded(ledger: Ledger) -> None:
    for command, expected in EXPECTED["reads"].items():
        args = command.split(" ")
        assert without_claims(same_backend(ledger, args, ledger.json(*args))) == expected, command


def test_the_fixture_is_what_was_recorded():
    """The committed file holds the stored topics of December 2026 (read-only here)."""
    con = sqlite3.connect(f"{FIXTURE.as_uri()}?mode=ro", uri=True)
    try:
        tables = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if any(c[1] == "topic" for c in con.execute(f'PRAGMA table_info("{n}")'))]
        assert len(tables) == 1, tables
        topics = dict(con.execute(f'SELECT topic, count(*) FROM "{tables[0]}" GROUP BY topic ORDER BY topic'))
    finally:
        con.close()
    assert topics == EXPECTED["topics"]
    assert sum(topics.values()) == EXPECTED["verify"]["events"]
    assert FIXTURE.stat().st_size < 1_000_000
    assert not FIXTURE.with_name(FIXTURE.name + "-wal").exists()


def test_verifies_with_the_same_head_and_receipt(ledger):
    verdict = ledger.json("verify")
    assert verdict == EXPECTED["verify"]
    for field in ("ok", "head", "events", "signed", "unsigned", "ledger", "signatures_required_since"):
        assert verdict[field] == EXPECTED["verify"][field], field

    receipt = ledger.folder / "receipt.json"
    receipt.write_text(EXPECTED["receipt_text"], encoding="utf-8")
    with_receipt = ledger.json("verify", "--receipt", str(receipt))
    assert with_receipt["ok"] and all(check["ok"] for check in with_receipt["receipts"]), with_receipt
    for check in with_receipt["receipts"]:
        check["file"] = receipt.name  # the path given
    assert with_receipt == EXPECTED["verify_receipt"]
    assert ledger("verify", "--receipt", str(receipt)).startswith("ok:")

    deep = ledger.json("verify", "--deep")
    assert deep["ok"] and deep["head"] == EXPECTED["verify"]["head"], deep


def test_every_read_answers_as_recorded(ledger):
    assert_reads_as_recorded(ledger)


def test_replay_then_every_read_again(ledger):
    events = EXPECTED["verify"]["events"]
    assert ledger.json("replay") == {"replayed": events, "position": events}
    assert_reads_as_recorded(ledger)
    assert ledger.json("verify") == EXPECTED["verify"]


def test_reports_and_exports_as_recorded(ledger):
    # a report embeds the position, the head and the latest receipt, and no time of its own
    for command, expected in EXPECTED["texts"].items():
        got = ledger(*command.split(" "))
        if "--format csv" in command:
            assert_same_csv(got, expected, command)
        elif command.startswith("report "):
            assert got == named_report(ledger, expected), command
        else:
            assert got == expected, command


def named_report(ledger: Ledger, expected: str) -> str:
    """The Markdown report as recorded, with an empty "Contested facts" (issue 12) and each entity
    in a role line named beside its id, as issue 11 has it (`- authority: Chiba Prefectural Police
    (chiba-police)`, in a correction too), under the name `entity show` gives it: every other line
    as recorded."""
    import re

    from ledger.domain.kinds import ROLES
    from ledger.escaping import md

    role_line = re.compile(r"^(- |  - )([a-z\\_]+): (.+)$")
    names: dict[str, str] = {}

    def named(refs: str) -> str:
        if refs == "(none)":
            return refs
        ids = refs.replace("\\_", "_").split(", ")
        for i in ids:
            if i not in names:
                names[i] = ledger.json("entity", "show", i)["name"]
        return md(", ".join(f"{names[i]} ({i})" for i in ids))

    # issue 12 adds the section "Contested facts" before "Entities": none in a ledger without claims
    expected = expected.replace("## Entities\n", "## Contested facts\n\nNo source contests a fact of this case.\n\n"
                                                  "## Entities\n", 1)
    lines = []
    for line in expected.split("\n"):
        found = role_line.match(line)
        if found and found.group(2).replace("\\_", "_") in ROLES:
            head, role, refs = found.groups()
            lines.append(f"{head}{role}: " + (" to ".join(map(named, refs.split(" to "))) if head == "  - "
                                              else named(refs)))
        else:
            lines.append(line)
    return "\n".join(lines)


def assert_same_csv(got: str, expected: str, command: str) -> None:
    """The CSV gains a column for each detail of a kind declared since the release (an arrest's
    charge), appended: every column the release wrote is in its place with the same cells, in the
    same rows, and the new ones are empty, since the ledger has no incident of the new kinds."""
    import csv
    import io

    old, new = (list(csv.reader(io.StringIO(text))) for text in (expected, got))
    assert len(new) == len(old), command
    width = len(old[0])
    for before, after in zip(old, new):
        assert after[:width] == before, command
    assert all(cell == "" for row in new[1:] for cell in row[width:]), command


def test_a_new_write_is_held_to_the_stored_policy(ledger):
    """No private key is committed, so no write can be signed by a registered key: an unsigned
    write is refused by the policy read back from the log, and one signed with a key the ledger
    never registered is refused too; neither stores anything."""
    source = ("source", "add", "after-the-release", "--publisher", "Nobody", "--title", "Refused")
    unsigned = ledger.invoke(*source)
    assert unsigned.exit_code == 1, (unsigned.stdout, unsigned.stderr)
    assert "this ledger requires signed writes (policy require-signatures)" in unsigned.stderr
    assert "nothing was stored" in unsigned.stderr

    made = ledger.runner.invoke(cli, ["key", "new", "-o", str(ledger.folder / "stranger.key"), "--json"])
    assert made.exit_code == 0, made.output
    stranger = json.loads(made.stdout)["key"]
    signed = ledger.invoke(*source, key=ledger.folder / "stranger.key")
    assert signed.exit_code == 1, (signed.stdout, signed.stderr)
    assert f"key {stranger} is not registered in this ledger" in signed.stderr

    assert ledger.json("verify") == EXPECTED["verify"]
    assert ledger.json("key", "list") == EXPECTED["reads"]["key list"]


def test_a_case_opened_before_claims_is_read_as_version_2(ledger):
    """`Case.Opened` gained its case's sources (version 2, issue 12): the fixture's cases were
    stored as version 1, with no `class_version` and no `sources`; the library's upcasting (through
    `ledger.domain.versions`) reads them with none, in the aggregate and in the projector alike, and
    the rules of claims hold on such a case (checked in memory: the fixture's policy refuses every
    write not signed by its keys, which are not committed)."""
    from ledger.api import Ledger as Api
    from ledger.domain.aggregates import Case
    from ledger.domain.values import derived_id

    stored = [e for e in ledger.json("history", "chiba-lexus") if e["type"] == "Case.Opened"]
    assert len(stored) == 1 and stored[0]["data"]["sources"] == []
    with Api(ledger.url, actor=ACTOR) as api:
        app = api.application()
        row = next(r for r, _e in app.log() if r.topic.endswith("Case.Opened"))
        state = json.loads(row.state)
        assert "class_version" not in state and "sources" not in state  # as the release stored it
        case = app.repository.get(derived_id("case", "chiba-lexus"))
        assert isinstance(case, Case) and case.sources == [] and case.current()["regime"] == "UNSCR 1718"
        claimed = case.check_claim({"regime": "UNSCR 2094 (2013)"}, "asahi-2023-12-08")
        assert claimed == {"regime": "UNSCR 2094 (2013)"}
        case._apply_claim({"regime": "UNSCR 2094 (2013)"}, "asahi-2023-12-08", None)
        from ledger.domain import claims

        assert claims.disputed(case.claims) == ["regime"]
        assert [(e["value"], e["sources"]) for e in claims.entries(case.claims, {})["regime"]] == [
            ("UNSCR 1718", []), ("UNSCR 2094 (2013)", ["asahi-2023-12-08"])]
    assert ledger.json("case", "show", "chiba-lexus")["sources"] == []
