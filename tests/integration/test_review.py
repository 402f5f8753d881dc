"""审核销号: a closing report waits for the office, which accepts (销号) or returns (退回) it;
corrections until then; the ladder restarts on a return; the ledger as it stood on a past day;
`duban review` and `duban status` for a Chinese office (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select, update

import cli.review_cmd as review_cmd
from cli.output import text_width
from duban.calendar.clock import at_local
from duban.ledger.models import AuditEntry, ItemEvent, Plan, Review
from duban.reports.errors import ReportRefused
from duban.reports.queries import list_reports
from duban.reports.review import ReviewError, accept, latest_return, pending_reviews, return_item
from duban.service import chase
from tests.support.cli import point_cli_at, run
from tests.support.reports import (
    HOMES,
    NOW,
    file_report,
    occ_id,
    occurrence,
    reminders_for,
    sign_off,
    state_of,
)


@pytest.fixture
def cli(loaded, monkeypatch):
    """The CLI pointed at the loaded ledger (SQLite and PostgreSQL)."""
    return point_cli_at(loaded, monkeypatch)


RETURN_DAY = at_local(date(2023, 7, 10), 11)  # a Monday


def _return(ctx, occ: int, reason: str = "佐证材料不全，请补充清单", now=RETURN_DAY):
    with ctx.db.session() as s:
        return return_item(s, occ, reason, "office:王五", now, ctx.calendar,
                           ctx.config.ladder.review.rework_days)


def test_accept_closes_with_an_event_and_an_audit_entry(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    report = file_report(loaded, occ, value=260)
    with loaded.db.session() as s:
        assert [p.occurrence_id for p in pending_reviews(s)] == [occ]
        outcome = accept(s, occ, "office:王五", RETURN_DAY, via="prefect:run-1")
    assert (outcome.verdict, outcome.report_id, outcome.closed_on) == (
        "accepted", report.report_id, date(2023, 7, 5))
    assert occurrence(loaded, occ).status == "closed"
    with loaded.db.session() as s:
        again = accept(s, occ, "office:王五", RETURN_DAY)  # a retried form: no second verdict
        assert again.replayed and len(s.scalars(select(Review)).all()) == 1
        event = s.scalar(select(ItemEvent).where(ItemEvent.kind == "closed"))
        audit = s.scalar(select(AuditEntry).where(AuditEntry.verb == "review_accepted"))
        assert pending_reviews(s) == []
    assert event.occurrence_id == occ and event.payload["kind_zh"] == "销号"
    assert (audit.actor, audit.detail["via"]) == ("office:王五", "prefect:run-1")
    assert state_of(loaded, occ, date(2023, 7, 10)) == "done"


def test_a_return_reopens_with_the_reason_and_restarts_the_ladder(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, value=260)
    outcome = _return(loaded, occ)
    rework_due = loaded.calendar.add_workdays(date(2023, 7, 10), 5)
    assert rework_due == date(2023, 7, 17)
    assert outcome.verdict == "returned" and outcome.due_on == rework_due
    assert "请于 2023-07-17 前重新报送" in outcome.message
    row = occurrence(loaded, occ)
    assert (row.status, row.closed_on, row.returned_on, row.due_on) == (
        "open", None, date(2023, 7, 10), rework_due)
    assert row.original_due_on == date(2023, 7, 7)
    with loaded.db.session() as s:
        note = latest_return(s, occ)
        event = s.scalar(select(ItemEvent).where(ItemEvent.kind == "returned"))
    assert note.reason == "佐证材料不全，请补充清单" and note.due_on == rework_due
    assert event.payload["due_on"] == "2023-07-17" and "佐证" not in json.dumps(event.payload)
    assert state_of(loaded, occ, date(2023, 7, 11)) == "returned"
    chase(loaded, at_local(date(2023, 7, 17), 9), [2])  # the rework deadline: reminded again
    assert reminders_for(loaded, occ, date(2023, 7, 17)) == [("due", "taishan-mzj")]
    assert state_of(loaded, occ, date(2023, 7, 18)) == "overdue"
    again = file_report(loaded, occ, value=265, now=at_local(date(2023, 7, 14), 9))
    assert again.awaiting_review and again.supersedes_id is None
    assert occurrence(loaded, occ).status == "reported"


def test_a_department_corrects_until_the_office_reviews(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    first = file_report(loaded, occ, value=260)
    second = file_report(loaded, occ, value=262, note="补报2户")  # no reason needed yet
    assert second.supersedes_id == first.report_id and second.awaiting_review
    assert second.closed_on == date(2023, 7, 5)  # the first report's day stands
    with loaded.db.session() as s:
        views = list_reports(s, occ)
        outcome = accept(s, occ, "office", NOW)
    assert [v.superseded_by for v in views] == [second.report_id, None]
    assert outcome.report_id == second.report_id  # the office signed off the standing report
    with pytest.raises(ReportRefused, match="销号") as caught:
        file_report(loaded, occ, value=263, correction_of=second.report_id, reason="再改")
    assert caught.value.field == "correction_of"
    with pytest.raises(ReportRefused):
        file_report(loaded, occ, "ack")


def test_verdicts_need_a_report_awaiting_review_and_a_reason(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    with loaded.db.session() as s, pytest.raises(ReviewError, match="尚未报送"):
        accept(s, occ, "office", NOW)
    file_report(loaded, occ, value=1)
    with pytest.raises(ReviewError, match="原因"):
        _return(loaded, occ, reason="  ")
    sign_off(loaded, occ)
    with pytest.raises(ReviewError, match="已销号"):
        _return(loaded, occ)


def test_without_review_a_done_report_closes_at_once(loaded) -> None:
    with loaded.db.session() as s:
        s.execute(update(Plan).values(review_required=False))
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    outcome = file_report(loaded, occ, value=5)
    assert outcome.closed and not outcome.awaiting_review
    assert occurrence(loaded, occ).status == "closed"


def test_the_past_is_not_rewritten(loaded) -> None:
    """status as of a day counts only what had happened by its end."""
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, value=260, now=at_local(date(2023, 7, 11), 10))  # late
    _return(loaded, occ, now=at_local(date(2023, 7, 12), 10))
    file_report(loaded, occ, value=262, now=at_local(date(2023, 7, 13), 10))
    sign_off(loaded, occ, at_local(date(2023, 7, 14), 10))
    expected = {date(2023, 7, 6): "due_soon", date(2023, 7, 10): "overdue",
                date(2023, 7, 11): "reported", date(2023, 7, 12): "returned",
                date(2023, 7, 13): "reported", date(2023, 7, 14): "done"}
    assert {day: state_of(loaded, occ, day) for day in expected} == expected


# -- the command line -----------------------------------------------------------------------


def test_review_command_accepts_several_and_returns_one(cli, monkeypatch) -> None:
    monkeypatch.setattr(review_cmd, "utcnow", lambda: RETURN_DAY)
    first = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    second = occ_id(cli, HOMES, "daiyue-mzj", "2023-06")
    third = occ_id(cli, HOMES, "xintai-mzj", "2023-06")
    for occ in (first, second, third):
        file_report(cli, occ, value=10)
    listing = run("review", "--list", "--department", "泰山区民政局")
    assert listing.exit_code == 0 and "待审核 1 项" in listing.output
    assert all(text_width(line) <= 100 for line in listing.output.splitlines())
    done = run("review", str(first), str(second), "--accept", "--by", "王五")
    assert done.exit_code == 0 and done.output.count("已审核销号") == 2
    back = run("review", str(third), "--return", "数值与台账不符")
    assert back.exit_code == 0 and "已退回：数值与台账不符" in back.output
    assert "2023-07-17" in back.output
    refused = run("review", str(first), "--return", "再看看")
    assert refused.exit_code == 1 and "已销号" in refused.output
    both = run("review", str(first), "--accept", "--return", "x")
    assert both.exit_code == 2
    status = run("status", "--as-of", "2023-07-11", "--state", "已退回", "--json")
    assert [r["id"] for r in json.loads(status.stdout)["occurrences"]] == [third]


def test_status_names_departments_and_counties_as_an_office_writes_them(cli) -> None:
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    for name in ("taishan-mzj", "泰山区民政局"):
        result = run("status", "--as-of", "2023-07-10", "--department", name, "--json")
        rows = json.loads(result.stdout)["occurrences"]
        assert result.exit_code == 0 and occ in [r["id"] for r in rows]
        assert {r["department"] for r in rows} == {"taishan-mzj"}
    for name, words in (("nosuch", "没有名为“nosuch”的单位"), ("taishan", "--county taishan")):
        result = run("status", "--department", name)
        assert result.exit_code == 1 and words in result.output
    county = run("status", "--as-of", "2023-07-10", "--county", "泰山区", "--json")
    assert {r["county"] for r in json.loads(county.stdout)["occurrences"]} == {"泰山区"}
    assert run("status", "--county", "nowhere").exit_code == 1
    table = run("status", "--as-of", "2023-07-10", "--state", "overdue")
    lines = table.output.splitlines()
    assert table.exit_code == 0 and len(lines) > 10 and "泰山区民政局 taishan-mzj" in table.output
    assert max(text_width(line) for line in lines[1:]) <= 100
    wide = run("status", "--as-of", "2023-07-10", "--state", "overdue", "--wide")
    assert max(text_width(line) for line in wide.output.splitlines()[1:]) > 100
    assert run("status", "--state", "nosuch").exit_code == 2


def test_status_filters_acknowledged_items(cli) -> None:
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    file_report(cli, occ, "ack", now=at_local(date(2023, 7, 10), 9))
    result = run("status", "--as-of", "2023-07-10", "--state", "已签收", "--json")
    assert [r["id"] for r in json.loads(result.stdout)["occurrences"]] == [occ]
    before = run("status", "--as-of", "2023-07-07", "--state", "acknowledged", "--json")
    assert json.loads(before.stdout)["occurrences"] == []


# -- the report page ----------------------------------------------------------------------------


def test_the_page_shows_the_review_and_the_return_and_takes_a_correction(loaded_sqlite) -> None:
    from tests.support.site import open_site

    site = next(open_site(loaded_sqlite))
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    first = site.report(site.link(occ), kind="done", value="12")
    assert first.status_code == 200 and "等待督办办公室审核" in first.text
    summary = re.search(r'role="status">\s*<p>(.*?)</p>', first.text)[1]
    assert "审核期间暂停提醒，如被退回将恢复提醒" in summary  # the office may still return it
    assert "不再提醒" not in summary and "已办结" not in summary
    page = site.client.get(f"/r/{site.link(occ)}")  # e.g. opened again from the department page
    assert "已报送，等待督办办公室审核销号" in page.text and "<form" in page.text
    fixed = site.report(site.link(occ), kind="done", value="14")
    assert fixed.status_code == 200, fixed.text
    with site.ctx.db.session() as s:
        views = list_reports(s, occ)
    assert [(v.value, v.superseded_by) for v in views] == [(12, views[1].id), (14, None)]
    _return(site.ctx, occ, reason="请附改造户名单")
    back = site.client.get(f"/r/{site.link(occ)}")
    assert "督办办公室退回" in back.text and "请附改造户名单" in back.text
    assert "请于2023-07-17前重新报送" in back.text
    again = site.report(site.link(occ), kind="done", value="14")
    assert again.status_code == 200 and occurrence(site.ctx, occ).status == "reported"


def test_without_review_the_page_says_the_item_is_done_and_no_more_reminders(
        loaded_sqlite) -> None:
    from tests.support.site import open_site

    with loaded_sqlite.db.session() as s:
        s.execute(update(Plan).values(review_required=False))
    site = next(open_site(loaded_sqlite))
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    done = site.report(site.link(occ), kind="done", value="12")
    summary = re.search(r'role="status">\s*<p>(.*?)</p>', done.text)[1]
    assert "该事项已办结（2023-07-05），不再提醒" in summary and "审核" not in summary


def test_the_office_opens_reports_and_evidence_behind_its_credential(loaded_sqlite) -> None:
    from tests.support.reports import PDF
    from tests.support.site import open_site

    site = next(open_site(loaded_sqlite))
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    site.report(site.link(occ), files={"evidence_file": ("名单.pdf", PDF)}, kind="done",
                value="12")
    (site.ctx.settings.home / "prefect-auth").write_text("duban:s3cret\n", encoding="utf-8")
    url = f"/office/items/{occ}"
    assert site.client.get(url).status_code == 401
    assert site.client.get(url, auth=("duban", "wrong")).status_code == 401
    page = site.client.get(url, auth=("duban", "s3cret"))
    assert page.status_code == 200 and "名单.pdf" in page.text and "12户" in page.text
    href = re.search(r'href="(/office/evidence/[0-9a-f]{64}\.pdf)"', page.text)[1]
    assert site.client.get(href).status_code == 401
    evidence = site.client.get(href, auth=("duban", "s3cret"))
    assert evidence.status_code == 200 and evidence.content == PDF
    assert evidence.headers["content-type"] == "application/pdf"
    bad = site.client.get("/office/evidence/..%2Fduban.db", auth=("duban", "s3cret"))
    assert bad.status_code == 404
    (site.ctx.settings.home / "prefect-auth").unlink()
    assert site.client.get(url, auth=("duban", "s3cret")).status_code == 503


def test_every_table_fits_100_columns(cli) -> None:
    """The office's terminal: every table a command prints stays within 100 columns."""
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    file_report(cli, occ, value=260, note="6月新增改造260户，其中城区180户、农村80户，"
                "佐证材料为改造户清单和验收照片，已由区民政局审核盖章")
    for command in (["status", "--as-of", "2023-10-09"], ["reports", str(occ)],
                    ["review", "--list"], ["plan", "list"], ["extension", "list"],
                    ["calendar", "2023-10"], ["outbox", "--last", "1"], ["plan", "show"]):
        result = run(*command)
        assert result.exit_code == 0, (command, result.output)
        widest = max((text_width(line) for line in result.output.splitlines()), default=0)
        assert widest <= 100, (command, widest, result.output[:600])
