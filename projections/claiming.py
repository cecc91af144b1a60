"""Contested claims in the read models: the projector's handlers of the claim events.

Mixed into `projections.projector.Projector`. An incident's or a case's row holds its claim state
(`claims`, JSON; NULL until a source first claims one of its fields), kept by the rules of
`ledger.domain.claims` (the same functions the aggregates run), and an incident's `status` says
`disputed` while a field is. A read turns the state into `"claims"` and `"disputed"`
(`projections.queries.claims_of`). An accepted claim that changes a value changes the row as an
amendment does, and is kept among the corrections (type `accepted`, with the claim's source).
"""

from __future__ import annotations

from typing import Any

import orjson

from ledger.domain import claims
from ledger.domain.kinds import DETAILS
from projections import terms

_AMOUNTS = {name for name, kind in DETAILS.items() if kind == "amount"}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class ClaimsProjection:
    """The claim events of incidents and cases (the `Projector` supplies `_execute`, `t`, ...)."""

    _execute: Any
    _ref: Any
    _position: Any
    _reindex: Any
    t: Any

    # ------------------------------------------------------------------ incidents

    def _incident_state(self, conn: Any, stream: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(its row: position, kind, status, fields; its claim state, new if it has none)."""
        from projections.projector import FIELD_COLUMNS, _plain_number, incident_id, stored_fields

        (position, kind, status, state, *current), = self._execute(
            conn, f"SELECT position, kind, status, claims, {', '.join(FIELD_COLUMNS)} FROM {self.t('incidents')} "
            "WHERE id = :id", {"id": incident_id(stream)})
        fields = stored_fields(dict(zip(FIELD_COLUMNS, current)))
        for name in _AMOUNTS.intersection(fields):  # a FLOAT column gives 70000.0 for the 70000 stored
            fields[name] = _plain_number(fields[name])
        row = {"position": position, "kind": kind, "status": status, "fields": fields}
        if state:
            return row, orjson.loads(state)
        fresh = claims.new_state()
        fresh["amended"] = status == "amended"
        return row, fresh

    def _amended_by(self, conn: Any, position: int, kind: str) -> tuple[dict[str, list[str] | None], dict[str, int]]:
        """The sources each field's last amendment named (`claims.amended_by`), and its position."""
        declared = claims.fields_of(kind)
        out: dict[str, list[str] | None] = {}
        at: dict[str, int] = {}
        for changes, sources, fixed in self._execute(
                conn, f"SELECT c.changes, c.sources, c.position FROM {self.t('corrections')} c JOIN "
                f"{self.t('incidents')} i ON i.id = c.incident WHERE i.position = :position AND c.type = 'amended' "
                "ORDER BY c.position", {"position": position}):
            touched = [f for f, stored in declared.items() if set(stored) & set(orjson.loads(changes))]
            out = claims.amended_by(touched, orjson.loads(sources), out)
            at.update(dict.fromkeys(touched, fixed))
        return out, at

    def _keep_incident_state(self, conn: Any, row: dict[str, Any], state: dict[str, Any]) -> None:
        base = "retracted" if row["status"] == "retracted" else "amended" if state["amended"] else "active"
        status = claims.status(base, state)
        self._execute(conn, f"UPDATE {self.t('incidents')} SET claims = :claims, status = :status "
                      "WHERE position = :position",
                      {"claims": _dumps(state), "status": status, "position": row["position"]})

    def _incident_claimed(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        row, state = self._incident_state(conn, stream)
        kind, fields = row["kind"], row["fields"]
        claimed = claims.claimed_fields(kind, e["changes"])
        declared = claims.fields_of(kind)
        new = [f for f in claimed if f not in state["own"]]
        own = {f: claims.value_of(declared[f], fields) for f in new}
        own_by, at = self._amended_by(conn, row["position"], kind) if new and state["amended"] else ({}, {})
        claims.claimed(state, claimed, e["source"], e.get("quote"), own, fields["sources"], own_by, position,
                       row["position"], at)
        self._keep_incident_state(conn, row, state)

    def _incident_claim_accepted(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        if e["changes"]:
            # the value changes as an amendment changes it, kept among the corrections with the claim's source
            self._incident_amended(conn, position, stream,  # type: ignore[attr-defined]
                                   {**e, "sources": [e["source"]]}, "accepted")
        row, state = self._incident_state(conn, stream)
        claims.accepted(state, e["field"], e["source"], e["reason"], position)
        if e["changes"]:
            state["amended"] = True
        self._keep_incident_state(conn, row, state)

    def _incident_claim_refuted(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        row, state = self._incident_state(conn, stream)
        claims.refuted(state, e["field"], e["source"], e["reason"], position)
        self._keep_incident_state(conn, row, state)

    def _claims_amended(self, conn: Any, stream: str, changes: dict[str, Any], sources: list[str],
                        position: int) -> None:
        """After an amendment of an incident whose fields are claimed: the correction is the own value."""
        row, state = self._incident_state(conn, stream)
        declared = claims.fields_of(row["kind"])
        touched = {f: claims.value_of(stored, row["fields"]) for f, stored in declared.items()
                   if set(stored) & set(changes)}
        claims.amended(state, touched, sources, position)
        self._keep_incident_state(conn, row, state)

    # ------------------------------------------------------------------ cases

    def _case_state(self, conn: Any, stream: str) -> tuple[str, dict[str, Any], list[str], dict[str, Any]]:
        """(its id, its fields, its own sources, its claim state)."""
        ref = self._ref(conn, stream)
        (title, jurisdiction, regime, summary, sources, state, opened), = self._execute(
            conn, f"SELECT title, jurisdiction, regime, summary, sources, claims, position FROM {self.t('cases')} "
            "WHERE id = :id", {"id": ref})
        fields = {"title": title, "jurisdiction": jurisdiction, "regime": regime, "summary": summary,
                  "position": opened}
        return ref, fields, orjson.loads(sources or "[]"), orjson.loads(state) if state else claims.new_state()

    def _keep_case_state(self, conn: Any, ref: str, state: dict[str, Any]) -> None:
        self._execute(conn, f"UPDATE {self.t('cases')} SET claims = :claims WHERE id = :id",
                      {"claims": _dumps(state), "id": ref})

    def _case_claimed(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref, fields, own, state = self._case_state(conn, stream)
        claimed = claims.claimed_fields(None, e["changes"])
        claims.claimed(state, claimed, e["source"], e.get("quote"), {f: fields[f] for f in claimed}, own, {}, position,
                       fields["position"])
        self._keep_case_state(conn, ref, state)

    def _case_claim_accepted(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref, _fields, _own, state = self._case_state(conn, stream)
        claims.accepted(state, e["field"], e["source"], e["reason"], position)
        changes = {k: v for k, v in e["changes"].items() if k in claims.CASE_FIELDS}
        if changes:
            self._execute(conn, f"UPDATE {self.t('cases')} SET {', '.join(f'{k} = :{k}' for k in changes)} "
                          "WHERE id = :id", {**changes, "id": ref})
            if "title" in changes:  # the search index holds a case's title
                words, sounds = terms.words_text((changes["title"], ref)), terms.sounds_text((changes["title"],))
                self._reindex(conn, "search_names", self._position(conn, "cases", ref), lambda *_: (words, sounds))
        self._keep_case_state(conn, ref, state)

    def _case_claim_refuted(self, conn: Any, position: int, stream: str, e: dict[str, Any]) -> None:
        ref, _fields, _own, state = self._case_state(conn, stream)
        claims.refuted(state, e["field"], e["source"], e["reason"], position)
        self._keep_case_state(conn, ref, state)
