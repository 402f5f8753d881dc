"""The two faults of the year: a channel that fails for a week, and a dispatch killed mid-run.

- Channel: the robot of the robot-routed department with the most items refuses every message
  (HTTP 503, errcode 130101) for FAILING_DAYS calendar days, from the first working day FAIL_AT
  or more into the window on which the department has an open item within the ladder's advance
  notice of its deadline (or past it): a week with nothing owed to it would test nothing. Its
  digests must show as undelivered and be tried again once it recovers.
- Kill: on the first working day from KILL_AT into the window, the day's chase
  (`flows.run.run_chase`, as `duban chase` runs it) runs in a subprocess, SIGKILLed with its
  whole process group as soon as the first digest of that day reaches a receiver; the chase then
  runs again in-process half an hour later (simulated), after the dispatch lease. Digests that
  were in flight may arrive twice (same digest: title and body); nothing may be lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from duban.ledger.models import Department, Digest, Occurrence
from tools.simulate.world import PROJECT_ROOT, World

FAIL_AT, FAILING_DAYS = 0.25, 7  # the failing week: from a quarter into the window
KILL_AT = 0.35  # the chase is killed on the first working day 35 % into the window
KILL_WAIT = 900.0  # seconds the killed chase may take to reach its first digest

CHASE_SNIPPET = (
    "import json, sys\n"
    "from flows.run import run_chase\n"
    "run_chase(sys.argv[1], json.loads(sys.argv[2]))\n"
)


@dataclass
class Faults:
    world: World
    first: date
    last: date
    failing_tag: str = ""
    failing_from: date | None = None
    kill_day: date | None = None
    killed: dict = field(default_factory=dict)
    refused_before: int = 0

    def __post_init__(self) -> None:
        with self.world.ctx.db.read() as s:
            counts = s.execute(select(Department.code, func.count(Occurrence.id))
                               .join(Occurrence, Occurrence.department_id == Department.id)
                               .group_by(Department.code)).all()
        robots = [(n, c) for c, n in counts if self.world.routes.get(c) == "robot"]
        self.failing_tag = max(robots)[1] if robots else "office"
        day = self.first + timedelta(days=round(self.span * KILL_AT))
        while not self.world.ctx.calendar.is_workday(day):
            day += timedelta(days=1)
        self.kill_day = day

    @property
    def span(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def failing_earliest(self) -> date:
        return self.first + timedelta(days=round(self.span * FAIL_AT))

    def failing_window(self) -> tuple[date, date] | None:
        """The failing week, once it has begun (None before)."""
        if self.failing_from is None:
            return None
        return self.failing_from, self.failing_from + timedelta(days=FAILING_DAYS - 1)

    def set_channel(self, day: date) -> None:
        if self.failing_from is None and day >= self.failing_earliest and self.owed_soon(day):
            self.failing_from = day
        window = self.failing_window()
        robot = self.world.robot
        if window is not None and window[0] <= day <= window[1]:
            robot.failing.add(self.failing_tag)
        else:
            robot.failing.discard(self.failing_tag)

    def owed_soon(self, day: date) -> bool:
        """Whether the failing department has an open item due within the ladder's advance notice
        (config/ladder.yaml) of `day`, or overdue: the ladder owes it reminders about now."""
        ctx = self.world.ctx
        if not ctx.calendar.is_workday(day):
            return False
        horizon = ctx.calendar.add_workdays(day, ctx.config.ladder.ladder.advance_notice)
        with ctx.db.read() as s:
            return s.scalar(select(func.count(Occurrence.id))
                            .join(Department, Occurrence.department_id == Department.id)
                            .where(Department.code == self.failing_tag,
                                   Occurrence.status == "open",
                                   Occurrence.due_on <= horizon)) > 0

    def kill_chase(self, as_of: str, actions: list[int], log) -> dict:
        """Run the day's chase in a subprocess and SIGKILL it at its first delivered digest."""
        import json

        inbox = self.world.inbox
        mark = len(inbox)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        log_path = self.world.home / "logs" / "killed-chase.log"
        with log_path.open("ab") as out:
            child = subprocess.Popen([sys.executable, "-c", CHASE_SNIPPET, as_of,
                                      json.dumps(actions)], env=env, cwd=PROJECT_ROOT,
                                     stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + KILL_WAIT
        while len(inbox) == mark and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = child.poll() is None
        if killed:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
        with self.world.ctx.db.read() as s:
            in_flight = s.execute(select(Digest.id, Digest.recipient)
                                  .where(Digest.state == "sending")).all()
        self.killed = {"killed": killed, "received_before_kill": len(inbox) - mark,
                       "in_flight": len(in_flight),
                       "in_flight_recipients": sorted({r for _, r in in_flight})}
        log(f"  killed the chase mid-dispatch: {self.killed['received_before_kill']} received, "
            f"{len(in_flight)} digests in flight" if killed else
            "  the chase to be killed ended before any digest arrived: not killed")
        return self.killed
