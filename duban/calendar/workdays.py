"""China's statutory working-day calendar (法定工作日), including adjusted working days (调休).

Deadlines in a 督办 plan are counted in working days, and in China a Saturday can be a working day
while a Thursday is not. Official data comes from `chinese_calendar`, which only covers years the
State Council has announced (published each November). For any other year we fall back to the
`holidays` package's rule-based Chinese holidays and mark every such day provisional, so callers
can warn and recompute once the official notice arrives. Framework-free and light at import time:
both libraries are imported lazily.
"""

from __future__ import annotations

import calendar
import functools
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

DayKind = Literal["workday", "weekend", "holiday", "adjusted_workday"]

ONE_DAY = timedelta(days=1)

# chinese_calendar's Holiday enum values -> the names used on Chinese government notices.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

# How far to look for the holiday a rule-based rest day or working weekend belongs to.
_NEAREST_HOLIDAY_DAYS = 10

# Years probed for official data: generous on both sides, the probe is a dict lookup per year.
_PROBE_FIRST_YEAR = 1990
_PROBE_YEARS_AHEAD = 10


@dataclass(frozen=True)
class DayInfo:
    """One calendar day as a deadline computation sees it."""

    date: date
    workday: bool
    kind: DayKind
    name: str | None  # holiday name in Chinese; for adjusted_workday the holiday it makes up for
    provisional: bool  # True when the year has no official data (rule-based guess)


@dataclass(frozen=True)
class _Base:
    """Working status and holiday name of a day before overrides are applied."""

    workday: bool
    name: str | None
    provisional: bool


@functools.cache
def probed_official_years() -> frozenset[int]:
    """Years chinese_calendar has data for; probed once because the library has no public list."""
    import chinese_calendar

    years = set()
    for year in range(_PROBE_FIRST_YEAR, date.today().year + _PROBE_YEARS_AHEAD + 1):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        years.add(year)
    return frozenset(years)


def _zh_name(english: str | None) -> str | None:
    if english is None:
        return None
    return HOLIDAY_NAMES_ZH.get(english, english)


def _official_base(d: date) -> _Base:
    import chinese_calendar

    _, name = chinese_calendar.get_holiday_detail(d)
    return _Base(workday=chinese_calendar.is_workday(d), name=_zh_name(name), provisional=False)


def _clean_rule_name(name: str) -> str | None:
    """'国庆节（补假）' -> '国庆节', '农历除夕' -> '春节'; swapped rest days (休息日) -> None."""
    base = name.split("（")[0].split("(")[0].strip()
    if base == "休息日":
        return None
    return "春节" if base == "农历除夕" else base or None


def _nearest_name(d: date, named: Mapping[date, str]) -> str | None:
    """The holiday whose day is closest to d, to name a swapped rest day or working weekend."""
    near = [(abs((h - d).days), h) for h in named if abs((h - d).days) <= _NEAREST_HOLIDAY_DAYS]
    return named[min(near)[1]] if near else None


@functools.cache
def _rule_based_year(year: int) -> tuple[dict[date, str | None], dict[date, str | None]]:
    """Rule-based (days off -> name, working weekends -> name) for a year without official data."""
    import holidays

    china = holidays.China(years=year, language="zh_CN")
    cleaned = {d: _clean_rule_name(n) for d, n in china.items() if d.year == year}
    named = {d: n for d, n in cleaned.items() if n}
    days_off = {d: n or _nearest_name(d, named) for d, n in cleaned.items()}
    # weekend_workdays also carries dates from other years in every year's object.
    extra = getattr(china, "weekend_workdays", ()) or ()
    working = {d: _nearest_name(d, named) for d in extra if d.year == year}
    return days_off, working


def _rule_based_base(d: date) -> _Base:
    days_off, working = _rule_based_year(d.year)
    if d in working:
        return _Base(workday=True, name=working[d], provisional=True)
    if d in days_off:
        return _Base(workday=False, name=days_off[d], provisional=True)
    return _Base(workday=d.weekday() < 5, name=None, provisional=True)


def _kind(d: date, workday: bool, name: str | None) -> DayKind:
    weekend = d.weekday() >= 5
    if workday:
        return "adjusted_workday" if weekend else "workday"
    # A weekday off is a holiday even when unnamed (e.g. a local override).
    return "holiday" if name or not weekend else "weekend"


