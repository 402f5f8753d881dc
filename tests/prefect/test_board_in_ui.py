"""督办总览 in the real Prefect UI: `duban up` on free ports, the digest run from its deployment,
then headless Chromium opens the Artifacts page, follows duban-board to its latest version and
sees the board rendered.

Screenshots are kept as test-output/prefect-board.png (the first screen) and
prefect-board-full.png (the whole board), gitignored, for people to look at.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from cli.up_cmd import READY
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.support.net import free_port
from tests.support.paths import REPO
from tests.support.up import READY_TIMEOUT, Up, api, eventually

SHOT = REPO / "test-output" / "prefect-board.png"
UI_TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.prefect,
    pytest.mark.browser,
    needs_chromium,
]


def run_digest(port: int, as_of: str) -> str:
    """Start 发送督办汇总 from its deployment, as the office would from the UI; the run's id."""
    (deployment,) = api(port, "/deployments/filter",
                        {"flows": {"name": {"any_": ["发送督办汇总"]}}})
    return api(port, f"/deployments/{deployment['id']}/create_flow_run",
               {"parameters": {"as_of": as_of}})["id"]


def latest_board(port: int) -> dict | None:
    found = api(port, "/artifacts/latest/filter", {"artifacts": {"key": {"any_": ["duban-board"]}}})
    return found[0] if found else None


def show_board(port: int, artifact_id: str) -> str:
    """Artifacts page -> the duban-board key (its versions) -> the latest version, rendered;
    returns the page's text."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1100}, locale="zh-CN")
            SHOT.parent.mkdir(parents=True, exist_ok=True)
            try:
                page.goto(f"http://127.0.0.1:{port}/artifacts", timeout=UI_TIMEOUT_MS)
                page.get_by_text("duban-board", exact=True).first.click(timeout=UI_TIMEOUT_MS)
                page.wait_for_url("**/artifacts/key/duban-board", timeout=UI_TIMEOUT_MS)
                page.locator('a[href*="/artifacts/artifact/"]').first.click(timeout=UI_TIMEOUT_MS)
                page.wait_for_url(f"**/artifacts/artifact/{artifact_id}", timeout=UI_TIMEOUT_MS)
                page.get_by_role("heading", name="督办总览").wait_for(state="visible",
                                                                  timeout=UI_TIMEOUT_MS)
                page.get_by_text("单位排名（按逾期事项）").wait_for(state="visible")
            except Exception:
                page.screenshot(path=str(SHOT.with_name("prefect-board-failed.png")),
                                full_page=True)
                print(page.url, page.inner_text("body")[:2000])
                raise
            page.screenshot(path=str(SHOT))  # the first screen, as a supervisor sees it
            # The UI scrolls inside its own container: grow the window to show the whole board.
            height = page.evaluate("Math.max(...[...document.querySelectorAll('*')]"
                                   ".map(e => e.scrollHeight))")
            page.set_viewport_size({"width": 1440, "height": min(int(height) + 40, 12_000)})
            page.screenshot(path=str(SHOT.with_name("prefect-board-full.png")))
            return page.inner_text("body")
        finally:
            browser.close()


def test_the_board_artifact_renders_in_the_prefect_ui(tmp_path: Path) -> None:
    port = free_port()
    up = Up(tmp_path, port, free_port(), "--no-initial-runs", "--no-portal")
    try:
        up.wait_for(READY, READY_TIMEOUT)
        run_id = run_digest(port, "2023-10-09")
        board = eventually(lambda: latest_board(port), 120)
        assert board, f"no duban-board artifact from run {run_id}:\n" + "".join(up.output)
        assert board["flow_run_id"] == run_id and board["data"].startswith("# 督办总览")
        text = show_board(port, board["latest_id"])
        code, _ = up.stop(signal.SIGTERM)
        assert code == 0
    finally:
        up.kill()
    assert "督办总览" in text and "2023-10-09" in text
    assert "各区县汇总" in text and "泰山区" in text and "指标进度" in text
    assert SHOT.stat().st_size > 20_000
