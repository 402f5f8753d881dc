"""Headless Chromium for browser tests: Debian's build (installed by ./run test), no network
chatter, no sandbox (containers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def portal_after_first_digest(tmp_path: Path, clock: list) -> Iterator[tuple]:
    """The report page live on 127.0.0.1 with the shipped plan loaded, action 2 chased and
    dispatched on MONDAY to a real HTTP receiver: yields (ctx, the dispatch result, receiver).
    The page's clock is `clock[0]`, so a test can move time on."""
    from duban.service import Context, chase, dispatch, setup
    from duban.settings import Settings
    from notifications import notifier_for
    from portal import create_app
    from tests.support.ledger import LOADED_AT
    from tests.support.live_server import LiveServer
    from tests.support.paths import CONFIG_DIR
    from tests.support.receivers import HttpReceiver

    with HttpReceiver() as receiver:
        notify = tmp_path / "notify.yaml"
        notify.write_text(f"version: 1\nurls:\n  - json://127.0.0.1:{receiver.port}/hook:\n"
                          "      tag: always\n", encoding="utf-8")
        settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'duban.db'}",
                            config_dir=CONFIG_DIR, notify_config=notify,
                            portal_url="http://127.0.0.1:1")
        app = create_app(Context(settings), clock=lambda: clock[0])
        with LiveServer(app) as server:
            ctx = Context(settings.model_copy(update={"portal_url": server.base_url}))
            setup(ctx, LOADED_AT)
            chase(ctx, MONDAY, [2])
            yield ctx, dispatch(ctx, MONDAY, notifier_for(ctx, MONDAY)), receiver
