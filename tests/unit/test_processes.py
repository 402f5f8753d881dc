"""`duban up`'s children after `duban up` dies without stopping them (SIGKILL): the kernel stops
them at once (PR_SET_PDEATHSIG), and a next start stops whatever its pid record still names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cli.processes import PIDS_FILE, start_child, stop_leftovers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if " Z " in Path(f"/proc/{pid}/stat").read_text():
                return True  # exited, waiting to be reaped by whoever adopted it
        except OSError:
            return True
        time.sleep(0.1)
    return False


def test_a_child_stops_when_duban_up_is_killed(tmp_path: Path) -> None:
    """A stand-in for `duban up` starts a child the way it starts the Prefect server and the
    page, then is SIGKILLed: the child gets SIGTERM from the kernel and exits."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from cli.processes import start_child
        child = start_child("sleeper", {SLEEPER!r}, dict(__import__("os").environ),
                            Path({str(tmp_path / "child.log")!r}))
        print(child.process.pid, flush=True)
        time.sleep(120)
    """)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child, 0.5)  # running while its parent lives
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        assert _gone(child, 10), f"child {child} outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(10)


def test_the_next_start_stops_what_a_killed_start_left(tmp_path: Path) -> None:
    """Where the kernel did not stop them (another OS, a child that ignores SIGTERM for a
    while), the pid record names them: the next start stops each one still running the same
    command, and leaves a pid that now runs something else alone."""
    leftover = subprocess.Popen(SLEEPER, start_new_session=True)
    other = subprocess.Popen(SLEEPER, start_new_session=True)
    dead_parent = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_parent.wait(10)
    try:
        record = tmp_path / PIDS_FILE
        record.parent.mkdir(parents=True)
        cmdline = " ".join(SLEEPER)
        record.write_text(json.dumps({"parent": dead_parent.pid, "children": [
            {"name": "Prefect server", "pid": leftover.pid, "cmdline": cmdline},
            {"name": "report portal", "pid": other.pid, "cmdline": "something else"},
        ]}))
        stopped = stop_leftovers(tmp_path, timeout=5)
        assert stopped == [f"Prefect server（pid {leftover.pid}）"]
        assert leftover.wait(10) == -signal.SIGTERM
        assert other.poll() is None  # not ours any more: untouched
        assert not record.exists()
    finally:
        for process in (leftover, other):
            process.kill()
            process.wait(10)


def test_a_child_started_normally_keeps_running(tmp_path: Path) -> None:
    child = start_child("sleeper", SLEEPER, dict(os.environ), tmp_path / "c.log")
    try:
        assert child.alive() and os.getpgid(child.process.pid) == child.process.pid
    finally:
        child.process.kill()
        child.process.wait(10)
