"""Output shared by every command: one JSON document with --json, readable text otherwise.

Data goes to stdout, messages to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ledger.api import Ledger


def current_ledger() -> Ledger:
    """The ledger the command runs on (`ledger.api.Ledger`, opened by the `ledger` group from
    --db, --actor and --key, closed when the command ends): every command calls only it."""
    ledger: Ledger = click.get_current_context().obj
    return ledger


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    if as_json or human is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        human(data)


FORMATS = ("table", "json", "csv", "tsv")
LIMIT = 10**12  # the largest --limit and --offset: beyond any ledger, within every database's integers


def format_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--format table|json|csv|tsv` and `--json` (the same as `--format json`) on a list read;
    the command gets one argument, `fmt`."""
    import functools

    @functools.wraps(command)
    def chosen(*args: Any, fmt: str | None = None, as_json: bool = False, **kwargs: Any) -> Any:
        if as_json and fmt not in (None, "json"):
            raise click.UsageError(f"--json and --format {fmt} ask for two formats: give one")
        return command(*args, fmt="json" if as_json else fmt or "table", **kwargs)

    chosen = click.option("--json", "as_json", is_flag=True, help="Print one JSON document (= --format json).")(chosen)
    return click.option("--format", "fmt", type=click.Choice(FORMATS),
                        help="table (for people; the default), json, csv or tsv.")(chosen)


def emit_rows(rows: list[dict[str, Any]], fmt: str, columns: Sequence[str], human: Callable[[Any], None] | None = None,
              flat_columns: Sequence[str] | None = None,
              flatten: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
    """A list read in the chosen format: JSON as --json prints it, CSV or TSV (through
    ledger.escaping.delimited, lists joined by `;`), or a table for people."""
    if fmt == "json":
        emit(rows, True)
    elif fmt in ("csv", "tsv"):
        from ledger.escaping import delimited

        flat = [flatten(r) for r in rows] if flatten else [{k: _flat(v) for k, v in r.items()} for r in rows]
        click.echo(delimited(flat, list(flat_columns or columns), fmt), nl=False)
    elif human is not None:
        human(rows)
    else:
        table(rows, columns)


def _flat(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None,
          shared: Collection[str] = ()) -> None:
    """A table for people on stdout, as wide as the terminal (80 columns when stdout is not one);
    `shared`: lists that name entities (`render`)."""
    click.echo("\n".join(render(rows, columns, terminal_width(), title, shared)))


def terminal_width() -> int:
    """COLUMNS when set, the terminal's width when stdout is a terminal, else 80."""
    import os
    import shutil
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(int(columns), 20)
    if sys.stdout.isatty():
        return max(shutil.get_terminal_size((80, 24)).columns, 20)
    return 80


def say(message: str) -> None:
    click.echo(message, err=True)


def written(outcome: Any, as_json: bool, what: str) -> None:
    """The answer of a writing command other than `record`."""
    if as_json:
        emit({"id": outcome.id, "position": outcome.position, "skipped": outcome.skipped}, True)
    elif outcome.skipped:
        click.echo(f"{what} {outcome.id}: already recorded, nothing to do")
    else:
        click.echo(f"{what} {outcome.id}: recorded at position {outcome.position}")


class Progress:
    """`label: done/total unit (rate/s)` on stderr, redrawn at most ten times a second, and only
    when stderr is a terminal: scripts and pipes see nothing."""

    def __init__(self, label: str, unit: str, stream: Any = None):
        import sys
        import time

        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label, self.unit, self.clock = label, unit, time.monotonic
        self.started = self.last = self.clock()
        self.shown = False

    def __call__(self, done: int, total: int | None = None, phase: str | None = None) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if phase is not None and phase != getattr(self, "phase", None):
            self.phase, self.started = phase, now  # a new phase: its own rate
        if now - self.last < 0.1 and done != total:
            return
        self.last, self.shown = now, True
        rate = done / max(now - self.started, 1e-9)
        of = f"/{total:,}" if total else ""
        self.stream.write(f"\r{self.label}: {done:,}{of} {phase or self.unit} ({rate:,.0f}/s)   ")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------- tables for people
#
# A column is one of three sorts: ATOMS (ids, keys, dates, numbers: never broken; a cell may hold
# several, one a line), LISTS (ids separated by spaces: wrapped between them, never inside one)
# and free TEXT (wrapped at spaces; a word wider than the column is broken). The table takes
# the terminal's width: each column its natural width when all fit, else the text columns wrap.
# A list that names entities (an incident's `roles`: `authority: Chiba Prefectural Police
# (chiba-police)`), given as `shared`, is wrapped as a list, never inside a word, but shares the
# room left with the text columns instead of taking its natural width first.
# When even the narrowest layout does not fit, each row becomes a block of `field  value` lines.

LISTS = {"roles", "sources", "aliases", "merged_from", "cases", "identifiers"}
TEXT = {"title", "name", "note", "summary", "reason", "place", "data", "publisher", "label"}
GAP = "  "
TEXT_MIN = 10


def cell_text(value: Any) -> str:
    """A value as the text of a table cell, control characters escaped (newlines kept)."""
    from ledger.escaping import terminal

    if value is None:
        return ""
    if isinstance(value, dict):
        value = "\n".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items())
    elif isinstance(value, list):
        value = ", ".join(map(str, value))
    elif not isinstance(value, str):
        value = str(value)
    text: str = value
    if "\n" in text and all(line.isprintable() for line in text.split("\n")):
        return text  # several lines, none with anything to escape: checked in C, line by line
    return terminal(text, cell=True)


