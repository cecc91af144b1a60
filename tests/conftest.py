from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.cli import cli
from ledger.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STORY = ROOT / "ledger" / "story.jsonl"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(db=str(tmp_path / "ledger.db"), actor="tester")


def strip_volatile(doc):
    """Positions, recording times and actors differ between two ledgers; nothing else may."""
    if isinstance(doc, dict):
        return {k: strip_volatile(v) for k, v in doc.items() if k not in ("position", "recorded_at", "recorded_by")}
    if isinstance(doc, list):
        return [strip_volatile(v) for v in doc]
    return doc


class Runner:
    """Drives the real CLI in-process against one ledger file."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, code: int = 0):
        result = self.runner.invoke(cli, ["--db", str(self.db), "--actor", "tester", *args], input=input)
        assert result.exit_code == code, (args, result.exit_code, result.output, result.stderr)
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def run(tmp_path) -> Runner:
    return Runner(tmp_path / "ledger.db")


@pytest.fixture
def story(run) -> Runner:
    run("import", str(STORY))
    return run
