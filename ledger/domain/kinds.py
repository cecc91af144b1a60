"""Every kind of incident, declared once.

A kind is its roles (who or what took part, and whether a role takes several entities or a state),
its own fields (a seizure's value and currency, an arrest's charge), its codes in the two standard
event ontologies and its help text. Everything else derives from this table: the input model of
`record.KIND` (`ledger.app.inputs`), the `ledger record KIND` command's options and help, which
fields `amend` takes, the application's handler (one for every kind), the read models' columns,
the JSON of an incident, the CSV and FollowTheMoney exports and the report. Adding a kind is adding
one `Kind(...)` here (and its tests).

CAMEO (Conflict and Mediation Event Observations) and PLOVER (Political Language Ontology for
Verifiable Event Records, with its mode). A diplomat's expulsion: CAMEO 174, PLOVER SANCTION/expel.

This module imports nothing heavy: the command line builds its `record` commands from it at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Role:
    """Who or what took part. Stored and shown under `name`, as a list of entity ids."""

    name: str
    help: str  # what fills it, as the option's help begins: "Who raided"
    many: bool = False  # several entities: a repeatable option, a list under a plural name in import
    required: bool = True
    state: bool = False  # a state, given as its ISO 3166-1 code in any case, rather than any entity

    @property
    def field(self) -> str:
        """The input's field (the option without dashes, in import the line's key)."""
        return self.name + "s" if self.many else self.name


DetailType = Literal["text", "para", "amount", "currency"]


@dataclass(frozen=True)
class Detail:
    """A field of one kind beyond what every incident has: text (one line), para (newlines
    allowed), amount (a non-negative number) or currency (an ISO 4217 code)."""

    name: str
    type: DetailType
    help: str
    label: str  # as a person reads it in a report
    required: bool = False
    unit_of: str | None = None  # a currency read together with the amount it is the unit of


@dataclass(frozen=True)
class Kind:
    name: str
    help: str  # what it is, for the `record KIND` command's help
    roles: tuple[Role, ...]
    cameo: str
    plover: str
    plover_mode: str | None = None
    details: tuple[Detail, ...] = ()

    @property
    def codes(self) -> dict[str, str | None]:
        return {"cameo": self.cameo, "plover": self.plover, "plover_mode": self.plover_mode}

    @property
    def role_fields(self) -> dict[str, str]:
        """Role name -> input field."""
        return {role.name: role.field for role in self.roles}

    @property
    def together(self) -> tuple[str, ...]:
        """Details given together or not at all: an amount and its currency."""
        return tuple(n for d in self.details if d.unit_of for n in (d.unit_of, d.name))


VALUE = Detail("value", "amount", "Its value, a number (with --currency).", "Value")
CURRENCY = Detail("currency", "currency", "ISO 4217 code of --value.", "Currency", unit_of="value")
REASON = Detail("reason", "para", "Why, as reported; newlines allowed.", "Reason")

KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("raid", "An authority searches a place, a firm or a person.",
         (Role("authority", "Who raided"), Role("target", "Who or what was raided")),
         cameo="171", plover="COERCE"),
    Kind("seizure", "Goods, a vehicle or a vessel taken by an authority.",
         (Role("item", "What was seized"), Role("authority", "Who seized it", required=False),
          Role("holder", "Who held it", required=False)),
         cameo="1711", plover="COERCE", plover_mode="confiscate", details=(VALUE, CURRENCY)),
    Kind("questioning", "People questioned by an authority.",
         (Role("subject", "Who was questioned", many=True), Role("authority", "Who questioned", required=False)),
         cameo="091", plover="ACCUSE", plover_mode="investigate"),
    Kind("recall", "A state calls its envoy home.",
         (Role("envoy", "The envoy recalled"), Role("sending_state", "The state recalling", state=True),
          Role("post", "Where the envoy was posted", state=True)),
         cameo="161", plover="SANCTION", plover_mode="withdraw", details=(REASON,)),
    Kind("expulsion", "A state orders people out.",
         (Role("person", "Who was expelled", many=True), Role("expelling_state", "The state expelling", state=True)),
         cameo="174", plover="SANCTION", plover_mode="expel", details=(REASON,)),
    Kind("probe", "An authority investigates people or organisations.",
         (Role("authority", "Who investigates"), Role("subject", "Who is investigated", many=True)),
         cameo="091", plover="ACCUSE", plover_mode="investigate"),
    Kind("arrest", "People detained by an authority.",
         (Role("authority", "Who arrested"), Role("person", "Who was arrested", many=True)),
         cameo="173", plover="COERCE", plover_mode="arrest",
         details=(Detail("charge", "text", "What they are charged with, as reported.", "Charge"),)),
    Kind("designation", "A listing under a sanctions regime.",
         (Role("authority", "Who designated"), Role("subject", "Who or what was listed", many=True)),
         cameo="163", plover="SANCTION",
         details=(Detail("regime", "text", "The sanctions regime, e.g. 'UNSCR 1718'.", "Regime", required=True),
                  Detail("entry", "text", "The list entry's id, e.g. 'KPi.900'.", "List entry"))),
)}

EVENT_CODES: dict[str, dict[str, str | None]] = {name: kind.codes for name, kind in KINDS.items()}
COMMON_FIELDS = ("on", "place", "country", "note", "sources")  # every incident's, besides its roles


# What a role or a detail may not be called: what every incident has (its fields, its columns in
# the read models, its JSON and CSV), the options every `record` command takes, and the
# parameters of `ledger.api.Ledger.record`. A clash would store events no read could show.
RESERVED = frozenset({
    "id", "key", "case", "kind", "on", "precision", "status", "place", "country", "note", "sources", "roles",
    "cameo", "plover", "plover_mode", "recorded_at", "recorded_by", "position", "case_id", "on_date", "on_start",
    "precision_rank", "json", "help", "source", "claims", "disputed", "names", "history", "codes", "details",
    # a detail is a column of the read models: none of SQL's reserved words
    "all", "and", "any", "as", "asc", "between", "both", "by", "check", "collate", "column", "constraint",
    "create", "cross", "current", "default", "desc", "distinct", "do", "else", "end", "except", "false", "fetch",
    "for", "foreign", "from", "grant", "group", "having", "in", "index", "inner", "into", "is", "join", "leading",
    "left", "like", "limit", "natural", "not", "null", "offset", "only", "or", "order", "outer", "primary",
    "references", "returning", "right", "select", "some", "table", "then", "to", "trailing", "true", "union",
    "unique", "user", "using", "values", "when", "where", "window", "with"})
_NAME = re.compile(r"[a-z][a-z_]{0,30}\Z")


def columns_of(kinds: Iterable[Kind]) -> dict[str, DetailType]:
    """Every kind's details, by name: one column each in the read models and the CSV. A name
    two kinds share means one thing (the same type). Refused at import, so a kind that would store
    what no read can show never runs: a reserved or malformed name, a role and a detail (or a
    role's plural field) of one name."""
    kinds = list(kinds)
    out: dict[str, DetailType] = {}
    roles = {name for kind in kinds for role in kind.roles for name in (role.name, role.field)}
    for kind in kinds:
        names = [*(n for role in kind.roles for n in {role.name, role.field}), *(d.name for d in kind.details)]
        bad = next((n for n in [kind.name, *names] if n in RESERVED or not _NAME.match(n)), None)
        if bad is not None:
            raise TypeError(f"kind {kind.name}: {bad!r} is reserved or not a name (a-z and _)")
        if len(set(names)) != len(names):
            raise TypeError(f"kind {kind.name}: two of its roles and details share a name")
        for detail in kind.details:
            if detail.name in roles:
                raise TypeError(f"kind {kind.name}: detail {detail.name!r} is a role's name elsewhere")
            if out.setdefault(detail.name, detail.type) != detail.type:
                raise TypeError(f"detail {detail.name!r} of {kind.name} is {a(detail.type)}, "
                                f"elsewhere {a(out[detail.name])}")
    return out


DETAILS: dict[str, DetailType] = columns_of(KINDS.values())
ROLES: tuple[str, ...] = tuple(dict.fromkeys(role.name for kind in KINDS.values() for role in kind.roles))


def a(word: str) -> str:
    """The word with its indefinite article, as a message says it: a raid, an arrest."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def amendable_fields(kind: str) -> list[str]:
    """What `amend --set FIELD=...` takes for an incident of this kind."""
    declared = KINDS[kind]
    return [*COMMON_FIELDS, *(d.name for d in declared.details), *(r.name for r in declared.roles)]


def shown_details(kind: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The kind's own fields that have a value, as a person reads them (reports, FtM): `label`,
    `text` (an amount with its thousands and its currency: `70,000 USD`; `plain` without the
    thousands), `para` (whether its text may run over several lines) and `amount`."""
    declared = KINDS[kind]
    units = {d.unit_of: d.name for d in declared.details if d.unit_of}
    out = []
    for detail in declared.details:
        value = values.get(detail.name)
        if value is None or value == "" or detail.unit_of:
            continue
        unit = values.get(units[detail.name]) if detail.name in units else None
        suffix = f" {unit}" if unit else ""
        text = f"{value:,}{suffix}" if detail.type == "amount" else str(value)
        plain = f"{value}{suffix}" if detail.type == "amount" else str(value)
        out.append({"name": detail.name, "label": detail.label, "text": text, "plain": plain,
                    "para": detail.type == "para", "amount": detail.type == "amount"})
    return out
