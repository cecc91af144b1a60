"""Value rules shared by the domain and the input models: ids, countries, currencies, dates.

Countries and currencies come from pycountry (ISO 3166-1 and ISO 4217), never from a list here.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import NamedTuple
from uuid import UUID, uuid5

from ledger.errors import InvalidInput

ID_PATTERN = r"[a-z0-9][a-z0-9._-]{0,79}"
_ID = re.compile(ID_PATTERN + r"\Z")
_COUNTRY_REF = re.compile(r"[A-Z]{2}\Z")

ENTITY_KINDS = ("person", "organization", "vehicle", "vessel", "goods", "place")
COUNTRY_KIND = "country"
RELIABILITY = ("A", "B", "C", "D", "E", "F")

# Namespace of every id the ledger derives: aggregate ids from user ids, incident ids from keys.
NAMESPACE = UUID("5d1c1b59-6a47-4b55-9d0e-0f0b6c1e3a11")


def check_id(value: str, what: str = "id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInput(f"invalid {what} {shown(value)}: use [a-z0-9][a-z0-9._-]{{0,79}}")
    return value


# ------------------------------------------------------------------ text

MAX_TEXT = 10_000
# C0 and C1 controls, DEL, lone surrogates, the line and paragraph separators, and the Unicode
# bidirectional embeddings, overrides and isolates (which make text read other than it is stored)
_FORBIDDEN = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_BAD_LINE = re.compile(f"[\\t\\n{_FORBIDDEN}]")  # a one-line field: no newline or tab either
_BAD_PARA = re.compile(f"[{_FORBIDDEN}]")  # a note, summary, reason or quote: newline and tab allowed


def shown(value: object, limit: int = 60) -> str:
    """A value for an error message: repr (control characters escaped), cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 20]}...{text[-12:]} ({len(str(value)):,} characters)"


def check_text(value: str, multiline: bool = False) -> str:
    """The rule for every text field ("text in"): at most 10,000 characters, and no control or
    bidirectional-override characters; newline and tab only where `multiline`. Stripped; an empty
    text is the caller's to refuse or to treat as absent."""
    if not isinstance(value, str):
        raise InvalidInput(f"{shown(value)} is not text")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"text of {len(value):,} characters: at most {MAX_TEXT:,}")
    bad = (_BAD_PARA if multiline else _BAD_LINE).search(value)
    if bad is not None:
        char = bad.group()
        what = ("a newline or tab" if char in "\t\n" else
                f"the bidirectional control U+{ord(char):04X}" if "\u202a" <= char <= "\u2069" else
                f"the control character U+{ord(char):04X}")
        raise InvalidInput(f"{what} at character {bad.start() + 1} is not allowed here")
    return value.strip()


def check_name(value: str) -> str:
    """A person's name as the ledger attributes writes to it (an actor, a key's owner): a text,
    not blank, with no invisible characters (zero-width spaces and joiners, soft hyphens: Unicode
    format characters), so that two names that read alike are one name."""
    import unicodedata

    name = check_text(value)
    if not any(c.isalnum() for c in name):
        raise InvalidInput("a name must have a letter or a digit")
    invisible = next((c for c in name if unicodedata.category(c) == "Cf" or c in _INVISIBLE), None)
    if invisible is not None:
        raise InvalidInput(f"the invisible character U+{ord(invisible):04X} is not allowed in a name")
    scripts = {unicodedata.name(c, "").split(" ", 1)[0] for c in name if c.isalpha()} & {"LATIN", "CYRILLIC", "GREEK"}
    if len(scripts) > 1:  # а (Cyrillic) in a Latin name reads as a (Latin): two names that look one  # noqa: RUF003
        raise InvalidInput(f"a name may not mix {' and '.join(sorted(s.title() for s in scripts))} letters")
    return name


# characters that show nothing (besides Unicode's format characters): the combining grapheme
# joiner, variation selectors, Hangul and Mongolian fillers, the Braille blank
_INVISIBLE = frozenset(["\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u180b", "\u180c", "\u180d",
                        "\u180e", "\u180f", "\u2800", "\u3164", "\uffa0",
                        *map(chr, range(0xFE00, 0xFE10)), *map(chr, range(0xE0100, 0xE01F0))])


def name_key(name: str) -> str:
    """A name as compared to decide whose it is: NFKC-normalised and case-folded, so that Alice,
    alice and ａｌｉｃｅ (full-width) are one person's name."""  # noqa: RUF002 -- the example is the point
    import unicodedata

    return unicodedata.normalize("NFKC", name).casefold()


def check_url(value: str) -> str:
    """A source's URL: http:// or https:// with a host, nothing else ("URLs")."""
    import unicodedata
    from urllib.parse import urlsplit

    text = check_text(value)
    if any(c.isspace() or unicodedata.category(c) == "Cf" for c in text):  # a link must read as it goes
        raise InvalidInput(f"invalid URL {shown(text)}: no spaces or invisible characters in a URL")
    scheme, sep, _ = text.partition(":")
    if not sep or scheme.lower() not in ("http", "https"):
        raise InvalidInput(f"invalid URL {shown(text)}: only http:// and https:// URLs are accepted")
    try:
        parts = urlsplit(text)
        host, _ = parts.hostname, parts.port  # a port out of range is a ValueError here
    except ValueError as error:
        raise InvalidInput(f"invalid URL {shown(text)}: {error}") from None
    if not text[len(scheme) + 1:].startswith("//") or not host:
        raise InvalidInput(f"invalid URL {shown(text)}: give http(s)://HOST/...")
    return scheme.lower() + text[len(scheme):]


