"""The commands that record: sources, entities, cases, incidents, corrections and imports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from commands.output import current_ledger, emit, json_option, say, written
from ledger.domain.kinds import KINDS, Kind, a
from ledger.domain.vocabulary import CASE_STATUSES

if TYPE_CHECKING:
    from ledger.app.inputs import Op

# a repeatable option's values go to a list under a plural name: --source to sources, a kind's
# --person to persons
PLURALS = {"source": "sources", "alias": "aliases", "identifier": "identifiers",
           **{role.name: role.field for kind in KINDS.values() for role in kind.roles if role.many}}


# the input model's field for a command's parameter, where the two names differ
FIELDS = {"source_id": "id", "entity_id": "id", "case_id": "id", "assignments": "set"}


def _field(param: click.Parameter, op: str) -> str:
    name = param.name or ""
    if name == "case_id" and op.startswith("record."):
        return "case"
    if getattr(param, "multiple", False):
        return PLURALS.get(name, name)
    return FIELDS.get(name, name)


def _fill(op: str, **values: Any) -> Op:
    """Click's values into the op's input model (the one the import fills too). Errors name the
    command's own options and arguments (`--source`, CASE_ID), not the model's fields."""
    from ledger.api import parse_op

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
    return parse_op(op, data, names)


def _write(op: str, as_json: bool, what: str, **values: Any) -> None:
    written(current_ledger().run(_fill(op, **values)), as_json, what)


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
    @click.option("--source", multiple=True, metavar="SOURCE_ID",
                  help="A source the case's fields rest on (repeatable): the case as opened is their claim.")
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

    for kind in KINDS.values():
        record.add_command(_record_command(kind))

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
        from commands.output import set_pairs

        changes = set_pairs(assignments)
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

        from commands.output import Progress
        from ledger.errors import ImportRejected
        from ledger.escaping import terminal

        with tempfile.TemporaryFile("w+b") as spool:
            spooled = False

            def stdin() -> Any:  # read twice (validate, then store): stdin goes to a file first
                nonlocal spooled
                if not spooled:
                    shutil.copyfileobj(sys.stdin.buffer, spool)
                    spooled = True
                spool.seek(0)
                return spool

            ledger, progress = current_ledger(), Progress("import", "lines")
            try:
                result = (ledger.import_lines(stdin, batch=batch, progress=progress) if file == "-" else
                          ledger.import_file(file, batch=batch, progress=progress))
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


# (option, help, repeatable, required): every incident's options, then its kind's, from its
# declaration (ledger.domain.kinds); a test holds `required` to the input models' own fields
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


def record_options(kind: Kind) -> list[Opt]:
    """The options of `record KIND`, besides COMMON: one per role, then one per detail."""
    roles = [("--" + role.name.replace("_", "-"),
              f"{role.help}: {STATE if role.state else ENTITIES if role.many else ENTITY}", role.many, role.required)
             for role in kind.roles]
    return roles + [("--" + d.name.replace("_", "-"), d.help, False, d.required) for d in kind.details]


def _record_command(kind: Kind) -> click.Command:
    def run(case_id: str, as_json: bool, **values: Any) -> None:
        incident = _fill(f"record.{kind.name}", case=case_id, **values)
        outcome = current_ledger().run(incident)
        if as_json:
            emit({"incident": outcome.id, "position": outcome.position, "skipped": outcome.skipped}, True)
        else:
            click.echo(outcome.id)

    run.__doc__ = f"Record {a(kind.name)}. {kind.help}"
    command = json_option(run)
    for decl, help_text, multiple, required in reversed(COMMON + record_options(kind)):
        command = click.option(decl, multiple=multiple, required=required, help=help_text)(command)
    command = click.argument("case_id", metavar="CASE_ID")(command)
    return click.command(kind.name)(command)
