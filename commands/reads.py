"""The reads: cases, case show, entities, entity show, timeline. All answer from the read models."""

from __future__ import annotations

from typing import Any

import click

from commands.output import current_ledger, emit, emit_rows, format_option, json_option, table
from ledger.domain.vocabulary import CASE_STATUSES

as_of_option = click.option("--as-of", "as_of", metavar="WHEN",
                            help="A ledger position, or an ISO 8601 recording date or time: answer as of then.")

ID_KEY = "id / key"
INCIDENT_COLUMNS = [ID_KEY, "on", "kind", "status", "case", "roles", "sources"]
CASE_COLUMNS = ["id", "status", "incidents", "title"]
ENTITY_COLUMNS = ["id", "name", "kind"]


def _with_key(inc: dict[str, Any]) -> dict[str, Any]:
    """An incident row for a table: its id, and its key on the line below when it has one; each
    entity in its roles as `name (id)` when the read gave `"names"`."""
    row = dict(inc)
    row[ID_KEY] = f"{inc['id']}\n{inc['key']}" if inc.get("key") else inc["id"]
    if inc.get("names"):
        names = inc["names"]
        row["roles"] = {role: [named(ref, names) for ref in refs] for role, refs in inc["roles"].items()}
    return row


def named(ref: str, names: dict[str, str]) -> str:
    """An entity as a person reads it: `Chiba Prefectural Police (chiba-police)`, `Japan (JP)`; its
    id alone when there is no name. Escaped for the terminal, a newline in it too (`\\n`), so a
    name cannot start a line of its own in a table cell."""
    from ledger.escaping import terminal

    name = names.get(ref)
    return f"{terminal(name)} ({terminal(ref)})" if name else terminal(ref)


def _timeline_csv(inc: dict[str, Any]) -> dict[str, Any]:
    from ledger.export.delimited import flat_incident

    return flat_incident(inc)


def attach(cli: click.Group, entity: click.Group, case: click.Group) -> None:
    @cli.command("cases")
    @click.option("--status", type=click.Choice(CASE_STATUSES))
    @as_of_option
    @format_option
    def cases(status: str | None, as_of: str | None, fmt: str) -> None:
        """List cases with their count of incidents (retracted ones left out)."""
        emit_rows(current_ledger().cases(status, as_of=as_of), fmt, CASE_COLUMNS,
                  flat_columns=["id", "title", "status", "incidents"])

    @case.command("show")
    @click.argument("case_id", metavar="CASE_ID")
    @as_of_option
    @json_option
    def case_show(case_id: str, as_of: str | None, as_json: bool) -> None:
        """Show a case, its incidents and the entities in them."""
        emit(current_ledger().case(case_id, as_of=as_of, names=not as_json), as_json, _show_case)

    @cli.command("entities")
    @click.option("--kind", type=click.Choice(["person", "organization", "vehicle", "vessel", "goods", "place",
                                               "country"]))
    @as_of_option
    @format_option
    def entities(kind: str | None, as_of: str | None, fmt: str) -> None:
        """List entities (merged duplicates left out) and the countries in a role."""
        emit_rows(current_ledger().entities(kind, as_of=as_of), fmt, ENTITY_COLUMNS,
                  flat_columns=["id", "kind", "name"])

    @entity.command("show")
    @click.argument("entity_id", metavar="ENTITY_ID|NAME")
    @as_of_option
    @json_option
    def entity_show(entity_id: str, as_of: str | None, as_json: bool) -> None:
        """Show an entity, what it was merged from, and its incidents. By id, or by a name or alias
        that names exactly one entity (case, accents and spelling variants aside)."""
        emit(current_ledger().entity(entity_id, as_of=as_of, names=not as_json), as_json, _show_entity)

    @cli.command("timeline")
    @click.option("--case", "case_id", help="Only this case's incidents.")
    @click.option("--entity", "entity_id", help="Only incidents this entity (or its duplicates) is in.")
    @click.option("--include-retracted", is_flag=True)
    @as_of_option
    @format_option
    def timeline(case_id: str | None, entity_id: str | None, include_retracted: bool, as_of: str | None,
                 fmt: str) -> None:
        """Incidents in the order they happened."""
        from ledger.export.delimited import CSV_COLUMNS

        rows = current_ledger().timeline(case_id, entity_id, include_retracted=include_retracted, as_of=as_of,
                                         names=fmt == "table")
        emit_rows(rows, fmt, INCIDENT_COLUMNS,
                  human=lambda rs: table([_with_key(r) for r in rs], INCIDENT_COLUMNS, shared=["roles"]),
                  flat_columns=CSV_COLUMNS, flatten=_timeline_csv)


