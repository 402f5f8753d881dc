"""Publish what supervisors see in the Prefect UI: one task run per flow run, whatever the size.

Each task first emits the ledger's pending item events (tasks/events.py), then builds the board
(duban.supervise.board) and hands what duban.supervise.markdown rendered to prefect.artifacts
under stable keys:
- publish_action (each action flow): `<plan>-NN-overdue` (table) and `<plan>-NN-summary`
  (markdown: colours, targets with their bars and verdicts, shares; linking back to the board);
- publish_board (the digest flow, so every `duban chase` too): `00-duban-board`, 督办总览.
Artifacts carry names, dates, counts and figures only: no tokens, links to reports or URLs of
notification channels.
"""

from __future__ import annotations

from collections import Counter

from prefect import task
from prefect.artifacts import (
    acreate_markdown_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from duban.calendar.clock import local_day, parse_as_of
from duban.chase.holiday_notice import board_notice
from duban.service import Context
from duban.supervise import markdown as present
from duban.supervise.board import Board, plan_boards
from duban.supervise.score import load_scoring, score_departments, score_markdown
from tasks.chase import ensure_ready, task_context
from tasks.events import emit_pending


def _boards(ctx: Context, as_of: str, action_nos: list[int] | None = None) -> list[Board]:
    """One board per active plan (a plan key in every artifact key: nothing overwrites)."""
    today = local_day(parse_as_of(as_of))
    with ctx.db.read() as session:  # does not queue behind the chases writing beside it
        return plan_boards(session, today, ctx.calendar, ctx.config.ladder.slow_progress_ratio,
                           action_nos=action_nos)


@task(name="发布督办视图", task_run_name="发布督办视图 行动 {action}", cache_policy=NO_CACHE)
def publish_action(as_of: str, action: int, plan: str | None = None) -> dict:
    """Emit the action's pending events; publish its overdue table, target progress and
    summary, for the given plan or for every active plan that has an action of this number."""
    ctx = task_context()
    ensure_ready(ctx, as_of)
    events = emit_pending(ctx, [action])
    published, overdue, due_soon = 0, 0, 0
    for board in _boards(ctx, as_of, [action]):
        if action not in board.titles or (plan and board.plan and board.plan.key != plan):
            continue
        published += _publish_action(board, action)
        states = board.states(action)
        overdue, due_soon = overdue + states["overdue"], due_soon + states["due_soon"]
    return {"artifacts": published, "events": events, "overdue": overdue, "due_soon": due_soon}


def _publish_action(board: Board, no: int) -> int:
    plan = board.plan.key if board.plan else "plan"
    create_table_artifact(present.overdue_table(board, no), key=present.overdue_key(plan, no),
                          description=present.overdue_description(board, no))
    create_markdown_artifact(present.action_summary(board, no),
                             key=present.summary_key(plan, no),
                             description=present.summary_description(board, no))
    return 2


@task(name="发布督办总览", task_run_name="发布督办总览", cache_policy=NO_CACHE)
def publish_board(as_of: str) -> dict:
    """Emit every pending event; publish 督办总览 (00-duban-board) over every active plan."""
    ctx = task_context()
    ensure_ready(ctx, as_of)
    events = emit_pending(ctx)
    boards = _boards(ctx, as_of)
    today = local_day(parse_as_of(as_of))
    notice = board_notice(ctx.calendar, today)
    with ctx.db.read() as session:  # 考评, appended to the board
        scores = score_departments(session, today, ctx.calendar,
                                   load_scoring(ctx.settings.config_dir))
    board = present.board_markdown(boards, notice, office_url=ctx.settings.portal_url)
    text = board + "\n" + score_markdown(scores)
    create_markdown_artifact(text, key=present.BOARD_KEY,
                             description=present.board_description(boards))
    states = sum((b.states() for b in boards), Counter())
    return {"artifacts": 1, "events": events, "states": dict(states),
            "plans": [b.plan.key for b in boards if b.plan], "notice": notice is not None}


async def link_board() -> None:
    """A run-level (keyless) artifact with the board's link, for runs that publish nothing else:
    from any run's Artifacts tab a supervisor is one click from 督办总览. Async: the office's
    flows are async, where the sync call would only make a coroutine."""
    await acreate_markdown_artifact(f"[{present.BOARD_TITLE}](/artifacts/key/{present.BOARD_KEY})："
                             "各方案逾期、临期事项与指标进度。",
                             description=f"{present.BOARD_TITLE}链接")
