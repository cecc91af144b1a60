"""Evidence beyond the chain: Ed25519 keys, signed writes, signed receipts, and the audit that
checks them all in one pass over the log.

A hash chain alone proves nothing against whoever holds the database: they can rewrite an event
and recompute every hash after it. Two things here make that detectable by people who never had
the database:

- **Signed writes.** A write made with a key (`--key KEYFILE`) carries the key's id on each of its
  events and, on its last event, an Ed25519 signature over the chain's hash before the write and
  the hash of its last event. The chain ties that hash to every event before it, so one signature
  covers the whole write (an import batch too) and everything it was appended to. Keys are
  registered in the ledger itself, each for one actor (`Key.Added` events); after the
  `require-signatures` policy, an event without a valid signature by its actor's key fails
  `verify`: a forged append is caught without any secret but the signers' own.
- **Signed receipts.** `ledger checkpoint` signs (ledger id, position, head, time). Published
  outside the database (a mailing list, a repository, a notary), a receipt proves to anyone
  holding it that the ledger passed through that head at that position: a log rewritten,
  re-chained or cut at or before it no longer does, and `verify --receipt` says so.

A ledger's id is the chain hash of its first event: fixed when the ledger is created, kept by
`ledger copy` (which keeps the chain), different for any other ledger.

What this does not prove: a key holder can still sign a lie, and a receipt says nothing about
events after its position.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.domain.chain import GENESIS, ChainRow, link
from ledger.domain.values import check_name, name_key
from ledger.domain.vocabulary import TOPIC
from ledger.errors import InvalidInput, Refused

KEY_ID = re.compile(r"ed25519:[0-9a-f]{32}")
HASH = re.compile(r"[0-9a-f]{64}")
BASE64 = re.compile(r"[A-Za-z0-9+/]{1,200}={0,2}")
EVENT_TAG = b"ledger signed write v1\n"  # what an event signature signs, apart from a receipt's
RECEIPT_TAG = b"ledger receipt v1\n"
RECEIPT_FIELDS = ("ledger", "position", "head", "at", "key", "actor", "public_key", "signature")
KEY_ADDED, KEY_REVOKED, POLICY_ADOPTED = TOPIC + "Key.Added", TOPIC + "Key.Revoked", TOPIC + "Policy.Adopted"
REQUIRE_SIGNATURES = "require-signatures"


# ---------------------------------------------------------------------- keys


def read_small(path: str | Path, what: str, limit: int = 1 << 20) -> bytes:
    """A key or receipt file's bytes; one larger than `limit` is none of those, and is not read
    whole (a file named by a hostile hand may be any size)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as error:
        raise InvalidInput(f"{what} {path}: {error.strerror}") from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {path}: larger than {limit:,} bytes, not a key or receipt the ledger writes")
    return data


