"""ladder_from: an item already overdue when a plan starts late is not urged or escalated before
that day, and its working days late count from it; items due later follow the usual ladder."""

from __future__ import annotations

from datetime import date

from duban.calendar.workdays import WorkCalendar
from duban.chase.ladder import OpenItem, ladder_steps
from duban.plan.config import LadderSpec

CAL = WorkCalendar()
LADDER = LadderSpec()
OLD = OpenItem(1, "mzj", "zzb", date(2023, 7, 7))  # long overdue by November
FROM = date(2023, 11, 1)  # a Wednesday


def levels(item: OpenItem, day: date, counts_from: date | None = FROM) -> set[str]:
    return {o.level for o in ladder_steps(item, day, LADDER, CAL, counts_from)}


def test_without_ladder_from_an_old_item_is_escalated_and_repeated() -> None:
    assert levels(OLD, date(2023, 10, 23), None) == {"escalate", "repeat"}


def test_before_and_on_ladder_from_nothing_is_owed_for_an_old_item() -> None:
    assert levels(OLD, date(2023, 10, 23)) == set()
    assert levels(OLD, FROM) == set()


def test_after_ladder_from_the_ladder_counts_from_it() -> None:
    assert levels(OLD, date(2023, 11, 2)) == {"urge"}  # one working day
    assert levels(OLD, date(2023, 11, 3)) == {"urge"}
    assert levels(OLD, date(2023, 11, 6)) == {"escalate", "urge"}  # three working days later
    assert levels(OLD, date(2023, 11, 10)) == {"escalate", "repeat"}


def test_items_due_after_ladder_from_follow_the_usual_ladder() -> None:
    new = OpenItem(2, "mzj", "zzb", date(2023, 11, 8))
    assert levels(new, date(2023, 11, 3)) == {"advance"}
    assert levels(new, date(2023, 11, 8)) == {"due"}
    assert levels(new, date(2023, 11, 9)) == levels(new, date(2023, 11, 9), None) == {"urge"}


def test_the_dedup_keys_do_not_depend_on_ladder_from() -> None:
    """Changing ladder_from later never re-sends a level already recorded for that deadline."""
    keys = {o.dedup_key for o in ladder_steps(OLD, date(2023, 11, 2), LADDER, CAL, FROM)}
    assert keys == {"1@2023-07-07:urge:mzj", "1@2023-07-07:urge:zzb"}
