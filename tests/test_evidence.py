"""Evidence beyond the chain: keys, signed writes, receipts, and the one-pass audit.

- the rules of `ledger.app.evidence.audit`, each on a log built in memory (ChainRow by ChainRow);
- a property: any log of signed and unsigned writes audits ok, and a flipped byte or a cut tail
  does not, with a receipt taken at its end;
- the application through the CLI on SQLite and PostgreSQL (`db_url`): what a signed write
  stores, what is refused and stores nothing, keys, checkpoints, history, copies;
- the installed console script in a real subprocess.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sqlite3
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.cli import cli
from ledger.app.evidence import (
    KEY_ADDED,
    KEY_REVOKED,
    POLICY_ADOPTED,
    Signer,
    audit,
    key_id_of,
    make_receipt,
    new_key,
    parse_public_key,
    signature_holds,
    write_message,
)
from ledger.domain.chain import GENESIS, ChainRow, link
from ledger.domain.values import derived_id
from tests.conftest import KeyedRunner

SOURCE_ADDED = "ledger.aggregates:Source.Added"
ACTORS = ("alice", "bob", "carol")


# ====================================================================== the audit, in memory


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Signer]:
    """One key per actor (module-scoped: hypothesis runs many examples per test)."""
    folder = tmp_path_factory.mktemp("keys")
    return {name: Signer(new_key(folder / name).private_file) for name in (*ACTORS, "mallory")}


def _state(**values: Any) -> bytes:
    """An event's stored state; its time differs from one event to the next, as in a real ledger."""
    return orjson.dumps({"timestamp": f"2024-05-01T00:00:00.{secrets.randbelow(10**6):06d}+00:00", **values})


def source(actor: str) -> tuple[str, str, bytes]:
    """A new source's event (stream, topic, state), recorded by `actor`."""
    name = f"s-{secrets.token_hex(4)}"
    return uuid.uuid4().hex, SOURCE_ADDED, _state(originator_topic="ledger.aggregates:Source", source_id=name,
                                                  data={"id": name}, actor=actor)


def key_added(key: Signer, owner: str, actor: str) -> tuple[str, str, bytes]:
    """As `ledger key add` stores it: in the key's own stream."""
    return (derived_id("key", key.key_id).hex, KEY_ADDED,
            _state(originator_topic="ledger.aggregates:Key", key_id=key.key_id, public_key=key.public_key,
                   owner=owner, reason="checked", actor=actor))


def key_revoked(key: Signer, actor: str) -> tuple[str, str, bytes]:
    """As `ledger key revoke` stores it: the next event of the key's stream, with no key_id in it."""
    return derived_id("key", key.key_id).hex, KEY_REVOKED, _state(reason="lost", actor=actor)


def policy(actor: str) -> tuple[str, str, bytes]:
    return (derived_id("policy", "require-signatures").hex, POLICY_ADOPTED,
            _state(originator_topic="ledger.aggregates:Policy", policy="require-signatures", reason="r", actor=actor))


class Log:
    """A log built write by write, each sealed into the chain and signed as the recorders do."""

    def __init__(self) -> None:
        self.rows: list[ChainRow] = []
        self.versions: dict[str, int] = {}

    @property
    def head(self) -> str:
        return self.rows[-1].hash if self.rows else GENESIS

    def write(self, *events: tuple[str, str, bytes], signer: Signer | None = None) -> Log:
        start = previous = self.head
        sealed = []
        for stream, topic, state in events:
            version = self.versions[stream] = self.versions.get(stream, 0) + 1
            previous = link(previous, stream, version, topic, state)
            sealed.append((len(self.rows) + len(sealed) + 1, stream, version, topic, state, previous))
        for n, values in enumerate(sealed):
            last = n == len(sealed) - 1
            self.rows.append(ChainRow(*values, signer=signer.key_id if signer else None,
                                      signature=signer.sign_write(start, previous) if signer and last else None))
        return self

    def receipt(self, key: Signer, actor: str, position: int | None = None) -> dict[str, Any]:
        position = len(self.rows) if position is None else position
        return make_receipt(key, actor, self.rows[0].hash, position, self.rows[position - 1].hash)


def registered(keys: dict[str, Signer], *actors: str) -> Log:
    """A log that opens with each actor's key registered, unsigned (before any policy)."""
    log = Log()
    for actor in actors:
        log.write(key_added(keys[actor], actor, actor))
    return log


def refused(rows: list[ChainRow], position: int | None, *words: str, receipts=()) -> str:
    result = audit(rows, receipts=receipts)
    assert result.ok is False and result.first_bad_position == position, result
    assert all(w in result.problem for w in words), result.problem
    return result.problem


def test_a_log_of_signed_and_unsigned_writes_audits_ok_with_exact_counts(keys):
    log = registered(keys, "alice", "bob")  # 1-2 unsigned
    log.write(source("alice"), source("alice"), source("alice"), signer=keys["alice"])  # 3-5
    log.write(source("carol"))  # 6 unsigned, before the policy
    log.write(policy("bob"), signer=keys["bob"])  # 7
    log.write(source("bob"), signer=keys["bob"])  # 8
    result = audit(log.rows)
    assert (result.ok, result.problem, result.events, result.signed, result.unsigned) == (True, None, 8, 5, 3)
    assert (result.policy, result.position, result.head, result.ledger) == (7, 8, log.head, log.rows[0].hash)
    assert sorted(k.owner for k in result.keys.values()) == ["alice", "bob"]


