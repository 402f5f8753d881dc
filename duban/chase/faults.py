"""Named kill points for the fault-injection suite (tools/faults.py, tests/integration).

`checkpoint(name)` does nothing unless DUBAN_FAULT_KILL_AT names this point, as `NAME` (its first
pass) or `NAME@N` (its N-th pass in this process); then the process kills itself with SIGKILL,
as a crash or an OOM killer would: no `finally`, no rollback, no flush. The points are listed
here so the suite can prove it visited each one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from collections.abc import Callable

ENV = "DUBAN_FAULT_KILL_AT"

#: Every point the dispatch passes, in the order a message meets them.
KILL_POINTS = (
    "dispatch.start",
    "carry_over.done",
    "assemble.digest",  # after each digest row is added, before the assembly commits
    "assemble.committed",
    "plan.routes",  # message rows added, before their commit
    "plan.committed",
    "claim.before",
    "claim.committed",
    "compose.link_issued",  # department link minted, before the composed body is stored
    "compose.committed",
    "send.before",
    "send.target",  # in a sender thread, before a target's request leaves
    "send.target_done",  # in a sender thread, after a target answered
    "send.returned",  # every message of the batch answered, nothing recorded
    "record.message",  # before each message's result is committed
    "record.message_committed",
    "record.digest_state",  # before the digest and its reminders take the messages' state
    "notice.recorded",  # an office notice about a broken channel, before its commit
    "round.done",  # a claim-send-record round finished
    "result.before",
    "dispatch.end",
)

_passes: Counter[str] = Counter()
_lock = threading.Lock()
_hooks: dict[str, tuple[int, Callable[[], None]]] = {}


def on(where: str, action: Callable[[], None]) -> None:
    """Run `action` at `where` (NAME or NAME@N) instead of dying: e.g. take the database away."""
    point, _, nth = where.partition("@")
    _hooks[point] = (int(nth or 1), action)


def checkpoint(name: str) -> None:
    """Die here if told to (see the module docstring); otherwise cost a lookup or two."""
    wanted = os.environ.get(ENV)
    hook = _hooks.get(name)
    if not wanted and hook is None:
        return
    point, _, nth = (wanted or "").partition("@")
    if point != name and hook is None:
        return
    with _lock:
        _passes[name] += 1
        count = _passes[name]
    if hook is not None and count == hook[0]:
        hook[1]()
    if point == name and count == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
