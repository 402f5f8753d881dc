"""`python -m flows.prefect_server [prefect CLI arguments]`: Prefect's own CLI (`server start`),
with every SQLite write transaction of the server begun IMMEDIATE.

Why: on SQLite the server begins its write transactions DEFERRED, except a few it marks
"for update". One that reads first (POST /task_runs/ reads the flow run's labels, then inserts)
fails at once with "database is locked" when another writer (the event persister, the task-run
recorder, logs) commits between its read and its write: SQLite cannot upgrade a stale read
snapshot, and its busy timeout does not apply. The API answers 503 and Prefect's client waits
2 s before its retry. A subflow's run starts with that request, so a day's chase paid the wait
for about half of its action subflows. Begun IMMEDIATE, such a transaction takes the write lock
first and waits its turn under the server's 60 s busy timeout, as SQLite advises and as Prefect
already does for its "for update" transactions (benchmarks/bench_subflows.py measures it).
PostgreSQL is untouched: the patch changes only the SQLite configuration class.

It is in the Prefect layer (flows/) because it imports Prefect. `python -m` imports the flows
package first, which the server then carries unused: about 1-2 s and 23 MB at its start.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any


def begin_write_transactions_immediately() -> None:
    """Make the server's SQLite `begin_transaction` always IMMEDIATE (idempotent)."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    deferred = AioSqliteConfiguration.begin_transaction
    if getattr(deferred, "duban_immediate", False):
        return

    @asynccontextmanager
    async def begin_transaction(self: Any, session: Any,
                                with_for_update: bool = False) -> AsyncGenerator[Any, None]:
        async with deferred(self, session, with_for_update=True) as transaction:
            yield transaction

    begin_transaction.duban_immediate = True  # type: ignore[attr-defined]
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


def main() -> None:
    """Prefect's CLI on this process's arguments (`python -m prefect` does the same)."""
    begin_write_transactions_immediately()
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()
