"""One pydantic model per command and import op.

The click options and the JSON Lines import both fill these models, so the two paths cannot
drift apart. Field names are the option names without dashes (`-` becomes `_`); repeatable
options are lists under a plural name.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)

from ledger.domain.kinds import DETAILS, EVENT_CODES, KINDS, Kind, a
from ledger.domain.values import (
    ENTITY_KINDS,
    RELIABILITY,
    as_incident_id,
    check_country,
    check_currency,
    check_entity_ref,
    check_id,
    check_name,
    check_text,
    check_url,
    parse_amount,
    parse_date,
    shown,
)
from ledger.domain.vocabulary import CaseStatusName
from ledger.errors import InvalidInput


def _optional_text(value: Any) -> Any:
    if isinstance(value, str):
        return check_text(value) or None
    return value


def _key(value: Any) -> Any:
    """An idempotency key: text, and never the form of an incident id (an incident is named by
    its id or its key: a key that looked like another incident's id would name two)."""
    value = _optional_text(value)
    if isinstance(value, str) and as_incident_id(value) is not None:
        raise InvalidInput(f"key {shown(value)} has the form of an incident id: choose another key")
    return value


def _optional_para(value: Any) -> Any:
    if isinstance(value, str):
        return check_text(value, multiline=True) or None
    return value


def _date_text(value: Any) -> str:
    return parse_date(value).text


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise InvalidInput("true and false are not numbers")
    return value


def _url(value: Any) -> Any:
    if isinstance(value, str):
        return check_url(value) if value.strip() else None
    return value


# "text in": every text is at most 10,000 characters with no control characters (one place:
# ledger.domain.values.check_text); newline and tab only in a note, summary, reason or quote (Para)
# (check_text strips and bounds the length; the models only add that a required text is not empty)
Id = Annotated[str, AfterValidator(check_id)]
Text = Annotated[str, StringConstraints(min_length=1), BeforeValidator(check_text)]
Para = Annotated[str, StringConstraints(min_length=1), BeforeValidator(lambda v: check_text(v, multiline=True))]
OptText = Annotated[str | None, BeforeValidator(_optional_text)]
OptPara = Annotated[str | None, BeforeValidator(_optional_para)]
Url = Annotated[str | None, BeforeValidator(_url)]
EntityRef = Annotated[str, AfterValidator(check_entity_ref)]
Country = Annotated[str, AfterValidator(check_country)]
Currency = Annotated[str, AfterValidator(check_currency)]
DateText = Annotated[str, BeforeValidator(_date_text)]
Amount = Annotated[int | float, BeforeValidator(parse_amount)]


def _identifiers(value: Any) -> Any:
    """`SCHEME=VALUE` strings (CLI and import) or a mapping, to a mapping."""
    if value is None:
        return {}
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise InvalidInput(f"invalid identifier {shown(item)}: use SCHEME=VALUE")
            scheme, _, val = item.partition("=")
            pairs.append((scheme, val))
    else:
        return value  # pydantic says what is wrong with it
    result: dict[str, str] = {}
    for given_scheme, given_val in pairs:
        if not isinstance(given_val, str):
            raise InvalidInput(f"identifier {shown(given_scheme)}: its value {shown(given_val)} is not text")
        scheme, val = check_text(given_scheme), check_text(given_val)  # the same rules as every other text
        if not scheme or not val:
            raise InvalidInput(f"invalid identifier {shown(f'{scheme}={val}')}: use SCHEME=VALUE")
        if scheme in result and result[scheme] != val:
            raise InvalidInput(f"identifier scheme {shown(scheme)} given twice")
        result[scheme] = val
    return result


def canonical_digest(op: str, data: dict[str, Any]) -> str:
    """SHA-256 of the op's name and its data as canonical JSON (sorted keys, compact, UTF-8)."""
    return hashlib.sha256(op.encode() + b"\n" + orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Op(BaseModel):
    """An operation; `key` is its idempotency key in an import (any line may carry one)."""

    # defer_build: a model's validator is built when it is first used, not at start-up (a command
    # uses one or two of them; building all cost every process about 0.1 s)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    op: ClassVar[str]
    key: Annotated[str | None, BeforeValidator(_key)] = None

    def values(self, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        """The validated field values. They are JSON values already (the validators normalise
        dates, codes and amounts to str and numbers), so this is model_dump without its cost.
        (Not cached: model_copy(update=...) would carry a cache over with the old values.)"""
        fields = self.__pydantic_fields__
        return {name: list(value) if type(value) is list else dict(value) if type(value) is dict else value
                for name, value in self.__dict__.items() if name in fields and name not in exclude}

    def data(self) -> dict[str, Any]:
        """The operation's data, as compared to decide same-or-other."""
        return self.values({"key"})

    def digest(self) -> str:
        return self._digest

    @cached_property
    def _digest(self) -> str:
        # cached: data() leaves out `key` (and a record's `id`), the only fields an import's
        # model_copy(update=...) sets, so a copy carrying this cache carries the right digest
        return canonical_digest(self.op, self.data())


class SourceAdd(Op):
    op = "source.add"
    id: Id
    publisher: Text
    title: Text
    url: Url = None
    published: DateText | None = None
    reliability: Literal["A", "B", "C", "D", "E", "F"] | None = None
    credibility: Annotated[int, Field(ge=1, le=6), BeforeValidator(_not_bool)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _upper_grading(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("reliability"), str):
            values = dict(values, reliability=values["reliability"].strip().upper())
            if values["reliability"] not in RELIABILITY:
                raise InvalidInput(f"invalid reliability {shown(values['reliability'])}: use A-F")
        return values


SOURCE_FIELDS = ("publisher", "title", "url", "published", "reliability", "credibility")


class SourceAmend(Op):
    """Correct fields of a source (`set`: FIELD -> VALUE, FIELD one of SOURCE_FIELDS; an empty
    value clears an optional field). The corrected source is validated as `source add` validates
    one (`corrected_source`), against the source as it stands."""

    op = "source.amend"
    id: Id
    reason: Para
    set: Annotated[dict[str, Any], Field(min_length=1)]

    @model_validator(mode="after")
    def _known_fields(self) -> SourceAmend:
        for name in self.set:
            if name not in SOURCE_FIELDS:
                raise InvalidInput(f"cannot amend {shown(name)} of a source: amend one of {', '.join(SOURCE_FIELDS)}")
        return self


def corrected_source(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The source's fields with `values` set, validated whole through SourceAdd (the model of
    `source add`): the set fields in their stored form."""
    # an empty value clears an optional field (`--set url=`: no URL any more)
    given = {name: None if isinstance(value, str) and not value.strip() and name not in ("publisher", "title")
             else value for name, value in values.items()}
    fields = {k: v for k, v in {**current, **given}.items() if k != "key" and v is not None}
    try:
        corrected = SourceAdd.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput(describe(error)) from None
    stored = corrected.values({"key"})
    return {name: stored[name] for name in values}


def source_amend_digest(op: SourceAmend, changes: dict[str, Any]) -> str:
    """What decides same-or-other for a source's amendment: the source, the fields set in their
    stored form and the reason, however the line wrote them."""
    return canonical_digest(op.op, {"id": op.id, "changes": changes, "reason": op.reason})


class EntityAdd(Op):
    op = "entity.add"
    id: Id
    kind: Literal[ENTITY_KINDS]  # type: ignore[valid-type]
    name: Text
    aliases: list[Text] = []
    country: Country | None = None
    identifiers: Annotated[dict[str, str], BeforeValidator(_identifiers)] = {}


class EntityAlias(Op):
    op = "entity.alias"
    id: Id
    alias: Text


class EntityMerge(Op):
    op = "entity.merge"
    duplicate: Id
    survivor: Id
    reason: Para


class CaseOpen(Op):
    op = "case.open"
    id: Id
    title: Text
    jurisdiction: Country | None = None
    regime: OptText = None
    summary: OptPara = None
    sources: list[Id] = []  # what the case's fields rest on: the case as opened is their claim

    def data(self) -> dict[str, Any]:
        # without sources, as a case was before it could name them: its digest stays what it was
        return self.values({"key"} if self.sources else {"key", "sources"})


class CaseStatus(Op):
    op = "case.status"
    id: Id
    status: CaseStatusName
    reason: Para


class Record(Op):
    """What every incident has; the model of each kind (`RECORDS`) adds its roles and details, as
    its declaration in `ledger.domain.kinds` says."""

    kind: ClassVar[str]
    roles: ClassVar[dict[str, str]]  # role name -> field name
    id: str | None = None
    case: Id
    # the kind's event codes, as an export writes them: accepted when they are the kind's own
    cameo: str | None = None
    plover: str | None = None
    plover_mode: str | None = None
    on: DateText
    sources: Annotated[list[Id], Field(min_length=1)]
    place: OptText = None
    country: Country | None = None
    note: OptPara = None

    @model_validator(mode="after")
    def _check_id_and_codes(self) -> Record:
        if self.id is not None and as_incident_id(self.id) is None:
            raise InvalidInput(f"invalid incident id {shown(self.id)}: a UUID")
        for name, code in EVENT_CODES[self.kind].items():
            given = getattr(self, name)
            if given is not None and given != code:
                raise InvalidInput(f"{name} {shown(given)} is not the code of {a(self.kind)} ({code})")
        together = KINDS[self.kind].together
        if together and len({getattr(self, name) is None for name in together}) > 1:
            raise InvalidInput(f"give {' and '.join('--' + name for name in together)} together")
        return self

    NOT_DATA: ClassVar[frozenset[str]] = frozenset({"key", "id", "cameo", "plover", "plover_mode"})

    def data(self) -> dict[str, Any]:
        return dict(self._data)

    @cached_property
    def _data(self) -> dict[str, Any]:  # what the digest and the stored fields are made from
        return self.values(self.NOT_DATA)

    @cached_property
    def stored_fields(self) -> dict[str, Any]:
        """The incident's stored fields: roles under their role name, each a list of ids."""
        out = dict(self._data)
        del out["case"]
        out["precision"] = parse_date(self.on).precision
        for role, name in self.roles.items():
            value = out.pop(name)
            out[role] = [] if value is None else (value if isinstance(value, list) else [value])
        return out

    def fields(self) -> dict[str, Any]:
        return dict(self.stored_fields)

    def role_refs(self) -> list[str]:
        return [ref for role in self.roles for ref in self.stored_fields[role]]


# the input type of each type of detail: (required, optional)
_DETAIL_TYPES: dict[str, tuple[Any, Any]] = {
    "text": (Text, OptText), "para": (Para, OptPara),
    "amount": (Amount, Amount | None), "currency": (Currency, Currency | None)}


def _record_model(kind: Kind) -> type[Record]:
    """The input model of `record.KIND`, from the kind's declaration."""
    fields: dict[str, Any] = {}
    for role in kind.roles:
        ref: Any = Country if role.state else EntityRef
        if role.many:
            fields[role.field] = (Annotated[list[ref], Field(min_length=1)], ...) if role.required else \
                (list[ref], [])
        else:
            fields[role.field] = (ref, ...) if role.required else (ref | None, None)
    for detail in kind.details:
        required, optional = _DETAIL_TYPES[detail.type]
        fields[detail.name] = (required, ...) if detail.required else (optional, None)
    model = create_model(f"Record{kind.name.title()}", __base__=Record, **fields)
    model.op, model.kind, model.roles = f"record.{kind.name}", kind.name, kind.role_fields
    return model


RECORDS: dict[str, type[Record]] = {name: _record_model(kind) for name, kind in KINDS.items()}


def record_from_fields(kind: str, case: str, fields: dict[str, Any]) -> Record:
    """Rebuild the input model of an incident from its stored fields: used to validate an amendment."""
    model = RECORDS[kind]
    many = {role.name for role in KINDS[kind].roles if role.many}
    data: dict[str, Any] = {"case": case}
    for name, value in fields.items():
        if name == "precision":
            continue
        if name in model.roles:
            field = model.roles[name]
            if name in many:
                data[field] = value
            elif value:
                data[field] = value[0] if len(value) == 1 else value
        else:
            data[name] = value
    return parse(model, data)


def normal_value(kind: str, name: str, value: Any) -> Any:
    """One amended field's value in the form it is stored in, whichever way it was written."""
    try:
        if name in RECORDS[kind].roles or name == "sources":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidInput("give ids, comma-separated")
            check = check_id if name == "sources" else check_entity_ref
            ids = [check(v) for v in value]
            if not ids and (name == "sources" or _required(kind, name)):
                raise InvalidInput(f"{a(kind)} keeps at least one: give its ids")
            return ids
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            if name == "on":
                raise InvalidInput("an incident keeps a date: give one")
            if _required(kind, name):
                raise InvalidInput(f"{a(kind)} keeps its {name}: give one")
            return None
        if DETAILS.get(name) == "amount":
            return parse_amount(value)
        if not isinstance(value, str):
            raise InvalidInput(f"{shown(value)} is not text")
        if DETAILS.get(name) == "currency":
            return check_currency(value)
        normalise = {"on": _date_text, "country": check_country}
        # a text field is checked by the incident's own model, with the corrected incident as a whole
        return normalise.get(name, str)(value)
    except InvalidInput as error:
        raise InvalidInput(f"{name}: {error}") from None


def _required(kind: str, name: str) -> bool:
    """Whether every incident of the kind has this role or detail."""
    declared = KINDS[kind]
    return any(r.name == name and r.required for r in declared.roles) or any(
        d.name == name and d.required for d in declared.details)


def correction_digest(op: Op, incident_id: str, changes: dict[str, Any]) -> str:
    """What decides same-or-other for an amendment or retraction: the incident by its id, the
    changes in their stored form, the reason and the sources, however the line wrote them."""
    data = {"incident": incident_id, "changes": changes, "reason": op.reason,  # type: ignore[attr-defined]
            "sources": op.sources}  # type: ignore[attr-defined]
    return canonical_digest(op.op, data)


class Amend(Op):
    op = "amend"
    incident: Text
    reason: Para
    set: Annotated[dict[str, Any], Field(min_length=1)]
    sources: list[Id] = []


class Retract(Op):
    op = "retract"
    incident: Text
    reason: Para
    sources: list[Id] = []


class Claim(Op):
    """What one source says about fields of an incident (its id or key) or a case (`case:ID`)."""

    op = "claim"
    target: Text
    source: Id
    set: Annotated[dict[str, Any], Field(min_length=1)]
    quote: OptPara = None


class Accept(Op):
    """Make one source's claim of a field the target's value, with the reason."""

    op = "accept"
    target: Text
    field: Text
    source: Id
    reason: Para


class Refute(Accept):
    """Mark one source's claim of a field wrong, with the reason: kept and shown, no longer counted."""

    op = "refute"


def claim_digest(op: Claim, target: str, changes: dict[str, Any]) -> str:
    """Same-or-other for a claim: the target by its id, the source, the values in stored form, the quote."""
    return canonical_digest(op.op, {"target": target, "source": op.source, "changes": changes, "quote": op.quote})


def ruling_digest(op: Accept, target: str, field: str) -> str:
    return canonical_digest(op.op, {"target": target, "field": field, "source": op.source, "reason": op.reason})


class KeyAdd(Op):
    """Register an actor's public key (the ledger's own evidence: not an op of import files)."""

    op = "key.add"
    owner: Annotated[str, BeforeValidator(check_name)]
    public_key: Annotated[str, StringConstraints(max_length=10_000)]
    reason: Para


def _key_id(value: Any) -> Any:
    from ledger.app.evidence import KEY_ID

    if not isinstance(value, str) or not KEY_ID.fullmatch(value.strip()):
        raise InvalidInput(f"{shown(value)} is not a key id: ed25519: and 32 hex digits, as ledger key list shows it")
    return value.strip()


class KeyRevoke(Op):
    op = "key.revoke"
    key_id: Annotated[str, BeforeValidator(_key_id)]
    reason: Para


class PolicyAdopt(Op):
    op = "policy.adopt"
    policy: Literal["require-signatures"]
    reason: Para


_OP_CLASSES: tuple[type[Op], ...] = (SourceAdd, SourceAmend, EntityAdd, EntityAlias, EntityMerge, CaseOpen,
                                     CaseStatus, *RECORDS.values(), Amend, Retract, Claim, Accept, Refute)
OPS: dict[str, type[Op]] = {m.op: m for m in _OP_CLASSES}


def describe(error: ValidationError, names: dict[str, str] | None = None) -> str:
    """A pydantic error as one line: `field: message; field: message`. `names` renames fields
    (the CLI names its options: `sources` is `--source`)."""
    parts = []
    for err in error.errors():
        loc = [p for p in err.get("loc", ()) if p not in ("function-after", "function-before")]
        if loc and names and loc[0] in names:
            loc[0] = names[loc[0]]
        where = ".".join(str(p) if isinstance(p, int) or str(p).replace("_", "").replace("-", "").isalnum()
                         else shown(p) for p in loc)
        msg = err.get("msg", "invalid")
        msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field"
        if err.get("type") == "missing":
            msg = "missing"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


OpT = TypeVar("OpT", bound=Op)


def parse(model: type[OpT], data: dict[str, Any], names: dict[str, str] | None = None) -> OpT:
    """Validate data into the model, as InvalidInput with a one-line message."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(describe(error, names)) from None