def test_a_write_signed_by_an_unregistered_key_is_refused(keys):
    log = registered(keys, "alice")
    log.write(source("bob"), source("bob"), signer=keys["bob"])  # 2-3: bob's key was never registered
    refused(log.rows, 2, "positions 2-3", keys["bob"].key_id, "not registered in this ledger")
    # nor does registering it afterwards make the write good
    log.write(key_added(keys["bob"], "bob", "alice"))
    refused(log.rows, 2, "not registered")


def test_a_write_signed_by_a_revoked_key_is_refused(keys):
    log = registered(keys, "alice")  # 1
    log.write(source("alice"), signer=keys["alice"])  # 2: before the revocation, good
    log.write(key_revoked(keys["alice"], "alice"), signer=keys["alice"])  # 3: its last signature, good
    result = audit(log.rows)
    assert result.ok and result.keys[keys["alice"].key_id].revoked == 3 and result.signed == 2
    log.write(source("alice"), signer=keys["alice"])  # 4: after it
    refused(log.rows, 4, "position 4", keys["alice"].key_id, "revoked at position 3")


def test_a_revocation_as_the_application_stores_it_is_seen(keys):
    """The Key.Revoked event the application stores carries no key_id (the key is its stream's):
    the audit must still see the key revoked."""
    log = registered(keys, "alice")
    log.write(key_revoked(keys["alice"], "bob"))  # unsigned, before any policy
    assert b"key_id" not in log.rows[-1].state
    assert audit(log.rows).keys[keys["alice"].key_id].revoked == 2


def test_a_write_signed_with_another_actors_key_is_refused(keys):
    log = registered(keys, "alice")
    log.write(source("alice"), source("bob"), signer=keys["alice"])  # 2-3: 3 is recorded as bob's
    refused(log.rows, 2, "position 3", "recorded by 'bob'", "signed with the key of 'alice'")


def test_a_key_registering_itself_is_good_before_the_policy_and_refused_after(keys):
    before = Log().write(key_added(keys["alice"], "alice", "alice"), source("alice"), signer=keys["alice"])
    assert audit(before.rows).ok and audit(before.rows).signed == 2

    log = registered(keys, "alice")
    log.write(policy("alice"), signer=keys["alice"])  # 2
    log.write(key_added(keys["bob"], "bob", "bob"), signer=keys["bob"])  # 3: bob's key vouches for itself
    refused(log.rows, 3, "position 3", keys["bob"].key_id, "registers itself")
    # registered by alice's write, bob's key signs from then on
    good = registered(keys, "alice").write(policy("alice"), signer=keys["alice"])
    good.write(key_added(keys["bob"], "bob", "alice"), signer=keys["alice"])
    good.write(source("bob"), signer=keys["bob"])
    assert audit(good.rows).ok


def test_an_unsigned_event_after_the_policy_is_refused(keys):
    log = registered(keys, "alice")  # 1
    log.write(source("bob"))  # 2: unsigned before the policy, good
    log.write(policy("alice"), signer=keys["alice"])  # 3
    assert audit(log.rows).ok
    log.write(source("alice"))  # 4
    refused(log.rows, 4, "position 4", "unsigned", "required since position 3")


def test_a_signed_write_cut_short_is_refused(keys):
    log = registered(keys, "alice")
    log.write(source("alice"), source("alice"), source("alice"), signer=keys["alice"])  # 2-4
    # the tail cut inside the write: 2-3 carry the signer, no signature
    refused(log.rows[:3], 2, "positions 2-3", "no signature covers them", "cut inside a signed write")
    # the signature dropped, an unsigned event after it
    rows = [*log.rows[:3], ChainRow(4, *[getattr(log.rows[3], f) for f in
                                         ("originator_id", "originator_version", "topic", "state", "hash")])]
    refused(rows, 2, "positions 2-3", "no signature covers them", "cut short")
    # another signer inside the write
    rows = [*log.rows[:2], _with(log.rows[2], signer=keys["bob"].key_id), log.rows[3]]
    refused(rows, 3, "position 3", f"carries signer {keys['bob'].key_id} inside a write signed by")
    # a signature without a signer
    refused([_with(log.rows[0], signature=log.rows[3].signature)], 1, "position 1", "signature but no signer")


def _with(row: ChainRow, **changes: Any) -> ChainRow:
    values = {f: getattr(row, f) for f in ("position", "originator_id", "originator_version", "topic", "state",
                                            "hash", "signer", "signature", "db_role")}
    return ChainRow(**{**values, **changes})


def test_a_bad_signature_is_refused(keys):
    log = registered(keys, "alice").write(source("alice"), signer=keys["alice"])
    signature = bytearray(base64.b64decode(log.rows[1].signature))
    signature[10] ^= 0x04
    rows = [log.rows[0], _with(log.rows[1], signature=base64.b64encode(bytes(signature)).decode())]
    refused(rows, 2, "signature of the write at position 2 does not hold")
    # a good signature of another key, in the name of alice's
    forged = keys["mallory"].sign_write(log.rows[0].hash, log.rows[1].hash)
    refused([log.rows[0], _with(log.rows[1], signature=forged)], 2, "does not hold", keys["alice"].key_id)


# ---------------------------------------------------------------------- receipts, in memory


def _receipt_problem(rows: list[ChainRow], receipt: dict[str, Any]) -> str:
    result = audit(rows, receipts=[("r.json", receipt)])
    check = result.receipts[0]
    assert result.ok is False and check.ok is False and check.problem
    assert result.problem == f"receipt r.json: {check.problem}"
    return check.problem


def _three_writes(keys) -> Log:
    log = registered(keys, "alice")
    log.write(source("alice"), signer=keys["alice"])
    log.write(source("alice"), source("alice"), signer=keys["alice"])
    return log


