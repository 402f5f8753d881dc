"""China's working-day calendar: the State Council's days off and adjusted working days (调休)
for 2023-2026, measured against both calendar libraries, checked here."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.calendar.workdays import DayInfo, WorkCalendar

ADJUSTED_WORKDAYS = {
    2023: ["01-28", "01-29", "04-23", "05-06", "06-25", "10-07", "10-08"],
    2024: ["02-04", "02-18", "04-07", "04-28", "05-11", "09-14", "09-29", "10-12"],
    2025: ["01-26", "02-08", "04-27", "09-28", "10-11"],
    2026: ["01-04", "02-14", "02-28", "05-09", "09-20", "10-10"],
}


def _iso(year: int, month_day: str) -> date:
    return date.fromisoformat(f"{year}-{month_day}")


ADJUSTED_DATES = [_iso(y, md) for y, days in ADJUSTED_WORKDAYS.items() for md in days]


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.mark.parametrize("d", ADJUSTED_DATES, ids=str)
def test_adjusted_workdays_are_working_weekends(cal: WorkCalendar, d: date) -> None:
    info = cal.day(d)
    assert d.weekday() >= 5
    assert info.kind == "adjusted_workday"
    assert info.workday and cal.is_workday(d)
    assert not info.provisional


@pytest.mark.parametrize("year", sorted(ADJUSTED_WORKDAYS))
def test_no_other_adjusted_workdays(cal: WorkCalendar, year: int) -> None:
    found = [
        info.date
        for month in range(1, 13)
        for info in cal.month(year, month)
        if info.kind == "adjusted_workday"
    ]
    assert found == [_iso(year, md) for md in ADJUSTED_WORKDAYS[year]]


def test_2023_10_07_is_a_working_saturday(cal: WorkCalendar) -> None:
    info = cal.day(date(2023, 10, 7))
    assert info == DayInfo(date(2023, 10, 7), True, "adjusted_workday", "国庆节", False)
    assert info.date.strftime("%A") == "Saturday"


@pytest.mark.parametrize("offset", range(8))
def test_mid_autumn_and_national_day_2023_are_holidays(cal: WorkCalendar, offset: int) -> None:
    d = date(2023, 9, 29) + timedelta(days=offset)
    info = cal.day(d)
    assert info.kind == "holiday" and not info.workday
    assert info.name in {"中秋节", "国庆节"}


@pytest.mark.parametrize(
    ("d", "name"),
    [
        (date(2023, 9, 29), "中秋节"),
        (date(2023, 10, 1), "国庆节"),
        (date(2024, 2, 10), "春节"),
        (date(2025, 1, 1), "元旦"),
        (date(2025, 4, 4), "清明节"),
        (date(2025, 5, 1), "劳动节"),
        (date(2025, 5, 31), "端午节"),
    ],
)
def test_holiday_names_in_chinese(cal: WorkCalendar, d: date, name: str) -> None:
    assert cal.day(d).name == name


def test_plain_kinds(cal: WorkCalendar) -> None:
    assert cal.day(date(2023, 10, 9)) == DayInfo(date(2023, 10, 9), True, "workday", None, False)
    assert cal.day(date(2023, 10, 14)) == DayInfo(date(2023, 10, 14), False, "weekend", None, False)


@pytest.mark.parametrize(
    ("year", "month", "n", "expected"),
    [
        (2023, 10, 1, date(2023, 10, 7)),
        (2023, 10, 5, date(2023, 10, 11)),
        (2026, 10, 5, date(2026, 10, 13)),
    ],
)
def test_nth_workday_of_month(
    cal: WorkCalendar, year: int, month: int, n: int, expected: date
) -> None:
    assert cal.nth_workday_of_month(year, month, n) == expected


def test_nth_workday_of_month_too_large_names_the_month(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="2023-10"):
        cal.nth_workday_of_month(2023, 10, 25)


def test_nth_workday_of_month_rejects_non_positive(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.nth_workday_of_month(2023, 10, 0)


@pytest.mark.parametrize("overrides", [{}, {date(2023, 9, 1): False, date(2024, 3, 2): True}],
                         ids=["official", "overridden"])
def test_month_workdays_agree_with_the_day_by_day_view(overrides: dict[date, bool]) -> None:
    """nth/last working day of a month (from the cached per-year flags) name the same days as
    month()'s DayInfo list, local overrides and a provisional year included."""
    cal = WorkCalendar(overrides=overrides)
    for year in (2023, 2024, 2027):
        for month in range(1, 13):
            shown = [info.date for info in cal.month(year, month) if info.workday]
            assert [cal.nth_workday_of_month(year, month, n)
                    for n in range(1, len(shown) + 1)] == shown
            assert cal.last_workday_of_month(year, month) == shown[-1]


