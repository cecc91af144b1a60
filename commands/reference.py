"""The command reference (docs/cli.md), made from the commands' own --help, so the two cannot drift:
a test makes it again and compares. To write it: `python -m commands.reference > docs/cli.md`."""

from __future__ import annotations

import click

WIDTH = 80


def _commands(group: click.Group, ctx: click.Context) -> list[tuple[str, click.Context]]:
    """Every command under `group`, depth first in name order, each with its context."""
    found = []
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
        found.append((sub.command_path, sub))
        if isinstance(command, click.Group):
            found.extend(_commands(command, sub))
    return found


def reference() -> str:
    from commands.cli import cli

    root = click.Context(cli, info_name="ledger", terminal_width=WIDTH, max_content_width=WIDTH)
    parts = ["# `ledger` command reference",
             "",
             "Made from each command's own `--help` by `python -m commands.reference > docs/cli.md`;",
             "a test makes it again and fails when the two differ. The contract these commands keep is",
             "`../shared/spec/cli.md`; the README says how to use them together.",
             "",
             "## ledger",
             "",
             "```",
             root.get_help(),
             "```"]
    for path, ctx in _commands(cli, root):
        parts += ["", f"## {path}", "", "```", ctx.get_help(), "```"]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    click.echo(reference(), nl=False)
