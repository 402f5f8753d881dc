"""Plans live side by side: draft -> active -> closed; a closed plan is not chased but stays
reportable; two active plans still give each recipient one digest a day; a plan started late
sends each department one start notice instead of escalating every old item."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli import app
from duban.calendar.clock import at_local, local_day, utcnow
from duban.chase.digest import plan_heading, signature
from duban.ledger.models import Digest, Duty, Occurrence, Plan, Reminder
from duban.plan.lifecycle import active_plans, find_plan, move
from duban.service import chase, dispatch, materialise_all, remind, setup
from notifications import notifier_for
from tests.support.plans import FIRST_KEY, SECOND_KEY, two_plan_config

DAY = date(2023, 10, 23)  # Monday: Q3 reports of the second plan (due 10-20) are overdue


@pytest.fixture
def two_plans(make_context, db_url, tmp_path):
    ctx = make_context(db_url, config_dir=two_plan_config(tmp_path))
    setup(ctx, at_local(date(2023, 7, 3)))
    return ctx


def _reminders_of(ctx, key: str) -> int:
    with ctx.db.session() as s:
        return s.scalar(
            select(func.count()).select_from(Reminder)
            .join(Occurrence, Reminder.occurrence_id == Occurrence.id)
            .join(Duty, Occurrence.duty_id == Duty.id).join(Plan, Duty.plan_id == Plan.id)
            .where(Plan.key == key))


def _close(ctx, key: str, day: date) -> None:
    with ctx.db.session() as s:
        assert move(s, find_plan(s, key), "closed", at_local(day))


def test_two_plans_are_both_chased_and_each_recipient_gets_one_digest(two_plans) -> None:
    with two_plans.db.session() as s:
        assert [p.key for p in active_plans(s)] == [FIRST_KEY, SECOND_KEY]
    chase(two_plans, at_local(DAY))
    assert _reminders_of(two_plans, FIRST_KEY) > 0 and _reminders_of(two_plans, SECOND_KEY) > 0
    result = dispatch(two_plans, at_local(DAY), notifier_for(two_plans, at_local(DAY)))
    assert result.digests > 0
    with two_plans.db.session() as s:
        per_recipient = s.execute(
            select(Digest.recipient, func.count()).where(Digest.day == DAY)
            .group_by(Digest.recipient)).tuples().all()
        both = s.scalar(select(Digest.body).where(Digest.day == DAY, Digest.recipient == "tyjrj"))
    assert per_recipient and max(n for _, n in per_recipient) == 1
    assert "退役军人志愿服务队" in both
    # the digest names the plan of its items; signed by the office of config/office.yaml,
    # never a name written in the code (two plans in one digest: tests/unit/test_digest.py)
    with two_plans.db.session() as s:
        second = find_plan(s, SECOND_KEY)
        heading = plan_heading(second.title, second.doc_no)
    assert heading in both and "\n" + heading + "\n" in both
    assert both.rstrip().endswith(signature(two_plans.config.office.name))


def test_manual_urging_sends_only_the_urged_departments_digest(two_plans) -> None:
    """`duban remind` (手动催办) sends its department's digest now; everyone else's pending
    reminders wait for the day's dispatch, which still gives each recipient one digest."""
    now = at_local(DAY)
    chase(two_plans, now)  # the ladder owes many departments today
    assert remind(two_plans, "tyjrj", now, note="请于本周五前报送") > 0
    urged = dispatch(two_plans, now, notifier_for(two_plans, now), force=True,
                     only=frozenset({"tyjrj"}))
    with two_plans.db.session() as s:
        sent_to = set(s.scalars(select(Digest.recipient).where(Digest.day == DAY)))
        waiting = s.scalar(select(func.count()).select_from(Reminder)
                           .where(Reminder.state == "pending"))
    assert sent_to == {"tyjrj"} and urged.digests == 1 and waiting > 0
    dispatch(two_plans, now, notifier_for(two_plans, now))
    with two_plans.db.session() as s:
        per_recipient = s.execute(select(Digest.recipient, func.count()).where(Digest.day == DAY)
                                  .group_by(Digest.recipient)).tuples().all()
    assert len(per_recipient) > 1 and max(n for _, n in per_recipient) == 1


def test_a_closed_plan_is_not_chased_but_stays_reportable(two_plans, tmp_path) -> None:
    chase(two_plans, at_local(DAY))
    before = _reminders_of(two_plans, SECOND_KEY)
    _close(two_plans, SECOND_KEY, DAY)
    later = date(2023, 11, 6)
    chase(two_plans, at_local(later))
    assert _reminders_of(two_plans, SECOND_KEY) == before  # nothing new for the closed plan
    assert _reminders_of(two_plans, FIRST_KEY) > 0
    with pytest.raises(LookupError):
        remind(two_plans, "tyjrj", at_local(later))  # its only items belong to the closed plan


