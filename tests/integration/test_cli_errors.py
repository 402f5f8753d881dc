"""No traceback for anything (issue 14.7): with the ledger unreachable, a bad path or a bad
config, every command prints one clear Chinese line (English beside it) and exits non-zero."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cli import app
from cli.errors import run_cli

UNREACHABLE = "postgresql://nobody:s3cret@127.0.0.1:9/duban"  # port 9: nothing listens

DATABASE_COMMANDS = [
    ["status"],
    ["plan", "load"],
    ["report", "--xlsx", "{tmp}/t.xlsx"],
    ["outbox"],
    ["db", "upgrade"],
    ["reports", "1"],
    ["remind", "taishan-mzj"],
    ["chase", "--dry-run", "--json"],
]


def _run(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ended:
        run_cli(lambda: app(args, prog_name="duban"), argv=["duban", *args])
    out = capsys.readouterr()
    return ended.value.code, out.out + out.err


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=lambda c: " ".join(c))
def test_unreachable_database_is_one_line(command, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    code, output = _run([part.format(tmp=tmp_path) for part in command], capsys)
    assert code == 1
    assert "无法访问台账数据库 / cannot reach the ledger database" in output
    assert "Traceback" not in output and "s3cret" not in output  # no password either
    assert len(output.strip().splitlines()) <= 3


def test_a_bad_output_path_is_one_line(loaded_sqlite, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", loaded_sqlite.settings.database_url)
    code, output = _run(["report", "--xlsx", "/proc/x/y.xlsx"], capsys)
    assert code == 1 and "Traceback" not in output
    assert "路径无效 / bad path: /proc/x" in output


def test_debug_shows_the_traceback(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", UNREACHABLE)
    with pytest.raises(Exception, match="Connection refused|connection failed"):
        run_cli(lambda: app(["status"], prog_name="duban"), argv=["duban", "status", "--debug"])


def test_the_console_script_uses_the_handler(tmp_path) -> None:
    script = Path(sys.executable).parent / "duban"
    done = subprocess.run([str(script), "status"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DUBAN_DATABASE_URL": UNREACHABLE,
                               "DUBAN_HOME": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr.strip().startswith("无法访问台账数据库") and "Traceback" not in done.stderr
