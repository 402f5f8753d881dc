"""Holiday data freshness: next year's official calendar arrives each November (State Council).

Until it does, that year's deadlines are rule-based guesses marked provisional; from 1 November
the office is told once a week; once the data is installed (a newer chinesecalendar pinned in
pyproject.toml, `./run lock`, `./run up`), every provisional deadline is recomputed and each
change is written to the audit trail.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.ladder import OFFICE, Owed, record_owed
from duban.ledger.database import record_audit
from duban.ledger.models import Duty, Occurrence
from duban.plan.duties import Period, due_date


def _what_it_means(year: int) -> str:
    """The warning's first part, the same for the office and for supervisors."""
    return (
        f"国务院办公厅尚未发布（或系统尚未录入）{year}年法定节假日和调休安排，通常于11月发布。"
        f"在此之前，{year}年的截止日期按常规周末推算，标注为“暂定”，调休公布后可能前后移动几天。"
    )


# How the data really gets updated: duban is installed by ./run from requirements/*.lock, so a
# pip upgrade inside .venv would be undone by the next ./run (and is not what an office can do).
OFFICE_UPDATE = (
    "官方安排公布后，请系统管理员更新节假日数据：在 pyproject.toml 中把 chinesecalendar 的版本要求"
    "提高到已收录该年安排的版本，执行 ./run lock 更新锁定文件，再执行 ./run up 重新启动；"
    "暂定截止日期随即自动重算并记入审计日志。在此之前督办照常进行，按暂定截止日期提醒。"
)
SUPERVISOR_UPDATE = ("官方安排公布后由督办办公室更新系统，暂定截止日期自动重算并留痕；"
                     "督查人员无需操作。")


def missing_data_notice(calendar: WorkCalendar, today: date) -> str | None:
    """The office's warning text, or None when next year's data is in (or it is not November)."""
    year = calendar.missing_next_year(today)
    return None if year is None else _what_it_means(year) + OFFICE_UPDATE


def board_notice(calendar: WorkCalendar, today: date) -> str | None:
    """The same warning for supervisors on the board: what it means for them, and that the
    office (not they) acts. None when next year's data is in (or it is not November)."""
    year = calendar.missing_next_year(today)
    return None if year is None else _what_it_means(year) + SUPERVISOR_UPDATE


def note_missing_data(session: Session, calendar: WorkCalendar, today: date, now: datetime) -> int:
    """Record this week's notice to the office (once per ISO week); returns 1 if recorded."""
    text = missing_data_notice(calendar, today)
    if text is None or not calendar.is_workday(today):
        return 0
    year, week, _ = today.isocalendar()
    key = f"calendar:{calendar.missing_next_year(today)}:{year}-W{week:02d}"
    return record_owed(session, [Owed(key, None, OFFICE, "notice", text)], today, now)


def recompute_provisional(
    session: Session, calendar: WorkCalendar, now: datetime, actor: str = "system"
) -> int:
    """Recompute every provisional deadline; returns how many changed. An extended deadline
    keeps its extension (due_on) and only its plan deadline (original_due_on) moves."""
    rows = session.execute(
        select(Occurrence, Duty).join(Duty, Occurrence.duty_id == Duty.id)
        .where(Occurrence.provisional.is_(True))
    ).tuples().all()
    changed = 0
    for occ, duty in rows:
        period = Period(occ.period, occ.period_start, occ.period_end)
        new_due = due_date(duty.due_rule, period, calendar)
        provisional = calendar.is_provisional(new_due) or calendar.is_provisional(occ.period_end)
        if new_due == occ.original_due_on and provisional:
            continue
        old = occ.original_due_on
        if occ.due_on == occ.original_due_on:
            occ.due_on = new_due
        occ.original_due_on, occ.provisional = new_due, provisional
        changed += 1
        record_audit(session, actor, "deadline_recomputed", "occurrence", str(occ.id), now,
                     old=old.isoformat(), new=new_due.isoformat(), provisional=provisional)
    return changed
