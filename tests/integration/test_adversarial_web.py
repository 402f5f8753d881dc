"""The report page under attack and abuse (issue 14: web limits, report values; issue 12: the
root and /healthz; issue 16: a spent link shows the report). One regression test per case; a
real server (tests.support.live_server) where the socket matters, TestClient elsewhere."""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.ledger.models import AccessToken, Occurrence, Report
from duban.plan.progress import Goal
from duban.reports import tokens
from duban.reports.errors import ReportInputError
from duban.reports.extensions import decide
from duban.reports.inputs import check_text, parse_value
from duban.service import Context
from duban.settings import Settings
from portal import create_app
from portal.security import client_address
from portal.views import MAX_REQUEST_BYTES
from tests.support.live_server import LiveServer
from tests.support.reports import HOMES, NOW, PDF, VISITS_FINAL, counts, file_report, occ_id
from tests.support.site import Site, open_site

HOUSEHOLDS = Goal("at_least", 2200, None, "户", "sum")
PERCENT = Goal("at_least", 100, None, "%", "min")


@pytest.fixture
def site(loaded_sqlite: Context) -> Iterator[Site]:
    yield from open_site(loaded_sqlite, limit=3)


def _link(site: Site, period: str = "2023-06") -> str:
    return site.link(occ_id(site.ctx, HOMES, "taishan-mzj", period))


