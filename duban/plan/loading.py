"""Load the config into the ledger idempotently: loading twice changes nothing; a changed plan
updates rows in place with an audit entry per change and never duplicates them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from duban.ledger.database import record_audit
from duban.ledger.models import (
    WITHDRAWN,
    Action,
    Department,
    Duty,
    Jurisdiction,
    Occurrence,
    Plan,
    Target,
)
from duban.plan.allocations import set_allocation
from duban.plan.config import PlanConfig, PlanFile
from duban.plan.duties import derive_duties


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    changes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deactivated)


class _Syncer:
    """Creates or updates one row by natural key, auditing every change."""

    def __init__(self, session: Session, now: datetime, actor: str) -> None:
        self.session, self.now, self.actor = session, now, actor
        self.result = LoadResult()

    def sync(self, existing: Any, model: type, key: str, values: dict[str, Any]) -> Any:
        entity = model.__tablename__
        if existing is None:
            row = model(**values)
            self.session.add(row)
            self.session.flush()
            self.result.created += 1
            record_audit(self.session, self.actor, "created", entity, key, self.now)
            return row
        diff = {
            name: [_plain(getattr(existing, name)), _plain(value)]
            for name, value in values.items()
            if getattr(existing, name) != value
        }
        if diff:
            for name, value in values.items():
                setattr(existing, name, value)
            self.result.updated += 1
            self.result.changes.append(f"{entity} {key}: {', '.join(diff)}")
            record_audit(self.session, self.actor, "updated", entity, key, self.now, changes=diff)
        return existing


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def load_registry(session: Session, config: PlanConfig, now: datetime, actor: str) -> LoadResult:
    """Jurisdictions, city departments, and each county's and zone's bodies as config names them.
    Rows are matched by code, so a body renamed in config keeps its history (the rename is
    audited); a row config no longer lists stays for its history and is owed nothing new."""
    syncer = _Syncer(session, now, actor)
    registry = config.registry
    jurisdictions = {j.code: j for j in session.scalars(select(Jurisdiction))}
    for spec in registry.jurisdictions:
        values = {"code": spec.code, "name": spec.name, "kind": spec.kind}
        jurisdictions[spec.code] = syncer.sync(
            jurisdictions.get(spec.code), Jurisdiction, spec.code, values
        )
    departments = {d.code: d for d in session.scalars(select(Department))}
    city = jurisdictions[registry.city().code]
    for spec in registry.city_departments:
        values = {
            "code": spec.code, "name": spec.name, "short": spec.short,
            "aliases": list(spec.aliases), "jurisdiction_id": city.id, "city_counterpart_id": None,
        }
        departments[spec.code] = syncer.sync(departments.get(spec.code), Department, spec.code,
                                             values)
    for body in registry.bodies():
        values = {
            "code": body.code, "name": body.name, "short": body.short,
            "aliases": list(body.aliases),
            "jurisdiction_id": jurisdictions[body.jurisdiction.code].id,
            "city_counterpart_id": departments[body.city_code].id,
        }
        departments[body.code] = syncer.sync(departments.get(body.code), Department, body.code,
                                             values)
    return syncer.result


def load_plan(
    session: Session, config: PlanConfig, plan_file: PlanFile, source: str, now: datetime,
    actor: str = "office",
) -> tuple[Plan, LoadResult]:
    """The plan, its actions, targets and derived duties. Departments must be loaded first."""
    syncer = _Syncer(session, now, actor)
    spec = plan_file.plan
    existing_plan = session.scalar(select(Plan).where(Plan.key == spec.key))
    values = plan_row_values(plan_file, source)
    if existing_plan is None:  # afterwards only `plan activate` / `plan close` change the state
        values["state"] = "draft" if spec.draft else "active"
    elif values["ladder_from"] is None:  # none in the file: keep what activation set (if any)
        del values["ladder_from"]
    plan = syncer.sync(existing_plan, Plan, spec.key, values)
    resolve = config.registry.resolve
    actions: dict[int, Action] = {a.no: a for a in session.scalars(
        select(Action).where(Action.plan_id == plan.id))}
    for action_spec in plan_file.actions:
        codes = [resolve(d) for d in action_spec.departments]
        lead = codes[0]
        action = syncer.sync(
            actions.get(action_spec.no), Action, f"{spec.key}#{action_spec.no}",
            {"plan_id": plan.id, "no": action_spec.no, "title": action_spec.title,
             "clause": action_spec.clause, "department_codes": codes},
        )
        actions[action_spec.no] = action
        existing = {t.key: t for t in session.scalars(
            select(Target).where(Target.action_id == action.id))}
        for t in action_spec.targets:
            row = syncer.sync(existing.get(t.key), Target, f"{spec.key}/{t.key}", {
                "action_id": action.id, "key": t.key, "title": t.title, "measure": t.measure,
                "op": t.op, "value_low": t.low, "value_high": t.high, "unit": t.unit,
                "deadline": t.deadline, "rollup": t.rollup, "cumulative": t.cumulative,
                "local": t.local, "owner_code": (resolve(t.owner) if t.owner else None) or lead,
                "source": t.source,
                "numerator_label": t.parts.numerator if t.parts else None,
                "denominator_label": t.parts.denominator if t.parts else None,
                "baseline_on": t.baseline.on if t.baseline else None,
                "baseline_value": float(t.baseline.value) if t.baseline else None,
            })
            if t.allocations:  # config allocations win; without them, CLI-set ones stay
                set_allocation(session, row, t.allocations, "config", now, actor)
    session.flush()
    _sync_duties(session, syncer, config, plan_file, plan, actions)
    return plan, syncer.result


def plan_row_values(plan_file: PlanFile, source: str) -> dict[str, Any]:
    """The plan row's columns from its file. A draft's 待填写 issue date is stored as its start
    (the column is required; a draft is never chased, and the reviewed file replaces it)."""
    spec = plan_file.plan
    values = spec.model_dump(exclude={"draft"})
    if not isinstance(values["issued"], date):
        values["issued"] = spec.starts
    if not isinstance(values["ladder_from"], date):
        values["ladder_from"] = None
    return {**values, "source_file": source}


def _sync_duties(
    session: Session, syncer: _Syncer, config: PlanConfig, plan_file: PlanFile, plan: Plan,
    actions: dict[int, Action],
) -> None:
    targets = {t.key: t for t in session.scalars(
        select(Target).join(Action).where(Action.plan_id == plan.id))}
    existing = {d.key: d for d in session.scalars(select(Duty).where(Duty.plan_id == plan.id))}
    wanted = derive_duties(config, plan_file)
    for spec in wanted:
        target = targets.get(spec.target_key) if spec.target_key else None
        syncer.sync(existing.get(spec.key), Duty, f"{plan.key}/{spec.key}", {
            "plan_id": plan.id, "action_id": actions[spec.action_no].id,
            "target_id": target.id if target else None, "key": spec.key, "kind": spec.kind,
            "title": spec.title, "deliverable": spec.deliverable, "frequency": spec.frequency,
            "due_rule": spec.due_rule, "warn_days": spec.warn_days,
            "owner_codes": list(spec.owner_codes), "active": True,
        })
    _reconcile_owners(session, syncer, plan)
    wanted_keys = {d.key for d in wanted}
    for key, duty in existing.items():
        if key not in wanted_keys and duty.active:
            duty.active = False
            syncer.result.deactivated += 1
            record_audit(session, syncer.actor, "deactivated", "duty", f"{plan.key}/{key}",
                         syncer.now)


def load_all(session: Session, config: PlanConfig, now: datetime, actor: str = "office") -> (
    dict[str, LoadResult]
):
    results = {"departments": load_registry(session, config, now, actor)}
    session.flush()
    for source, plan_file in config.plans:
        _, results[plan_file.plan.key] = load_plan(session, config, plan_file, source, now, actor)
    return results


def _reconcile_owners(session: Session, syncer: _Syncer, plan: Plan) -> None:
    """Open items of a department that no longer owes their duty (e.g. a body config no longer
    lists, whose work now goes to the jurisdiction's fallback) are withdrawn, with an audit
    entry; withdrawn items of a department owing the duty again reopen. Reported and closed
    items stay as they are: they are history."""
    session.flush()
    ids = dict(session.execute(select(Department.code, Department.id)).tuples().all())
    codes = {v: k for k, v in ids.items()}
    duties = {d.id: d for d in session.scalars(
        select(Duty).where(Duty.plan_id == plan.id, Duty.active.is_(True)))}
    rows = session.execute(
        select(Occurrence.duty_id, Occurrence.department_id, Occurrence.status)
        .where(Occurrence.duty_id.in_(list(duties)), Occurrence.status.in_(("open", WITHDRAWN)))
    ).tuples().all() if duties else []
    moves: dict[tuple[int, str], set[int]] = {}
    for duty_id, department_id, status in rows:
        owes = codes.get(department_id) in duties[duty_id].owner_codes
        if (status == "open") != owes:
            moves.setdefault((duty_id, status), set()).add(department_id)
    for (duty_id, old), departments in sorted(moves.items()):
        new = WITHDRAWN if old == "open" else "open"
        session.execute(
            update(Occurrence).where(Occurrence.duty_id == duty_id,
                                     Occurrence.department_id.in_(sorted(departments)),
                                     Occurrence.status == old)
            .values(status=new).execution_options(synchronize_session=False))
        duty = duties[duty_id]
        who = sorted(codes[d] for d in departments)
        syncer.result.updated += 1
        syncer.result.changes.append(f"duty {duty.key}: {new} for {', '.join(who)}")
        record_audit(session, syncer.actor, "withdrawn" if new == WITHDRAWN else "reopened",
                     "duty", f"{plan.key}/{duty.key}", syncer.now, departments=who)
