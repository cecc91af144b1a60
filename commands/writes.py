"""The commands that record: sources, entities, cases, incidents, corrections and imports."""

from __future__ import annotations

from typing import Any

import click

from commands.output import emit, json_option, say, written

PLURALS = {"source": "sources", "alias": "aliases", "identifier": "identifiers",
           "subject": "subjects", "person": "persons"}


def _fill(op: str, **values: Any) -> Any:
    """Click's values into the op's input model (the one the import fills too)."""
    from ledger import inputs

    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        data[PLURALS.get(name, name)] = list(value) if isinstance(value, tuple) else value
    return inputs.parse(inputs.OPS[op], data)


def _write(op: str, as_json: bool, what: str, **values: Any) -> None:
    outcome = click.get_current_context().obj.run(_fill(op, **values))
    written(outcome, as_json, what)


def attach(cli: click.Group, source: click.Group, entity: click.Group, case: click.Group, record: click.Group) -> None:
    @source.command("add")
    @click.argument("source_id", metavar="SOURCE_ID")
    @click.option("--publisher", help="Who published it.")
    @click.option("--title", help="Its title.")
    @click.option("--url")
    @click.option("--published", help="Date: YYYY, YYYY-MM or YYYY-MM-DD.")
    @click.option("--reliability", help="Admiralty grading of the source: A (reliable) to F.")
    @click.option("--credibility", help="Admiralty grading of the claim: 1 (confirmed) to 6.")
    @json_option
    def source_add(source_id: str, as_json: bool, **values: Any) -> None:
        """Add a source."""
        _write("source.add", as_json, "source", id=source_id, **values)

    @entity.command("add")
    @click.argument("entity_id", metavar="ENTITY_ID")
    @click.option("--kind", help="person, organization, vehicle, vessel, goods or place.")
    @click.option("--name")
    @click.option("--alias", multiple=True)
    @click.option("--country", help="ISO 3166-1 alpha-2 code.")
    @click.option("--identifier", multiple=True, help="SCHEME=VALUE, e.g. imo=9876543.")
    @json_option
    def entity_add(entity_id: str, as_json: bool, **values: Any) -> None:
        """Add an entity."""
        _write("entity.add", as_json, "entity", id=entity_id, **values)

    @entity.command("alias")
    @click.argument("entity_id", metavar="ENTITY_ID")
    @click.argument("alias")
    @json_option
    def entity_alias(entity_id: str, alias: str, as_json: bool) -> None:
        """Give an entity another name."""
        _write("entity.alias", as_json, "entity", id=entity_id, alias=alias)

    @entity.command("merge")
    @click.argument("duplicate", metavar="DUPLICATE_ID")
    @click.argument("survivor", metavar="SURVIVOR_ID")
    @click.option("--reason")
    @json_option
    def entity_merge(duplicate: str, survivor: str, reason: str | None, as_json: bool) -> None:
        """Merge a duplicate entity into the one that survives."""
        _write("entity.merge", as_json, "entity", duplicate=duplicate, survivor=survivor, reason=reason)

    @case.command("open")
    @click.argument("case_id", metavar="CASE_ID")
    @click.option("--title")
    @click.option("--jurisdiction", help="ISO 3166-1 alpha-2 code.")
    @click.option("--regime", help="Sanctions regime, e.g. 'UNSCR 1718'.")
    @click.option("--summary")
    @json_option
    def case_open(case_id: str, as_json: bool, **values: Any) -> None:
        """Open a case."""
        _write("case.open", as_json, "case", id=case_id, **values)

    @case.command("status")
    @click.argument("case_id", metavar="CASE_ID")
    @click.argument("status", type=click.Choice(["open", "investigating", "referred", "closed"]))
    @click.option("--reason")
    @json_option
    def case_status(case_id: str, status: str, reason: str | None, as_json: bool) -> None:
        """Change a case's status (a closed case can only be reopened)."""
        _write("case.status", as_json, "case", id=case_id, status=status, reason=reason)

    for kind, options in RECORD_OPTIONS.items():
        record.add_command(_record_command(kind, options))

    @cli.command("amend")
    @click.argument("incident", metavar="INCIDENT_ID")
    @click.option("--reason")
    @click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                  help="A corrected field; for a role or sources, ids comma-separated.")
    @click.option("--source", multiple=True, help="A source that prompted the correction.")
    @json_option
    def amend(incident: str, reason: str | None, assignments: tuple[str, ...], source: tuple[str, ...],
              as_json: bool) -> None:
        """Correct an incident: a new event, the stored one is never changed."""
        from ledger.errors import InvalidInput

        changes: dict[str, str] = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise InvalidInput(f"--set {item!r}: use FIELD=VALUE")
            changes[name.strip()] = value
        _write("amend", as_json, "incident", incident=incident, reason=reason, set=changes or None, source=source)

    @cli.command("retract")
    @click.argument("incident", metavar="INCIDENT_ID")
    @click.option("--reason")
    @click.option("--source", multiple=True, help="A source that prompted the retraction.")
    @json_option
    def retract(incident: str, reason: str | None, source: tuple[str, ...], as_json: bool) -> None:
        """Retract an incident: it stays in history, out of the timeline."""
        _write("retract", as_json, "incident", incident=incident, reason=reason, source=source)

    @cli.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @click.option("--batch", default=5000, show_default=True, type=click.IntRange(1),
                  help="Lines stored per transaction once the whole file is validated.")
    @json_option
    def import_(file: str, batch: int, as_json: bool) -> None:
        """Import JSON Lines (FILE, or - for stdin): validated whole, then stored batch by batch."""
        import shutil
        import sys
        import tempfile

        from commands.output import Progress
        from ledger.errors import ImportRejected
        from ledger.importer import import_lines

        ctx = click.get_current_context().obj
        with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
            if file == "-":  # read twice (validate, then store): stdin goes to a file first
                shutil.copyfileobj(sys.stdin, spool)

            def lines() -> Any:
                if file == "-":
                    spool.seek(0)
                    return spool
                return open(file, encoding="utf-8")

            progress = Progress("import", "lines")
            try:
                result = import_lines(ctx.app(create=True), lines, ctx.settings.actor, progress, batch=batch,
                                      after_batch=lambda recorded: ctx.read_models(recorded=recorded))
            except ImportRejected as rejected:
                progress.close()
                for lineno, message in rejected.problems:
                    say(f"line {lineno}: {message}")
                raise
            progress.close()
        if as_json:
            emit({"imported": result.imported, "skipped": result.skipped, "position": result.position}, True)
        else:
            click.echo(f"imported {result.imported}, skipped {result.skipped}")


