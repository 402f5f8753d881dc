"""The simulated clock: one instant the whole simulation agrees on.

- the report page (a subprocess) reads it from a file (tools/simulate/page.py);
- the flows get it as their `as_of` parameter, as the schedule or `duban chase --as-of` would;
- the CLI commands run in this process (typer's CliRunner over `cli.main.app`, the console
  script's own app) with `utcnow` swapped for the simulated instant in every loaded duban and cli
  module, only for the duration of the command: those commands (`duban confirm`, `extension
  approve`, `remind`) take "now" from the clock and have no --as-of.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from duban.calendar import clock as real_clock

ORIGINAL = real_clock.utcnow


class SimClock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.now: datetime | None = None

    def set(self, instant: datetime) -> None:
        self.now = instant
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(instant.isoformat())
        tmp.replace(self.path)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """`utcnow()` answers the simulated instant in duban's and the CLI's modules."""
        instant = self.now

        def simulated() -> datetime:
            return instant

        patched = []
        for name, module in list(sys.modules.items()):
            ours = name.split(".")[0] in ("duban", "cli")
            if ours and getattr(module, "utcnow", None) is ORIGINAL:
                module.utcnow = simulated
                patched.append(module)
        try:
            yield
        finally:
            for module in patched:
                module.utcnow = ORIGINAL
