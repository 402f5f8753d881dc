"""The day loop: the office's year, one simulated day at a time.

Each day, at 09:00 Asia/Shanghai in the simulated clock: on a working day the real daily chase
(`flows.run.run_chase`: every action's flow, then 发送督办汇总, on the real Prefect server); on a
day off the digest flow (which must send nothing) and one action flow (which must skip itself).
Then the departments act on what they received (the page, the CLI), the office acts (extension
decisions, urging by hand), and the invariants are checked.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from duban.calendar.clock import at_local
from duban.ledger.models import Action, Plan, Report
from tools.simulate.checks import Checker
from tools.simulate.world import World

EXCEL_EVERY = 5  # days between Excel read-backs (the last day always)


@dataclass
class DayFigures:
    day: date
    workday: bool
    states: dict[str, int]
    messages: int
    runs: int
    reports: int
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)  # flows / people / checks seconds


@dataclass
class Outcome:
    days: list[DayFigures] = field(default_factory=list)
    runs: int = 0
    notes: list[str] = field(default_factory=list)
    wall: float = 0.0
    events: dict[str, int] = field(default_factory=dict)
    behaviours: Counter = field(default_factory=Counter)
    faults: dict[str, Any] = field(default_factory=dict)
    interrupted: date | None = None
    load_start: tuple[float, ...] = field(
        default_factory=lambda: tuple(round(x, 2) for x in os.getloadavg()))


def plan_window(world: World, quick: bool) -> tuple[date, date]:
    """From the earliest active plan's start to a month after the latest one's end; a quarter
    from the start with --quick."""
    with world.ctx.db.read() as s:
        starts, ends = s.execute(select(func.min(Plan.starts), func.max(Plan.ends))
                                 .where(Plan.active.is_(True))).one()
    last = ends + timedelta(days=31)
    if quick:
        last = min(last, starts + timedelta(days=91))
    return starts, last


def action_numbers(world: World) -> list[int]:
    with world.ctx.db.read() as s:
        return sorted(set(s.scalars(select(Action.no).join(Plan).where(Plan.active.is_(True)))))


def run_flows(as_of: str, workday: bool, actions: list[int]) -> tuple[int, list[str]]:
    """The day's flow runs (每日督办 with every action: on a day off it runs no subflow and
    sends nothing); returns how many flow runs there were and the problems they reported."""
    from flows.run import run_chase

    raw = run_chase(as_of, actions)
    problems = [f"action {r['action']}: {r['state']} {r['message']}" for r in raw.get("runs", [])
                if not r.get("ok")]
    if raw.get("error"):
        problems.append(f"daily flow: {raw['error']}")
    dispatch = raw.get("dispatch") or {}
    if dispatch and not dispatch.get("ok"):
        problems.append(f"dispatch: {dispatch.get('state')} {dispatch.get('message')}")
    if not workday and (dispatch or any(r.get("data") for r in raw.get("runs", []))):
        problems.append("a day off ran the chase or the dispatch")
    subflows = len(raw.get("runs", [])) if workday else 0
    return 1 + subflows + (1 if dispatch else 0), problems


def count_reports(world: World) -> int:
    with world.ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(Report)) or 0


class Simulation:
    def __init__(self, world: World, quick: bool, seed: int, log, people=None,
                 events=None, excel_dir: Path | None = None, faults=None) -> None:
        self.world, self.quick, self.seed, self.log = world, quick, seed, log
        self.people, self.events, self.faults = people, events, faults
        self.checker = Checker(world.ctx, world.ctx.calendar, log=log)
        self.checker.tokens.add(world.auth.partition(":")[2])  # the API credential, too
        if people is not None:
            people.checker = self.checker
        self.outcome = Outcome()
        self.excel_dir = excel_dir or world.home / "excel"

    def run(self, first: date, last: date) -> Outcome:
        from prefect.exceptions import TerminationSignal  # Prefect is set up by now (world.py)

        actions = action_numbers(self.world)
        day, started = first, time.monotonic()
        total = (last - first).days + 1
        while day <= last:
            try:
                self.one_day(day, actions, last)
            except (KeyboardInterrupt, TerminationSignal):  # SIGTERM / Ctrl-C (Prefect's own
                # handler answers SIGTERM during a flow run): report the days done so far
                self.outcome.interrupted = day
                self.log(f"  interrupted on {day}: reporting the {len(self.outcome.days)} "
                         "days done")
                last = self.outcome.days[-1].day if self.outcome.days else day
                break
            n = (day - first).days + 1
            if n % 10 == 0 or day == last:
                self.log(f"  {day}: {n}/{total} days, {self.outcome.runs} runs, "
                         f"{len(self.checker.violations)} violations, "
                         f"{time.monotonic() - started:.0f} s")
            day += timedelta(days=1)
        self.final(last)
        self.outcome.wall = time.monotonic() - started
        return self.outcome

    def one_day(self, day: date, actions: list[int], last: date) -> None:
        t = time.monotonic()
        world, workday = self.world, self.world.ctx.calendar.is_workday(day)
        world.inbox.day = day
        mark = len(world.inbox)
        world.clock.set(at_local(day, 9))
        if self.people is not None:
            self.people.before_chase(day)
        if self.faults is not None:
            self.faults.set_channel(day)
        if self.faults is not None and day == self.faults.kill_day:
            runs, problems = self.killed_day(day, actions)
        else:
            runs, problems = run_flows(at_local(day, 9).isoformat(), workday, actions)
        self.outcome.runs += runs
        for problem in problems:
            self.checker.flag(day, "flow-run", "daily flow", problem)
        phases = {"flows": time.monotonic() - t}
        if self.people is not None:
            self.people.after_chase(day, world.inbox.since(mark))
        phases["people"] = time.monotonic() - t - phases["flows"]
        received = world.inbox.since(mark)
        self.checker.messages(day, received)
        self.checker.ledger(day)
        n = (day - date.min).days
        excel = self.excel_dir / f"{day}.xlsx" if (n % EXCEL_EVERY == 0 or day == last) else None
        states = self.checker.views(day, excel)
        if excel is not None:
            excel.unlink(missing_ok=True)
        if self.events is not None:
            self.events.check(day, self.checker)
        seconds = time.monotonic() - t
        phases["checks"] = seconds - phases["flows"] - phases["people"]
        self.outcome.days.append(DayFigures(day, workday, dict(states), len(received), runs,
                                            count_reports(world), seconds,
                                            {k: round(v, 2) for k, v in phases.items()}))

    def killed_day(self, day: date, actions: list[int]) -> tuple[int, list[str]]:
        """The chase killed mid-dispatch at 09:00, run again at 09:30 (after the lease)."""
        killed = self.faults.kill_chase(at_local(day, 9).isoformat(), actions, self.log)
        for tag in killed["in_flight_recipients"]:
            self.checker.manual[(tag, day)] += 1  # an in-flight digest may arrive twice
        self.world.clock.set(at_local(day, 9, 30))
        runs, problems = run_flows(at_local(day, 9, 30).isoformat(), True, actions)
        self.outcome.notes.append(kill_note(day, killed))
        self.outcome.faults["kill"] = {"day": day.isoformat(), **killed}
        return runs + len(actions) + 2, problems  # + the killed run's

    def final(self, last: date) -> None:
        if self.events is not None:
            self.outcome.events = self.events.final(last, self.checker)
            api_logs = self.world.home / "logs" / "prefect-run-logs.txt"
            self.outcome.events["run_log_lines"] = self.events.dump_logs(api_logs)
        self.checker.logs(last, self.log_files())

    def log_files(self) -> list[Path]:
        return sorted(p for p in (self.world.home / "logs").rglob("*") if p.is_file()) + [
            p for p in self.world.extra_logs if p.exists()]


def kill_note(day: date, killed: dict[str, Any]) -> str:
    """The report's line on the kill day: a chase that ended before any digest arrived (a day
    with nothing to send) was not killed, and the report says so."""
    if not killed["killed"]:
        return (f"{day}: the chase to be killed ended before any digest arrived (nothing to "
                "send that day): not killed; run again at 09:30")
    return (f"{day}: the chase was SIGKILLed after {killed['received_before_kill']} digests had "
            f"arrived, {killed['in_flight']} in flight; rerun at 09:30")


def run_async(coro) -> Any:
    return asyncio.run(coro)