class WorkCalendar:
    """Working days in mainland China: official where announced, else rule-based (provisional)."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        official_years: Iterable[int] | None = None,
    ) -> None:
        """overrides: date -> is-workday, applied on top of everything (tests use it to simulate
        next year's official data arriving; an office can use it for a local decision).
        official_years: the years counted as official (default: the years chinese_calendar has
        data for, found by probing, cached). Each must be a year chinese_calendar covers."""
        self._overrides = dict(overrides or {})
        available = probed_official_years()
        years = available if official_years is None else frozenset(official_years)
        unknown = sorted(years - available)
        if unknown:
            raise ValueError(f"chinese_calendar has no data for years {unknown}")
        self._official_years = years
        self._flags: dict[int, list[bool]] = {}  # year -> is-workday per day of year
        self._prefix: dict[int, list[int]] = {}  # year -> working days from 1 Jan to each day

    def official(self, year: int) -> bool:
        """Whether the year's calendar comes from the State Council notice (not a guess)."""
        return year in self._official_years

    def _base(self, d: date) -> _Base:
        return _official_base(d) if self.official(d.year) else _rule_based_base(d)

    def day(self, d: date) -> DayInfo:
        base = self._base(d)
        workday, provisional = base.workday, base.provisional
        if d in self._overrides:
            workday, provisional = bool(self._overrides[d]), False
        name = base.name if (not workday or d.weekday() >= 5) else None
        return DayInfo(d, workday, _kind(d, workday, name), name, provisional)

    def is_workday(self, d: date) -> bool:
        return self._year_flags(d.year)[d.timetuple().tm_yday - 1]

    def _year_flags(self, year: int) -> list[bool]:
        """A year's working days computed once: the chase asks about the same days a million
        times, and chinese_calendar validates every single call against its whole table."""
        flags = self._flags.get(year)
        if flags is None:
            first, length = date(year, 1, 1), 366 if calendar.isleap(year) else 365
            days = [first + timedelta(days=i) for i in range(length)]
            flags = [
                bool(self._overrides[d]) if d in self._overrides else self._base(d).workday
                for d in days
            ]
            self._flags[year] = flags
        return flags

    def _count_through(self, d: date) -> int:
        """Working days from 1 January of d's year up to and including d."""
        prefix = self._prefix.get(d.year)
        if prefix is None:
            prefix = list(itertools.accumulate(self._year_flags(d.year)))
            self._prefix[d.year] = prefix
        return prefix[d.timetuple().tm_yday - 1]

    def is_provisional(self, d: date) -> bool:
        """The date's year has no official data and no override settles the date."""
        return d not in self._overrides and not self.official(d.year)

    def next_workday(self, d: date, *, include_self: bool = False) -> date:
        """A plain loop over is_workday: chinese_calendar.find_workday is a day late in 2023-10."""
        current = d if include_self else d + ONE_DAY
        while not self.is_workday(current):
            current += ONE_DAY
        return current

    def previous_workday(self, d: date, *, include_self: bool = False) -> date:
        current = d if include_self else d - ONE_DAY
        while not self.is_workday(current):
            current -= ONE_DAY
        return current

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after d (n >= 1), or before d (n < 0); n == 0 returns d."""
        step = self.next_workday if n > 0 else self.previous_workday
        for _ in range(abs(n)):
            d = step(d)
        return d

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative (-count of (end, start]) when end < start."""
        if end < start:
            return -self.workdays_between(end, start)
        total = self._count_through(end) - self._count_through(start)
        for year in range(start.year, end.year):
            total += self._count_through(date(year, 12, 31))
        return total

    def workdays_late(self, due: date, today: date) -> int:
        """How many working days past its deadline an item is on `today` (0 when not late):
        the one definition of "逾期 N 个工作日"."""
        return max(self.workdays_between(due, today), 0) if today > due else 0

    def month(self, year: int, month: int) -> list[DayInfo]:
        length = calendar.monthrange(year, month)[1]
        return [self.day(date(year, month, day)) for day in range(1, length + 1)]

    def nth_workday_of_month(self, year: int, month: int, n: int) -> date:
        """The n-th (n >= 1) working day of the month, for 'by the 5th working day' rules."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        workdays = self._month_workdays(year, month)
        if n > len(workdays):
            raise ValueError(
                f"{year}-{month:02d} has only {len(workdays)} working days, no working day #{n}"
            )
        return workdays[n - 1]

    def last_workday_of_month(self, year: int, month: int) -> date:
        return self._month_workdays(year, month)[-1]

    def _month_workdays(self, year: int, month: int) -> list[date]:
        """The month's working days from the year's cached flags (the same answer as month(),
        without building a DayInfo per day: the chase asks for every duty every day)."""
        length = calendar.monthrange(year, month)[1]
        days = (date(year, month, day) for day in range(1, length + 1))
        return [d for d in days if self.is_workday(d)]

    def missing_next_year(self, today: date) -> int | None:
        """From 1 November on (the notice is due): next year if it still lacks official data."""
        if today.month < 11:
            return None
        next_year = today.year + 1
        return None if self.official(next_year) else next_year
