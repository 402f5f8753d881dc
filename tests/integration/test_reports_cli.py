"""`duban token issue`, `duban confirm`, `duban reports`, office entry and the 登记报送 flow."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging

import pytest
from sqlalchemy import select

from duban.ledger.models import AccessToken, AuditEntry, Occurrence, Report
from duban.office_entry import enter_on_behalf
from duban.reports import tokens
from duban.reports.errors import ReportInputError, ReportRefused
from duban.service import Context
from tests.support.cli import point_cli_at, run
from tests.support.reports import (
    HOMES,
    NOW,
    PDF,
    SAMPLE,
    any_occ_of,
    counts,
    occ_id,
    occurrence,
)


@pytest.fixture
def cli(loaded, monkeypatch) -> Context:
    """The CLI pointed at the loaded ledger (SQLite and PostgreSQL), its clock stopped at NOW."""
    return point_cli_at(loaded, monkeypatch)


@pytest.fixture
def cli_sqlite(loaded_sqlite, monkeypatch) -> Context:
    return point_cli_at(loaded_sqlite, monkeypatch)


def issue(code: str, purpose: str = "cli") -> str:
    result = run("token", "issue", code, "--purpose", purpose, "--by", "李四")
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


# -- token issue ------------------------------------------------------------------------------


def test_token_issue_shows_the_token_once_on_the_last_line(cli) -> None:
    result = run("token", "issue", "taishan-mzj", "--purpose", "department", "--days", "30")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    token = lines[-1]
    assert len(token) == 43 and " " not in token
    assert lines[-2] == f"待办页面：https://duban.example.gov.cn/d/{token}"
    assert "泰山区民政局" in lines[0] and "2023-08-04" in lines[0]
    with cli.db.session() as s:
        row = s.scalar(select(AccessToken).where(
            AccessToken.token_hash == tokens.hash_token(token)))
        assert row.purpose == "department" and token not in str(row.__dict__)
        entry = s.scalars(select(AuditEntry).where(AuditEntry.verb == "token_issued")).all()[-1]
    assert (entry.actor, entry.entity_key, entry.detail["purpose"]) == (
        "office", "taishan-mzj", "department")


def test_token_issue_takes_a_department_by_full_name_or_alias(cli) -> None:
    for written in ("泰山区民政局", "TAISHAN-MZJ"):
        result = run("token", "issue", written)
        assert result.exit_code == 0, result.output
        assert "已为泰山区民政局（taishan-mzj）签发" in result.stdout
        with cli.db.session() as s:
            row = s.scalar(select(AccessToken).where(AccessToken.token_hash == tokens.hash_token(
                result.stdout.strip().splitlines()[-1])))
            assert row.department.code == "taishan-mzj"


def test_token_issue_refuses_unknown_departments_and_purposes(cli) -> None:
    for args, words in ((["nosuch"], "没有名为“nosuch”的单位"),
                        (["mzj", "--purpose", "link"], "expected cli or department")):
        result = run("token", "issue", *args)
        assert result.exit_code == 1 and words in result.output


def test_every_report_command_has_an_example_in_its_help(cli) -> None:
    for command in (["token", "issue"], ["confirm"], ["reports"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Example: duban " + command[0] in result.output


# -- confirm ----------------------------------------------------------------------------------


def test_confirm_records_once_and_answers_the_same(cli) -> None:
    token = issue("taishan-mzj")
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    args = ["confirm", str(occ), "--value", "260", "--note", "6月新增260户", "--token", token,
            "--json"]
    first, second = run(*args), run(*args)
    assert first.exit_code == second.exit_code == 0, first.output
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["closed"] and one["value"] == 260 and one["unit"] == "户"
    assert (one["replayed"], two["replayed"]) == (False, True)
    assert {**one, "replayed": True} == two
    with cli.db.session() as s:
        report = s.scalar(select(Report).where(Report.occurrence_id == occ))
    assert report.entered_by == "department:taishan-mzj"


def test_confirm_reads_the_token_from_the_environment_and_a_file_as_evidence(cli, tmp_path) -> None:
    token = issue("taishan-mzj")
    proof = tmp_path / "台账.pdf"
    proof.write_bytes(PDF)
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    result = run("confirm", str(occ), "--progress", "--value", "3", "--evidence", str(proof),
                 env={"DUBAN_TOKEN": token})
    assert result.exit_code == 0, result.output
    assert "已记录进展报送" in result.stdout
    assert len(list((cli.settings.home / "evidence").glob("*.pdf"))) == 1


def test_confirm_errors_exit_1_with_a_message(cli, tmp_path) -> None:
    token = issue("taishan-mzj")
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    big = tmp_path / "big.zip"
    big.write_bytes(b"PK\x03\x04" + b"0" * (10 * 1024 * 1024))
    cases = [
        (["--value", "abc", "--token", token], "value: “abc”不是数字"),
        (["--value", "5", "--unit", "个", "--token", token], "unit: 单位“个”与指标单位“户”不符"),
        (["--value", "5", "--evidence", str(big), "--token", token], "文件过大"),
        (["--value", "5", "--evidence", str(tmp_path / "none.pdf"), "--token", token],
         "找不到佐证文件"),
        (["--value", "5", "--token", "not-a-token"], "令牌无效、已使用或已过期"),
        (["--value", "5"], "缺少令牌"),
        (["--ack", "--progress", "--token", token], "只能选一个"),
        (["--value", "5", "--correct", "99999", "--reason", "x", "--token", token], "没有可更正"),
    ]
    before = counts(cli)
    for args, words in cases:
        result = run("confirm", str(occ), *args)
        assert result.exit_code == 1, (args, result.output)
        assert words in result.output, (args, result.output)
    assert counts(cli) == before


def test_a_correction_and_the_reports_listing(cli) -> None:
    token = issue("taishan-mzj")
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    first = json.loads(run("confirm", str(occ), "--value", "100", "--token", token,
                           "--json").stdout)
    stale = run("confirm", str(occ), "--value", "101", "--correct", "999999", "--reason", "x",
                "--token", token)
    assert stale.exit_code == 1 and "没有可更正的报告" in stale.output
    fixed = run("confirm", str(occ), "--value", "110", "--correct", str(first["report_id"]),
                "--reason", "漏计10户", "--token", token)
    assert fixed.exit_code == 0 and "已记录更正报送" in fixed.stdout
    listing = run("reports", str(occ))
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert "泰山区民政局" in lines[0] and "已完成 2023-07-05，待审核" in lines[0]
    assert "特殊困难老年人家庭适老化改造" in lines[1]  # the duty on its own line
    assert "已被" in lines[3] and "100户" in lines[3] and "110户" in lines[4]
    assert "漏计10户" in lines[4] and "有效" in lines[4]
    data = json.loads(run("reports", str(occ), "--json").stdout)
    assert [r["superseded_by"] for r in data["reports"]] == [data["reports"][1]["id"], None]
    assert run("reports", "999999").exit_code == 1


def test_acknowledging_from_the_cli(cli) -> None:
    token = issue("taishan-mzj")
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    result = run("confirm", str(occ), "--ack", "--token", token)
    assert result.exit_code == 0 and "已签收" in result.stdout
    assert occurrence(cli, occ).acknowledged_until is not None


def test_a_used_link_token_cannot_confirm_again(cli) -> None:
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    with cli.db.session() as s:
        link = tokens.issue(s, s.get(Occurrence, occ).department, NOW, "link", occ)
    assert run("confirm", str(occ), "--progress", "--value", "1", "--token", link).exit_code == 0
    other = occ_id(cli, "elderly-canteens/progress", "taishan-mzj", "2023-06")
    result = run("confirm", str(other), "--value", "1", "--token", link)
    assert result.exit_code == 1  # used, and scoped to another item anyway


# -- no department reports for another, by any way in --------------------------------------


def test_no_department_reports_for_another_through_the_cli_or_the_office(cli) -> None:
    owned = {code: any_occ_of(cli, code) for code in SAMPLE}
    tokens_by = {code: issue(code) for code in SAMPLE}
    before = counts(cli)
    for submitter, owner in itertools.permutations(SAMPLE, 2):
        if owned[owner] is None:
            continue
        result = run("confirm", str(owned[owner]), "--value", "1", "--token", tokens_by[submitter])
        assert result.exit_code == 1 and "不能报送其他单位的事项" in result.output
        with pytest.raises(ReportRefused) as caught:
            enter_on_behalf(cli, submitter, owned[owner], "done", None, "", None, "张三", NOW)
        assert caught.value.field == "department"
    assert counts(cli)["reports"] == before["reports"]


# -- office entry and its flow -----------------------------------------------------------------


def test_office_entry_is_recorded_as_entered_by_the_office_once(cli) -> None:
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    args = (cli, "taishan-mzj", occ, "done", "88", "电话报送", "https://x.gov.cn/a.pdf", "张三",
            NOW)
    first, again = enter_on_behalf(*args), enter_on_behalf(*args)
    assert first == again and again.replayed
    with cli.db.session() as s:
        reports = s.scalars(select(Report).where(Report.occurrence_id == occ)).all()
        entry = s.scalar(select(AuditEntry).where(AuditEntry.entity == "report"))
    assert [(r.entered_by, r.value, r.evidence) for r in reports] == [
        ("office:张三", 88, "https://x.gov.cn/a.pdf")]
    assert (entry.actor, entry.detail["via"]) == ("office:张三", "office")
    canteens = occ_id(cli, "elderly-canteens/progress", "taishan-mzj")
    with pytest.raises(ReportInputError):
        enter_on_behalf(cli, "taishan-mzj", canteens, "done", "x", "", None, "张三", NOW)


def test_the_office_entry_flow_takes_plain_parameters(cli) -> None:
    from flows.office_entry import enter_report, entry_state, office_entry

    assert office_entry.name == "登记报送"
    assert list(inspect.signature(office_entry.fn).parameters) == [  # the form's labels
        "单位代码", "事项编号", "报送类型", "数值", "计量单位", "情况说明", "佐证材料链接",
        "登记人", "收到日期", "分子", "分母"]
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    outcome = enter_report.fn("taishan-mzj", occ, "progress", 12.0, None, "纸质报送", "",
                              "张三", "2023-07-05")
    state = entry_state(outcome)
    assert state.name == "已登记" and outcome["closed"] and outcome["value"] == 12
    refused = enter_report.fn("daiyue-mzj", occ, "done", None, None, "", "", "张三", None)
    state = entry_state(refused)
    assert state.name == "未登记" and "不能报送其他单位" in state.message


@pytest.mark.prefect
def test_the_office_entry_flow_runs_under_prefect(cli_sqlite) -> None:
    """The real engine once (a temporary Prefect server: slow), on SQLite."""
    cli = cli_sqlite
    from prefect.testing.utilities import prefect_test_harness

    from flows.office_entry import office_entry

    logging.getLogger("prefect").setLevel(logging.WARNING)
    occ = occ_id(cli, HOMES, "taishan-mzj", "2023-06")
    with prefect_test_harness():
        state = asyncio.run(office_entry("taishan-mzj", occ, "报送进展", "9", "", "电话", "",
                                         "张三", "2023-07-05", return_state=True))
    assert state.name == "已登记"
    assert occurrence(cli, occ).status == "reported"  # awaiting the office's review