def key_id_of(public_raw: bytes) -> str:
    """A key's id: the first 128 bits of SHA-256 over its 32 raw bytes."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:32]


def public_text(public_raw: bytes) -> str:
    return base64.b64encode(public_raw).decode()


def parse_public_key(text: str) -> bytes:
    """A public key as `key new` prints it (base64 of its 32 bytes), or in PEM: its raw bytes."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    value = str(text).strip()
    if value.startswith("-----BEGIN PUBLIC KEY-----"):
        try:
            key = serialization.load_pem_public_key(value.encode())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidInput("PUBLIC_KEY: not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("PUBLIC_KEY: not an Ed25519 key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput("PUBLIC_KEY: give the public key as `ledger key new` printed it "
                           "(44 characters of base64, or its .pub file's content)")
    return raw


@dataclass(frozen=True)
class NewKey:
    key_id: str
    public_key: str
    private_file: Path
    public_file: Path


def new_key(path: Path) -> NewKey:
    """Make an Ed25519 key pair: the private key in PEM at `path`, created with mode 0600 and never
    over an existing file; the public key (base64) beside it in `path`.pub."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if str(path) == "-":
        raise Refused("a private key is never written to the standard output: give -o a file")
    path = Path(path)
    public_file = path.with_name(path.name + ".pub")
    for target in (path, public_file):
        if target.exists() or target.is_symlink():
            raise Refused(f"{target} already exists: a key is never written over; choose another -o")
    if not path.parent.is_dir():
        raise Refused(f"cannot write {path}: there is no folder {path.parent}")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise Refused(f"cannot write {path}: {error.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
    finally:
        os.close(fd)
    public_file.write_text(public_text(raw) + "\n")
    return NewKey(key_id_of(raw), public_text(raw), path, public_file)


class Signer:
    """A private key loaded from its file, signing writes and receipts."""

    def __init__(self, path: str | Path):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = Path(path).expanduser()
        if path.exists() and not path.is_file():  # a folder, a pipe, a device: never read (a pipe would wait)
            raise InvalidInput(f"--key {path}: not a key file (make one with ledger key new)")
        try:
            mode = path.stat().st_mode
            data = read_small(path, "--key")
        except OSError as error:
            raise InvalidInput(f"--key {path}: {error.strerror}") from None
        if stat.S_IMODE(mode) & 0o077:
            raise Refused(f"--key {path}: the private key file may be read by others (mode "
                          f"{stat.S_IMODE(mode):03o}); run chmod 600 {path}")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise InvalidInput(
                f"--key {path}: not an unencrypted PEM private key (make one with ledger key new)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"--key {path}: not an Ed25519 key (make one with ledger key new)")
        self._key = key
        self.public_raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = public_text(self.public_raw)
        self.key_id = key_id_of(self.public_raw)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message)).decode()

    def sign_write(self, previous: str, last: str) -> str:
        return self.sign(write_message(previous, last))


def write_message(previous: str, last: str) -> bytes:
    """What a signed write's signature covers: the chain's hash before it and after its last event."""
    return EVENT_TAG + f"{previous}\n{last}".encode()


def signature_holds(public_raw: bytes, message: bytes, signature: str | None) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(str(signature), validate=True)
        Ed25519PublicKey.from_public_bytes(public_raw).verify(raw, message)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


# ---------------------------------------------------------------------- receipts


def receipt_message(receipt: dict[str, Any]) -> bytes:
    parts = [str(receipt["ledger"]), str(receipt["position"]), str(receipt["head"]), str(receipt["at"]),
             str(receipt["key"]), str(receipt["actor"])]
    return RECEIPT_TAG + "\n".join(parts).encode()


def make_receipt(signer: Signer, actor: str, ledger_id: str, position: int, head: str) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "ledger": ledger_id, "position": position, "head": head,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "key": signer.key_id, "actor": actor, "public_key": signer.public_key,
    }
    receipt["signature"] = signer.sign(receipt_message(receipt))
    return receipt


def parse_receipt(text: str | bytes, name: str) -> dict[str, Any]:
    """A receipt file's JSON object, with every field of the right type; else bad input."""
    if isinstance(text, bytes):
        text = text.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark some editors write
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidInput(f"--receipt {name}: not a receipt (not JSON)") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"--receipt {name}: not a receipt (not a JSON object)")
    missing = [f for f in RECEIPT_FIELDS if f not in doc]
    if missing:
        raise InvalidInput(f"--receipt {name}: not a receipt (it lacks {', '.join(missing)})")
    if type(doc["position"]) is not int or not 1 <= doc["position"] < 2**63:
        raise InvalidInput(f"--receipt {name}: position must be a ledger position, a whole number from 1")
    for f in RECEIPT_FIELDS:
        if f != "position" and not isinstance(doc[f], str):
            raise InvalidInput(f"--receipt {name}: {f} must be text")
    # each field in its form, so that nothing else reaches a terminal or a report from a receipt
    forms = {"ledger": HASH.fullmatch(doc["ledger"]), "head": HASH.fullmatch(doc["head"]),
             "key": KEY_ID.fullmatch(doc["key"]), "public_key": BASE64.fullmatch(doc["public_key"]),
             "signature": BASE64.fullmatch(doc["signature"])}
    for f, ok in forms.items():
        if not ok:
            raise InvalidInput(f"--receipt {name}: {f} is not in the form ledger checkpoint writes")
    try:
        at = datetime.fromisoformat(doc["at"])
        check_name(doc["actor"])
    except (ValueError, InvalidInput) as error:
        raise InvalidInput(
            f"--receipt {name}: at or actor is not in the form ledger checkpoint writes ({error})") from None
    if at.tzinfo is None:
        raise InvalidInput(f"--receipt {name}: at has no time zone")
    return doc


