"""Fifty submissions at once, on SQLite and PostgreSQL: exactly one report.

Threads against the core service, and concurrent HTTP posts against a real uvicorn server on
127.0.0.1 (an ephemeral port): a double click times fifty, and fifty different forms racing for
one single-use link.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import func, select, update

from duban.ledger.models import AccessToken, Occurrence, Plan, Report
from duban.plan.config import load_config
from duban.reports import tokens
from duban.reports.errors import ReportRefused
from portal import create_app
from portal.pages import failure_page
from tests.support.live_server import LiveServer
from tests.support.paths import CONFIG_DIR
from tests.support.reports import HOMES, NOW, file_report, occ_id

CLIENTS = 50


def at_once(work: Callable[[int], Any], n: int = CLIENTS) -> list[Any]:
    """Run work(i) in n threads released together; results (or exceptions) in order."""
    gate = threading.Barrier(n)

    def one(i: int) -> Any:
        gate.wait()
        try:
            return work(i)
        except Exception as exc:  # collected for the assertions
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def report_rows(ctx, occurrence_id: int) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(Report)
                        .where(Report.occurrence_id == occurrence_id))


def test_fifty_identical_submissions_record_one_report(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    results = at_once(lambda _: file_report(loaded, occ, "progress", key="double-click",
                                            value="42", note="同一份"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len({r for r in results}) == 1  # the same answer for all fifty
    assert sum(not r.replayed for r in results) == 1
    assert report_rows(loaded, occ) == 1


def test_fifty_different_submissions_for_one_item_record_one_report(loaded) -> None:
    """Without office review the first closes the item and the 49 others are refused."""
    with loaded.db.session() as s:
        s.execute(update(Plan).values(review_required=False))
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    results = at_once(lambda i: file_report(loaded, occ, "done", key=f"k{i}", value=str(i)))
    recorded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(recorded) == 1
    assert all(isinstance(r, ReportRefused) and r.field == "occurrence_id" for r in refused)
    assert report_rows(loaded, occ) == 1


def test_fifty_different_submissions_awaiting_review_form_one_chain(loaded) -> None:
    """With review, each new report supersedes the standing one: decided one at a time (the
    item is locked), they form one chain of corrections, never a fork."""
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    results = at_once(lambda i: file_report(loaded, occ, "done", key=f"k{i}", value=str(i)))
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(r.supersedes_id is None for r in results) == 1
    superseded = [r.supersedes_id for r in results if r.supersedes_id is not None]
    assert len(set(superseded)) == len(superseded) == len(results) - 1  # a chain
    assert report_rows(loaded, occ) == len(results)


def _live_link(ctx, occurrence_id: int) -> str:
    with ctx.db.session() as s:
        return tokens.issue(s, s.get(Occurrence, occurrence_id).department, NOW, "link",
                            occurrence_id)


def _form(client: httpx.Client, url: str) -> tuple[str, str]:
    page = client.get(url)
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
    return csrf, re.search(r'name="nonce" value="([0-9a-f]+)"', page.text)[1]


def test_fifty_concurrent_posts_to_a_real_server_record_one_report(loaded, caplog) -> None:
    caplog.set_level(logging.INFO)
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    other = occ_id(loaded, "elderly-canteens/progress", "taishan-mzj", "2023-06")
    same, racing = _live_link(loaded, occ), _live_link(loaded, other)
    app = create_app(loaded, clock=lambda: NOW, failure_limit=10 * CLIENTS)  # 49 lose the race
    with LiveServer(app) as server:
        with httpx.Client() as client:
            csrf, nonce = _form(client, server.url(f"/r/{same}"))
            forms = [_form(client, server.url(f"/r/{racing}")) for _ in range(CLIENTS)]

        def double_click(_: int) -> httpx.Response:
            with httpx.Client(timeout=60) as c:
                return c.post(server.url(f"/r/{same}"), data={
                    "csrf": csrf, "nonce": nonce, "kind": "progress", "value": "42"})

        def racer(i: int) -> httpx.Response:
            with httpx.Client(timeout=60) as c:
                return c.post(server.url(f"/r/{racing}"), data={
                    "csrf": forms[i][0], "nonce": forms[i][1], "kind": "done", "value": str(i)})

        clicks = at_once(double_click)
        races = at_once(racer)
    assert [r.status_code for r in clicks] == [200] * CLIENTS
    assert len({r.text for r in clicks}) == 1 and "报送成功" in clicks[0].text
    assert report_rows(loaded, occ) == 1
    won = [r for r in races if r.status_code == 200]
    assert len(won) == 1 and "报送成功" in won[0].text
    failure = failure_page(load_config(CONFIG_DIR).office)
    assert all(r.status_code == 404 and r.text == failure for r in races if r not in won)
    assert report_rows(loaded, other) == 1
    with loaded.db.session() as s:
        used = s.scalars(select(AccessToken.used_at).where(AccessToken.token_hash.in_(
            [tokens.hash_token(same), tokens.hash_token(racing)]))).all()
    assert used == [NOW, NOW]
    server_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("http")]
    assert not [line for line in server_lines if same in line or racing in line]
