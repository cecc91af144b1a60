"""Contested claims: `claim`, `accept`, `refute` and `disputes`."""

from __future__ import annotations

from typing import Any

import click

from commands.output import current_ledger, emit_rows, format_option, json_option, set_pairs, table

TARGET = "An incident's id or key, or case:CASE_ID."
DISPUTE_COLUMNS = ["target", "case", "field", "values"]
DISPUTE_FLAT = ["target", "case", "field", "disputed", "accepted", "values"]


def _values(values: list[dict[str, Any]]) -> str:
    """A field's values for a table: `USD 70,000 [accepted] (scmp, ndtv)`, one per line."""
    from ledger.domain.claims import shown_value

    return "\n".join(f"{shown_value(v['value'])} [{v['status']}] ({', '.join(v['sources']) or 'as opened'})"
                     for v in values)


def show_claims(claimed: dict[str, list[dict[str, Any]]], names: dict[str, str]) -> None:
    """An incident's or a case's claims for people: each field, each value with its standing and
    its sources (a role's entities by name and id), wrapped to the terminal's width."""
    from commands.output import terminal_width, wrap
    from commands.reads import named
    from ledger.domain.claims import shown_value
    from ledger.escaping import terminal

    room = terminal_width()

    def say(indent: int, text: str) -> None:
        for part in wrap(text, max(room - indent, 20)) or [""]:
            click.echo(" " * indent + part)

    for field, values in claimed.items():
        say(2, terminal(field))
        for v in values:
            value = (", ".join(named(ref, names) for ref in v["value"]) if isinstance(v["value"], list)
                     else terminal(shown_value(v["value"])))
            voices = ", ".join(terminal(b["source"]) if b["source"] else "no source (as recorded)" for b in v["by"])
            say(4, f"{value}: {v['status']}{', corroborated' if v['corroborated'] else ''} ({voices})")
            if v["reason"]:
                say(6, f"reason: {terminal(v['reason'])}")
            for b in v["by"]:
                if b["quote"]:
                    say(6, f"{terminal(b['source'])}: \"{terminal(b['quote'])}\"")


def attach(cli: click.Group) -> None:
    from commands.writes import _write

    @cli.command("claim")
    @click.argument("target", metavar="TARGET")
    @click.option("--source", required=True, metavar="SOURCE_ID", help="The source that says so.")
    @click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
                  help="What it says a field is (repeatable: one claim); value and currency go together; "
                       "for a role or sources, ids comma-separated.")
    @click.option("--quote", help="Its words, as published; newlines allowed.")
    @click.option("--key", help="Idempotency key: claiming it again is a no-op.")
    @json_option
    def claim(target: str, source: str, assignments: tuple[str, ...], quote: str | None, key: str | None,
              as_json: bool) -> None:
        """Record what a source says about fields of TARGET, beside what the others say. TARGET:
        an incident's id or key, or case:CASE_ID (its fields: title, jurisdiction, regime, summary)."""
        _write("claim", as_json, "claim on", target=target, source=source, set=set_pairs(assignments) or None,
               quote=quote, key=key)

    def ruling(name: str, doc: str, reason_help: str) -> None:
        @cli.command(name, help=doc)
        @click.argument("target", metavar="TARGET")
        @click.argument("field", metavar="FIELD")
        @click.option("--source", required=True, metavar="SOURCE_ID", help="The source whose claim it is.")
        @click.option("--reason", required=True, help=reason_help)
        @json_option
        def command(target: str, field: str, source: str, reason: str, as_json: bool) -> None:
            _write(name, as_json, f"{name} on", target=target, field=field, source=source, reason=reason)

    ruling("accept", "Make a source's claim of FIELD the value of TARGET (an incident's id or key, or "
                     "case:CASE_ID), with the reason.", "Why this value is the one.")
    ruling("refute", "Mark a source's claim of FIELD of TARGET wrong, with the reason: it is kept and shown, "
                     "and no longer counts.", "Why the claim is wrong.")

    @cli.command("disputes")
    @click.option("--case", "cases", multiple=True, metavar="CASE_ID", help="Only in this case (repeatable).")
    @click.option("--as-of", "as_of", metavar="WHEN", help="As the ledger stood at a position or a recording time.")
    @format_option
    def disputes(cases: tuple[str, ...], as_of: str | None, fmt: str) -> None:
        """List every field that sources contest (their claims give more than one value), with each
        value, its sources and its standing; settled ones too, with the value accepted."""
        rows = current_ledger().disputes(cases=list(cases), as_of=as_of)

        def flat(row: dict[str, Any]) -> dict[str, Any]:  # one value a line in the cell, as people read it
            from ledger.domain.claims import shown_value

            accepted = shown_value(row["accepted"]) if row["accepted"] is not None else ""
            return {**row, "values": _values(row["values"]), "accepted": accepted}

        emit_rows(rows, fmt, DISPUTE_COLUMNS, flat_columns=DISPUTE_FLAT, flatten=flat,
                  human=lambda rs: table([{**r, "values": _values(r["values"])} for r in rs], DISPUTE_COLUMNS))
