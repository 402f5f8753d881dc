"""Printing helpers shared by the commands: CJK-aware tables, JSON, and clean errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

from duban.supervise.export import text_width


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - text_width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Left-aligned columns sized to their widest cell."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max([text_width(h)] + [text_width(r[i]) for r in cells]) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return lines


TERMINAL_WIDTH = 100  # what an office's terminal shows without wrapping


def shorten(text: str, width: int) -> str:
    """Cut `text` to `width` terminal columns, marking the cut with "…"."""
    if text_width(text) <= width:
        return text
    out, used = "", 1
    for char in text:
        if used + text_width(char) > width:
            break
        out, used = out + char, used + text_width(char)
    return out + "…"


def fit_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], shrink: Sequence[int],
    wide: bool = False, width: int = TERMINAL_WIDTH,
) -> list[str]:
    """A table within `width` columns: the columns listed in `shrink` (indexes) are shortened,
    the widest first, until it fits; `wide` keeps everything."""
    cells = [[str(c) for c in row] for row in rows]
    if not wide and cells:
        natural = [max([text_width(h)] + [text_width(r[i]) for r in cells])
                   for i, h in enumerate(headers)]
        limits = {i: natural[i] for i in shrink}
        fixed = sum(w for i, w in enumerate(natural) if i not in limits) + 2 * (len(headers) - 1)
        while fixed + sum(limits.values()) > width:
            col = max(limits, key=lambda i: limits[i])
            if limits[col] <= max(text_width(headers[col]), 6):
                break
            limits[col] -= 1
        cells = [[shorten(c, limits[i]) if i in limits else c for i, c in enumerate(r)]
                 for r in cells]
    return table(headers, cells)


def echo_lines(lines: Sequence[str]) -> None:
    for line in lines:
        typer.echo(line)


def echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=code)


def require_ledger() -> None:
    """Reach the ledger database now, so a command that would start flows (chase, remind) stops
    at the first connection error with one message (cli.errors) instead of one per flow."""
    from sqlalchemy import text

    from duban.service import Context

    with Context.from_env().db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
