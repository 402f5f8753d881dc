"""The supervisors' board and the Excel/CSV ledger, checked against `duban status`."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli import app
from duban.calendar.clock import at_local
from duban.plan.progress import rollup
from duban.service import chase, dispatch
from duban.supervise.board import build_board
from notifications import notifier_for

DAY = date(2023, 10, 16)


@pytest.fixture
def chased(loaded_sqlite, monkeypatch):
    now = at_local(DAY, 9)
    chase(loaded_sqlite, now)
    dispatch(loaded_sqlite, now, notifier_for(loaded_sqlite, now))
    settings = loaded_sqlite.settings
    monkeypatch.setenv("DUBAN_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DUBAN_HOME", str(settings.home))
    return loaded_sqlite


def _status_counts() -> Counter:
    result = CliRunner().invoke(app, ["status", "--as-of", DAY.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    return Counter(o["state"] for o in json.loads(result.output)["occurrences"])


def test_board_counts_match_status(chased) -> None:
    with chased.db.session() as s:
        board = build_board(s, DAY, chased.calendar)
    assert board.states() == _status_counts()
    ranked = board.departments()
    assert ranked[0].overdue >= ranked[-1].overdue
    assert sum(d.overdue for d in ranked) == board.states()["overdue"]
    counties = dict(board.counties())
    assert set(counties) >= {"泰安市", "泰山区", "东平县", "泰安高新技术产业开发区"}
    overdue_items = board.overdue_or_at_risk(2)
    assert overdue_items and all(i.action == 2 for i in overdue_items)
    # The shipped notify.yaml has only the outbox: recorded, never delivered to a person.
    assert all(i.chased == 0 and i.last_delivery == "unroutable"
               for i in overdue_items if i.state == "overdue" and i.overdue_days >= 3)


def test_xlsx_has_summary_action_sheets_fills_and_frozen_header(chased, tmp_path) -> None:
    path = tmp_path / "台账.xlsx"
    result = CliRunner().invoke(app, ["report", "--as-of", DAY.isoformat(), "--xlsx", str(path)])
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    assert book.sheetnames[0] == "总览" and len(book.sheetnames) == 1 + 17 + 1 + 1  # + 考评
    summary = book["总览"]
    assert "2023-10-16" in summary["A1"].value
    header = [c.value for c in summary[4]]
    assert header[:3] == ["序号", "行动", "未到期"]
    counts = _status_counts()
    overdue_col = header.index("逾期") + 1
    total_overdue = sum(summary.cell(row=r, column=overdue_col).value for r in range(5, 22))
    assert total_overdue == counts["overdue"]
    sheet = book["02 社区养老服务行动"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]][:4] == ["编号", "职责", "责任单位", "所属区县"]
    colours = {}
    for row in sheet.iter_rows(min_row=2):
        colours[row[7].value] = row[7].fill.fgColor.rgb[-6:]
    assert colours["红"] == "F8CBAD"
    assert sheet.column_dimensions["B"].width > 20  # fitted to the duty titles
    assert book["指标进度图"]._charts  # one chart per target


def test_csv_is_utf8_with_bom(chased, tmp_path) -> None:
    result = CliRunner().invoke(app, ["report", "--as-of", DAY.isoformat(), "--csv",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "02 社区养老服务行动.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0].startswith("编号,职责,责任单位")


@pytest.mark.parametrize(
    ("rule", "values", "expected"),
    [("sum", [300, 400, 1170], 1870), ("average", [70, 80, 90], 80), ("min", [18, 20, 17], 17),
     ("all_covered", [100, 100, 90], 90), ("sum", [], None)],
)
def test_county_figures_roll_up_by_rule(rule, values, expected) -> None:
    assert rollup(rule, values) == expected


def test_outbox_command_shows_stored_digests(chased) -> None:
    result = CliRunner().invoke(app, ["outbox", "--recipient", "office", "--json"])
    assert result.exit_code == 0, result.output
    messages = json.loads(result.output)
    assert len(messages) == 1 and messages[0]["recipient"] == "office"
    assert messages[0]["title"].startswith("【督办】督办办公室")
    assert messages[0]["at"].startswith("2023-10-16 09:00")
