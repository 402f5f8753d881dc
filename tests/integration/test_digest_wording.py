"""Digest wording on the shipped plan, started late in the year (issue 16.8): the first message a
department gets never says 再次 although its items are long overdue; lateness is said once, as
"逾期 N 个工作日"; the office's note (附言) appears once per digest, however many items it was
attached to."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import OutboxMessage, Reminder
from duban.service import chase, dispatch, remind
from notifications import notifier_for

FIRST_DAY = at_local(date(2023, 10, 9), 9)  # a Monday; most of the plan's items are overdue


def _bodies(ctx, recipient: str | None = None) -> list[str]:
    with ctx.db.session() as s:
        query = select(OutboxMessage.body).order_by(OutboxMessage.id)
        if recipient:
            query = query.where(OutboxMessage.recipient == recipient)
        return list(s.scalars(query))


def test_the_first_digests_never_say_again_and_say_lateness_once(loaded) -> None:
    chase(loaded, FIRST_DAY)
    with loaded.db.session() as s:  # long overdue on the first run: the ladder owes repeats
        levels = set(s.scalars(select(Reminder.level)))
    assert "repeat" in levels, levels
    assert dispatch(loaded, FIRST_DAY, notifier_for(loaded, FIRST_DAY)).digests > 10
    bodies = _bodies(loaded)
    assert bodies and any("个工作日" in b for b in bodies)
    for body in bodies:
        assert "再次" not in body, body[:400]
        assert "逾期，逾期" not in body and "逾期，已逾期" not in body
        for line in body.splitlines():
            assert len(re.findall(r"逾期 \d+ 个工作日", line)) <= 1, line


def test_the_offices_note_appears_once_per_digest(loaded) -> None:
    note = "请于周五前报送"
    recorded = remind(loaded, "taishan-mzj", FIRST_DAY, note=note)
    assert recorded > 3  # the note rides on every reminder, the digest says it once
    assert dispatch(loaded, FIRST_DAY, notifier_for(loaded, FIRST_DAY)).digests >= 1
    (body,) = _bodies(loaded, "taishan-mzj")
    assert body.count("附言") == 1 and f"附言：{note}" in body
    assert body.count(note) == 1
