"""Upkeep by the database's owner: `ledger init`."""

from __future__ import annotations

from typing import Any

import click

from commands.output import current_ledger, emit, json_option


def attach(cli: click.Group) -> None:
    @cli.command("init")
    @json_option
    def init(as_json: bool) -> None:
        """Create or upgrade the ledger's tables.

        Run once, by the database owner: creates the events and receipts tables, their
        append-only triggers and, on PostgreSQL, the read models' schema, or adds what a ledger
        made by an older version lacks. Run again, it does nothing."""
        report = current_ledger().init()
        emit(report, as_json, _show)


def _show(report: dict[str, Any]) -> None:
    if report["done"] == "nothing":
        click.echo(f"the ledger at {report['ledger']} is up to date: nothing to create")
    else:
        click.echo(f"{report['done']} the ledger at {report['ledger']}: {'; '.join(report['changes'])}")
    models = report["read_models"]
    if models["stored"]:
        click.echo(f"read models: up to date at position {models['position']}")
    else:
        click.echo(f"read models: not stored by this role (a reader, or the owner, who never uses the tables the "
                   f"writers' group owns): built in memory for each read, up to position {models['position']}")