def test_a_plan_closed_early_gets_no_new_periods(two_plans) -> None:
    _close(two_plans, SECOND_KEY, date(2023, 9, 20))
    materialise_all(two_plans, at_local(DAY))
    with two_plans.db.session() as s:
        q4 = s.scalar(select(func.count()).select_from(Occurrence).join(Duty).join(Plan)
                      .where(Plan.key == SECOND_KEY, Occurrence.period == "2023-Q4"))
        q4_first = s.scalar(select(func.count()).select_from(Occurrence).join(Duty).join(Plan)
                            .where(Plan.key == FIRST_KEY, Occurrence.period == "2023-10"))
    assert q4 == 0 and q4_first > 0


def test_status_and_report_of_a_closed_plan_by_name(two_plans, monkeypatch, tmp_path) -> None:
    _close(two_plans, SECOND_KEY, DAY)
    s = two_plans.settings
    monkeypatch.setenv("DUBAN_DATABASE_URL", s.database_url)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(s.config_dir))
    monkeypatch.setenv("DUBAN_HOME", str(s.home))
    runner = CliRunner()
    daily = runner.invoke(app, ["status", "--as-of", DAY.isoformat(), "--json"])
    assert daily.exit_code == 0, daily.output
    assert SECOND_KEY not in daily.output and FIRST_KEY in daily.output
    named = runner.invoke(app, ["status", "--as-of", DAY.isoformat(), "--plan", SECOND_KEY,
                                "--json"])
    assert SECOND_KEY in named.output and FIRST_KEY not in named.output
    book = tmp_path / "closed.xlsx"
    report = runner.invoke(app, ["report", "--as-of", DAY.isoformat(), "--plan", SECOND_KEY,
                                 "--xlsx", str(book)])
    assert report.exit_code == 0, report.output
    assert book.stat().st_size > 0
    listed = runner.invoke(app, ["plan", "list"])
    assert "已结束" in listed.output and "执行中" in listed.output


def test_a_draft_plan_is_loaded_but_not_chased(make_context, db_url, tmp_path) -> None:
    ctx = make_context(db_url, config_dir=two_plan_config(tmp_path, draft=True))
    setup(ctx, at_local(date(2023, 7, 3)))
    chase(ctx, at_local(DAY))
    assert _reminders_of(ctx, SECOND_KEY) == 0
    with ctx.db.session() as s:
        assert find_plan(s, SECOND_KEY).state == "draft"
        assert s.scalar(select(func.count()).select_from(Occurrence).join(Duty).join(Plan)
                        .where(Plan.key == SECOND_KEY)) == 0
        move(s, find_plan(s, SECOND_KEY), "active", at_local(DAY))
    setup(ctx, at_local(DAY))  # a reload keeps the state the office chose
    chase(ctx, at_local(DAY))
    assert _reminders_of(ctx, SECOND_KEY) > 0


def test_a_late_plan_sends_one_start_notice_per_department(
    make_context, db_url, tmp_path
) -> None:
    ladder_from = date(2023, 11, 1)
    ctx = make_context(db_url, config_dir=two_plan_config(tmp_path, ladder_from=ladder_from))
    setup(ctx, at_local(DAY))  # loaded when Q3 reports are already late
    chase(ctx, at_local(DAY))
    chase(ctx, at_local(DAY))  # a rerun records nothing new
    with ctx.db.session() as s:
        starts = s.scalars(select(Reminder).where(Reminder.level == "start")).all()
        owing = set(s.scalars(
            select(Occurrence.department_id).join(Duty).join(Plan)
            .where(Plan.key == SECOND_KEY, Occurrence.due_on < DAY).distinct()))
        assert find_plan(s, SECOND_KEY).started_on == DAY
    assert len(starts) == len({r.recipient for r in starts}) >= len(owing) > 0
    assert all(r.occurrence_id is None and "泰退役〔2023〕5号" in r.note for r in starts)
    assert _levels(ctx, SECOND_KEY) <= {"advance", "due"}  # no urging before ladder_from
    chase(ctx, at_local(date(2023, 11, 2)))  # one working day after ladder_from: urged
    assert "urge" in _levels(ctx, SECOND_KEY) and "escalate" not in _levels(ctx, SECOND_KEY)
    chase(ctx, at_local(date(2023, 11, 6)))  # three working days after: escalated
    assert "escalate" in _levels(ctx, SECOND_KEY)
    result = dispatch(ctx, at_local(DAY), notifier_for(ctx, at_local(DAY)))
    assert result.digests > 0
    with ctx.db.session() as s:
        body = s.scalar(select(Digest.body).where(Digest.recipient == "tw"))
    assert "已启动督办" in body


def _levels(ctx, key: str) -> set[str]:
    with ctx.db.session() as s:
        return set(s.scalars(
            select(Reminder.level).join(Occurrence, Reminder.occurrence_id == Occurrence.id)
            .join(Duty, Occurrence.duty_id == Duty.id).join(Plan, Duty.plan_id == Plan.id)
            .where(Plan.key == key)))


