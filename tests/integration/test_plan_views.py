"""Two plans side by side in the views outside Prefect: the Excel/CSV ledger has a sheet set per
plan and a plan column, `status` names the plan; nothing of one plan appears in the other's."""

from __future__ import annotations

import csv
import html
import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from duban.calendar.clock import at_local
from duban.chase.digest import plan_heading
from duban.ledger.models import Department, Duty, Occurrence, Plan
from duban.service import chase, setup
from tests.support.plans import FIRST_KEY, SECOND_KEY, two_plan_config
from tests.support.site import open_site

DAY = date(2023, 10, 23)
runner = CliRunner()


@pytest.fixture
def two_plans(make_context, sqlite_url, tmp_path, monkeypatch):
    ctx = make_context(sqlite_url, config_dir=two_plan_config(tmp_path))
    setup(ctx, at_local(date(2023, 7, 3)))
    chase(ctx, at_local(DAY))
    monkeypatch.setenv("DUBAN_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(ctx.settings.config_dir))
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    return ctx


def _item_rows(book, prefix: str) -> list[tuple]:
    rows = []
    for name in book.sheetnames:
        if not name.startswith(prefix + "-"):
            continue
        sheet = book[name]
        header = [c.value for c in sheet[1]]
        plan = header.index("方案")
        rows += [(*r[:plan], r[plan]) for r in sheet.iter_rows(min_row=2, values_only=True)
                 if r[0] is not None]  # the plan column last
    return rows


def test_excel_has_a_sheet_set_per_plan_and_nothing_mixed(two_plans, tmp_path) -> None:
    path = tmp_path / "台账.xlsx"
    result = runner.invoke(app, ["report", "--as-of", DAY.isoformat(), "--xlsx", str(path)])
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    assert book.sheetnames[0] == "方案"
    index = [r for r in book["方案"].iter_rows(min_row=4, values_only=True) if r[0]]
    assert [(r[0], r[1], r[2]) for r in index] == [
        ("方案1", FIRST_KEY, "泰民〔2023〕12号"), ("方案2", SECOND_KEY, "泰退役〔2023〕5号")]
    first, second = _item_rows(book, "方案1"), _item_rows(book, "方案2")
    assert first and second
    assert {r[-1] for r in first} == {FIRST_KEY} and {r[-1] for r in second} == {SECOND_KEY}
    assert not any("退役军人" in r[1] or "青年志愿者" in r[1] for r in first)
    assert len([n for n in book.sheetnames if n.startswith("方案2-")]) == 4  # its 4 actions
    assert len([n for n in book.sheetnames if n.startswith("方案1-")]) == 17
    summary = book["方案2 总览"]
    assert "泰退役〔2023〕5号" in summary["A1"].value
    titles = [summary.cell(row=r, column=2).value for r in range(5, 9)]
    assert titles[0] == "退役军人志愿服务队建设行动" and "社区养老服务行动" not in titles
    targets_sheet = [c.value for row in book["方案1 总览"].iter_rows() for c in row]
    assert "退役军人志愿服务队" not in targets_sheet


def test_csv_has_a_folder_per_plan(two_plans, tmp_path) -> None:
    out = tmp_path / "csv"
    result = runner.invoke(app, ["report", "--as-of", DAY.isoformat(), "--csv", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "方案.csv").open(encoding="utf-8-sig") as stream:
        keys = [row[1] for row in list(csv.reader(stream))[1:]]
    assert keys == [FIRST_KEY, SECOND_KEY]
    with (out / SECOND_KEY / "01 退役军人志愿服务队建设行动.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0][-1] == "方案" and {r[-1] for r in rows[1:]} == {SECOND_KEY}
    assert not (out / FIRST_KEY / "01 退役军人志愿服务队建设行动.csv").exists()


def test_report_of_one_plan_keeps_the_single_plan_layout(two_plans, tmp_path) -> None:
    path = tmp_path / "one.xlsx"
    result = runner.invoke(app, ["report", "--as-of", DAY.isoformat(), "--plan", SECOND_KEY,
                                 "--xlsx", str(path)])
    assert result.exit_code == 0, result.output
    book = load_workbook(path)
    assert book.sheetnames[0] == "总览"
    assert len([n for n in book.sheetnames if n[:2].isdigit()]) == 4
    unknown = runner.invoke(app, ["report", "--plan", "nope", "--xlsx", str(path)])
    assert unknown.exit_code == 1 and "nope" in unknown.output


def test_status_names_the_plan(two_plans) -> None:
    text = runner.invoke(app, ["status", "--as-of", DAY.isoformat(), "--wide"])
    assert text.exit_code == 0, text.output
    assert f"方案 {FIRST_KEY}：" in text.output and f"方案 {SECOND_KEY}：" in text.output
    data = json.loads(runner.invoke(app, ["status", "--as-of", DAY.isoformat(), "--plan",
                                          SECOND_KEY, "--json"]).output)
    assert data["occurrences"] and {o["plan"] for o in data["occurrences"]} == {SECOND_KEY}
    one = runner.invoke(app, ["status", "--as-of", DAY.isoformat(), "--plan", SECOND_KEY])
    assert "方案 " not in one.output  # one plan: the usual table


def test_the_report_page_names_the_plan_of_each_item(two_plans) -> None:
    """With two active plans a department must see which plan an item belongs to: the item's
    page and the department's list name it (《title》（document number）), and only its own."""
    with two_plans.db.session() as s:
        headings = {p.key: plan_heading(p.title, p.doc_no) for p in s.scalars(select(Plan))}
        rows = s.execute(
            select(Plan.key, Occurrence.id, Department.code).select_from(Occurrence)
            .join(Duty).join(Plan)
            .join(Department, Occurrence.department_id == Department.id)
            .where(Occurrence.status == "open").order_by(Occurrence.id)).tuples().all()
        # a department owing items of one plan only (a county's fallback body owes both)
        plans_of: dict[str, set[str]] = {}
        for key, _, code in rows:
            plans_of.setdefault(code, set()).add(key)
        items = {key: next((occ, code) for k, occ, code in rows
                           if k == key and plans_of[code] == {key})
                 for key in (FIRST_KEY, SECOND_KEY)}
    sites = open_site(two_plans)
    site = next(sites)
    site.now = at_local(DAY)
    try:
        for key, (occurrence, department) in items.items():
            other = headings[SECOND_KEY if key == FIRST_KEY else FIRST_KEY]
            page = site.client.get(f"/r/{site.link(occurrence)}")
            listing = site.client.get(f"/d/{site.token(department, 'department')}")
            assert page.status_code == 200 and listing.status_code == 200
            assert "所属方案" in page.text and html.escape(headings[key]) in page.text
            assert html.escape(headings[key]) in listing.text
            assert html.escape(other) not in page.text + listing.text
    finally:
        sites.close()
