"""Every benchmark, one report: runs them all and writes BENCHMARKS.md.

    .venv/bin/python benchmarks/run.py            # full: chase at 10k/100k/1M, 10k baseline
    .venv/bin/python benchmarks/run.py --quick    # under three minutes: 10k+100k chase (SQLite),
                                                  # dispatch, the report page against its floor;
                                                  # written to $TMPDIR/duban-benchmarks-quick.md
    .venv/bin/python benchmarks/run.py --only prefect --update  # re-run whole sections, merge

Each benchmark runs in its own process (bench_chase.measure: one per size and database), so
peak memory belongs to one run and a failure costs one table row ("not run: why"), not the
report. Benchmarks print figures and never assert timings. BENCHMARKS.md ends with one
machine-readable line: `RESULT key=value key=value ...` (na where a figure is missing).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_chase  # noqa: E402

DISPATCH_TARGET = 300  # messages/s (issue 12)
UP_TARGET_S = 60  # cold `duban up` to ready (issue 12)
QUICK_LINKS = 200  # the report page's links in --quick (500 in a full run)
PG_ADMIN = os.environ.get("DUBAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BENCHES = ("chase", "prefect", "dispatch", "portal", "up")
TITLES = (  # the report's sections, in this order
    "Chase: classify, decide and record reminders; assemble the digests",
    "Prefect: task runs per flow run, and the per-occurrence-task baseline",
    "Dispatch: Notifier throughput against a 50 ms receiver",
    "Report page: 50 concurrent clients",
    "`duban up`: time to a ready UI",
)


@dataclass
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    result: dict[str, object] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


def size_label(size: int) -> str:
    return f"{size // 1_000_000}m" if size >= 1_000_000 and size % 1_000_000 == 0 else (
        f"{size // 1000}k" if size % 1000 == 0 else str(size))


def run_script(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    return subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def why(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return f"exit {done.returncode}: {lines[-1][:200] if lines else 'no output'}"


def last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


# -- the machine ------------------------------------------------------------------------------


def pg_version() -> str | None:
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(PG_ADMIN)
        with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                             password=url.password, dbname=url.database,
                             connect_timeout=3) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception:  # any failure to connect: no PostgreSQL here
        return None


def machine(command: str) -> list[str]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    kb = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    memory = f"{int(kb[1]) / 1024 / 1024:.1f} GiB" if kb else "?"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        "| | |", "|---|---|",
        f"| date | {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} |",
        f"| command | `{command}` |",
        f"| CPUs (nproc) | {os.cpu_count()} |",
        f"| memory | {memory} |",
        f"| system | {platform.system()} {platform.release()} {platform.machine()} |",
        f"| Python | {platform.python_version()} |",
        f"| SQLite | {sqlite3.sqlite_version} |",
        f"| PostgreSQL | {pg_version() or 'not reachable'} |",
        f"| Prefect | {importlib.metadata.version('prefect')} |",
        f"| load average at start (1/5/15 min) | {load} |",
    ]


# -- the benchmarks ---------------------------------------------------------------------------


def drop_bench_schema(size: int) -> None:
    """bench_chase leaves its PostgreSQL schema (bench_SIZE in the test database) behind."""
    from sqlalchemy import create_engine, text

    engine = create_engine(bench_chase.PG_ADMIN)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS bench_{size} CASCADE"))
    engine.dispose()


def chase(sizes: list[int], log: Callable[[str], None],
          dbs: tuple[str, ...] = ("sqlite", "postgres")) -> Section:
    section = Section(TITLES[0])
    section.lines += [
        "`benchmarks/bench_chase.py` (synthetic ledger: 1,000 departments, action 1 of a plan "
        "`bench-2023`, deadlines spread around 2023-10-16): each size in a fresh process; "
        "`populate` = writing the open occurrences (the yardstick), `chase` = classify + decide "
        "+ record reminders and item events, `assemble` = one digest per recipient; peak = the "
        "process's peak RSS (populating included). Ratios: chase / populate and assemble / "
        "chase in the same process; peak / the same database's peak at the size ten times "
        "smaller. Targets: chase / populate <= 1, assemble / chase <= 1, peak ratio <= 1.5 and "
        "peak <= 500 MB.", "",
        "| database | occurrences | populate s | chase s | **chase / populate** | reminders "
        "| assemble s | **assemble / chase** | digests | peak MB | **peak / 10x smaller** |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    have_pg = pg_version() is not None
    for db in dbs:
        short = "pg" if db == "postgres" else db
        peaks: dict[int, float] = {}
        for size in sizes:
            label = size_label(size)
            if db == "postgres" and not have_pg:
                section.lines.append(f"| {db} | {size:,} | not run: PostgreSQL not reachable "
                                     "| | | | | | | | |")
                continue
            log(f"chase {db} {size:,}")
            try:
                f = bench_chase.measure(size, db)
            except subprocess.CalledProcessError as exc:
                reason = (exc.stderr or "").strip().splitlines()[-1:] or ["no output"]
                section.lines.append(f"| {db} | {size:,} | not run: {reason[0][:120]} "
                                     "| | | | | | | | |")
                continue
            finally:
                if db == "postgres":
                    drop_bench_schema(size)
            peaks[size] = f["peak_mb"]
            over = _ratio(f["chase_s"], f["populate_s"])
            assembly = _ratio(f["assemble_s"], f["chase_s"])
            peak = _ratio(f["peak_mb"], peaks.get(size // 10))
            section.lines.append(
                f"| {db} | {size:,} | {f['populate_s']} | {f['chase_s']} | **{_text(over)}** "
                f"| {f['reminders']:,} | {f['assemble_s']} | **{_text(assembly)}** "
                f"| {f['digests']:,} | {f['peak_mb']} | **{_text(peak)}** |")
            section.result[f"chase_{short}_{label}_s"] = f["chase_s"]
            section.result[f"populate_{short}_{label}_s"] = f["populate_s"]
            section.result[f"assemble_{short}_{label}_s"] = f["assemble_s"]
            section.result[f"peak_mb_{label}_{short}"] = f["peak_mb"]
            section.result[f"chase_over_populate_{label}_{short}"] = over
            section.result[f"assemble_over_chase_{label}_{short}"] = assembly
            if db == "sqlite" and peak is not None:
                section.result[f"peak_ratio_{label}_over_{size_label(size // 10)}"] = peak
    return section


def _ratio(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 2) if part is not None and whole else None


def _text(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}"


def prefect(occurrences: int, settle: float, probe: int, log: Callable[[str], None]) -> Section:
    section = Section(TITLES[1])
    log(f"prefect {occurrences:,} occurrences")
    args = ["benchmarks/bench_prefect.py", "--occurrences", str(occurrences), "--settle",
            str(settle), "--probe", str(probe)]
    try:
        done = run_script(args, timeout=settle * 2 + 1800)
        f = last_json(done.stdout) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError) as exc:
        done, f = None, None
        reason = str(exc)[:200]
    if f is None:
        reason = why(done) if done is not None else reason
        section.lines.append(f"not run: {reason}")
        return section
    section.lines += [
        f"`benchmarks/bench_prefect.py --occurrences {occurrences}`: {occurrences:,} synthetic "
        "open occurrences of action 1 under a temporary Prefect server (prefect_test_harness, "
        f"SQLite; started in {f['harness_start_s']} s). *Batched* is the real flow "
        "(`flows/actions.py:action_flow`, action 1); the *baseline* is a naive flow defined in "
        "the benchmark, one task run per occurrence calling the same core "
        "(`classify`, `ladder_steps`, `record_owed`) on a copy of the same ledger. Task runs "
        "are counted through the client once the server has recorded them.", "",
        "| flow | wall s | **wall / batched** | task runs called | task runs the server "
        "recorded | reminders recorded | counted after s |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| batched: 社区固本强基行动 ({f['batched_state']}) | {f['batched_s']} | **1.00** "
        f"| {f['batched_task_runs']} | {f['batched_task_runs']} | {f['batched_recorded']:,} "
        f"| {f['batched_server_settle_s']} |",
        f"| baseline: one task run per occurrence | {f['naive_s']} "
        f"| **{_text(_ratio(f['naive_s'], f['batched_s']))}** "
        f"| {f['naive_task_runs_called']:,} | {f['naive_task_runs']:,} "
        f"| {f['naive_recorded']:,} | {f['naive_server_settle_s']} |",
        "",
        "*Counted after*: seconds after the flow run ended until the server's count of its task "
        "runs was complete, or had stopped growing for 120 s, or the wait ran out "
        f"({settle:.0f} s).", "",
        *_server_note(f, settle),
        f"Baseline / batched wall time: **{f['ratio']}x**, with "
        f"{f['naive_task_runs_called']:,} task runs instead of {f['batched_task_runs']}; "
        "both recorded "
        f"the same reminders: {'yes' if f['naive_recorded'] == f['batched_recorded'] else 'NO'}. "
        f"The baseline is a sync flow, its cheapest form: one empty task run costs "
        f"{f['task_call_ms_sync_flow']} ms of client time in a sync flow and "
        f"{f['task_call_ms_async_flow']} ms in an async flow (as duban's flows are) on this "
        "machine.",
    ]
    section.result.update(
        task_runs_per_flow_run=f["batched_task_runs"], baseline_ratio=f["ratio"],
        baseline_task_runs=f["naive_task_runs_called"],
        baseline_task_runs_server=f["naive_task_runs"], baseline_occurrences=occurrences,
        batched_flow_s=f["batched_s"], baseline_flow_s=f["naive_s"])
    return section


def _server_note(f: dict, settle: float) -> list[str]:
    """What the server's count of the baseline's task runs says, when it fell short."""
    called, seen = f["naive_task_runs_called"], f["naive_task_runs"]
    if seen >= called:
        return []
    if f["naive_server_settle_s"] < settle:
        return [f"The server's count stopped at {seen:,} of {called:,} task runs (unchanged for "
                f"120 s): {called - seen:,} never appear in the UI.", ""]
    return [f"The server had recorded {seen:,} of {called:,} task runs when the wait ran out "
            f"({settle:.0f} s).", ""]


def dispatch(messages: int, log: Callable[[str], None]) -> Section:
    section = Section(TITLES[2])
    log(f"dispatch {messages} messages")
    done = run_script(["benchmarks/bench_dispatch.py", "--messages", str(messages)], 600)
    text = done.stdout
    rate = re.search(r"throughput\s+(\d+) messages/s", text)
    if done.returncode != 0 or not rate:
        section.lines.append(f"not run: {why(done)}")
        return section
    wall = re.search(r"wall time\s+([\d.]+) s", text)
    per = re.search(r"per target\s+p50 (\d+) ms, p95 (\d+) ms", text)
    statuses = re.search(r"statuses\s+(.*)", text)
    seen = re.search(r"requests seen\s+(\S+)", text)
    workers = re.search(r"workers\s+(\d+) threads", text)
    section.lines += [
        f"`benchmarks/bench_dispatch.py --messages {messages}`: `Notifier.send_many`, one "
        "json:// URL per message, a local receiver (its own process) answering after 50 ms; "
        "target >= 300 messages/s (ratio: messages/s over the target, >= 1 met).", "",
        "| messages | threads | wall s | messages/s | **messages/s / 300** | p50 ms | p95 ms "
        "| statuses | requests seen |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        f"| {messages} | {workers[1] if workers else '?'} | {wall[1] if wall else '?'} "
        f"| {rate[1]} | **{_text(_ratio(int(rate[1]), DISPATCH_TARGET))}** "
        f"| {per[1] if per else '?'} | {per[2] if per else '?'} "
        f"| {statuses[1] if statuses else '?'} | {seen[1] if seen else '?'} |",
    ]
    section.result["dispatch_msg_s"] = int(rate[1])
    return section


PHASE = re.compile(r"^(floor GET|floor POST|GET form|POST report|POST again \(same nonce\))"
                   r"\s+(\d+) req\s+([\d.]+) req/s\s+p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms"
                   r"\s+max\s+([\d.]+) ms"
                   r"\s+status (.*)$")


def portal(links: int, log: Callable[[str], None]) -> Section:
    section = Section(TITLES[3])
    if not (ROOT / "benchmarks" / "bench_portal.py").exists():
        section.lines.append("not run: benchmarks/bench_portal.py does not exist yet")
        return section
    log(f"portal {links} links")
    try:
        done = run_script(["benchmarks/bench_portal.py", "--links", str(links), "--clients",
                           "50"], 900)
    except subprocess.TimeoutExpired:
        section.lines.append("not run: timed out after 900 s")
        return section
    phases = [m.groups() for line in done.stdout.splitlines() if (m := PHASE.match(line))]
    if done.returncode != 0 or not phases:
        section.lines.append(f"not run: {why(done)}")
        return section
    verdict = re.search(r"zero lost or duplicated reports: (\w+)", done.stdout)
    ledger = re.search(r"^ledger: (.*)$", done.stdout, re.MULTILINE)
    by_name = {p[0]: p for p in phases}
    floor_of = {"GET form": "floor GET", "POST report": "floor POST",
                "POST again (same nonce)": "floor POST"}
    section.lines += [
        f"`benchmarks/bench_portal.py --links {links} --clients 50`: the report page "
        "(`python -m portal`, SQLite) in its own process; 50 requests in flight; each "
        "link's form fetched, its report posted, then posted again with the same form nonce "
        "(a double click: must record nothing). Measured in the same run against its *floor* "
        "(`benchmarks/floor_app.py`: FastAPI with the same uvicorn settings on the same "
        "ledger, one indexed read per GET, one insert per POST), the floor first; each server "
        "gets 100 untimed requests before it is measured. Ratio: the phase's p95 over the "
        "floor's p95 for the same method (targets: GET <= 2, POST <= 3).", "",
        "| phase | requests | req/s | p50 ms | p95 ms | max ms | **p95 / floor p95** "
        "| statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in phases:
        floor = by_name.get(floor_of.get(p[0], ""))
        ratio = _ratio(float(p[4]), float(floor[4])) if floor else None
        section.lines.append(f"| {p[0]} | {p[1]} | {p[2]} | {p[3]} | {p[4]} | {p[5]} "
                             f"| **{_text(ratio) if floor else 'floor'}** | {p[6]} |")
    section.lines += [
        "",
        f"Ledger: {ledger[1] if ledger else '?'}. Zero lost or duplicated reports: "
        f"**{verdict[1] if verdict else '?'}**.",
    ]
    post = by_name.get("POST report")
    if post:
        section.result.update(portal_rps=float(post[2]), portal_p50_ms=float(post[3]),
                              portal_p95_ms=float(post[4]))
    get = by_name.get("GET form")
    if get:
        section.result.update(portal_get_rps=float(get[2]), portal_get_p95_ms=float(get[4]))
    for name, key in (("GET form", "get"), ("POST report", "post")):
        floor = by_name.get(floor_of[name])
        if floor:
            section.result[f"floor_{key}_p95_ms"] = float(floor[4])
            section.result[f"floor_{key}_rps"] = float(floor[2])
        if floor and name in by_name:
            section.result[f"portal_{key}_p95_over_floor"] = _ratio(float(by_name[name][4]),
                                                                    float(floor[4]))
    section.result["portal_lost_or_duplicated"] = 0 if verdict and verdict[1] == "yes" else "na"
    return section


def up(restart: bool, log: Callable[[str], None]) -> Section:
    section = Section(TITLES[4])
    log("duban up" + (" (cold and warm)" if restart else ""))
    try:
        done = run_script(["benchmarks/bench_up.py", *(["--restart"] if restart else [])], 900)
        f = last_json(done.stdout) if done.returncode == 0 else None
    except (subprocess.TimeoutExpired, ValueError) as exc:
        section.lines.append(f"not run: {str(exc)[:200]}")
        return section
    if f is None:
        section.lines.append(f"not run: {why(done)}")
        return section
    section.lines += [
        "`benchmarks/bench_up.py" + (" --restart" if restart else "") + "`: `duban up` as a "
        "subprocess with a fresh DUBAN_HOME on free ports; seconds from start until the "
        "Prefect API (/api/health) and UI (/) answer, every deployment exists and it prints "
        "`duban 已就绪`, and until the 督办总览 board artifact exists (the start-up run of "
        "每日督办 publishes it first); then SIGTERM. *warm* = started again on the same home. "
        f"Ratio: ready over issue 12's target of {UP_TARGET_S} s (<= 1 met).",
        "",
        f"| start | ready s | **ready / {UP_TARGET_S} s** | API s | UI s | deployments s "
        "| report page s | board s | stop s (SIGTERM) | exit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, g in f.items():
        section.lines.append(
            f"| {name} | {g['ready_s']} | **{_text(_ratio(g['ready_s'], UP_TARGET_S))}** "
            f"| {g['api_s']} | {g['ui_s']} | {g['deployments_s']} "
            f"({g['deployments']}) | {g['portal_s']} | {g.get('board_s', '—')} | {g['stop_s']} "
            f"| {g['exit_code']} |")
    section.result["up_ready_s"] = f["cold"]["ready_s"]
    section.result["up_board_s"] = f["cold"].get("board_s")
    if "warm" in f:
        section.result["up_restart_s"] = f["warm"]["ready_s"]
    return section


# -- the report -------------------------------------------------------------------------------


# measured by hand or by other tools (`rm -rf .venv`, the service, the simulation): kept
HAND_MEASURED = ("Install", "The running service (issue 12), hand-recorded",
                 "Simulation: the plan year on the real service (issue 19)")


def read_report(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The sections (title -> lines, the Machine section left out) and RESULT of a report."""
    blocks: dict[str, list[str]] = {}
    result: dict[str, str] = {}
    title = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("RESULT "):
            result = dict(item.split("=", 1) for item in line.split()[1:] if "=" in item)
        elif line.startswith("## "):
            title = None if line[3:] == "Machine" else line[3:]
            if title:
                blocks[title] = []
        elif line.startswith("Load average at the end"):
            title = None
        elif title:
            blocks[title].append(line)
    return {t: _trim(lines) for t, lines in blocks.items()}, result


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def write_report(path: Path, command: str, mode: str, head: list[str], sections: list[Section],
                 took: float, update: bool) -> str:
    """Write the report; with `update`, only the sections run now replace those in `path`."""
    blocks, result = read_report(path) if update and path.exists() else ({}, {})
    if not update and path.exists():  # sections measured by hand survive a full run
        blocks = {t: b for t, b in read_report(path)[0].items() if t in HAND_MEASURED}
    result = {"mode": result.get("mode", mode), **{k: v for k, v in result.items()
                                                   if k != "mode"}}
    for section in sections:
        when = section.started.strftime("%Y-%m-%d %H:%M UTC")
        blocks[section.title] = [f"*Measured from {when} by `{command}`.*", "", *section.lines]
        result.update(section.result)
    order = [t for t in TITLES if t in blocks] + [t for t in blocks if t not in TITLES]
    how = (f"Updated by `{command}` ({took / 60:.1f} min): "
           + ", ".join(s.title for s in sections) + "; every section says when it was measured."
           if update else f"Written by `{command}` ({mode} run, {took / 60:.1f} min).")
    lines = [
        "# Benchmarks", "",
        f"{how} Figures, not assertions: the machine below was shared with other work while "
        "they ran (see its load average), so treat them as orders of magnitude. "
        "`python benchmarks/run.py --quick` runs a smaller set in under three minutes.", "",
        "## Machine", "", *head, "",
    ]
    for title in order:
        lines += [f"## {title}", "", *blocks[title], ""]
    lines.append(f"Load average at the end (1/5/15 min): "
                 f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    lines.append("")
    lines.append("RESULT " + " ".join(f"{k}={_value(v)}" for k, v in result.items()))
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def _value(value: object) -> str:
    return "na" if value is None else str(value)


def default_output(quick: bool, update: bool) -> Path:
    """BENCHMARKS.md holds the full run's figures (and sections updated by hand with --update);
    a quick run's smaller figures go to a file of their own unless asked otherwise."""
    if quick and not update:
        return Path(tempfile.gettempdir()) / "duban-benchmarks-quick.md"
    return ROOT / "BENCHMARKS.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="under three minutes: the chase at 10k and 100k on SQLite, a "
                             "smaller dispatch run and the report page against its floor with "
                             "200 links; Prefect and duban up only when --only names them "
                             "(smaller runs then)")
    parser.add_argument("--only", nargs="+", choices=BENCHES)
    parser.add_argument("--sizes", type=int, nargs="+", help="chase sizes (default by mode)")
    parser.add_argument("--output", type=Path,
                        help="default: BENCHMARKS.md for a full run or --update; a --quick run "
                             "writes to the temporary directory, so it never replaces the "
                             "full run's figures in BENCHMARKS.md")
    parser.add_argument("--update", action="store_true",
                        help="replace only the sections run now in an existing --output (e.g. "
                             "after re-running the 1M chase alone) and merge its RESULT line")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    args.output = args.output or default_output(args.quick, args.update)
    only = args.only or (["chase", "dispatch", "portal"] if args.quick else list(BENCHES))
    command = "python benchmarks/run.py" + "".join(
        f" {a}" for a in sys.argv[1:])
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    started = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {text}", flush=True)

    head = machine(command)
    sections = []
    if "chase" in only:
        sections.append(chase(sizes, log, ("sqlite",) if args.quick else ("sqlite", "postgres")))
    if "prefect" in only:
        sections.append(prefect(300, 60, 30, log) if args.quick else
                        prefect(10_000, 900, 200, log))
    if "dispatch" in only:
        sections.append(dispatch(300 if args.quick else 600, log))
    if "portal" in only:
        sections.append(portal(QUICK_LINKS if args.quick else 500, log))
    if "up" in only:
        sections.append(up(not args.quick, log))
    text = write_report(args.output, command, mode, head, sections, time.monotonic() - started,
                        args.update)
    log(f"wrote {args.output}")
    print(text.splitlines()[-1])


if __name__ == "__main__":
    main()
