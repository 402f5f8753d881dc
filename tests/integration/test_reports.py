"""The report core (duban.reports.submission) on real SQLite and PostgreSQL: what a report does
to its item,
idempotency, corrections, refusals with nothing half-recorded, and the audit trail.

The June 2023 monthly reports are due on the 5th working day of July (2023-07-07); the clock
stands at 2023-07-05 10:00 Shanghai unless a test moves it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from duban.calendar.clock import at_local
from duban.ledger.models import (
    AuditEntry,
    Department,
    Duty,
    Occurrence,
    Report,
)
from duban.reports import tokens
from duban.reports.errors import ReportInputError, ReportRefused
from duban.reports.evidence import EVIDENCE_LIMIT, EvidenceFile
from duban.reports.queries import list_reports
from duban.reports.submission import Submission, Submitter, submit
from duban.service import chase
from tests.support.reports import (
    HOMES,
    NOW,
    PDF,
    SAMPLE,
    VISITS_FINAL,
    any_occ_of,
    counts,
    file_report,
    occ_id,
    occurrence,
    owner_of,
    reminders_for,
    sign_off,
    state_of,
)

# -- what a report does to its item ------------------------------------------------------------


def test_done_reports_the_item_for_review_and_the_next_chase_stops(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    outcome = file_report(loaded, occ, value="260", note="6月新增改造260户")
    assert outcome.closed and outcome.closed_on == date(2023, 7, 5)
    assert outcome.awaiting_review and "等待督办办公室审核" in outcome.message
    assert outcome.value == 260 and outcome.unit == "户"
    row = occurrence(loaded, occ)
    assert (row.status, row.closed_on, row.closed_at) == ("reported", date(2023, 7, 5), NOW)
    due_day = at_local(date(2023, 7, 7))
    chase(loaded, due_day, [2])
    assert reminders_for(loaded, occ, date(2023, 7, 7)) == []
    other = occ_id(loaded, HOMES, "daiyue-mzj", "2023-06")
    assert reminders_for(loaded, other, date(2023, 7, 7)) == [("due", "daiyue-mzj")]
    assert state_of(loaded, occ, date(2023, 7, 10)) == "reported"
    sign_off(loaded, occ, at_local(date(2023, 7, 10), 10))
    assert occurrence(loaded, occ).status == "closed"
    assert state_of(loaded, occ, date(2023, 7, 10)) == "done"


def test_a_late_report_shows_done_late(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, value=300, now=at_local(date(2023, 7, 11), 15))
    assert state_of(loaded, occ, date(2023, 7, 12)) == "reported"
    sign_off(loaded, occ, at_local(date(2023, 7, 13), 15))  # judged on the report's day
    assert state_of(loaded, occ, date(2023, 7, 14)) == "done_late"


@pytest.mark.parametrize(("duty", "owner", "keep_open", "closed"), [
    (HOMES, "taishan-mzj", False, True),  # the monthly figure is the period's report
    ("assistance-standards-raise/progress", "mzj", False, True),  # a quarter's progress
    ("assistance-standards-raise/progress", "mzj", True, False),  # ... kept open on request
    ("assistance-standards-raise", "mzj", False, False),  # a milestone's interim progress
    ("assistance-stations-coverage/final", "mzj", False, False),  # a year-end interim figure
])
def test_which_progress_reports_close_their_item(
    loaded, duty: str, owner: str, keep_open: bool, closed: bool
) -> None:
    occ = occ_id(loaded, duty, owner)
    with loaded.db.session() as s:
        has_target = s.get(Occurrence, occ).duty.target_id is not None
    outcome = file_report(loaded, occ, "progress", value=50 if has_target else None,
                          keep_open=keep_open)
    assert outcome.closed is closed
    assert occurrence(loaded, occ).status == ("reported" if closed else "open")


def test_acknowledgement_pauses_urging_but_not_the_deadline(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    monday = at_local(date(2023, 7, 10), 8)  # one working day late
    outcome = file_report(loaded, occ, "ack", now=monday)
    assert outcome.kind == "ack" and not outcome.closed
    assert outcome.acknowledged_until == loaded.calendar.add_workdays(date(2023, 7, 10), 5)
    assert "截止日期2023-07-07不变" in outcome.message
    row = occurrence(loaded, occ)
    assert row.status == "open" and row.due_on == date(2023, 7, 7)
    chase(loaded, at_local(date(2023, 7, 10)), [2])
    assert reminders_for(loaded, occ, date(2023, 7, 10)) == []  # the urge is paused
    other = occ_id(loaded, HOMES, "daiyue-mzj", "2023-06")
    assert ("urge", "daiyue-mzj") in reminders_for(loaded, other, date(2023, 7, 10))
    assert state_of(loaded, occ, date(2023, 7, 10)) == "overdue"  # the deadline stands


def test_an_acknowledged_item_can_still_be_reported_done(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, "ack")
    assert file_report(loaded, occ, value=10).closed


# -- idempotency -------------------------------------------------------------------------------


def test_the_same_submission_twice_records_one_report_and_answers_the_same(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    first = file_report(loaded, occ, "progress", key="k-1", value="120", note="ok")
    later = datetime(2023, 7, 6, 2, tzinfo=UTC)
    file_report(loaded, occ_id(loaded, HOMES, "daiyue-mzj", "2023-06"), value=500, now=later)
    again = file_report(loaded, occ, "progress", key="k-1", value="120", note="ok", now=later)
    assert again == first and again.replayed and not first.replayed
    assert again.verdict_text == first.verdict_text  # the first answer, not a fresh judgement
    with loaded.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Report)
                        .where(Report.occurrence_id == occ)) == 1


def test_a_key_reused_for_different_content_is_refused(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, "progress", key="k-2", value="120")
    before = counts(loaded)
    with pytest.raises(ReportRefused) as caught:
        file_report(loaded, occ, "progress", key="k-2", value="121")
    assert caught.value.field == "idempotency_key" and "内容不同" in caught.value.zh
    assert counts(loaded) == before


# -- closed, superseded, corrections -----------------------------------------------------------


def test_a_closed_item_refuses_reports_and_acknowledgements(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, value=100)
    sign_off(loaded, occ)
    before = counts(loaded)
    for kind, value in (("done", 120), ("progress", 120), ("ack", None)):
        with pytest.raises(ReportRefused, match="办结") as caught:
            file_report(loaded, occ, kind, value=value)
        assert caught.value.field == "occurrence_id"
    assert counts(loaded) == before


def test_an_item_of_a_superseded_duty_is_refused(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    with loaded.db.session() as s:
        s.execute(update(Duty).where(Duty.key == HOMES).values(active=False))
    with pytest.raises(ReportRefused, match="不在现行方案") as caught:
        file_report(loaded, occ, value=100)
    assert caught.value.field == "occurrence_id"


def test_a_correction_supersedes_and_both_stay_visible(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    first = file_report(loaded, occ, value=100)
    later = datetime(2023, 7, 12, 2, tzinfo=UTC)
    fixed = file_report(loaded, occ, value=110, correction_of=first.report_id,
                        reason="漏计10户", now=later)
    assert fixed.supersedes_id == first.report_id and "更正" in fixed.message
    assert fixed.closed_on == date(2023, 7, 5)  # correcting a figure does not make it late
    with loaded.db.session() as s:
        views = list_reports(s, occ)
    assert [(v.id, v.value, v.superseded_by) for v in views] == [
        (first.report_id, 100, fixed.report_id), (fixed.report_id, 110, None)]
    assert views[1].reason == "漏计10户" and views[1].kind_zh == "更正办结"
    with pytest.raises(ReportRefused, match="已被报告") as caught:
        file_report(loaded, occ, value=111, correction_of=first.report_id, reason="again")
    assert caught.value.field == "correction_of"


def test_a_correction_needs_a_reason_and_a_report_of_the_same_item(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    other = occ_id(loaded, HOMES, "daiyue-mzj", "2023-06")
    first = file_report(loaded, occ, value=100)
    theirs = file_report(loaded, other, value=100)
    with pytest.raises(ReportInputError) as caught:
        file_report(loaded, occ, value=110, correction_of=first.report_id)
    assert caught.value.field == "reason"
    with pytest.raises(ReportRefused):
        file_report(loaded, occ, value=110, correction_of=theirs.report_id, reason="x")


def test_correcting_done_to_progress_reopens_a_milestone(loaded) -> None:
    occ = occ_id(loaded, "assistance-standards-raise", "mzj")
    done = file_report(loaded, occ, note="已印发")
    assert occurrence(loaded, occ).status == "reported"
    fixed = file_report(loaded, occ, "progress", correction_of=done.report_id,
                        reason="文件尚未印发，误报办结")
    assert not fixed.closed
    row = occurrence(loaded, occ)
    assert (row.status, row.closed_on, row.closed_at) == ("open", None, None)


# -- refusals: other departments, bad values; nothing half-recorded -------------------------


def test_no_department_can_report_on_another_departments_item(loaded) -> None:
    owned = {code: any_occ_of(loaded, code) for code in SAMPLE}
    before = counts(loaded)
    pairs = [(a, b) for a, b in itertools.permutations(SAMPLE, 2) if owned[b] is not None]
    assert len(pairs) >= 12
    for submitter, owner in pairs:
        for kind in ("done", "ack"):
            with pytest.raises(ReportRefused) as caught:
                file_report(loaded, owned[owner], kind, department=submitter)
            assert caught.value.field == "department", (submitter, owner)
            assert "其他单位" in caught.value.zh
    assert counts(loaded) == before


def test_an_office_entry_is_the_departments_report_entered_by_a_named_person(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    rules = loaded.report_rules
    with loaded.db.session() as s, pytest.raises(ReportRefused):  # no name: refused
        submit(s, Submission(occ, "done", "x", value=1), Submitter(None), rules, NOW)
    owner = owner_of(loaded, occ)
    with loaded.db.session() as s:
        outcome = submit(s, Submission(occ, "done", "y", value=1),
                         Submitter(None, entered_by="office:赵六"), rules, NOW)
        report = s.get(Report, outcome.report_id)
        assert (report.entered_by, report.department_id) == ("office:赵六", owner)
    assert outcome.department == "taishan-mzj" and outcome.closed


BAD_INPUTS = [
    # (duty, owner, fields, field at fault, words the message must contain)
    (HOMES, "taishan-mzj", {"value": "二百"}, "value", "不是数字"),
    (HOMES, "taishan-mzj", {"value": "12a"}, "value", "不是数字"),
    (HOMES, "taishan-mzj", {"value": "inf"}, "value", "不是数字"),
    (HOMES, "taishan-mzj", {"value": "-5"}, "value", "负数"),
    (HOMES, "taishan-mzj", {"value": "2.5"}, "value", "整数"),
    (HOMES, "taishan-mzj", {}, "value", "请填写"),
    (VISITS_FINAL, "mzj", {"value": "100.5"}, "value", "百分比不能超过100"),
    (HOMES, "taishan-mzj", {"value": "5", "unit": "人"}, "unit", "不符"),
    (VISITS_FINAL, "mzj", {"value": "95", "unit": "户"}, "unit", "不符"),
    ("assistance-standards-raise", "mzj", {"value": "5"}, "value", "没有量化指标"),
    (HOMES, "taishan-mzj", {"value": "5", "note": "长" * 2001}, "note", "过长"),
    (HOMES, "taishan-mzj", {"value": "5", "problems": "问" * 2001}, "problems", "过长"),
    (HOMES, "taishan-mzj", {"value": "5", "support": "a\x00b"}, "support", "控制字符"),
    (HOMES, "taishan-mzj", {"value": "5", "kind": "finished"}, "kind", "无效"),
    (HOMES, "taishan-mzj", {"value": "5", "evidence": "javascript:alert(1)"}, "evidence",
     "链接无效"),
    (HOMES, "taishan-mzj", {"value": "5", "evidence": EvidenceFile("a.exe", b"MZ\x90")},
     "evidence", "不支持的文件类型"),
    (HOMES, "taishan-mzj", {"value": "5", "evidence": EvidenceFile("a.html", b"<html>")},
     "evidence", "不支持的文件类型"),
    (HOMES, "taishan-mzj",
     {"value": "5", "evidence": EvidenceFile("big.pdf", PDF + b"0" * EVIDENCE_LIMIT)},
     "evidence", "文件过大"),
    (HOMES, "taishan-mzj", {"value": "5", "evidence": EvidenceFile("fake.png", b"<svg/>")},
     "evidence", "不符"),
    (HOMES, "taishan-mzj", {"kind": "ack", "value": "5"}, "value", "签收不填写数值"),
]


def test_each_bad_input_is_refused_with_its_message_and_nothing_recorded(loaded) -> None:
    """One loaded ledger for the whole table: a refusal must leave it exactly as it was."""
    before = counts(loaded)
    for duty, owner, fields, field, words in BAD_INPUTS:
        occ = occ_id(loaded, duty, owner)
        fields = dict(fields)
        kind = fields.pop("kind", "done")
        with pytest.raises(ReportInputError) as caught:
            file_report(loaded, occ, kind, **fields)
        case = (duty, field, words)
        assert caught.value.field == field, case
        assert words in caught.value.zh, (case, caught.value.zh)
        assert caught.value.en and caught.value.en != caught.value.zh, case  # English too
        assert counts(loaded) == before, case
        assert not (loaded.settings.home / "evidence").exists(), case


def test_a_percentage_of_exactly_100_and_fullwidth_input_are_accepted(loaded) -> None:
    occ = occ_id(loaded, VISITS_FINAL, "mzj")
    outcome = file_report(loaded, occ, value="１００", unit="％")
    assert outcome.value == 100 and outcome.unit == "%" and outcome.verdict == "met"


def test_an_uploaded_file_is_kept_under_its_sha256(loaded) -> None:
    import hashlib

    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    outcome = file_report(loaded, occ, value=5, evidence=EvidenceFile("台账.pdf", PDF))
    digest = hashlib.sha256(PDF).hexdigest()
    stored = loaded.settings.home / "evidence" / f"{digest}.pdf"
    assert stored.read_bytes() == PDF
    with loaded.db.session() as s:
        report = s.get(Report, outcome.report_id)
        assert report.evidence_sha256 == digest
        assert list_reports(s, occ)[0].evidence_label.startswith("附件 台账.pdf")
    assert [p.name for p in Path(stored.parent).iterdir()] == [stored.name]


# -- the audit trail ------------------------------------------------------------------------


def test_the_audit_has_every_report_ack_correction_and_token_issue(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    with loaded.db.session() as s:
        dept = s.scalar(select(Department).where(Department.code == "taishan-mzj"))
        tokens.issue(s, dept, NOW, "cli", actor="office:王五")
    ack = file_report(loaded, occ, "ack")
    done = file_report(loaded, occ, value=5)
    fixed = file_report(loaded, occ, value=6, correction_of=done.report_id, reason="笔误")
    with loaded.db.session() as s:
        entries = s.execute(select(AuditEntry.verb, AuditEntry.actor, AuditEntry.entity_key,
                                   AuditEntry.at, AuditEntry.detail)
                            .where(AuditEntry.verb.in_(["acknowledged", "report_submitted",
                                                        "report_corrected", "token_issued"]))
                            .order_by(AuditEntry.id)).all()
    assert [(v, a, k) for v, a, k, _, _ in entries] == [
        ("token_issued", "office:王五", "taishan-mzj"),
        ("acknowledged", "department:taishan-mzj", str(ack.report_id)),
        ("report_submitted", "department:taishan-mzj", str(done.report_id)),
        ("report_corrected", "department:taishan-mzj", str(fixed.report_id)),
    ]
    assert all(at == NOW for _, _, _, at, _ in entries)
    assert entries[3][4]["reason"] == "笔误" and entries[3][4]["supersedes_id"] == done.report_id


def test_the_audit_and_reports_cannot_be_rewritten(loaded) -> None:
    occ = occ_id(loaded, HOMES, "taishan-mzj", "2023-06")
    file_report(loaded, occ, value=5)
    for statement in ("UPDATE audit SET actor = 'someone'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"), loaded.db.session() as s:
            s.execute(text(statement))
    import duban.reports.evidence
    import duban.reports.queries
    import duban.reports.submission

    for core in (duban.reports.submission, duban.reports.queries, duban.reports.evidence):
        public = [name for name in dir(core) if not name.startswith("_")]
        assert not [n for n in public if n.startswith(("delete", "update", "edit", "remove"))]
