"""The simulation's own parts (tools/simulate), fast: receivers, clock, checks, chart."""

from __future__ import annotations

import json
import smtplib
import struct
import zlib
from datetime import UTC, date, datetime
from email.message import EmailMessage

import httpx
import pytest

from duban.calendar import clock as real_clock
from duban.calendar.workdays import WorkCalendar
from tools.simulate.checks import Checker
from tools.simulate.clock import SimClock
from tools.simulate.page import FileClock
from tools.simulate.receivers import Inbox, MailReceiver, Message, RobotReceiver
from tools.simulate.report import _text, chart, figures
from tools.simulate.run import DayFigures, Outcome, kill_note

SATURDAY, MONDAY = date(2023, 6, 3), date(2023, 6, 5)


def test_robot_answers_errcode_and_refuses_while_failing() -> None:
    inbox = Inbox()
    robot = RobotReceiver(inbox)
    robot.start()
    try:
        url = f"http://127.0.0.1:{robot.port}/mzj"
        ok = httpx.post(url, json={"title": "督办", "message": "正文"})
        robot.failing.add("mzj")
        refused = httpx.post(url, json={"title": "督办", "message": "again"})
    finally:
        robot.close()
    assert ok.json() == {"errcode": 0, "errmsg": "ok"}
    assert refused.status_code == 503 and refused.json()["errcode"] == 130101
    assert [(m.tag, m.body) for m in inbox.since(0)] == [("mzj", "正文")]


def test_mail_receiver_records_by_recipient_tag() -> None:
    inbox = Inbox()
    inbox.day = MONDAY
    mail = MailReceiver(inbox)
    mail.start()
    try:
        message = EmailMessage()
        message["Subject"], message["From"] = "督办汇总", "duban@sim.duban.local"
        message["To"] = "taishan-mzj@sim.duban.local"
        message.set_content("请报送")
        with smtplib.SMTP("127.0.0.1", mail.port) as smtp:
            smtp.send_message(message)
    finally:
        mail.close()
    got = inbox.since(0)
    assert [(m.channel, m.tag, m.day, m.title) for m in got] == [
        ("mail", "taishan-mzj", MONDAY, "督办汇总")]
    assert "请报送" in got[0].body


def test_file_clock_follows_the_simulation(tmp_path) -> None:
    sim = SimClock(tmp_path / "clock")
    page_clock = FileClock(tmp_path / "clock")
    first = datetime(2023, 6, 5, 1, tzinfo=UTC)
    sim.set(first)
    assert page_clock() == first
    sim.set(datetime(2023, 6, 6, 1, tzinfo=UTC))
    assert page_clock() == datetime(2023, 6, 6, 1, tzinfo=UTC)


def test_frozen_clock_patches_cli_modules_only_while_frozen(tmp_path) -> None:
    import cli.report_cmd as report_cmd

    sim = SimClock(tmp_path / "clock")
    sim.set(datetime(2023, 6, 5, 6, tzinfo=UTC))
    with sim.frozen():
        assert report_cmd.utcnow() == datetime(2023, 6, 5, 6, tzinfo=UTC)
        assert real_clock.parse_as_of(None) == datetime(2023, 6, 5, 6, tzinfo=UTC)
    assert report_cmd.utcnow().year > 2024


def _checker() -> Checker:
    return Checker(ctx=None, calendar=WorkCalendar())  # message rules need no ledger


def _message(tag: str, day: date) -> Message:
    return Message("robot", tag, day, "督办汇总", "http://127.0.0.1:1/r/" + "a" * 43)


def test_a_message_on_a_day_off_is_a_violation() -> None:
    checker = _checker()
    checker.messages(SATURDAY, [_message("mzj", SATURDAY)])
    assert [(v.day, v.rule, v.item) for v in checker.violations] == [
        (SATURDAY, "quiet-day", "mzj")]
    assert "a" * 43 in checker.tokens


def test_two_digests_a_day_only_with_manual_urging() -> None:
    checker = _checker()
    checker.messages(MONDAY, [_message("mzj", MONDAY), _message("mzj", MONDAY)])
    assert [v.rule for v in checker.violations] == ["one-digest"]
    checker = _checker()
    checker.manual[("mzj", MONDAY)] += 1
    checker.messages(MONDAY, [_message("mzj", MONDAY), _message("mzj", MONDAY)])
    assert checker.violations == []


