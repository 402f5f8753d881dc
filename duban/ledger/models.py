"""The ledger's tables: what is owed, what was sent, what was confirmed.

Naming: a *duty* is a recurring obligation derived from the plan (a monthly progress report on
one target, a milestone); an *occurrence* is one duty x one owing department x one period, with
its own due date. Reminders, digests and deliveries record the chase; reports record answers;
the audit trail records every change and is append-only (enforced in `duban.ledger.database`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware instants in, aware UTC instants out, on SQLite (which drops offsets) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: duban stores aware instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


PLAN_STATES = ("draft", "active", "closed")


class Plan(Base):
    """A plan's lifecycle: draft (loaded, not chased) -> active (chased, on the board) -> closed
    (not chased, off the board; its ledger stays and stays reportable)."""

    __tablename__ = "plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    doc_no: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(100))
    issued: Mapped[date] = mapped_column(Date)
    year: Mapped[int]
    timezone: Mapped[str] = mapped_column(String(64))
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="active")  # PLAN_STATES
    ladder_from: Mapped[date | None] = mapped_column(Date)  # urging of old items counts from here
    started_on: Mapped[date | None] = mapped_column(Date)  # the first working day it was chased
    source_file: Mapped[str] = mapped_column(String(300), default="")
    # 审核销号: a department's closing report waits for the office's review (accept or return)
    review_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    actions: Mapped[list[Action]] = relationship(back_populates="plan", order_by="Action.no")

    @hybrid_property
    def active(self) -> bool:
        """Chased and on the board (usable in queries: `Plan.active.is_(True)`)."""
        return self.state == "active"

    @active.inplace.expression
    @classmethod
    def _active_expression(cls) -> ColumnElement[bool]:
        return cls.state == "active"


class Jurisdiction(Base):
    __tablename__ = "jurisdiction"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # city | county | zone


class Department(Base):
    __tablename__ = "department"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    short: Mapped[str] = mapped_column(String(100))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    city_counterpart_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    jurisdiction: Mapped[Jurisdiction] = relationship()
    city_counterpart: Mapped[Department | None] = relationship(remote_side="Department.id")


class Action(Base):
    __tablename__ = "action"
    __table_args__ = (UniqueConstraint("plan_id", "no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    no: Mapped[int]
    title: Mapped[str] = mapped_column(String(100))
    clause: Mapped[str] = mapped_column(Text)
    department_codes: Mapped[list[Any]] = mapped_column(default=list)  # lead first
    plan: Mapped[Plan] = relationship(back_populates="actions")
    targets: Mapped[list[Target]] = relationship(back_populates="action", order_by="Target.id")


class Target(Base):
    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("action_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"))
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    measure: Mapped[str] = mapped_column(String(200))
    op: Mapped[str] = mapped_column(String(16))
    value_low: Mapped[float] = mapped_column(Float)
    value_high: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[str] = mapped_column(String(16))
    rollup: Mapped[str] = mapped_column(String(16))
    cumulative: Mapped[bool] = mapped_column(Boolean, default=False)
    local: Mapped[bool] = mapped_column(Boolean, default=True)
    owner_code: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")
    # a rate or an average reported as its two parts (what each counts), rolled up as
    # sum(numerator) / sum(denominator); null for a target reported as one value
    numerator_label: Mapped[str | None] = mapped_column(String(100))
    denominator_label: Mapped[str | None] = mapped_column(String(100))
    # progress is expected from this figure on this day (default: 0 at the plan year's start)
    baseline_on: Mapped[date | None] = mapped_column(Date)
    baseline_value: Mapped[float | None] = mapped_column(Float)
    action: Mapped[Action] = relationship(back_populates="targets")


class Duty(Base):
    """A recurring obligation: what is owed, by whom, how often, and its deadline rule."""

    __tablename__ = "duty"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("target.id"))
    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))  # target_progress | target_final | ...
    title: Mapped[str] = mapped_column(String(300))
    deliverable: Mapped[str] = mapped_column(String(300), default="")
    frequency: Mapped[str] = mapped_column(String(16))  # monthly | quarterly | once
    due_rule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    warn_days: Mapped[int] = mapped_column(Integer, default=3)
    owner_codes: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    action: Mapped[Action] = relationship()
    target: Mapped[Target | None] = relationship()


WITHDRAWN = "withdrawn"  # Occurrence.status of an item its department no longer owes


class Occurrence(Base):
    """One duty x one owing department x one period.

    `status`: open -> reported (已报送·待审核: a closing report awaits the office's review, when the
    plan requires review) -> closed (已销号), or back to open when the office returns it (已退回:
    `returned_on` set, `due_on` moved to the rework deadline). Without review a closing report
    goes straight to closed. `closed_on` is the day the department reported (timeliness is
    judged on it), not the day the office signed off. An open item of a department that no
    longer owes the duty (a reloaded plan or registry took it away) is `withdrawn` (撤销): kept
    as history, never chased or counted; it opens again if the duty comes back to it."""

    __tablename__ = "occurrence"
    __table_args__ = (
        UniqueConstraint("duty_id", "department_id", "period"),
        Index("ix_occurrence_open_due", "status", "due_on"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    duty_id: Mapped[int] = mapped_column(ForeignKey("duty.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    period: Mapped[str] = mapped_column(String(16))  # 2023-06 | 2023-Q3 | 2023
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    original_due_on: Mapped[date] = mapped_column(Date)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # open | reported | closed | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None]
    closed_on: Mapped[date | None] = mapped_column(Date)
    returned_on: Mapped[date | None] = mapped_column(Date)  # the office's latest return (退回)
    acknowledged_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]
    duty: Mapped[Duty] = relationship()
    department: Mapped[Department] = relationship()


class Report(Base):
    """What a department submitted; append-only, corrections supersede."""

    __tablename__ = "report"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    kind: Mapped[str] = mapped_column(String(16))  # done | progress | ack
    value: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))
    # a rate's or an average's parts (value = numerator / denominator, x100 for a %); null on a
    # single-value report
    numerator: Mapped[float | None] = mapped_column(Float)
    denominator: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    problems: Mapped[str] = mapped_column(Text, default="")
    support_needed: Mapped[str] = mapped_column(Text, default="")
    entered_by: Mapped[str] = mapped_column(String(100))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    correction_reason: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]


class Reminder(Base):
    """One owed reminder to one recipient; the dedup key makes deciding it twice harmless."""

    __tablename__ = "reminder"
    __table_args__ = (Index("ix_reminder_state_day", "state", "send_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrence.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))  # a routing tag
    level: Mapped[str] = mapped_column(String(16))  # advance | due | urge | escalate | manual
    send_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    digest_id: Mapped[int | None] = mapped_column(ForeignKey("digest.id"), index=True)
    created_at: Mapped[datetime]
    occurrence: Mapped[Occurrence | None] = relationship()


class Digest(Base):
    """One message per recipient per day, claimed atomically before it is sent."""

    __tablename__ = "digest"
    __table_args__ = (UniqueConstraint("recipient", "day", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class DeliveryMessage(Base):
    """One digest to one channel of its recipient (recipient x route): the unit that is claimed,
    sent, recorded and retried. Only person-facing channels count as delivering the digest; the
    built-in outbox is a record. `route` is a hash of the channel's URL, never the URL."""

    __tablename__ = "delivery_message"
    __table_args__ = (
        UniqueConstraint("digest_id", "route"),
        Index("ix_delivery_message_state_next", "state", "next_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digest.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(300))  # masked URL only
    channel: Mapped[str] = mapped_column(String(32))
    person_facing: Mapped[bool] = mapped_column(Boolean, default=True)
    # pending (incl. a retry due at next_at) | sending | sent | failed | unknown | void
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # claims, i.e. sends started
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    next_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Delivery(Base):
    """One attempt to one target: kept as evidence that a department was chased."""

    __tablename__ = "delivery"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digest.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_message.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))  # masked URL only
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # sent | failed | unknown | unroutable
    error: Mapped[str | None] = mapped_column(Text)
    permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    elapsed: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[datetime]