def _show_case(doc: dict[str, Any]) -> None:
    from ledger.escaping import terminal

    click.echo(f"{terminal(doc['id'])}: {terminal(doc['title'])}")
    click.echo(f"status {terminal(doc['status'])}; jurisdiction {terminal(doc['jurisdiction'] or '-')}; "
               f"regime {terminal(doc['regime'] or '-')}")
    if doc.get("summary"):
        from commands.output import terminal_width, wrap
        from ledger.escaping import terminal_lines

        room = terminal_width()
        click.echo("\n".join(part for text in terminal_lines(doc["summary"]) for part in wrap(text, room)))
    from ledger.domain.kinds import shown_details

    rows = []
    for inc in doc["incidents"]:
        row = _with_key(inc)
        # the kind's own fields: an amount under the kind (a seizure's 70,000 USD), the others (an
        # arrest's charge) before the note, where text wraps
        details = shown_details(inc["kind"], inc)
        row["kind"] = "\n".join([inc["kind"], *(d["text"] for d in details if d["amount"])])
        texts = [f"{d['label']}: {d['text']}" for d in details if not d["amount"]]
        row["note"] = "\n".join([*texts, *([inc["note"]] if inc.get("note") else [])]) or None
        rows.append(row)
    table(rows, [ID_KEY, "on", "kind", "status", "roles", "sources", "note"], title="Incidents", shared=["roles"])
    table(doc["entities"], ["id", "name", "kind", "roles"], title="Entities")
    if doc.get("claims"):
        from commands.claims import show_claims

        disputed = f" (disputed: {', '.join(map(terminal, doc['disputed']))})" if doc.get("disputed") else ""
        click.echo(f"Claims on the case's fields{disputed}")
        show_claims(doc["claims"], {})
    contested = [f"{inc.get('key') or inc['id']}: {', '.join(inc['disputed'])}" for inc in doc["incidents"]
                 if inc.get("disputed") and inc["status"] != "retracted"]
    if contested:
        click.echo("Disputed fields (ledger disputes): " + "; ".join(map(terminal, contested)))
    click.echo(f"as of ledger position {doc['position']}")


def _show_entity(doc: dict[str, Any]) -> None:
    from ledger.escaping import terminal

    click.echo(f"{terminal(doc['id'])} ({terminal(doc['kind'])}): {terminal(doc['name'])}")
    names = doc.get("names") or {}
    for label in ("aliases", "merged_from", "cases"):
        if doc.get(label):
            shown = (named(i, names) for i in doc[label]) if label == "merged_from" else map(terminal, doc[label])
            click.echo(f"{label.replace('_', ' ')}: {', '.join(shown)}")
    if doc.get("identifiers"):
        click.echo("identifiers: " + ", ".join(f"{terminal(k)}={terminal(v)}" for k, v in doc["identifiers"].items()))
    if doc.get("country"):
        click.echo(f"country: {named(doc['country'], names)}")
    table(doc["incidents"], ["id", "on", "kind", "role", "case", "status"], title="Incidents")
    click.echo(f"as of ledger position {doc['position']}")
