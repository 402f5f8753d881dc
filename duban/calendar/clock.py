"""Time is an input: every use case takes an aware `now`; these helpers make and show one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Shanghai"  # China's one civil time zone: defined here, imported everywhere
SHANGHAI = ZoneInfo(TIMEZONE)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_as_of(text: str | None) -> datetime:
    """Parse a CLI --as-of value. A bare date means the end of that day in Asia/Shanghai
    (so everything due that day counts as due, not overdue); a naive datetime is Shanghai time.
    pendulum reads every ISO 8601 form (`2023-10-16 09:00`, `20231016T0900`, `...Z`), strictly."""
    if not text:
        return utcnow()
    import pendulum  # only the CLI and the flows' parameters parse; keep it off the import path

    try:
        parsed = pendulum.parse(text, tz=TIMEZONE, strict=True, exact=True)
    except (ValueError, pendulum.parsing.ParserError):
        parsed = None
    if isinstance(parsed, pendulum.DateTime):
        moment = parsed.in_timezone("UTC")
        return datetime(*moment.timetuple()[:6], moment.microsecond, tzinfo=UTC)
    if isinstance(parsed, pendulum.Date):
        return end_of_local_day(date(parsed.year, parsed.month, parsed.day))
    raise ValueError(
        f"--as-of {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00]"
    )


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