def test_a_receipt_of_the_log_holds(keys):
    log = _three_writes(keys)
    result = audit(log.rows, receipts=[("mid", log.receipt(keys["alice"], "alice", 2)),
                                       ("end", log.receipt(keys["alice"], "alice"))])
    assert result.ok and [(c.ok, c.problem, c.reached) for c in result.receipts] == [(True, None, True)] * 2


def test_a_receipt_with_a_flipped_bit_in_its_signature_is_refused(keys):
    log = _three_writes(keys)
    receipt = log.receipt(keys["alice"], "alice")
    signature = bytearray(base64.b64decode(receipt["signature"]))
    signature[0] ^= 0x01
    receipt["signature"] = base64.b64encode(bytes(signature)).decode()
    assert "the receipt's signature does not hold" in _receipt_problem(log.rows, receipt)
    # and any field changed after signing
    receipt = {**log.receipt(keys["alice"], "alice"), "at": "2020-01-01T00:00:00+00:00"}
    assert "the receipt's signature does not hold" in _receipt_problem(log.rows, receipt)


def test_a_receipt_of_another_ledger_is_refused(keys):
    log, other = _three_writes(keys), _three_writes(keys)
    for position in (4, 2):  # a position this log has too: the receipt is still of another ledger
        problem = _receipt_problem(log.rows, other.receipt(keys["alice"], "alice", position))
        assert problem == (f"the receipt is of another ledger ({other.rows[0].hash[:16]}...), not this one "
                           f"({log.rows[0].hash[:16]}...), or this ledger's first event was rewritten")


def test_a_receipt_naming_an_actor_the_key_is_not_registered_to_is_refused(keys):
    log = _three_writes(keys)
    receipt = log.receipt(keys["alice"], "bob")  # alice's key, bob's name: its signature holds
    assert _receipt_problem(log.rows, receipt) == (
        f"the receipt names 'bob', but key {keys['alice'].key_id} is registered to 'alice'")
    # bob's own key, never registered in this ledger
    assert "which this ledger had not registered at position" in _receipt_problem(
        log.rows, log.receipt(keys["bob"], "bob"))


def test_a_receipt_by_a_key_registered_after_its_position_is_refused(keys):
    log = registered(keys, "alice")
    log.write(source("alice"), signer=keys["alice"])  # 2
    log.write(key_added(keys["bob"], "bob", "alice"), signer=keys["alice"])  # 3
    receipt = log.receipt(keys["bob"], "bob", position=2)
    assert _receipt_problem(log.rows, receipt) == (
        f"the receipt is signed by key {keys['bob'].key_id}, which this ledger had not registered at position 2")
    assert audit(log.rows, receipts=[("r", log.receipt(keys["bob"], "bob", position=3))]).ok


def test_a_receipt_by_a_key_revoked_at_or_before_its_position_is_refused(keys):
    log = registered(keys, "alice", "bob")
    log.write(key_revoked(keys["bob"], "bob"), signer=keys["bob"])  # 3: bob revokes his own key
    assert "revoked at position 3" in _receipt_problem(log.rows, log.receipt(keys["bob"], "bob", position=3))
    assert audit(log.rows, receipts=[("r", log.receipt(keys["bob"], "bob", position=2))]).ok


def test_a_receipt_beyond_the_end_of_the_log_is_refused(keys):
    log = _three_writes(keys)
    receipt = log.receipt(keys["alice"], "alice")  # position 4
    assert _receipt_problem(log.rows[:2], receipt) == (
        "the ledger ends at position 2, before the receipt's position 4: the log was cut back")


def test_a_receipt_of_a_rewritten_log_is_refused(keys):
    log = _three_writes(keys)
    receipt = log.receipt(keys["alice"], "alice", position=2)
    rewritten = Log()  # the same first event, then other writes
    rewritten.rows, rewritten.versions = [log.rows[0]], {log.rows[0].originator_id: 1}
    rewritten.write(source("alice"), signer=keys["alice"]).write(source("alice"), signer=keys["alice"])
    assert audit(rewritten.rows).ok
    assert _receipt_problem(rewritten.rows, receipt) == (
        "the ledger no longer passes through the receipt's head at position 2: the log was rewritten at or before it")


def test_a_receipt_past_an_event_that_breaks_the_log_says_so(keys):
    """The audit stops at the bad event; the receipt's problem is that one, not a cut log."""
    log = _three_writes(keys)
    rows = [log.rows[0], _with(log.rows[1], state=log.rows[1].state.replace(b"alice", b"alicf")), *log.rows[2:]]
    result = audit(rows, receipts=[("r.json", log.receipt(keys["alice"], "alice"))])
    broken = ("event at position 2 does not match the chain: an event was edited, removed or inserted here or "
              "just before")
    assert (result.ok, result.first_bad_position, result.problem) == (False, 2, broken)
    assert result.receipts[0].ok is False
    assert result.receipts[0].problem == f"the log does not verify up to the receipt's position: {broken}"


# ---------------------------------------------------------------------- the property


WRITE = st.tuples(st.integers(1, 4), st.sampled_from((None, "alice", "bob")))  # (size, signed by)