@cache
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
        raise InvalidInput(f"unknown country code {shown(value)} (ISO 3166-1 alpha-2)")
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


@cache
def _currency_ok(code: str) -> bool:
    import pycountry

    return pycountry.currencies.get(alpha_3=code) is not None


def check_currency(value: str) -> str:
    code = value.upper() if isinstance(value, str) else ""
    if len(code) != 3 or not _currency_ok(code):
        raise InvalidInput(f"unknown currency {shown(value)} (ISO 4217)")
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
    """The canonical form of an incident id given as a UUID string, else None: 32 hex digits, with
    or without hyphens, braces or a `urn:uuid:` prefix, as Python's UUID reads them, but not the
    other strings it also takes for one (a sign, `0x`, `_`, spaces, digits of other scripts)."""
    if not isinstance(value, str) or len(value) < 32:  # shorter than any form of a UUID (a key, mostly)
        return None
    digits = value.replace("urn:", "").replace("uuid:", "").strip("{}").replace("-", "")
    if not _HEX32.match(digits):
        return None
    return str(UUID(digits))


_HEX32 = re.compile(r"[0-9a-fA-F]{32}\Z")


# ------------------------------------------------------------------ partial dates

PRECISIONS = ("year", "month", "day", "time")
_YEAR = re.compile(r"([0-9]{4})\Z")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})\Z")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.,+\-Z]+\Z", re.IGNORECASE)
# "date range": once in UTC, every date lies in these years, so that every read, report and
# replay can compute the start and end of its range (year 9999 would end in year 10000)
FIRST_YEAR, LAST_YEAR = 1, 9998
_FORMS = "use YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time"


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
    """Parse YYYY, YYYY-MM, YYYY-MM-DD or an ISO 8601 date-time; reject impossible dates and
    dates outside 0001-01-01..9998-12-31 once in UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        return _parse_date_text(value)
    raise InvalidInput(f"invalid date {shown(value)}: {_FORMS}")


def _in_range(value: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"date {shown(value)} out of range: dates run from 0001-01-01 to 9998-12-31 (in UTC)")


@lru_cache(maxsize=4096)  # an import meets the same dates again and again
def _parse_date_text(value: str) -> PartialDate:
    text = value.strip()
    if m := _YEAR.match(text):
        _in_range(value, int(m.group(1)))
        return PartialDate(text, "year")
    if m := _MONTH.match(text):
        if not 1 <= int(m.group(2)) <= 12:
            raise InvalidInput(f"invalid date {shown(value)}: no such month")
        _in_range(value, int(m.group(1)))
        return PartialDate(text, "month")
    if _DAY.match(text):
        if not 1 <= int(text[5:7]) <= 12:
            raise InvalidInput(f"invalid date {shown(value)}: no such month")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"invalid date {shown(value)}: no such day") from None
        _in_range(value, day.year)
        return PartialDate(day.isoformat(), "day")
    if not _DATE_TIME.match(text):
        raise InvalidInput(f"invalid date {shown(value)}: {_FORMS}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid date {shown(value)}: {_FORMS}") from None
    try:
        utc = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    except OverflowError:
        utc = None
    _in_range(value, utc.year if utc is not None else 0)
    return PartialDate(moment.isoformat(), "time")


def is_future(on: str, precision: str, now: datetime | None = None) -> bool:
    """Whether a date's range starts after `now` (UTC; default: this moment)."""
    moment = (_utc_text(int(time.time())) if now is None
              else now.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"))
    return range_start(on, precision) > moment


@lru_cache(maxsize=1)  # made once a second: an import asks for every line
def _utc_text(second: int) -> str:
    """A second since the epoch as ISO 8601 text in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def parse_moment(text: str) -> datetime:
    """A recording time given to --as-of: a date means the end of that day, UTC unless a zone is given."""
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=UTC)
        if not _DATE_TIME.match(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"--as-of {shown(text)}: give a position, an ISO 8601 date or date-time") from None
    return moment


@lru_cache(maxsize=4096)  # an import, a replay meet the same dates again and again
def range_start(text: str, precision: str) -> str:
    if precision == "year":
        return f"{text}-01-01T00:00:00"
    if precision == "month":
        return f"{text}-01T00:00:00"
    if precision == "day":
        return f"{text}T00:00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")



_AMOUNT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?\Z")


def parse_amount(value: object) -> int | float:
    """A money amount: a non-negative number, kept as an int when it is whole."""
    if isinstance(value, bool):
        raise InvalidInput("invalid amount: true and false are not numbers")
    if isinstance(value, str) and not _AMOUNT.match(value.strip()):  # not float()'s `1_000`, `٣`, `inf`
        raise InvalidInput(f"invalid amount {shown(value)}: give a number in digits 0-9")
    try:
        number = float(value) if not isinstance(value, int) else value  # type: ignore[arg-type]  # TypeError below
    except (TypeError, ValueError):
        raise InvalidInput(f"invalid amount {shown(value)}: give a number") from None
    if isinstance(number, float):
        if math.isnan(number) or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"invalid amount {shown(value)}")
        if number.is_integer():
            number = int(number)
    if number < 0:
        raise InvalidInput(f"invalid amount {shown(value)}: must not be negative")
    if number > 10**15:
        raise InvalidInput(f"invalid amount {shown(value)}: over 10^15")
    return number
