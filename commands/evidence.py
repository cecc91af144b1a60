"""Evidence beyond the chain: `key new|add|revoke|list`, `policy require-signatures`, `checkpoint`.

The rules live in `ledger.app.evidence` (keys, signatures, receipts, the audit) and in the
application (`Ledger._signing_rules`); these commands fill the ops and print.
"""

from __future__ import annotations

import json

import click

from commands.output import emit, json_option, say


def attach(cli: click.Group, key: click.Group, policy: click.Group) -> None:
    @key.command("new")
    @click.option("-o", "output", default="ledger.key", show_default=True, metavar="KEYFILE",
                  help="Where to write the private key (mode 0600, never over an existing file); the public "
                       "key goes beside it, in KEYFILE.pub.")
    @json_option
    def key_new(output: str, as_json: bool) -> None:
        """Make an Ed25519 key pair; print the public key (the private key is never printed)."""
        from pathlib import Path

        from ledger.app.evidence import new_key

        made = new_key(Path(output))
        doc = {"key": made.key_id, "public_key": made.public_key, "private_key_file": str(made.private_file),
               "public_key_file": str(made.public_file)}
        if as_json:
            emit(doc, True)
            return
        click.echo(made.public_key)
        say(f"key {made.key_id}: private key in {made.private_file} (mode 600: keep it secret), public key in "
            f"{made.public_file}\nregister it: ledger key add ACTOR {made.public_key} --reason TEXT")

    @key.command("add")
    @click.argument("actor", metavar="ACTOR")
    @click.argument("public_key", metavar="PUBLIC_KEY")  # the key itself, or its .pub file
    @click.option("--reason", required=True, help="Why this key is registered (who holds it, how it was checked).")
    @json_option
    def key_add(actor: str, public_key: str, reason: str, as_json: bool) -> None:
        """Register ACTOR's public key: writes signed with it are ACTOR's.

        PUBLIC_KEY is the key as ledger key new printed it, or the path of its .pub file (or of a
        PEM public key file)."""
        from commands.escaping import terminal
        from ledger.app import inputs as m
        from ledger.app.evidence import key_id_of, parse_public_key

        ctx = click.get_current_context().obj
        public_key = _public_key_text(public_key)
        op = m.parse(m.KeyAdd, {"owner": actor, "public_key": public_key, "reason": reason},
                     {"owner": "ACTOR", "public_key": "PUBLIC_KEY", "reason": "--reason"})
        signer = ctx.signer()
        key_id = key_id_of(parse_public_key(op.public_key))
        if signer is not None and signer.key_id == key_id and (
                not ctx.has_ledger() or ctx.app(create=True, checked=True).key(key_id) is None):
            who = ctx.actor_of_key(op.owner, key_id)  # a key registering itself: signed by its own holder
        else:
            who = ctx.actor
        outcome = ctx.run_as(op, who)
        doc = {"key": key_id, "actor": op.owner, "skipped": outcome.skipped, "position": outcome.position}
        if as_json:
            emit(doc, True)
        elif outcome.skipped:
            click.echo(f"key {key_id} is already registered to {terminal(op.owner)}")
        else:
            click.echo(f"registered key {key_id} for {terminal(op.owner)} at position {outcome.position}")

    @key.command("revoke")
    @click.argument("key_id", metavar="KEY_ID")
    @click.option("--reason", required=True, help="Why (lost, leaked, its holder left).")
    @json_option
    def key_revoke(key_id: str, reason: str, as_json: bool) -> None:
        """Revoke a key: no write signed with it from here on is valid."""
        from ledger.app import inputs as m

        ctx = click.get_current_context().obj
        op = m.parse(m.KeyRevoke, {"key_id": key_id.strip(), "reason": reason},
                     {"key_id": "KEY_ID", "reason": "--reason"})
        ctx.settings.require()
        outcome = ctx.run(op)
        if as_json:
            emit({"key": op.key_id, "skipped": outcome.skipped, "position": outcome.position}, True)
        else:
            click.echo(f"key {op.key_id} was already revoked" if outcome.skipped
                       else f"revoked key {op.key_id} at position {outcome.position}")

    @key.command("list")
    @json_option
    def key_list(as_json: bool) -> None:
        """The keys registered in the ledger, read from its log (which is verified on the way)."""
        from commands.escaping import terminal
        from ledger.app.evidence import audit, public_text
        from ledger.errors import VerificationFailed

        app = click.get_current_context().obj.app()
        result = audit(app.recorder.chain_rows())
        if not result.ok:
            raise VerificationFailed(f"the log does not verify ({result.problem}): run ledger verify")
        rows = [{"key": k.key_id, "actor": k.owner, "public_key": public_text(k.public_raw), "registered_at": k.added,
                 "registered_by": k.by, "revoked_at": k.revoked} for k in result.keys.values()]
        if as_json:
            emit(rows, True)
            return
        for r in rows:
            state = f"revoked at position {r['revoked_at']}" if r["revoked_at"] else "in use"
            click.echo(f"{r['key']}  {terminal(r['actor'])}  registered at position {r['registered_at']} by "
                       f"{terminal(r['registered_by'])}, {state}")
        if not rows:
            say("no keys registered (ledger key add ACTOR PUBLIC_KEY --reason TEXT)")

    @policy.command("require-signatures")
    @click.option("--reason", required=True, help="Why every write must be signed from now on.")
    @json_option
    def require_signatures(reason: str, as_json: bool) -> None:
        """From now on, every write must be signed with its actor's registered key (for good)."""
        from ledger.app import inputs as m

        ctx = click.get_current_context().obj
        op = m.parse(m.PolicyAdopt, {"policy": "require-signatures", "reason": reason}, {"reason": "--reason"})
        outcome = ctx.run(op)
        if as_json:
            emit({"policy": "require-signatures", "skipped": outcome.skipped, "position": outcome.position}, True)
        else:
            click.echo("signatures were already required" if outcome.skipped
                       else f"signatures required from position {outcome.position} on")

    @cli.command("checkpoint")
    @click.option("-o", "output", default=None, metavar="RECEIPT", help="Write the receipt to this file.")
    def checkpoint(output: str | None) -> None:
        """Sign a receipt of the ledger's position and head (with --key): publish it outside the database."""
        from commands.exporting import write_out
        from ledger.app.evidence import audit, make_receipt
        from ledger.errors import Refused, VerificationFailed

        ctx = click.get_current_context().obj
        signer = ctx.signer()
        if signer is None:
            raise Refused("a receipt is signed: give --key KEYFILE (or set LEDGER_KEY)")
        app = ctx.app()
        result = audit(app.recorder.chain_rows())
        if not result.ok:
            where = f" at position {result.first_bad_position}" if result.first_bad_position else ""
            raise VerificationFailed(f"verification failed{where}: {result.problem}; no receipt is signed for a "
                                     "log that does not verify")
        if result.ledger is None:
            raise Refused("the ledger holds no events yet: nothing to sign a receipt of")
        key = result.keys.get(signer.key_id)
        if key is None or key.revoked is not None:
            state = "revoked" if key is not None else "not registered in this ledger"
            raise Refused(f"key {signer.key_id} is {state}: a receipt is signed with a registered key")
        from commands.escaping import terminal

        receipt = make_receipt(signer, ctx.actor_of_key(key.owner, key.key_id), result.ledger, result.position,
                               result.head)
        text = json.dumps(receipt, indent=1) + "\n"
        write_out([text], output)  # first: a receipt that could not be written is not kept either
        try:
            app.recorder.keep_receipt(result.position, result.head, text)
        except Exception:  # noqa: BLE001 -- a ledger this user may only read, or made before receipts
            say("warning: the receipt is not kept in the ledger (this user may not write it there, or the "
                "ledger predates receipts: ledger init); reports will not name it, but it holds all the same")
        if output:
            say(f"receipt of position {result.position}, head {result.head}, signed by {terminal(key.owner)} "
                f"({key.key_id}), written to {terminal(output)}: publish it outside the database")


def _public_key_text(given: str) -> str:
    """PUBLIC_KEY as given, or the content of the file it names (a .pub file: `key new` writes one),
    so that a PEM key need not be passed as an argument that starts with dashes."""
    from pathlib import Path

    path = Path(given)
    try:
        if len(given) < 4096 and path.is_file():
            from ledger.app.evidence import read_small

            return read_small(path, "PUBLIC_KEY").decode("utf-8", errors="replace")
    except OSError:
        pass
    return given
