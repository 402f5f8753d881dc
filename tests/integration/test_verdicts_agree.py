"""One verdict everywhere: what the report page answers a department and what the board shows
supervisors for the same target on the same day come from one function (target_progress)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from duban.calendar.clock import local_day
from duban.chase.occurrences import materialise
from duban.ledger.models import Plan, Target
from duban.plan.progress import VERDICT_ZH, target_progress
from duban.service import Context
from duban.supervise import markdown as present
from duban.supervise.board import build_board
from tests.support.ledger import PLAN
from tests.support.reports import VISITS, VISITS_FINAL, file_report, occ_id

CANTEENS = "elderly-canteens/progress"  # 不少于300家, summed over the nine county bureaux


def board_verdict(ctx: Context, now: datetime, title: str) -> tuple[str, str]:
    with ctx.db.read() as s:
        board = build_board(s, local_day(now), ctx.calendar, ctx.config.ladder.slow_progress_ratio)
    (target,) = [t for t in board.targets_of() if t.title == title]
    row = next(line for line in present.board_markdown(board).splitlines()
               if line.startswith("| ") and f". {title} |" in line)
    return target.verdict.code, row


@pytest.mark.parametrize("now", [
    datetime(2023, 7, 5, 2, tzinfo=UTC),  # mid-year: a time-proportional expectation
    datetime(2026, 11, 30, 2, tzinfo=UTC),  # after the plan's end (the case reported: 42/300)
], ids=["mid-year", "after-the-plan"])
def test_the_page_and_the_board_give_the_same_verdict(loaded, now) -> None:
    occ = occ_id(loaded, CANTEENS, "taishan-mzj", "2023-06")
    outcome = file_report(loaded, occ, "progress", value="42", now=now)
    code, row = board_verdict(loaded, now, "城乡社区助老食堂")
    assert outcome.verdict == code, (outcome.verdict_text, row)
    assert f"| {VERDICT_ZH[code]} |" in row
    assert outcome.verdict_text.startswith("本单位42家。全市" + VERDICT_ZH[code])
    assert "（1/9个单位已报送）" in outcome.verdict_text


def test_after_the_plan_a_partial_figure_is_not_called_on_track(loaded) -> None:
    now = datetime(2026, 11, 30, 2, tzinfo=UTC)
    occ = occ_id(loaded, CANTEENS, "taishan-mzj", "2023-06")
    outcome = file_report(loaded, occ, "progress", value="42", now=now)
    assert outcome.verdict == "not_met" and "进度正常" not in outcome.verdict_text


def test_a_monthly_target_at_its_year_end_check_gets_one_verdict(loaded) -> None:
    # 月探访率 (monthly, 100%): December's figure is 90% from the one county that reported, the
    # owner's year-end check says 100% for the whole city
    now = datetime(2024, 1, 8, 2, tzinfo=UTC)
    with loaded.db.session() as s:  # December's items exist once December has begun
        plan = s.scalar(select(Plan).where(Plan.key == PLAN))
        materialise(s, plan, local_day(now), loaded.calendar, now, [2])
    december = file_report(loaded, occ_id(loaded, VISITS, "taishan-mzj", "2023-12"), "progress",
                           numerator=90, denominator=100, now=now)
    assert december.verdict == "not_met" and "2023年12月" in december.verdict_text
    outcome = file_report(loaded, occ_id(loaded, VISITS_FINAL, "mzj"), "done", value="100",
                          now=now)
    code, row = board_verdict(loaded, now, "特殊困难老年人月探访率")
    assert outcome.verdict == code == "met", (outcome.verdict_text, row)
    assert f"| {VERDICT_ZH[code]} |" in row and "2023年12月" not in outcome.verdict_text
    with loaded.db.read() as s:  # the December page still speaks of December alone
        target = s.scalar(select(Target).where(Target.key == "elderly-visit-rate"))
        month = target_progress(s, target, local_day(now), 0.7, "2023-12")
    assert month.verdict.code == "not_met" and month.period == "2023-12"
