"""Headless Chromium for browser tests: Debian's build (installed by ./run test), no network
chatter, no sandbox (containers)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import httpx
import pytest

from duban.calendar.clock import at_local
from tests.support.paths import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
SHOTS = REPO / "test-output"
MONDAY = at_local(date(2023, 7, 10), 9)
ITEM = "特殊困难老年人家庭适老化改造"


def link_for(body: str, item: str) -> str:
    """The report link of `item`, reached as a department does: the digest names the item and
    carries one department link; its page lists every open item, each opening its own form."""
    assert item in body
    department = re.search(r"http://127\.0\.0\.1:\d+/d/[A-Za-z0-9_-]+", body)[0]
    page = httpx.get(department).text
    card = next(c for c in page.split('<form class="card"')[1:] if item in c)
    fields = dict(re.findall(r'name="(csrf|occurrence)" value="([^"]+)"', card))
    opened = httpx.post(department, data=fields)
    assert opened.status_code == 303, opened.text
    return department.split("/d/")[0] + opened.headers["location"]