# ---------------------------------------------------------------------- the audit


@dataclass
class RegisteredKey:
    key_id: str
    public_raw: bytes
    owner: str
    added: int  # the position of its registration
    revoked: int | None = None
    by: str | None = None  # the actor who recorded the registration: its sponsor
    stream: str | None = None  # the stream of its Key.Added event, where its Key.Revoked event follows


@dataclass
class ReceiptCheck:
    name: str
    receipt: dict[str, Any]
    ok: bool = False
    problem: str | None = None
    reached: bool = False  # an event stood at its position

    def as_dict(self) -> dict[str, Any]:
        r = self.receipt
        return {"file": self.name, "ok": self.ok, "ledger": r.get("ledger"), "position": r.get("position"),
                "head": r.get("head"), "at": r.get("at"), "key": r.get("key"), "actor": r.get("actor"),
                "problem": self.problem}


@dataclass
class Audit:
    ok: bool = True
    events: int = 0
    head: str = GENESIS
    first_bad_position: int | None = None
    problem: str | None = None
    signed: int = 0
    unsigned: int = 0
    ledger: str | None = None  # the ledger's id: its first event's hash
    policy: int | None = None  # the position from which signatures are required
    position: int = 0  # of the last event
    keys: dict[str, RegisteredKey] = field(default_factory=dict)
    receipts: list[ReceiptCheck] = field(default_factory=list)
    writes: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last, key) of each signed write

    def fail(self, position: int | None, problem: str) -> Audit:
        if self.ok:
            self.ok, self.first_bad_position, self.problem = False, position, problem
        return self

    def signer_at(self, position: int) -> str | None:
        """The key whose signature, checked, covers the event at `position` (None: unsigned, or
        not reached by an audit that stopped)."""
        from bisect import bisect_right

        i = bisect_right(self.writes, (position, float("inf"), "")) - 1
        if i >= 0 and self.writes[i][0] <= position <= self.writes[i][1]:
            return self.writes[i][2]
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "head": self.head,
                "first_bad_position": self.first_bad_position, "problem": self.problem,
                "signed": self.signed, "unsigned": self.unsigned, "ledger": self.ledger,
                "signatures_required_since": self.policy,
                "receipts": [r.as_dict() for r in self.receipts]}


def _actor(state: bytes) -> Any:
    try:
        doc = orjson.loads(state)
    except orjson.JSONDecodeError:
        return None
    return doc.get("actor") if isinstance(doc, dict) else None


# ---------------------------------------------------------------------- who may change the keys


def active_keys(keys: dict[str, RegisteredKey], owner: str | None) -> list[str]:
    """The keys not revoked of one actor (names compared as `ledger.domain.values.name_key` does)."""
    if owner is None:
        return []
    who = name_key(owner)
    return [k.key_id for k in keys.values() if name_key(k.owner) == who and k.revoked is None]


def may_register(keys: dict[str, RegisteredKey], owner: str) -> set[str] | None:
    """The keys whose write may register a key for `owner`: any registered key (None) when the
    actor never had one (the registration shows who vouched for them); else the actor's own
    keys, or those of their sponsor, the owner of the key that signed the registration of their
    first key, who can replace a lost one. Another key holder cannot take over a name (nor one
    that differs from it only in case or width) by registering a key for it."""
    who = name_key(owner)
    history = [k for k in keys.values() if name_key(k.owner) == who]
    if not history:
        return None
    first = min(history, key=lambda k: k.added)
    return {*active_keys(keys, owner), *active_keys(keys, first.by)}


