"""Value rules shared by the domain and the input models: ids, countries, currencies, dates.

Countries and currencies come from pycountry (ISO 3166-1 and ISO 4217), never from a list here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import NamedTuple
from uuid import UUID, uuid5

from ledger.errors import InvalidInput

ID_PATTERN = r"[a-z0-9][a-z0-9._-]{0,79}"
_ID = re.compile(ID_PATTERN + r"\Z")
_COUNTRY_REF = re.compile(r"[A-Z]{2}\Z")

ENTITY_KINDS = ("person", "organization", "vehicle", "vessel", "goods", "place")
COUNTRY_KIND = "country"
RELIABILITY = ("A", "B", "C", "D", "E", "F")
CASE_STATUSES = ("open", "investigating", "referred", "closed")

# The roles of each kind of incident, each with the input field that names it (a list field for
# several people or subjects). The input models and the projections both read them from here.
INCIDENT_ROLES: dict[str, dict[str, str]] = {
    "raid": {"authority": "authority", "target": "target"},
    "seizure": {"item": "item", "authority": "authority", "holder": "holder"},
    "questioning": {"subject": "subjects", "authority": "authority"},
    "recall": {"envoy": "envoy", "sending_state": "sending_state", "post": "post"},
    "expulsion": {"person": "persons", "expelling_state": "expelling_state"},
    "probe": {"authority": "authority", "subject": "subjects"},
}

# Namespace of every id the ledger derives: aggregate ids from user ids, incident ids from keys.
NAMESPACE = UUID("5d1c1b59-6a47-4b55-9d0e-0f0b6c1e3a11")


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput(f"invalid {what} {value!r}: use [a-z0-9][a-z0-9._-]{{0,79}}")
    return value


@lru_cache(maxsize=None)
def _country_name(code: str) -> str | None:
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    return None if country is None else country.name


def country_name(code: str) -> str:
    name = _country_name(code)
    if name is None:
        raise InvalidInput(f"unknown country code {code!r} (ISO 3166-1 alpha-2)")
    return name


def check_country(value: str) -> str:
    """A state given to --country, --jurisdiction, ...: the ISO code in any case."""
    if not isinstance(value, str) or len(value) != 2:
        raise InvalidInput(f"unknown country code {value!r} (ISO 3166-1 alpha-2)")
    code = value.upper()
    country_name(code)
    return code


def is_country_ref(value: str) -> bool:
    return bool(_COUNTRY_REF.match(value))


def check_entity_ref(value: str) -> str:
    """An entity reference: `JP` is the country, `jp` a user entity."""
    if isinstance(value, str) and is_country_ref(value):
        country_name(value)
        return value
    return check_id(value, "entity id")


@lru_cache(maxsize=None)
def _currency_ok(code: str) -> bool:
    import pycountry

    return pycountry.currencies.get(alpha_3=code) is not None


def check_currency(value: str) -> str:
    code = value.upper() if isinstance(value, str) else ""
    if len(code) != 3 or not _currency_ok(code):
        raise InvalidInput(f"unknown currency {value!r} (ISO 4217)")
    return code


@lru_cache(maxsize=32_768)
def derived_id(kind: str, user_id: str) -> UUID:
    """The aggregate id of a case, entity or source with the given user id."""
    return uuid5(NAMESPACE, f"{kind}:{user_id}")


@lru_cache(maxsize=8192)  # a key is looked up twice within one import chunk; keep memory flat
def incident_uuid_for_key(key: str) -> UUID:
    return uuid5(NAMESPACE, f"incident-key:{key}")


def incident_id_for_key(key: str) -> str:
    return str(incident_uuid_for_key(key))


def as_incident_id(value: str) -> str | None:
    """The canonical form of an incident id given as a UUID string, else None."""
    try:
        return str(UUID(value))
    except (ValueError, TypeError, AttributeError):
        return None


# ------------------------------------------------------------------ partial dates

PRECISIONS = ("year", "month", "day", "time")
_YEAR = re.compile(r"(\d{4})\Z")
_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")


class PartialDate(NamedTuple):
    """A date kept at the precision it was given: 1992 is a year, not 1992-01-01."""

    text: str
    precision: str

    @property
    def start(self) -> str:
        """Start of the date's range in UTC, as a sortable ISO string."""
        return range_start(self.text, self.precision)

    @property
    def rank(self) -> int:
        return PRECISIONS.index(self.precision)


def parse_date(value: object) -> PartialDate:
    """Parse YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time; reject impossible dates."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return _parse_date_text(value)
    raise InvalidInput(f"invalid date {value!r}: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time")


@lru_cache(maxsize=4096)  # an import meets the same dates again and again
def _parse_date_text(value: str) -> PartialDate:
    if not isinstance(value, str):
        raise InvalidInput(f"invalid date {value!r}: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time")
    text = value.strip()
    if m := _YEAR.match(text):
        if int(m.group(1)) < 1:
            raise InvalidInput(f"invalid date {value!r}: no year 0")
        return PartialDate(text, "year")
    if m := _MONTH.match(text):
        if not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
            raise InvalidInput(f"invalid date {value!r}: no such month")
        return PartialDate(text, "month")
    if len(text) == 10:
        try:
            return PartialDate(date.fromisoformat(text).isoformat(), "day")
        except ValueError:
            raise InvalidInput(f"invalid date {value!r}: no such day") from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid date {value!r}: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time"
        ) from None
    if len(text) < 13 or "T" not in text.upper() and " " not in text:
        raise InvalidInput(f"invalid date {value!r}: use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time")
    return PartialDate(moment.isoformat(), "time")


def parse_moment(text: str) -> datetime:
    """A recording time given to --as-of: a date means the end of that day, UTC unless a zone is given."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"--as-of {text!r}: give a position, an ISO 8601 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def range_start(text: str, precision: str) -> str:
    if precision == "year":
        return f"{text}-01-01T00:00:00"
    if precision == "month":
        return f"{text}-01T00:00:00"
    if precision == "day":
        return f"{text}T00:00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def parse_amount(value: object) -> int | float:
    """A money amount: a non-negative number, kept as an int when it is whole."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid amount {value!r}")
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise InvalidInput(f"invalid amount {value!r}: give a number") from None
    if isinstance(number, float):
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"invalid amount {value!r}")
        if number.is_integer():
            number = int(number)
    if number < 0:
        raise InvalidInput(f"invalid amount {value!r}: must not be negative")
    if number > 10**15:
        raise InvalidInput(f"invalid amount {value!r}: over 10^15")
    return number