def build(keys, before: list, adopt: bool, after: list) -> tuple[Log, int]:
    """Keys of alice and bob registered; writes of random sizes, signed or not, before the
    policy; then, if adopted, signed writes only. Returns the log and its number of signed events."""
    log = registered(keys, "alice", "bob")
    signed = 0
    for size, by in before:
        log.write(*(source(by or "carol") for _ in range(size)), signer=keys[by] if by else None)
        signed += size if by else 0
    if adopt:
        log.write(policy("alice"), signer=keys["alice"])
        signed += 1
        for size, by in after:
            log.write(*(source(by or "alice") for _ in range(size)), signer=keys[by or "alice"])
            signed += size
    return log, signed


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(WRITE, max_size=6), adopt=st.booleans(), after=st.lists(WRITE, max_size=4), data=st.data())
def test_any_log_audits_ok_and_no_byte_flip_or_tail_cut_survives_a_receipt(keys, before, adopt, after, data):
    log, signed = build(keys, before, adopt, after)
    rows, n = log.rows, len(log.rows)
    result = audit(rows)
    assert result.ok, result.problem
    assert (result.events, result.signed, result.unsigned) == (n, signed, n - signed)
    assert result.signed + result.unsigned == result.events
    receipt = [("end", log.receipt(keys["alice"], "alice"))]
    assert audit(rows, receipts=receipt).ok

    # any single byte of any state flipped
    index = data.draw(st.integers(0, n - 1), label="row")
    state = bytearray(rows[index].state)
    offset = data.draw(st.integers(0, len(state) - 1), label="byte")
    state[offset] ^= data.draw(st.integers(1, 255), label="xor")
    flipped = [*rows[:index], _with(rows[index], state=bytes(state)), *rows[index + 1:]]
    result = audit(flipped, receipts=receipt)
    assert not result.ok and result.first_bad_position == index + 1 and not result.receipts[0].ok

    # any proper tail cut, down to nothing
    keep = data.draw(st.integers(0, n - 1), label="keep")
    result = audit(rows[:keep], receipts=receipt)
    assert not result.ok and not result.receipts[0].ok
    assert result.receipts[0].problem == (
        f"the ledger ends at position {keep}, before the receipt's position {n}: the log was cut back"
        if audit(rows[:keep]).ok else
        f"the log does not verify up to the receipt's position: {audit(rows[:keep]).problem}")


# ====================================================================== the application, both backends


class Cli(KeyedRunner):
    """The CLI from a working folder, with the key-making steps this file repeats."""

    def new_key(self, name: str) -> str:
        """A key pair in the folder; its public key."""
        self("key", "new", "-o", str(self.folder / name))
        return (self.folder / f"{name}.pub").read_text().strip()


