"""One clear line instead of a traceback: what went wrong, in Chinese with English beside it.

Every `duban` command runs through `run_cli`: an unreachable database, a bad path or a missing
permission becomes one line on stderr and exit code 1. `--debug` (or DUBAN_DEBUG=1) shows the
traceback instead, for a developer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from duban.plan.config import ConfigError
from duban.settings import SettingsError

DEBUG_FLAG = "--debug"


def wants_debug(argv: list[str]) -> bool:
    return DEBUG_FLAG in argv or os.environ.get("DUBAN_DEBUG", "") in {"1", "true"}


def masked_database_url() -> str:
    """The ledger's URL as it may be shown: without its password."""
    url = os.environ.get("DUBAN_DATABASE_URL", "")
    if not url:
        return "（默认 SQLite / default SQLite）"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "（无法解析 / unparseable URL）"


def describe(exc: BaseException) -> str:
    """The one line a person reads for `exc`."""
    if isinstance(exc, DBAPIError | NoSuchModuleError | ArgumentError):
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
        return (f"无法访问台账数据库 / cannot reach the ledger database "
                f"{masked_database_url()}: {reason}")
    if isinstance(exc, SQLAlchemyError):
        return f"台账数据库出错 / ledger database error: {str(exc).splitlines()[0][:200]}"
    if isinstance(exc, PermissionError):
        return f"没有权限 / permission denied: {exc.filename or exc}"
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return f"路径无效 / bad path: {exc.filename}: {exc.strerror}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"系统错误 / system error: {where}{exc.strerror or exc}"
    if isinstance(exc, ConfigError):
        return f"配置有误 / config error: {exc}"
    return (f"内部错误 / internal error: {type(exc).__name__}: {str(exc)[:200]} "
            f"(duban {DEBUG_FLAG} 显示详情 / shows the traceback)")


def run_cli(main: Callable[[], object], argv: list[str] | None = None) -> None:
    """Run the Click/Typer entry point; turn any escaping error into one line and exit 1."""
    argv = sys.argv if argv is None else argv
    debug = wants_debug(argv)
    if DEBUG_FLAG in argv:
        argv.remove(DEBUG_FLAG)
    try:
        main()
    except (SystemExit, KeyboardInterrupt):
        raise
    except SettingsError as exc:  # a DUBAN_* variable duban cannot use: a usage error
        print(f"Error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        if debug:
            raise
        print(describe(exc), file=sys.stderr)
        raise SystemExit(1) from None
