"""Publish what supervisors see in the Prefect UI: one task run per flow run, whatever the size.

Each task first emits the ledger's pending item events (tasks/events.py), then builds the board
(duban.supervise.board) and hands what duban.supervise.markdown rendered to prefect.artifacts
under stable keys:
- publish_action (each action flow): `action-NN-overdue` (table), one progress artifact per
  quantified target (`action-NN-<target key>`), `action-NN-summary` (markdown);
- publish_board (the digest flow, so every `duban chase` too): `duban-board`, 督办总览.
Artifacts carry names, dates, counts and figures only: no tokens, links to reports or URLs of
notification channels.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from duban.calendar.clock import local_day, parse_as_of
from duban.chase.holiday_notice import missing_data_notice
from duban.service import Context
from duban.supervise import markdown as present
from duban.supervise.board import build_board
from duban.supervise.score import load_scoring, score_departments, score_markdown
from tasks.chase import ensure_ready, task_context
from tasks.events import emit_pending


def _board(ctx: Context, as_of: str, action_nos: list[int] | None = None):
    today = local_day(parse_as_of(as_of))
    with ctx.db.read() as session:  # does not queue behind the chases writing beside it
        return build_board(session, today, ctx.calendar, ctx.config.ladder.slow_progress_ratio,
                           action_nos=action_nos)


@task(name="发布督办视图", task_run_name="发布督办视图 行动 {action}", cache_policy=NO_CACHE)
def publish_action(as_of: str, action: int) -> dict:
    """Emit the action's pending events; publish its overdue table, target progress, summary."""
    ctx = task_context()
    ensure_ready(ctx, as_of)
    events = emit_pending(ctx, [action])
    board = _board(ctx, as_of, [action])
    create_table_artifact(present.overdue_table(board, action), key=present.overdue_key(action),
                          description=present.overdue_description(board, action))
    figures = present.progress_figures(board, action)
    for figure in figures:
        create_progress_artifact(figure.percent, key=figure.key, description=figure.description)
    title = board.titles.get(action, "")
    create_markdown_artifact(present.action_summary(board, action),
                             key=present.summary_key(action),
                             description=f"行动{action} {title} 小结（截至 {board.as_of}）")
    states = board.states(action)
    return {"artifacts": 2 + len(figures), "events": events, "overdue": states["overdue"],
            "due_soon": states["due_soon"]}


@task(name="发布督办总览", task_run_name="发布督办总览", cache_policy=NO_CACHE)
def publish_board(as_of: str) -> dict:
    """Emit every pending event; publish 督办总览 (duban-board) over all actions."""
    ctx = task_context()
    ensure_ready(ctx, as_of)
    events = emit_pending(ctx)
    board = _board(ctx, as_of)
    notice = missing_data_notice(ctx.calendar, board.as_of)
    with ctx.db.read() as session:  # 考评, appended to the board
        scores = score_departments(session, board.as_of, ctx.calendar,
                                   load_scoring(ctx.settings.config_dir))
    text = present.board_markdown(board, notice) + "\n" + score_markdown(scores)
    create_markdown_artifact(text, key=present.BOARD_KEY,
                             description=f"{present.BOARD_TITLE}（截至 {board.as_of}）")
    return {"artifacts": 1, "events": events, "states": dict(board.states()),
            "notice": notice is not None}
