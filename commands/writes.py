"""The commands that record: sources, entities, cases, incidents, corrections and imports."""

from __future__ import annotations

from typing import Any

import click

from commands.output import emit, json_option, say, written
from ledger.domain.vocabulary import CASE_STATUSES

PLURALS = {"source": "sources", "alias": "aliases", "identifier": "identifiers",
           "subject": "subjects", "person": "persons"}


# the input model's field for a command's parameter, where the two names differ
FIELDS = {"source_id": "id", "entity_id": "id", "case_id": "id", "assignments": "set"}


def _field(param: click.Parameter, op: str) -> str:
    name = param.name or ""
    if name == "case_id" and op.startswith("record."):
        return "case"
    if getattr(param, "multiple", False):
        return PLURALS.get(name, name)
    return FIELDS.get(name, name)


def _fill(op: str, **values: Any) -> Any:
    """Click's values into the op's input model (the one the import fills too). Errors name the
    command's own options and arguments (`--source`, CASE_ID), not the model's fields."""
    from ledger.app import inputs

    data: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or value == ():
            continue
        # a repeatable option's values go to the plural field (--source: sources)
        data[PLURALS.get(name, name) if isinstance(value, tuple) else name] = \
            list(value) if isinstance(value, tuple) else value
    command = click.get_current_context().command
    names = {_field(p, op): (p.opts[0] if isinstance(p, click.Option) else p.human_readable_name)
             for p in command.params}
    return inputs.parse(inputs.OPS[op], data, names)


def _write(op: str, as_json: bool, what: str, **values: Any) -> None:
    outcome = click.get_current_context().obj.run(_fill(op, **values))
    written(outcome, as_json, what)


def attach(cli: click.Group, source: click.Group, entity: click.Group, case: click.Group, record: click.Group) -> None:
    @source.command("add")
    @click.argument("source_id", metavar="SOURCE_ID")
    @click.option("--publisher", required=True, help="Who published it.")
    @click.option("--title", required=True, help="Its title.")
    @click.option("--url", help="Where to read it: an http:// or https:// URL.")
    @click.option("--published", help="When it was published: YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601.")
    @click.option("--reliability", help="Admiralty grading of the source: A (reliable) to F.")
    @click.option("--credibility", help="Admiralty grading of the claim: 1 (confirmed) to 6.")
    @json_option
    def source_add(source_id: str, as_json: bool, **values: Any) -> None:
        """Add a source."""
        _write("source.add", as_json, "source", id=source_id, **values)

    @entity.command("add")
    @click.argument("entity_id", metavar="ENTITY_ID")
    @click.option("--kind", required=True, help="person, organization, vehicle, vessel, goods or place.")
    @click.option("--name", required=True, help="The name it is best known by.")
    @click.option("--alias", multiple=True, help="Another name or spelling (repeatable).")
    @click.option("--country", help="ISO 3166-1 alpha-2 code.")
    @click.option("--identifier", multiple=True, help="SCHEME=VALUE, e.g. imo=9876543 (repeatable).")
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
    @click.option("--reason", required=True, help="Why they are one.")
    @json_option
    def entity_merge(duplicate: str, survivor: str, reason: str | None, as_json: bool) -> None:
        """Merge a duplicate entity into the one that survives."""
        _write("entity.merge", as_json, "entity", duplicate=duplicate, survivor=survivor, reason=reason)

    @case.command("open")
    @click.argument("case_id", metavar="CASE_ID")
    @click.option("--title", required=True, help="What the case is about.")
    @click.option("--jurisdiction", help="ISO 3166-1 alpha-2 code.")
    @click.option("--regime", help="Sanctions regime, e.g. 'UNSCR 1718'.")
    @click.option("--summary", help="A paragraph; newlines allowed.")
    @json_option
    def case_open(case_id: str, as_json: bool, **values: Any) -> None:
        """Open a case."""
        _write("case.open", as_json, "case", id=case_id, **values)

    @case.command("status")
    @click.argument("case_id", metavar="CASE_ID")
    @click.argument("status", type=click.Choice(CASE_STATUSES))
    @click.option("--reason", required=True, help="Why the status changes.")
    @json_option
    def case_status(case_id: str, status: str, reason: str | None, as_json: bool) -> None:
        """Change a case's status (a closed case can only be reopened)."""
        _write("case.status", as_json, "case", id=case_id, status=status, reason=reason)

    for kind, options in RECORD_OPTIONS.items():
        record.add_command(_record_command(kind, options))

    @cli.command("amend")
    @click.argument("incident", metavar="INCIDENT_ID")
    @click.option("--reason", required=True, help="Why it is corrected.")
    @click.option("--set", "assignments", multiple=True, required=True, metavar="FIELD=VALUE",
                  help="A corrected field; for a role or sources, ids comma-separated.")
    @click.option("--source", multiple=True, help="A source that prompted the correction.")
    @json_option
    def amend(incident: str, reason: str | None, assignments: tuple[str, ...], source: tuple[str, ...],
              as_json: bool) -> None:
        """Correct an incident: a new event, the stored one is never changed."""
        from ledger.domain.values import shown
        from ledger.errors import InvalidInput

        changes: dict[str, str] = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise InvalidInput(f"--set {shown(item)}: use FIELD=VALUE")
            if name.strip() in changes:
                raise InvalidInput(f"--set {shown(name.strip())} given twice: give each field once")
            changes[name.strip()] = value
        _write("amend", as_json, "incident", incident=incident, reason=reason, set=changes or None, source=source)

    @cli.command("retract")
    @click.argument("incident", metavar="INCIDENT_ID")
    @click.option("--reason", required=True, help="Why it is retracted.")
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

        from commands.escaping import terminal
        from commands.output import Progress
        from ledger.app.importer import import_lines
        from ledger.errors import ImportRejected

        ctx = click.get_current_context().obj
        actor = ctx.actor
        with tempfile.TemporaryFile("w+b") as spool:
            if file == "-":  # read twice (validate, then store): stdin goes to a file first
                shutil.copyfileobj(sys.stdin.buffer, spool)

            def lines() -> Any:  # bytes: the importer says which line is not UTF-8
                if file == "-":
                    spool.seek(0)
                    return spool
                return open(file, "rb")

            progress = Progress("import", "lines")
            check, store = ctx.writer()
            check.may_write(actor)  # a ledger that refuses this signer (or its absence) says so before the file is read
            try:
                result = import_lines(check, lines, actor, progress, batch=batch, store=store,
                                      after_batch=lambda recorded: ctx.read_models(recorded=recorded))
            except ImportRejected as rejected:
                progress.close()
                for lineno, message in rejected.problems:
                    say(f"line {lineno}: {terminal(message)}")
                raise
            progress.close()
        for lineno, warning in result.warnings[:20]:
            say(f"line {lineno}: warning: {terminal(warning)}")
        if len(result.warnings) > 20:
            say(f"... and {len(result.warnings) - 20} more warnings")
        if as_json:
            emit({"imported": result.imported, "skipped": result.skipped, "position": result.position}, True)
        else:
            click.echo(f"imported {result.imported}, skipped {result.skipped}")


