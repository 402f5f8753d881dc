"""The report page under 50 concurrent clients: GET the form, POST the report, POST it again.

A real server (`python -m portal`, uvicorn, SQLite) runs in a child process on 127.0.0.1
and an ephemeral port; the clients are asyncio + httpx in this process, 50 requests in flight.
N single-use links are issued for N open monthly-report items; then

  1. GET   every link's form                      (what a phone does first)
  2. POST  every link's report                    (a progress figure, spends the link)
  3. POST  every report again, same form nonce    (double clicks / retries: must record nothing)

and the ledger is checked: exactly N reports, one per item, every link spent, none lost or
duplicated. Prints requests/s and p50/p95 latency per phase; asserts nothing about timing.

    .venv/bin/python benchmarks/bench_portal.py [--links 500] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from duban.ledger.models import AccessToken, Duty, Occurrence, Report, Target  # noqa: E402, Target
from duban.reports import tokens  # noqa: E402
from duban.service import Context, setup  # noqa: E402
from tests.support.net import free_port  # noqa: E402

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def p95(self) -> float:
        ms = sorted(x * 1000 for x in self.latencies)
        return ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        p95 = self.p95
        return (f"{self.name:<26} {len(ms):>5} req  {len(ms) / self.elapsed:>7.1f} req/s  "
                f"p50 {statistics.median(ms):>6.1f} ms  p95 {p95:>6.1f} ms  "
                f"max {ms[-1]:>6.1f} ms  status {dict(self.statuses)}")




def prepare(home: Path, links: int) -> tuple[Context, list[str]]:
    """Load the plan with every 2023 period, and issue `links` links to open monthly items."""
    os.environ["DUBAN_HOME"] = str(home)
    os.environ["DUBAN_DATABASE_URL"] = f"sqlite:///{home / 'duban.db'}"
    ctx = Context.from_env()
    setup(ctx, datetime(2023, 12, 31, 4, tzinfo=UTC))
    now = datetime.now(UTC)
    with ctx.db.session() as s:
        items = s.scalars(select(Occurrence).join(Duty).join(Target).where(
            Duty.kind == "target_progress", Occurrence.status == "open",
            Target.numerator_label.is_(None))  # one value each (a rate takes two parts)
            .order_by(Occurrence.id).limit(links)).all()
        if len(items) < links:
            raise SystemExit(f"only {len(items)} open monthly items; use --links {len(items)}")
        issued = [tokens.issue(s, occ.department, now, "link", occ.id) for occ in items]
    return ctx, issued


def start_server(home: Path, port: int, floor: bool = False) -> subprocess.Popen:
    """The report page (`python -m portal`), or with `floor` the floor app on the same ledger."""
    env = {**os.environ, "DUBAN_HOME": str(home),
           "DUBAN_DATABASE_URL": f"sqlite:///{home / 'duban.db'}"}
    command = (["benchmarks/floor_app.py"] if floor else ["-m", "portal"]) + [
        "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                asyncio.run(warm(f"http://127.0.0.1:{port}"))
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the report page server did not start:\n" + server.stderr.read().decode())


async def warm(base: str, requests: int = 100) -> None:
    """Untimed requests first, so neither server is measured while it warms up."""
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(client.get(f"{base}/healthz") for _ in range(requests)))


async def run_phase(name: str, clients: int, calls: list) -> tuple[Phase, list]:
    """Run the coroutine factories in `calls` with `clients` in flight; time each one."""
    phase, results = Phase(name), [None] * len(calls)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(calls)):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                response = await calls[i](client)
                phase.latencies.append(time.perf_counter() - started)
                phase.statuses[response.status_code] += 1
                results[i] = response

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        phase.elapsed = time.perf_counter() - started
    return phase, results


async def floor_bench(base: str, issued: list[str], clients: int) -> list[Phase]:
    """The floor app under the same load: GET every link, POST the same form to every link."""
    gets = [lambda c, t=t: c.get(f"{base}/r/{t}") for t in issued]
    get_phase, _ = await run_phase("floor GET", clients, gets)
    data = {"csrf": "0" * 64, "nonce": "0" * 32, "kind": "progress", "value": "1",
            "note": "基准测试"}
    posts = [lambda c, t=t: c.post(f"{base}/r/{t}", data=data) for t in issued]
    post_phase, _ = await run_phase("floor POST", clients, posts)
    return [get_phase, post_phase]


async def bench(base: str, issued: list[str], clients: int) -> list[Phase]:
    gets = [lambda c, t=t: c.get(f"{base}/r/{t}") for t in issued]
    form_phase, pages = await run_phase("GET form", clients, gets)
    forms = [(CSRF.search(p.text)[1], NONCE.search(p.text)[1]) for p in pages]

    def post(token: str, csrf: str, nonce: str):
        data = {"csrf": csrf, "nonce": nonce, "kind": "progress", "value": "1",
                "note": "基准测试"}
        return lambda c: c.post(f"{base}/r/{token}", data=data)

    posts = [post(t, *f) for t, f in zip(issued, forms, strict=True)]
    post_phase, first = await run_phase("POST report", clients, posts)
    replay_phase, again = await run_phase("POST again (same nonce)", clients, posts)
    same = sum(a.text == b.text for a, b in zip(first, again, strict=True))
    print(f"replayed answers identical to the first: {same}/{len(issued)}")
    return [form_phase, post_phase, replay_phase]


def check_ledger(ctx: Context, issued: list[str]) -> bool:
    with ctx.db.session() as s:
        reports = s.scalar(select(func.count()).select_from(Report))
        per_item = s.execute(select(Report.occurrence_id, func.count())
                             .group_by(Report.occurrence_id)).all()
        spent = s.scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.token_hash.in_([tokens.hash_token(t) for t in issued]),
            AccessToken.used_at.is_not(None)))
    duplicated = sum(1 for _, n in per_item if n > 1)
    lost = len(issued) - len(per_item)
    print(f"ledger: {reports} reports for {len(issued)} links; items with more than one "
          f"report: {duplicated}; items without a report: {lost}; links spent: {spent}")
    return reports == len(issued) and duplicated == 0 and lost == 0 and spent == len(issued)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as folder:
        home = Path(folder)
        ctx, issued = prepare(home, args.links)
        phases = []
        for floor in (True, False):  # the floor first, then the page, on the same ledger
            port = free_port()
            server = start_server(home, port, floor)
            try:
                run = floor_bench if floor else bench
                phases += asyncio.run(run(f"http://127.0.0.1:{port}", issued, args.clients))
            finally:
                server.terminate()
                server.wait(timeout=30)
        print(f"report page and its floor, SQLite, {args.clients} concurrent clients, "
              f"{args.links} links, {os.cpu_count()} CPUs")
        for phase in phases:
            print(phase.line())
        p95 = {phase.name: phase.p95 for phase in phases}
        for name, floor in (("GET form", "floor GET"), ("POST report", "floor POST")):
            print(f"{name} p95 over floor: {p95[name] / p95[floor]:.2f}")
        ok = check_ledger(ctx, issued)
        print("zero lost or duplicated reports: " + ("yes" if ok else "NO"))
        ctx.db.dispose()


if __name__ == "__main__":
    main()
