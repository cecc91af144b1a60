"""`ledger export` and `ledger report`: the ledger's answers, portable and auditable."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import click

from ledger.export import FORMATS as EXPORT_FORMATS
from ledger.report import FORMATS as REPORT_FORMATS


def write_out(chunks: Iterable[str], path: str | None) -> None:
    """To stdout, or to FILE through a temporary file in FILE's folder renamed into place, so a
    failed command leaves neither a half file nor a temporary one. A new file gets the mode the
    user's umask gives (0o666 & ~umask), an existing file keeps its own."""
    if path is None or path == "-":
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    from ledger.errors import Refused

    target = Path(os.path.realpath(path))  # a symlink is followed, never replaced
    if target.exists() and not target.is_file() and not target.is_dir():
        # a device, a pipe, /dev/stdout: written to as it is (renaming over it would replace it)
        with open(target, "w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
        return
    folder = target.parent
    if not folder.is_dir():
        raise Refused(f"-o {path}: there is no folder {folder}")
    if target.is_dir():
        raise Refused(f"-o {path}: that is a folder, not a file")
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
    except OSError as error:
        raise Refused(f"-o {path}: cannot write in {folder}: {error.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask: reading it means setting it, so it is set straight back."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def attach(cli: click.Group) -> None:
    @cli.command("export")
    @click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl", show_default=True)
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    @click.option("--case", "case_id", help="Only this case, with the sources and entities it needs.")
    @click.option("--as-of", "as_of", metavar="WHEN",
                  help="A ledger position or ISO 8601 recording time: the ledger as it stood then.")
    def export(fmt: str, output: str | None, case_id: str | None, as_of: str | None) -> None:
        """Export as JSON Lines for `ledger import`, FollowTheMoney entities, or CSV."""
        from commands.output import current_ledger

        write_out(current_ledger().export(fmt, case_id, as_of), output)


def attach_report(cli: click.Group) -> None:
    @cli.command("report")
    @click.argument("case_id", metavar="CASE_ID")
    @click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="md", show_default=True)
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    @click.option("--as-of", "as_of", metavar="WHEN", help="A ledger position or ISO 8601 recording time.")
    def report(case_id: str, fmt: str, output: str | None, as_of: str | None) -> None:
        """An auditable case report: timeline, sources, entities, corrections, position and head hash."""
        from commands.output import current_ledger

        write_out([current_ledger().report(case_id, fmt, as_of)], output)
