#!/usr/bin/env python3
"""Measure the two ways to store the ledger's events, on the same import, in one run.

Usage: python tests/bench/storage_choice.py [N]   (N incidents from ../shared/bench/genload.py; default 5000)

Prints, for eventsourcing's own `eventsourcing.sqlite` (with and without the hash chain) and
for eventsourcing-sqlalchemy on SQLite: the time to validate and store the whole file in one
transaction, and the cold start of a process that builds the application and saves one event.
eventsourcing-sqlalchemy is needed only for this comparison (pip install eventsourcing-sqlalchemy).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENLOAD = ROOT.parent / "shared" / "bench" / "genload.py"

CONFIGS = {
    "eventsourcing.sqlite + hash chain (chosen)": lambda path: {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
        "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:ChainedSQLiteApplicationRecorder"},
    "eventsourcing.sqlite + chain, probing each id": lambda path: {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "PROBE_EACH_ID": "1",
        "APPLICATION_RECORDER_TOPIC": "ledger.store.recorders:ChainedSQLiteApplicationRecorder"},
    "eventsourcing.sqlite, no chain, probing each id": lambda path: {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path},
    "eventsourcing-sqlalchemy, no chain, probing each id": lambda path: {
        "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy", "SQLALCHEMY_URL": f"sqlite:///{path}"},
}

IMPORT = """
import sys, time
from eventsourcing.utils import Environment
from ledger.app.application import LedgerApplication as Chained, Unit
from ledger.app.importer import import_lines


class AsGiven(Chained):  # the env as given: the library's own recorders too, for the comparison
    def construct_env(self, name, env=None):
        return Environment(name, dict(env or {}))


env = dict(a.split("=", 1) for a in sys.argv[2:])
lines = open(sys.argv[1]).read().splitlines()
t = time.perf_counter()
app = AsGiven(env=env)
if env.pop("PROBE_EACH_ID", None) or not hasattr(app.recorder, "existing_streams"):
    Unit.know_absent = lambda self, ids: None  # the other recorders lack the one-query probe
result = import_lines(app, lines, "bench")
print(time.perf_counter() - t, result.imported)
"""

COLD = """
import sys
from eventsourcing.utils import Environment
from ledger.app.application import LedgerApplication as Chained
from ledger.app import inputs


class AsGiven(Chained):  # the env as given: the library's own recorders too, for the comparison
    def construct_env(self, name, env=None):
        return Environment(name, dict(env or {}))


env = dict(a.split("=", 1) for a in sys.argv[1:])
AsGiven(env=env).run(inputs.SourceAdd(id="s", publisher="P", title="T"), "bench")
"""


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    work = Path(tempfile.mkdtemp(prefix="ledger-storage-"))
    load = work / "load.jsonl"
    subprocess.run([sys.executable, str(GENLOAD), str(n), str(load)], check=True, capture_output=True)
    print(f"{sum(1 for _ in load.open())} import lines ({n} incidents)")
    print(f"{'storage':52} {'import s':>9} {'lines/s':>9} {'cold start s':>13}")
    for name, env_for in CONFIGS.items():
        db = str(work / f"{abs(hash(name))}.db")
        env = [f"{k}={v}" for k, v in env_for(db).items()]
        out = subprocess.run([sys.executable, "-c", IMPORT, str(load), *env], capture_output=True, text=True,
                             check=False)
        if out.returncode != 0:
            print(f"{name:52} failed: {out.stderr.strip().splitlines()[-1]}")
            continue
        seconds, imported = out.stdout.split()
        colds = []
        for i in range(3):
            cold_env = [f"{k}={v}" for k, v in env_for(str(work / f"cold{i}{abs(hash(name))}.db")).items()]
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", COLD, *cold_env], check=True, capture_output=True)
            colds.append(time.perf_counter() - t)
        print(f"{name:52} {float(seconds):9.2f} {int(imported) / float(seconds):9,.0f} {sorted(colds)[1]:13.3f}")
    return 0


if __name__ == "__main__":
    os.environ.pop("PERSISTENCE_MODULE", None)
    sys.exit(main())
