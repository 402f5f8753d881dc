"""The real report page for the simulation: `python -m portal`'s app, with the simulated clock.

    python -m tools.simulate.page --port P --clock-file FILE

Identical to `python -m portal` (same create_app, same uvicorn settings, DUBAN_* environment)
except for the clock: the page asks FILE for "now" (one ISO instant, rewritten by the simulation
as its days go by), so links issued on a simulated day are judged by that day, not by today.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import uvicorn

from duban.service import Context
from portal.app import create_app
from portal.server import uvicorn_config


class FileClock:
    """The simulated instant: the ISO text of a file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, datetime] | None = None

    def __call__(self) -> datetime:
        stamp = self.path.stat().st_mtime_ns
        if self._seen is None or self._seen[0] != stamp:
            self._seen = (stamp, datetime.fromisoformat(self.path.read_text().strip()))
        return self._seen[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.simulate.page")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clock-file", type=Path, required=True)
    args = parser.parse_args(argv)
    ctx = Context.from_env()
    ctx.db.create_schema()
    # Many simulated departments post from 127.0.0.1: the failure limit stays as shipped (a
    # department following its own links never fails a token check).
    app = create_app(ctx, clock=FileClock(args.clock_file), upgrade_schema=False)
    uvicorn.Server(uvicorn_config(app, args.host, args.port)).run()


if __name__ == "__main__":
    main()
