"""The reads: cases, case show, entities, entity show, timeline. All answer from the read models."""

from __future__ import annotations

from typing import Any

import click

from commands.output import emit, json_option, table


def _query(name: str, *args: Any, as_of: str | None = None, **kwargs: Any) -> Any:
    """Run one of projections.queries on read models that are up to date (or as of WHEN)."""
    from projections import queries

    ctx = click.get_current_context().obj
    light = ctx.light_read() if as_of is None else None
    if light is not None:
        try:
            result = getattr(queries, name)(queries.Db(light.conn, light.generation), *args, **kwargs)
        finally:
            light.close()
        position = light.position
    else:
        with ctx.read_models(as_of).reading() as (db, position):
            result = getattr(queries, name)(db, *args, **kwargs)
    if isinstance(result, dict):
        result["position"] = position
    return result


as_of_option = click.option("--as-of", "as_of", metavar="WHEN",
                            help="A ledger position, or an ISO 8601 recording date or time: answer as of then.")

INCIDENT_COLUMNS = ["on", "kind", "status", "case", "roles", "sources", "id"]


def attach(cli: click.Group, entity: click.Group, case: click.Group) -> None:
    @cli.command("cases")
    @click.option("--status", type=click.Choice(["open", "investigating", "referred", "closed"]))
    @as_of_option
    @json_option
    def cases(status: str | None, as_of: str | None, as_json: bool) -> None:
        """List cases with their count of incidents (retracted ones left out)."""
        emit(_query("cases", status, as_of=as_of), as_json, lambda rows: table(rows, ["id", "status", "incidents", "title"]))

    @case.command("show")
    @click.argument("case_id", metavar="CASE_ID")
    @as_of_option
    @json_option
    def case_show(case_id: str, as_of: str | None, as_json: bool) -> None:
        """Show a case, its incidents and the entities in them."""
        emit(_query("case_show", case_id, as_of=as_of), as_json, _show_case)

    @cli.command("entities")
    @click.option("--kind", type=click.Choice(["person", "organization", "vehicle", "vessel", "goods", "place",
                                               "country"]))
    @as_of_option
    @json_option
    def entities(kind: str | None, as_of: str | None, as_json: bool) -> None:
        """List entities (merged duplicates left out) and the countries in a role."""
        emit(_query("entities", kind, as_of=as_of), as_json, lambda rows: table(rows, ["id", "kind", "name"]))

    @entity.command("show")
    @click.argument("entity_id", metavar="ENTITY_ID")
    @as_of_option
    @json_option
    def entity_show(entity_id: str, as_of: str | None, as_json: bool) -> None:
        """Show an entity, what it was merged from, and its incidents."""
        emit(_query("entity_show", entity_id, as_of=as_of), as_json, _show_entity)

    @cli.command("timeline")
    @click.option("--case", "case_id", help="Only this case's incidents.")
    @click.option("--entity", "entity_id", help="Only incidents this entity (or its duplicates) is in.")
    @click.option("--include-retracted", is_flag=True)
    @as_of_option
    @json_option
    def timeline(case_id: str | None, entity_id: str | None, include_retracted: bool, as_of: str | None,
                 as_json: bool) -> None:
        """Incidents in the order they happened."""
        rows = _query("timeline", case_id, entity_id, include_retracted, as_of=as_of)
        emit(rows, as_json, lambda rs: table(rs, INCIDENT_COLUMNS))


def _show_case(doc: dict[str, Any]) -> None:
    click.echo(f"{doc['id']}: {doc['title']}")
    click.echo(f"status {doc['status']}; jurisdiction {doc['jurisdiction'] or '-'}; regime {doc['regime'] or '-'}")
    if doc.get("summary"):
        click.echo(doc["summary"])
    rows = []
    for inc in doc["incidents"]:
        row = dict(inc)
        if inc.get("value") is not None:
            row["kind"] = f"{inc['kind']} ({inc['value']:,} {inc['currency']})"
        row["on"] = f"{inc['on']} ({inc['precision']})"
        rows.append(row)
    table(rows, ["on", "kind", "status", "roles", "sources", "note"], title="Incidents")
    table(doc["entities"], ["id", "kind", "name", "roles"], title="Entities")
    click.echo(f"as of ledger position {doc['position']}")


def _show_entity(doc: dict[str, Any]) -> None:
    click.echo(f"{doc['id']} ({doc['kind']}): {doc['name']}")
    for label in ("aliases", "merged_from", "cases"):
        if doc.get(label):
            click.echo(f"{label.replace('_', ' ')}: {', '.join(doc[label])}")
    if doc.get("identifiers"):
        click.echo("identifiers: " + ", ".join(f"{k}={v}" for k, v in doc["identifiers"].items()))
    if doc.get("country"):
        click.echo(f"country: {doc['country']}")
    table(doc["incidents"], ["on", "kind", "role", "case", "status", "id"], title="Incidents")
    click.echo(f"as of ledger position {doc['position']}")
