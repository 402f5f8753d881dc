"""The report page through FastAPI's TestClient: forms, links, CSRF, one failure page for every
kind of bad link, nothing changed by a GET, and no token in any page or log line."""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from anyio import to_thread
from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import (
    AccessToken,
    AuditEntry,
    Department,
    ExtensionRequest,
    Occurrence,
    Report,
)
from duban.plan.config import load_config
from duban.reports import tokens
from duban.reports.evidence import EVIDENCE_LIMIT
from duban.service import Context, setup
from duban.settings import Settings
from portal import pages
from portal.pages import failure_page
from portal.security import csrf_token, load_secret
from tests.support.net import free_port
from tests.support.paths import CONFIG_DIR, REPO
from tests.support.reports import (
    HOMES,
    NOW,
    PDF,
    SAMPLE,
    any_occ_of,
    counts,
    file_report,
    occ_id,
    sign_off,
)
from tests.support.site import Site, open_site

FAILURE = failure_page(load_config(CONFIG_DIR).office)


@pytest.fixture
def site(loaded_sqlite) -> Iterator[Site]:
    yield from open_site(loaded_sqlite)


@pytest.fixture
def site_both(loaded) -> Iterator[Site]:
    yield from open_site(loaded)


def _is_failure(response) -> bool:
    return response.status_code == 404 and response.text == FAILURE


def _headers_ok(response) -> None:
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]


# -- the form ---------------------------------------------------------------------------------


def test_the_form_shows_the_item_and_a_get_changes_nothing(site_both: Site) -> None:
    site = site_both
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    dept = site.token("taishan-mzj", "department")
    before = counts(site.ctx)
    for _ in range(3):  # a mail scanner, a preview, the person
        page = site.client.get(f"/r/{link}")
        listing = site.client.get(f"/d/{dept}")
    assert counts(site.ctx) == before
    assert page.status_code == 200 and listing.status_code == 200
    _headers_ok(page)
    for words in ("特殊困难老年人家庭适老化改造", "2023-06", "2023-07-07", "不少于2200户",
                  "改造户数（户）", "泰山区民政局", 'name="viewport"', "签收"):
        assert words in page.text, words
    assert link not in page.text and dept not in listing.text
    assert "http" not in page.text.replace('placeholder="https://"', "")  # no external assets


def test_a_report_spends_the_link_and_a_resubmission_gets_the_same_page(site_both: Site) -> None:
    site = site_both
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    csrf, nonces = site.form(link)
    fields = {"csrf": csrf, "nonce": nonces[0], "kind": "progress", "value": "260",
              "note": "6月新增260户", "problems": "资金未到位", "support": "请市里协调资金"}
    first = site.post(link, **fields)
    assert first.status_code == 200 and "报送成功" in first.text
    _headers_ok(first)
    again = site.post(link, **fields)  # a double click, a retry after a timeout
    assert again.status_code == 200 and again.text == first.text
    with site.ctx.db.session() as s:
        reports = s.scalars(select(Report).where(Report.occurrence_id == occ)).all()
        used = s.scalar(select(AccessToken.used_at).where(
            AccessToken.token_hash == tokens.hash_token(link)))
    assert len(reports) == 1 and used == NOW
    assert (reports[0].problems, reports[0].support_needed) == ("资金未到位", "请市里协调资金")
    spent = site.client.get(f"/r/{link}")  # shows the report, read-only
    assert spent.status_code == 200 and "该事项已报送" in spent.text and "<form" not in spent.text
    assert _is_failure(site.post(link, **{**fields, "nonce": secrets.token_hex(16)}))


def test_an_acknowledgement_keeps_the_link_for_the_report(site: Site) -> None:
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    csrf, nonces = site.form(link)
    ack = site.post(link, csrf=csrf, nonce=nonces[1], kind="ack")
    assert ack.status_code == 200 and "签收成功" in ack.text
    assert "截止日期2023-07-07不变" in ack.text
    page = site.client.get(f"/r/{link}")
    assert "已签收" in page.text
    done = site.report(link, kind="done", value="300")
    assert "报送成功" in done.text and "等待督办办公室审核销号" in done.text