class OutboxMessage(Base):
    """The built-in channel: messages a newcomer can read with no account anywhere."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: the application never updates or deletes these rows (triggers refuse it)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    verb: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AccessToken(Base):
    """A department's credential for the report page and CLI: only its SHA-256 is stored."""

    __tablename__ = "access_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrence.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # link | department | cli
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # what the token has done that does not spend it, each capped (duban.reports.tokens)
    acks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extension_requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    links_minted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    department: Mapped[Department] = relationship()


class ExtensionRequest(Base):
    """延期申请: a department asks for a later deadline; the office approves or rejects it.
    An approved one moves `occurrence.due_on`; `original_due_on` keeps the plan's deadline."""

    __tablename__ = "extension_request"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    current_due_on: Mapped[date] = mapped_column(Date)
    requested_due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    occurrence: Mapped[Occurrence] = relationship()
    department: Mapped[Department] = relationship()


class Allocation(Base):
    """任务分解: a county's or zone's share of a city-wide target."""

    __tablename__ = "allocation"
    __table_args__ = (UniqueConstraint("target_id", "jurisdiction_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16), default="config")  # config | cli
    jurisdiction: Mapped[Jurisdiction] = relationship()


class ItemEvent(Base):
    """A state change of an item (到期, 逾期, 督办升级, 签收, 报送, 更正, 延期), written in the same
    transaction as the change (a transactional outbox) and emitted to Prefect's event feed later.

    `uid` is the Prefect event id: emitting a row twice (a crash between emitting and marking it
    emitted) stores it once, since the server ignores an event id it already has."""

    __tablename__ = "item_event"
    __table_args__ = (Index("ix_item_event_pending", "emitted_at", "action_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # due | overdue | escalated | acknowledged | ...
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id"), index=True)
    department_code: Mapped[str] = mapped_column(String(64))
    county_code: Mapped[str] = mapped_column(String(32))
    action_no: Mapped[int]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]
    emitted_at: Mapped[datetime | None]


class Review(Base):
    """审核: the office's verdict on a department's closing report: accept (销号) or return (退回,
    with a reason and a rework deadline). Append-only, like reports."""

    __tablename__ = "review"
    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrence.id"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"))
    verdict: Mapped[str] = mapped_column(String(16))  # accepted | returned
    reason: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(100))
    via: Mapped[str] = mapped_column(String(100), default="cli")  # cli | prefect:<flow run id>
    due_before: Mapped[date] = mapped_column(Date)
    due_after: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]


class Bulletin(Base):
    """督办通报: one numbered issue (第N期) per plan and period; the numbering persists here."""

    __tablename__ = "bulletin"
    __table_args__ = (UniqueConstraint("plan_key", "no"),
                      UniqueConstraint("plan_key", "period_end"))
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_key: Mapped[str] = mapped_column(String(64))
    no: Mapped[int]
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    path: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


#: Ids that people see (item numbers, report receipts, digests, extension requests) are never
#: handed out twice, even after restoring an older backup: SQLite AUTOINCREMENT keeps the
#: high-water mark in sqlite_sequence (duban.ledger.backup lifts it); PostgreSQL sequences never
#: go back by themselves.
NEVER_REUSED_IDS = ("occurrence", "report", "digest", "extension_request")
for _name in NEVER_REUSED_IDS:
    Base.metadata.tables[_name].dialect_kwargs["sqlite_autoincrement"] = True
