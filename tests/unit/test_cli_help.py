"""Every `duban` command answers --help in Chinese with English beside it: each command's summary
and each of its options and arguments read "中文 / English" (a Chinese part, " / ", an English
part), walked over the whole Typer tree so a new command cannot slip in untranslated; so do
click's own words (用法 / Usage, 选项 / Options, 命令 / Commands, 参数 / Arguments, --help) and
Typer's bracketed extras ([默认 / default: …], [必填 / required])."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from cli import app

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")
ENGLISH_ONLY = {"Options:", "Commands:", "Arguments:", "--help  Show this message and exit."}


def bilingual(text: str) -> bool:
    """Chinese before the first " / ", English after it."""
    zh, sep, en = text.partition(" / ")
    return bool(sep and CJK.search(zh) and LATIN.search(en))


def commands() -> list[tuple[list[str], object]]:
    found: list[tuple[list[str], object]] = []

    def walk(command, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = commands()


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    for expected in ("", "status", "review", "bulletin", "report", "chase", "remind", "confirm",
                     "reports", "up", "deploy", "calendar", "outbox", "backup", "restore",
                     "db upgrade", "plan check", "plan import", "token issue",
                     "extension request", "extension approve"):
        assert expected in names, expected
    assert len(names) >= 30


@pytest.mark.parametrize(("path", "command"), COMMANDS,
                         ids=[" ".join(p) or "duban" for p, _ in COMMANDS])
def test_help_is_chinese_with_english_beside_it(path: list[str], command) -> None:
    summary = (command.help or "").strip().splitlines()[0]
    assert bilingual(summary), f"duban {' '.join(path)}: summary {summary!r}"
    for param in command.params:
        if param.name == "help":
            continue
        text = " ".join((getattr(param, "help", None) or "").split())
        assert bilingual(text), f"duban {' '.join(path)} {param.opts}: help {text!r}"

    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    shown = result.output
    assert CJK.search(shown) and summary.split(" / ")[0][:10] in shown
    for param in command.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in shown, (path, opt)
    # click's own words are bilingual too, and never stand alone in English
    assert shown.startswith("用法 / Usage: "), shown[:40]
    assert "\n选项 / Options:\n" in shown
    assert "--help" in shown and "显示本帮助并退出 / Show this message and exit." in shown
    if getattr(command, "commands", None):
        assert "\n命令 / Commands:\n" in shown
    if any(param.param_type_name == "argument" for param in command.params):
        assert "\n参数 / Arguments:\n" in shown
    for line in shown.splitlines():
        assert line.strip() not in ENGLISH_ONLY and not line.startswith("Usage:"), (path, line)
    # Typer's bracketed extras too: "[默认 / default: 7]", "[必填 / required]"
    flat = " ".join(shown.split())
    assert "[default:" not in flat, (path, flat)
    assert "[required]" not in flat and "; required]" not in flat, (path, flat)


@pytest.mark.parametrize(("path", "command"), [(p, c) for p, c in COMMANDS
                                              if not getattr(c, "commands", None)],
                         ids=[" ".join(p) for p, c in COMMANDS if not getattr(c, "commands", None)])
def test_every_command_shows_an_example(path: list[str], command) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    _, example, after = result.output.partition("Example")
    assert example and f"duban {' '.join(path)}" in after.split("Options:")[0], result.output
