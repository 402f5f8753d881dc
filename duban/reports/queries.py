"""Reading reports back: every report of an item as people read it, and lookups by key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.clock import shanghai
from duban.ledger.models import AuditEntry, Report
from duban.reports.inputs import KIND_ZH


@dataclass(frozen=True)
class ReportView:
    """One report as people read it, with whether a later correction superseded it."""

    id: int
    occurrence_id: int
    kind: str
    value: float | None
    unit: str | None
    note: str
    evidence: str
    problems: str
    support: str
    entered_by: str
    at: str  # Shanghai wall time
    supersedes_id: int | None
    superseded_by: int | None
    reason: str
    verdict_text: str
    numerator: float | None = None  # a rate's or an average's parts, when reported so
    denominator: float | None = None

    @property
    def kind_zh(self) -> str:
        return ("更正" if self.supersedes_id else "") + KIND_ZH.get(self.kind, self.kind)

    @property
    def evidence_label(self) -> str:
        """A link as written; an upload as its original name and stored name."""
        if self.evidence.startswith("file:"):
            stored, _, name = self.evidence.removeprefix("file:").partition("|")
            return f"附件 {name}（{stored[:12]}…）"
        return self.evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "occurrence_id": self.occurrence_id, "kind": self.kind,
            "value": self.value, "unit": self.unit, "note": self.note, "evidence": self.evidence,
            "problems": self.problems, "support": self.support, "entered_by": self.entered_by,
            "at": self.at, "supersedes": self.supersedes_id, "superseded_by": self.superseded_by,
            "reason": self.reason, "verdict_text": self.verdict_text,
            "numerator": self.numerator, "denominator": self.denominator,
        }


def list_reports(session: Session, occurrence_id: int) -> list[ReportView]:
    """Every report of an occurrence, oldest first, superseded ones included."""
    reports = session.scalars(select(Report).where(Report.occurrence_id == occurrence_id)
                              .order_by(Report.created_at, Report.id)).all()
    by_old = {r.supersedes_id: r.id for r in reports if r.supersedes_id}
    verdicts = dict(session.execute(
        select(AuditEntry.entity_key, AuditEntry.detail).where(
            AuditEntry.entity == "report", AuditEntry.entity_key.in_([str(r.id) for r in reports]))
    ).all()) if reports else {}
    return [
        ReportView(
            r.id, r.occurrence_id, r.kind, r.value, r.unit, r.note, r.evidence, r.problems,
            r.support_needed, r.entered_by, shanghai(r.created_at), r.supersedes_id,
            by_old.get(r.id), r.correction_reason,
            (verdicts.get(str(r.id)) or {}).get("verdict_text", ""), r.numerator, r.denominator,
        )
        for r in reports
    ]


def standing_report_id(session: Session, occurrence_id: int) -> int | None:
    """The newest report of an occurrence (done or progress) that no later one superseded: the
    one the office reviews."""
    reports = session.execute(
        select(Report.id, Report.supersedes_id).where(Report.occurrence_id == occurrence_id,
                                                      Report.kind != "ack")
        .order_by(Report.created_at.desc(), Report.id.desc())).tuples().all()
    superseded = {old for _, old in reports if old}
    return next((rid for rid, _ in reports if rid not in superseded), None)


def find_report(session: Session, idempotency_key: str) -> Report | None:
    return session.scalar(select(Report).where(Report.idempotency_key == idempotency_key))
