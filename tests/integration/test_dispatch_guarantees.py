"""Dispatch guarantees on SQLite and PostgreSQL: concurrency, crashes, routing, real channels."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from duban.calendar.clock import at_local, local_day
from duban.chase.dispatch import LEASE, assemble, claim, portal_link_maker
from duban.ledger.models import Delivery, Digest, OutboxMessage, Reminder
from duban.service import Context, chase, dispatch
from notifications import notifier_for
from tests.support.receivers import HttpReceiver, SmtpReceiver

BUSY_DAY = at_local(date(2023, 10, 16), 9)  # many items due, overdue or escalated


def _count(ctx: Context, model, *where) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_two_chases_at_once_send_each_digest_once(loaded, make_context) -> None:
    twins = [loaded, make_context(loaded.settings.database_url)]
    errors: list[BaseException] = []

    def run(ctx: Context) -> None:
        try:
            chase(ctx, BUSY_DAY)
            dispatch(ctx, BUSY_DAY, notifier_for(ctx, BUSY_DAY))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ctx,)) for ctx in twins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    digests = _count(loaded, Digest)
    assert digests > 10
    with loaded.db.session() as s:
        per_recipient = Counter(s.scalars(select(OutboxMessage.recipient)))
        assert set(per_recipient.values()) == {1}
        assert len(per_recipient) == digests
        assert s.scalar(select(func.count()).select_from(Delivery)) == digests
    assert _count(loaded, Reminder, Reminder.state != "sent") == 0


class CrashAfterSending:
    """Fault injection around the real notifier: the process 'dies' right after sending."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def send_many(self, messages):
        self.inner.send_many(messages)
        raise KeyboardInterrupt("killed between send and record")


def test_killed_between_claim_and_send_is_sent_after_the_lease(loaded) -> None:
    chase(loaded, BUSY_DAY)
    with loaded.db.session() as s:
        assemble(
            s,
            local_day(BUSY_DAY),
            BUSY_DAY,
            loaded.calendar,
            portal_link_maker(loaded.settings.portal_url, BUSY_DAY),
        )
    claimed = claim(loaded.db, "worker-that-dies", BUSY_DAY)
    assert claimed, "there were digests to claim"
    ids = [d.id for d in claimed]
    # Within the lease nobody else takes them: no duplicate while the first worker may live
    # (only the weekly brief goes).
    dispatch(loaded, BUSY_DAY + timedelta(minutes=1), notifier_for(loaded, BUSY_DAY))
    assert _count(loaded, Digest, Digest.id.in_(ids), Digest.state == "sending") == len(ids)
    sent_before = _count(loaded, OutboxMessage)
    later = BUSY_DAY + LEASE + timedelta(seconds=1)
    result = dispatch(loaded, later, notifier_for(loaded, later))
    assert result.digests == len(claimed)
    assert _count(loaded, OutboxMessage) == sent_before + len(claimed)  # never lost, sent once
    assert _count(loaded, Digest, Digest.state != "sent") == 0


def test_killed_between_send_and_record_sends_at_most_one_duplicate(loaded) -> None:
    chase(loaded, BUSY_DAY)
    with pytest.raises(KeyboardInterrupt):
        dispatch(loaded, BUSY_DAY, CrashAfterSending(notifier_for(loaded, BUSY_DAY)))
    first = _count(loaded, OutboxMessage)
    assert first > 0
    dispatch(loaded, BUSY_DAY + LEASE + timedelta(seconds=1), notifier_for(loaded, BUSY_DAY))
    with loaded.db.session() as s:
        per_digest = Counter(s.scalars(select(OutboxMessage.title)))
        assert max(per_digest.values()) <= 2  # at most one duplicate
        assert s.scalar(select(func.count()).select_from(Digest).where(Digest.state != "sent")) == 0


def test_dry_run_records_nothing(loaded) -> None:
    results = chase(loaded, BUSY_DAY, dry_run=True)
    assert sum(r.owed for r in results) > 0
    assert _count(loaded, Reminder) == 0


def _routes(tmp_path, *lines: str):
    path = tmp_path / "notify.yaml"
    path.write_text("version: 1\nurls:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_unroutable_recipients_are_recorded_never_counted_as_sent(
    make_context, sqlite_url, tmp_path
) -> None:
    from duban.service import setup

    with HttpReceiver() as http:
        notify = _routes(tmp_path, f"  - json://127.0.0.1:{http.port}/mzj:", "      tag: mzj")
        ctx = make_context(sqlite_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        result = dispatch(ctx, BUSY_DAY, notifier_for(ctx, BUSY_DAY))
        assert result.status["sent"] == 1 and result.status["unroutable"] > 5
        assert len(http.requests_to("/mzj")) == 1
        assert "泰安市民政局" in http.requests_to("/mzj")[0].json["title"]
    with ctx.db.session() as s:
        unroutable = s.scalars(select(Delivery).where(Delivery.status == "unroutable")).all()
        assert unroutable and all(d.recipient != "mzj" for d in unroutable)
        assert (
            s.scalar(
                select(func.count())
                .select_from(Reminder)
                .where(Reminder.recipient == "office", Reminder.state == "unroutable")
            )
            > 0
        )


def test_digest_by_email_is_plain_text_utf8_with_chinese_subject(
    make_context, sqlite_url, tmp_path
) -> None:
    from duban.service import setup

    with SmtpReceiver() as smtp:
        notify = _routes(
            tmp_path,
            f"  - mailto://127.0.0.1:{smtp.port}?from=duban@example.org&to=ld@example.org:",
            "      tag: supervisor",
        )
        ctx = make_context(sqlite_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        dispatch(ctx, BUSY_DAY, notifier_for(ctx, BUSY_DAY))
        mail = smtp.wait_for(1)[0].message
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Subject"].startswith("【督办】督查人员")
    body = mail.get_content()
    assert "以下事项已逾期" in body and "\n一、社区固本强基行动\n" in body
