"""The `ledger` command: the group, its global options, and the mapping of errors to exit codes.

Commands are thin: each parses its options, calls one method of `ledger.api.Ledger` (the one
object the group opens from --db, --actor and --key, and closes when the command ends) and prints
what it returns. Heavy modules (eventsourcing, pydantic, cryptography) are imported inside the
methods that need them, so `ledger --help` and a read of an up-to-date ledger stay fast.
"""

from __future__ import annotations

import os
from typing import Any

import click


class LedgerGroup(click.Group):
    """Maps the ledger's errors to `Error: ...` on stderr and exit 1 (refused) or 2 (bad input)."""

    def invoke(self, ctx: click.Context) -> Any:
        from ledger.errors import LedgerError
        from ledger.escaping import terminal  # an error names what it refuses: shown escaped, on one line

        try:
            return super().invoke(ctx)
        except LedgerError as error:
            click.echo(f"Error: {terminal(str(error))}", err=True)
            ctx.exit(error.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # a library error: translated here, never a traceback
            if os.environ.get("LEDGER_DEBUG"):
                raise
            click.echo(f"Error: {terminal(_translate(error))}", err=True)
            ctx.exit(1)




def _translate(error: Exception) -> str:
    name = type(error).__name__
    text = str(error) or name
    if "readonly database" in text or ("read-only" in text.lower() and "transaction" in text.lower()):
        return "the ledger is read-only here (no write access to its file or folder): nothing was stored"
    if "locked" in text or "lock timeout" in text:
        return f"the ledger is busy (another writer holds it): {text}"
    return f"{name}: {text} (set LEDGER_DEBUG=1 for details)"


@click.group(cls=LedgerGroup)
@click.option("--db", envvar="LEDGER_DB", default="ledger.db", show_default=True,
              help="Ledger database: a SQLite file path, or a URL (sqlite:///PATH, postgresql+psycopg://USER@HOST/DB).")
@click.option("--actor", envvar="LEDGER_ACTOR", default=None,
              help="Who records; stored on every event. Default: the OS login name.")
@click.option("--key", "key", envvar="LEDGER_KEY", default=None, metavar="KEYFILE",
              help="Sign every event this command writes with this private key (from ledger key new).")
@click.version_option(package_name="ledger")
@click.pass_context
def cli(ctx: click.Context, db: str, actor: str | None, key: str | None) -> None:
    """An event-sourced, tamper-evident ledger of enforcement and diplomatic incidents."""
    from ledger.api import Ledger

    ledger = Ledger(db, actor=actor, key=key or None, on_warning=_warn)
    ctx.obj = ledger
    ctx.call_on_close(ledger.close)


def _warn(warning: str) -> None:
    """A write's warning (stored all the same): on stderr."""
    click.echo(f"Warning: {warning}", err=True)


@cli.group(cls=LedgerGroup)
def source() -> None:
    """Add, show and amend the sources that incidents cite."""


@cli.group(cls=LedgerGroup)
def entity() -> None:
    """Add, alias, merge and show entities."""


@cli.group(cls=LedgerGroup)
def case() -> None:
    """Open cases, change their status, show them."""


@cli.group(cls=LedgerGroup)
def record() -> None:
    """Record an incident of one of the kinds (raid, seizure, arrest, designation, ...)."""


@cli.group(cls=LedgerGroup)
def incident() -> None:
    """Show one incident (`incidents` lists them)."""


@cli.group(cls=LedgerGroup)
def key() -> None:
    """Make signing keys and register them in the ledger."""


@cli.group(cls=LedgerGroup)
def policy() -> None:
    """Adopt a policy of the whole ledger (require-signatures)."""


from commands import admin, asking, audit, claims, evidence, exporting, reads, search, sources, writes  # noqa: E402  (they attach commands to the groups above)

writes.attach(cli, source, entity, case, record)
reads.attach(cli, entity, case)
audit.attach(cli)
exporting.attach(cli)
exporting.attach_report(cli)
evidence.attach(cli, key, policy)
admin.attach(cli)
sources.attach(cli, source)
asking.attach(cli, incident)
search.attach(cli)
claims.attach(cli)


def main() -> None:
    import signal

    if hasattr(signal, "SIGPIPE"):  # `ledger export | head`: stop quietly when the reader goes away
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    cli.main(prog_name="ledger")


if __name__ == "__main__":
    main()