def may_revoke(keys: dict[str, RegisteredKey], key: RegisteredKey) -> set[str]:
    """The keys whose write may revoke `key`: its owner's, and its sponsor's (the owner of the key
    that signed its registration)."""
    return {*active_keys(keys, key.owner), *active_keys(keys, key.by)}


def register(result: Audit, row: ChainRow) -> tuple[str, set[str] | None, str | None] | None:
    """Keep the keys and the policy as the log stood at this row. For a key's registration or
    revocation, returns (what it did, the keys allowed to sign it (None: any), a problem that
    no signature mends)."""
    try:
        doc = orjson.loads(row.state)
    except orjson.JSONDecodeError:
        return None  # the chain holds over it, so it was stored so; a key that cannot be read registers nothing
    if not isinstance(doc, dict):
        return None
    if row.topic == KEY_ADDED:
        try:
            raw = base64.b64decode(doc["public_key"], validate=True)
        except (KeyError, ValueError, TypeError):
            return None
        key_id = doc.get("key_id")
        if len(raw) == 32 and key_id == key_id_of(raw) and key_id not in result.keys:
            owner = str(doc.get("owner"))
            what = f"key {key_id} is registered at position {row.position} for {owner!r}"
            try:
                check_name(owner)
            except InvalidInput as error:
                return what, set(), f"{what}, a name the ledger refuses ({error})"
            allowed = may_register(result.keys, owner)
            # its sponsor: the owner of the key that signed its registration (itself, for a key that
            # registers itself); none for a registration nobody signed
            signer = result.keys.get(str(row.signer)) if row.signer else None
            sponsor = owner if row.signer == key_id else signer.owner if signer is not None else None
            result.keys[key_id] = RegisteredKey(key_id, raw, owner, row.position, by=sponsor,
                                                stream=row.originator_id)
            return what, allowed, None
    elif row.topic == KEY_REVOKED:
        # a Key.Revoked event, as the application stores it, holds no key_id: it is the event of
        # the key's own stream, the stream its Key.Added event began
        key = result.keys.get(str(doc.get("key_id"))) or next(
            (k for k in result.keys.values() if k.stream == row.originator_id), None)
        if key is not None and key.revoked is None:
            allowed = may_revoke(result.keys, key)
            key.revoked = row.position
            return f"key {key.key_id} of {key.owner!r} is revoked at position {row.position}", allowed, None
    elif row.topic == POLICY_ADOPTED and doc.get("policy") == REQUIRE_SIGNATURES and result.policy is None:
        result.policy = row.position
    return None


# ---------------------------------------------------------------------- the audit


