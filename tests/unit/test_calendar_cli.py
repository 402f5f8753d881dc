"""`duban calendar YYYY-MM` on a tiny Typer app, so it does not depend on the CLI package init."""

import json

import pytest
import typer
from typer.testing import CliRunner

from cli import calendar_cmd


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    test_app = typer.Typer()
    test_app.command("calendar")(calendar_cmd.calendar)

    @test_app.callback()
    def _root() -> None:
        """Keep `calendar` as a subcommand."""

    return test_app


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _days(payload: dict) -> dict[str, dict]:
    return {day["date"]: day for day in payload["days"]}


def test_json_for_october_2023(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "2023-10", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"month", "provisional", "days"}
    assert payload["month"] == "2023-10" and payload["provisional"] is False
    days = _days(payload)
    assert len(days) == 31
    assert days["2023-10-07"] == {
        "date": "2023-10-07",
        "workday": True,
        "kind": "adjusted_workday",
        "name": "国庆节",
    }
    assert days["2023-10-01"] == {
        "date": "2023-10-01",
        "workday": False,
        "kind": "holiday",
        "name": "国庆节",
    }
    assert days["2023-10-14"]["kind"] == "weekend"
    assert "国庆节" in result.stdout  # ensure_ascii=False


def test_json_for_2027_is_provisional(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "2027-01", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["month"] == "2027-01" and payload["provisional"] is True
    assert _days(payload)["2027-01-01"]["name"] == "元旦"


def test_table_output(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "2023-10"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    saturday = next(line for line in lines if line.startswith("2023-10-07"))
    assert "周六" in saturday and "调休上班" in saturday and "国庆节" in saturday
    assert "暂定（无官方数据）" not in result.stdout


def test_table_marks_provisional(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "2027-01"])
    assert result.exit_code == 0, result.output
    assert "暂定（无官方数据）" in result.stdout


@pytest.mark.parametrize("value", ["2023-13", "abc", "2023-1", "0000-01"])
def test_bad_month_exits_2_with_message(app: typer.Typer, runner: CliRunner, value: str) -> None:
    result = runner.invoke(app, ["calendar", value])
    assert result.exit_code == 2
    assert value in result.stderr and "YYYY-MM" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_help_has_an_example(app: typer.Typer, runner: CliRunner) -> None:
    result = runner.invoke(app, ["calendar", "--help"])
    assert result.exit_code == 0
    assert "duban calendar 2023-10" in result.stdout
