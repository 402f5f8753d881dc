"""A fake clock walks through autumn 2023: exactly who receives what on which day.

A two-item plan keeps the expectations readable: one city item owed by 市市场监管局 (scjgj, not
the action's lead 市民政局, so urging copies mzj) and one county item owed by 泰山区市场监督管理局
(taishan-scjgj, whose urging copies its city counterpart scjgj). Both are September's progress,
due on the 5th working day of October 2023 = 10-11: October opens with eight days off
(09-29..10-06) and two adjusted working days, Saturday 10-07 and Sunday 10-08.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from duban.calendar.clock import at_local, local_day
from duban.ledger.models import Delivery, Digest, OutboxMessage, Reminder
from duban.service import chase, dispatch, setup
from notifications import notifier_for
from tests.support.small_plan import write_config

A = "城市数据进展"  # the city item's duty title starts with its target title
C = "县级数据进展"


LEVEL = re.compile(r"^\d+\. (?:【[^】]+】)?(\S+?)（[^）]*）（(\S+?)）\[(\S+)\]$", re.M)

EXPECTED: dict[date, dict[str, set[tuple[str, str]]]] = {
    date(2023, 10, 8): {"scjgj": {(A, "提前提醒")}, "taishan-scjgj": {(C, "提前提醒")}},
    date(2023, 10, 11): {"scjgj": {(A, "今日到期")}, "taishan-scjgj": {(C, "今日到期")}},
    date(2023, 10, 12): {
        "scjgj": {(A, "催办"), (C, "催办")},  # its own item, and a copy as the county's lead
        "mzj": {(A, "催办")},  # copied as the action's lead
        "taishan-scjgj": {(C, "催办")},
    },
    date(2023, 10, 16): {
        "office": {(A, "督办升级"), (C, "督办升级")},
        "supervisor": {(A, "督办升级"), (C, "督办升级")},
    },
    date(2023, 10, 18): {
        "scjgj": {(A, "再次催办"), (C, "再次催办")},
        "mzj": {(A, "再次催办")},
        "taishan-scjgj": {(C, "再次催办")},
    },
    date(2023, 10, 20): {
        "scjgj": {(A, "再次催办"), (C, "再次催办")},
        "mzj": {(A, "再次催办")},
        "taishan-scjgj": {(C, "再次催办")},
    },
}


def _received(ctx) -> dict[date, dict[str, set[tuple[str, str]]]]:
    got: dict[date, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    with ctx.db.session() as s:
        for message in s.scalars(select(OutboxMessage)):
            for title, _period, level in LEVEL.findall(message.body):
                got[local_day(message.at)][message.recipient].add((title[:6], level))
    return {day: dict(v) for day, v in got.items()}


@pytest.fixture
def walked(make_context, db_url, tmp_path):
    ctx = make_context(db_url, config_dir=write_config(tmp_path / "config"))
    setup(ctx, at_local(date(2023, 9, 20)))
    day = date(2023, 9, 25)
    while day <= date(2023, 10, 20):
        now = at_local(day, 9)
        chase(ctx, now)
        dispatch(ctx, now, notifier_for(ctx, now))
        day += timedelta(days=1)
    return ctx


def test_who_receives_what_on_which_day(walked) -> None:
    assert _received(walked) == EXPECTED


def test_nothing_is_sent_on_days_off_and_the_working_weekend_counts(walked) -> None:
    days = set(_received(walked))
    assert date(2023, 10, 8) in days  # Sunday, an adjusted working day
    assert not days & {date(2023, 9, 29) + timedelta(n) for n in range(8)}  # National Day
    assert date(2023, 10, 14) not in days and date(2023, 10, 15) not in days


def test_one_digest_per_recipient_per_day_and_every_delivery_recorded(walked) -> None:
    with walked.db.session() as s:
        digests = s.scalars(select(Digest)).all()
        pairs = [(d.recipient, d.day) for d in digests]
        assert len(pairs) == len(set(pairs))
        # The shipped notify.yaml has only the outbox: a record, never a delivery to a person.
        assert all(d.state == "unroutable" for d in digests)
        deliveries = s.scalars(select(Delivery)).all()
        assert len(deliveries) == len(digests)
        assert {(d.channel, d.status) for d in deliveries} == {("outbox", "sent")}
        assert s.scalars(select(Reminder).where(Reminder.state != "unroutable")).all() == []


def test_rerunning_a_day_sends_nothing_new(walked) -> None:
    with walked.db.session() as s:
        before = len(s.scalars(select(OutboxMessage)).all())
    now = at_local(date(2023, 10, 18), 15)
    results = chase(walked, now)
    assert sum(r.recorded for r in results) == 0
    assert dispatch(walked, now, notifier_for(walked, now)).digests == 0
    with walked.db.session() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == before


def test_digest_text_says_what_when_how_late_and_how(walked) -> None:
    with walked.db.session() as s:
        message = s.scalar(
            select(OutboxMessage).where(
                OutboxMessage.recipient == "taishan-scjgj", OutboxMessage.title.contains("逾期")
            )
        )
    assert message is not None
    assert "泰山区市场监督管理局" in message.title
    assert "一、社区养老服务行动" in message.body
    assert "截止：2023-10-11（逾期 1 个工作日）" in message.body
    assert "逾期，" not in message.body and "再次" not in message.body
    # One department link, stored redacted (the sent text carried the live one).
    assert message.body.count("http://127.0.0.1:8000/d/（链接已隐去）") == 1
    assert not re.search(r"/[rd]/[A-Za-z0-9_-]{20,}", message.body)


def test_supervisors_get_a_weekly_brief_on_each_weeks_first_working_day(walked) -> None:
    with walked.db.session() as s:
        briefs = s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "supervisor", OutboxMessage.body.contains("督办周报"))).all()
    days = sorted(local_day(m.at) for m in briefs)
    # Week 40 (10-02..10-08) is National Day: its first working day is Saturday 10-07.
    assert days == [date(2023, 9, 25), date(2023, 10, 7), date(2023, 10, 9), date(2023, 10, 16)]
    last = max(briefs, key=lambda m: m.at).body
    assert "总体：未到期4项，临期0项，逾期2项" in last
    ranked = ("逾期最多的单位：\n  1. 泰安市市场监督管理局：逾期1项\n"
              "  2. 泰山区市场监督管理局：逾期1项")
    assert ranked in last
    assert "  - 行动1 城市数据（不少于10个）：尚无报送数据" in last
