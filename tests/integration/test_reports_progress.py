"""Verdicts (pure) and the city figure (duban.plan.progress) built from departments' reports."""

from __future__ import annotations

from datetime import date

import pytest

from duban.plan.progress import Goal, action_progress, elapsed_share, judge, rollup
from tests.support.reports import HOMES, VISITS, file_report, occ_id

HOUSEHOLDS = Goal("at_least", 2200, None, "户", "sum")
RATE = Goal("full_coverage", 100, None, "%", "all_covered")
RANGE = Goal("range", 10, 15, "个", "sum")
MORE = Goal("more_than", 20, None, "场", "sum")
JUNE = elapsed_share(date(2023, 6, 1), date(2023, 12, 31), date(2023, 6, 30))


def test_elapsed_share_counts_days_of_the_plan_year() -> None:
    assert abs(JUNE - 30 / 214) < 1e-12
    assert elapsed_share(date(2023, 6, 1), date(2023, 12, 31), date(2024, 1, 10)) == 1
    assert elapsed_share(date(2023, 6, 1), date(2023, 12, 31), date(2023, 5, 1)) == 0


@pytest.mark.parametrize(("goal", "value", "final", "share", "code"), [
    (HOUSEHOLDS, 2200, False, JUNE, "met"),
    (HOUSEHOLDS, 300, False, JUNE, "on_track"),  # expected ~308.4; 70% of it ~215.9
    (HOUSEHOLDS, 215, False, JUNE, "behind"),
    (HOUSEHOLDS, 216, False, JUNE, "on_track"),
    (HOUSEHOLDS, 2199, True, JUNE, "not_met"),  # a done report is judged as final
    (HOUSEHOLDS, 2000, False, 1.0, "not_met"),  # the year is over
    (RATE, 100, False, JUNE, "met"),
    (RATE, 95, False, JUNE, "on_track"),  # before its deadline a level is progress too
    (RATE, 95, True, JUNE, "not_met"),  # at its deadline it is met or not
    (RANGE, 12, True, 1.0, "met"),
    (RANGE, 16, True, 1.0, "met"),  # above the range still reaches the target
    (RANGE, 9, True, 1.0, "not_met"),
    (MORE, 20, True, 1.0, "not_met"),
    (MORE, 21, True, 1.0, "met"),
])
def test_verdicts(goal: Goal, value: float, final: bool, share: float, code: str) -> None:
    verdict = judge(goal, value, final, share, slow_ratio=0.7)
    assert verdict.code == code
    assert goal.text() in verdict.text


def test_verdict_texts_say_the_figure_target_and_expectation() -> None:
    assert judge(HOUSEHOLDS, 100, False, JUNE, 0.7).text == (
        "进度滞后：100户，目标不少于2200户，按时序进度应完成约308.4户")
    assert judge(RANGE, 16, True, 1.0, 0.7).text == "已达标：16个，目标10—15个（高于目标区间上限）"
    assert judge(RATE, 95, True, 1.0, 0.7).text == "未达标：95%，目标达到100%（全覆盖）"


@pytest.mark.parametrize(("rule", "values", "city"), [
    ("sum", [1, 2, 3], 6), ("average", [10, 14], 12), ("min", [18, 20, 19], 18),
    ("all_covered", [100, 98], 98), ("sum", [], None),
])
def test_rollup_rules(rule: str, values: list[float], city: float | None) -> None:
    assert rollup(rule, values) == city


def _target(ctx, key: str):
    with ctx.db.session() as s:
        return next(t for t in action_progress(s, "taimin-2023-12", 2, date(2023, 7, 5))
                    if t.key == key)


def test_the_city_figure_is_the_latest_uncorrected_value_per_department(loaded_sqlite) -> None:
    ctx = loaded_sqlite
    first = file_report(ctx, occ_id(ctx, HOMES, "taishan-mzj", "2023-06"), "progress", value=100)
    file_report(ctx, occ_id(ctx, HOMES, "daiyue-mzj", "2023-06"), "progress", value=200)
    outcome = file_report(ctx, occ_id(ctx, HOMES, "xintai-mzj", "2023-06"), "progress",
                          value=300)
    assert outcome.verdict_text.startswith("本单位300户。全市") and "3/9" in outcome.verdict_text
    assert _target(ctx, "elderly-home-adaptation").city_value == 600
    file_report(ctx, first.occurrence_id, "progress", value=150, correction_of=first.report_id,
                reason="补录")
    homes = _target(ctx, "elderly-home-adaptation")
    assert homes.city_value == 650 and homes.source == "rollup"
    assert homes.figures["taishan-mzj"].value == 150 and homes.reported == 3
    assert homes.verdict is not None and homes.verdict.code in ("on_track", "behind")


def test_the_owners_year_end_figure_wins_over_the_rollup(loaded_sqlite) -> None:
    ctx = loaded_sqlite
    file_report(ctx, occ_id(ctx, HOMES, "taishan-mzj", "2023-06"), "progress", value=100)
    final = occ_id(ctx, "elderly-home-adaptation/final", "mzj")
    outcome = file_report(ctx, final, "done", value=2300)
    assert outcome.verdict == "met"
    homes = _target(ctx, "elderly-home-adaptation")
    assert (homes.city_value, homes.source, homes.verdict.code) == (2300, "final", "met")


def test_a_minimum_is_not_met_until_every_department_has_reported(loaded_sqlite) -> None:
    ctx = loaded_sqlite
    counties = ["taishan", "daiyue", "xintai", "feicheng", "ningyang", "dongping",
                "gaoxin", "taishanjq", "xuxiang"]
    visits = _target(ctx, "elderly-visit-rate")
    owners = visits.expected_departments
    assert len(owners) == 9 and set(owners) >= {f"{c}-mzj" for c in counties[:6]}
    for code in owners[:2]:
        file_report(ctx, occ_id(ctx, VISITS, code, "2023-06"), "progress", numerator=40,
                    denominator=40)
    partial = _target(ctx, "elderly-visit-rate")
    assert partial.city_value == 100 and partial.verdict.code == "not_met"
    assert "尚未全部报送（2/9）" in partial.verdict.text
    for code in owners[2:]:
        file_report(ctx, occ_id(ctx, VISITS, code, "2023-06"), "progress", numerator=7,
                    denominator=7)
    assert _target(ctx, "elderly-visit-rate").verdict.code == "met"


def test_a_county_with_an_allocated_share_is_judged_against_its_share(loaded_sqlite) -> None:
    from sqlalchemy import select

    from duban.ledger.models import Target
    from duban.plan.allocations import set_allocation
    from tests.support.reports import NOW

    ctx = loaded_sqlite
    with ctx.db.session() as s:
        target = s.scalar(select(Target).where(Target.key == "elderly-home-adaptation"))
        set_allocation(s, target, {"taishan": 300, "daiyue": 1900}, "test", NOW, "office")
    mine = file_report(ctx, occ_id(ctx, HOMES, "taishan-mzj", "2023-06"), "done", value=300)
    assert mine.verdict == "met"
    assert mine.verdict_text == "对照本地分解任务，已达标：300户，目标不少于300户"
    other = file_report(ctx, occ_id(ctx, HOMES, "xintai-mzj", "2023-06"), "progress", value=30)
    assert "全市" in other.verdict_text  # no share of its own: the city total, as before
