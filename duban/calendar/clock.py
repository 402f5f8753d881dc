"""Time is an input: every use case takes an aware `now`; these helpers make and show one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_as_of(text: str | None) -> datetime:
    """Parse a CLI --as-of value. A bare date means the end of that day in Asia/Shanghai
    (so everything due that day counts as due, not overdue); a naive datetime is Shanghai time."""
    if not text:
        return utcnow()
    try:
        if len(text) == 10:
            return end_of_local_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--as-of {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00]"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(UTC)


def local_day(instant: datetime) -> date:
    """The date in China of an instant (naive instants are UTC, as stored)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(SHANGHAI).date()


def shanghai(instant: datetime | None) -> str:
    """Show an instant as Shanghai wall time, e.g. 2023-10-07 09:00."""
    if instant is None:
        return ""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def at_local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """The UTC instant of a Shanghai wall-clock time on `day` (e.g. a reminder's send time)."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def end_of_local_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI).astimezone(UTC)
