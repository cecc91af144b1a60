"""Value rules: ids, countries, currencies, partial dates, amounts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.values import (
    check_country,
    check_currency,
    check_entity_ref,
    check_id,
    parse_amount,
    parse_date,
)
from ledger.errors import InvalidInput


@pytest.mark.parametrize("text, precision, start", [
    ("1992", "year", "1992-01-01T00:00:00"),
    ("2023-12", "month", "2023-12-01T00:00:00"),
    ("2023-12-07", "day", "2023-12-07T00:00:00"),
    ("2023-12-07T10:30", "time", "2023-12-07T10:30:00"),
    ("2023-12-07T10:30:00+09:00", "time", "2023-12-07T01:30:00"),
    ("2023-12-07T01:30:00Z", "time", "2023-12-07T01:30:00"),
])
def test_dates_keep_their_precision(text, precision, start):
    parsed = parse_date(text)
    assert parsed.precision == precision
    assert parsed.start == start


@pytest.mark.parametrize("bad", ["2023-02-30", "2023-13", "2023-00", "0000", "20231", "2023-1-1", "yesterday", "",
                                 None])
def test_impossible_dates_are_rejected(bad):
    with pytest.raises(InvalidInput):
        parse_date(bad)


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9998, 12, 31)))
def test_every_real_day_in_the_range_parses_at_day_precision(day):
    parsed = parse_date(day.isoformat())
    assert parsed == (day.isoformat(), "day")
    assert parse_date(day.isoformat()[:7]).start <= parsed.start


@given(st.dates(min_value=date(9999, 1, 1)))
def test_every_day_of_year_9999_is_out_of_the_range(day):
    for text in (day.isoformat(), day.isoformat()[:7], day.isoformat()[:4]):
        with pytest.raises(InvalidInput, match="out of range"):
            parse_date(text)


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       st.integers(min_value=-23 * 60, max_value=23 * 60))
def test_a_date_time_is_accepted_exactly_when_it_lies_in_the_range_in_utc(moment, offset_minutes):
    """What is accepted can always be put in UTC and sorted; what is refused is refused cleanly."""
    from datetime import timedelta, timezone

    text = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).isoformat()
    try:
        utc = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes))).astimezone(UTC)
        inside = 1 <= utc.year <= 9998
    except OverflowError:
        inside = False
    if inside:
        parsed = parse_date(text)
        assert parsed.precision == "time" and parsed.start[:4].isdigit()
    else:
        with pytest.raises(InvalidInput, match="out of range"):
            parse_date(text)


def test_ids_and_entity_references():
    assert check_id("chiba-lexus") == "chiba-lexus"
    for bad in ("Chiba", "-x", "a b", "x" * 81, ""):
        with pytest.raises(InvalidInput):
            check_id(bad)
    assert check_entity_ref("JP") == "JP"  # the country
    assert check_entity_ref("jp") == "jp"  # a user entity
    with pytest.raises(InvalidInput, match="unknown country"):
        check_entity_ref("XX")


def test_states_take_any_case_and_currencies_come_from_iso_4217():
    assert check_country("kp") == "KP"
    assert check_currency("jpy") == "JPY"
    with pytest.raises(InvalidInput):
        check_country("ZZ")
    with pytest.raises(InvalidInput):
        check_currency("XYZ1")
    with pytest.raises(InvalidInput):
        check_currency("ABC")


def test_amounts():
    assert parse_amount("70000") == 70000 and isinstance(parse_amount("70000"), int)
    assert parse_amount(70000.0) == 70000 and isinstance(parse_amount(70000.0), int)
    assert parse_amount("68000.5") == 68000.5
    for bad in ("-1", "abc", True, "nan", "inf"):
        with pytest.raises(InvalidInput):
            parse_amount(bad)


def test_an_incident_id_is_32_hex_digits_in_one_of_the_forms_of_a_uuid_and_nothing_else():
    from uuid import uuid4

    from ledger.domain.values import as_incident_id

    ident = uuid4()
    for form in (str(ident), ident.hex, ident.hex.upper(), f"{{{ident}}}", f"urn:uuid:{ident}", str(ident).upper()):
        assert as_incident_id(form) == str(ident), form
    # what Python's UUID() also reads as one (int() of the digits), taken here for keys
    for other in ("+" + ident.hex[1:], "0x" + ident.hex[2:], " " + ident.hex[1:], ident.hex[:16] + "_" + ident.hex[17:],
                  "\u0661" * 32, "\uff11" * 32, ident.hex[:31], ident.hex + "0", "inc-0", "", None, 7):
        assert as_incident_id(other) is None, other  # type: ignore[arg-type]
