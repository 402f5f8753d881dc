"""The drill (python -m tools.drill) and the pieces it relies on.

The drill itself needs PostgreSQL: skipped with the reason where none answers, mandatory in CI
(DUBAN_REQUIRE_POSTGRES=1). It runs in a subprocess, as an operator would run it, and takes
about two minutes on two cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from duban.chase.dispatch import LEASE, lease
from duban.settings import SettingsError
from tests.support.paths import REPO
from tools.drill import Proc, Receiver, descendants, kill_tree, start, write_routes

DRILL_TIMEOUT = 600


# -- the lease ---------------------------------------------------------------------------------


def test_lease_defaults_to_ten_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_DISPATCH_LEASE_SECONDS", raising=False)
    assert lease() == LEASE == timedelta(minutes=10)


def test_lease_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_DISPATCH_LEASE_SECONDS", "45")
    assert lease() == timedelta(seconds=45)


@pytest.mark.parametrize("raw", ["0", "-5", "1.5", "ten", "１０", "²"])
def test_a_lease_that_is_not_whole_positive_seconds_is_refused(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("DUBAN_DISPATCH_LEASE_SECONDS", raw)
    with pytest.raises(SettingsError, match="DUBAN_DISPATCH_LEASE_SECONDS"):
        lease()


# -- the drill's tools ------------------------------------------------------------------------


def test_kill_tree_reaches_children_in_their_own_sessions(tmp_path: Path) -> None:
    """Prefect's process worker starts each flow run in a new session: killing the worker's
    process group alone would leave the run going. kill_tree must take the whole tree."""
    script = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
              " start_new_session=True)\n"
              "time.sleep(120)\n")
    proc: Proc = start("tree", [sys.executable, "-c", script], dict(os.environ),
                       tmp_path / "tree.log", tmp_path)
    deadline = time.monotonic() + 20
    while not descendants(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = descendants(proc.pid)
    assert child, "the grandchild did not start"
    assert os.getsid(child[0]) != os.getsid(proc.pid)  # its own session, as in Prefect
    killed = kill_tree(proc)
    assert set(child) <= set(killed) and not proc.alive()
    time.sleep(0.2)
    for pid in child:
        state = _state(pid)
        assert state in (None, "Z"), f"{pid} survived in state {state}"


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def test_receiver_gets_each_digest_as_composed(tmp_path: Path) -> None:
    """The drill matches what arrived to digests by (tag, title, body): apprise's json:// must
    deliver the composed text unchanged."""
    from notifications import Notifier, OutgoingMessage

    receiver = Receiver()
    receiver.start()
    try:
        routes = write_routes(tmp_path / "notify.yaml", receiver.port, ["mzj", "office"])
        body = "泰安市民政局：\n一、社区养老服务行动\n  1. 适老化改造 —— 10月16日到期\n链接 http://x/r/ab"
        messages = [OutgoingMessage(key="digest:1", tag="mzj", title="【督办】市民政局 2023-10-16",
                                    body=body),
                    OutgoingMessage(key="digest:2", tag="office", title="【督办】督办办公室",
                                    body="督办办公室：\n无")]
        results = Notifier(routes).send_many(messages)
        assert [r.status for r in results] == ["sent", "sent"]
        got = {(m.tag, m.title, m.body) for m in receiver.snapshot()}
        assert got == {(m.tag, m.title, m.body) for m in messages}
    finally:
        receiver.close()


# -- the drill ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.prefect
def test_drill_two_workers_one_killed_mid_send_loses_nothing(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "drill.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    drill = subprocess.Popen(
        [sys.executable, "-m", "tools.drill", "--pg", postgres_admin_url, "--json", str(out)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        output, _ = drill.communicate(timeout=DRILL_TIMEOUT)
    except subprocess.TimeoutExpired:
        drill.send_signal(signal.SIGTERM)  # the drill cleans up its processes and databases
        output, _ = drill.communicate(timeout=120)
    print(output)
    assert drill.returncode == 0, output[-8000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    figures = result["figures"]
    assert result["ok"] and result["violations"] == []
    assert figures["api_without_auth"] == 401
    assert figures["claimed_by_killed_worker"] > 0  # it really died mid-send
    assert figures["reminders_recorded"] == figures["reminders_owed"] > 1000
    assert figures["reminder_states"] == {"sent": sum(figures["reminder_states"].values())}
    assert figures["reports"] == 7
