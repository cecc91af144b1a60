"""Output shared by every command: one JSON document with --json, readable text otherwise.

Data goes to stdout, messages to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    if as_json or human is None:
        click.echo(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        human(data)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(_cell(row.get(c)) for c in columns))
    Console(soft_wrap=False).print(t)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None:
        return ""
    if isinstance(value, dict):
        return escape("; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items()))
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    return escape(str(value))


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
