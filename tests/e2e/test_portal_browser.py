"""The whole story in a real headless Chromium: reminded, scanned, answered, no longer chased.

Load the plan; on Monday 2023-07-10 (one working day after the June reports' deadline, 07-07)
chase action 2 and send the digests to a local HTTP receiver (Apprise json://); take 泰山区民政局's
link for its 适老化改造 item from the received digest; let a mail "scanner" open it first; then
open it in Chromium, fill in the figure and a note, submit, see the Chinese success page; then chase
the next working days: nothing more is owed for that item, which awaits the office's review.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from duban.calendar.clock import at_local
from duban.chase.occurrences import status_rows
from duban.ledger.models import AccessToken, Department, Reminder, Report
from duban.reports import tokens
from duban.service import Context, chase, setup
from duban.settings import Settings
from portal import create_app
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ITEM,
    MONDAY,
    SHOTS,
    link_for,
    needs_chromium,
    portal_after_first_digest,
)
from tests.support.ledger import LOADED_AT
from tests.support.live_server import LiveServer
from tests.support.paths import CONFIG_DIR

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


def new_reminders(ctx: Context, occurrence_id: int, day: date) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.occurrence_id == occurrence_id, Reminder.send_on == day))


def test_a_department_answers_a_reminder_from_a_phone(tmp_path: Path) -> None:

    clock = [MONDAY]
    with portal_after_first_digest(tmp_path, clock) as (ctx, sent, receiver):
        assert sent.status["sent"] >= 9
        digests = [r.json for r in receiver.requests]
        mine = next(d for d in digests if "泰山区民政局" in d["title"])
        link = link_for(mine["message"], ITEM)
        token = link.rsplit("/", 1)[1]
        with ctx.db.session() as s:
            occ = s.scalar(select(AccessToken.occurrence_id).where(
                AccessToken.token_hash == tokens.hash_token(token)))

        scanned = httpx.get(link)  # Safe Links and friends open every link first
        assert scanned.status_code == 200 and ITEM in scanned.text
        _assert_untouched(ctx, token)

        clock[0] = at_local(date(2023, 7, 10), 10, 30)
        _answer_in_chromium(link)

        with ctx.db.session() as s:
            report = s.scalar(select(Report).where(Report.occurrence_id == occ))
        assert (report.kind, report.value, report.unit) == ("progress", 260, "户")
        assert report.note == "6月新增改造260户，已录入台账"

        for day in (date(2023, 7, 11), date(2023, 7, 12)):  # urge, then escalation days
            chase(ctx, at_local(day), [2])
            assert new_reminders(ctx, occ, day) == 0
        peer = _peer(ctx, occ)
        assert new_reminders(ctx, peer, date(2023, 7, 12)) >= 2  # escalated, unlike ours
        with ctx.db.session() as s:
            rows = {r.id: r.state for r in status_rows(s, date(2023, 7, 12), ctx.calendar)}
        # reported late, awaiting the office's review (审核销号); no longer chased
        assert rows[occ] == "reported" and rows[peer] == "overdue"


def _assert_untouched(ctx: Context, token: str) -> None:
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 0
        assert s.scalar(select(AccessToken.used_at).where(
            AccessToken.token_hash == tokens.hash_token(token))) is None


def _peer(ctx: Context, occurrence_id: int) -> int:
    """Another county's same item, left unanswered."""
    from duban.ledger.models import Occurrence

    with ctx.db.session() as s:
        mine = s.get(Occurrence, occurrence_id)
        return s.scalar(select(Occurrence.id).where(
            Occurrence.duty_id == mine.duty_id, Occurrence.period == mine.period,
            Occurrence.id != mine.id).order_by(Occurrence.id))


def _answer_in_chromium(link: str) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844},
                                       device_scale_factor=2, is_mobile=True,
                                       has_touch=True, locale="zh-CN").new_page()
            response = page.goto(link)
            assert response is not None and response.status == 200
            assert response.headers["referrer-policy"] == "no-referrer"
            assert page.title() == "督办事项报送"
            page.screenshot(path=str(SHOTS / "portal-form.png"), full_page=True)
            page.fill("#value", "260")
            page.fill("#note", "6月新增改造260户，已录入台账")
            page.click("text=提交报送")
            page.wait_for_selector("text=报送成功")
            assert "本单位260户" in page.inner_text("main")
            page.screenshot(path=str(SHOTS / "portal-success.png"), full_page=True)
        finally:
            browser.close()


def test_a_department_link_on_a_phone_lists_reports_and_shows_a_spent_link(
        tmp_path: Path) -> None:
    """390×844: the root, the department's list, one item's form, the success page and the
    spent link's read-only record all fit the width (no sideways scrolling)."""
    from playwright.sync_api import sync_playwright

    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'duban.db'}",
                        config_dir=CONFIG_DIR, notify_config=CONFIG_DIR / "notify.yaml",
                        portal_url="http://127.0.0.1:1")
    ctx = Context(settings)
    setup(ctx, LOADED_AT)
    with ctx.db.session() as s:
        taishan = s.scalar(select(Department.id).where(Department.code == "taishan-mzj"))
        token = tokens.issue_for(s, taishan, MONDAY, "department")  # as a digest carries
    app = create_app(ctx, clock=lambda: MONDAY)
    SHOTS.mkdir(exist_ok=True)
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844},
                                       device_scale_factor=2, is_mobile=True, has_touch=True,
                                       locale="zh-CN").new_page()

            def fits(name: str) -> None:
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, (name, width)
                page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)

            page.goto(server.url("/"))
            assert "如何获得报送链接" in page.inner_text("main")
            fits("root")
            page.goto(server.url(f"/d/{token}"))
            assert "泰山区民政局" in page.inner_text("h1") and "逾期" in page.inner_text("main")
            fits("department")
            page.locator("form.card", has_text=ITEM).first.locator("button").click()
            page.wait_for_selector("text=提交报送")
            fits("item-form")
            link = page.url
            page.fill("#value", "260")
            page.fill("#note", "6月新增改造260户")
            page.click("text=提交报送")
            page.wait_for_selector("text=报送成功")
            fits("item-success")
            page.goto(link)
            text = page.inner_text("main")
            assert "该事项已报送" in text and "260户" in text and "6月新增改造260户" in text
            assert page.locator("form").count() == 0
            fits("spent-link")
        finally:
            browser.close()
