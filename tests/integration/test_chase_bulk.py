"""The chase's bulk path (duban.chase.ladder._chase_rows, BulkWriter, ChaseEvents) records
exactly what the pure ladder owes: for every open item, what `ladder_steps` yields; for the new
reminders, the item state changes `ladder_changes` gives, with the payload `event_payload`
builds, stored as the same JSON text; nothing twice. Checked day after day on the shipped plan,
with acknowledged, returned, reported and withdrawn items, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

from sqlalchemy import select, text, update

from duban.calendar.clock import at_local, local_day
from duban.chase.ladder import OpenItem, ladder_changes, ladder_steps
from duban.ledger.item_events import _Facts, event_payload
from duban.ledger.models import (
    Action,
    Department,
    Duty,
    ItemEvent,
    Jurisdiction,
    Occurrence,
    Plan,
    Reminder,
    Target,
)
from duban.service import chase, materialise_all

DAYS = (date(2023, 7, 7), date(2023, 7, 10), date(2023, 7, 12), date(2023, 7, 17),
        date(2023, 10, 9), date(2023, 10, 11), date(2023, 10, 16), date(2023, 10, 20))


def _oracle(ctx, now) -> tuple[dict[str, tuple], dict[str, tuple], int]:
    """Reminder rows and item events a chase at `now` should add, from the pure functions, and
    how many reminders the ladder owes (recorded before or not)."""
    today = local_day(now)
    ladder, calendar = ctx.config.ladder.ladder, ctx.calendar
    with ctx.db.session() as s:
        known = set(s.scalars(select(Reminder.dedup_key)))
        known_events = set(s.scalars(select(ItemEvent.dedup_key)))
        codes = dict(s.execute(select(Department.id, Department.code)).tuples().all())
        rows = s.execute(
            select(Occurrence, Duty, Action, Department, Jurisdiction, Target.owner_code,
                   Plan.ladder_from)
            .join(Duty, Occurrence.duty_id == Duty.id)
            .join(Action, Duty.action_id == Action.id)
            .join(Plan, Duty.plan_id == Plan.id)
            .join(Department, Occurrence.department_id == Department.id)
            .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
            .outerjoin(Target, Duty.target_id == Target.id)
            .where(Plan.state == "active", Duty.active.is_(True), Occurrence.status == "open")
        ).tuples().all()
        reminders: dict[str, tuple] = {}
        events: dict[str, tuple] = {}
        owed = 0
        if not calendar.is_workday(today):
            return reminders, events, owed
        for occ, duty, action, dept, place, owner, ladder_from in rows:
            counterpart = dept.city_counterpart_id
            lead = (owner or codes[counterpart]) if counterpart else action.department_codes[0]
            item = OpenItem(occ.id, dept.code, lead, occ.due_on, occ.acknowledged_until)
            steps = list(ladder_steps(item, today, ladder, calendar, ladder_from))
            owed += len(steps)
            fresh = [o for o in steps if o.dedup_key not in known]
            for o in fresh:
                reminders[o.dedup_key] = (o.occurrence_id, o.recipient, o.level, o.note)
            fact = _Facts(occ.period, occ.due_on, duty.title, action.no, action.title,
                          dept.code, dept.name, place.code, place.name)
            for change in ladder_changes(fresh):
                if change.dedup_key in known_events or change.dedup_key in events:
                    continue
                late = calendar.workdays_between(occ.due_on, today) if today > occ.due_on else 0
                payload = event_payload(change.kind, fact, today, now, late, change.detail)
                events[change.dedup_key] = (change.kind, occ.id, dept.code, place.code, action.no,
                                            json.dumps(payload))
    return reminders, events, owed


def _stored(ctx, since_reminder: int, since_event: int) -> tuple[dict, dict]:
    cast = "payload::text" if ctx.db.dialect == "postgresql" else "payload"
    with ctx.db.session() as s:
        reminders = {r.dedup_key: r for r in s.scalars(
            select(Reminder).where(Reminder.id > since_reminder,
                                   Reminder.dedup_key.not_like("start:%")))}
        raw = s.execute(text(f"SELECT id, {cast} FROM item_event WHERE id > :n"),
                        {"n": since_event}).tuples().all()
        texts = dict(raw)
        events = {e.dedup_key: (e, texts[e.id]) for e in s.scalars(
            select(ItemEvent).where(ItemEvent.id > since_event))}
    return reminders, events


def _vary(ctx) -> None:
    """Acknowledged, returned, reported and withdrawn items among the open ones."""
    with ctx.db.session() as s:
        ids = list(s.scalars(select(Occurrence.id).where(Occurrence.status == "open")
                             .order_by(Occurrence.id)))
        s.execute(update(Occurrence).where(Occurrence.id.in_(ids[::7]))
                  .values(acknowledged_until=date(2023, 10, 12)))
        s.execute(update(Occurrence).where(Occurrence.id.in_(ids[3::11]))
                  .values(returned_on=date(2023, 7, 3)))
        s.execute(update(Occurrence).where(Occurrence.id.in_(ids[5::13]))
                  .values(status="reported", closed_on=date(2023, 7, 3)))
        s.execute(update(Occurrence).where(Occurrence.id.in_(ids[6::17]))
                  .values(status="withdrawn"))


def test_the_bulk_chase_records_what_the_ladder_owes_day_after_day(loaded) -> None:
    with loaded.db.session() as s:  # a late start for the plan: its ladder counts from 07-10
        s.execute(update(Plan).values(ladder_from=date(2023, 7, 10)))
    materialise_all(loaded, at_local(DAYS[0]))
    _vary(loaded)
    checked_events = 0
    for day in DAYS:
        now = at_local(day)
        materialise_all(loaded, now)
        want_reminders, want_events, owed = _oracle(loaded, now)
        with loaded.db.session() as s:
            last_reminder = s.scalar(select(Reminder.id).order_by(Reminder.id.desc())) or 0
            last_event = s.scalar(select(ItemEvent.id).order_by(ItemEvent.id.desc())) or 0
        results = chase(loaded, now)
        got_reminders, got_events = _stored(loaded, last_reminder, last_event)

        assert {k: (r.occurrence_id, r.recipient, r.level, r.note)
                for k, r in got_reminders.items()} == want_reminders, day
        assert all(r.send_on == day and r.state == "pending" and r.digest_id is None
                   and r.created_at == now for r in got_reminders.values())
        assert sum(r.recorded for r in results) == len(want_reminders)
        assert sum(r.owed for r in results) == owed
        assert {k: (e.kind, e.occurrence_id, e.department_code, e.county_code, e.action_no,
                    raw) for k, (e, raw) in got_events.items()} == want_events, day
        for e, raw in got_events.values():
            assert e.payload == json.loads(raw) and e.at == now and e.emitted_at is None
            assert uuid.UUID(e.uid).version == 4 and str(uuid.UUID(e.uid)) == e.uid
        checked_events += len(want_events)

        again = chase(loaded, now + timedelta(hours=2))  # the same day again: nothing new
        assert sum(r.recorded for r in again) == 0
        assert _stored(loaded, last_reminder, last_event)[0].keys() == got_reminders.keys()
    with loaded.db.session() as s:
        uids = list(s.scalars(select(ItemEvent.uid)))
        levels = set(s.scalars(select(Reminder.level)))
    assert len(set(uids)) == len(uids) and checked_events > 100
    assert {"advance", "due", "urge", "escalate"} <= levels and any(
        level.startswith("repeat") for level in levels)
