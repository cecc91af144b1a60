"""Hostile input to the evidence commands, as the attacker's review tried it: key files, public
keys, receipt files, names; and a broken tail that a write must not build on."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import pytest

from ledger.app.evidence import new_key
from tests.conftest import KeyedRunner


@pytest.fixture
def run(tmp_path) -> KeyedRunner:
    run = KeyedRunner(str(tmp_path / "l.db"), tmp_path)
    made = new_key(tmp_path / "k")
    run("key", "add", "alice", made.public_key, "--reason", "hers", actor="alice")
    run("source", "add", "s1", "--publisher", "P", "--title", "T", key="k")
    return run


def _unknown_algorithm_pem() -> str:
    """A well-formed PEM public key of an algorithm nobody knows (OID 1.2.3.4)."""
    import base64

    body = bytes.fromhex("3012300506032a03040309000102030405060708")
    return "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(body).decode() + "\n-----END PUBLIC KEY-----\n"


def test_a_public_key_of_an_unknown_algorithm_is_bad_input(run, tmp_path):
    pem = tmp_path / "odd.pem"
    pem.write_text(_unknown_algorithm_pem())
    result = run("key", "add", "bob", str(pem), "--reason", "x", code=2)
    assert result.stderr == "Error: PUBLIC_KEY: not a readable PEM public key\n"


def test_public_key_may_be_given_as_its_pub_file_or_a_pem_file(run, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from ledger.app.evidence import Signer

    made = new_key(tmp_path / "b")
    assert run.json("key", "add", "bob", str(made.public_file), "--reason", "his", key="k")["key"] == made.key_id
    other = new_key(tmp_path / "c")
    pem = Signer(other.private_file)._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "c.pem").write_bytes(pem)
    assert run.json("key", "add", "carol", str(tmp_path / "c.pem"), "--reason", "hers", key="k")["key"] == other.key_id


@pytest.mark.parametrize("name", ["bob\u200b", "\u2060bob", "b\u00adob", "   ", "-"])
def test_a_key_owner_with_invisible_characters_or_no_letter_is_refused(run, tmp_path, name):
    made = new_key(tmp_path / "n")
    result = run("key", "add", name, made.public_key, "--reason", "x", key="k", code=2)
    assert result.stderr.startswith("Error: ACTOR: ") and result.stderr[-1] == "\n"


def test_a_private_key_is_never_written_to_stdout_nor_read_from_a_pipe(run, tmp_path):
    assert "never written to the standard output" in run("key", "new", "-o", "-", code=1).stderr
    os.mkfifo(tmp_path / "fifo")
    assert "not a key file" in run("--key", str(tmp_path / "fifo"), "source", "add", "s2", "--publisher", "P",
                                    "--title", "T", code=2).stderr


def test_a_malformed_key_id_is_said_plainly(run):
    assert run("key", "revoke", "nope", "--reason", "x", key="k", code=2).stderr == (
        "Error: KEY_ID: 'nope' is not a key id: ed25519: and 32 hex digits, as ledger key list shows it\n")


def _receipt(run, tmp_path) -> dict:
    out = tmp_path / "r.json"
    run("checkpoint", "-o", str(out), key="k")
    return json.loads(out.read_text())


@pytest.mark.parametrize("field, value", [
    ("at", "2026-12-01T00:00:00+00:00\x1b]0;owned\x07"), ("actor", "alice\u202e"), ("head", "ZZ" * 32),
    ("ledger", "x"), ("key", "ed25519:nothex"), ("public_key", "-----BEGIN PUBLIC KEY-----"), ("at", "yesterday"),
    ("at", "2026-12-01T00:00:00"), ("position", 2**70),
])
def test_a_receipt_field_out_of_its_form_is_bad_input(run, tmp_path, field, value):
    receipt = _receipt(run, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**receipt, field: value}))
    result = run("verify", "--receipt", str(bad), code=2)
    assert result.stderr.startswith(f"Error: --receipt {bad}: ") and "\x1b" not in result.stderr


def test_a_receipt_with_a_byte_order_mark_is_read(run, tmp_path):
    receipt = _receipt(run, tmp_path)
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + json.dumps(receipt).encode())
    assert run.json("verify", "--receipt", str(marked))["receipts"][0]["ok"] is True


def test_a_kept_receipt_of_an_unknown_key_algorithm_breaks_no_report(run, tmp_path):
    receipt = _receipt(run, tmp_path)
    run("case", "open", "c1", "--title", "A case", key="k")
    con = sqlite3.connect(run.url)
    con.execute("INSERT INTO ledger_receipts VALUES (?, ?, ?)",
                (receipt["position"], receipt["head"], json.dumps({**receipt, "public_key": _unknown_algorithm_pem()})))
    con.commit()
    con.close()
    assert f"signed receipt of position {receipt['position']}" in run("report", "c1").stdout


def test_no_write_is_appended_to_a_tail_inserted_with_a_made_up_hash(run):
    con = sqlite3.connect(run.url)
    con.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state, hash) "
                "VALUES (?, 1, 'ledger.aggregates:Source.Added', x'7b7d', ?)", (uuid.uuid4().hex, "ab" * 32))
    con.commit()
    count = con.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    con.close()
    result = run("source", "add", "s3", "--publisher", "P", "--title", "T", key="k", code=1)
    assert result.stderr == ("Error: the last stored event does not match the hash chain (edited or inserted by "
                             "hand): nothing is appended to it; run ledger verify\n")
    con = sqlite3.connect(run.url)
    assert con.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == count
    con.close()


@pytest.mark.parametrize("actor", ["bob\u200b", "\u2060bob", "b\u00adob"])
def test_an_actor_with_invisible_characters_is_refused(tmp_path, actor):
    run = KeyedRunner(str(tmp_path / "l.db"), tmp_path)
    result = run("source", "add", "s1", "--publisher", "P", "--title", "T", actor=actor, code=2)
    assert result.stderr.startswith("Error: --actor (LEDGER_ACTOR): the invisible character U+")
    assert not (tmp_path / "l.db").exists()


def _append_sealed(db: str, signer: str | None) -> None:
    """An event inserted by hand with a correct hash, as a writer with INSERT could."""
    import orjson

    from ledger.domain.chain import link

    con = sqlite3.connect(db)
    previous = con.execute("SELECT hash FROM stored_events ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    stream, topic = uuid.uuid4().hex, "ledger.aggregates:Source.Added"
    state = orjson.dumps({"timestamp": "2024-01-01T00:00:00+00:00", "source_id": "forged",
                          "data": {"id": "forged", "publisher": "P", "title": "T"}, "digest": "0", "actor": "alice"})
    con.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state, hash, signer) "
                "VALUES (?, 1, ?, ?, ?, ?)", (stream, topic, state, link(previous, stream, 1, topic, state), signer))
    con.commit()
    con.close()


@pytest.mark.parametrize("policy, signer, says", [
    (False, "ed25519:" + "0" * 32, "claims signer ed25519:0000"),  # a signer's claim without its signature
    (True, None, "is unsigned, though signatures are required"),  # a forged append after the policy
])
def test_no_write_is_appended_to_a_tail_no_write_of_the_ledger_could_leave(run, policy, signer, says):
    if policy:
        run("policy", "require-signatures", "--reason", "r", key="k")
    _append_sealed(run.url, signer)
    result = run("source", "add", "s3", "--publisher", "P", "--title", "T", key="k", code=1)
    assert says in result.stderr and "nothing is appended to it" in result.stderr
