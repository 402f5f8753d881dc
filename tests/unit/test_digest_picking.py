"""Assembly keeps each recipient's most urgent items and counts while streaming its rows
(duban.chase.dispatch._Picked): the same items, order and counts as ranking every row at once."""

from __future__ import annotations

import random
from datetime import date, timedelta

from duban.calendar.workdays import WorkCalendar
from duban.chase.dispatch import MAX_ITEMS, _Lateness, _Picked

TODAY = date(2023, 10, 16)


def row(reminder_id: int, occurrence: int | None, due: date, action: int, note: str = "") -> tuple:
    return (reminder_id, "d01", "urge", note, occurrence, due, "2023", False, "职责", "材料",
            1, "d01", "单位", action, "行动", "open")


def reference(rows: list[tuple], calendar: WorkCalendar) -> tuple[list[int], int, int, list]:
    """Every row at once, as assembly ranked them before it streamed."""
    first: dict[int, tuple] = {}
    for r in sorted(rows, key=lambda r: r[0]):
        if r[4] is not None:
            first.setdefault(r[4], r)
    late = {o: calendar.workdays_late(r[5], TODAY) for o, r in first.items()}
    ranked = sorted(first.values(), key=lambda r: (-late[r[4]], r[5], r[13], r[4]))
    notices = list(dict.fromkeys(r[3] for r in sorted(rows, key=lambda r: r[0])
                                 if r[4] is None))
    return ([r[0] for r in ranked[:MAX_ITEMS]], len(ranked),
            sum(1 for o in first if late[o] > 0), notices)


def test_streamed_picking_matches_ranking_every_row():
    calendar = WorkCalendar()
    rng = random.Random(7)
    for size in (0, 5, 40, 3000):
        rows = []
        for n in range(size):
            occurrence = rng.randrange(max(size // 2, 1))
            due = TODAY + timedelta(days=rng.randrange(-40, 20))
            rows.append(row(n, occurrence, due, rng.randrange(1, 4)))
        rows += [row(size + 1, None, TODAY, 0, "提示一"), row(size + 2, None, TODAY, 0, "提示一")]
        picked = _Picked(_Lateness(TODAY, calendar))
        for r in sorted(rows, key=lambda r: (r[4] is not None, r[4] or 0, r[0])):
            picked.add(r)
        picked._trim()
        listed, total, late, notices = reference(rows, calendar)
        assert [r[0] for _, r, _ in picked.items] == listed
        assert (picked.total, picked.late, list(picked.notices)) == (total, late, notices)