def _raw(port: int, request: bytes, timeout: float = 20) -> bytes:
    """Send `request` (headers, maybe part of a body) and read the answer without sending more."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return answer


def _chunked_upload() -> Iterator[bytes]:
    """A well-formed multipart body with one file part larger than the cap, sent chunked (no
    Content-Length to refuse it by)."""
    yield (b'--x\r\nContent-Disposition: form-data; name="evidence_file"; filename="a.pdf"\r\n'
           b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n")
    for _ in range(MAX_REQUEST_BYTES // 65536 + 20):
        yield b"0" * 65536
    yield b"\r\n--x--\r\n"


def _post_head(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


# -- sizes and uploads, on a real socket -----------------------------------------------------------


def test_a_huge_request_is_refused_before_its_body_and_a_bad_link_before_its_upload(
        loaded_sqlite: Context) -> None:
    site_app = create_app(loaded_sqlite)
    with LiveServer(site_app) as server:
        occ = occ_id(loaded_sqlite, HOMES, "taishan-mzj", "2023-06")
        with loaded_sqlite.db.session() as s:  # the server's clock is the real one
            link = tokens.issue(s, s.get(Occurrence, occ).department, datetime.now(UTC),
                                "link", occ)
        started = time.monotonic()
        huge = _raw(server.port, _post_head(f"/r/{link}", 300 * 1024 * 1024))  # no body sent
        assert huge.startswith(b"HTTP/1.1 413") and "提交内容过大".encode() in huge
        guessed = _raw(server.port, _post_head(f"/r/{secrets.token_urlsafe(32)}", 5_000_000))
        assert guessed.startswith(b"HTTP/1.1 404")  # answered without reading 5 MB it never got
        assert "链接无效".encode() in guessed
        assert time.monotonic() - started < 30
        streamed = httpx.post(server.url(f"/r/{link}"), content=_chunked_upload(), timeout=60,
                              headers={"content-type": "multipart/form-data; boundary=x"})
        assert streamed.status_code == 413 and "提交内容过大" in streamed.text
        assert streamed.headers["cache-control"] == "no-store"


# -- per-link limits -----------------------------------------------------------------------------


def test_a_link_acknowledges_at_most_three_times(site: Site) -> None:
    link = _link(site)
    for round_ in range(4):
        csrf, nonces = site.form(link)
        answer = site.post(link, csrf=csrf, nonce=nonces[1], kind="ack")
        if round_ < tokens.LIMITS["acks"]:
            assert answer.status_code == 200 and "签收成功" in answer.text
    assert answer.status_code == 422 and "此链接已签收3次，达到上限" in answer.text
    again = site.post(link, csrf=csrf, nonce=nonces[1], kind="ack")  # same form: still refused
    assert again.status_code == 422
    assert "报送成功" in site.report(link, kind="done", value="5").text  # reporting still works


def test_a_link_requests_at_most_three_extensions(site: Site) -> None:
    link = _link(site)
    for round_ in range(4):
        csrf, nonces = site.form(link)
        answer = site.post(link, csrf=csrf, nonce=nonces[2], kind="extend",
                           until="2023-07-14", reason=f"第{round_}次")
        if round_ < 3:
            assert "延期申请已提交" in answer.text
            with site.ctx.db.session() as s:  # the office says no each time
                request_id = re.search(r"编号 (\d+)", answer.text)[1]
                decide(s, int(request_id), False, "office:王五", NOW)
    assert answer.status_code == 422 and "3次延期申请，达到上限" in answer.text


def test_a_department_link_opens_a_bounded_number_of_item_links(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tokens.LIMITS, "links_minted", 2)
    dept = site.token("taishan-mzj", "department")
    listing = site.client.get(f"/d/{dept}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', listing.text)[1]
    target = re.search(r'name="occurrence" value="(\d+)"', listing.text)[1]
    opened = [site.client.post(f"/d/{dept}", data={"csrf": csrf, "occurrence": target})
              for _ in range(3)]
    assert [o.status_code for o in opened] == [303, 303, 429]
    assert "此链接已打开2个填报页面，达到上限" in opened[2].text
    with site.ctx.db.session() as s:
        minted = s.scalars(select(AccessToken).where(AccessToken.purpose == "link")).all()
    assert len(minted) == 2
    assert all(m.expires_at - m.created_at == timedelta(days=tokens.MINTED_LINK_DAYS)
               for m in minted)


# -- the failure limiter ---------------------------------------------------------------------------


def test_stray_404s_do_not_count_and_a_valid_link_is_never_blocked(site: Site) -> None:
    for _ in range(20):  # a browser's own requests
        assert site.client.get("/favicon.ico").status_code == 404
    assert site.client.get(f"/r/{secrets.token_urlsafe(32)}").status_code == 404
    for _ in range(5):
        site.client.get(f"/r/{secrets.token_urlsafe(32)}")
    assert site.client.get(f"/r/{secrets.token_urlsafe(32)}").status_code == 429
    link = _link(site)
    page = site.client.get(f"/r/{link}")  # same address, valid link: served
    assert page.status_code == 200 and "提交报送" in page.text
    assert "报送成功" in site.report(link, kind="done", value="3").text


def test_x_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    from duban.settings import trusted_networks

    trusted = trusted_networks("10.0.0.5, 172.16.0.0/12")
    assert client_address("10.0.0.5", "203.0.113.9", trusted) == "203.0.113.9"
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.9, 172.16.1.1", trusted) \
        == "203.0.113.9"  # the client's own claim (1.2.3.4) is left of the real hop
    assert client_address("198.51.100.7", "203.0.113.9", trusted) == "198.51.100.7"
    assert client_address("10.0.0.5", "not-an-ip", trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", None, ()) == "10.0.0.5"
    with pytest.raises(ValueError):
        Settings(home="/tmp", config_dir="/tmp", portal_trusted_proxies="10.0.0.300")


def test_behind_a_trusted_proxy_one_guesser_does_not_block_a_colleague(
        loaded_sqlite: Context) -> None:
    settings = loaded_sqlite.settings.model_copy(update={"portal_trusted_proxies": "127.0.0.1"})
    app = create_app(Context(settings), failure_limit=3)
    with LiveServer(app) as server:
        guesser, colleague = {"x-forwarded-for": "203.0.113.9"}, {"x-forwarded-for": "203.0.113.10"}
        for _ in range(4):
            httpx.get(server.url(f"/r/{secrets.token_urlsafe(32)}"), headers=guesser)
        assert httpx.get(server.url(f"/r/{secrets.token_urlsafe(32)}"),
                         headers=guesser).status_code == 429
        assert httpx.get(server.url(f"/r/{secrets.token_urlsafe(32)}"),
                         headers=colleague).status_code == 404
    untrusted = create_app(loaded_sqlite, failure_limit=3)
    with LiveServer(untrusted) as server:  # no proxy configured: the header is ignored
        for n in range(4):
            httpx.get(server.url(f"/r/{secrets.token_urlsafe(32)}"),
                      headers={"x-forwarded-for": f"203.0.113.{n}"})
        assert httpx.get(server.url(f"/r/{secrets.token_urlsafe(32)}"),
                         headers={"x-forwarded-for": "198.51.100.1"}).status_code == 429


# -- report values and free text -------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1_000", "1e3", "1e308", "inf", "nan", "0x10", "١٢", "--1",
                                 "1.2.3", ""])
def test_python_literal_quirks_are_not_numbers(raw: str) -> None:
    with pytest.raises(ReportInputError) as caught:
        parse_value(raw, HOUSEHOLDS, "done")
    assert caught.value.field == "value"


def test_values_are_bounded() -> None:
    assert parse_value("1,000", HOUSEHOLDS, "done") == 1000
    assert parse_value("２２００", HOUSEHOLDS, "done") == 2200
    assert parse_value("22000", HOUSEHOLDS, "done") == 22000  # 10 times the target: allowed
    for raw, words in [(1.7e308, "远超目标"), ("22001", "远超目标"), ("-1", "负数"),
                       ("100.5", "百分比"), (float("nan"), "不是数字")]:
        goal = PERCENT if raw == "100.5" else HOUSEHOLDS
        with pytest.raises(ReportInputError) as caught:
            parse_value(raw, goal, "done")
        assert words in caught.value.zh, raw
    assert parse_value("30000", HOUSEHOLDS, "done", ceiling=20) == 30000  # configurable


def test_an_implausible_value_and_a_quirk_are_refused_end_to_end(loaded_sqlite: Context) -> None:
    occ = occ_id(loaded_sqlite, HOMES, "taishan-mzj", "2023-06")
    before = counts(loaded_sqlite)
    for value in (1e308, "1e308", "1_000", "99999999"):
        with pytest.raises(ReportInputError):
            file_report(loaded_sqlite, occ, value=value)
    visits = occ_id(loaded_sqlite, VISITS_FINAL, "mzj")
    with pytest.raises(ReportInputError):
        file_report(loaded_sqlite, visits, value="101")
    assert counts(loaded_sqlite) == before


def test_bidirectional_controls_are_removed_from_free_text(loaded_sqlite: Context) -> None:
    assert check_text("note", "正常\u202e文本\u2066", "说明") == "正常文本"
    occ = occ_id(loaded_sqlite, HOMES, "taishan-mzj", "2023-06")
    from duban.reports.evidence import EvidenceFile

    outcome = file_report(loaded_sqlite, occ, value=5, note="已完成\u202egnp.exe",
                          evidence=EvidenceFile("台账\u202efdp.pdf", PDF))
    with loaded_sqlite.db.session() as s:
        report = s.get(Report, outcome.report_id)
    assert report.note == "已完成gnp.exe"
    assert "\u202e" not in report.evidence and report.evidence.endswith("|台账fdp.pdf")


# -- the root, /healthz and a spent link (issues 12 and 16) ----------------------------------------


def test_the_root_explains_the_site_with_the_offices_contact(
        loaded_sqlite: Context, tmp_path) -> None:
    import shutil

    config = tmp_path / "config"
    shutil.copytree(loaded_sqlite.settings.config_dir, config)
    (config / "office.yaml").write_text(
        "name: 示例督办办公室\nphone: 0000-1234567\nemail: duban@example.org\n", encoding="utf-8")
    settings = loaded_sqlite.settings.model_copy(update={"config_dir": config})
    with TestClient(create_app(Context(settings))) as client:
        root = client.get("/")
    assert root.status_code == 200 and root.headers["referrer-policy"] == "no-referrer"
    for words in ("督办事项报送", "如何获得报送链接", "示例督办办公室", "0000-1234567",
                  "duban@example.org", 'name="viewport"'):
        assert words in root.text, words


def test_healthz_says_degraded_when_the_database_is_unreachable(
        loaded_sqlite: Context, tmp_path) -> None:
    with TestClient(create_app(loaded_sqlite)) as client:
        up = client.get("/healthz")
    assert (up.status_code, up.text) == (200, "ok")
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    closed = port.getsockname()[1]
    port.close()  # nothing listens there now
    down = loaded_sqlite.settings.model_copy(update={
        "database_url": f"postgresql+psycopg://postgres@127.0.0.1:{closed}/nowhere"})
    with TestClient(create_app(Context(down), upgrade_schema=False)) as client:
        answer = client.get("/healthz")
    assert (answer.status_code, answer.text) == (503, "degraded")


def test_a_spent_link_shows_what_was_reported_read_only(site: Site) -> None:
    link = _link(site)
    done = site.report(link, kind="done", value="260", note="6月新增260户",
                       evidence_url="https://example.org/tz.pdf")
    assert "报送成功" in done.text
    page = site.client.get(f"/r/{link}")
    assert page.status_code == 200 and "该事项已报送" in page.text and "<form" not in page.text
    for words in ("260户", "6月新增260户", "https://example.org/tz.pdf", "办结"):
        assert words in page.text, words
    csrf = re.search(r'name="csrf"', page.text)
    assert csrf is None  # nothing to submit
