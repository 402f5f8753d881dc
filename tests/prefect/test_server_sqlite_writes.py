"""The Prefect server `duban up` starts (flows/prefect_server.py) begins its SQLite write
transactions IMMEDIATE, so a transaction that reads before it writes (POST /task_runs/, which
starts every subflow) waits for a concurrent writer instead of failing with "database is
locked" (503, and a 2 s wait in Prefect's client).

Real SQLite files and Prefect's own SQLite configuration; the other writer is a second
connection, as the server's event persister or task-run recorder would be.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from flows.prefect_server import begin_write_transactions_immediately


def _configuration(path: Path):
    from prefect.server.database.configurations import AioSqliteConfiguration

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE runs (id INTEGER)")
    db.close()
    return AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{path}")


def _other_writer(path: Path) -> str:
    """Another connection inserts and commits, waiting at most 0.3 s for the write lock."""
    db = sqlite3.connect(path, timeout=0.3)
    try:
        with db:
            db.execute("INSERT INTO runs VALUES (2)")
        return "committed"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        db.close()


async def _read_then_write(path: Path) -> tuple[str, str]:
    """The server's pattern: in one transaction read, (another writer commits), then write.
    Returns what happened to the other writer and to this transaction's write."""
    config = _configuration(path)
    engine = await config.engine()
    try:
        session = await config.session(engine)
        async with session, config.begin_transaction(session):
            await session.execute(text("SELECT count(*) FROM runs"))
            other = _other_writer(path)
            try:
                await session.execute(text("INSERT INTO runs VALUES (1)"))
                ours = "written"
            except OperationalError as exc:
                ours = str(exc.orig)
                raise
    except OperationalError:
        pass
    finally:
        await engine.dispose()
    return other, ours


def test_prefect_default_fails_a_read_then_write_transaction(tmp_path: Path) -> None:
    """Why the patch exists: unpatched, the other writer's commit makes the write fail at once."""
    other, ours = asyncio.run(_read_then_write(tmp_path / "prefect.db"))
    assert other == "committed"
    assert ours == "database is locked"


def test_immediate_transactions_make_the_other_writer_wait(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.server.database.configurations import AioSqliteConfiguration

    monkeypatch.setattr(AioSqliteConfiguration, "begin_transaction",
                        AioSqliteConfiguration.begin_transaction)  # restored after the test
    begin_write_transactions_immediately()
    begin_write_transactions_immediately()  # idempotent: still one layer
    other, ours = asyncio.run(_read_then_write(tmp_path / "prefect.db"))
    assert ours == "written"
    assert other == "database is locked"  # it waited its 0.3 s; a server's writer waits 60 s
    with sqlite3.connect(tmp_path / "prefect.db") as db:
        assert db.execute("SELECT id FROM runs").fetchall() == [(1,)]
    db.close()
