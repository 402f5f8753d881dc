"""Click's own words in every --help, bilingual like the rest of duban's help ("中文 / English").

Typer (0.29) vendors click and writes "Usage:" and "Show this message and exit." as plain
literals; "Options", "Commands" and "Arguments" go through gettext, which only a catalog for the
user's locale could change, and its rich panel titles are unused here (rich_markup_mode=None).
Typer's bracketed extras ("[default: 7]", "[required]") get their Chinese beside them too.
So the words are set in one place, through click's documented hooks instead of patching:
the help formatter of a Context (`formatter_class`), and that Context given to every command of
the tree (`Command.context_class`) by the root group, `BilingualGroup` (the app's `cls`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

USAGE = "用法 / Usage: "
HEADINGS = {"Options": "选项 / Options", "Commands": "命令 / Commands",
            "Arguments": "参数 / Arguments"}
HELP_OPTION = {"Show this message and exit.": "显示本帮助并退出 / Show this message and exit."}
# what Typer appends to an option's help in brackets, "[default: 7; required]"
EXTRAS = (("default: ", "默认 / default: "), ("env var: ", "环境变量 / env var: "),
          ("required", "必填 / required"))
TRAILING_BRACKET = re.compile(r"\[([^\[\]]*)\]$")


def bilingual_extras(help_text: str) -> str:
    """"… [default: 7; required]" -> "… [默认 / default: 7; 必填 / required]"."""
    def translate(match: re.Match[str]) -> str:
        parts = []
        for part in match[1].split("; "):
            for english, both in EXTRAS:
                if part.startswith(english):
                    part = both + part[len(english):]
                    break
            parts.append(part)
        return "[" + "; ".join(parts) + "]"

    return TRAILING_BRACKET.sub(translate, help_text.rstrip())


class BilingualHelpFormatter(typer.Context.formatter_class):  # type: ignore[misc,name-defined]
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        super().write_heading(HEADINGS.get(heading, heading))

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30,
                 col_spacing: int = 2) -> None:
        rows = [(first, bilingual_extras(HELP_OPTION.get(second, second)))
                for first, second in rows]
        super().write_dl(rows, col_max, col_spacing)


class BilingualContext(typer.Context):
    formatter_class = BilingualHelpFormatter


class BilingualGroup(TyperGroup):
    """The root group: it and every command below it write help with BilingualHelpFormatter."""

    context_class = BilingualContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _give_context(self)


def _give_context(group: Any) -> None:
    for command in getattr(group, "commands", {}).values():
        command.context_class = BilingualContext
        _give_context(command)
