"""What supervisors see in the real Prefect UI at 1366×768 (an office laptop): `duban up` on free
ports, runs started from their deployments as the office would, headless Chromium.

- the Dashboard is not red on a day with nothing overdue, and red once a run finds overdue items;
- no table of 督办总览 or of an action's artifacts overflows its column (each table's right edge
  within the page, no scrolling container wider than it shows);
- the 登记报送 run form is labelled in Chinese, with its choices;
- a department's report on the page (its link, in Chromium) and the board published the same day
  give the same verdict for the target;
- screenshots for the README go to docs/screenshots/ (committed), failures to test-output/.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.up_cmd import READY
from duban.calendar.clock import local_day, utcnow
from duban.plan.progress import VERDICT_ZH
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.up import READY_TIMEOUT, Up, eventually
from tests.support.up import api as _api

SHOTS = REPO / "docs" / "screenshots"
FAILED_SHOTS = REPO / "test-output"
UI_TIMEOUT_MS = 60_000
LAPTOP = {"width": 1366, "height": 768}
BOARD_KEY = "00-duban-board"
ACTION_TITLE = "社区养老服务行动"
CREDENTIAL: dict[str, str] = {}  # `duban up` locks the API: its user:password, read at start


def _auth() -> tuple[str, str]:
    user, _, password = CREDENTIAL["auth"].partition(":")
    return user, password


def api(port: int, path: str, body: dict | None = None):
    return _api(port, path, body, _auth())

# For every table: its right edge, the page's width, and every ancestor (or itself) that is
# wider than it shows (scrollWidth > clientWidth), i.e. a column cut off or scrolled away.
MEASURE_TABLES = """() => [...document.querySelectorAll('table')].map(t => {
  const wide = [];
  for (let e = t; e && e !== document.body; e = e.parentElement) {
    if (e.scrollWidth > e.clientWidth + 1) wide.push(`${e.tagName}.${e.className}`);
  }
  return {right: t.getBoundingClientRect().right, page: document.documentElement.clientWidth,
          wide, head: t.innerText.slice(0, 30)};
})"""

pytestmark = [
    pytest.mark.prefect,
    pytest.mark.browser,
    needs_chromium,
]


def deployment_id(port: int, text: str) -> str:
    """The deployment whose name or flow's name says `text` (e.g. an action's title)."""
    flows = {f["id"]: f["name"] for f in api(port, "/flows/filter", {})}
    found = [d for d in api(port, "/deployments/filter", {})
             if text in d["name"] or text in flows.get(d["flow_id"], "")]
    assert found, f"no deployment for {text}"
    return found[0]["id"]


def start_run(port: int, text: str, **parameters) -> str:
    return api(port, f"/deployments/{deployment_id(port, text)}/create_flow_run",
               {"parameters": parameters})["id"]


def final_state(port: int, run_id: str, timeout: float = 240) -> dict:
    def done() -> dict | None:
        run = httpx.get(f"http://127.0.0.1:{port}/api/flow_runs/{run_id}", timeout=30,
                        auth=_auth()).json()
        state = run.get("state") or {}
        return state if state.get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") \
            else None
    state = eventually(done, timeout)
    assert state, f"run {run_id} did not finish"
    return state


def latest(port: int, key: str) -> dict | None:
    found = api(port, "/artifacts/latest/filter", {"artifacts": {"key": {"any_": [key]}}})
    return found[0] if found else None


class Browser:
    """One Chromium page at 1366×768; `shot` keeps a screenshot, `tables` measures tables."""

    def __init__(self, playwright, port: int) -> None:
        self.browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                  args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport=LAPTOP, locale="zh-CN")
        # The UI's own login stores the credential so; a supervisor types it once.
        self.page.add_init_script(
            f"localStorage.setItem('prefect-password', btoa({CREDENTIAL['auth']!r}))")
        self.base = f"http://127.0.0.1:{port}"

    def open(self, path: str, wait_text: str) -> str:
        for attempt in range(3):  # the UI can render an artifact page empty on a cold load
            self.page.goto(self.base + path, timeout=UI_TIMEOUT_MS)
            try:
                self.page.get_by_text(wait_text).first.wait_for(state="visible", timeout=20_000)
                self.page.wait_for_timeout(1000)
                return self.page.inner_text("body")
            except Exception:
                if attempt == 2:
                    FAILED_SHOTS.mkdir(exist_ok=True)
                    self.page.screenshot(path=str(FAILED_SHOTS / "ui-failed.png"), full_page=True)
                    raise
        return ""

    def tables(self) -> list[dict]:
        return self.page.evaluate(MEASURE_TABLES)

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / name
        self.page.screenshot(path=str(path))
        return path


def assert_fits(tables: list[dict], where: str) -> None:
    assert tables, f"no table on {where}"
    for table in tables:
        assert table["right"] <= table["page"], (where, table)
        assert not table["wide"], (where, table)


def test_supervisors_see_red_fitting_tables_and_chinese_forms(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    port, portal = free_port(), free_port()
    up = Up(tmp_path, port, portal, "--no-initial-runs")
    try:
        up.wait_for(READY, READY_TIMEOUT)
        CREDENTIAL["auth"] = (tmp_path / "prefect-auth").read_text(encoding="utf-8").strip()
        with sync_playwright() as playwright:
            ui = Browser(playwright, port)
            try:
                quiet = final_state(port, start_run(port, ACTION_TITLE, as_of="2023-06-26"))
                assert quiet["type"] == "COMPLETED" and quiet["name"] == "正常", quiet
                ui.open("/dashboard", "Flow Runs")
                assert bars(ui, "green") > 0, "the Dashboard did not draw the quiet run"
                assert bars(ui, "red", wait=0) == 0, "red on the Dashboard with nothing overdue"
                ui.shot("dashboard-quiet.png")

                late = final_state(port, start_run(port, ACTION_TITLE, as_of="2023-10-09"))
                assert late["type"] == "FAILED" and late["name"] == "有逾期", late
                ui.open("/dashboard", "Flow Runs")
                assert bars(ui, "red") > 0, "nothing red after a run with overdue items"
                ui.shot("dashboard.png")

                # The README's way to list them: the state name in the Runs page's address.
                runs = ui.open("/runs?state=有逾期", "2023-10-09")
                assert "有逾期" in runs and "2023-06-26" not in runs, runs[:1500]
                ui.shot("runs-overdue.png")

                digest = final_state(port, start_run(port, "发送督办汇总", as_of="2023-10-09"))
                assert digest["type"] == "COMPLETED", digest
                board = eventually(lambda: latest(port, BOARD_KEY), 60)
                text = ui.open(f"/artifacts/artifact/{board['latest_id']}", "单位排名")
                assert "督办总览" in text and "红 逾期" in text
                assert_fits(ui.tables(), "督办总览")
                ui.shot("board.png")

                for suffix in ("overdue", "summary"):
                    key = f"taimin-2023-12-02-{suffix}"
                    found = eventually(lambda k=key: latest(port, k), 30)
                    ui.open(f"/artifacts/artifact/{found['latest_id']}", "社区养老服务行动")
                    assert_fits(ui.tables(), key)
                    ui.shot(f"action-{suffix}.png")

                ui.open(f"/runs/flow-run/{late_id(port)}", "有逾期")
                ui.shot("run.png")

                form = ui.open(f"/deployments/deployment/{deployment_id(port, '登记报送')}/run",
                               "单位代码")
                for label in ("单位代码", "事项编号", "报送类型", "数值", "收到日期"):
                    assert label in form, form[:800]
                assert "department" not in form and "kind" not in form
                ui.shot("form.png")

                page_says = report_on_the_page(ui, tmp_path, portal)
                today = local_day(utcnow()).isoformat()
                assert final_state(port, start_run(port, "发送督办汇总", as_of=today))[
                    "type"] == "COMPLETED"
                fresh = eventually(lambda: _board_as_of(port, today), 60)
                ui.open(f"/artifacts/artifact/{fresh['id']}", "单位排名")
                rows = ui.page.locator("tr", has_text=CANTEENS).all_inner_texts()
                board_says = {v for row in rows for v in VERDICTS if v in row}
                assert board_says == {page_says}, (page_says, rows)
            finally:
                ui.browser.close()
        code, _ = up.stop(signal.SIGTERM)
        assert code == 0
    finally:
        up.kill()
    for name in ("dashboard.png", "board.png", "run.png", "form.png", "runs-overdue.png"):
        assert (SHOTS / name).stat().st_size > 20_000


CANTEENS = "城乡社区助老食堂"  # a summed target: the county bureau's figure counts in the city's
VERDICTS = tuple(VERDICT_ZH.values())


def report_on_the_page(ui: Browser, home: Path, portal: int) -> str:
    """A county bureau reports 42 canteens through its department link, as on a phone; returns
    the verdict the success page gives the city's figure."""
    issued = subprocess.run(
        [str(Path(sys.executable).with_name("duban")), "token", "issue", "taishan-mzj",
         "--purpose", "department"], capture_output=True, text=True, check=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))},
             "DUBAN_HOME": str(home)})
    path = re.search(r"/d/[A-Za-z0-9_-]+", issued.stdout)[0]
    page = ui.page
    page.goto(f"http://127.0.0.1:{portal}{path}", timeout=UI_TIMEOUT_MS)
    page.locator("form.card", has_text=CANTEENS).first.locator("button").click()
    page.fill("#value", "42")
    page.click("text=提交报送")
    page.get_by_text("本单位42家").first.wait_for(state="visible", timeout=UI_TIMEOUT_MS)
    said = re.search("全市(" + "|".join(VERDICTS) + ")", page.inner_text("body"))
    assert said, page.inner_text("body")[:1500]
    ui.shot("page-verdict.png")
    return said[1]


