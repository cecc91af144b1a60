"""Upkeep by the database's owner: `ledger init`."""

from __future__ import annotations

from typing import Any

import click

from commands.output import emit, json_option


def attach(cli: click.Group) -> None:
    @cli.command("init")
    @json_option
    def init(as_json: bool) -> None:
        """Create or upgrade the ledger's tables.

        Run once, by the database owner: creates the events and receipts tables, their
        append-only triggers and, on PostgreSQL, the read models' schema, or adds what a ledger
        made by an older version lacks. Run again, it does nothing."""
        from ledger.errors import Refused
        from ledger.store.settings import EVENTS_TABLE, PG_EVENTS_TABLE
        from ledger.store.storage import everything

        ctx = click.get_current_context().obj
        settings = ctx.settings
        postgres = settings.backend == "postgresql"
        # a folder, a missing folder, another program's SQLite file, an unreachable server: refused
        before = settings.probe()
        changes: list[str]
        if before.current:
            done, changes = "nothing", []
        else:
            if postgres and not before.may_change:
                raise Refused(f"role {before.role} may not create or change the ledger's tables at {settings.where}: "
                              "run ledger init as the database owner")
            ctx.app(create=True, checked=True)  # the library's table, then ledger.store.storage's additions
            after = settings.probe()
            if not after.current:
                raise Refused(f"the ledger at {settings.where} still lacks {'; '.join(after.missing)}")
            done = "upgraded" if before.present else "created"
            changes = list(before.missing) if before.present else everything(
                PG_EVENTS_TABLE if postgres else EVENTS_TABLE, postgres)
        read_models = ctx.read_models()  # created, or of an older layout rebuilt, and caught up
        with read_models.reading() as (_db, position):
            pass
        report: dict[str, Any] = {"ledger": settings.where, "backend": settings.backend, "done": done,
                                  "changes": changes, "read_models": {"position": position,
                                                                      "stored": not read_models.read_only}}
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