def test_bad_input_comes_back_with_its_message_and_records_nothing(site: Site) -> None:
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    before = counts(site.ctx)
    cases = [
        ({"value": "两百"}, None, "指标数值：“两百”不是数字"),
        ({"value": "-1"}, None, "数值不能为负数"),
        ({"value": "5", "unit": "个"}, None, "单位“个”与指标单位“户”不符"),
        ({"value": "5", "note": "长" * 2001}, None, "说明过长"),
        ({"value": "5"}, {"evidence_file": ("a.exe", b"MZ")}, "不支持的文件类型"),
        ({"value": "5"}, {"evidence_file": ("a.pdf", PDF + b"0" * EVIDENCE_LIMIT)}, "文件过大"),
        ({"value": "5", "evidence_url": "https://x.org/a"},
         {"evidence_file": ("a.pdf", PDF)}, "链接或文件其中之一"),
    ]
    for data, files, message in cases:
        response = site.report(link, files=files, kind="done", **data)
        assert response.status_code == 422, message
        assert message in response.text, message
        if data["value"] != "5":
            assert f'value="{data["value"]}"' in response.text  # what was typed is kept
    assert counts(site.ctx) == before


def test_an_uploaded_file_is_kept(site: Site) -> None:
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    response = site.report(link, files={"evidence_file": ("台账.pdf", PDF)}, kind="done",
                           value="12")
    assert "报送成功" in response.text
    assert len(list((site.ctx.settings.home / "evidence").glob("*.pdf"))) == 1


def test_a_closed_item_shows_a_notice_instead_of_the_form(site: Site) -> None:
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    file_report(site.ctx, occ, value=5)  # entered by the office meanwhile, say
    sign_off(site.ctx, occ)  # and signed off (销号)
    page = site.client.get(f"/r/{link}")
    assert page.status_code == 200 and "该事项已办结" in page.text and "<form" not in page.text


def test_an_extension_request_from_the_page_waits_for_the_office(site: Site) -> None:
    """The digest says 如需延期，请在报送页面提出申请: the page takes it; the link stays live."""
    occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    csrf, nonces = site.form(link)
    assert len(nonces) == 3  # report, acknowledgement, extension
    ask = {"csrf": csrf, "nonce": nonces[2], "kind": "extend", "reason": "数据核对中"}
    bad = site.post(link, **ask, until="2023-07-08")  # a Saturday
    assert bad.status_code == 422 and "不是工作日" in bad.text
    assert site.post(link, **ask, until="7月14日").status_code == 422
    first = site.post(link, **ask, until="2023-07-14")
    again = site.post(link, **ask, until="2023-07-14")  # a double click
    assert first.status_code == again.status_code == 200
    assert "延期申请已提交" in first.text and first.text == again.text
    with site.ctx.db.session() as s:
        requests = s.scalars(select(ExtensionRequest)).all()
        used = s.scalar(select(AccessToken.used_at).where(
            AccessToken.token_hash == tokens.hash_token(link)))
        audit = s.scalars(select(AuditEntry.actor).where(
            AuditEntry.verb == "extension_requested")).all()
    assert [(r.requested_due_on.isoformat(), r.state, r.reason) for r in requests] == [
        ("2023-07-14", "pending", "数据核对中")]
    assert used is None and audit == ["department:taishan-mzj"]
    page = site.client.get(f"/r/{link}")
    assert "已申请延至2023-07-14，待督办办公室审批" in page.text
    assert 'value="extend"' not in page.text


# -- one failure page for everything -------------------------------------------------------------


