"""Time is an input: --as-of parsing and the Shanghai date of an instant."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from duban.calendar.clock import TIMEZONE, local_day, parse_as_of, shanghai


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (datetime(2023, 10, 6, 17, 0, tzinfo=UTC), date(2023, 10, 7)),
        (datetime(2023, 10, 6, 15, 59, tzinfo=UTC), date(2023, 10, 6)),
        (datetime(2023, 10, 6, 17, 0), date(2023, 10, 7)),  # naive = UTC, as stored
        (datetime(2023, 10, 7, 1, 0, tzinfo=timezone(timedelta(hours=8))), date(2023, 10, 7)),
    ],
)
def test_local_day_is_the_date_in_china(instant: datetime, expected: date) -> None:
    assert local_day(instant) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a bare date is the end of that day in China: what is due that day is not yet overdue
        ("2023-10-16", datetime(2023, 10, 16, 15, 59, 59, tzinfo=UTC)),
        ("2023-10-16T09:00", datetime(2023, 10, 16, 1, 0, tzinfo=UTC)),  # naive = Shanghai
        ("2023-10-16 09:00:30.25", datetime(2023, 10, 16, 1, 0, 30, 250000, tzinfo=UTC)),
        ("2023-10-16T09:00:00+08:00", datetime(2023, 10, 16, 1, 0, tzinfo=UTC)),
        ("2023-10-16T01:00Z", datetime(2023, 10, 16, 1, 0, tzinfo=UTC)),
    ],
)
def test_as_of_forms(text: str, expected: datetime) -> None:
    parsed = parse_as_of(text)
    assert parsed == expected
    assert type(parsed) is datetime and parsed.tzinfo is UTC  # a plain datetime, safe to store


@pytest.mark.parametrize("text", ["bad", "09:00", "P1D", "2023-02-30", "2023-10-16T25:00"])
def test_as_of_that_is_not_a_date_or_instant_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"--as-of .*expected YYYY-MM-DD"):
        parse_as_of(text)


def test_no_as_of_is_now() -> None:
    before = datetime.now(UTC)
    assert before <= parse_as_of(None) <= datetime.now(UTC)


def test_shown_in_shanghai_time() -> None:
    assert TIMEZONE == "Asia/Shanghai"
    assert shanghai(datetime(2023, 10, 6, 17, 0, tzinfo=UTC)) == "2023-10-07 01:00"
    assert shanghai(None) == ""
