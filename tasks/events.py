"""Emit the ledger's item events (duban.ledger.item_events) to Prefect's event feed.

Called inside an existing task (never a task of its own per event): read the unemitted rows, emit
each with prefect.events.emit_event under its stored id, wait until Prefect's events worker has
sent them, then mark them emitted. A crash in between emits them again next time under the same
ids, and the server keeps one copy of each id.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from prefect.events import emit_event
from prefect.events.worker import EventsWorker

from duban.calendar.clock import utcnow
from duban.ledger.item_events import count_pending, mark_emitted, pending_events, prefect_event
from duban.service import Context

BATCH = 500  # rows read, emitted and marked at a time
BUDGET = 60.0  # seconds per call; a backlog beyond it goes out with the next run
FLUSH_TIMEOUT = 60.0  # seconds to wait for the events worker before leaving rows unmarked


def _flushed(timeout: float) -> bool:
    """Whether the events worker sent everything queued within `timeout` seconds."""
    worker = EventsWorker.instance()
    waiter = threading.Thread(target=worker.wait_until_empty, daemon=True)
    waiter.start()
    waiter.join(timeout)
    return not waiter.is_alive()


def _emit_batch(ctx: Context, action_nos: Sequence[int] | None) -> int | None:
    """Emit and mark one batch; how many were emitted, None when it could not be confirmed."""
    with ctx.db.read() as session:
        rows = pending_events(session, action_nos, BATCH)
    if not rows:
        return 0
    emitting = utcnow()
    sent = [row.id for row in rows if emit_event(**prefect_event(row, emitting)) is not None]
    if not sent or not _flushed(FLUSH_TIMEOUT):
        return None
    with ctx.db.session() as session:
        mark_emitted(session, sent, utcnow())
    return len(sent)


def emit_pending(ctx: Context, action_nos: Sequence[int] | None = None,
                 budget: float = BUDGET) -> dict[str, int]:
    """Emit the unemitted events (of these actions, when given), batch by batch, for at most
    `budget` seconds; returns {"emitted": n, "left": rows still waiting}."""
    started, emitted = time.monotonic(), 0
    while time.monotonic() - started < budget:
        done = _emit_batch(ctx, action_nos)
        if not done:
            break
        emitted += done
    with ctx.db.read() as session:
        return {"emitted": emitted, "left": count_pending(session, action_nos)}