def test_last_workday_of_month(cal: WorkCalendar) -> None:
    assert cal.last_workday_of_month(2023, 9) == date(2023, 9, 28)
    assert cal.last_workday_of_month(2024, 9) == date(2024, 9, 30)


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2023, 10, 1), date(2023, 10, 7)),
        (date(2023, 9, 30), date(2023, 10, 7)),  # find_workday says 10-08: a day late
        (date(2024, 2, 10), date(2024, 2, 18)),  # Spring Festival 2024 ends on a working Sunday
    ],
)
def test_next_workday(cal: WorkCalendar, d: date, expected: date) -> None:
    assert cal.next_workday(d) == expected
    assert cal.day(expected).workday


def test_next_and_previous_include_self(cal: WorkCalendar) -> None:
    assert cal.next_workday(date(2023, 10, 7), include_self=True) == date(2023, 10, 7)
    assert cal.next_workday(date(2023, 10, 7)) == date(2023, 10, 8)
    assert cal.previous_workday(date(2023, 10, 7)) == date(2023, 9, 28)
    assert cal.previous_workday(date(2023, 10, 7), include_self=True) == date(2023, 10, 7)


@pytest.mark.parametrize(
    ("d", "n", "expected"),
    [
        (date(2023, 9, 28), 1, date(2023, 10, 7)),
        (date(2023, 9, 28), 3, date(2023, 10, 9)),
        (date(2023, 10, 7), -1, date(2023, 9, 28)),
        (date(2023, 10, 9), -3, date(2023, 9, 28)),
        (date(2023, 10, 1), 0, date(2023, 10, 1)),
    ],
)
def test_add_workdays_across_national_day_2023(
    cal: WorkCalendar, d: date, n: int, expected: date
) -> None:
    assert cal.add_workdays(d, n) == expected


def test_workdays_between_signs(cal: WorkCalendar) -> None:
    start, end = date(2023, 9, 28), date(2023, 10, 9)
    assert cal.workdays_between(start, end) == 3  # 10-07, 10-08, 10-09
    assert cal.workdays_between(end, start) == -3
    assert cal.workdays_between(start, start) == 0


@pytest.mark.parametrize(("year", "count"), [(2023, 249), (2024, 251), (2025, 248), (2026, 248)])
def test_working_days_per_year(cal: WorkCalendar, year: int, count: int) -> None:
    assert cal.workdays_between(date(year - 1, 12, 31), date(year, 12, 31)) == count
    assert sum(info.workday for m in range(1, 13) for info in cal.month(year, m)) == count


def test_2027_is_provisional(cal: WorkCalendar) -> None:
    assert not cal.official(2027)
    assert cal.official(2026)
    assert cal.is_provisional(date(2027, 3, 1))
    assert not cal.is_provisional(date(2026, 3, 1))
    days = [info for m in range(1, 13) for info in cal.month(2027, m)]
    assert len(days) == 365 and all(info.provisional for info in days)


def test_2027_falls_back_to_rule_based_holidays(cal: WorkCalendar) -> None:
    assert cal.day(date(2027, 1, 1)) == DayInfo(date(2027, 1, 1), False, "holiday", "元旦", True)
    assert cal.day(date(2027, 10, 1)).name == "国庆节"
    assert not cal.is_workday(date(2027, 1, 2))  # a Saturday
    assert cal.is_workday(date(2027, 1, 4))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 1), 2027),
        (date(2026, 12, 31), 2027),
        (date(2026, 10, 31), None),
        (date(2025, 11, 2), None),
    ],
)
def test_missing_next_year(cal: WorkCalendar, today: date, expected: int | None) -> None:
    assert cal.missing_next_year(today) == expected


def test_override_settles_a_2027_date() -> None:
    d = date(2027, 2, 20)  # a Saturday, say announced as a working day
    cal = WorkCalendar(overrides={d: True})
    info = cal.day(d)
    assert cal.is_workday(d) and info.workday
    assert info.kind == "adjusted_workday"
    assert not info.provisional and not cal.is_provisional(d)
    assert cal.is_provisional(date(2027, 2, 21))
    assert cal.missing_next_year(date(2026, 11, 1)) == 2027  # one date is not a year's notice


def test_override_can_close_an_office_on_a_weekday() -> None:
    d = date(2023, 10, 10)
    cal = WorkCalendar(overrides={d: False})
    assert not cal.is_workday(d)
    assert cal.day(d).kind == "holiday"
    assert cal.nth_workday_of_month(2023, 10, 5) == date(2023, 10, 12)


def test_official_years_can_be_narrowed() -> None:
    cal = WorkCalendar(official_years=[2023])
    assert cal.official(2023) and not cal.official(2024)
    assert cal.missing_next_year(date(2023, 11, 1)) == 2024
    assert cal.day(date(2024, 3, 1)).provisional


def test_official_years_must_have_data() -> None:
    with pytest.raises(ValueError, match="2027"):
        WorkCalendar(official_years=[2026, 2027])


@settings(max_examples=200, deadline=None)
@given(
    d=st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31)),
    n=st.integers(min_value=1, max_value=30),
)
def test_add_workdays_round_trips_with_workdays_between(cal: WorkCalendar, d: date, n: int) -> None:
    result = cal.add_workdays(d, n)
    assert cal.is_workday(result)
    assert result > d
    assert cal.workdays_between(d, result) == n
    assert cal.workdays_between(result, d) == -n
