"""The invariants, checked after every simulated day; each violation names day, item and rule.

Rules (the names used in the report):
  quiet-day          no message reaches anyone on a non-working day
  one-digest         at most one ladder digest per recipient per day (manual urging apart)
  reminder-owed      every reminder due by today is delivered once, or visibly undelivered
                     (failed/unknown/unroutable with its delivery rows) and tried again later
  closed-has-report  nothing is closed without a closing report
  board-counts       the board's counts (duban.supervise.board) equal the ledger's
  excel-counts       the Excel ledger's rows (duban.supervise.export) equal the ledger's
  event-feed         every emitted item event is in Prefect's event feed exactly once
  workday-deadline   every deadline falls on an official working day
  no-token-in-logs   no token handed out appears in any log
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATE_ZH
from duban.ledger.models import Delivery, Digest, Duty, Occurrence, Plan, Reminder, Report
from duban.service import Context
from duban.supervise.board import build_board
from duban.supervise.export import ITEM_HEADERS, write_xlsx
from tools.simulate.receivers import Message

DONE_ZH = {STATE_ZH["done"], STATE_ZH["done_late"]}
AWAITING_ZH = STATE_ZH.get("reported")  # 已报送·待审核, where the office reviews reports
TOKEN_IN_LINK = re.compile(r"/[rd]/([A-Za-z0-9_-]{20,})")
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{20,}")
CARRIED = ("carried",)  # undelivered, its reminders moved into the next digest (a retry)
RECORD_CHANNELS = ("outbox",)  # channels that keep a copy but reach nobody
RETRY_GRACE = 3  # working days after a failure within which a retry must have happened


def split(by_state_zh: Counter) -> tuple[int, int, int]:
    """(open, awaiting review, closed) from counts by the Chinese state shown in a view."""
    closed = sum(by_state_zh[s] for s in DONE_ZH)
    awaiting = by_state_zh[AWAITING_ZH] if AWAITING_ZH else 0
    return sum(by_state_zh.values()) - closed - awaiting, awaiting, closed


def ledger_split(truth: Counter) -> tuple[int, int, int]:
    """(open, awaiting review, closed) from occurrence.status counts."""
    return truth["open"], truth["reported"], sum(truth.values()) - truth["open"] - truth["reported"]


@dataclass(frozen=True)
class Violation:
    day: date
    rule: str
    item: str
    detail: str

    def line(self) -> str:
        return f"{self.day} [{self.rule}] {self.item}: {self.detail}"


@dataclass
class Checker:
    ctx: Context
    calendar: WorkCalendar
    violations: list[Violation] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    manual: Counter = field(default_factory=Counter)  # (tag, day) -> extra messages allowed
    judged_digests: set[int] = field(default_factory=set)
    log: object = None

    def flag(self, day: date, rule: str, item: str, detail: str) -> None:
        violation = Violation(day, rule, item, detail)
        if self.log is not None and len(self.violations) < 20:
            self.log(f"  违反 / violation: {violation.line()}")
        self.violations.append(violation)

    # -- what recipients received ---------------------------------------------------------

    def messages(self, day: date, received: list[Message]) -> None:
        for message in received:
            self.tokens.update(TOKEN_IN_LINK.findall(message.body))
        if not self.calendar.is_workday(day):
            for m in received:
                self.flag(day, "quiet-day", m.tag, f"received “{m.title}” by {m.channel}")
        per_tag = Counter((m.tag, m.channel) for m in received)
        for (tag, channel), count in per_tag.items():
            allowed = 1 + self.manual[(tag, day)]
            if count > allowed:
                self.flag(day, "one-digest", tag,
                          f"{count} messages by {channel} (allowed {allowed}, manual urging incl.)")

    # -- the ledger ------------------------------------------------------------------------

    def ledger(self, day: date) -> None:
        with self.ctx.db.read() as s:
            self._deadlines(s, day)
            self._closed(s, day)
            self._reminders(s, day)

    def _deadlines(self, s, day: date) -> None:
        rows = s.execute(select(Occurrence.id, Occurrence.due_on).distinct()).all()
        for occ, due in rows:
            if not self.calendar.is_workday(due):
                self.flag(day, "workday-deadline", f"occurrence {occ}",
                          f"due {due} is not a working day")

    def _closed(self, s, day: date) -> None:
        closing = select(Report.occurrence_id).where(Report.kind != "ack")
        bad = s.scalars(select(Occurrence.id).where(Occurrence.status != "open",
                                                    Occurrence.id.not_in(closing))).all()
        for occ in bad:
            self.flag(day, "closed-has-report", f"occurrence {occ}", "closed with no report")

    def _reminders(self, s, day: date) -> None:
        """Owed reminders: delivered to a person-facing channel (the outbox is a record, not a
        delivery), or visibly undelivered (the digest not marked sent, delivery rows kept) and
        tried again within RETRY_GRACE working days."""
        if not self.calendar.is_workday(day):
            return
        waiting = s.execute(select(Reminder.id, Reminder.recipient, Reminder.send_on,
                                   Reminder.state)
                            .where(Reminder.send_on < day, Reminder.digest_id.is_(None))).all()
        for rid, tag, send_on, state in waiting:
            if self.calendar.workdays_between(send_on, day) > 0:
                self.flag(day, "reminder-owed", f"reminder {rid} ({tag})",
                          f"owed since {send_on}, still {state} and in no digest")
        digests = s.execute(select(Digest.id, Digest.recipient, Digest.day, Digest.state,
                                   Digest.attempts).where(Digest.day <= day)).all()
        reached = set(s.scalars(select(Delivery.digest_id).where(
            Delivery.status == "sent", Delivery.channel.not_in(RECORD_CHANNELS))))
        recorded = set(s.scalars(select(Delivery.digest_id).distinct()))
        for did, tag, dday, state, attempts in digests:
            if did in reached or did in self.judged_digests or state in CARRIED:
                continue  # a carried digest's reminders went into a later digest, judged there
            if state == "sent":
                self.judged_digests.add(did)
                self.flag(day, "reminder-owed", f"digest {did} ({tag}, {dday})",
                          "marked sent, but no person-facing channel took it")
            elif state in ("pending", "queued", "sending") and dday < day:
                self.flag(day, "reminder-owed", f"digest {did} ({tag}, {dday})",
                          f"still {state}")
            elif state == "void" and self._all_answered(s, did):
                self.judged_digests.add(did)  # nothing left owed at send time: rightly not sent
            elif did not in recorded and state != "pending":
                self.flag(day, "reminder-owed", f"digest {did} ({tag}, {dday})",
                          f"{state} with no delivery record")
            elif attempts <= 1 and self.calendar.workdays_between(dday, day) > RETRY_GRACE:
                self.judged_digests.add(did)
                self.flag(day, "reminder-owed", f"digest {did} ({tag}, {dday})",
                          f"{state} and not tried again within {RETRY_GRACE} working days")

    @staticmethod
    def _all_answered(s, digest_id: int) -> bool:
        """A void digest (the dispatch found nothing still owed when it came to send it) is
        right only when every one of its reminders is void and its item has been answered:
        reported, or acknowledged (签收 pauses urging by design)."""
        rows = s.execute(select(Reminder.state, Reminder.occurrence_id)
                         .where(Reminder.digest_id == digest_id)).all()
        reported = set(s.scalars(select(Report.occurrence_id).where(
            Report.occurrence_id.in_([occ for _, occ in rows]))))
        return bool(rows) and all(state == "void" and occ in reported for state, occ in rows)

    # -- the views -------------------------------------------------------------------------

    def truth(self, s, day: date) -> Counter:
        query = (select(Occurrence.status, func.count()).join(Duty, Occurrence.duty_id == Duty.id)
                 .join(Plan, Duty.plan_id == Plan.id)
                 .where(Duty.active.is_(True), Plan.active.is_(True),
                        Occurrence.period_start <= day).group_by(Occurrence.status))
        return Counter(dict(s.execute(query).all()))

    def views(self, day: date, excel: Path | None) -> Counter:
        """Board (and, when a path is given, Excel) against the ledger; returns the board's
        state counts for the day's figures."""
        with self.ctx.db.read() as s:
            truth = self.truth(s, day)
            board = build_board(s, day, self.calendar, self.ctx.config.ladder.slow_progress_ratio)
        states = board.states()
        shown = split(Counter({STATE_ZH[k]: v for k, v in states.items()}))
        if shown != ledger_split(truth):
            self.flag(day, "board-counts", "board",
                      f"open/awaiting review/closed {shown}, ledger {ledger_split(truth)}")
        if excel is not None:
            self._excel(day, board, excel, truth)
        return states

    def _excel(self, day: date, board, path: Path, truth: Counter) -> None:
        write_xlsx(board, path)
        book = load_workbook(path, read_only=True)
        column = ITEM_HEADERS.index("状态")
        shown: Counter = Counter()
        for sheet in book.worksheets:
            header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), ())
            if list(header[:len(ITEM_HEADERS)]) != ITEM_HEADERS:
                continue
            for row in sheet.iter_rows(min_row=2, values_only=True):
                if row and row[0] is not None:
                    shown[row[column]] += 1
        book.close()
        if split(shown) != ledger_split(truth):
            self.flag(day, "excel-counts", path.name,
                      f"open/awaiting review/closed {split(shown)}, ledger {ledger_split(truth)}")

    # -- logs ------------------------------------------------------------------------------

    def logs(self, day: date, paths: list[Path]) -> None:
        if not self.tokens:
            return
        for path in paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            found = set(TOKEN_LIKE.findall(text)) & self.tokens
            for token in sorted(found)[:3]:
                self.flag(day, "no-token-in-logs", path.name, f"token {token[:6]}… appears")
