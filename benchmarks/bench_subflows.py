"""Subflows against a real Prefect server on SQLite: Prefect's defaults against duban's server.

每日督办 runs every action's flow as a subflow, and each subflow starts with a POST /task_runs/
that reads before it writes. On SQLite, when another of the server's writers (the task-run
recorder, the event persister, logs) commits in between, that request fails at once with
"database is locked": the server answers 503 and the client waits 2 s before it tries again.
duban's server (flows/prefect_server.py) begins its SQLite writes IMMEDIATE, and `duban up` sets
cli.processes.SQLITE_WRITER_BATCHES. This benchmark starts a server three times on fresh homes:
Prefect's own with its defaults, Prefect's own with the batches, and duban's with the batches.
It runs the same parent flow of N empty async subflows (two task runs each) against each and
prints one JSON line: seconds per run and the number of 503 answers the client got.
Asserts nothing.

    .venv/bin/python benchmarks/bench_subflows.py [--subflows 60] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli import processes  # noqa: E402
from tests.support.net import free_port  # noqa: E402

CLIENT = r"""
import asyncio, json, sys, time
import httpx
from prefect import flow, task

answers_503 = 0
_send = httpx.AsyncClient.send

async def counting_send(self, request, *args, **kwargs):
    global answers_503
    response = await _send(self, request, *args, **kwargs)
    answers_503 += response.status_code == 503
    return response

httpx.AsyncClient.send = counting_send

@task
def step(i: int) -> int:
    return i

@flow
async def child(i: int) -> int:
    step(i)
    return step(i)

@flow
async def parent(n: int) -> None:
    for i in range(n):
        await child(i)

n, runs = int(sys.argv[1]), int(sys.argv[2])
seconds = []
for _ in range(runs):
    start = time.perf_counter()
    asyncio.run(parent(n))
    seconds.append(round(time.perf_counter() - start, 2))
print(json.dumps({"seconds": seconds, "answers_503": answers_503}))
"""


def measure(extra: dict[str, str], subflows: int, runs: int,
            module: str = processes.PREFECT_SERVER_MODULE) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="duban-bench-subflows-") as tmp:
        home, port = Path(tmp), free_port()
        env = {**os.environ, **processes.prefect_env(home, port, "bench:bench"),
               "PREFECT_UI_ENABLED": "false"}
        for name in processes.SQLITE_WRITER_BATCHES:
            env.pop(name, None)
        env.update(extra)
        server = processes.start_prefect_server(home, port, env, module=module)
        try:
            processes.wait_http(f"http://127.0.0.1:{port}/api/health", server, 300)
            done = subprocess.run([sys.executable, "-c", CLIENT, str(subflows), str(runs)],
                                  env=env, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                return {"error": done.stderr[-500:]}
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            processes.stop_child(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subflows", type=int, default=60)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    load = [round(x, 2) for x in os.getloadavg()]
    figures = {
        "subflows": args.subflows,
        "prefect_defaults": measure({}, args.subflows, args.runs, module="prefect"),
        "prefect_with_batches": measure(processes.SQLITE_WRITER_BATCHES, args.subflows,
                                        args.runs, module="prefect"),
        "duban_server": measure(processes.SQLITE_WRITER_BATCHES, args.subflows, args.runs),
        "load_average_start": load,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
