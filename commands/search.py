"""`ledger search`: entities, cases, sources and incidents by the words of their names, titles and
text, spelled any way (`projections.search`, imported only when it runs: it uses SQLAlchemy)."""

from __future__ import annotations

from typing import Any

import click

from commands.output import LIMIT, current_ledger, emit_rows, format_option
from commands.reads import as_of_option

# as projections.search has them (a test holds the two together): that module imports SQLAlchemy
TYPES = ("entity", "case", "source", "incident")
COLUMNS = ["type", "id", "score", "field", "label"]  # the label last: it wraps


def attach(cli: click.Group) -> None:
    @cli.command("search")
    @click.argument("text", metavar="TEXT")
    @click.option("--type", "types", multiple=True, type=click.Choice(TYPES),
                  help="Only things of this type (repeatable: any of them).")
    @click.option("--limit", type=click.IntRange(0, LIMIT), default=20, show_default=True, metavar="N",
                  help="At most N results.")
    @click.option("--offset", type=click.IntRange(0, LIMIT), default=0, metavar="N", help="Skip the first N results.")
    @as_of_option
    @format_option
    def search(text: str, types: tuple[str, ...], limit: int, offset: int, as_of: str | None, fmt: str) -> None:
        """Find entities (names, aliases, ids), cases and sources (titles, ids) and incidents (notes,
        places, reasons..., the names of who took part) by words: case, accents, punctuation, script
        and the spelling of a name do not matter (`han thae-song` finds Han Tae-song). Every word
        must match, whole, as the start of a word (three letters or more) or, in names and titles,
        by sound. Best first; retracted incidents are left out."""
        rows: list[dict[str, Any]] = current_ledger().search(text, types, limit=limit, offset=offset, as_of=as_of)
        emit_rows(rows, fmt, COLUMNS)
