"""Deadline rules over the working-day calendar, checked by hand against autumn 2023."""

from __future__ import annotations

from datetime import date

import pytest

from duban.calendar.workdays import WorkCalendar
from duban.plan.duties import Period, due_date, duty_periods, periods

CAL = WorkCalendar()


@pytest.mark.parametrize(
    ("rule", "period", "expected"),
    [
        ({"rule": "nth_workday_of_next_month", "n": 5}, Period("2023-06", date(2023, 6, 1),
         date(2023, 6, 30)), date(2023, 7, 7)),
        # September's report: October 2023 starts with 8 days off, then a working weekend.
        ({"rule": "nth_workday_of_next_month", "n": 5}, Period("2023-09", date(2023, 9, 1),
         date(2023, 9, 30)), date(2023, 10, 11)),
        ({"rule": "nth_workday_of_next_month", "n": 10}, Period("2023-Q3", date(2023, 7, 1),
         date(2023, 9, 30)), date(2023, 10, 18)),
        ({"rule": "nth_workday_of_next_month", "n": 10}, Period("2023", date(2023, 6, 1),
         date(2023, 12, 31)), date(2024, 1, 15)),
        ({"rule": "last_workday_of_period"}, Period("2023", date(2023, 6, 1),
         date(2023, 12, 31)), date(2023, 12, 29)),
        ({"rule": "fixed", "date": "2023-10-01"}, Period("2023", date(2023, 6, 1),
         date(2023, 12, 31)), date(2023, 10, 7)),
        ({"rule": "nth_workday_after", "n": 1}, Period("2023-09", date(2023, 9, 1),
         date(2023, 9, 30)), date(2023, 10, 7)),
    ],
)
def test_due_dates(rule, period, expected) -> None:
    assert due_date(rule, period, CAL) == expected


def test_periods_of_the_plan_year() -> None:
    monthly = periods("monthly", date(2023, 6, 1), date(2023, 12, 31))
    assert [p.key for p in monthly] == [f"2023-{m:02d}" for m in range(6, 13)]
    quarterly = periods("quarterly", date(2023, 6, 1), date(2023, 12, 31))
    assert [p.key for p in quarterly] == ["2023-Q2", "2023-Q3", "2023-Q4"]
    assert quarterly[0].start == date(2023, 4, 1) and quarterly[-1].end == date(2023, 12, 31)
    milestone = duty_periods("milestone_progress", "quarterly", date(2023, 6, 1),
                             date(2023, 12, 31))
    assert [p.key for p in milestone] == ["2023-Q2", "2023-Q3"]


def test_unknown_rule_is_named() -> None:
    with pytest.raises(ValueError, match="unknown deadline rule 'someday'"):
        due_date({"rule": "someday"}, Period("x", date(2023, 1, 1), date(2023, 1, 31)), CAL)