# (option, help, repeatable, required); a test holds `required` to the input models' own fields
Opt = tuple[str, str, bool, bool]
COMMON: list[Opt] = [
    ("--on", "When it happened: YYYY, YYYY-MM, YYYY-MM-DD or ISO 8601 date-time.", False, True),
    ("--source", "A source that reports it (repeatable; at least one).", True, True),
    ("--place", "Where it happened, as the sources say it.", False, False),
    ("--country", "ISO 3166-1 alpha-2 code of where it happened.", False, False),
    ("--note", "Free text; newlines allowed.", False, False),
    ("--key", "Idempotency key: recording it again is a no-op.", False, False)]
ENTITY = "an entity id, or a country's code in capitals (JP)."
ENTITIES = "entity ids or country codes (repeatable; at least one)."
STATE = "ISO 3166-1 alpha-2 code."
RECORD_OPTIONS: dict[str, list[Opt]] = {
    "raid": [("--authority", "Who raided: " + ENTITY, False, True),
             ("--target", "Who or what was raided: " + ENTITY, False, True)],
    "seizure": [("--item", "What was seized: " + ENTITY, False, True),
                ("--authority", "Who seized it: " + ENTITY, False, False),
                ("--holder", "Who held it: " + ENTITY, False, False),
                ("--value", "Its value, a number (with --currency).", False, False),
                ("--currency", "ISO 4217 code of --value.", False, False)],
    "questioning": [("--subject", "Who was questioned: " + ENTITIES, True, True),
                    ("--authority", "Who questioned: " + ENTITY, False, False)],
    "recall": [("--envoy", "The envoy recalled: " + ENTITY, False, True),
               ("--sending-state", "The state recalling: " + STATE, False, True),
               ("--post", "Where the envoy was posted: " + STATE, False, True),
               ("--reason", "Why, as reported; newlines allowed.", False, False)],
    "expulsion": [("--person", "Who was expelled: " + ENTITIES, True, True),
                  ("--expelling-state", "The state expelling: " + STATE, False, True),
                  ("--reason", "Why, as reported; newlines allowed.", False, False)],
    "probe": [("--authority", "Who investigates: " + ENTITY, False, True),
              ("--subject", "Who is investigated: " + ENTITIES, True, True)],
}


def _record_command(kind: str, options: list[Opt]) -> click.Command:
    def run(case_id: str, as_json: bool, **values: Any) -> None:
        incident = _fill(f"record.{kind}", case=case_id, **values)
        outcome = click.get_current_context().obj.run(incident)
        if as_json:
            emit({"incident": outcome.id, "position": outcome.position, "skipped": outcome.skipped}, True)
        else:
            click.echo(outcome.id)

    run.__doc__ = f"Record {'an' if kind[0] in 'aeiou' else 'a'} {kind}."
    command = json_option(run)
    for decl, help_text, multiple, required in reversed(COMMON + options):
        command = click.option(decl, multiple=multiple, required=required, help=help_text)(command)
    command = click.argument("case_id", metavar="CASE_ID")(command)
    return click.command(kind)(command)
