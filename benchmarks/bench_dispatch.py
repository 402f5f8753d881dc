"""Throughput of Notifier.send_many against a local receiver that answers after 50 ms.

N messages, each with its own tag routed to its own json:// URL (one per department), all
on one local HTTP server. Prints figures; asserts nothing about timing.

The receiver runs in a child process, as a real one would: in this process it would
compete for the GIL with the sender threads, and the figure would measure the test
server as much as the Notifier (``--same-process`` shows that figure).

    .venv/bin/python benchmarks/bench_dispatch.py [--messages 600] [--delay 0.05]
        [--workers 32] [--same-process]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notifications import Notifier, OutgoingMessage  # noqa: E402
from tests.support.receivers import HttpReceiver, Reply  # noqa: E402

TITLE = "【督办】市民政局：3项任务临近期限"
BODY = "市民政局：\n一、社区养老服务行动 —— 6月30日到期\n二、适老化改造 —— 7月15日到期\n"


def write_config(folder: Path, port: int, count: int) -> Path:
    lines = ["version: 1", "urls:"]
    for i in range(count):
        lines += [f"  - json://127.0.0.1:{port}/dept/{i}:", f"      tag: dept{i}"]
    path = folder / "notify.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _serve(delay: float, conn: Connection) -> None:
    """Child process: run the receiver, report its port, then how many requests it saw."""
    with HttpReceiver(Reply(json={"ok": 1}, delay=delay)) as http:
        conn.send(http.port)
        conn.recv()  # the parent has finished sending
        conn.send(len(http.requests))


@contextmanager
def receiver(delay: float, same_process: bool) -> Iterator[tuple[int, list[int]]]:
    """Yield (port, seen); `seen` receives the request count when the block ends."""
    seen: list[int] = []
    if same_process:
        with HttpReceiver(Reply(json={"ok": 1}, delay=delay)) as http:
            yield http.port, seen
            seen.append(len(http.requests))
        return
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    process = spawn.Process(target=_serve, args=(delay, child), daemon=True)
    process.start()
    try:
        yield parent.recv(), seen
        parent.send("done")
        seen.append(parent.recv())
    finally:
        process.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--delay", type=float, default=0.05, help="receiver latency, seconds")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--same-process", action="store_true", help="receiver in this process")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        receiver(args.delay, args.same_process) as (port, seen),
    ):
        started = time.perf_counter()
        config = write_config(Path(tmp), port, args.messages)
        notifier = Notifier(config, max_workers=args.workers)
        load = time.perf_counter() - started
        messages = [
            OutgoingMessage(key=f"digest-{i}", tag=f"dept{i}", title=TITLE, body=BODY)
            for i in range(args.messages)
        ]
        started = time.perf_counter()
        results = notifier.send_many(messages)
        wall = time.perf_counter() - started

    elapsed = sorted(r.elapsed for r in results)
    where = "this process" if args.same_process else "a child process"
    print(f"messages        {len(messages)}, receiver latency {args.delay * 1000:.0f} ms ({where})")
    print(f"workers         {args.workers} threads, {os.cpu_count()} CPUs")
    print(f"config load     {load:.2f} s for {args.messages} URLs")
    print(f"wall time       {wall:.2f} s")
    print(f"throughput      {len(messages) / wall:.0f} messages/s")
    p95 = elapsed[max(0, int(len(elapsed) * 0.95) - 1)]
    print(
        f"per target      p50 {statistics.median(elapsed) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    print(f"statuses        {dict(Counter(r.status for r in results))}")
    print(f"requests seen   {seen[0] if seen else '?'}")


if __name__ == "__main__":
    main()
