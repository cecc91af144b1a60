"""Real processes against one ledger, on SQLite and PostgreSQL: concurrent writers, and imports
killed with SIGKILL at several points."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LEDGER = [sys.executable, "-m", "commands.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _setup_lines(cases: int = 3, entities: int = 6) -> list[dict]:
    lines = [{"op": "source.add", "id": "src", "publisher": "P", "title": "T"}]
    lines += [{"op": "entity.add", "id": f"e{i}", "kind": "organization", "name": f"E{i}"} for i in range(entities)]
    lines += [{"op": "case.open", "id": f"c{i}", "title": f"C{i}"} for i in range(cases)]
    return lines


def _records(prefix: str, n: int) -> list[dict]:
    return [{"op": "record.raid", "case": f"c{i % 3}", "on": f"20{10 + i % 14}-0{1 + i % 9}", "sources": ["src"],
             "authority": f"e{i % 6}", "target": f"e{(i + 1) % 6}", "note": f"{prefix} {i}", "key": f"{prefix}-{i}"}
            for i in range(n)]


def _write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def _env(db: str) -> dict:
    return dict(os.environ, LEDGER_DB=db, LEDGER_ACTOR="proc", PYTHONPATH=str(ROOT))


def _ledger(db: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*LEDGER, *args], env=_env(db), capture_output=True, text=True, timeout=300, cwd=ROOT,
                            check=False)
    if check:
        assert result.returncode == 0, (args, result.stderr[-500:])
    return result


def _facts(db: str) -> tuple[int, dict]:
    verdict = json.loads(_ledger(db, "verify", "--json").stdout)
    history = json.loads(_ledger(db, "history", "--json").stdout)
    positions = [h["position"] for h in history]
    assert positions == sorted(set(positions)), "positions out of order or doubled"
    keys = [h["data"]["key"] for h in history if h["type"] == "Incident.Recorded"]
    assert len(keys) == len(set(keys)), "an incident was recorded twice"
    return len(history), verdict


def test_concurrent_writers_lose_nothing_and_double_nothing(db_url, tmp_path):
    _ledger(db_url, "import", str(_write(tmp_path / "setup.jsonl", _setup_lines())))
    files = [_write(tmp_path / f"part{n}.jsonl", _records(f"p{n}", 150)) for n in range(3)]
    files.append(files[0])  # two processes import the same file at once: it must be recorded once
    procs = [subprocess.Popen([*LEDGER, "import", str(f)], env=_env(db_url), cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    procs += [subprocess.Popen([*LEDGER, "record", "raid", "c1", "--on", "2024", "--source", "src",
                                "--authority", "e1", "--target", "e2", "--key", f"cli-{n}"],
                               env=_env(db_url), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for n in range(3)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-500:]
    events, verdict = _facts(db_url)
    assert verdict["ok"] is True and verdict["events"] == events
    assert events == 1 + 6 + 3 + 3 * 150 + 3
    cases = {c["id"]: c["incidents"] for c in json.loads(_ledger(db_url, "cases", "--json").stdout)}
    assert sum(cases.values()) == 3 * 150 + 3


def test_an_import_killed_at_any_point_leaves_a_ledger_that_verifies(db_url, tmp_path):
    _ledger(db_url, "import", str(_write(tmp_path / "setup.jsonl", _setup_lines())))
    base = 10
    big = _write(tmp_path / "big.jsonl", _records("big", 2500))
    seen = set()
    for delay in (0.3, 0.9, 1.6, 2.4, 3.5):
        proc = subprocess.Popen([*LEDGER, "import", str(big), "--batch", "500"], env=_env(db_url), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        events, verdict = _facts(db_url)
        assert verdict["ok"] is True, verdict
        assert (events - base) % 500 == 0, f"killed after {delay}s: {events} events, a batch half-stored"
        seen.add(events)
    assert base in seen or len(seen) > 1  # some kill landed before the end
    _ledger(db_url, "import", str(big))  # the same import again completes it
    events, verdict = _facts(db_url)
    assert verdict["ok"] and events == base + 2500
    assert json.loads(_ledger(db_url, "import", str(big), "--json").stdout)["imported"] == 0
