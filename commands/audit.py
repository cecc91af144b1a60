"""Audit and upkeep: history, verify, replay, demo. History and verify read the event store itself."""

from __future__ import annotations

from typing import Any

import click

from commands.output import current_ledger, emit, emit_rows, format_option, json_option, say

HISTORY_COLUMNS = ["position", "stream", "version", "type", "recorded_at", "recorded_by", "signer", "signed", "db_role",
                   "hash", "verified", "data", "changes"]


def attach(cli: click.Group) -> None:
    @cli.command("history")
    @click.argument("ident", metavar="[ID]", required=False)
    @click.option("--as-of", "as_of", metavar="WHEN",
                  help="A ledger position, or an ISO 8601 recording date or time: the events up to then.")
    @format_option
    def history(ident: str | None, as_of: str | None, fmt: str) -> None:
        """The stored events, in position order: all, or of one case, entity, source or incident."""
        rows = current_ledger().history(ident, as_of=as_of)
        broken = [r["position"] for r in rows if not r["verified"]]
        if broken:  # shown, since history is where one looks into it, but never without a warning
            shown = ", ".join(map(str, broken[:10])) + (f" and {len(broken) - 10} more" if len(broken) > 10 else "")
            say(f"warning: the hash chain does not hold at position {shown}: edited, removed or inserted "
                "events, marked below; run ledger verify")
            if fmt == "table":
                rows = [r if r["verified"] else {**r, "type": f"{r['type']}  [CHAIN BROKEN]"} for r in rows]
        emit_rows(rows, fmt, HISTORY_COLUMNS, human=_show_history)

    @cli.command("verify")
    @click.option("--expect", "expected", metavar="HEAD_HASH",
                  help="A head printed earlier: the chain must pass through it.")
    @click.option("--receipt", "receipts", multiple=True, metavar="FILE",
                  type=click.Path(exists=True, dir_okay=False, allow_dash=False),
                  help="A receipt from ledger checkpoint: the ledger must still pass through its head at its "
                       "position, and its signature must hold (repeatable).")
    @click.option("--deep", is_flag=True,
                  help="Also rebuild the read models in memory and compare them with the live ones, row by row.")
    @json_option
    def verify(expected: str | None, receipts: tuple[str, ...], deep: bool, as_json: bool) -> None:
        """Check the hash chain, every signature and the signature policy over every stored event,
        and each receipt given."""

        from ledger.errors import VerificationFailed
        from ledger.escaping import terminal

        verdict = current_ledger().verify(expected, receipts, deep=deep)
        if as_json:
            emit(verdict.as_dict(), True)
        elif verdict.ok:
            click.echo(f"ok: {verdict.events} events, head {verdict.head}")
            click.echo(f"signatures: {verdict.signed} events signed, {verdict.unsigned} unsigned"
                       + (f"; required since position {verdict.policy}" if verdict.policy else ""))
            for check in verdict.receipts:
                click.echo(f"receipt {terminal(check.name)}: ok, position {check.receipt['position']}, signed by "
                           f"{terminal(check.receipt['actor'])} at {terminal(check.receipt['at'])}")
        if not verdict.ok:
            where = f" at position {verdict.first_bad_position}" if verdict.first_bad_position else ""
            raise VerificationFailed(f"verification failed{where}: {verdict.problem}")

    @cli.command("replay")
    @click.option("--force", is_flag=True,
                  help="Rebuild even when the log no longer holds what the read models were built from "
                       "(after ledger verify has said what changed).")
    @json_option
    def replay(force: bool, as_json: bool) -> None:
        """Rebuild every read model from the first event; swapped in only when complete."""
        from commands.output import Progress

        progress = Progress("replay", "events")
        try:
            done = current_ledger().replay(force=force, progress=progress)
        finally:
            progress.close()
        replayed, position = done.replayed, done.position
        if as_json:
            emit({"replayed": replayed, "position": position}, True)
        else:
            click.echo(f"replayed {replayed} events, read models at position {position}")

    @cli.command("copy")
    @click.option("--to", "target_url", required=True, metavar="URL",
                  help="The database to copy into: a SQLite path or a postgresql+psycopg:// URL.")
    @json_option
    def copy(target_url: str, as_json: bool) -> None:
        """Copy the stored events as they are into another database: same chain, same head."""
        done = current_ledger().copy(target_url)
        if as_json:
            emit({"copied": done.copied, "events": done.events, "head": done.head}, True)
        else:
            click.echo(f"copied {done.copied} events ({done.events} in all), head {done.head}")

    @cli.command("demo")
    def demo() -> None:
        """Record the Chiba Lexus story (skipping what is there) and print the seizure case's report."""
        done = current_ledger().demo()
        say(f"demo: recorded {done.result.imported} things, {done.result.skipped} already there")
        say("the report of the seizure case follows (`ledger report chiba-lexus`)\n")
        click.echo(done.report, nl=False)


def _show_history(rows: list[dict[str, Any]]) -> None:
    """Like `git log`: one block per stored event, corrections as old -> new."""
    from ledger.escaping import terminal

    for r in rows:
        click.echo(f"#{r['position']}  {terminal(r['type'])}  {terminal(r['stream'])}  v{r['version']}")
        role = f" (database role {terminal(r['db_role'])})" if r.get("db_role") else ""
        click.echo(f"    recorded {terminal(r['recorded_at'])} by {terminal(r['recorded_by'])}{role}; "
                   f"{_signed(r, terminal)}; hash {terminal(r['hash'][:16])}")
        for name, change in r.get("changes", {}).items():
            click.echo(f"    {terminal(name)}: {terminal(_plain(change['old']))} -> {terminal(_plain(change['new']))}")
        data = dict(r["data"])
        data.update(data.pop("fields", None) or {})
        data.update(data.pop("data", None) or {})
        if r["type"].endswith(".Claimed"):  # what the source says: its changes are not the record's
            data.update({f"claims {k}": v for k, v in (data.pop("changes", None) or {}).items() if k != "precision"})
        if "changes" in r or "Retracted" in r["type"]:
            data["prompted by"] = data.pop("sources", None)
        for name, value in data.items():
            if name in ("digest", "op_key", "changes", "precision") or value in (None, [], {}):
                continue
            click.echo(f"    {terminal(name)}: {terminal(_plain(value))}")


def _signed(row: dict[str, Any], terminal: Any) -> str:
    if row["signer"] == "unsigned":
        return "unsigned"
    if row["signed"]:
        return f"signed with {terminal(row['signer'])}"
    return f"claims signer {terminal(row['signer'])}, but no signature that holds covers it: run ledger verify"


def _plain(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{k}={v}" for k, v in value.items())
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
