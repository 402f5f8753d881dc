"""延期申请: an approved extension moves the deadline and the ladder, the original stays."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from duban.calendar.clock import at_local, local_day
from duban.ledger.models import AuditEntry, Department, Occurrence, OutboxMessage
from duban.reports.extensions import (
    ExtensionError,
    decide,
    extensions_by_department,
    request_extension,
)
from duban.service import chase, dispatch, setup
from notifications import notifier_for
from tests.support.small_plan import write_config


@pytest.fixture
def walk_ctx(make_context, db_url, tmp_path):
    ctx = make_context(db_url, config_dir=write_config(tmp_path / "config"))
    setup(ctx, at_local(date(2023, 9, 20)))
    return ctx


def _city_item(session) -> tuple[Occurrence, Department]:
    dept = session.scalar(select(Department).where(Department.code == "scjgj"))
    occ = session.scalar(select(Occurrence).where(Occurrence.department_id == dept.id,
                                                  Occurrence.period == "2023-09"))
    return occ, dept


def test_extension_across_national_day_moves_the_ladder(walk_ctx) -> None:
    now = at_local(date(2023, 9, 25), 10)
    with walk_ctx.db.session() as s:
        occ, dept = _city_item(s)
        assert occ.due_on == date(2023, 10, 11)
        made = request_extension(s, occ.id, dept.id, date(2023, 10, 18), "数据需逐级核实",
                                 now, walk_ctx.calendar, "scjgj")
    with walk_ctx.db.session() as s:
        decide(s, made.id, True, "office", now, "同意")
    day = date(2023, 9, 25)
    while day <= date(2023, 10, 19):
        chase(walk_ctx, at_local(day, 9))
        dispatch(walk_ctx, at_local(day, 9), notifier_for(walk_ctx, at_local(day, 9)))
        day += timedelta(days=1)
    with walk_ctx.db.session() as s:
        occ, _ = _city_item(s)
        assert (occ.due_on, occ.original_due_on) == (date(2023, 10, 18), date(2023, 10, 11))
        got = {(local_day(m.at), level)
               for m in s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "scjgj"))
               for level in ("提前提醒", "今日到期", "催办")
               if f"城市数据进展（每月报送，目标不少于10个）（2023-09）[{level}]" in m.body}
        assert got == {(date(2023, 10, 13), "提前提醒"), (date(2023, 10, 18), "今日到期"),
                       (date(2023, 10, 19), "催办")}
        verbs = set(s.scalars(select(AuditEntry.verb)))
        assert {"extension_requested", "extension_approved"} <= verbs
        counts = extensions_by_department(s)
    assert counts["scjgj"] == {"requested": 1, "approved": 1, "rejected": 0, "pending": 0}


def test_rejected_extension_keeps_the_deadline_and_bad_requests_are_named(walk_ctx) -> None:
    now = at_local(date(2023, 9, 25), 10)
    with walk_ctx.db.session() as s:
        occ, dept = _city_item(s)
        cases = [
            (date(2023, 10, 14), "不是工作日"),  # a Saturday that is not adjusted
            (date(2023, 10, 9), "须晚于当前截止日期"),
        ]
        for until, message in cases:
            with pytest.raises(ExtensionError, match=message):
                request_extension(s, occ.id, dept.id, until, "理由", now, walk_ctx.calendar, "x")
        with pytest.raises(ExtensionError, match="延期理由"):
            request_extension(s, occ.id, dept.id, date(2023, 10, 16), " ", now,
                              walk_ctx.calendar, "x")
        with pytest.raises(ExtensionError, match="不属于本单位"):
            request_extension(s, occ.id, dept.id + 1, date(2023, 10, 16), "理由", now,
                              walk_ctx.calendar, "x")
        made = request_extension(s, occ.id, dept.id, date(2023, 10, 16), "理由", now,
                                 walk_ctx.calendar, "scjgj")
    with walk_ctx.db.session() as s:
        decide(s, made.id, False, "office", now, "请按期完成")
        with pytest.raises(ExtensionError, match="已驳回"):
            decide(s, made.id, True, "office", now)
    with walk_ctx.db.session() as s:
        occ, _ = _city_item(s)
        assert occ.due_on == date(2023, 10, 11)


def test_extension_cli_request_list_approve(walk_ctx, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli import app
    from duban.reports import tokens

    monkeypatch.setenv("DUBAN_DATABASE_URL", walk_ctx.settings.database_url)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(walk_ctx.settings.config_dir))
    with walk_ctx.db.session() as s:
        occ, dept = _city_item(s)
        token = tokens.issue(s, dept, at_local(date(2023, 9, 20)), "cli", days=3650)
        occ_id = occ.id
    runner = CliRunner()
    asked = runner.invoke(app, ["extension", "request", str(occ_id), "--until", "2023-10-20",
                                "--reason", "数据核实中", "--token", token])
    assert asked.exit_code == 0, asked.output
    listed = runner.invoke(app, ["extension", "list", "--state", "pending", "--json"])
    [pending] = json.loads(listed.output)
    assert pending["requested_due"] == "2023-10-20" and pending["department"] == "scjgj"
    shown = runner.invoke(app, ["extension", "list", "--state", "待审批"])  # states in Chinese
    assert shown.exit_code == 0 and "待审批" in shown.output and "pending" not in shown.output
    assert "数据核实中" in shown.output
    assert runner.invoke(app, ["extension", "list", "--state", "nosuch"]).exit_code == 2
    approved = runner.invoke(app, ["extension", "approve", str(pending["id"])])
    assert approved.exit_code == 0 and "2023-10-20" in approved.output
    done = runner.invoke(app, ["extension", "list", "--state", "approved"])
    assert "已批准" in done.output and "approved" not in done.output
    forged = runner.invoke(app, ["extension", "request", str(occ_id), "--until", "2023-10-23",
                                 "--reason", "x", "--token", "forged"])
    assert forged.exit_code == 1 and "令牌无效" in forged.output
