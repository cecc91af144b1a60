"""Property: for any sequence of commands, a replay from zero gives exactly the tables that the
incremental catch-up gave, whatever points the catch-up ran at."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app import inputs as m
from ledger.errors import LedgerError
from ledger.store.settings import Settings, open_ledger
from projections.readmodels import ReadModels

SOURCES = ["s1", "s2"]
ENTITIES = ["e1", "e2", "e3", "KP", "JP"]
CASES = ["c1", "c2"]
DATES = ["1992", "2023-12", "2023-12-07", "2023-12-07T10:00:00+09:00", "2023-12-07"]
KEYS = ["k1", "k2", "k3", None]

ref = st.sampled_from(ENTITIES)
record = st.one_of(
    st.builds(lambda c, d, s, a, t, k: m.RECORDS["raid"](case=c, on=d, sources=[s], authority=a, target=t, key=k),
              st.sampled_from(CASES), st.sampled_from(DATES), st.sampled_from(SOURCES), ref, ref,
              st.sampled_from(KEYS)),
    st.builds(lambda c, d, s, i, v, k: m.RECORDS["seizure"](case=c, on=d, sources=[s], item=i, value=v,
                                                       currency="USD" if v is not None else None, key=k),
              st.sampled_from(CASES), st.sampled_from(DATES), st.sampled_from(SOURCES), ref,
              st.one_of(st.none(), st.integers(0, 10**7)), st.sampled_from(KEYS)),
    st.builds(lambda c, d, s, subs: m.RECORDS["questioning"](case=c, on=d, sources=[s], subjects=subs),
              st.sampled_from(CASES), st.sampled_from(DATES), st.sampled_from(SOURCES),
              st.lists(ref, min_size=1, max_size=3)),
    st.builds(lambda c, d, s, e: m.RECORDS["recall"](case=c, on=d, sources=[s], envoy=e, sending_state="KP", post="CH"),
              st.sampled_from(CASES), st.sampled_from(DATES), st.sampled_from(SOURCES), ref),
)
correction = st.one_of(
    st.builds(lambda k, field, value: m.Amend(incident=k, reason="r", set={field: value}),
              st.sampled_from(KEYS[:3]), st.sampled_from(["on", "note", "place", "authority", "target", "item"]),
              st.sampled_from(["2024", "a note", "e2", "KP", ""])),
    st.builds(lambda k: m.Retract(incident=k, reason="r"), st.sampled_from(KEYS[:3])),
)
other = st.one_of(
    st.builds(lambda c, s: m.CaseStatus(id=c, status=s, reason="r"), st.sampled_from(CASES),
              st.sampled_from(["open", "investigating", "referred", "closed"])),
    st.builds(lambda a, b: m.EntityMerge(duplicate=a, survivor=b, reason="same"),
              st.sampled_from(ENTITIES[:3]), st.sampled_from(ENTITIES[:3])),
    st.builds(lambda e, a: m.EntityAlias(id=e, alias=a), st.sampled_from(ENTITIES[:3]), st.sampled_from(["A", "B"])),
)
steps = st.lists(st.tuples(st.one_of(record, record, correction, other), st.booleans()), max_size=25)

SETUP = [m.SourceAdd(id=s, publisher="P", title="T") for s in SOURCES] + [
    m.EntityAdd(id=e, kind="person", name=e.upper()) for e in ENTITIES if e.islower()] + [
    m.CaseOpen(id=c, title=c) for c in CASES]


def _dump(read_models: ReadModels) -> dict[str, list[tuple]]:
    with read_models.reading() as (db, position):
        out = {name: sorted((tuple(r.values()) for r in db.rows(f"SELECT * FROM {db.t(name)}")), key=repr)
               for name in ("streams", "cases", "case_status", "sources", "entities", "incidents", "incident_roles",
                            "incident_sources", "search_names", "corrections")}
        out["position"] = [(position,)]
        return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_replay_equals_incremental_catch_up(script):
    with tempfile.TemporaryDirectory() as folder:
        config = Settings(db=str(Path(folder) / "p.db"), actor="prop")
        app = open_ledger(config, create=True)
        read_models = ReadModels(config)
        try:
            for op in SETUP:
                app.run(op, "prop")
            for op, catch_up_now in script:
                try:
                    app.run(op, "prop")
                except LedgerError:
                    pass  # refused by a rule: nothing was stored
                if catch_up_now:
                    read_models.catch_up()
            read_models.catch_up()
            incremental = _dump(read_models)
            replayed, position = read_models.replay()
            assert replayed == position == app.recorder.max_notification_id()
            assert _dump(read_models) == incremental
        finally:
            app.close()
            app.factory.close()
            read_models.close()
