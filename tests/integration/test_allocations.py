"""任务分解: shares that must add up, counties judged against their own share."""

from __future__ import annotations

import shutil
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from duban.calendar.clock import at_local
from duban.ledger.models import Department, Duty, Occurrence, Target
from duban.office_entry import enter_on_behalf
from duban.service import setup
from duban.supervise.board import build_board
from duban.supervise.export import write_xlsx
from tests.support.paths import REPO

SHARES = ["taishan=300", "daiyue=400", "xintai=400", "feicheng=400", "ningyang=300",
          "dongping=300", "gaoxin=40", "taishanjq=30", "lvjing=30"]  # = 2200


def _env(monkeypatch, ctx) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("DUBAN_HOME", str(ctx.settings.home))


def test_allocation_that_does_not_add_up_is_refused_with_the_difference(loaded_sqlite,
                                                                         monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    short = [*SHARES[:-1], "lvjing=10"]
    result = CliRunner().invoke(app, ["plan", "allocate", "elderly-home-adaptation", *short])
    assert result.exit_code == 1
    assert "2180户" in result.output and "2200户" in result.output and "相差20" in result.output
    bad = CliRunner().invoke(app, ["plan", "allocate", "elderly-home-adaptation", "mars=2200"])
    assert bad.exit_code == 1 and "unknown county or zone mars" in bad.output


def test_county_progress_is_judged_against_its_share(loaded_sqlite, monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    result = CliRunner().invoke(app, ["plan", "allocate", "elderly-home-adaptation", *SHARES])
    assert result.exit_code == 0, result.output
    now = at_local(date(2023, 12, 6), 10)
    setup(loaded_sqlite, now)
    with loaded_sqlite.db.session() as s:
        target = s.scalar(select(Target).where(Target.key == "elderly-home-adaptation"))
        occ_ids = {}
        for code in ("taishan-mzj", "daiyue-mzj"):
            occ_ids[code] = s.scalar(
                select(Occurrence.id).join(Duty).join(Department, Occurrence.department_id
                                                      == Department.id)
                .where(Duty.target_id == target.id, Duty.kind == "target_progress",
                       Department.code == code, Occurrence.period == "2023-11"))
    enter_on_behalf(loaded_sqlite, "taishan-mzj", occ_ids["taishan-mzj"], "done", 280, "", None,
                    "office", now)
    enter_on_behalf(loaded_sqlite, "daiyue-mzj", occ_ids["daiyue-mzj"], "done", 100, "", None,
                    "office", now)
    with loaded_sqlite.db.session() as s:
        board = build_board(s, date(2023, 12, 6), loaded_sqlite.calendar)
        target_id = s.scalar(select(Target.id).where(Target.key == "elderly-home-adaptation"))
    lines = {line.county: line for line in board.shares[target_id]}
    assert lines["泰山区"].share == 300 and lines["泰山区"].value == 280
    assert lines["泰山区"].verdict == "on_track"  # 280 of 300 by early December
    assert lines["岱岳区"].verdict == "behind"  # 100 of 400
    assert lines["东平县"].verdict == "none"
    book = load_workbook(write_xlsx(board, loaded_sqlite.settings.home / "t.xlsx"))
    rows = list(book["任务分解"].iter_rows(values_only=True))
    assert rows[0] == ("指标", "区县（功能区）", "分解任务", "已报送数值", "研判")
    assert any(r[1] == "泰山区" and r[2] == "300" and r[3] == "280" for r in rows)


def test_allocation_in_config_is_checked(tmp_path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    plan = config / "plans" / "2023.yaml"
    text = plan.read_text(encoding="utf-8")
    anchor = "        value: 2200\n"
    assert anchor in text
    plan.write_text(text.replace(anchor, anchor + "        allocations: {taishan: 300, "
                                 "daiyue: 400}\n", 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["plan", "check", str(config)])
    assert result.exit_code == 1
    assert "targets[0].allocations" in result.output and "相差1500" in result.output
