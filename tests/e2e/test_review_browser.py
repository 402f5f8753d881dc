"""The review loop in a real headless Chromium, reached as a department does (the digest's one
department link): report, correct before review, the office returns it with a reason, the
department sees the reason and reports again; the office signs it off."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import AccessToken, Occurrence
from duban.reports import tokens
from duban.reports.queries import list_reports
from duban.reports.review import accept, return_item
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ITEM,
    MONDAY,
    SHOTS,
    link_for,
    portal_after_first_digest,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def _report(link: str, value: str, note: str, expect: list[str], shot: str) -> str:
    """Open the link in Chromium (phone-sized), check what it shows, report, return the answer."""
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844},
                                       locale="zh-CN").new_page()
            assert page.goto(link).status == 200
            shown = page.inner_text("main")
            for words in expect:
                assert words in shown, (words, shown)
            page.screenshot(path=str(SHOTS / f"review-{shot}.png"), full_page=True)
            page.fill("#value", value)
            page.fill("#note", note)
            page.click("text=提交报送")
            page.wait_for_selector("text=报送成功")
            return page.inner_text("main")
        finally:
            browser.close()


def test_report_correct_return_and_report_again(tmp_path: Path) -> None:
    clock = [MONDAY]
    with portal_after_first_digest(tmp_path, clock) as (ctx, _, receiver):
        digest = next(r.json for r in receiver.requests if "泰山区民政局" in r.json["title"])
        link = link_for(digest["message"], ITEM)
        with ctx.db.session() as s:
            occ = s.scalar(select(AccessToken.occurrence_id).where(
                AccessToken.token_hash == tokens.hash_token(link.rsplit("/", 1)[1])))

        answer = _report(link, "250", "6月改造250户", [ITEM], "1-report")
        assert "等待督办办公室审核" in answer
        # a correction before review: the department link lists the item still
        answer = _report(link_for(digest["message"], ITEM), "260", "补录10户",
                         ["已报送，等待督办办公室审核销号"], "2-correct")
        with ctx.db.session() as s:
            assert [(r.value, bool(r.superseded_by)) for r in list_reports(s, occ)] == [
                (250, True), (260, False)]
            return_item(s, occ, "请附改造户名单", "office:王五",
                        at_local(date(2023, 7, 11), 10), ctx.calendar,
                        ctx.config.ladder.review.rework_days)
        clock[0] = at_local(date(2023, 7, 12), 9)
        answer = _report(link_for(digest["message"], ITEM), "260", "已附名单",
                         ["督办办公室退回", "请附改造户名单", "2023-07-18"], "3-returned")
        assert "等待督办办公室审核" in answer
        with ctx.db.session() as s:
            assert s.get(Occurrence, occ).status == "reported"
            accept(s, occ, "office:王五", at_local(date(2023, 7, 13), 10))
            assert s.get(Occurrence, occ).status == "closed"