def test_a_token_in_a_log_is_a_violation(tmp_path) -> None:
    checker = _checker()
    checker.tokens.add("T" * 43)
    clean, leaky = tmp_path / "clean.log", tmp_path / "leaky.log"
    clean.write_text("GET /r/<redacted> 200\n")
    leaky.write_text(f"GET /r/{'T' * 43} 200\n")
    checker.logs(MONDAY, [clean, leaky])
    assert [(v.rule, v.item) for v in checker.violations] == [("no-token-in-logs", "leaky.log")]


def test_chart_is_a_valid_png() -> None:
    outcome = Outcome(days=[
        DayFigures(date(2023, 6, d), d not in (3, 4), {"upcoming": 10 - d, "overdue": d,
                                                       "done": d}, d % 3, 2, d, 1.0)
        for d in range(1, 9)])
    data = chart(outcome)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 540)
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    raw = zlib.decompress(data[start:start + length])
    assert len(raw) == height * (1 + 3 * width)
    assert bytes((204, 0, 0)) in raw  # the overdue line is drawn
    rows = [raw[r * (1 + 3 * width) + 1:(r + 1) * (1 + 3 * width)] for r in range(height)]
    axis = bytes((60, 60, 60))
    # figures in the left margin beside the top grid line (the most items: 10) and under the
    # bars (the month the window starts in), and nothing of the axis colour in the margin's
    # empty top-left corner
    assert axis in b"".join(row[:3 * 38] for row in rows[35:50])
    assert axis in b"".join(rows[505:520])
    assert axis not in b"".join(row[:3 * 38] for row in rows[0:10])


def test_text_draws_each_figure_in_its_own_cell() -> None:
    px = [[(255, 255, 255)] * 40 for _ in range(12)]
    _text(px, 0, 0, "1-")
    drawn = {(x, y) for y, row in enumerate(px) for x, p in enumerate(row) if p != (255, 255, 255)}
    assert drawn and all(x < 14 and y < 10 for x, y in drawn)  # 2 cells of 4 px, twice the size
    assert (2, 0) in drawn and (0, 0) not in drawn  # the 1's top stroke is in its middle column
    assert {(x, 4) for x in range(8, 14)} <= drawn  # the dash, across the second cell


def test_figures_split_a_working_day_by_phase() -> None:
    """figures.json says where a working day's time went (flows, people, checks), per day and
    on average over working days only (a day off's phases do not dilute the mean)."""
    days = [DayFigures(MONDAY, True, {}, 3, 19, 0, 6.0, {"flows": 4.0, "people": 1.5,
                                                         "checks": 0.5}),
            DayFigures(date(2023, 6, 6), True, {}, 1, 19, 0, 4.0, {"flows": 2.0, "people": 1.5,
                                                                   "checks": 0.5}),
            DayFigures(SATURDAY, False, {}, 0, 1, 0, 1.0, {"flows": 1.0, "people": 0.0,
                                                            "checks": 0.0})]
    f = figures(Outcome(days=days), _checker(), (SATURDAY, date(2023, 6, 6)), 11.0)
    assert f["seconds_per_working_day"] == 5.0
    assert f["seconds_per_working_day_by_phase"] == {"flows": 3.0, "people": 1.5, "checks": 0.5}
    assert f["per_day"][2] == {"day": "2023-06-03", "workday": False, "messages": 0,
                               "seconds": 1.0, "flows": 1.0, "people": 0.0, "checks": 0.0}
    json.dumps(f)  # figures.json


def test_the_kill_note_says_whether_the_chase_was_killed() -> None:
    killed = {"killed": True, "received_before_kill": 1, "in_flight": 2}
    spared = {"killed": False, "received_before_kill": 0, "in_flight": 0}
    assert "SIGKILLed after 1 digests had arrived, 2 in flight" in kill_note(MONDAY, killed)
    assert "not killed" in kill_note(MONDAY, spared)
    assert "SIGKILLed" not in kill_note(MONDAY, spared)


@pytest.mark.parametrize("payload", [b"not json"])
def test_robot_rejects_bad_json(payload: bytes) -> None:
    inbox = Inbox()
    robot = RobotReceiver(inbox)
    robot.start()
    try:
        answer = httpx.post(f"http://127.0.0.1:{robot.port}/x", content=payload)
    finally:
        robot.close()
    assert answer.status_code == 400 and json.loads(answer.text)["errcode"] == 40035
    assert inbox.since(0) == []