def width(text: str) -> int:
    """Columns a string takes on a terminal: wide East Asian characters two, combining marks none."""
    if text.isascii():
        return len(text)
    from unicodedata import category, east_asian_width

    # marks (combining accents, Thai and Devanagari vowel signs) and format characters take no column
    return sum(0 if category(ch) in ("Mn", "Me", "Cf") else 2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def _lines_width(text: str) -> int:
    return max(map(width, text.split("\n"))) if "\n" in text else width(text)


def _words_width(text: str) -> int:
    return max(map(width, text.split()), default=0)


def _chunks(word: str, room: int) -> list[str]:
    out, part, used = [], "", 0
    for ch in word:
        w = width(ch)
        if used + w > room and part:
            out.append(part)
            part, used = "", 0
        part, used = part + ch, used + w
    return out + [part]


def wrap(text: str, room: int, breakable: bool = True) -> list[str]:
    """Greedy wrap at spaces to `room` columns; a word wider than that is broken only if `breakable`."""
    out = []
    for para in text.split("\n"):
        if width(para) <= room:
            out.append(para)
            continue
        current, used = "", 0
        for word in para.split():
            w = width(word)
            if w > room and breakable:
                if current:
                    out.append(current)
                *full, current = _chunks(word, room)
                out.extend(full)
                used = width(current)
            elif not current:
                current, used = word, w
            elif used + 1 + w <= room:
                current, used = f"{current} {word}", used + 1 + w
            else:
                out.append(current)
                current, used = word, w
        out.append(current)
    return out


def _pad(text: str, room: int) -> str:
    return text + " " * (room - width(text))


def render(rows: Sequence[dict[str, Any]], columns: Sequence[str], room: int, title: str | None = None,
           shared: Collection[str] = ()) -> list[str]:
    """The lines of a table of `rows` (dicts) in `columns`, at most `room` wide if it can be done
    without breaking an id, a key or a date; else the vertical layout."""
    cells = [[v if type(v) is str and v.isprintable() else cell_text(v) for v in map(row.get, columns)]
             for row in rows]
    natural, least = [], []
    for i, name in enumerate(columns):
        column = [r[i] for r in cells]
        full = max([width(name), *map(_lines_width, column)])
        if name in TEXT:
            low = min(full, max(TEXT_MIN, width(name)))
        elif name in LISTS:
            low = max([width(name), *map(_words_width, column)])
        else:
            low = full
        natural.append(full)
        least.append(low)
    room_left = room - len(GAP) * (len(columns) - 1)
    if sum(least) > room_left:
        return vertical(cells, columns, room, title)
    widths = list(natural)
    if sum(natural) > room_left:  # lists of ids first get their width, then the text shares the rest
        widths = list(least)
        spare = room_left - sum(least)
        for i, name in enumerate(columns):
            if name not in TEXT and name not in shared:
                grant = min(natural[i] - widths[i], spare)
                widths[i] += grant
                spare -= grant
        wants = [natural[i] - widths[i] for i in range(len(columns))]
        total = sum(wants)
        for i in range(len(columns)):
            widths[i] += spare * wants[i] // total if total else 0
        for i in sorted(range(len(columns)), key=lambda i: natural[i] - widths[i], reverse=True):
            if sum(widths) >= room_left:
                break
            if widths[i] < natural[i]:
                widths[i] += 1
    out = [title] if title else []
    out.append(GAP.join(_pad(c, w) for c, w in zip(columns, widths)).rstrip())
    out.append(GAP.join("-" * w for w in widths))
    breakable = [c in TEXT for c in columns]
    for row in cells:
        wrapped = [[t] if "\n" not in t and (len(t) if t.isascii() else width(t)) <= w else wrap(t, w, b)
                   for t, w, b in zip(row, widths, breakable)]
        if all(len(w) == 1 for w in wrapped):
            out.append(GAP.join(_pad(t[0], w) for t, w in zip(wrapped, widths)).rstrip())
            continue
        for n in range(max(map(len, wrapped))):
            out.append(GAP.join(_pad(t[n] if n < len(t) else "", w) for t, w in zip(wrapped, widths)).rstrip())
    return out


def vertical(cells: list[list[str]], columns: Sequence[str], room: int, title: str | None = None) -> list[str]:
    """One block per row, one `field  value` line per non-empty field (like psql's \\x)."""
    label = max(map(width, columns))
    value_room = max(room - label - len(GAP), TEXT_MIN)
    out = [title] if title else []
    labels = [_pad(name, label) + GAP for name in columns]
    indent = " " * (label + len(GAP))
    rule = "-" * max(0, min(room, 40) - 5)
    for n, row in enumerate(cells, 1):
        out.append(f"-[ {n} ]{rule[len(str(n)):]}")
        for name, head, text in zip(columns, labels, row):
            if text == "":
                continue
            if "\n" not in text and (len(text) if text.isascii() else width(text)) <= value_room:
                out.append(head + text)
                continue
            lines = wrap(text, value_room, name in TEXT)
            out.append(head + lines[0])
            out.extend(indent + more for more in lines[1:])
    return out


def set_pairs(items: tuple[str, ...]) -> dict[str, str]:
    """`--set FIELD=VALUE` pairs, each field once."""
    from ledger.domain.values import shown
    from ledger.errors import InvalidInput

    changes: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--set {shown(item)}: use FIELD=VALUE")
        if name.strip() in changes:
            raise InvalidInput(f"--set {shown(name.strip())} given twice: give each field once")
        changes[name.strip()] = value
    return changes
