#!/usr/bin/env python3
"""The long fuzz run: 10,000 hostile cases (import lines and CLI arguments, on SQLite and PostgreSQL),
then the tally: cases, accepted, refused by exit code, and every problem found (tracebacks, internal
errors shown to the user, partial writes, ledgers left unreadable, raw control characters).

Usage: python tests/bench/fuzz.py [--cases 10000] [--backends sqlite,postgresql] [--inputs lines,arguments]

(Two runs side by side, `--inputs lines --cases 5000` and `--inputs arguments --cases 5000`, use
both cores.)

It runs tests/test_fuzz.py with LEDGER_FUZZ_EXAMPLES set so that the four fuzz tests (two kinds of
input on each backend) share the cases, with fresh random seeds, and keeps going past a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--inputs", default="lines,arguments", help="import lines, CLI arguments, or both")
    opts = ap.parse_args()
    backends, inputs = opts.backends.split(","), opts.inputs.split(",")
    tests = len(inputs) * len(backends)
    with tempfile.TemporaryDirectory() as work:
        tally = Path(work) / "tally.json"
        env = dict(os.environ, LEDGER_FUZZ_EXAMPLES=str(opts.cases // tests), LEDGER_FUZZ_TALLY=str(tally),
                   LEDGER_FUZZ_RANDOM="1")
        names = {"lines": "import_lines", "arguments": "arguments"}
        selector = f"({' or '.join(backends)}) and ({' or '.join(names[i] for i in inputs)})"
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py",
                            "-k", selector], cwd=ROOT, env=env, check=False)
        counts = json.loads(tally.read_text()) if tally.exists() else {}
    print(f"\nfuzz run: {opts.cases:,} cases asked, backends {', '.join(backends)}, inputs {', '.join(inputs)}")
    for name in ["cases", "accepted", "refused (exit 1)", "refused (exit 2)"]:
        print(f"  {name:<28} {counts.get(name, 0):>7,}")
    problems = {k: v for k, v in counts.items()
                if k not in ("cases", "accepted", "refused (exit 1)", "refused (exit 2)")}
    for name in ["traceback", "internal error", "partial write", "ledger left unreadable",
                 "raw control character on stderr"]:
        print(f"  {name:<28} {problems.pop(name, 0):>7,}")
    for name, n in problems.items():
        print(f"  {name:<28} {n:>7,}")
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
