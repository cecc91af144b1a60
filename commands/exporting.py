"""`ledger export` and `ledger report`: the ledger's answers, portable and auditable."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import click


def write_out(chunks: Iterable[str], path: str | None) -> None:
    """To stdout, or to FILE through a temporary file renamed into place: never half-written."""
    if path is None or path == "-":
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def attach(cli: click.Group) -> None:
    @cli.command("export")
    @click.option("--format", "fmt", type=click.Choice(["jsonl", "ftm", "csv"]), default="jsonl", show_default=True)
    @click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout.")
    @click.option("--case", "case_id", help="Only this case, with the sources and entities it needs.")
    def export(fmt: str, output: str | None, case_id: str | None) -> None:
        """Export as JSON Lines for `ledger import`, FollowTheMoney entities, or CSV."""
        ctx = click.get_current_context().obj
        if fmt == "jsonl":
            from ledger.export import export_ops

            ops = list(export_ops(ctx.app(), case_id))
            write_out((json.dumps(op, ensure_ascii=False) + "\n" for op in ops), output)
            return
        read_models = ctx.read_models()
        with read_models.reading() as (db, _position):
            if case_id is not None:
                from projections.queries import case_show

                case_show(db, case_id)  # refuses an unknown case
            if fmt == "csv":
                from projections.exports import CSV_COLUMNS, csv_rows

                buffer = io.StringIO()
                writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
                writer.writeheader()
                writer.writerows(csv_rows(db, case_id))
                chunks = [buffer.getvalue()]
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
        read_models = ctx.read_models(as_of)
        with read_models.reading() as (db, position):
            data = report_data(db, position, case_id, ctx.app(), fmt)
        write_out([render(data, fmt)], output)