class _Walk:
    """The audit's state as it walks the rows; `row` says what is wrong with the next one."""

    def __init__(self, result: Audit, checks: list[ReceiptCheck], expect: str | None):
        self.result = result
        self.at: dict[int, list[ReceiptCheck]] = {}
        for check in checks:
            self.at.setdefault(check.receipt["position"], []).append(check)
        self.expect = expect
        self.seen_expected = expect is None or expect == GENESIS
        self.previous, self.last_position = GENESIS, 0
        self.run: list[ChainRow] = []  # the events of a signed write so far, its signature not yet seen
        self.run_start = GENESIS  # the chain's hash before that write
        self.authority: list[tuple[int, str, set[str]]] = []  # key changes in the run, and who may sign them

    def row(self, row: ChainRow, counted: bool = True) -> tuple[int | None, str] | None:
        """Check one row (`counted`: it is within the audited range, not read ahead to close a
        signed write); (position, problem) when it fails."""
        result, p = self.result, row.position
        if p <= self.last_position:
            return p, f"position {p} is out of order"
        self.last_position = p
        computed = link(self.previous, row.originator_id, row.originator_version, row.topic, row.state)
        if row.hash != computed:
            return p, (f"event at position {p} does not match the chain: an event was edited, removed or "
                       "inserted here or just before")
        before, self.previous = self.previous, computed
        if counted:
            result.events += 1
            if result.ledger is None:
                result.ledger = computed
            result.head, result.position = computed, p
            if not self.seen_expected and computed == self.expect:
                self.seen_expected = True
            for check in self.at.pop(p, ()):
                check.reached = True
                if computed != check.receipt["head"]:
                    check.problem = (f"the ledger no longer passes through the receipt's head at position {p}: "
                                     "the log was rewritten at or before it")
        change = register(result, row) if row.topic in (KEY_ADDED, KEY_REVOKED, POLICY_ADOPTED) else None
        if change is not None and change[2] is not None:
            return p, change[2]
        if row.signer is None:
            if self.run:
                first, last = self.run[0].position, self.run[-1].position
                return first, (f"events at positions {first}-{last} carry signer {self.run[0].signer} but no "
                               "signature covers them: a signed write was cut short, or the signer was written in")
            if row.signature is not None:
                return p, f"event at position {p} has a signature but no signer"
            if change is not None and (change[1] is not None or row.topic == KEY_REVOKED):
                return p, f"{change[0]} in a write nobody signed: only a signed write may"
            result.unsigned += counted
            if result.policy is not None and p > result.policy:
                return p, (f"event at position {p} is unsigned, but signatures are required since position "
                           f"{result.policy}: an append without any signer's key")
            return None
        if not self.run:
            self.run_start = before
        elif row.signer != self.run[0].signer:
            return p, f"event at position {p} carries signer {row.signer} inside a write signed by {self.run[0].signer}"
        self.run.append(row)
        if change is not None and change[1] is not None:
            self.authority.append((p, change[0], change[1]))
        if row.signature is None:
            return None
        first = self.run[0].position
        problem = self._signed_write(row)
        if problem:
            return first, problem
        result.signed += sum(1 for r in self.run if counted or r.position <= result.position)
        result.writes.append((first, p, str(row.signer)))
        self.run, self.authority = [], []
        return None

    def _signed_write(self, last: ChainRow) -> str | None:
        """A signed write: its key registered (before it, once signatures are required), not
        revoked before it, for the actor of every one of its events, allowed to make the key
        changes it makes, and its signature over (the hash before it, the hash of its last event)."""
        result, run = self.result, self.run
        first, key_id = run[0].position, last.signer
        where = f"positions {first}-{last.position}" if len(run) > 1 else f"position {first}"
        key = result.keys.get(str(key_id))
        if key is None:
            return f"the write at {where} is signed by key {key_id}, which is not registered in this ledger there"
        if key.revoked is not None and key.revoked < first:
            return f"the write at {where} is signed by key {key_id}, revoked at position {key.revoked}"
        if result.policy is not None and result.policy < first and key.added >= first:
            return (f"the write at {where} is signed by key {key_id}, which it registers itself; once signatures "
                    "are required a key must be registered by a write signed with another registered key")
        if not signature_holds(key.public_raw, write_message(self.run_start, last.hash or ""), last.signature):
            return (f"the signature of the write at {where} does not hold (key {key_id}): its events or the chain "
                    "before them were changed")
        for _position, what, allowed in self.authority:
            if key_id not in allowed:
                return (f"{what} in a write signed by {key_id}, which may not: only the actor's own keys or "
                        "their sponsor's may")
        for row in run:
            actor = _actor(row.state)
            if actor != key.owner:
                return (f"event at position {row.position} is recorded by {actor!r} but signed with the key of "
                        f"{key.owner!r} ({key_id})")
        return None


