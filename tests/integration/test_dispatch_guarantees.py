"""Dispatch guarantees on SQLite and PostgreSQL (issue 13): delivery judged per person-facing
channel, retries across dispatches, crash safety per message, unknown outcomes counted apart.

Real parts: the ledger, the Apprise notifier, HTTP receivers on 127.0.0.1, an SMTP server."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from duban.calendar.clock import at_local
from duban.chase.dispatch import LEASE, outbox_sink
from duban.chase.messages import RETRY_AFTER
from duban.ledger.models import (
    Delivery,
    DeliveryMessage,
    Digest,
    Occurrence,
    OutboxMessage,
    Reminder,
)
from duban.service import Context, chase, dispatch, setup
from notifications import Notifier, notifier_for
from tests.support.receivers import HttpReceiver, Reply, SilentServer, SmtpReceiver

BUSY_DAY = at_local(date(2023, 10, 16), 9)  # many items due, overdue or escalated
QUIET_DAY = at_local(date(2023, 6, 5), 9)  # a handful of digests


def _count(ctx: Context, model, *where) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _routes(tmp_path, *entries: tuple[str, str]):
    path = tmp_path / "notify.yaml"
    lines = ["version: 1", "urls:", "  - outbox://:", "      tag: always"]
    for url, tag in entries:
        lines += [f"  - {url}:", f"      tag: {tag}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _notifier(ctx: Context, now, workers: int = 4, timeout: float = 5.0) -> Notifier:
    return Notifier(ctx.settings.notify_config, timeout=timeout, max_workers=workers,
                    retries=0, outbox=outbox_sink(ctx.settings.database_url, lambda: now))


@pytest.fixture
def people(make_context, db_url, tmp_path):
    """A ledger whose every recipient has one person-facing channel (a JSON web hook)."""
    with HttpReceiver() as http:
        notify = _routes(tmp_path, (f"json://127.0.0.1:{http.port}/all", "always"))
        ctx = make_context(db_url, notify=notify)
        setup(ctx, BUSY_DAY)
        yield ctx, http


def _titles(http: HttpReceiver) -> Counter[str]:
    return Counter(r.json["title"] for r in http.requests_to("/all"))


def test_the_outbox_alone_is_not_a_delivery(make_context, db_url) -> None:
    """The shipped notify.yaml (outbox only): every digest is recorded, none counts as sent."""
    ctx = make_context(db_url)
    setup(ctx, QUIET_DAY)
    chase(ctx, QUIET_DAY)
    result = dispatch(ctx, QUIET_DAY, notifier_for(ctx, QUIET_DAY))
    assert result.digests > 0
    assert result.status == Counter({"unroutable": result.digests})
    assert len(result.undelivered) == result.digests
    assert "无送达渠道" in result.summary and "已送达" not in result.summary
    assert _count(ctx, OutboxMessage) == result.digests  # recorded all the same
    assert _count(ctx, Reminder, Reminder.state == "sent") == 0


def test_a_failing_department_channel_is_undelivered_and_the_office_told_once(
    make_context, db_url, tmp_path, monkeypatch
) -> None:
    with HttpReceiver() as http:
        http.reply("/broken", Reply(403, json={"error": "forbidden"}))
        notify = _routes(tmp_path, (f"json://127.0.0.1:{http.port}/broken", "mzj"),
                         (f"json://127.0.0.1:{http.port}/ok", "office, supervisor"))
        ctx = make_context(db_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        result = dispatch(ctx, BUSY_DAY, _notifier(ctx, BUSY_DAY))
        mzj = [u for u in result.undelivered if u["recipient"] == "mzj"]
        assert mzj and mzj[0]["state"] == "failed" and "403" in mzj[0]["reason"]
        assert result.office_notices == 1
        assert "泰安市民政局（未送达）" in result.summary
        notices = [r.json for r in http.requests_to("/ok") if "无法送达" in r.json["message"]]
        assert len(notices) == 1 and "HTTP 403" in notices[0]["message"]
        assert len(http.requests_to("/broken")) == 1  # permanent: not retried blindly
        # The next dispatch (an hour later) neither re-sends to it nor tells the office again.
        later = BUSY_DAY + timedelta(hours=1)
        again = dispatch(ctx, later, _notifier(ctx, later))
        assert len(http.requests_to("/broken")) == 1 and again.office_notices == 0
    assert _count(ctx, Reminder, Reminder.recipient == "mzj", Reminder.state != "failed") == 0
    with ctx.db.session() as s:
        office = s.scalars(select(Reminder.note).where(Reminder.level == "notice",
                                                       Reminder.note.contains("403"))).all()
    assert len(office) == 1 and "json://" in office[0]
    _undelivered_is_shown(ctx, date(2023, 10, 16), tmp_path, monkeypatch)


def _undelivered_is_shown(ctx: Context, day: date, tmp_path, monkeypatch) -> None:
    """未送达 on the board (its markdown), in `duban status` (text and JSON) and in Excel."""
    from openpyxl import load_workbook

    from duban.supervise.board import build_board
    from duban.supervise.export import write_xlsx
    from duban.supervise.markdown import board_markdown
    from tests.support.cli import run

    with ctx.db.session() as s:
        board = build_board(s, day, ctx.calendar)
    missed = [(u.recipient, u.state) for u in board.undelivered]
    assert missed[0] == ("mzj", "failed")  # the broken channel first, then no channel at all
    assert len(missed) > 10 and {s for _, s in missed[1:]} == {"unroutable"}
    text = board_markdown(board)
    assert f"未送达（{len(missed)} 个收件方）" in text and "HTTP 403" in text
    monkeypatch.setenv("DUBAN_HOME", str(ctx.settings.home))
    monkeypatch.setenv("DUBAN_DATABASE_URL", ctx.settings.database_url)
    shown = run("status", "--as-of", day.isoformat())
    assert shown.exit_code == 0
    assert f"未送达 {len(missed)} 个收件方：泰安市民政局（未送达，" in shown.output
    as_json = json.loads(run("status", "--as-of", day.isoformat(), "--json").output)
    assert [(u["recipient"], u["state"]) for u in as_json["undelivered"]] == missed
    one = run("status", "--as-of", day.isoformat(), "--department", "mzj").output
    assert "未送达 1 个收件方：泰安市民政局（未送达，2023-10-16：HTTP 403" in one
    book = load_workbook(write_xlsx(board, tmp_path / "board.xlsx"), read_only=True)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
             for c in row if c]
    assert "未送达（渠道失败）" in cells


def test_transient_failures_are_retried_by_later_dispatches_as_the_same_digest(
    make_context, db_url, tmp_path
) -> None:
    with HttpReceiver() as http:
        http.reply("/mzj", Reply(500), Reply(503), Reply(200, json={"ok": True}))
        notify = _routes(tmp_path, (f"json://127.0.0.1:{http.port}/mzj", "mzj"))
        ctx = make_context(db_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        first = dispatch(ctx, BUSY_DAY, _notifier(ctx, BUSY_DAY))
        mzj = next(u for u in first.undelivered if u["recipient"] == "mzj")
        assert mzj["state"] == "retrying" and mzj["retry_at"] == "09:10"
        assert "500" in mzj["reason"]
        # Inside the backoff: nothing is sent, the run says when it will be tried.
        soon = BUSY_DAY + timedelta(minutes=5)
        waiting = dispatch(ctx, soon, _notifier(ctx, soon))
        assert len(http.requests_to("/mzj")) == 1
        assert waiting.status["retrying"] == 1 and "09:10 后重试" in waiting.summary
        # One item is closed meanwhile: the retry no longer names it.
        with ctx.db.session() as s:
            digest = s.scalar(select(Digest).where(Digest.recipient == "mzj"))
            occ = s.scalars(select(Reminder.occurrence_id).where(
                Reminder.digest_id == digest.id)).first()
            title = s.scalar(select(Occurrence).where(Occurrence.id == occ))
            s.execute(update(Occurrence).where(Occurrence.id == occ).values(status="closed"))
        del title
        for minutes in (11, 40):  # 500 -> 503 (retry after 20 min) -> 200
            at = BUSY_DAY + timedelta(minutes=minutes)
            dispatch(ctx, at, _notifier(ctx, at))
        bodies = [r.json for r in http.requests_to("/mzj")]
        assert len(bodies) == 3 and len({b["title"][-10:] for b in bodies}) == 1
        assert bodies[0]["title"] != bodies[2]["title"]  # one item fewer
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Digest)
                        .where(Digest.recipient == "mzj")) == 1  # never a second digest
        message = s.scalar(select(DeliveryMessage).where(DeliveryMessage.recipient == "mzj",
                                                         DeliveryMessage.person_facing))
        assert (message.state, message.attempts) == ("sent", 3)
        history = s.scalars(select(Delivery.status).where(Delivery.message_id == message.id)
                            .order_by(Delivery.id)).all()
        assert history == ["failed", "failed", "sent"]
        assert s.scalar(select(Reminder.state).where(Reminder.occurrence_id == occ,
                                                     Reminder.recipient == "mzj")) == "void"


def test_the_retry_cap_ends_in_failed_and_tells_the_office(
    make_context, sqlite_url, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("DUBAN_DELIVERY_MAX_ATTEMPTS", "2")
    with HttpReceiver() as http:
        http.reply("/mzj", Reply(502))
        notify = _routes(tmp_path, (f"json://127.0.0.1:{http.port}/mzj", "mzj"),
                         (f"json://127.0.0.1:{http.port}/office", "office"))
        ctx = make_context(sqlite_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        for minutes in (0, 15, 60, 120):
            at = BUSY_DAY + timedelta(minutes=minutes)
            result = dispatch(ctx, at, _notifier(ctx, at))
        assert len(http.requests_to("/mzj")) == 2
        told = [r for r in http.requests_to("/office") if "502" in r.json["message"]]
        assert len(told) == 1
    assert result.digests == 0
    with ctx.db.session() as s:
        assert s.scalar(select(Digest.state).where(Digest.recipient == "mzj")) == "failed"


def test_a_crash_repeats_at_most_the_messages_in_flight(people) -> None:
    ctx, http = people
    chase(ctx, BUSY_DAY)

    class DiesAfterSending:
        def __init__(self, inner: Notifier) -> None:
            self.inner, self.concurrency = inner, inner.concurrency
            self.routes_for = inner.routes_for
            self.batches = 0

        def send_many(self, messages):
            out = self.inner.send_many(messages)
            self.batches += 1
            if self.batches == 3:
                raise KeyboardInterrupt("killed between send and record")
            return out

    with pytest.raises(KeyboardInterrupt):
        dispatch(ctx, BUSY_DAY, DiesAfterSending(_notifier(ctx, BUSY_DAY, workers=4)))
    # A rerun inside the lease names what is in flight and when it is tried again.
    inside = BUSY_DAY + timedelta(minutes=1)
    rerun = dispatch(ctx, inside, _notifier(ctx, inside))
    assert rerun.status["in_flight"] >= 1 and "发送中" in rerun.summary
    assert "09:10 后重试" in rerun.summary
    after = BUSY_DAY + LEASE + timedelta(seconds=1)
    dispatch(ctx, after, _notifier(ctx, after))
    titles = _titles(http)
    with ctx.db.session() as s:
        digests = s.scalars(select(Digest.title).where(Digest.state != "void")).all()
    assert set(titles) == set(digests)  # every owed digest arrived: 0 lost
    duplicates = sum(n - 1 for n in titles.values())
    assert 1 <= duplicates <= 4  # at most the in-flight batch (the sender's concurrency)


def test_a_timeout_after_sending_is_unknown_and_not_resent(
    make_context, db_url, tmp_path
) -> None:
    with SilentServer() as hung:
        notify = _routes(tmp_path, (f"json://127.0.0.1:{hung.port}/x", "mzj"))
        ctx = make_context(db_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        result = dispatch(ctx, BUSY_DAY, _notifier(ctx, BUSY_DAY, timeout=0.5))
        assert result.status["unknown"] == 1 and result.messages["unknown"] == 1
        assert hung.connections == 1
        later = BUSY_DAY + timedelta(hours=1)
        dispatch(ctx, later, _notifier(ctx, later, timeout=0.5))
        assert hung.connections == 1  # not re-sent blindly


def test_two_dispatches_at_once_send_each_digest_once(people, make_context) -> None:
    """Safe by design: carry-over, assembly, planning and claims take turns (an advisory lock
    on PostgreSQL, the write lock on SQLite), and every transaction locks digest rows in id
    order before their messages or reminders."""
    ctx, http = people
    chase(ctx, BUSY_DAY)
    twins = [ctx, make_context(ctx.settings.database_url, notify=ctx.settings.notify_config)]
    errors: list[BaseException] = []

    def run(c: Context) -> None:
        try:
            dispatch(c, BUSY_DAY, _notifier(c, BUSY_DAY, workers=8))
        except BaseException as exc:  # asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in twins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    titles = _titles(http)
    assert len(titles) > 10 and set(titles.values()) == {1}
    assert _count(ctx, Reminder, Reminder.state.not_in(("sent", "void"))) == 0


def test_undelivered_reminders_join_the_next_days_digest(make_context, sqlite_url,
                                                         tmp_path) -> None:
    with HttpReceiver() as http:
        http.reply("/mzj", Reply(500))
        notify = _routes(tmp_path, (f"json://127.0.0.1:{http.port}/mzj", "mzj"))
        ctx = make_context(sqlite_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        dispatch(ctx, BUSY_DAY, _notifier(ctx, BUSY_DAY))
        http.reply("/mzj", Reply(200, json={"ok": True}))
        next_day = BUSY_DAY + timedelta(days=1)
        dispatch(ctx, next_day, _notifier(ctx, next_day))
        received = http.requests_to("/mzj")
    assert received[-1].json["title"].endswith("2023-10-17")
    with ctx.db.session() as s:
        states = Counter(s.scalars(select(Digest.state).where(Digest.recipient == "mzj")))
        assert states == Counter({"carried": 1, "sent": 1})
        assert s.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.recipient == "mzj", Reminder.state != "sent")) == 0


def test_digest_by_email_is_plain_text_utf8_with_chinese_subject(
    make_context, sqlite_url, tmp_path
) -> None:
    with SmtpReceiver() as smtp:
        notify = _routes(tmp_path, (f"mailto://127.0.0.1:{smtp.port}?from=duban@example.org"
                                    "&to=ld@example.org", "supervisor"))
        ctx = make_context(sqlite_url, notify=notify)
        setup(ctx, BUSY_DAY)
        chase(ctx, BUSY_DAY)
        result = dispatch(ctx, BUSY_DAY, notifier_for(ctx, BUSY_DAY))
        mail = smtp.wait_for(1)[0].message
    assert result.status["sent"] == 1
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Subject"].startswith("【督办】督查人员")
    body = mail.get_content()
    assert "以下事项已逾期" in body and "\n一、社区固本强基行动\n" in body


def test_retry_wait_doubles() -> None:
    from duban.chase.messages import RetryPolicy

    policy = RetryPolicy()
    assert policy.wait(1) == RETRY_AFTER and policy.wait(2) == 2 * RETRY_AFTER