def test_cli_activate_refuses_an_unreviewed_plan_and_protects_a_late_one(
    make_context, sqlite_url, tmp_path, monkeypatch
) -> None:
    """Activated today, long after its deadlines: by default (late-start protection) the old
    items are urged from today, the first run sends one start notice per department and nothing
    is escalated; a reload of the plan file keeps that."""
    config = _late_draft(tmp_path, monkeypatch, sqlite_url)
    runner = CliRunner()
    refused = runner.invoke(app, ["plan", "activate", SECOND_KEY])
    assert refused.exit_code == 1 and "plan.doc_no" in refused.output
    assert "Traceback" not in refused.output
    check = runner.invoke(app, ["plan", "check"])
    assert check.exit_code == 1 and "待填写" in check.output
    _review(config)
    check = runner.invoke(app, ["plan", "check"])
    assert check.exit_code == 0 and "默认自启用之日起" in check.output  # warned before activation
    activated = runner.invoke(app, ["plan", "activate", SECOND_KEY])  # today its items are late
    assert activated.exit_code == 0, activated.output
    assert "迟启保护" in activated.output and "启动通知" in activated.output
    ctx = make_context(sqlite_url, config_dir=config)
    calendar = ctx.calendar
    today = local_day(utcnow())
    with ctx.db.session() as s:
        assert find_plan(s, SECOND_KEY).ladder_from == today
    setup(ctx, utcnow())  # a reload of the plan file (no ladder_from in it) keeps the protection
    with ctx.db.session() as s:
        assert find_plan(s, SECOND_KEY).ladder_from == today
    first = calendar.next_workday(today, include_self=True)
    chase(ctx, at_local(first))
    assert _levels(ctx, SECOND_KEY) <= {"advance", "due"}  # hundreds overdue, none escalated
    with ctx.db.session() as s:
        starts = s.scalars(select(Reminder).where(Reminder.level == "start")).all()
    assert starts and len(starts) == len({r.recipient for r in starts})  # one per department
    chase(ctx, at_local(calendar.add_workdays(first, 1)))
    assert "urge" in _levels(ctx, SECOND_KEY) and "escalate" not in _levels(ctx, SECOND_KEY)
    closed = runner.invoke(app, ["plan", "close", SECOND_KEY])
    assert closed.exit_code == 0 and "已结束" in closed.output
    ambiguous = runner.invoke(app, ["plan", "close", "2023"])
    assert ambiguous.exit_code == 1 and FIRST_KEY in ambiguous.output


def test_cli_activate_from_deadlines_opts_out_of_late_start_protection(
    make_context, sqlite_url, tmp_path, monkeypatch
) -> None:
    config = _late_draft(tmp_path, monkeypatch, sqlite_url)
    _review(config)
    activated = CliRunner().invoke(app, ["plan", "activate", SECOND_KEY, "--from-deadlines"])
    assert activated.exit_code == 0, activated.output
    assert "--from-deadlines" in activated.output
    ctx = make_context(sqlite_url, config_dir=config)
    with ctx.db.session() as s:
        assert find_plan(s, SECOND_KEY).ladder_from is None
    chase(ctx, at_local(ctx.calendar.next_workday(local_day(utcnow()), include_self=True)))
    assert "escalate" in _levels(ctx, SECOND_KEY)  # the office chose: old items at once


def _late_draft(tmp_path, monkeypatch, url: str):
    config = two_plan_config(tmp_path, draft=True, doc_no="待填写")
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(config))
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    return config


def _review(config) -> None:
    path = config / "plans" / "volunteer-2023.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("待填写", "泰退役〔2023〕5号"),
                    encoding="utf-8")


def test_cli_load_warns_of_a_late_plan_loaded_straight_to_active(
    make_context, sqlite_url, tmp_path, monkeypatch
) -> None:
    """A plan file without `draft: true` is active as soon as it is loaded, so `plan activate`
    and its late-start protection are skipped: `plan load` says so and how to get it."""
    config = two_plan_config(tmp_path)
    monkeypatch.setenv("DUBAN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(config))
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    runner = CliRunner()
    loaded = runner.invoke(app, ["plan", "load"])
    assert loaded.exit_code == 0, loaded.output
    assert f"{SECOND_KEY} 载入即执行中" in loaded.output and "无迟启保护" in loaded.output
    assert runner.invoke(app, ["plan", "close", SECOND_KEY]).exit_code == 0
    activated = runner.invoke(app, ["plan", "activate", SECOND_KEY])
    assert activated.exit_code == 0 and "迟启保护" in activated.output
    with make_context(sqlite_url, config_dir=config).db.session() as s:
        assert find_plan(s, SECOND_KEY).ladder_from == local_day(utcnow())
    again = runner.invoke(app, ["plan", "load"])
    assert f"{SECOND_KEY} 载入即执行中" not in again.output  # protected now: nothing to say
