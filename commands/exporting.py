"""`ledger export` and `ledger report`: the ledger's answers, portable and auditable."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click


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


def from_the_log(ctx: Any, as_of: str | None) -> tuple[Any, int, str, dict[str, Any] | None]:
    """What a report or an export is made from: (read models, position, head, latest receipt).

    The live read models are checked first (a log cut or rewritten under them is refused); then
    the log up to the head (or `as_of`) is audited, chain, signatures and policy (refused unless
    it holds), and the read models are built afresh from it, in memory, never taken from the live
    tables: whoever can write the database can edit those (on PostgreSQL every writer owns them),
    and what goes out to people who never had the database must show what the verified, signed
    log says. The receipt is the latest kept in the ledger that the log still passes through."""
    from projections.integrity import latest_receipt

    ctx.read_models()
    app = ctx.app()
    position = app.position_at(as_of) if as_of is not None else (app.recorder.max_notification_id() or 0)
    head, receipt = latest_receipt(app, position)
    read_models = ctx.read_models(str(position))
    if read_models.built_to()[1] != head:  # two reads of the log, which must have seen the same rows
        from ledger.errors import LogChanged

        raise LogChanged("the log read to build the report is not the log that was audited (it does not end "
                         f"at head {head}); run ledger verify")
    return read_models, position, head, receipt


def attach(cli: click.Group) -> None:
    @cli.command("export")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "ftm", "csv"]), default="jsonl", show_default=True)
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    @click.option("--case", "case_id", help="Only this case, with the sources and entities it needs.")
    def export(fmt: str, output: str | None, case_id: str | None) -> None:
        """Export as JSON Lines for `ledger import`, FollowTheMoney entities, or CSV."""
        from projections.integrity import verified_head

        ctx = click.get_current_context().obj
        if fmt == "jsonl":
            from ledger.app.export import export_ops

            app = ctx.app()
            ctx.read_models()  # the read models' check: a log cut or rewritten under them is refused
            position = app.recorder.max_notification_id() or 0
            head = verified_head(app, position)  # refused, before any output, unless it holds
            ops = list(export_ops(app, case_id, upto=position, head=head))  # that log, not a later one
            write_out((json.dumps(op, ensure_ascii=False) + "\n" for op in ops), output)
            return
        read_models, _, _, _ = from_the_log(ctx, None)
        with read_models.reading() as (db, _position):
            if case_id is not None:
                from projections.queries import case_show

                case_show(db, case_id)  # refuses an unknown case
            if fmt == "csv":
                from commands.escaping import delimited
                from projections.exports import CSV_COLUMNS, csv_rows

                chunks = [delimited(csv_rows(db, case_id), CSV_COLUMNS, "csv")]
            else:
                from projections.ftm import ftm_entities

                chunks = [json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in ftm_entities(db, case_id)]
        write_out(chunks, output)


def attach_report(cli: click.Group) -> None:
    @cli.command("report")
    @click.argument("case_id", metavar="CASE_ID")
    @click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    @click.option("--as-of", "as_of", metavar="WHEN", help="A ledger position or ISO 8601 recording time.")
    def report(case_id: str, fmt: str, output: str | None, as_of: str | None) -> None:
        """An auditable case report: timeline, sources, entities, corrections, position and head hash."""
        from commands.report import render
        from projections.report import report_data

        ctx = click.get_current_context().obj
        read_models, position, head, receipt = from_the_log(ctx, as_of)
        with read_models.reading() as (db, _position):
            data = report_data(db, position, case_id, head, receipt, fmt)
        write_out([render(data, fmt)], output)
