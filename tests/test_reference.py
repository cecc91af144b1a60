"""docs/cli.md is the commands' own --help, made again here: help and docs cannot drift."""

from __future__ import annotations

from pathlib import Path

from commands.reference import reference

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_the_command_reference_is_the_commands_own_help():
    made = reference()
    assert DOC.read_text(encoding="utf-8") == made, (
        "docs/cli.md differs from the commands' --help: run python -m commands.reference > docs/cli.md")
    for command in ("ledger key new", "ledger verify", "ledger record raid", "ledger init", "ledger checkpoint"):
        assert f"## {command}\n" in made