def test_every_bad_link_gets_the_same_page(site_both: Site) -> None:
    site = site_both
    ctx = site.ctx
    occ = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    theirs = occ_id(ctx, HOMES, "daiyue-mzj", "2023-06")
    used = site.link(occ)
    site.report(used, kind="done", value="1")
    other = occ_id(ctx, "elderly-canteens/progress", "taishan-mzj", "2023-06")
    live = site.link(other)
    csrf, nonces = site.form(live)
    expired = site.link(other, now=NOW - timedelta(days=31))
    cross = site.token("taishan-mzj", "link", theirs)  # a link row naming another's item
    dept = site.token("taishan-mzj", "department")
    cli = site.token("taishan-mzj", "cli")
    other_csrf, _ = site.form(site.link(theirs))
    before = counts(ctx)
    forged = secrets.token_urlsafe(32)
    good = {"csrf": csrf, "nonce": nonces[0], "kind": "done", "value": "3"}
    attempts = {
        "forged GET": site.client.get(f"/r/{forged}"),
        "forged POST": site.post(forged, **good),
        "truncated": site.client.get(f"/r/{live[:-4]}"),
        "overlong": site.client.get(f"/r/{live * 8}"),
        "used POST": site.post(used, **{**good, "nonce": secrets.token_hex(16)}),
        "expired GET": site.client.get(f"/r/{expired}"),
        "expired POST": site.post(expired, **good),
        "cross-department GET": site.client.get(f"/r/{cross}"),
        "cross-department POST": site.post(cross, **good),
        "department token on /r/": site.client.get(f"/r/{dept}"),
        "cli token on /r/": site.client.get(f"/r/{cli}"),
        "link token on /d/": site.client.get(f"/d/{live}"),
        "no CSRF": site.post(live, **{**good, "csrf": ""}),
        "wrong CSRF": site.post(live, **{**good, "csrf": other_csrf}),
        "bad nonce": site.post(live, **{**good, "nonce": "1234"}),
        "bad kind": site.post(live, **{**good, "kind": "delete"}),
        "not a form": site.client.post(f"/r/{live}", content=b"\x00\x01",
                                       headers={"content-type": "multipart/form-data"}),
        "another's item via /d/": site.client.post(f"/d/{dept}", data={
            "csrf": _dept_csrf(site, dept), "occurrence": str(theirs)}),
        "/d/ without CSRF": site.client.post(f"/d/{dept}", data={"occurrence": str(other)}),
        "unknown path": site.client.get("/admin"),
        "wrong method": site.client.put(f"/r/{live}"),
    }
    for name, response in attempts.items():
        assert _is_failure(response), name
        _headers_ok(response)
    assert counts(ctx) == before
    assert "报送成功" in site.post(live, **good).text  # the live link still works


def _dept_csrf(site: Site, dept: str) -> str:
    """What the department page's forms carry (computed: a department may have no items)."""
    return csrf_token(load_secret(site.ctx.settings.home), "d", dept)


def test_no_department_reaches_another_departments_item_through_the_page(site: Site) -> None:
    ctx = site.ctx
    owned = {code: any_occ_of(ctx, code) for code in SAMPLE}
    pairs = [(a, b) for a, b in itertools.permutations(SAMPLE, 2) if owned[b] is not None]
    before = counts(ctx)
    for submitter, owner in pairs:
        dept = site.token(submitter, "department")
        forged = site.token(submitter, "link", owned[owner])
        opened = site.client.post(f"/d/{dept}", data={"csrf": _dept_csrf(site, dept),
                                                       "occurrence": str(owned[owner])})
        assert _is_failure(opened), (submitter, owner)
        assert _is_failure(site.client.get(f"/r/{forged}")), (submitter, owner)
    after = counts(ctx)
    assert (after["reports"], after["used_tokens"]) == (before["reports"], before["used_tokens"])


def test_too_many_failures_from_one_address_are_slowed_down(loaded_sqlite) -> None:
    for site in open_site(loaded_sqlite, limit=3):
        for _ in range(3):
            assert _is_failure(site.client.get(f"/r/{secrets.token_urlsafe(32)}"))
        blocked = site.client.get(f"/r/{secrets.token_urlsafe(32)}")
        assert blocked.status_code == 429 and "尝试次数过多" in blocked.text
        occ = occ_id(site.ctx, HOMES, "taishan-mzj", "2023-06")
        assert site.client.get(f"/r/{site.link(occ)}").status_code == 200  # never a valid link


