"""A report's footer names the latest receipt kept in the ledger that the log still passes through,
at or before the report's position; a kept receipt that does not hold is never named; a report of
a log whose signatures do not hold is refused like one whose chain does not."""

from __future__ import annotations

import json

import pytest

from ledger.app.evidence import new_key


@pytest.fixture
def signed(story, tmp_path):
    """The story, then a key for `tester`, a signed write and a receipt at the head."""
    key = new_key(tmp_path / "tester.key")
    story("key", "add", "tester", key.public_key, "--reason", "the test's key")
    story("--key", str(key.private_file), "case", "status", "chiba-lexus", "referred", "--reason", "signed")
    receipt = tmp_path / "r1.json"
    story("--key", str(key.private_file), "checkpoint", "-o", str(receipt))
    return story, key, json.loads(receipt.read_text())


def test_the_footer_names_the_kept_receipt_in_both_formats(signed):
    story, key, receipt = signed
    md = story("report", "chiba-lexus").stdout
    assert (f"Consistent with the signed receipt of position {receipt['position']} (head {receipt['head']}), "
            f"signed by tester with key {key.key_id} at {receipt['at']}") in md
    html = story("report", "chiba-lexus", "--format", "html").stdout
    assert f"signed receipt of position {receipt['position']} (head <code>{receipt['head']}</code>)" in html


def test_a_later_position_still_names_the_receipt_an_earlier_one_does_not(signed):
    story, key, receipt = signed
    story("--key", str(key.private_file), "source", "add", "later", "--publisher", "P", "--title", "after the receipt")
    assert f"receipt of position {receipt['position']}" in story("report", "chiba-lexus").stdout
    before = story("report", "chiba-lexus", "--as-of", str(receipt["position"] - 1)).stdout
    assert "No signed receipt kept in the ledger covers this position yet" in before


def _keep(db_url: str, position: int, head: str, text: str) -> None:
    from ledger.store.settings import Settings, open_ledger

    app = open_ledger(Settings(db=db_url, actor="tester"))
    try:
        app.recorder.keep_receipt(position, head, text)
    finally:
        app.close()
        app.factory.close()


def test_a_kept_receipt_that_does_not_hold_is_never_named(signed, db_url):
    story, _key, receipt = signed
    forged = dict(receipt, at="2099-01-01T00:00:00+00:00")  # later "at", so it would sort first; its signature fails
    _keep(db_url, forged["position"], forged["head"], json.dumps(forged))
    _keep(db_url, 1, "0" * 64, "not a receipt at all")
    md = story("report", "chiba-lexus").stdout
    assert "2099" not in md and f"at {receipt['at']}" in md


def test_a_report_of_a_log_whose_signature_does_not_hold_is_refused(signed, db_url, tmp_path):
    """An attacker who rewrote the signed write's actor and re-chained it: the chain holds, the
    signature does not, and the report says so instead of vouching for it."""
    story, _key, receipt = signed
    if not db_url.endswith(".db"):
        pytest.skip("tampering is done on the SQLite file here; tests/test_tamper.py covers PostgreSQL")
    import sqlite3

    from ledger.domain.chain import link

    con = sqlite3.connect(db_url)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='stored_events'"):
        con.execute(f'DROP TRIGGER "{name}"')
    rows = con.execute("SELECT rowid, originator_id, originator_version, topic, state, hash FROM stored_events "
                       "ORDER BY rowid").fetchall()
    previous = None
    for rowid, stream, version, topic, stored_state, stored_hash in rows:
        state, hashed = stored_state, stored_hash
        if rowid == receipt["position"]:
            state = bytes(state).replace(b'"tester"', b'"mallory"')
        if previous is not None:
            hashed = link(previous, stream, version, topic, bytes(state))
            con.execute("UPDATE stored_events SET state = ?, hash = ? WHERE rowid = ?", (state, hashed, rowid))
        previous = hashed
    con.commit()
    con.close()
    refused = story("report", "chiba-lexus", code=1)
    assert "does not verify" in refused.stderr or "run ledger verify" in refused.stderr
    assert "Consistent with" not in refused.stdout


def test_a_forged_last_event_that_claims_a_signer_is_refused_by_report_and_export(signed, db_url):
    """Appended with the key's id but no signature (no key needed): verify fails, and so do report
    and export, which judge a signed write that reaches their position; history says the claim is
    not verified."""
    story, key, _receipt = signed
    if not db_url.endswith(".db"):
        pytest.skip("an INSERT into the SQLite file here; tests/test_tamper.py appends on PostgreSQL")
    import sqlite3
    import uuid

    import orjson

    from ledger.domain.chain import link

    con = sqlite3.connect(db_url)
    previous = con.execute("SELECT hash FROM stored_events ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    stream, topic = uuid.uuid4().hex, "ledger.aggregates:Source.Added"
    state = orjson.dumps({"timestamp": "2024-01-01T00:00:00+00:00", "originator_topic": "ledger.aggregates:Source",
                          "source_id": "forged", "data": {"id": "forged", "publisher": "P", "title": "T"},
                          "digest": "0", "actor": "tester"})
    con.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state, hash, signer) "
                "VALUES (?, 1, ?, ?, ?, ?)",
                (stream, topic, state, link(previous, stream, 1, topic, state), key.key_id))
    con.commit()
    con.close()
    assert "no signature covers them" in story("verify", code=1).stderr
    for args in (("report", "chiba-lexus"), ("export", "--format", "csv"), ("export", "--format", "jsonl")):
        assert "no signature covers them" in story(*args, code=1).stderr, args
    last = story.json("history")[-1]
    assert (last["signer"], last["signed"]) == (key.key_id, False)
    assert story.json("history")[-2]["signed"] is True
    assert "claims signer" in story("history").stdout.split("#")[-1]
