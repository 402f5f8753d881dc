"""Holiday data freshness: next year's official calendar arrives each November (State Council).

Until it does, that year's deadlines are rule-based guesses marked provisional; from 1 November
the office is told once a week; once the data is installed (a newer chinesecalendar), every
provisional deadline is recomputed and each change is written to the audit trail.
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


def missing_data_notice(calendar: WorkCalendar, today: date) -> str | None:
    """The office's warning text, or None when next year's data is in (or it is not November)."""
    year = calendar.missing_next_year(today)
    if year is None:
        return None
    return (
        f"{year}年法定节假日和调休安排尚未录入系统（国务院办公厅通知通常于11月发布）。"
        f"{year}年的截止日期暂按规则推算，均标注为“暂定”。官方安排发布后，请升级节假日数据"
        f"（pip install -U chinesecalendar）并重新运行督办，系统将重算暂定截止日期并记入审计日志。"
    )


def board_notice(calendar: WorkCalendar, today: date) -> str | None:
    """The same warning for supervisors on the board: what it means for them, and that the
    office (not they) acts. None when next year's data is in (or it is not November)."""
    year = calendar.missing_next_year(today)
    if year is None:
        return None
    return (
        f"国务院办公厅尚未发布（或系统尚未录入）{year}年法定节假日和调休安排，通常于11月发布。"
        f"在此之前，{year}年的截止日期按常规周末推算，标注为“暂定”，调休公布后可能前后移动几天。"
        "官方安排公布后由督办办公室更新系统，暂定截止日期自动重算并留痕；督查人员无需操作。"
    )


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