def audit(rows: Iterable[ChainRow], expect: str | None = None,
          receipts: Sequence[tuple[str, dict[str, Any]]] = (), upto: int | None = None,
          receipts_decide: bool = True) -> Audit:
    """One pass over the stored rows in position order: the chain, every signature against the
    key registered for its actor at that position, who may register and revoke keys, the
    signature policy, and each receipt. Stops at the first problem of the log (the receipts are
    each said ok or not).

    `upto`: audit the log up to this position (a report --as-of). When a signed write goes on
    past it, the rows after it are read until that write's signature, which is judged all the
    same; the figures (events, head) are those at `upto`. `receipts_decide=False`: a receipt that
    does not hold is said so in its own check, without failing the whole audit (a report names
    the latest receipt that holds; a stored one that does not is not its problem)."""
    result = Audit()
    checks = [ReceiptCheck(name, receipt) for name, receipt in receipts]
    result.receipts = checks
    walk = _Walk(result, checks, expect)
    for row in rows:
        beyond = upto is not None and row.position > upto
        if beyond and not walk.run:
            break
        failed = walk.row(row, counted=not beyond)
        if failed is not None:
            return _finish(result.fail(*failed), checks)
    if walk.run:
        first, last = walk.run[0].position, walk.run[-1].position
        return _finish(result.fail(first, f"events at positions {first}-{last} carry signer {walk.run[0].signer} "
                                          "but no signature covers them: the log was cut inside a signed write"),
                       checks, receipts_decide)
    if not walk.seen_expected:
        result.fail(None, f"the chain does not pass through the expected head {expect}: the log was cut back "
                          "or rewritten since that head was taken")
    return _finish(result, checks, receipts_decide)


def _finish(result: Audit, checks: list[ReceiptCheck], decide: bool = True) -> Audit:
    """Each receipt is of this ledger, signed by a key registered for its actor when it was taken,
    and its position was reached with the receipt's head."""
    for check in checks:
        r = check.receipt
        if result.ledger is not None and r["ledger"] != result.ledger:
            # first, even when its position was reached with another head: that is no rewrite of
            # this ledger when the receipt is of another one
            check.problem = (f"the receipt is of another ledger ({r['ledger'][:16]}...), not this one "
                             f"({result.ledger[:16]}...), or this ledger's first event was rewritten")
        elif check.problem is None:
            if not result.ok and result.first_bad_position is not None and result.first_bad_position <= r["position"]:
                # before the end-of-log test: an audit that stopped at a bad event read no further,
                # so its last position is not where the log ends
                check.problem = f"the log does not verify up to the receipt's position: {result.problem}"
            elif r["position"] > result.position or result.ledger is None:
                check.problem = (f"the ledger ends at position {result.position}, before the receipt's position "
                                 f"{r['position']}: the log was cut back")
            elif not check.reached:
                check.problem = (f"the ledger has no event at the receipt's position {r['position']}: "
                                 "the log was changed at or before it")
        if check.problem is None:
            check.problem = _receipt_signature_problem(result, r)
        check.ok = check.problem is None
        if not check.ok and result.ok and decide:
            result.fail(None, f"receipt {check.name}: {check.problem}")
    return result


def _receipt_signature_problem(result: Audit, r: dict[str, Any]) -> str | None:
    try:
        raw = parse_public_key(r["public_key"])
    except InvalidInput:
        return "the receipt's public key cannot be read"
    if key_id_of(raw) != r["key"]:
        return f"the receipt's public key is not key {r['key']}"
    if not signature_holds(raw, receipt_message(r), r["signature"]):
        return "the receipt's signature does not hold: the receipt was altered, or not made with its key"
    key = result.keys.get(r["key"])
    if key is None or key.added > r["position"]:
        return (f"the receipt is signed by key {r['key']}, which this ledger had not registered at position "
                f"{r['position']}")
    if key.owner != r["actor"]:
        return f"the receipt names {r['actor']!r}, but key {r['key']} is registered to {key.owner!r}"
    if key.revoked is not None and key.revoked <= r["position"]:
        return f"the receipt is signed by key {r['key']}, revoked at position {key.revoked}"
    return None