# -- the department's page ----------------------------------------------------------------------


def test_the_department_page_lists_open_items_and_opens_a_fresh_form(site: Site) -> None:
    ctx = site.ctx
    done = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    file_report(ctx, done, value=5)
    sign_off(ctx, done)  # signed off (销号): off the list; awaiting review, it stays (correctable)
    dept = site.token("taishan-mzj", "department", days=90)
    listing = site.client.get(f"/d/{dept}")
    assert listing.status_code == 200 and "泰山区民政局" in listing.text
    listed = [int(i) for i in re.findall(r'name="occurrence" value="(\d+)"', listing.text)]
    with ctx.db.session() as s:
        open_items = set(s.scalars(select(Occurrence.id).join(Department).where(
            Department.code == "taishan-mzj", Occurrence.status == "open")))
    assert set(listed) == open_items and done not in listed and len(listed) == 8
    target = listed[0]
    opened = site.client.post(f"/d/{dept}", data={"csrf": _dept_csrf(site, dept),
                                                   "occurrence": str(target)})
    assert opened.status_code == 303
    location = opened.headers["location"]
    assert re.fullmatch(r"/r/[A-Za-z0-9_-]{43}", location)
    page = site.client.get(location)
    assert page.status_code == 200 and "提交报送" in page.text
    link = location.removeprefix("/r/")
    figure = ({"numerator": "7", "denominator": "7"} if 'name="numerator"' in page.text
              else {"value": "7"})  # a rate or an average asks for its two parts
    assert "报送成功" in site.report(link, kind="done", **figure).text
    with ctx.db.session() as s:
        minted = s.scalar(select(AccessToken).where(
            AccessToken.token_hash == tokens.hash_token(link)))
        assert (minted.purpose, minted.occurrence_id) == ("link", target)
        audit = s.scalars(select(AuditEntry).where(AuditEntry.verb == "token_issued")).all()
    assert [(a.actor, a.detail.get("via"), a.detail.get("occurrence")) for a in audit] == [
        ("system", None, None), ("department:taishan-mzj", "department_page", target)]
    assert dept not in site.client.get(f"/d/{dept}").text


def test_overdue_is_said_once_and_a_spent_link_points_to_the_correction(site: Site) -> None:
    """逾期 N 个工作日, once (not "逾期，逾期…"); reported late, an item awaiting review is no
    longer counted late; until the office reviews, the department is told how to correct."""
    ctx = site.ctx
    site.now = at_local(date(2023, 7, 12), 10)  # HOMES 2023-06 was due 2023-07-07 (a Friday)
    occ = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    late = ctx.calendar.workdays_late(date(2023, 7, 7), date(2023, 7, 12))
    assert late == 3
    dept = site.token("taishan-mzj", "department", days=90)
    link = site.link(occ)
    for page in (site.client.get(f"/r/{link}").text, site.client.get(f"/d/{dept}").text):
        assert f"逾期 {late} 个工作日" in page
        assert "逾期，" not in page and "已逾期" not in page
    done = site.report(link, kind="done", value="12")
    assert done.status_code == 200 and pages.CORRECT_FROM_PAGE in done.text
    spent = site.client.get(f"/r/{link}")
    assert "只读" in spent.text and pages.CORRECT_FROM_PAGE in spent.text
    assert "<form" not in spent.text
    listing = site.client.get(f"/d/{dept}").text
    card = next(c for c in listing.split('<form class="card"')[1:]
                if f'value="{occ}"' in c)
    assert "已报送·待审核" in card and "个工作日" not in card
    sign_off(ctx, occ)
    closed = site.client.get(f"/r/{link}").text
    assert pages.CORRECT_FROM_PAGE not in closed and "如需更正，请联系" in closed


