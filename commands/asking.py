"""Asking the ledger: `incidents` (any mix of filters), `incident show`, `stats`.

The queries are SQLAlchemy statements (`projections.asking`), imported only when one of these
commands runs: `ledger --help` and the other reads never import SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import click

from commands.output import LIMIT, current_ledger, emit, emit_rows, format_option, json_option, table
from commands.reads import INCIDENT_COLUMNS, as_of_option
from ledger.domain.kinds import KINDS, ROLES

# as projections.asking has them (a test holds the two together): that module imports SQLAlchemy
STATUSES = ("active", "amended", "retracted", "disputed")
SORTS = ("on", "-on", "recorded", "-recorded")
STATS_BY = ("kind", "country", "year", "case", "source", "actor")
STATS_COLUMNS = ["key", "incidents", "first", "last"]


def filter_options(command: Any) -> Any:
    """The filters of `incidents`, which `stats` takes too: repeated options of one name are OR,
    different options AND."""
    options = [
        click.option("--case", "case", multiple=True, metavar="CASE_ID",
                     help="In this case (repeatable: any of them)."),
        click.option("--kind", "kind", multiple=True, type=click.Choice(list(KINDS)), metavar="KIND",
                     help=f"Of this kind (repeatable): {', '.join(KINDS)}."),
        click.option("--entity", "entity", multiple=True, metavar="ENTITY_ID",
                     help="With this entity in a role (or one merged into it; repeatable)."),
        click.option("--role", "role", multiple=True, type=click.Choice(list(ROLES)), metavar="ROLE",
                     help=f"With --entity: in this role; alone: with someone in this role (repeatable): "
                          f"{', '.join(ROLES)}."),
        click.option("--country", "country", multiple=True, metavar="CC",
                     help="Its country, or a country filling a role (repeatable; the code in any case)."),
        click.option("--source", "source", multiple=True, metavar="SOURCE_ID",
                     help="Resting on this source (repeatable)."),
        click.option("--min-grade", "min_grade", metavar="GRADE",
                     help="At least one source graded this well: B2 is reliability A-B and credibility 1-2."),
        click.option("--from", "date_from", metavar="DATE", help="Its date's range overlaps from DATE on."),
        click.option("--to", "date_to", metavar="DATE",
                     help="... up to the end of DATE (--to 2017-09: all September)."),
        click.option("--within", is_flag=True,
                     help="With --from/--to: its date's range lies inside, not only overlaps."),
        click.option("--status", "status", multiple=True, type=click.Choice(STATUSES),
                     help="Only these statuses (repeatable); retracted incidents show only when asked for."),
        click.option("--text", metavar="WORDS",
                     help="Words in its notes, places, reasons, quotes or the names of the entities in its roles."),
        click.option("--recorded-since", "recorded_since", metavar="WHEN",
                     help="Recorded after position WHEN, or since an ISO 8601 date or date-time."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


paging = [click.option("--limit", type=click.IntRange(0, LIMIT), metavar="N", help="At most N rows."),
          click.option("--offset", type=click.IntRange(0, LIMIT), default=0, metavar="N",
                       help="Skip the first N rows.")]


def _paged(command: Any) -> Any:
    for option in reversed(paging):
        command = option(command)
    return command


def attach(cli: click.Group, incident: click.Group) -> None:
    @cli.command("incidents")
    @filter_options
    @click.option("--sort", type=click.Choice(SORTS), default="on", show_default=True,
                  help="on: in the order they happened (timeline order); recorded: in recording order; "
                       "-: newest first.")
    @_paged
    @as_of_option
    @format_option
    def incidents(sort: str, limit: int | None, offset: int, as_of: str | None, fmt: str, **filters: Any) -> None:
        """Incidents that pass every filter given, in timeline order."""
        from commands.reads import _timeline_csv, _with_key
        from ledger.export.delimited import CSV_COLUMNS

        rows = current_ledger().incidents(**filters, sort=sort, limit=limit, offset=offset, as_of=as_of,
                                          names=fmt == "table")
        emit_rows(rows, fmt, INCIDENT_COLUMNS, human=lambda rs: table([_with_key(r) for r in rs], INCIDENT_COLUMNS),
                  flat_columns=CSV_COLUMNS, flatten=_timeline_csv)

    @incident.command("show")
    @click.argument("ref", metavar="INCIDENT_ID|KEY")
    @as_of_option
    @json_option
    def incident_show(ref: str, as_of: str | None, as_json: bool) -> None:
        """Show one incident (by id or key): its fields, the names in its roles, and its history."""
        emit(current_ledger().incident(ref, as_of=as_of), as_json, _show_incident)

    @cli.command("stats")
    @click.option("--by", type=click.Choice(STATS_BY), default="kind", show_default=True,
                  help="Count incidents by kind, country, year, case, source (each one cited) or actor (who recorded).")
    @filter_options
    @_paged
    @as_of_option
    @format_option
    def stats(by: str, limit: int | None, offset: int, as_of: str | None, fmt: str, **filters: Any) -> None:
        """Incidents counted by kind, country, year, case, source or actor, with their first and last
        dates; retracted incidents count nowhere."""
        rows = current_ledger().stats(by, limit=limit, offset=offset, as_of=as_of, **filters)
        emit_rows(rows, fmt, STATS_COLUMNS)


def _show_incident(doc: dict[str, Any]) -> None:
    """One incident for people: a field per line, each entity as `name (id)`, then its history."""
    from commands.audit import _show_history
    from commands.output import terminal_width, wrap
    from commands.reads import named
    from ledger.domain.kinds import shown_details
    from ledger.escaping import terminal, terminal_lines

    names = doc.get("names") or {}
    room = terminal_width()
    lines: list[tuple[str, str]] = [
        ("id", terminal(doc["id"])), ("key", terminal(doc.get("key") or "-")),
        ("kind", terminal(doc["kind"])), ("case", terminal(doc["case"])),
        ("on", f"{terminal(doc['on'])} ({terminal(doc['precision'])})"), ("status", terminal(doc["status"])),
    ]
    if doc.get("place"):
        lines.append(("place", terminal(doc["place"])))
    if doc.get("country"):
        lines.append(("country", named(doc["country"], names | _country(doc["country"]))))
    for detail in shown_details(doc["kind"], doc):
        lines.append((detail["label"], terminal(detail["text"])))
    for role, refs in doc["roles"].items():
        lines.append((role, ", ".join(named(ref, names) for ref in refs)))
    lines.append(("sources", ", ".join(map(terminal, doc["sources"]))))
    recorded = f"{terminal(doc.get('recorded_at') or '-')} by {terminal(doc.get('recorded_by') or '-')}"
    lines.append(("recorded", recorded))
    label = max(len(name) for name, _ in lines) + 2
    for name, value in lines:
        parts = wrap(value, max(room - label, 20), breakable=False) or [""]
        click.echo(f"{name.ljust(label)}{parts[0]}")
        for part in parts[1:]:
            click.echo(" " * label + part)
    if doc.get("note"):
        click.echo("note")
        for text in terminal_lines(doc["note"]):
            for part in wrap(text, room - 2):
                click.echo(f"  {part}")
    if doc.get("claims"):
        from commands.claims import show_claims

        disputed = f" (disputed: {', '.join(map(terminal, doc['disputed']))})" if doc["disputed"] else ""
        click.echo(f"\nClaims{disputed}")
        show_claims(doc["claims"], names)
    click.echo("\nHistory")
    _show_history(doc.get("history") or [])
    click.echo(f"as of ledger position {doc['position']}")


def _country(code: str) -> dict[str, str]:
    from ledger.domain.values import country_name

    try:
        return {code: country_name(code)}
    except ValueError:
        return {}
