"""Roll-ups that respect what is measured and verdicts by each target's own deadline (issue 17.3
and 17.4), on the real plan: rates and averages reported as numerator and denominator and rolled
up as sum over sum; a monthly target's city figure is that month's reports only; a county-only
target (县（市、区）) owes nothing to the functional zones; the city bureau's own part of a 各级
target counts; before a year-end deadline a figure below the target is progress, counted from
the plan year's start; at the deadline it is met or not."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from duban.chase.occurrences import materialise
from duban.ledger.models import Department, Duty, Jurisdiction, Plan, Report, Target
from duban.plan.progress import Goal, judge, target_progress
from duban.reports.errors import ReportInputError
from duban.service import Context
from tests.support.reports import VISITS, counts, file_report, occ_id

PLAN = "taimin-2023-12"
SCHOOLS = "urban-parent-schools/progress"  # 城市社区建校（站点）率达到80%, year end, 妇联
ORGS = "urban-community-social-orgs/progress"  # 城市社区平均拥有不少于12个, within the year
TRAINING = "elderly-carer-training/progress"  # 各级民政部门 1500 人次
HOMES = "elderly-home-adaptation/progress"


def standing(ctx: Context, key: str, today: date):
    with ctx.db.read() as s:
        target = s.scalar(select(Target).where(Target.key == key))
        return target_progress(s, target, today, ctx.config.ladder.slow_progress_ratio)


def test_a_rate_is_the_sum_of_numerators_over_the_sum_of_denominators(loaded: Context) -> None:
    # a big county at 90% and a small one at 100%: 190/210, not the mean of 90 and 100
    file_report(loaded, occ_id(loaded, SCHOOLS, "taishan-fl", "2023-06"), "progress",
                numerator=180, denominator=200)
    outcome = file_report(loaded, occ_id(loaded, SCHOOLS, "daiyue-fl", "2023-06"), "progress",
                          numerator="10", denominator="10")
    assert outcome.value == 100 and (outcome.numerator, outcome.denominator) == (10, 10)
    assert ("已建家长学校（站点）的城市社区数（个）10，城市社区总数（个）10，计100%"
            in outcome.message)
    # two of nine counties at 190/210 are not yet the city's rate
    assert "全市进度正常：尚未全部报送（2/9）" in outcome.verdict_text
    schools = standing(loaded, "urban-parent-schools", date(2023, 7, 5))
    assert schools.city_value == pytest.approx(190 / 210 * 100)
    assert schools.figures["taishan-fl"].numerator == 180
    with loaded.db.read() as s:
        stored = s.execute(select(Report.value, Report.numerator, Report.denominator)
                           .order_by(Report.id)).all()
    assert [tuple(r) for r in stored] == [(90, 180, 200), (100, 10, 10)]


def test_an_average_is_weighted_by_its_denominator(loaded_sqlite: Context) -> None:
    ctx = loaded_sqlite  # 300 organisations in 20 communities and 10 in 10: 310/30, not (15+1)/2
    file_report(ctx, occ_id(ctx, ORGS, "taishan-mzj", "2023-06"), "progress", numerator=300,
                denominator=20)
    file_report(ctx, occ_id(ctx, ORGS, "daiyue-mzj", "2023-06"), "progress", numerator=10,
                denominator=10)
    orgs = standing(ctx, "urban-community-social-orgs", date(2023, 7, 5))
    assert orgs.city_value == pytest.approx(310 / 30)
    assert orgs.verdict.code == "on_track"  # within the year: progress, not 未达标


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"numerator": 5, "denominator": 0}, "denominator", "应大于0"),
    ({"numerator": 11, "denominator": 10}, "numerator", "不能超过"),
    ({"numerator": 5}, "denominator", "请分别填写"),
    ({"value": 90}, "numerator", "请分别填写"),
    ({"numerator": -1, "denominator": 10}, "numerator", "不能为负数"),
    ({"numerator": "abc", "denominator": 10}, "numerator", "不是数字"),
    ({"numerator": 9, "denominator": 10, "value": 50}, "value", "不一致"),
])
def test_bad_parts_are_refused_and_nothing_is_recorded(loaded_sqlite, fields, field, words):
    ctx = loaded_sqlite
    occ = occ_id(ctx, SCHOOLS, "taishan-fl", "2023-06")
    before = counts(ctx)
    with pytest.raises(ReportInputError) as refused:
        file_report(ctx, occ, "progress", **fields)
    assert refused.value.field == field and words in refused.value.zh
    assert counts(ctx) == before


def test_parts_on_a_count_are_refused(loaded_sqlite: Context) -> None:
    occ = occ_id(loaded_sqlite, HOMES, "taishan-mzj", "2023-06")
    with pytest.raises(ReportInputError) as refused:
        file_report(loaded_sqlite, occ, "progress", numerator=1, denominator=2)
    assert refused.value.field == "numerator"


def test_an_older_single_value_report_still_counts(loaded_sqlite: Context) -> None:
    ctx = loaded_sqlite  # a report from before parts were asked for: value only
    occ = occ_id(ctx, SCHOOLS, "taishan-fl", "2023-06")
    with ctx.db.session() as s:
        department = s.scalar(select(Department.id).where(Department.code == "taishan-fl"))
        s.add(Report(occurrence_id=occ, department_id=department, kind="progress", value=60.0,
                     unit="%", entered_by="department:taishan-fl", idempotency_key="old-1",
                     created_at=datetime(2023, 7, 3, tzinfo=UTC)))
    schools = standing(ctx, "urban-parent-schools", date(2023, 7, 5))
    assert schools.city_value == 60 and schools.figures["taishan-fl"].numerator is None


def test_a_monthly_target_is_judged_on_one_months_reports(loaded_sqlite: Context) -> None:
    ctx = loaded_sqlite
    now = datetime(2023, 8, 4, 2, tzinfo=UTC)
    with ctx.db.session() as s:  # July's items exist once July has begun
        materialise(s, s.scalar(select(Plan).where(Plan.key == PLAN)), date(2023, 8, 4),
                    ctx.calendar, now, [2])
    file_report(ctx, occ_id(ctx, VISITS, "taishan-mzj", "2023-06"), "progress", numerator=100,
                denominator=100, now=now)
    july = file_report(ctx, occ_id(ctx, VISITS, "daiyue-mzj", "2023-07"), "progress",
                       numerator=50, denominator=100, now=now)
    visits = standing(ctx, "elderly-visit-rate", date(2023, 8, 4))
    assert visits.period == "2023-07" and list(visits.figures) == ["daiyue-mzj"]
    assert visits.city_value == 50  # June's 100% is not July's figure
    assert visits.verdict.code == "not_met" and visits.verdict.text.startswith("2023年7月")
    assert "全市2023年7月" in july.verdict_text
    with ctx.db.read() as s:  # the June page still speaks of June
        target = s.scalar(select(Target).where(Target.key == "elderly-visit-rate"))
        june = target_progress(s, target, date(2023, 8, 4), 0.7, "2023-06")
    assert june.city_value == 100 and list(june.figures) == ["taishan-mzj"]


def test_a_county_only_target_owes_nothing_to_the_zones(loaded_sqlite: Context) -> None:
    with loaded_sqlite.db.read() as s:
        owners = s.scalar(select(Duty.owner_codes)
                          .where(Duty.key == "three-lists-coverage/progress"))
        kinds = dict(s.execute(select(Department.code, Jurisdiction.kind)
                               .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
                               ).tuples().all())
        visits = s.scalar(select(Duty.owner_codes).where(Duty.key == VISITS))
    assert owners and {kinds[c] for c in owners} == {"county"}
    assert "zone" in {kinds[c] for c in visits}  # a target for all still has the zones


def test_the_city_bureaus_own_training_counts_in_the_all_levels_target(loaded_sqlite) -> None:
    ctx = loaded_sqlite
    with ctx.db.read() as s:
        owners = s.scalar(select(Duty.owner_codes).where(Duty.key == TRAINING))
    assert "mzj" in owners and "taishan-mzj" in owners
    file_report(ctx, occ_id(ctx, TRAINING, "mzj", "2023-06"), "progress", value=200)
    file_report(ctx, occ_id(ctx, TRAINING, "taishan-mzj", "2023-06"), "progress", value=100)
    assert standing(ctx, "elderly-carer-training", date(2023, 7, 5)).city_value == 300


def test_before_the_deadline_progress_at_the_deadline_met_or_not(loaded: Context) -> None:
    ctx = loaded  # 40% in June against 80% by the year's end
    file_report(ctx, occ_id(ctx, SCHOOLS, "taishan-fl", "2023-06"), "progress", numerator=40,
                denominator=100)
    june = standing(ctx, "urban-parent-schools", date(2023, 7, 5)).verdict
    assert june.code == "on_track" and "未达标" not in june.text
    # expected from the plan year's start (1 January), not from the plan's issue (1 June)
    assert june.expected == pytest.approx(80 * 186 / 365)
    after = standing(ctx, "urban-parent-schools", date(2024, 1, 15)).verdict
    assert after.code == "not_met"


def test_a_count_is_expected_from_the_plan_years_start(loaded_sqlite: Context) -> None:
    file_report(loaded_sqlite, occ_id(loaded_sqlite, HOMES, "taishan-mzj", "2023-06"),
                "progress", value=500)
    homes = standing(loaded_sqlite, "elderly-home-adaptation", date(2023, 7, 5))
    assert homes.verdict.expected == pytest.approx(2200 * 186 / 365)
    assert homes.verdict.code == "behind"  # 500 < 0.7 x 1121


def test_a_configured_baseline_moves_the_expectation() -> None:
    goal = Goal("at_least", 2200, None, "户", "sum", base=1000)
    verdict = judge(goal, 1500, False, 0.5, 0.7)  # expected 1000 + 1200 x 0.5 = 1600
    assert verdict.expected == 1600 and verdict.code == "on_track"
    assert judge(goal, 1400, False, 0.5, 0.7).code == "behind"  # 400 of 600 made: below 70%


def test_nothing_is_reported_in_parts_where_the_document_states_a_count(loaded_sqlite) -> None:
    with loaded_sqlite.db.read() as s:
        parts = dict(s.execute(select(Target.key, Target.numerator_label)).tuples().all())
        summed = s.scalar(select(func.count()).select_from(Target).where(
            Target.rollup == "sum", Target.numerator_label.is_not(None)))
    assert summed == 0
    assert {k for k, v in parts.items() if v} >= {
        "elderly-visit-rate", "urban-parent-schools", "village-parent-schools",
        "urban-community-social-orgs", "rural-community-social-orgs",
        "recommended-standard-institutions"}


# -- the doors: the report page, `duban confirm`, the board and the Excel ledger ----------------


def test_the_page_asks_for_the_two_parts_and_records_them(loaded_sqlite: Context) -> None:
    from tests.support.site import open_site

    occ = occ_id(loaded_sqlite, SCHOOLS, "taishan-fl", "2023-06")
    with contextmanager(open_site)(loaded_sqlite) as site:
        link = site.link(occ)
        page = site.client.get(f"/r/{link}")
        for words in ('name="numerator"', 'name="denominator"', "城市社区总数（个）",
                      "已建家长学校（站点）的城市社区数（个）", "分子之和 ÷ 分母之和"):
            assert words in page.text, words
        assert 'name="value"' not in page.text
        refused = site.report(link, kind="progress", numerator="12", denominator="10")
        assert "分子：已建家长学校（站点）的城市社区数（个）（12）不能超过" in refused.text
        done = site.report(link, kind="progress", numerator="45", denominator="60")
        assert "报送成功" in done.text
        assert "75%（已建家长学校（站点）的城市社区数（个）45，" in done.text
        assert "75%（45/60）" in site.client.get(f"/r/{link}").text
    with loaded_sqlite.db.read() as s:
        assert s.execute(select(Report.value, Report.numerator, Report.denominator)).one() == (
            75, 45, 60)


def test_duban_confirm_takes_the_two_parts(loaded_sqlite: Context, monkeypatch) -> None:
    from tests.support.cli import point_cli_at, run

    point_cli_at(loaded_sqlite, monkeypatch)
    issued = run("token", "issue", "taishan-fl", "--purpose", "cli", "--by", "李四")
    token = issued.stdout.strip().splitlines()[-1]
    occ = str(occ_id(loaded_sqlite, SCHOOLS, "taishan-fl", "2023-06"))
    bad = run("confirm", occ, "--progress", "--numerator", "5", "--denominator", "0",
              "--token", token)
    assert bad.exit_code != 0 and "城市社区总数（个）应大于0" in bad.output
    good = run("confirm", occ, "--progress", "--numerator", "30", "--denominator", "40",
               "--token", token, "--json")
    assert good.exit_code == 0, good.output
    answer = json.loads(good.stdout)
    assert (answer["value"], answer["numerator"], answer["denominator"]) == (75, 30, 40)
    listed = run("reports", occ)
    assert "75%（30/40）" in listed.output


def test_the_board_and_the_excel_ledger_show_the_rate_and_the_month(loaded_sqlite) -> None:
    from openpyxl import load_workbook

    from duban.supervise import markdown as present
    from duban.supervise.board import build_board
    from duban.supervise.export import write_xlsx

    ctx = loaded_sqlite
    file_report(ctx, occ_id(ctx, VISITS, "taishan-mzj", "2023-06"), "progress", numerator=90,
                denominator=100)
    file_report(ctx, occ_id(ctx, VISITS, "daiyue-mzj", "2023-06"), "progress", numerator=10,
                denominator=10)
    with ctx.db.read() as s:
        board = build_board(s, date(2023, 7, 5), ctx.calendar, 0.7)
        text = present.board_markdown(board)
    (visits,) = [t for t in board.targets_of() if t.key == "elderly-visit-rate"]
    assert visits.city_value == pytest.approx(100 / 110 * 100)
    line = next(x for x in text.splitlines() if "特殊困难老年人月探访率" in x and "2023年6月" in x)
    assert "90.9091%" in line, line
    book = write_xlsx(board, ctx.settings.home / "ledger.xlsx")
    cells = [str(c.value) for sheet in load_workbook(book) for row in sheet.iter_rows()
             for c in row if c.value is not None]
    assert any("90.9091" in c for c in cells) and any("2023年6月" in c for c in cells)
