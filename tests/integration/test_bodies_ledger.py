"""The loaded ledger names every department as config writes it; a ledger written before the
bodies were configured (built names, a zone mirroring the county bodies) keeps its history when
the plan is loaded again: rows renamed by code with an audit entry, items of a body that no
longer owes the duty withdrawn, reported ones kept."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import yaml
from sqlalchemy import select

from duban.calendar.clock import at_local, local_day
from duban.chase.occurrences import materialise, status_rows
from duban.ledger.models import (
    WITHDRAWN,
    AuditEntry,
    Department,
    Duty,
    Jurisdiction,
    Occurrence,
    Plan,
)
from duban.service import setup
from duban.supervise.board import item_rows
from duban.supervise.score import load_scoring, score_departments
from tests.support.cli import point_cli_at, run
from tests.support.ledger import LOADED_AT, PLAN
from tests.support.paths import CONFIG_DIR


def _config_names(ctx) -> set[str]:
    registry = ctx.config.registry
    return {d.name for d in registry.city_departments} | {b.name for b in registry.bodies()}


def test_every_department_name_in_the_ledger_is_written_in_config(loaded) -> None:
    text = (CONFIG_DIR / "departments.yaml").read_text(encoding="utf-8")
    with loaded.db.session() as s:
        names = s.scalars(select(Department.name)).all()
        zone_bodies = s.scalars(select(Department.code).join(Jurisdiction)
                                .where(Jurisdiction.kind == "zone")).all()
    assert set(names) == _config_names(loaded)
    assert all(name in text for name in names)
    assert sorted(zone_bodies) == ["gaoxin-mzj", "lvjing-mzj", "taishanjq-mzj"]


def test_an_old_ledger_keeps_its_history_on_reload(loaded, make_context, tmp_path) -> None:
    ctx, now = loaded, LOADED_AT
    key = "community-workers-per-10k/progress"
    with ctx.db.session() as s:  # the ledger as the concatenating release left it
        taishan = s.scalar(select(Department).where(Department.code == "taishan-zzb"))
        taishan_id, taishan.name, taishan.short = taishan.id, "泰山区党委组织部", "泰山区党委组织部"
        zone = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "gaoxin"))
        city = s.scalar(select(Department).where(Department.code == "zzb"))
        built = Department(code="gaoxin-zzb", name="泰安高新技术产业开发区党委组织部",
                           short="泰安高新技术产业开发区党委组织部", aliases=[],
                           jurisdiction_id=zone.id, city_counterpart_id=city.id)
        s.add(built)
        duty = s.scalar(select(Duty).where(Duty.key == key))
        duty.owner_codes = [c.replace("gaoxin-mzj", "gaoxin-zzb") for c in duty.owner_codes]
        s.flush()
        plan = s.scalar(select(Plan).where(Plan.key == PLAN))
        materialise(s, plan, local_day(now), ctx.calendar, now)
        items = s.scalars(select(Occurrence).where(Occurrence.department_id == built.id)).all()
        assert len(items) == 1
        built_id, answered = built.id, items[0].id
        extra = Occurrence(duty_id=items[0].duty_id, department_id=built.id, period="2023-05",
                           period_start=items[0].period_start - timedelta(days=31),
                           period_end=items[0].period_start - timedelta(days=1),
                           due_on=items[0].due_on, original_due_on=items[0].due_on,
                           status="closed", closed_on=local_day(now), closed_at=now,
                           created_at=now)
        s.add(extra)
        s.flush()
        closed = extra.id

    later = now + timedelta(hours=1)
    result = setup(ctx, later)
    assert result.loads["departments"].updated >= 1 and result.loads[PLAN].changed

    with ctx.db.session() as s:
        renamed = s.get(Department, taishan_id)
        assert (renamed.code, renamed.name) == ("taishan-zzb", "泰山区委组织部")
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "department",
                                                   AuditEntry.entity_key == "taishan-zzb",
                                                   AuditEntry.verb == "updated")).all()
        assert audit[-1].detail["changes"]["name"] == ["泰山区党委组织部", "泰山区委组织部"]
        assert s.get(Department, built_id) is not None  # kept for its history
        assert s.get(Occurrence, answered).status == WITHDRAWN
        assert s.get(Occurrence, closed).status == "closed"
        duty = s.scalar(select(Duty).where(Duty.key == key))
        assert "gaoxin-mzj" in duty.owner_codes and "gaoxin-zzb" not in duty.owner_codes
        withdrawn = s.scalars(select(AuditEntry).where(AuditEntry.verb == "withdrawn")).all()
        assert [e.detail["departments"] for e in withdrawn] == [["gaoxin-zzb"]]
        rows = status_rows(s, local_day(later), ctx.calendar, plan_key=PLAN)
        assert not [r for r in rows if r.id == answered]
        assert [r for r in rows if r.department == "gaoxin-mzj" and r.duty.startswith("社区工作者")]

    # a config that gives the zone that body again reopens its item under the configured name;
    # loading the same config again then changes nothing
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    path = root / "departments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    gaoxin = next(j for j in data["jurisdictions"] if j["code"] == "gaoxin")
    gaoxin["bodies"]["zzb"] = "泰安高新区党工委组织部"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    regrown = make_context(ctx.settings.database_url, config_dir=root)
    assert setup(regrown, later + timedelta(hours=1)).loads[PLAN].changed
    with regrown.db.session() as s:
        assert s.get(Occurrence, answered).status == "open"
        assert s.get(Department, built_id).name == "泰安高新区党工委组织部"
        assert s.scalars(select(AuditEntry).where(AuditEntry.verb == "reopened")).all()
    again = setup(regrown, later + timedelta(hours=2))
    assert not any(r.changed for r in again.loads.values())


def test_a_past_day_shows_an_item_withdrawn_later_as_it_stood(loaded, make_context, tmp_path,
                                                              monkeypatch) -> None:
    root = tmp_path / "config"  # a county body the office drops: its open items are withdrawn
    shutil.copytree(CONFIG_DIR, root)
    path = root / "departments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    taishan = next(j for j in data["jurisdictions"] if j["code"] == "taishan")
    del taishan["bodies"]["zzb"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    withdrawn_at = at_local(date(2023, 7, 10), 9)
    dropped = make_context(loaded.settings.database_url, config_dir=root)
    assert setup(dropped, withdrawn_at).loads[PLAN].changed
    with dropped.db.session() as s:
        gone = set(s.scalars(select(Occurrence.id).join(Department)
                             .where(Department.code == "taishan-zzb",
                                    Occurrence.status == WITHDRAWN)))
    assert gone

    def shown(day: date) -> set[int]:
        with dropped.db.read() as s:
            rows = status_rows(s, day, dropped.calendar, plan_key=PLAN)
            items = item_rows(s, day, dropped.calendar, plan_key=PLAN)
            spec = load_scoring(root)
            owing = {d.code for d in score_departments(s, day, dropped.calendar, spec, PLAN).lines}
        assert {r.id for r in rows} == {i.occurrence_id for i in items}  # board and status agree
        assert ("taishan-zzb" in owing) == bool(gone & {r.id for r in rows})
        return {r.id for r in rows if r.department == "taishan-zzb"}

    before, after = shown(date(2023, 7, 7)), shown(date(2023, 7, 10))
    assert gone <= before and not gone & after  # withdrawn on 7-10 (Shanghai): gone from that day
    point_cli_at(dropped, monkeypatch)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(root))
    result = run("status", "--as-of", "2023-07-07", "--department", "taishan-zzb", "--json")
    listed = {r["id"] for r in json.loads(result.stdout)["occurrences"]}
    assert result.exit_code == 0 and gone <= listed
    states = {r["state"] for r in json.loads(result.stdout)["occurrences"] if r["id"] in gone}
    assert states <= {"upcoming", "due_soon", "overdue"}  # open then, not withdrawn
