"""Holiday-data freshness: provisional deadlines, the office's notice, recompute on arrival."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.calendar.workdays import WorkCalendar
from duban.chase.holiday_notice import (
    board_notice,
    missing_data_notice,
    recompute_provisional,
)
from duban.ledger.models import AuditEntry, Occurrence, OutboxMessage, Plan
from duban.plan.drafting import draft
from duban.service import dispatch, setup
from notifications import notifier_for
from tests.support.paths import REPO


def _config_with_2027(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    text = draft(config / "plans" / "2023.yaml", 2027, date(2026, 11, 29))
    # the office reviews the draft: fills in what `plan new` leaves 待填写 and activates it
    text = (text.replace("doc_no: 待填写", "doc_no: 测〔2027〕1号")
            .replace("issued: 待填写", "issued: 2027-01-05").replace("  draft: true\n", ""))
    assert "待填写" not in text.split("plan:", 1)[1].split("actions:")[0]
    (config / "plans" / "2027.yaml").write_text(text, encoding="utf-8")
    return config


def test_deadlines_in_a_year_without_data_are_provisional(make_context, sqlite_url, tmp_path):
    ctx = make_context(sqlite_url, config_dir=_config_with_2027(tmp_path))
    setup(ctx, at_local(date(2027, 8, 2)))
    with ctx.db.session() as s:
        plan = s.scalar(select(Plan).where(Plan.year == 2027))
        assert plan is not None and plan.key == "taimin-2027-12"
        occurrences = s.scalars(select(Occurrence).where(Occurrence.period.like("2027%"))).all()
    assert occurrences and all(o.provisional for o in occurrences)


def test_office_is_told_from_november_once_a_week(make_context, sqlite_url) -> None:
    calendar = WorkCalendar()
    assert missing_data_notice(calendar, date(2026, 10, 30)) is None
    text = missing_data_notice(calendar, date(2026, 11, 2))
    assert "2027年法定节假日" in text
    # duban is installed by ./run from lock files: the advice is the real way to update
    assert "pip" not in text and "pyproject.toml" in text
    assert text.index("./run lock") < text.index("./run up")
    board = board_notice(calendar, date(2026, 11, 2))  # the supervisors' version: same facts
    shared = text[:text.index("官方安排公布后")]
    assert board.startswith(shared) and "2027年的截止日期" in shared and "暂定" in shared
    ctx = make_context(sqlite_url)
    setup(ctx, at_local(date(2026, 11, 2)))
    for day in (date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 9)):
        dispatch(ctx, at_local(day, 9), notifier_for(ctx, at_local(day, 9)))
    with ctx.db.session() as s:
        notices = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "office",
                                                        OutboxMessage.body.contains("2027年"))).all()
    assert len(notices) == 2  # the week of 11-02 and the week of 11-09


def test_provisional_deadline_moves_once_official_data_arrives(make_context, sqlite_url,
                                                               tmp_path) -> None:
    ctx = make_context(sqlite_url, config_dir=_config_with_2027(tmp_path))
    setup(ctx, at_local(date(2027, 9, 1)))
    with ctx.db.session() as s:
        occ = s.scalar(select(Occurrence).where(Occurrence.period == "2027-09").limit(1))
        guessed = occ.due_on
    # The "official" 2027 notice, simulated by overrides for every day of 2027: as guessed,
    # except that 1-15 October are declared days off.
    guess = WorkCalendar()
    year = [date(2027, 1, 1) + timedelta(days=n) for n in range(365)]
    notice = {d: guess.is_workday(d) and not (d.month == 10 and d.day <= 15) for d in year}
    official = WorkCalendar(overrides=notice)
    with ctx.db.session() as s:
        changed = recompute_provisional(s, official, at_local(date(2027, 9, 2)))
    assert changed > 0
    with ctx.db.session() as s:
        occ = s.get(Occurrence, occ.id)
        assert occ.due_on != guessed and occ.due_on > date(2027, 10, 15)
        assert not occ.provisional
        entry = s.scalar(select(AuditEntry).where(AuditEntry.verb == "deadline_recomputed",
                                                  AuditEntry.entity_key == str(occ.id)))
        assert entry.detail["old"] == guessed.isoformat()
        assert entry.detail["new"] == occ.due_on.isoformat()
