"""Evidence beyond the chain: `key new|add|revoke|list`, `policy require-signatures`, `checkpoint`.

The rules live in `ledger.app.evidence` (keys, signatures, receipts, the audit) and in the
application (`LedgerApplication._signing_rules`); these commands call `ledger.api.Ledger` and print.
"""

from __future__ import annotations

import click

from commands.output import current_ledger, emit, json_option, say


def attach(cli: click.Group, key: click.Group, policy: click.Group) -> None:
    @key.command("new")
    @click.option("-o", "output", default="ledger.key", show_default=True, metavar="KEYFILE",
                  help="Where to write the private key (mode 0600, never over an existing file); the public "
                       "key goes beside it, in KEYFILE.pub.")
    @json_option
    def key_new(output: str, as_json: bool) -> None:
        """Make an Ed25519 key pair; print the public key (the private key is never printed)."""
        from ledger.api import new_key

        made = new_key(output)
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
        from ledger.api import parse_op, public_key_text
        from ledger.escaping import terminal

        op = parse_op("key.add", {"owner": actor, "public_key": public_key_text(public_key), "reason": reason},
                      {"owner": "ACTOR", "public_key": "PUBLIC_KEY", "reason": "--reason"})
        outcome = current_ledger().run(op)
        key_id, owner = outcome.id, op.data()["owner"]
        doc = {"key": key_id, "actor": owner, "skipped": outcome.skipped, "position": outcome.position}
        if as_json:
            emit(doc, True)
        elif outcome.skipped:
            click.echo(f"key {key_id} is already registered to {terminal(owner)}")
        else:
            click.echo(f"registered key {key_id} for {terminal(owner)} at position {outcome.position}")

    @key.command("revoke")
    @click.argument("key_id", metavar="KEY_ID")
    @click.option("--reason", required=True, help="Why (lost, leaked, its holder left).")
    @json_option
    def key_revoke(key_id: str, reason: str, as_json: bool) -> None:
        """Revoke a key: no write signed with it from here on is valid."""
        from ledger.api import parse_op

        op = parse_op("key.revoke", {"key_id": key_id.strip(), "reason": reason},
                      {"key_id": "KEY_ID", "reason": "--reason"})
        outcome = current_ledger().run(op)
        if as_json:
            emit({"key": outcome.id, "skipped": outcome.skipped, "position": outcome.position}, True)
        else:
            click.echo(f"key {outcome.id} was already revoked" if outcome.skipped
                       else f"revoked key {outcome.id} at position {outcome.position}")

    @key.command("list")
    @json_option
    def key_list(as_json: bool) -> None:
        """The keys registered in the ledger, read from its log (which is verified on the way)."""
        from ledger.escaping import terminal

        rows = current_ledger().keys()
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
        from ledger.api import parse_op

        op = parse_op("policy.adopt", {"policy": "require-signatures", "reason": reason}, {"reason": "--reason"})
        outcome = current_ledger().run(op)
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
        from ledger.escaping import terminal

        # written out first: a receipt that could not be written is not kept either
        done = current_ledger().checkpoint(publish=lambda text: write_out([text], output))
        if not done.kept:
            say("warning: the receipt is not kept in the ledger (this user may not write it there, or the "
                "ledger predates receipts: ledger init); reports will not name it, but it holds all the same")
        if output:
            say(f"receipt of position {done.position}, head {done.head}, signed by {terminal(done.owner)} "
                f"({done.key_id}), written to {terminal(output)}: publish it outside the database")
