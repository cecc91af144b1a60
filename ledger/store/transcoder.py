"""The stored events' encoding: orjson, several times faster than the library's json transcoder.

Our events hold only JSON values besides the library's `timestamp` (a datetime), which orjson
writes as RFC 3339 and `decode` turns back into a datetime. Events stored by the library's own
JSONTranscoder (`{"_type_": "datetime_iso", "_data_": ...}`) decode too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import Transcoder


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        state = orjson.loads(data)
        stamp = state.get("timestamp") if isinstance(state, dict) else None
        if isinstance(stamp, str):
            state["timestamp"] = datetime.fromisoformat(stamp)
        elif isinstance(stamp, dict) and stamp.get("_type_") == "datetime_iso":
            state["timestamp"] = datetime.fromisoformat(stamp["_data_"])
        return state
