"""Tables for people against --json on a 20,000-incident ledger (issue 8, "tables").

Usage: python tests/bench/tables.py [N] [--ledger CMD] [--keep DIR]

Builds a ledger of N incidents (default 20,000) with /work/shared/bench/genload.py and `ledger
import`, then times `case show`, `timeline` and `entity show` as a table and with --json (best of
3 each, the installed `ledger` run as a subprocess, stdout to a pipe so the table is 80 columns),
and prints each time and the ratio table/json. The contract wants a ratio of at most 2.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

GENLOAD = Path("/work/shared/bench/genload.py")


def best_of(cmd: list[str], env: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{shlex.join(cmd)} failed: {done.stderr.decode()[-500:]}")
    return min(times)


def main() -> None:
    args = sys.argv[1:]
    n = int(args[0]) if args and args[0].isdigit() else 20_000
    ledger = shlex.split(args[args.index("--ledger") + 1]) if "--ledger" in args else ["ledger"]
    folder = (Path(args[args.index("--keep") + 1]) if "--keep" in args
              else Path(tempfile.mkdtemp(prefix="bench-tables-")))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"tables-{n}.db"
    env = {**os.environ, "LEDGER_DB": str(db), "LEDGER_ACTOR": "bench"}
    env.pop("COLUMNS", None)
    if not db.exists():
        lines = folder / f"load-{n}.jsonl"
        subprocess.run([sys.executable, str(GENLOAD), str(n), str(lines)], check=True, stdout=subprocess.DEVNULL)
        # one case holds every incident, so that `case show` has N rows, and one organization is
        # the authority of every raid, seizure, questioning and probe, so that `entity show` has many
        ops = [json.loads(x) for x in lines.read_text().splitlines()]
        for op in ops:
            if op["op"].startswith("record."):
                op["case"] = "case-0"
                if "authority" in op:
                    op["authority"] = "ent-1"
        lines.write_text("".join(json.dumps(op) + "\n" for op in ops))
        started = time.perf_counter()
        subprocess.run([*ledger, "import", str(lines)], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"imported {len(ops)} lines in {time.perf_counter() - started:.1f} s into {db}")
    timeline = json.loads(subprocess.run([*ledger, "timeline", "--json"], env=env, check=True,
                                         stdout=subprocess.PIPE).stdout)
    busiest = Counter(r for inc in timeline for refs in inc["roles"].values() for r in refs
                      if not r.isupper()).most_common(1)[0][0]
    reads = [("case show case-0", ["case", "show", "case-0"]), ("timeline", ["timeline"]),
             (f"entity show {busiest}", ["entity", "show", busiest])]
    print(f"{'read':<24}{'rows':>7}{'table s':>10}{'json s':>9}{'table/json':>12}")
    worst = 0.0
    for label, read in reads:
        rows = subprocess.run([*ledger, *read, "--json"], env=env, check=True, stdout=subprocess.PIPE).stdout
        doc = json.loads(rows)
        count = len(doc) if isinstance(doc, list) else len(doc["incidents"])
        table = best_of([*ledger, *read], env)
        as_json = best_of([*ledger, *read, "--json"], env)
        worst = max(worst, table / as_json)
        print(f"{label:<24}{count:>7}{table:>10.2f}{as_json:>9.2f}{table / as_json:>12.2f}")
    print(f"worst ratio {worst:.2f} (the contract: at most 2)")


if __name__ == "__main__":
    main()
