"""Exports: the ledger in the formats other tools read, one module per format.

- `jsonl`: the log itself as import lines, in position order, with the keys its events were stored
  with (`ledger import` reads them back, into this ledger as no-ops or into a new one);
- `csv`: one row per incident, roles and the kinds' own fields as columns (`delimited`);
- `ftm`: FollowTheMoney entities, for Aleph and the other tools of that family (`ftm`).

The formats made from the read models are given read models built afresh from a log that was
audited first (`ledger.api.Ledger.export`), never the live tables. A new format is one module here
with a function from a query connection and a case (or None, the whole ledger) to text chunks,
named in `FROM_READ_MODELS`. Nothing heavy is imported here: the CLI takes FORMATS at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# format -> (module, function(db, case) -> list of text chunks)
FROM_READ_MODELS = {"ftm": ("ledger.export.ftm", "chunks"), "csv": ("ledger.export.delimited", "chunks")}
FORMATS = ("jsonl", *FROM_READ_MODELS)


def from_read_models(db: Any, fmt: str, case: str | None) -> list[str]:
    """The chunks of an export made from read models (`db`: a `projections.queries.Db`)."""
    module, function = FROM_READ_MODELS[fmt]
    chunks: list[str] = getattr(import_module(module), function)(db, case)
    return chunks
