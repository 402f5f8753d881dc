"""The `duban` command in tests: CliRunner, pointed at a test ledger, never a traceback."""

from __future__ import annotations

from typer.testing import CliRunner

import cli.report_cmd as report_cmd
from cli import app
from duban.service import Context
from tests.support.reports import NOW

runner = CliRunner()


def point_cli_at(ctx: Context, monkeypatch) -> Context:
    """DUBAN_* at ctx's ledger, and the report commands' clock at NOW."""
    monkeypatch.setenv("DUBAN_HOME", str(ctx.settings.home))
    monkeypatch.setenv("DUBAN_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("DUBAN_PORTAL_URL", "https://duban.example.gov.cn")
    monkeypatch.delenv("DUBAN_TOKEN", raising=False)
    monkeypatch.setattr(report_cmd, "utcnow", lambda: NOW)
    return ctx


def run(*args: str, env: dict | None = None):
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result
