"""Tampering by whoever holds the database, and what catches it (the contract's "Evidence beyond the chain").

One ledger is built per backend through the CLI: unsigned events, a key registered to alice, the
`require-signatures` policy (signed), signed single writes and signed imports, a receipt R1 in
the middle and R2 at the end. Then, as an attacker with the owner's rights, on a copy of that
ledger per kind (SQLite: a sqlite3 backup; PostgreSQL: a fresh database filled by `ledger copy`,
which keeps the chain and the signatures), the append-only triggers are dropped and the events
table is changed with raw SQL. `verify` must fail, and say where and why.

The layout of the ledger (position: what; every signed event is alice's, signed with her key K):

     1  source s0            unsigned
     2  entity e0            unsigned
     3  key add alice K      unsigned (before the policy)
     4  policy               signed, a write of 1 event
     5  source s1            signed, 1 event
     6  case c1              signed, 1 event
     7-10 import a.jsonl     signed, ONE write of 4 events (signature on 10)
          R1 = receipt at 10
    11  entity e3            signed, 1 event
    12-15 import b.jsonl     signed, ONE write of 4 events (signature on 15)
    16  source s3            signed, 1 event
    17  source s4            signed, 1 event
    18  entity e6            signed, 1 event
          R2 = receipt at 18
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import pytest

from commands.cli import cli
from ledger.app.evidence import Signer, new_key
from ledger.domain.chain import GENESIS, link
from tests.conftest import KeyedRunner

ALICE = "alice"
EVENTS = 18
UNSIGNED = 3  # positions 1-3
R1_POSITION, R2_POSITION = 10, 18
WRITES = {4: 4, 5: 5, 6: 6, 7: 10, 11: 11, 12: 15, 16: 16, 17: 17, 18: 18}  # first position -> last

IMPORT_A = [
    {"op": "source.add", "id": "s2", "publisher": "P2", "title": "T2", "reliability": "B", "credibility": 2},
    {"op": "entity.add", "id": "e2", "kind": "organization", "name": "Police two", "country": "JP"},
    {"op": "case.open", "id": "c2", "title": "Case two", "jurisdiction": "JP"},
    {"op": "record.raid", "case": "c2", "on": "2024-01-02", "sources": ["s2"], "authority": "e2",
     "target": "e0", "key": "raid-1"},
]
IMPORT_B = [
    {"op": "entity.add", "id": "e4", "kind": "vehicle", "name": "A lorry"},
    {"op": "entity.add", "id": "e5", "kind": "person", "name": "E Five"},
    {"op": "record.seizure", "case": "c1", "on": "2024-02-03", "sources": ["s1"], "item": "e4",
     "authority": "e3", "key": "seizure-1"},
    {"op": "case.open", "id": "c3", "title": "Case three"},
]


# ---------------------------------------------------------------------- driving the CLI


class Cli(KeyedRunner):
    """The CLI from a working folder (for key and receipt files), with the verify this file asks."""

    def verify(self, *receipts: Path) -> tuple[int, dict[str, Any]]:
        args = [a for r in receipts for a in ("--receipt", str(r))]
        result = self.runner.invoke(cli, ["--db", self.url, "verify", *args, "--json"],
                                    env={"LEDGER_KEY": None, "LEDGER_ACTOR": None})
        assert result.exit_code in (0, 1), (result.exit_code, result.stdout, result.stderr)
        doc = json.loads(result.stdout)
        assert (result.exit_code == 0) == doc["ok"], (result.exit_code, doc)
        if not doc["ok"]:
            assert result.stderr.startswith("Error: verification failed"), result.stderr
        return result.exit_code, doc


def jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


# ---------------------------------------------------------------------- PostgreSQL databases


def _pg_parts(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {"dbname": unquote(parts.path.lstrip("/")), "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432), "user": unquote(parts.username or "postgres")}


def _pg_admin(server_url: str):
    import psycopg

    parts = _pg_parts(server_url)
    return psycopg.connect(dbname="postgres", user=parts["user"], host=parts["host"], port=parts["port"],
                           autocommit=True, connect_timeout=5)


def new_pg_database(server_url: str, label: str) -> str:
    """A new empty database on the server of `server_url` (another test database's URL)."""
    name = f"ledger_tamper_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    with _pg_admin(server_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    with _pg_admin(url) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{_pg_parts(url)["dbname"]}" WITH (FORCE)')


# ---------------------------------------------------------------------- the attacker's raw SQL


COLUMNS = ("originator_id", "originator_version", "topic", "state", "hash", "signer", "signature")


class Raw:
    """Raw SQL on a ledger's events table, as its owner: triggers dropped, rows changed at will."""

    def __init__(self, url: str):
        self.pg = "://" in url and url.split("://", 1)[0].startswith("postgresql")
        if self.pg:
            import psycopg

            p = _pg_parts(url)
            self.con = psycopg.connect(dbname=p["dbname"], user=p["user"], host=p["host"], port=p["port"],
                                       autocommit=True)
            self.table, self.pos, self.q = "public.ledger_events", "notification_id", "%s"
        else:
            self.con = sqlite3.connect(url, isolation_level=None)
            self.table, self.pos, self.q = "stored_events", "rowid", "?"

    def close(self) -> None:
        self.con.close()

    def execute(self, sql: str, params: tuple = ()) -> list[Any]:
        cur = self.con.execute(sql, params)
        return [] if cur.description is None else list(cur.fetchall())  # None: a statement without rows

    def drop_triggers(self) -> list[str]:
        """What an owner does first: the append-only triggers go."""
        if self.pg:
            names = [r[0] for r in self.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.ledger_events'::regclass AND NOT tgisinternal")]
            assert {"ledger_events_append_only", "ledger_events_no_truncate"} <= set(names), names
            for name in ("ledger_events_append_only", "ledger_events_no_truncate"):
                self.execute(f'DROP TRIGGER "{name}" ON public.ledger_events')
            return names
        names = [r[0] for r in self.execute(
            "select name from sqlite_master where type='trigger' and tbl_name='stored_events'")]
        assert len(names) == 2, names  # update and delete
        for name in names:
            self.execute(f'DROP TRIGGER "{name}"')
        return names

    def rows(self) -> list[dict[str, Any]]:
        got = self.execute(f"SELECT {self.pos}, {', '.join(COLUMNS)} FROM {self.table} ORDER BY {self.pos}")
        return [{"position": r[0], **{c: (bytes(v) if c == "state" else v) for c, v in zip(COLUMNS, r[1:])}}
                for r in got]

    def row(self, position: int) -> dict[str, Any]:
        return next(r for r in self.rows() if r["position"] == position)

    def set(self, position: int, **values: Any) -> None:
        assigns = ", ".join(f"{c} = {self.q}" for c in values)
        self.execute(f"UPDATE {self.table} SET {assigns} WHERE {self.pos} = {self.q}", (*values.values(), position))

    def delete(self, first: int, last: int | None = None) -> None:
        last = first if last is None else last
        self.execute(f"DELETE FROM {self.table} WHERE {self.pos} BETWEEN {self.q} AND {self.q}", (first, last))

    def shift(self, start: int, delta: int) -> None:
        """Renumber every row from `start` on by `delta` (through a far range: positions are unique)."""
        far = 1_000_000
        self.execute(f"UPDATE {self.table} SET {self.pos} = {self.pos} + {far} WHERE {self.pos} >= {self.q}", (start,))
        self.execute(f"UPDATE {self.table} SET {self.pos} = {self.pos} - {far} + {self.q} WHERE {self.pos} >= {far}",
                     (delta,))

    def insert(self, position: int, row: dict[str, Any]) -> None:
        values = [row[c] for c in COLUMNS]
        if self.pg and not isinstance(values[0], uuid.UUID):
            values[0] = uuid.UUID(str(values[0]))
        marks = ", ".join([self.q] * (len(COLUMNS) + 1))
        self.execute(f"INSERT INTO {self.table} ({self.pos}, {', '.join(COLUMNS)}) VALUES ({marks})",
                     (position, *values))

    def new_stream(self) -> Any:
        return uuid.uuid4() if self.pg else uuid.uuid4().hex

    def hash_before(self, position: int) -> str:
        before = [r["hash"] for r in self.rows() if r["position"] < position]
        return before[-1] if before else GENESIS

    def rechain(self, start: int) -> None:
        """Recompute the hash of every row from `start` on, in position order."""
        previous = self.hash_before(start)
        for r in self.rows():
            if r["position"] >= start:
                previous = link(previous, r["originator_id"], r["originator_version"], r["topic"], r["state"])
                self.set(r["position"], hash=previous)

    def count(self) -> int:
        return self.execute(f"SELECT COUNT(*) FROM {self.table}")[0][0]


# ---------------------------------------------------------------------- the ledger, once per backend


@dataclass
class Base:
    backend: str
    url: str
    folder: Path
    r1: Path
    r2: Path
    key_id: str
    server: str | None  # PostgreSQL: a URL on the server, to make more databases


def _state(values: dict[str, Any]) -> bytes:
    return orjson.dumps(values)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request, tmp_path_factory) -> Base:
    folder = tmp_path_factory.mktemp(f"tamper-{request.param}")
    server = None
    if request.param == "sqlite":
        url = str(folder / "ledger.db")
    else:
        server = request.getfixturevalue("pg_database")  # skips without a server
        url = new_pg_database(server, "base")
        request.addfinalizer(lambda: drop_pg_database(url))
    run = Cli(url, folder)
    made = json.loads(run("key", "new", "-o", str(folder / "k"), "--json").stdout)
    public = (folder / "k.pub").read_text().strip()
    # 1-3: unsigned, before the policy
    run("source", "add", "s0", "--publisher", "P0", "--title", "T0", actor=ALICE)
    run("entity", "add", "e0", "--kind", "person", "--name", "E Zero", actor=ALICE)
    run("key", "add", ALICE, public, "--reason", "alice's laptop, checked in person", actor=ALICE)
    # 4-10: signed
    run("policy", "require-signatures", "--reason", "every write signed from now on", key="k")
    run("source", "add", "s1", "--publisher", "P1", "--title", "T1", key="k")
    run("case", "open", "c1", "--title", "Case one", key="k")
    assert json.loads(run("import", str(jsonl(folder / "a.jsonl", IMPORT_A)), "--json", key="k").stdout) == {
        "imported": 4, "skipped": 0, "position": 10}
    run("checkpoint", "-o", str(folder / "r1.json"), key="k")
    # 11-18: signed
    run("entity", "add", "e3", "--kind", "organization", "--name", "Police three", key="k")
    assert json.loads(run("import", str(jsonl(folder / "b.jsonl", IMPORT_B)), "--json", key="k").stdout) == {
        "imported": 4, "skipped": 0, "position": 15}
    run("source", "add", "s3", "--publisher", "P3", "--title", "T3", key="k")
    run("source", "add", "s4", "--publisher", "P4", "--title", "T4", key="k")
    run("entity", "add", "e6", "--kind", "goods", "--name", "Six crates", key="k")
    run("checkpoint", "-o", str(folder / "r2.json"), key="k")
    base = Base(request.param, url, folder, folder / "r1.json", folder / "r2.json", made["key"], server)
    # the layout the kinds below rely on
    raw = Raw(url)
    try:
        rows = raw.rows()
    finally:
        raw.close()
    assert [r["position"] for r in rows] == list(range(1, EVENTS + 1))
    assert [r["signer"] for r in rows] == [None] * UNSIGNED + [made["key"]] * (EVENTS - UNSIGNED)
    assert [r["position"] for r in rows if r["signature"]] == sorted(WRITES.values())
    assert json.loads(base.r1.read_text())["position"] == R1_POSITION
    assert json.loads(base.r2.read_text())["position"] == R2_POSITION
    return base


@pytest.fixture
def victim(base, tmp_path):
    """A copy of the base ledger for one kind of tampering, its triggers dropped: (Cli, Raw)."""
    if base.backend == "sqlite":
        url = str(tmp_path / "copy.db")
        source, target = sqlite3.connect(base.url), sqlite3.connect(url)
        source.backup(target)
        source.close()
        target.close()
    else:
        url = new_pg_database(base.server, "kind")
        copied = json.loads(Cli(base.url, tmp_path)("copy", "--to", url, "--json").stdout)
        assert copied["copied"] == EVENTS and copied["events"] == EVENTS
    run = Cli(url, base.folder)
    raw = Raw(url)
    # the copy verifies with both receipts before anything is changed
    code, doc = run.verify(base.r1, base.r2)
    assert code == 0 and doc["events"] == EVENTS
    dropped = raw.drop_triggers()
    assert dropped
    yield run, raw
    raw.close()
    if base.backend == "postgresql":
        drop_pg_database(url)


def receipt_problems(doc: dict[str, Any]) -> list[str | None]:
    assert [r["position"] for r in doc["receipts"]] == [R1_POSITION, R2_POSITION]
    return [r["problem"] for r in doc["receipts"]]


# ---------------------------------------------------------------------- the untampered ledger


def test_the_untouched_ledger_passes_with_both_receipts(base, tmp_path):
    run = Cli(base.url, tmp_path)
    code, doc = run.verify(base.r1, base.r2)
    assert code == 0
    assert doc["ok"] is True and doc["problem"] is None and doc["first_bad_position"] is None
    assert (doc["events"], doc["signed"], doc["unsigned"]) == (EVENTS, EVENTS - UNSIGNED, UNSIGNED)
    assert doc["signatures_required_since"] == 4
    assert [(r["position"], r["ok"], r["problem"], r["actor"], r["key"]) for r in doc["receipts"]] == [
        (R1_POSITION, True, None, ALICE, base.key_id), (R2_POSITION, True, None, ALICE, base.key_id)]
    assert doc["receipts"][1]["head"] == doc["head"]
    assert doc["ledger"] == json.loads(base.r1.read_text())["ledger"]
    # the plain verify says as much, and the triggers are there: an UPDATE or DELETE is refused
    code, plain = run.verify()
    assert code == 0 and (plain["signed"], plain["unsigned"], plain["receipts"]) == (EVENTS - UNSIGNED, UNSIGNED, [])
    raw = Raw(base.url)
    try:
        for statement in (f"UPDATE {raw.table} SET topic = 'x' WHERE {raw.pos} = 5",
                          f"DELETE FROM {raw.table} WHERE {raw.pos} = 18"):
            with pytest.raises(Exception, match="append-only"):
                raw.execute(statement)
        assert raw.count() == EVENTS
    finally:
        raw.close()


# ---------------------------------------------------------------------- the kinds of tampering
# Each returns what verify must say: the plain verify's first bad position (None: it passes), words
# of its problem, and for R1 and R2 whether each still holds and words of its problem.


def edit_a_byte(raw: Raw) -> None:
    state = bytearray(raw.row(6)["state"])
    at = state.index(b"Case one")
    state[at] ^= 0x01  # "Case one" -> "Base one"
    raw.set(6, state=bytes(state))


def change_a_topic(raw: Raw) -> None:
    assert raw.row(8)["topic"] == "ledger.aggregates:Entity.Added"
    raw.set(8, topic="ledger.aggregates:Source.Added")


def delete_a_middle_row(raw: Raw) -> None:
    raw.delete(12)


def cut_the_tail_by_1(raw: Raw) -> None:
    raw.delete(18)


def cut_the_tail_by_3(raw: Raw) -> None:
    raw.delete(16, 18)


def cut_inside_a_signed_import(raw: Raw) -> None:
    raw.delete(14, 18)  # keeps 12-13 of the import's write 12-15, whose signature was on 15


def swap_two_rows(raw: Raw) -> None:
    five, six = raw.row(5), raw.row(6)
    raw.delete(5, 6)
    raw.insert(5, six)
    raw.insert(6, five)


def forged_source(raw: Raw, name: str) -> dict[str, Any]:
    return {"originator_id": raw.new_stream(), "originator_version": 1, "topic": "ledger.aggregates:Source.Added",
            "state": _state({"timestamp": "2024-03-01T00:00:00+00:00", "originator_topic": "ledger.aggregates:Source",
                             "source_id": name, "data": {"id": name, "publisher": "Forged", "title": "Forged"},
                             "digest": "0" * 64, "actor": ALICE}),
            "hash": None, "signer": None, "signature": None}


def insert_with_a_made_up_hash(raw: Raw) -> None:
    raw.shift(12, 1)
    raw.insert(12, {**forged_source(raw, "forged"), "hash": secrets.token_hex(32)})


def insert_rechained(raw: Raw) -> None:
    raw.shift(12, 1)
    raw.insert(12, {**forged_source(raw, "forged"), "hash": "placeholder"})
    raw.rechain(12)


def overwrite_a_hash(raw: Raw) -> None:
    raw.set(7, hash=secrets.token_hex(32))


def edit_rechained(raw: Raw) -> None:
    state = raw.row(6)["state"]
    raw.set(6, state=state.replace(b"Case one", b"Case two"))
    raw.rechain(6)


def delete_rechained(raw: Raw) -> None:
    raw.delete(6)
    raw.shift(7, -1)  # and the positions closed up, so that no gap shows
    raw.rechain(6)


def rewrite_every_actor(raw: Raw) -> None:
    for r in raw.rows():
        assert b'"actor":"alice"' in r["state"]
        raw.set(r["position"], state=r["state"].replace(b'"actor":"alice"', b'"actor":"mallory"'))
    raw.rechain(1)


def append_unsigned(raw: Raw) -> None:
    raw.insert(19, {**forged_source(raw, "appended"), "hash": "placeholder"})
    raw.rechain(19)


def append_with_a_copied_signature(raw: Raw) -> None:
    last = raw.row(18)
    raw.insert(19, {**forged_source(raw, "appended"), "hash": "placeholder", "signer": last["signer"],
                    "signature": last["signature"]})
    raw.rechain(19)


def truncate_and_regrow_signed_looking(raw: Raw) -> None:
    """Back to before R1 (the 6 events of the first complete writes kept), then 14 other events,
    each one a 'signed write' carrying alice's key id and one of her real signatures, copied from
    the signed rows it replaces, re-chained: longer than before, so that both receipts' positions
    exist again."""
    signatures = [r["signature"] for r in raw.rows() if r["signature"]]
    raw.delete(7, EVENTS)
    for n, position in enumerate(range(7, 21)):
        raw.insert(position, {**forged_source(raw, f"regrown-{n}"), "hash": "placeholder",
                              "signer": raw.row(6)["signer"], "signature": signatures[n % len(signatures)]})
    raw.rechain(7)


@dataclass
class Expected:
    plain: int | None  # the plain verify's first bad position; None: it passes
    plain_words: tuple[str, ...]
    r1: str | None  # words of R1's problem; None: R1 still holds
    r2: str | None


NOT_IN_CHAIN = "does not match the chain"
BAD_SIGNATURE = "does not hold"
UNTIL_RECEIPT = "does not verify up to the receipt's position"

KINDS: dict[str, tuple[Any, Expected]] = {
    "1-byte-of-a-state": (edit_a_byte, Expected(6, ("position 6", NOT_IN_CHAIN), UNTIL_RECEIPT, UNTIL_RECEIPT)),
    "2-topic": (change_a_topic, Expected(8, ("position 8", NOT_IN_CHAIN), UNTIL_RECEIPT, UNTIL_RECEIPT)),
    # the row after the hole no longer links; R1 (10) is before the hole and still holds
    "3-middle-delete": (delete_a_middle_row, Expected(13, ("position 13", NOT_IN_CHAIN), None, UNTIL_RECEIPT)),
    # a cut at a write's boundary leaves a log that is whole in itself: only a receipt catches it
    "4-tail-cut-1": (cut_the_tail_by_1,
                     Expected(None, (), None, "ends at position 17, before the receipt's position 18")),
    "5-tail-cut-3": (cut_the_tail_by_3,
                     Expected(None, (), None, "ends at position 15, before the receipt's position 18")),
    # but a cut inside a signed write (here the import 12-15) leaves events whose signature is gone
    "5b-cut-inside-a-signed-import": (cut_inside_a_signed_import, Expected(
        12, ("positions 12-13", "no signature covers them", "cut inside a signed write"), None, UNTIL_RECEIPT)),
    "6-swap": (swap_two_rows, Expected(5, ("position 5", NOT_IN_CHAIN), UNTIL_RECEIPT, UNTIL_RECEIPT)),
    "7-insert-made-up-hash": (insert_with_a_made_up_hash, Expected(12, ("position 12", NOT_IN_CHAIN), None,
                                                                    UNTIL_RECEIPT)),
    # the chain holds: the forged row is caught as unsigned under the policy
    "8-insert-rechained": (insert_rechained, Expected(12, ("position 12", "unsigned", "since position 4"), None,
                                                      UNTIL_RECEIPT)),
    "9-hash-overwritten": (overwrite_a_hash, Expected(7, ("position 7", NOT_IN_CHAIN), UNTIL_RECEIPT, UNTIL_RECEIPT)),
    # the chain holds: alice's signature over the edited write no longer does
    "10-edit-rechained": (edit_rechained, Expected(6, ("position 6", BAD_SIGNATURE, "signature"), UNTIL_RECEIPT,
                                                   UNTIL_RECEIPT)),
    "11-delete-rechained": (delete_rechained, Expected(6, ("positions 6-9", BAD_SIGNATURE, "signature"), UNTIL_RECEIPT,
                                                       UNTIL_RECEIPT)),
    # the first event changes too, so the ledger's id: the receipts are "of another ledger"
    "12-every-actor-rechained": (rewrite_every_actor, Expected(4, ("position 4", BAD_SIGNATURE), "another ledger",
                                                               "another ledger")),
    # after R2: the receipts still hold, the policy catches the append
    "13-append-unsigned": (append_unsigned, Expected(19, ("position 19", "unsigned", "signatures are required"),
                                                     None, None)),
    "14-append-copied-signature": (append_with_a_copied_signature, Expected(
        19, ("position 19", BAD_SIGNATURE, "signature"), None, None)),
    "15-truncate-and-regrow": (truncate_and_regrow_signed_looking, Expected(
        7, ("position 7", BAD_SIGNATURE, "signature"), UNTIL_RECEIPT, UNTIL_RECEIPT)),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_tampering_is_caught(victim, base, kind):
    run, raw = victim
    tamper, expected = KINDS[kind]
    tamper(raw)

    # with both receipts: always refused
    code, doc = run.verify(base.r1, base.r2)
    assert code == 1 and doc["ok"] is False
    problems = receipt_problems(doc)
    for problem, words in zip(problems, (expected.r1, expected.r2)):
        if words is None:
            assert problem is None
        else:
            assert problem is not None and words in problem, (kind, problems)
    assert [r["ok"] for r in doc["receipts"]] == [expected.r1 is None, expected.r2 is None]
    if expected.plain is not None:
        assert doc["first_bad_position"] == expected.plain, doc
        assert all(w in doc["problem"] for w in expected.plain_words), doc["problem"]
    else:  # the log itself holds: the problem is the receipt's
        assert doc["first_bad_position"] is None
        assert doc["problem"] == f"receipt {base.r2}: {problems[1]}"
    for problem in problems:
        if problem is not None and UNTIL_RECEIPT in problem:  # it carries the log's own problem
            assert problem.endswith(doc["problem"])

    # without receipts: every kind but a cut at a write's boundary
    code, plain = run.verify()
    if expected.plain is None:
        assert code == 0 and plain["ok"] is True and plain["problem"] is None
        assert plain["events"] == raw.count() and plain["signed"] + plain["unsigned"] == plain["events"]
    else:
        assert code == 1 and plain["ok"] is False
        assert plain["first_bad_position"] == expected.plain and plain["problem"] == doc["problem"]


def test_a_key_substituted_and_everything_re_signed_passes_alone_but_not_with_receipts(victim, base, tmp_path):
    """The strongest rewrite of the log: the attacker replaces alice's registered key (position 3)
    with one of their own, registered to alice, edits an event (case c1's title), re-chains and
    re-signs every write with their key. Signed by a key the log itself registers, under the same
    policy, the log holds in itself: plain verify passes. Only the receipts, signed with alice's
    real key and kept outside the database, catch it."""
    run, raw = victim
    made = new_key(tmp_path / "mallory")
    mallory = Signer(made.private_file)
    from ledger.app.application import LedgerApplication

    key_row = raw.row(3)
    doc = orjson.loads(key_row["state"])
    assert doc["owner"] == ALICE
    doc.update(key_id=mallory.key_id, public_key=mallory.public_key)
    stream = LedgerApplication.key_stream(mallory.key_id)
    raw.set(3, state=orjson.dumps(doc), originator_id=stream if raw.pg else stream.hex)
    raw.set(6, state=raw.row(6)["state"].replace(b"Case one", b"Case won"))
    raw.rechain(3)
    previous = raw.row(3)["hash"]
    for first, last in WRITES.items():
        for position in range(first, last + 1):
            raw.set(position, signer=mallory.key_id, signature=None)
        end = raw.row(last)["hash"]
        raw.set(last, signature=mallory.sign_write(previous, end))
        previous = end

    code, plain = run.verify()
    assert code == 0 and plain["ok"] is True
    assert (plain["events"], plain["signed"], plain["unsigned"]) == (EVENTS, EVENTS - UNSIGNED, UNSIGNED)
    code, doc = run.verify(base.r1, base.r2)
    assert code == 1 and doc["ok"] is False and doc["first_bad_position"] is None
    problems = receipt_problems(doc)
    for position, problem in zip((R1_POSITION, R2_POSITION), problems):
        assert problem == (f"the ledger no longer passes through the receipt's head at position {position}: "
                           "the log was rewritten at or before it")
    assert doc["problem"] == f"receipt {base.r1}: {problems[0]}"


def test_the_log_cut_back_before_the_policy_and_regrown_unsigned_is_caught_only_by_receipts(victim, base):
    """Another strong rewrite: back to before the key and the policy (2 events kept), then as many
    events as before, unsigned, re-chained. No policy, no key: the log holds in itself, and the
    receipts (their positions reached with other heads, their key no longer registered) catch it."""
    run, raw = victim
    raw.delete(3, EVENTS)
    for position in range(3, EVENTS + 1):
        raw.insert(position, {**forged_source(raw, f"regrown-{position}"), "hash": "placeholder"})
    raw.rechain(3)
    code, plain = run.verify()
    assert code == 0 and (plain["events"], plain["signed"], plain["unsigned"]) == (EVENTS, 0, EVENTS)
    assert plain["signatures_required_since"] is None
    code, doc = run.verify(base.r1, base.r2)
    assert code == 1 and doc["ok"] is False
    assert [r["ok"] for r in doc["receipts"]] == [False, False]
    assert all("no longer passes through the receipt's head" in p for p in receipt_problems(doc))
