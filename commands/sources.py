"""Asking the ledger about sources and links: `sources`, `source show`, `source amend`, `links`.

The reads are SQLAlchemy statements (`projections.asking`), imported only when one of them runs.
"""

from __future__ import annotations

from typing import Any

import click

from commands.output import (
    LIMIT,
    current_ledger,
    emit,
    emit_rows,
    format_option,
    json_option,
    set_pairs,
    table,
    written,
)

SOURCE_COLUMNS = ["id", "publisher", "grade", "cited_by", "title"]
SOURCE_FLAT = ["id", "publisher", "title", "url", "published", "reliability", "credibility", "cited_by"]
LINK_COLUMNS = ["id", "name", "shared", "depth", "roles", "cases"]  # shared: incidents
LINK_FLAT = ["id", "name", "kind", "incidents", "cases", "roles", "first", "last", "depth", "via"]


def _paged(command: Any) -> Any:
    command = click.option("--offset", type=click.IntRange(0, LIMIT), default=0, metavar="N",
                           help="Skip the first N rows.")(command)
    return click.option("--limit", type=click.IntRange(0, LIMIT), metavar="N", help="At most N rows.")(command)


def _grade(source: dict[str, Any]) -> str:
    return f"{source['reliability'] or '?'}{source['credibility'] or '?'}"


def attach(cli: click.Group, source: click.Group) -> None:
    @cli.command("sources")
    @click.option("--publisher", metavar="TEXT", help="Published by a name holding these words (case and accents "
                                                      "aside).")
    @click.option("--min-grade", "min_grade", metavar="GRADE",
                  help="Graded this well: B2 is reliability A-B and credibility 1-2.")
    @_paged
    @format_option
    def sources(publisher: str | None, min_grade: str | None, limit: int | None, offset: int, fmt: str) -> None:
        """List sources, as they stand after amendments, with how many incidents rest on each
        (retracted ones left out)."""
        rows = current_ledger().sources(publisher=publisher, min_grade=min_grade, limit=limit, offset=offset)
        emit_rows(rows, fmt, SOURCE_COLUMNS, human=lambda rs: table([{**r, "grade": _grade(r)} for r in rs],
                                                                     SOURCE_COLUMNS), flat_columns=SOURCE_FLAT)

    @source.command("show")
    @click.argument("source_id", metavar="SOURCE_ID")
    @json_option
    def source_show(source_id: str, as_json: bool) -> None:
        """Show a source, the incidents that rest on it and its amendments."""
        emit(current_ledger().source(source_id), as_json, _show_source)

    @source.command("amend")
    @click.argument("source_id", metavar="SOURCE_ID")
    @click.option("--reason", required=True, help="Why it is corrected.")
    @click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
                  help="A corrected field: publisher, title, url, published, reliability or credibility (an "
                       "empty value clears an optional one).")
    @click.option("--key", help="Idempotency key: amending again with it is a no-op.")
    @json_option
    def source_amend(source_id: str, reason: str, assignments: tuple[str, ...], key: str | None,
                     as_json: bool) -> None:
        """Correct a source's fields: a new event, the source as added is never changed."""
        outcome = current_ledger().amend_source(source_id, reason=reason, set=set_pairs(assignments), key=key)
        written(outcome, as_json, "source")

    @cli.command("links")
    @click.argument("entity_id", metavar="ENTITY_ID")
    @click.option("--depth", type=click.IntRange(1, 2), default=1, show_default=True, metavar="1|2",
                  help="1: the entities that share incidents with it; 2: also the entities that share incidents "
                       "with those.")
    @click.option("--case", "cases", multiple=True, metavar="CASE_ID",
                  help="Only incidents of this case (repeatable: any of them).")
    @_paged
    @format_option
    def links(entity_id: str, depth: int, cases: tuple[str, ...], limit: int | None, offset: int, fmt: str) -> None:
        """Who shares incidents (not retracted) with an entity, merges followed: nearest first,
        then most shared."""
        rows = current_ledger().links(entity_id, depth=depth, cases=cases, limit=limit, offset=offset)
        columns = [c for c in LINK_COLUMNS if depth == 2 or c != "depth"]  # (a depth-1 list is all depth 1)
        emit_rows(rows, fmt, columns, flat_columns=LINK_FLAT,
                  human=lambda rs: table([{**r, "shared": r["incidents"]} for r in rs], columns))


def _show_source(doc: dict[str, Any]) -> None:
    from ledger.escaping import terminal

    click.echo(f"{terminal(doc['id'])}: {terminal(doc['title'])}")
    click.echo(f"publisher {terminal(doc['publisher'])}; published {terminal(doc['published'] or '-')}; "
               f"graded {terminal(_grade(doc))} (reliability {terminal(doc['reliability'] or 'not given')}, "
               f"credibility {doc['credibility'] or 'not given'})")
    if doc.get("url"):
        click.echo(f"url: {terminal(doc['url'])}")
    click.echo(f"cited by {doc['cited_by']} incident{'' if doc['cited_by'] == 1 else 's'} (retracted ones left out)")
    table([{"incident": i} for i in doc["incidents"]], ["incident"], title="Incidents")
    rows = [{"position": a["position"], "by": a["recorded_by"], "at": a["recorded_at"],
             "changes": "\n".join(f"{k}: {_plain(v['old'])} -> {_plain(v['new'])}" for k, v in a["changes"].items()),
             "reason": a["reason"]} for a in doc["amendments"]]
    if rows:
        table(rows, ["position", "at", "by", "changes", "reason"], title="Amendments")
    if doc.get("claims"):
        from ledger.domain.claims import shown_value

        table([{"target": c["incident"], "field": c["field"], "value": shown_value(c["value"]),
                "standing": c["status"] + (f": {c['reason']}" if c.get("reason") else "")} for c in doc["claims"]],
              ["target", "field", "value", "standing"], title="Claims")
    click.echo(f"as of ledger position {doc['position']}")


def _plain(value: Any) -> str:
    return "(none)" if value is None else str(value)