# -- tokens stay out of pages and logs ----------------------------------------------------------


def test_no_token_in_any_page_or_log_record(site: Site, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    ctx = site.ctx
    occ = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    link = site.link(occ)
    dept = site.token("taishan-mzj", "department")
    pages = [site.client.get(f"/r/{link}").text]
    csrf, nonces = site.form(link)
    pages.append(site.post(link, csrf=csrf, nonce=nonces[1], kind="ack").text)
    pages.append(site.post(link, csrf=csrf, nonce=nonces[0], kind="done", value="x").text)
    pages.append(site.post(link, csrf=csrf, nonce=nonces[0], kind="done", value="9").text)
    pages.append(site.client.get(f"/r/{link}").text)
    pages.append(site.client.get(f"/d/{dept}").text)
    other = occ_id(ctx, "elderly-canteens/progress", "taishan-mzj", "2023-06")
    opened = site.client.post(f"/d/{dept}", data={"csrf": _dept_csrf(site, dept),
                                                   "occurrence": str(other)})
    minted = opened.headers["location"].removeprefix("/r/")
    site.issued.append(minted)
    pages.append(site.client.get(f"/r/{minted}").text)
    assert len(site.issued) == 3
    server_side = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert any(r.name == "duban.portal" for r in server_side)
    for token in site.issued:
        assert not [p for p in pages if token in p]
        for record in server_side:
            assert token not in record.getMessage()
            assert token not in (record.exc_text or "")


# The test's own HTTP client logs the URLs it requests (it holds the links, like the person):
# those lines are not the system's.
CLIENT_LOGGERS = ("httpx", "httpcore")


# -- the real server process ----------------------------------------------------------------------



def test_python_m_duban_portal_creates_the_schema_and_logs_no_token(tmp_path) -> None:
    """The command `duban up` starts: a fresh database gets its schema before the first request,
    and the server's own output (uvicorn included) never shows a link."""
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    port = free_port()
    env = {**os.environ, "DUBAN_HOME": str(tmp_path), "DUBAN_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "portal", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server)
        ctx = Context(Settings(home=tmp_path, database_url=url, config_dir=CONFIG_DIR,
                               notify_config=CONFIG_DIR / "x.yaml", portal_url=base))
        setup(ctx, NOW)  # the schema is already there: the server made it
        occ = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
        with ctx.db.session() as s:
            link = tokens.issue(s, s.get(Occurrence, occ).department, datetime.now(UTC),
                                "link", occ)
        page = httpx.get(f"{base}/r/{link}")
        assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer"
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
        nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page.text)[1]
        done = httpx.post(f"{base}/r/{link}", data={"csrf": csrf, "nonce": nonce,
                                                     "kind": "done", "value": "8"})
        assert done.status_code == 200 and "报送成功" in done.text
        spent = httpx.get(f"{base}/r/{link}")
        assert spent.status_code == 200 and "该事项已报送" in spent.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    log = output.decode("utf-8", "replace")
    assert "Uvicorn running" in log or "Application startup complete" in log
    assert link not in log and "/r/" not in log


def _wait_until_up(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90  # a cold start on a loaded machine takes ~25 s
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("python -m portal did not answer /healthz")


def test_every_worker_thread_has_a_connection_in_the_ledger_pool(db_url, tmp_path) -> None:
    settings = Settings(home=tmp_path, database_url=db_url, config_dir=CONFIG_DIR,
                        portal_threads=12)
    ctx = Context(settings)
    setup(ctx, NOW)
    assert ctx.db.engine.pool.size() == 12  # PostgreSQL and SQLite alike (was 5 + 10 overflow)
    for site in open_site(ctx):
        threads = site.client.portal.call(
            lambda: to_thread.current_default_thread_limiter().total_tokens)
        assert threads == 12 == ctx.db.engine.pool.size()
        assert site.client.get("/healthz").status_code == 200
    assert Settings(home=tmp_path, config_dir=CONFIG_DIR).portal_threads == 40  # anyio's default