def _board_as_of(port: int, day: str) -> dict | None:
    found = api(port, "/artifacts/filter", {"artifacts": {"key": {"any_": [BOARD_KEY]}},
                                             "sort": "CREATED_DESC", "limit": 1})
    return found[0] if found and f"截至 **{day}**" in found[0]["data"] else None


def late_id(port: int) -> str:
    runs = api(port, "/flow_runs/filter",
               {"flow_runs": {"state": {"name": {"any_": ["有逾期"]}}}, "limit": 1})
    assert runs, "no run named 有逾期"
    return runs[0]["id"]


# Bars taller than the legend's small colour marks, in a colour: the Flow Runs chart's bars.
BARS = """(test) => [...document.querySelectorAll('*')].filter(e => {
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.height > 8 && [style.backgroundColor, style.fill].some(c => {
        const m = c && c.match(/rgba?\\((\\d+), (\\d+), (\\d+)/);
        if (!m) return false;
        const [r, g, b] = [+m[1], +m[2], +m[3]];
        return test === 'red' ? r > 180 && g < 110 && b < 110 : g > 150 && r < 120 && b < 150;
    });
}).length"""


def bars(ui: Browser, colour: str, wait: float = 30) -> int:
    """How many bars the Dashboard draws in `colour` (red: failed runs; green: completed),
    polled for up to `wait` seconds while the Dashboard's counts load."""
    deadline = time.monotonic() + wait
    while True:
        found = ui.page.evaluate(BARS, colour)
        if found or time.monotonic() > deadline:
            return found
        ui.page.wait_for_timeout(1000)
