"""`python -m tools.simulate [--quick] [--seed N] [--report DIR]`: a year in the life, in minutes.

Runs the real service (Prefect server, flows, report page, receivers) through the plan year
with simulated departments and checks the invariants every day (tools/simulate/checks.py).
Exit 0 when no invariant was violated, 1 when one was, 2 when the simulation could not run.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


def _log(text: str) -> None:
    print(text, flush=True)


@app.command()
def main(
    quick: Annotated[bool, typer.Option("--quick", help="One quarter (for CI).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the departments' behaviour.")] = 7,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write report.md, chart.png and figures.json here.")] = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="Begin on this day (YYYY-MM-DD) instead of the plan's start; the "
        "ledger is still set up at the plan's start.")] = None,
    days: Annotated[int | None, typer.Option(
        "--days", help="Stop after this many days (a shorter run than --quick).")] = None,
    keep_logs: Annotated[Path | None, typer.Option(
        "--keep-logs", help="Copy the service's logs here afterwards.")] = None,
) -> None:
    """督办全年模拟：真实服务、模拟单位、每日核对不变量。

    Example: python -m tools.simulate --quick --seed 7 --report /tmp/sim
    """
    from tools.simulate.world import World

    world = World.fresh()
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        outcome, checker, window = _simulate(world, quick, seed, days, start)
    except KeyboardInterrupt:
        _log("模拟被中断 / interrupted")
        raise typer.Exit(2) from None
    finally:
        world.stop(keep_logs)
    wall = time.monotonic() - started
    from tools.simulate.report import summary, write_report

    if report is not None:
        partial = "a window chosen with --start/--days" if (start or days) else ""
        write_report(report, outcome, checker, window, seed, quick, wall, partial)
    for line in summary(outcome, checker, window, wall):
        _log(line)
    raise typer.Exit(2 if outcome.interrupted else 1 if checker.violations else 0)


def _simulate(world, quick: bool, seed: int, days: int | None, begin: str | None):
    from datetime import date, timedelta

    from duban.calendar.clock import at_local
    from duban.settings import Settings
    from tools.simulate.run import Simulation, plan_window

    first = _plan_start()
    ctx = world.start(at_local(first, 8), _log)
    start, last = plan_window(world, quick)
    if begin is not None:
        start = date.fromisoformat(begin)
        last = max(last, start)
    if days is not None:
        last = min(last, start + timedelta(days=days - 1))
    _log(f"模拟 {start} … {last}（{(last - start).days + 1} 天）; home {Settings.from_env().home}")
    from tools.simulate.events import EventFeed
    from tools.simulate.people import People

    people = People(world, seed, _log)
    from tools.simulate.faults import Faults

    faults = Faults(world, start, last)
    _log(f"故障 / faults: {faults.failing_tag}'s robot fails for a week from the first working "
         f"day on or after {faults.failing_earliest} with a reminder owed to it; the chase is "
         f"killed mid-dispatch on {faults.kill_day}")
    feed = EventFeed(world.api_url, world.auth)
    sim = Simulation(world, quick, seed, _log, people=people, events=feed, faults=faults)
    outcome = sim.run(start, last)
    outcome.behaviours = people.counts
    outcome.notes += people.notes
    window = faults.failing_window()
    outcome.faults["channel"] = {
        "tag": faults.failing_tag, "refused": world.robot.refused,
        **({"from": window[0].isoformat(), "to": window[1].isoformat()} if window else
           {"from": None, "to": None, "note": "nothing was owed to it after "
            f"{faults.failing_earliest}"})}
    del ctx
    return outcome, sim.checker, (start, last)


def _plan_start():
    """The earliest start among the configured plans (read before the ledger exists)."""
    from duban.plan.config import load_config
    from tools.simulate.world import DEFAULT_CONFIG_DIR

    config = load_config(DEFAULT_CONFIG_DIR)
    return min(plan.plan.starts for _, plan in config.plans)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(app())