def _pg(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {"dbname": unquote(parts.path.lstrip("/")), "host": parts.hostname or "127.0.0.1",
            "port": str(parts.port or 5432), "user": unquote(parts.username or "postgres")}


def _is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def events(url: str) -> list[dict[str, Any]]:
    """The events table itself, by raw SQL: position, signer, signature, hash, db_role."""
    if _is_pg(url):
        import psycopg

        p = _pg(url)
        with psycopg.connect(dbname=p["dbname"], user=p["user"], host=p["host"], port=p["port"]) as con:
            got = con.execute("SELECT notification_id, signer, signature, hash, db_role FROM public.ledger_events "
                              "ORDER BY notification_id").fetchall()
    else:
        if not Path(url).exists():
            return []
        con = sqlite3.connect(url)
        try:
            if not con.execute("select 1 from sqlite_master where name='stored_events'").fetchall():
                return []
            got = con.execute(
                "SELECT rowid, signer, signature, hash, NULL FROM stored_events ORDER BY rowid").fetchall()
        finally:
            con.close()
    return [dict(zip(("position", "signer", "signature", "hash", "db_role"), r)) for r in got]


def append(url: str, stream: str, topic: str, state: bytes, sealed: str, signer: str, signature: str) -> None:
    """One row appended to the events table by raw SQL (version 1 of a new stream)."""
    values = (stream, 1, topic, state, sealed, signer, signature)
    columns = "originator_id, originator_version, topic, state, hash, signer, signature"
    if _is_pg(url):
        import psycopg

        p = _pg(url)
        with psycopg.connect(dbname=p["dbname"], user=p["user"], host=p["host"], port=p["port"]) as con:
            con.execute(f"INSERT INTO public.ledger_events ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (uuid.UUID(stream), *values[1:]))
    else:
        con = sqlite3.connect(url)
        try:
            with con:
                con.execute(f"INSERT INTO stored_events ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        finally:
            con.close()


@pytest.fixture
def run(db_url, tmp_path) -> Cli:
    return Cli(db_url, tmp_path)


@pytest.fixture
def alice(run) -> str:
    """A ledger with one unsigned event, then alice's key `k` registered (unsigned, position 2):
    her key id."""
    run("source", "add", "s0", "--publisher", "P", "--title", "T", actor="alice")
    public = run.new_key("k")
    made = run.json("key", "add", "alice", public, "--reason", "her laptop", actor="alice")
    assert made["position"] == 2 and made["actor"] == "alice"
    return made["key"]


def jsonl(path: Path, lines: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


IMPORT = [
    {"op": "source.add", "id": "s2", "publisher": "P2", "title": "T2"},
    {"op": "entity.add", "id": "e3", "kind": "person", "name": "E Three"},
    {"op": "case.open", "id": "c1", "title": "Case one"},
    {"op": "record.probe", "case": "c1", "on": "2024-01", "sources": ["s2"], "authority": "e1",
     "subjects": ["e3"], "key": "probe-1"},
    {"op": "source.add", "id": "s3", "publisher": "P3", "title": "T3"},
]


def test_every_event_of_a_signed_write_carries_the_signer_and_its_last_the_signature(run, alice, tmp_path):
    assert run.json("source", "add", "s1", "--publisher", "P", "--title", "T", key="k")["position"] == 3
    run("entity", "add", "e1", "--kind", "organization", "--name", "E One", key="k")  # 4
    run("entity", "add", "e2", "--kind", "organization", "--name", "E 1", key="k")  # 5
    assert run.json("entity", "merge", "e2", "e1", "--reason", "the same", key="k")["position"] == 7  # 6-7
    done = run.json("import", jsonl(tmp_path / "a.jsonl", IMPORT), "--batch", "2", key="k")  # 8-9, 10-11, 12
    assert (done["imported"], done["position"]) == (5, 12)

    rows = events(run.url)
    assert [r["position"] for r in rows] == list(range(1, 13))
    assert [r["signer"] for r in rows] == [None, None] + [alice] * 10
    # exactly the last event of each write: 3, 4, 5, the merge 6-7, the import's batches 8-9, 10-11, 12
    assert [r["position"] for r in rows if r["signature"] is not None] == [3, 4, 5, 7, 9, 11, 12]
    public = parse_public_key((tmp_path / "k.pub").read_text())
    assert key_id_of(public) == alice
    previous = rows[1]["hash"]
    for r in rows[2:]:
        if r["signature"] is not None:  # over the chain's hash before the write and at its end
            assert signature_holds(public, write_message(previous, r["hash"]), r["signature"])
            assert not signature_holds(public, write_message(GENESIS, r["hash"]), r["signature"])
            previous = r["hash"]
    verdict = run.json("verify")
    assert (verdict["ok"], verdict["events"], verdict["signed"], verdict["unsigned"]) == (True, 12, 10, 2)


def test_history_shows_each_events_signer_or_unsigned(run, alice):
    run("case", "open", "c1", "--title", "Case one", key="k")
    history = run.json("history")
    assert [(h["position"], h["signer"], h["recorded_by"]) for h in history] == [
        (1, "unsigned", "alice"), (2, "unsigned", "alice"), (3, alice, "alice")]
    roles = {h["db_role"] for h in history}
    assert roles == ({_pg(run.url)["user"]} if _is_pg(run.url) else {None})
    assert [h["signer"] for h in run.json("history", "c1")] == [alice]


def test_an_actor_that_disagrees_with_the_key_is_refused(run, alice, tmp_path):
    before = events(run.url)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k", actor="bob", code=1)
    assert result.stderr == (f"Error: --actor 'bob' disagrees with --key: key {alice} is registered to 'alice'; "
                             "nothing was stored\n")
    run("import", jsonl(tmp_path / "a.jsonl", IMPORT[:1]), key="k", actor="bob", code=1)
    assert events(run.url) == before
    assert run.json("source", "add", "s1", "--publisher", "P", "--title", "T", key="k", actor="alice")["position"] == 3


def test_an_unregistered_key_is_refused(run, alice, tmp_path):
    run.new_key("k2")
    k2 = Signer(tmp_path / "k2").key_id
    before = events(run.url)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k2", code=1)
    assert f"key {k2} is not registered in this ledger" in result.stderr and "nothing was stored" in result.stderr
    run("import", jsonl(tmp_path / "a.jsonl", IMPORT[:2]), key="k2", code=1)
    assert events(run.url) == before


def test_a_revoked_key_is_refused(run, alice, tmp_path):
    assert run.json("key", "revoke", alice, "--reason", "laptop lost", key="k")["position"] == 3
    before = events(run.url)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k", code=1)
    assert result.stderr == f"Error: key {alice} was revoked: it signs nothing more; nothing was stored\n"
    run("import", jsonl(tmp_path / "a.jsonl", IMPORT[:2]), key="k", code=1)
    assert events(run.url) == before


def test_a_revocation_is_seen_by_key_list_checkpoint_and_verify(run, alice, tmp_path):
    """The audit reads the revocation from the log (the Key.Revoked event carries no key id:
    the key is its stream's): `key list` says so, no receipt is signed with the revoked key,
    and a signed write forged after the revocation with the old key fails verify."""
    run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k")  # 3
    run("key", "revoke", alice, "--reason", "laptop lost", key="k")  # 4
    assert [(k["key"], k["registered_at"], k["revoked_at"]) for k in run.json("key", "list")] == [(alice, 2, 4)]
    result = run("checkpoint", key="k", code=1)
    assert result.stderr == f"Error: key {alice} is revoked: a receipt is signed with a registered key\n"
    assert run.json("verify")["ok"] is True

    # whoever holds the old key and the database appends a write signed with it (an INSERT: the
    # triggers refuse only UPDATE and DELETE), sealed into the chain as a writer would
    stream, topic, state = source("alice")
    previous = events(run.url)[-1]["hash"]
    sealed = link(previous, stream, 1, topic, state)
    append(run.url, stream, topic, state, sealed, alice, Signer(tmp_path / "k").sign_write(previous, sealed))
    assert events(run.url)[-1]["signer"] == alice
    verdict = json.loads(run("verify", "--json", code=1).stdout)
    assert verdict["first_bad_position"] == 5
    assert verdict["problem"] == f"the write at position 5 is signed by key {alice}, revoked at position 4"


def test_a_key_may_sign_its_own_revocation(run, alice):
    run("policy", "require-signatures", "--reason", "r", key="k")  # 3
    run("key", "add", "alice", run.new_key("k2"), "--reason", "her new laptop", key="k")  # 4
    done = run.json("key", "revoke", alice, "--reason", "leaked: revoked by its holder", key="k")
    assert done["position"] == 5
    assert run.json("verify")["ok"] is True


def test_the_last_key_is_not_revoked_under_the_policy(run, alice):
    run("policy", "require-signatures", "--reason", "r", key="k")  # 3
    before = events(run.url)
    result = run("key", "revoke", alice, "--reason", "lost", key="k", code=1)
    assert "the last key not revoked" in result.stderr and "register another key first" in result.stderr
    assert events(run.url) == before


def test_only_its_owner_or_its_sponsor_revokes_a_key_or_replaces_it(run, alice):
    """bob, who holds a key of his own, can neither revoke alice's key nor register one for her;
    carol's key, which alice registered (her sponsor), alice may revoke and replace."""
    bob = run.json("key", "add", "bob", run.new_key("b"), "--reason", "his", key="b", actor="bob")["key"]
    carol = run.json("key", "add", "carol", run.new_key("c"), "--reason", "alice vouches", key="k")["key"]
    before = events(run.url)
    assert "a key of its owner (alice)" in run("key", "revoke", alice, "--reason", "x", key="b", code=1).stderr
    assert "has or had a key" in run("key", "add", "alice", run.new_key("evil"), "--reason", "x", key="b",
                                     code=1).stderr
    run("key", "revoke", carol, "--reason", "x", key="b", code=1)
    assert events(run.url) == before
    run("key", "revoke", carol, "--reason", "carol lost it", key="k")  # her sponsor
    run("key", "add", "carol", run.new_key("c2"), "--reason", "a new one, alice vouches", key="k")
    assert "has or had a key" in run("key", "add", "carol", run.new_key("c3"), "--reason", "x", key="b",
                                     code=1).stderr
    assert [k["actor"] for k in run.json("key", "list") if k["revoked_at"] is None] == ["alice", "bob", "carol"]
    assert run.json("verify")["ok"] is True and bob


def test_after_the_policy_unsigned_writes_and_imports_are_refused(run, alice, tmp_path):
    assert run.json("policy", "require-signatures", "--reason", "all signed", key="k")["position"] == 3
    before = events(run.url)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", actor="alice", code=1)
    assert result.stderr == ("Error: this ledger requires signed writes (policy require-signatures): give --key "
                             "KEYFILE or set LEDGER_KEY; nothing was stored\n")
    result = run("import", jsonl(tmp_path / "a.jsonl", IMPORT[:3]), actor="alice", code=1)
    assert "requires signed writes" in result.stderr
    run("key", "revoke", alice, "--reason", "r", actor="alice", code=1)  # unsigned
    assert events(run.url) == before
    # signed, it goes on
    assert run.json("import", jsonl(tmp_path / "b.jsonl", IMPORT[:3]), key="k")["position"] == 6
    verdict = run.json("verify")
    assert (verdict["signed"], verdict["unsigned"], verdict["signatures_required_since"]) == (4, 2, 3)


def test_the_policy_must_itself_be_signed(run, alice):
    before = events(run.url)
    result = run("policy", "require-signatures", "--reason", "r", actor="alice", code=1)
    assert result.stderr == ("Error: policy require-signatures must itself be signed, by a registered key: give "
                             "--key KEYFILE; nothing was stored\n")
    run.new_key("k2")  # a key nobody registered
    run("policy", "require-signatures", "--reason", "r", key="k2", code=1)
    assert events(run.url) == before
    assert run.json("verify")["signatures_required_since"] is None


@pytest.mark.parametrize("public", ["not a key", base64.b64encode(b"x" * 31).decode(),
                                    base64.b64encode(b"x" * 33).decode(), "-----BEGIN PUBLIC KEY-----\nAAAA\n"])
def test_key_add_of_a_bad_public_key_is_bad_input(run, alice, public):
    before = events(run.url)
    result = run("key", "add", "--reason", "r", "--", "bob", public, actor="alice", code=2)
    assert result.stderr.startswith("Error: PUBLIC_KEY: ")
    assert events(run.url) == before


def test_key_new_writes_a_private_0600_file_a_pub_file_and_never_prints_or_overwrites(tmp_path):
    runner = CliRunner()
    key = tmp_path / "k"
    result = runner.invoke(cli, ["key", "new", "-o", str(key)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    pem = key.read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    body = "".join(pem.strip().splitlines()[1:-1])
    assert len(body) > 40
    public = (tmp_path / "k.pub").read_text().strip()
    signer = Signer(key)
    assert public == signer.public_key and key_id_of(parse_public_key(public)) == signer.key_id
    assert result.stdout == public + "\n" and signer.key_id in result.stderr
    as_json = runner.invoke(cli, ["key", "new", "-o", str(tmp_path / "j"), "--json"])
    assert json.loads(as_json.stdout)["public_key"] == (tmp_path / "j.pub").read_text().strip()
    for out in (result.stdout, result.stderr, as_json.stdout, as_json.stderr):
        assert "PRIVATE" not in out and body not in out and body[:32] not in out
        assert "".join((tmp_path / "j").read_text().strip().splitlines()[1:-1])[:32] not in out
    # never over an existing file: the private key's, or only the .pub's
    again = runner.invoke(cli, ["key", "new", "-o", str(key)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert key.read_text() == pem and (tmp_path / "k.pub").read_text().strip() == public
    (tmp_path / "m.pub").write_text("mine\n")
    blocked = runner.invoke(cli, ["key", "new", "-o", str(tmp_path / "m")])
    assert blocked.exit_code == 1 and "m.pub already exists" in blocked.stderr
    assert not (tmp_path / "m").exists() and (tmp_path / "m.pub").read_text() == "mine\n"


def test_a_key_file_others_may_read_is_refused(run, alice, tmp_path):
    os.chmod(tmp_path / "k", 0o644)
    before = events(run.url)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k", code=1)
    assert "may be read by others (mode 644)" in result.stderr and "chmod 600" in result.stderr
    run("checkpoint", key="k", code=1)
    assert events(run.url) == before
    os.chmod(tmp_path / "k", 0o600)
    run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k")


def test_checkpoint_needs_a_registered_key(run, alice, tmp_path):
    result = run("checkpoint", code=1)
    assert result.stderr == "Error: a receipt is signed: give --key KEYFILE (or set LEDGER_KEY)\n"
    run.new_key("k2")
    result = run("checkpoint", key="k2", code=1)
    assert "is not registered in this ledger" in result.stderr
    receipt = json.loads(run("checkpoint", key="k").stdout)
    assert (receipt["position"], receipt["key"], receipt["actor"]) == (2, alice, "alice")
    assert receipt["head"] == events(run.url)[-1]["hash"] and receipt["ledger"] == events(run.url)[0]["hash"]


def test_a_copy_keeps_the_signatures_and_a_receipt_of_the_source_holds_on_it(run, alice, tmp_path):
    run("policy", "require-signatures", "--reason", "r", key="k")  # 3
    run("import", jsonl(tmp_path / "a.jsonl", IMPORT[:3]), "--batch", "2", key="k")  # 4-5, 6
    run("checkpoint", "-o", str(tmp_path / "r.json"), key="k")
    source_verdict = run.json("verify", "--receipt", str(tmp_path / "r.json"))
    assert source_verdict["ok"] and (source_verdict["signed"], source_verdict["unsigned"]) == (4, 2)

    if _is_pg(run.url):
        target = _new_pg_database(run.url)
    else:
        target = str(tmp_path / "copy.db")
    try:
        copied = run.json("copy", "--to", target)
        assert (copied["copied"], copied["events"], copied["head"]) == (6, 6, source_verdict["head"])
        strip = [{k: r[k] for k in ("position", "signer", "signature", "hash")} for r in events(run.url)]
        assert [{k: r[k] for k in ("position", "signer", "signature", "hash")} for r in events(target)] == strip
        verdict = Cli(target, tmp_path).json("verify", "--receipt", str(tmp_path / "r.json"))
        assert verdict["ok"] is True and verdict["receipts"][0]["ok"] is True
        for field in ("events", "signed", "unsigned", "head", "ledger", "signatures_required_since"):
            assert verdict[field] == source_verdict[field], field
    finally:
        if _is_pg(run.url):
            _drop_pg_database(target)


def _new_pg_database(url: str) -> str:
    import psycopg

    p = _pg(url)
    name = f"ledger_evidence_copy_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(dbname="postgres", user=p["user"], host=p["host"], port=p["port"], autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(url: str) -> None:
    import psycopg

    p = _pg(url)
    with psycopg.connect(dbname="postgres", user=p["user"], host=p["host"], port=p["port"], autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{p["dbname"]}" WITH (FORCE)')


# ====================================================================== the installed command


def _ledger_command() -> list[str]:
    beside = Path(sys.executable).parent / "ledger"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("ledger")
    return [found] if found else [sys.executable, "-m", "commands.cli"]


def test_the_console_script_signs_checkpoints_and_verifies(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_KEY", "LEDGER_ACTOR", "LEDGER_DB")}
    db = str(tmp_path / "l.db")

    def ledger(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        done = subprocess.run([*_ledger_command(), "--db", db, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120, check=False)
        assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
        return done

    public = ledger("key", "new", "-o", "alice.key").stdout.strip()
    assert public == (tmp_path / "alice.key.pub").read_text().strip()
    assert stat.S_IMODE((tmp_path / "alice.key").stat().st_mode) == 0o600
    key_id = Signer(tmp_path / "alice.key").key_id
    assert ledger("--actor", "alice", "key", "add", "alice", public, "--reason", "r").stdout == (
        f"registered key {key_id} for alice at position 1\n")
    assert ledger("--key", "alice.key", "source", "add", "s1", "--publisher", "P", "--title", "T").stdout == (
        "source s1: recorded at position 2\n")
    ledger("--key", "alice.key", "checkpoint", "-o", "r.json")
    receipt = json.loads((tmp_path / "r.json").read_text())
    assert (receipt["position"], receipt["key"], receipt["actor"]) == (2, key_id, "alice")
    verdict = json.loads(ledger("verify", "--receipt", "r.json", "--json").stdout)
    assert (verdict["ok"], verdict["events"], verdict["signed"], verdict["unsigned"], verdict["head"]) == (
        True, 2, 1, 1, receipt["head"])
    assert [(r["file"], r["ok"]) for r in verdict["receipts"]] == [("r.json", True)]
    assert "receipt r.json: ok, position 2, signed by alice" in ledger("verify", "--receipt", "r.json").stdout
    # the receipt of another ledger fails there
    other = str(tmp_path / "other.db")
    subprocess.run([*_ledger_command(), "--db", other, "--actor", "alice", "source", "add", "s9", "--publisher", "P",
                    "--title", "T"], check=True, capture_output=True, env=env, cwd=tmp_path, timeout=120)
    failed = subprocess.run([*_ledger_command(), "--db", other, "verify", "--receipt", "r.json"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert failed.returncode == 1 and "the receipt is of another ledger" in failed.stderr


# ---------------------------------------------------------------------- who may change the keys (audit)


def test_the_audit_fails_a_revocation_by_anyone_but_the_owner_or_the_sponsor(keys):
    log = registered(keys, "alice", "bob")
    log.write(key_revoked(keys["alice"], "bob"), signer=keys["bob"])  # 3: bob revokes alice's key
    refused(log.rows, 3, "revoked at position 3", "which may not")
    own = registered(keys, "alice", "bob").write(key_revoked(keys["alice"], "alice"), signer=keys["alice"])
    assert audit(own.rows).ok


def test_the_audit_fails_a_revocation_nobody_signed(keys):
    log = registered(keys, "alice").write(key_revoked(keys["alice"], "alice"))  # 2, unsigned
    refused(log.rows, 2, "revoked at position 2", "nobody signed")


def test_the_audit_fails_a_key_for_someone_who_has_one_registered_by_another(keys):
    log = registered(keys, "alice", "bob")
    log.write(key_added(keys["mallory"], "alice", "bob"), signer=keys["bob"])  # 3: bob gives alice a key he holds
    refused(log.rows, 3, "registered at position 3 for 'alice'", "which may not")
    unsigned = registered(keys, "alice").write(key_added(keys["mallory"], "alice", "alice"))
    refused(unsigned.rows, 2, "registered at position 2 for 'alice'", "nobody signed")


def test_the_sponsor_of_a_first_key_may_revoke_and_replace_it(keys):
    log = registered(keys, "alice")
    log.write(key_added(keys["carol"], "carol", "alice"), signer=keys["alice"])  # 2: alice vouches for carol
    log.write(key_revoked(keys["carol"], "alice"), signer=keys["alice"])  # 3
    log.write(key_added(keys["mallory"], "carol", "alice"), signer=keys["alice"])  # 4: carol's new key
    result = audit(log.rows)
    assert result.ok, result.problem
    assert result.keys[keys["mallory"].key_id].owner == "carol" and result.keys[keys["carol"].key_id].revoked == 3


def test_an_unsigned_registration_gives_no_sponsor_so_no_chain_of_names_takes_a_name_over(run, tmp_path):
    """The second review's attack: alice's key registered unsigned by 'lead' (a name with no key);
    mallory registers a first key for 'lead', and with it tries to give alice a new key."""
    run("source", "add", "s0", "--publisher", "P", "--title", "T", actor="lead")
    alice = run.json("key", "add", "alice", run.new_key("a"), "--reason", "x", actor="lead")["key"]
    run("key", "add", "mallory", run.new_key("m"), "--reason", "x", actor="mallory")
    run("policy", "require-signatures", "--reason", "x", key="a")
    run("key", "add", "lead", run.new_key("m2"), "--reason", "x", key="m")  # a first key: allowed, and shown
    before = events(run.url)
    assert "has or had a key" in run("key", "add", "alice", run.new_key("m3"), "--reason", "x", key="m2",
                                     code=1).stderr
    assert "revoked in a write signed with a key of its owner (alice)" in run(
        "key", "revoke", alice, "--reason", "x", key="m2", code=1).stderr
    assert events(run.url) == before
    lead = next(k for k in run.json("key", "list") if k["actor"] == "lead")
    assert lead["registered_by"] == "mallory"


@pytest.mark.parametrize("name", ["Alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45"])
def test_a_name_that_differs_only_in_case_or_width_is_the_same_person(run, alice, name):
    run.new_key("b")
    run("key", "add", "bob", run.new_key("b2"), "--reason", "x", key="b2", actor="bob")
    result = run("key", "add", name, run.new_key("x"), "--reason", "x", key="b2", code=1)
    assert "has or had a key" in result.stderr


@pytest.mark.parametrize("name", ["alice\u034f", "alice\ufe0f", "\u3164alice", "alice\u2800", "\u0430lice"])
def test_names_that_hide_or_borrow_letters_are_refused(run, name):
    result = run("key", "add", name, run.new_key("x"), "--reason", "x", actor="bob", code=2)
    assert result.stderr.startswith("Error: ACTOR: ") and ("invisible" in result.stderr or "mix" in result.stderr)


def test_the_audit_fails_a_key_registered_for_a_name_the_ledger_refuses(keys):
    log = registered(keys, "alice").write(key_added(keys["bob"], "b\u200bob", "alice"), signer=keys["alice"])
    refused(log.rows, 2, "a name the ledger refuses")


def _raw(url: str, *statements: str) -> None:
    if _is_pg(url):
        import psycopg

        with psycopg.connect(**_pg(url), autocommit=True) as con:
            for statement in statements:
                con.execute(statement)
        return
    con = sqlite3.connect(url)
    try:
        for statement in statements:
            con.execute(statement)
        con.commit()
    finally:
        con.close()


def test_a_receipt_a_ledger_cannot_keep_is_still_written_out_and_said_not_kept(run, alice, tmp_path):
    _raw(run.url, "DROP TABLE ledger_receipts")  # a ledger made before receipts
    result = run("checkpoint", "-o", str(tmp_path / "r.json"), key="k")
    assert "the receipt is not kept in the ledger" in result.stderr
    assert run.json("verify", "--receipt", str(tmp_path / "r.json"))["ok"]


def test_a_receipt_refused_for_another_reason_is_an_error_not_a_quiet_not_kept(run, alice, tmp_path):
    if _is_pg(run.url):
        _raw(run.url, "CREATE FUNCTION no_receipt() RETURNS trigger LANGUAGE plpgsql AS "
                      "$$ BEGIN RAISE EXCEPTION 'the disk says no'; END $$",
             "CREATE TRIGGER no_receipt BEFORE INSERT ON ledger_receipts FOR EACH ROW EXECUTE FUNCTION no_receipt()")
    else:
        _raw(run.url, "CREATE TRIGGER no_receipt BEFORE INSERT ON ledger_receipts "
                      "BEGIN SELECT RAISE(ABORT, 'the disk says no'); END")
    result = run("checkpoint", "-o", str(tmp_path / "r.json"), key="k", code=1)
    assert "the disk says no" in result.stderr and "Traceback" not in result.stderr
