"""The chase over 10k / 100k / 1M open occurrences (synthetic), on SQLite and PostgreSQL.

Each size runs in a fresh child process so peak memory (ru_maxrss) belongs to that run alone.
Figures: the chase (classify + decide + record reminders) and the dispatch's assembly (one
digest per recipient), wall time and peak memory. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_chase.py [--sizes 10000 100000] [--db sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_url(tag: str) -> str:
    from sqlalchemy import create_engine, text

    schema = f"bench_{tag}"
    engine = create_engine(PG_ADMIN)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{PG_ADMIN}?options=-csearch_path%3D{schema}"


def run_one(size: int, db_kind: str) -> dict:
    """Populate, then chase and assemble once; returns the figures (runs in a child process)."""
    from benchmarks.synthetic import DAY, NOW, populate
    from duban.calendar.workdays import WorkCalendar
    from duban.chase.dispatch import assemble, portal_link_maker
    from duban.chase.ladder import chase_action
    from duban.ledger.models import Plan
    from duban.plan.config import LadderSpec

    folder = Path(tempfile.mkdtemp(prefix="duban-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}" if db_kind == "sqlite" else _pg_url(str(size))
    started = time.perf_counter()
    db = populate(url, size)
    populated = time.perf_counter() - started
    calendar = WorkCalendar()
    t0 = time.perf_counter()
    with db.session() as s:  # its commit counted, as populate's and assemble's are
        plan = s.query(Plan).one()
        result = chase_action(s, plan, 1, DAY, NOW, LadderSpec(), calendar)
    chase_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    with db.session() as s:
        digests = assemble(s, DAY, NOW, calendar, portal_link_maker("http://127.0.0.1:8000", NOW))
    assemble_seconds = time.perf_counter() - t0
    db.dispose()
    shutil.rmtree(folder, ignore_errors=True)  # a 1M SQLite ledger is ~800 MB
    return {
        "db": db_kind, "occurrences": size, "populate_s": round(populated, 2),
        "chase_s": round(chase_seconds, 2), "reminders": result.recorded,
        "assemble_s": round(assemble_seconds, 2), "digests": len(digests),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--db", choices=["sqlite", "postgres"], nargs="+",
                        default=["sqlite", "postgres"])
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # SIZE DB, in the child
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(int(args.one[0]), args.one[1])))
        return
    for db_kind in args.db:
        for size in args.sizes:
            print(json.dumps(measure(size, db_kind), ensure_ascii=False), flush=True)


def measure(size: int, db_kind: str) -> dict:
    """Run one size in a fresh interpreter and return its figures."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(size), db_kind],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
