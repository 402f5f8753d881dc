"""The supervisors' weekly brief: the board in a few lines, through the normal dispatch path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.chase.ladder import SUPERVISOR, Owed, record_owed
from duban.chase.occurrences import STATE_ZH, STATES
from duban.ledger.models import Reminder
from duban.supervise.board import Board, colour_text, risk_text, standing_text

WORST = 5


def brief(board: Board) -> str:
    """Counts by state, the worst departments, the targets at risk (plain Chinese text)."""
    states = board.states()
    colours = board.colours()
    lines = [
        f"督办周报（截至{board.as_of.isoformat()}）",
        "总体：" + "，".join(f"{STATE_ZH[s]}{states[s]}项" for s in STATES)
        + f"；{colour_text(colours)}；{standing_text(board.targets_of())}。",
        "",
        "逾期最多的单位：",
    ]
    worst = [d for d in board.departments() if d.overdue][:WORST]
    lines += [f"  {n}. {d.name}：逾期{d.overdue}项" for n, d in enumerate(worst, 1)] or ["  无"]
    lines += ["", "可能无法按期完成的指标："]
    risky = board.at_risk()
    lines += [f"  - 行动{no} {t.title}（{t.goal}）：{risk_text(t)}" for no, t in risky] or ["  无"]
    return "\n".join(lines)


def note_weekly_brief(
    session: Session, today: date, now: datetime, make_board: Callable[[], Board]
) -> int:
    """Record this ISO week's brief for the supervisors on the week's first dispatch (a working
    day); the board is built only when the week has no brief yet. 1 if recorded."""
    year, week, _ = today.isocalendar()
    key = f"weekly:{year}-W{week:02d}"
    if session.scalar(select(Reminder.id).where(Reminder.dedup_key == key)) is not None:
        return 0
    owed = Owed(key, None, SUPERVISOR, "notice", brief(make_board()))
    return record_owed(session, [owed], today, now)