COMMON = [("--on", "DATE: YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601 date-time.", False),
          ("--source", "A source (at least one).", True),
          ("--place", None, False), ("--country", "ISO 3166-1 alpha-2 code.", False),
          ("--note", None, False), ("--key", "Idempotency key: recording it again is a no-op.", False)]
RECORD_OPTIONS: dict[str, list[tuple[str, str | None, bool]]] = {
    "raid": [("--authority", "ENTITY", False), ("--target", "ENTITY", False)],
    "seizure": [("--item", "ENTITY", False), ("--authority", "ENTITY", False), ("--holder", "ENTITY", False),
                ("--value", "AMOUNT", False), ("--currency", "ISO 4217 code.", False)],
    "questioning": [("--subject", "ENTITY (repeatable)", True), ("--authority", "ENTITY", False)],
    "recall": [("--envoy", "ENTITY", False), ("--sending-state", "Country code.", False),
               ("--post", "Country code.", False), ("--reason", None, False)],
    "expulsion": [("--person", "ENTITY (repeatable)", True), ("--expelling-state", "Country code.", False),
                  ("--reason", None, False)],
    "probe": [("--authority", "ENTITY", False), ("--subject", "ENTITY (repeatable)", True)],
}


def _record_command(kind: str, options: list[tuple[str, str | None, bool]]) -> click.Command:
    def run(case_id: str, as_json: bool, **values: Any) -> None:
        model = _fill(f"record.{kind}", case=case_id, **values)
        outcome = click.get_current_context().obj.run(model)
        if as_json:
            emit({"incident": outcome.id, "position": outcome.position, "skipped": outcome.skipped}, True)
        else:
            click.echo(outcome.id)

    run.__doc__ = f"Record a {kind}."
    command = json_option(run)
    for decl, help_text, multiple in reversed(COMMON + options):
        command = click.option(decl, multiple=multiple, help=help_text)(command)
    command = click.argument("case_id", metavar="CASE_ID")(command)
    return click.command(kind)(command)
